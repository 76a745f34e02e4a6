//! Asking GitHub to redeliver what failed: a delivery GitHub tried while we were down, timing
//! out, or answering 5xx/503 is redelivered once, and then arrives at `/webhooks/github` again.

use chrono::{DateTime, Duration, Utc};
use octocrab::models::hooks::Delivery;
use serde_json::Value;
use sqlx::PgPool;

use super::SyncError;
use crate::github::client::{Auth, GithubClient};
use crate::ids::InstallationId;
use crate::store::deliveries;
use crate::store::org_data::{self, Gate};
use crate::store::sync as state;

const CHECKPOINT: &str = "hook_deliveries_checked_until";

/// GitHub keeps hook deliveries for three days; never look further back than that.
const HORIZON_DAYS: i64 = 3;

/// The event name of a hook delivery as GitHub spells it (`pull_request`), also for events
/// octocrab does not know (kept as `Unknown(name)`).
pub fn event_name(delivery: &Delivery) -> Option<String> {
    let event = delivery.event.as_ref()?;
    match serde_json::to_value(event).ok()? {
        Value::String(name) => Some(name),
        _ => None,
    }
}

/// What one check did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedeliveryReport {
    pub api_calls: u32,
    pub examined: u32,
    pub requested: u32,
}

/// Reads hook deliveries back to the last point checked and asks GitHub to redeliver, once,
/// every delivery with no successful attempt that we did not process some other way.
pub async fn redeliver_failed(
    client: &GithubClient,
    pool: &PgPool,
) -> Result<RedeliveryReport, SyncError> {
    let app = InstallationId(0);
    let now = Utc::now();
    let horizon = now - Duration::days(HORIZON_DAYS);
    let checked_until = state::checkpoint(pool, CHECKPOINT)
        .await?
        .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(horizon)
        .max(horizon);
    // Look a little before the checkpoint: an attempt's outcome can land after we looked.
    let floor = checked_until - Duration::minutes(10);
    let mut report = RedeliveryReport::default();
    let mut attempts: Vec<Delivery> = Vec::new();
    let mut url = Some(client.url("/app/hook/deliveries?per_page=100"));
    let mut first = true;
    while let Some(current) = url.take() {
        let cached = if first {
            state::cached_page(pool, app, &current).await?
        } else {
            None
        };
        report.api_calls += 1;
        let response = super::app_get(client, &current, cached.as_ref()).await?;
        if response.not_modified() {
            break;
        }
        if first && let Some(etag) = &response.etag {
            state::store_page(pool, app, &current, etag, &[], None).await?;
        }
        first = false;
        let page: Vec<Delivery> = serde_json::from_value(response.body.unwrap_or(Value::Null))?;
        let reached_floor = page.iter().any(|d| d.delivered_at < floor);
        attempts.extend(page.into_iter().filter(|d| d.delivered_at >= floor));
        url = if reached_floor { None } else { response.next };
    }
    let newest = attempts.iter().map(|d| d.delivered_at).max();
    // Group attempts by delivery guid: redeliveries share it.
    let mut by_guid: std::collections::BTreeMap<&str, Vec<&Delivery>> = Default::default();
    for a in &attempts {
        by_guid.entry(a.guid.as_str()).or_default().push(a);
    }
    for (guid, tries) in by_guid {
        report.examined += 1;
        if tries.iter().any(|t| (200..300).contains(&t.status_code)) {
            continue;
        }
        if deliveries::is_done(pool, guid).await? {
            continue;
        }
        let Some(latest) = tries.iter().max_by_key(|t| t.delivered_at) else {
            continue;
        };
        // Nothing is asked again for a deleted org, nor for a suspended one (its catch-up after
        // `unsuspend` reads what it missed).
        if let Some(installation) = latest.installation_id
            && matches!(
                org_data::gate(pool, installation.0 as i64).await?,
                Gate::Deleted { .. } | Gate::Suspended
            )
        {
            continue;
        }
        let hook_id = latest.id.0 as i64;
        if !state::claim_redelivery(pool, guid, hook_id, event_name(latest).as_deref()).await? {
            continue;
        }
        report.api_calls += 1;
        let path = format!("/app/hook/deliveries/{hook_id}/attempts");
        match client.post(Auth::App, &path, None).await {
            Ok(_) => {
                report.requested += 1;
                tracing::info!(
                    delivery = guid,
                    "asked GitHub to redeliver a failed delivery"
                );
            }
            Err(e) => {
                tracing::warn!(delivery = guid, error = %e, "redelivery request refused; will retry next run");
                state::unclaim_redelivery(pool, guid).await?;
            }
        }
    }
    if let Some(newest) = newest {
        state::set_checkpoint(pool, CHECKPOINT, &newest.to_rfc3339()).await?;
    }
    Ok(report)
}
