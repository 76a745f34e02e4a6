//! Slack per org: connecting an installation to the workspace its admin added Mergecast to
//! ("Add to Slack"), and disconnecting it when Slack says the app was uninstalled or its token
//! revoked, or when an admin asks. A disconnected org's surveys wait (nothing is sent through
//! any other workspace) until it is added to Slack again, which picks them up where they were.
//!
//! The token is sealed (`store::secrets`) in the same transaction as the workspace row, so a
//! row never says "connected" without a token to speak with; a disconnect deletes the token.

use sqlx::PgPool;
use thiserror::Error;

use crate::config::seal::Keyring;
use crate::ids::InstallationId;
use crate::slack::client::OAuthGrant;
use crate::slack::events::SlackEvent;
use crate::store::secrets::{self, SecretError, SecretName, SecretOwner};
use crate::store::slack_workspaces::{self, DisconnectReason, NewWorkspace};

/// The bot scopes "Add to Slack" asks for: DMs (`chat:write`, `im:write`), and finding people
/// by their GitHub email and time zone (`users:read`, `users:read.email`).
pub const BOT_SCOPES: &[&str] = &["chat:write", "im:write", "users:read", "users:read.email"];

#[derive(Debug, Error)]
pub enum WorkspaceError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Secret(SecretError),
    /// Slack granted fewer scopes than surveys need.
    #[error("Slack granted {granted:?}; Mergecast needs {missing:?} as well")]
    MissingScopes {
        granted: String,
        missing: Vec<&'static str>,
    },
}

impl From<SecretError> for WorkspaceError {
    fn from(e: SecretError) -> Self {
        match e {
            SecretError::Database(db) => WorkspaceError::Database(db),
            other => WorkspaceError::Secret(other),
        }
    }
}

/// Connects installation `id` to the workspace `grant` is for (replacing any earlier one):
/// seals its bot token and records the workspace, in one transaction. `by` is who added it
/// (`operator` or a GitHub login).
pub async fn connect(
    pool: &PgPool,
    keyring: Option<&Keyring>,
    id: InstallationId,
    grant: &OAuthGrant,
    by: &str,
) -> Result<(), WorkspaceError> {
    let granted: Vec<&str> = grant.scopes.split(',').map(str::trim).collect();
    let missing: Vec<&'static str> = BOT_SCOPES
        .iter()
        .copied()
        .filter(|s| !granted.contains(s))
        .collect();
    if !missing.is_empty() {
        return Err(WorkspaceError::MissingScopes {
            granted: grant.scopes.clone(),
            missing,
        });
    }
    let mut tx = pool.begin().await?;
    secrets::put(
        &mut *tx,
        keyring,
        SecretOwner::Installation(id),
        SecretName::SlackBotToken,
        grant.bot_token.as_bytes(),
    )
    .await?;
    slack_workspaces::connect(
        &mut *tx,
        id,
        &NewWorkspace {
            team_id: &grant.team_id,
            team_name: &grant.team_name,
            bot_user_id: grant.bot_user_id.as_deref(),
            scopes: &grant.scopes,
            connected_by: by,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(installation = id.0, team = %grant.team_id, "slack: workspace connected");
    Ok(())
}

/// Disconnects installation `id` (an admin's "Disconnect") and deletes its token.
pub async fn disconnect(pool: &PgPool, id: InstallationId) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let was = slack_workspaces::disconnect(&mut *tx, id, DisconnectReason::Admin).await?;
    secrets::delete(
        &mut *tx,
        SecretOwner::Installation(id),
        SecretName::SlackBotToken,
    )
    .await?;
    tx.commit().await?;
    Ok(was)
}

/// What an Events API request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// Answer the handshake with this challenge.
    Challenge(String),
    /// These installations were disconnected.
    Disconnected(Vec<InstallationId>),
    Ignored,
}

/// Acts on one Events API request: an uninstall disconnects every installation on that
/// workspace, a revocation those whose bot user lost its token; their tokens are deleted.
/// Idempotent (Slack retries a delivery it saw no 200 for).
pub async fn on_event(pool: &PgPool, event: SlackEvent) -> Result<EventOutcome, sqlx::Error> {
    let (team_id, bot_users, reason) = match event {
        SlackEvent::UrlVerification { challenge } => return Ok(EventOutcome::Challenge(challenge)),
        SlackEvent::AppUninstalled { team_id } => (team_id, None, DisconnectReason::AppUninstalled),
        SlackEvent::TokensRevoked { team_id, bot_users } if !bot_users.is_empty() => {
            (team_id, Some(bot_users), DisconnectReason::TokensRevoked)
        }
        SlackEvent::TokensRevoked { .. } | SlackEvent::Other(_) => {
            return Ok(EventOutcome::Ignored);
        }
    };
    let mut tx = pool.begin().await?;
    let ids =
        slack_workspaces::disconnect_team(&mut *tx, &team_id, bot_users.as_deref(), reason).await?;
    for id in &ids {
        secrets::delete(
            &mut *tx,
            SecretOwner::Installation(*id),
            SecretName::SlackBotToken,
        )
        .await?;
    }
    tx.commit().await?;
    for id in &ids {
        tracing::warn!(installation = id.0, team = %team_id, reason = reason.as_str(), "slack: workspace disconnected; its surveys wait");
    }
    Ok(EventOutcome::Disconnected(ids))
}
