//! `GET /admin`: is it working? Gathers health, queue figures and recent failures.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::scope;
use crate::store::deliveries::{self, AdminDeliveryFilter, Status};
use crate::store::installations;
use crate::web::AppState;
use crate::web::admin::AdminError;
use crate::web::admin::params::PAGE;
use crate::web::admin::session::Admin;
use crate::web::admin::views::{self, overview::Overview};

/// Failed and dead deliveries listed, each.
const FAILURES: i64 = 10;

pub async fn overview(
    State(state): State<AppState>,
    Admin(s): Admin,
) -> Result<Response, AdminError> {
    let postgres = crate::store::ping(&state.pool).await.is_ok();
    let redis = state.queues.ping().await.is_ok();
    let deliveries_depth = state.queues.delivery_depth().await.ok();
    let merged = state.queues.merged_depth().await.ok();
    // New jobs enter the scheduled set and move to the ready list when due: the oldest job is
    // the earlier of the oldest ready one and the earliest scheduled one.
    let age = state.queues.delivery_age().await.unwrap_or_default();
    let oldest_job = match (age.oldest_ready, age.next_scheduled) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let by_status = deliveries::admin_counts_by_status(&state.pool, scope(&s)).await?;
    let mut failures = Vec::new();
    for status in [Status::Dead, Status::Failed] {
        let filter = AdminDeliveryFilter {
            status: Some(status),
            ..Default::default()
        };
        failures.extend(deliveries::admin_list(&state.pool, scope(&s), &filter, FAILURES).await?);
    }
    let installations = installations::admin_list(&state.pool, scope(&s), PAGE, 0).await?;
    let body = views::overview::overview(
        &s,
        &Overview {
            postgres,
            redis,
            deliveries: deliveries_depth,
            merged,
            oldest_job,
            by_status: &by_status,
            failures: &failures,
            installations: &installations,
        },
    );
    Ok(views::page(&s, "overview", "Overview", body).into_response())
}
