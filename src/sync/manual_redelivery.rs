//! An operator's "Ask GitHub to redeliver" for one delivery: post a new attempt of GitHub's hook
//! delivery with our guid. It is domain work (GitHub calls plus our records), so the admin page
//! only starts it. (The automatic, periodic redelivery is `redelivery`.)
//!
//! Every call here is made with the app JWT, whose rate limit all installations share, so one org
//! must not be able to spend it: only a failed or dead delivery is redelivered; the hook delivery
//! id is taken from `redelivery_requests` when we know it (one POST, no listing), else at most
//! [`MAX_PAGES`] pages are searched; and Redis budgets shared by every process allow one request
//! per delivery per [`DELIVERY_WINDOW`] and [`PER_INSTALLATION`] per installation a minute.

use std::time::Duration;

use octocrab::models::hooks::Delivery;
use redis::aio::ConnectionManager;
use serde_json::Value;
use sqlx::PgPool;

use super::redelivery;
use crate::github::client::{Auth, GithubClient, GithubError};
use crate::ids::InstallationId;
use crate::lock::{Budget, Spend};
use crate::store::deliveries::{self, Status};

/// Pages of `/app/hook/deliveries` read at most (100 each) when the hook delivery id is unknown.
pub const MAX_PAGES: u32 = 3;
/// One redelivery request per delivery in this window.
pub const DELIVERY_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Redelivery requests per installation in [`INSTALLATION_WINDOW`].
pub const PER_INSTALLATION: u32 = 5;
pub const INSTALLATION_WINDOW: Duration = Duration::from_secs(60);

/// Why a manual redelivery request failed.
#[derive(Debug, thiserror::Error)]
pub enum RedeliverError {
    #[error(transparent)]
    Github(#[from] GithubError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected GitHub payload: {0}")]
    Payload(#[from] serde_json::Error),
}

/// The delivery an operator asks about.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Our delivery id, GitHub's `X-GitHub-Delivery` guid.
    pub guid: &'a str,
    pub installation: Option<InstallationId>,
    pub status: Status,
}

/// What a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// GitHub accepted a new attempt of this hook delivery.
    Requested { hook_delivery_id: i64 },
    /// Applied, ignored, queued or rejected: nothing to redeliver; nothing was asked.
    NotRedeliverable,
    /// A budget is spent; nothing was asked. The next request may be made after this.
    Cooldown(Duration),
    /// GitHub does not list it among its recent deliveries (it keeps three days).
    NotListed,
}

/// The Redis key of an installation's redelivery budget (0: deliveries naming none).
pub fn installation_budget_key(prefix: &str, installation: i64) -> String {
    format!("{prefix}:gh:redeliver:installation:{installation}")
}

/// Where the budgets live: the Redis connection and our key prefix.
pub struct Budgets<'a> {
    pub redis: &'a mut ConnectionManager,
    pub prefix: &'a str,
}

impl Budgets<'_> {
    fn for_target(&self, t: &Target<'_>) -> [Budget; 2] {
        let installation = t.installation.map_or(0, |i| i.0);
        [
            Budget::new(
                format!("{}:gh:redeliver:delivery:{}", self.prefix, t.guid),
                1,
                DELIVERY_WINDOW,
            ),
            Budget::new(
                installation_budget_key(self.prefix, installation),
                PER_INSTALLATION,
                INSTALLATION_WINDOW,
            ),
        ]
    }
}

/// Asks GitHub to send `target` again when it failed and the budgets allow, posting an attempt
/// of its hook delivery (known, or found in at most [`MAX_PAGES`] pages) and recording it in
/// `redelivery_requests`.
pub async fn ask_redelivery(
    client: &GithubClient,
    pool: &PgPool,
    budgets: Budgets<'_>,
    target: Target<'_>,
) -> Result<Outcome, RedeliverError> {
    if !target.status.is_redeliverable() {
        return Ok(Outcome::NotRedeliverable);
    }
    let spend = Budget::spend_all(budgets.redis, &budgets.for_target(&target)).await?;
    if let Spend::Wait(wait) = spend {
        return Ok(Outcome::Cooldown(wait));
    }
    let guid = target.guid;
    let (hook_id, event) = match deliveries::redelivery_request(pool, guid).await? {
        Some((known, _)) => (known, None),
        None => match find(client, guid).await? {
            Some(found) => found,
            None => return Ok(Outcome::NotListed),
        },
    };
    let path = format!("/app/hook/deliveries/{hook_id}/attempts");
    match client.post(Auth::App, &path, None).await {
        Ok(_) => {}
        // GitHub forgets hook deliveries after three days.
        Err(GithubError::Status { status: 404, .. }) => return Ok(Outcome::NotListed),
        Err(e) => return Err(e.into()),
    }
    deliveries::record_redelivery_request(pool, guid, hook_id, event.as_deref()).await?;
    tracing::info!(delivery = guid, hook_id, "admin: asked GitHub to redeliver");
    Ok(Outcome::Requested {
        hook_delivery_id: hook_id,
    })
}

/// The newest hook delivery with `guid` in the first [`MAX_PAGES`] pages of
/// `/app/hook/deliveries` (newest first): its id and event name.
async fn find(
    client: &GithubClient,
    guid: &str,
) -> Result<Option<(i64, Option<String>)>, RedeliverError> {
    let mut url = Some(client.url("/app/hook/deliveries?per_page=100"));
    let mut pages = 0;
    while let Some(current) = url.take() {
        pages += 1;
        let response = client.get(Auth::App, &current, None).await?;
        let list: Vec<Delivery> = serde_json::from_value(response.body.unwrap_or(Value::Null))?;
        if let Some(hit) = list.iter().find(|d| d.guid == guid) {
            return Ok(Some((hit.id.0 as i64, redelivery::event_name(hit))));
        }
        url = response.next.filter(|_| pages < MAX_PAGES);
    }
    Ok(None)
}
