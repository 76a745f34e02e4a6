//! An operator's "Ask GitHub to redeliver" for one delivery: find GitHub's hook delivery with our
//! guid and post a new attempt. It is domain work (GitHub calls plus our records), so the admin
//! page only starts it. (The automatic, periodic redelivery is `redelivery`.)

use octocrab::models::hooks::Delivery;
use serde_json::Value;
use sqlx::PgPool;

use super::redelivery;
use crate::github::client::{Auth, GithubClient, GithubError};
use crate::store::deliveries;

/// Pages of `/app/hook/deliveries` read at most (100 each).
const MAX_PAGES: u32 = 30;

/// Why a manual redelivery request did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RedeliverError {
    #[error(transparent)]
    Github(#[from] GithubError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("unexpected GitHub payload: {0}")]
    Payload(#[from] serde_json::Error),
    #[error("GitHub no longer lists delivery {0} (it keeps three days)")]
    NotListed(String),
}

/// Finds the newest hook delivery with `guid` (pages of `/app/hook/deliveries`), posts an attempt
/// and records it in `redelivery_requests`; returns GitHub's hook delivery id.
pub async fn ask_redelivery(
    client: &GithubClient,
    pool: &PgPool,
    guid: &str,
) -> Result<i64, RedeliverError> {
    let mut url = Some(client.url("/app/hook/deliveries?per_page=100"));
    let mut found: Option<(i64, Option<String>)> = None;
    let mut pages = 0;
    while let Some(current) = url.take() {
        pages += 1;
        let response = client.get(Auth::App, &current, None).await?;
        let list: Vec<Delivery> = serde_json::from_value(response.body.unwrap_or(Value::Null))?;
        if let Some(hit) = list.iter().find(|d| d.guid == guid) {
            found = Some((hit.id.0 as i64, redelivery::event_name(hit)));
            break;
        }
        url = if pages < MAX_PAGES {
            response.next
        } else {
            None
        };
    }
    let Some((hook_id, event)) = found else {
        return Err(RedeliverError::NotListed(guid.to_owned()));
    };
    client
        .post(
            Auth::App,
            &format!("/app/hook/deliveries/{hook_id}/attempts"),
            None,
        )
        .await?;
    deliveries::record_redelivery_request(pool, guid, hook_id, event.as_deref()).await?;
    tracing::info!(delivery = guid, hook_id, "admin: asked GitHub to redeliver");
    Ok(hook_id)
}
