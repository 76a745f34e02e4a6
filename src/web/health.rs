//! Liveness and readiness (main address) and metrics (its own address, see `metrics_router`)
//! endpoints for orchestrators and Prometheus.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::AppState;

/// Alive: the process answers HTTP.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready: Postgres and Redis both answer; otherwise 503 naming which one does not.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let pg = tokio::time::timeout(Duration::from_secs(2), crate::store::ping(&state.pool))
        .await
        .is_ok_and(|r| r.is_ok());
    let redis = state.queues.ping().await.is_ok();
    let body = format!(
        "postgres: {}\nredis: {}\n",
        if pg { "ok" } else { "unavailable" },
        if redis { "ok" } else { "unavailable" }
    );
    let status = if pg && redis {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut depths = Vec::new();
    if let Ok(d) = state.queues.delivery_depth().await {
        depths.push(("deliveries", d.ready, d.scheduled));
    }
    if let Ok(d) = state.queues.merged_depth().await {
        depths.push(("pull_request_merged", d.ready, d.scheduled));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&depths),
    )
}
