//! The HTTP surface. Handlers are thin: extract, check, hand off.

pub mod admin;
pub mod github_webhook;
pub mod health;
pub mod slack_events;
pub mod slack_interactions;
pub mod slack_request;
pub mod webhook_body;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use sqlx::PgPool;

use crate::config::WebhookSecrets;
use crate::metrics::Metrics;
use crate::queue::Queues;

/// GitHub caps webhook payloads at 25 MB; anything larger is not from GitHub.
pub const MAX_WEBHOOK_BODY: usize = 25 * 1024 * 1024;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub queues: Queues,
    pub metrics: Arc<Metrics>,
    pub webhook_secrets: Arc<WebhookSecrets>,
    /// Admission and limits of webhook body reads.
    pub webhook_bodies: Arc<webhook_body::BodyGate>,
    /// Slack's signing secret, when Slack is configured.
    pub slack_signing_secret: Option<Arc<str>>,
    /// The admin pages' settings and background-action handles.
    pub admin: Arc<admin::AdminContext>,
}

/// Builds the router for the web role.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/webhooks/github", post(github_webhook::receive))
        .route("/slack/interactions", post(slack_interactions::receive))
        .route("/slack/events", post(slack_events::receive))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(admin::router(state.clone()))
        .with_state(state)
}

/// The metrics listener's router: `/metrics` only, on its own address (`METRICS_ADDR`), so the
/// counters are not served to whoever reaches the webhook address.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(health::metrics))
        .with_state(state)
}
