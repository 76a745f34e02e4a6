//! The survey flow of a merged pull request: asked → answered → revealed, or closed.
//!
//! Every step is idempotent: one survey per PR (unique key), one DM per (survey, person, kind)
//! (`send::send_once`), the first answer wins (conditional update). Steps run in queued jobs
//! (merge, click) and in a periodic tick (working hours, reminders, expiry, leaderboard); a step
//! that fails transiently is simply tried again by the next job or tick.

pub mod answer;
pub mod hours;
pub mod leaderboard;
pub mod send;
pub mod settings;
pub mod start;
pub mod tick;
pub mod workspace;

use sqlx::PgPool;
use thiserror::Error;

use crate::config::SurveyConfig;
use crate::github::client::GithubClient;
use crate::ids::InstallationId;
use crate::slack::client::{SlackClient, SlackError};
use crate::slack::clients::{ClientsError, SlackClients};
use crate::slack::messages::{Counterpart, PullRequestRef};
use crate::store::surveys::{self, Role, Survey};

/// Everything the flow needs.
#[derive(Clone, Debug)]
pub struct SurveyContext {
    pub pool: PgPool,
    /// Present when Slack is configured (its signing secret): each installation speaks
    /// through its own workspace, or the default one (`SlackClients`).
    pub slack: Option<SlackClients>,
    pub github: Option<GithubClient>,
    /// The environment's survey settings: the defaults of a new installation's settings
    /// (`settings`); the flow follows each installation's own. `default_zone` stays
    /// process-wide.
    pub config: SurveyConfig,
    /// `SLACK_LEADERBOARD_CHANNEL`: the default board channel of a new installation.
    pub leaderboard_channel: Option<String>,
}

/// A step that did not complete; transient ones are retried by the next job or tick.
#[derive(Debug, Error)]
pub enum SurveyError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Slack(#[from] SlackError),
    #[error("message {0} is being sent by another worker")]
    Busy(String),
    /// A workspace's stored token does not open (wrong or missing encryption key).
    #[error("slack token: {0}")]
    Token(String),
}

impl From<ClientsError> for SurveyError {
    fn from(e: ClientsError) -> Self {
        match e {
            ClientsError::Database(db) => SurveyError::Database(db),
            ClientsError::Secret(secret) => SurveyError::Token(secret.to_string()),
        }
    }
}

impl SurveyError {
    /// Worth retrying soon (rate limits, network, a concurrent sender).
    pub fn is_transient(&self) -> bool {
        match self {
            SurveyError::Database(_) | SurveyError::Busy(_) => true,
            SurveyError::Slack(e) => e.is_transient(),
            SurveyError::Token(_) => false,
        }
    }
}

impl SurveyContext {
    /// The Slack client installation `id` speaks through: its own workspace's, or the default
    /// one; `None` while it has neither (or its workspace was disconnected): its surveys wait.
    pub async fn slack_for(&self, id: i64) -> Result<Option<SlackClient>, SurveyError> {
        match &self.slack {
            None => Ok(None),
            Some(clients) => Ok(clients.for_installation(InstallationId(id)).await?),
        }
    }

    /// Slack refused installation `id`'s token (revoked, uninstalled, deactivated): its own
    /// workspace is disconnected, so its surveys wait for "Add to Slack" instead of passing
    /// people over; a refused default token is only logged (it is the operator's to fix).
    pub async fn token_refused(&self, id: i64, error: &SlackError) -> Result<(), SurveyError> {
        let disconnected = crate::store::slack_workspaces::disconnect(
            &self.pool,
            InstallationId(id),
            crate::store::slack_workspaces::DisconnectReason::TokenRefused,
        )
        .await?;
        if disconnected {
            tracing::warn!(installation = id, error = %error, "slack: workspace token refused; disconnected, surveys wait");
        } else {
            tracing::error!(installation = id, error = %error, "slack: token refused");
        }
        Ok(())
    }
}

/// Each installation's Slack client, looked up once per periodic run (a tick touches many
/// surveys of few orgs).
pub struct ClientCache<'a> {
    ctx: &'a SurveyContext,
    known: std::collections::HashMap<i64, Option<SlackClient>>,
}

impl<'a> ClientCache<'a> {
    pub fn new(ctx: &'a SurveyContext) -> Self {
        Self {
            ctx,
            known: std::collections::HashMap::new(),
        }
    }

    /// Installation `id`'s client ([`SurveyContext::slack_for`]).
    pub async fn get(&mut self, id: i64) -> Result<Option<SlackClient>, SurveyError> {
        if let Some(known) = self.known.get(&id) {
            return Ok(known.clone());
        }
        let client = self.ctx.slack_for(id).await?;
        self.known.insert(id, client.clone());
        Ok(client)
    }
}

/// The PR a survey is about, for message builders.
pub fn pr_ref(s: &Survey) -> PullRequestRef<'_> {
    PullRequestRef {
        survey_id: s.id,
        title: &s.title,
        repository: &s.repository_full_name,
        number: s.number,
        url: s.html_url.as_deref(),
    }
}

/// Whether the other side of survey `survey_id` for someone in `role` is being asked: for the
/// author, any reviewer not passed over; for a reviewer, the author not passed over.
pub async fn counterpart(
    pool: &PgPool,
    survey_id: i64,
    role: Role,
) -> Result<Counterpart, SurveyError> {
    let other = role.other();
    let asked = surveys::participants(pool, survey_id)
        .await?
        .iter()
        .any(|p| p.role == other && p.skip_reason.is_none());
    Ok(if asked {
        Counterpart::Asked
    } else {
        Counterpart::NotAsked
    })
}

/// Whether a GitHub account is a bot we never survey.
pub fn is_bot(login: &str, kind: Option<&str>, bot_logins: &[String]) -> bool {
    let lower = login.to_ascii_lowercase();
    kind == Some("Bot")
        || lower.ends_with("[bot]")
        || bot_logins
            .iter()
            .any(|b| *b == lower || format!("{b}[bot]") == lower)
}

/// Runs a step, waiting out Slack rate limits (`Retry-After`) a few times before giving up.
pub async fn with_rate_limit_retries<T, F, Fut>(mut step: F) -> Result<T, SurveyError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SurveyError>>,
{
    let mut tries = 0;
    loop {
        match step().await {
            Err(SurveyError::Slack(SlackError::RateLimited(wait)))
                if tries < 5 && wait.as_secs() <= 60 =>
            {
                tries += 1;
                tracing::warn!(?wait, "slack rate limit: waiting as told");
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_are_recognised() {
        let list = vec!["dependabot".to_string(), "renovate".to_string()];
        assert!(is_bot("dependabot[bot]", Some("Bot"), &list));
        assert!(is_bot("renovate", Some("User"), &list));
        assert!(is_bot("some-ci[bot]", None, &list));
        assert!(!is_bot("mona", Some("User"), &list));
    }
}
