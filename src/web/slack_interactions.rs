//! `POST /slack/interactions`: verify Slack's signature, queue the click, answer at once
//! (Slack waits 3 seconds). All Slack calls happen in the click worker.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::slack::{interactions, signature};

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = state.slack_signing_secret.as_deref() else {
        return (StatusCode::NOT_FOUND, "slack is not configured\n").into_response();
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = signature::verify(
        secret,
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        now,
    ) {
        tracing::warn!(error = %e, "slack interaction refused");
        return (StatusCode::UNAUTHORIZED, format!("{e}\n")).into_response();
    }
    let click = match interactions::parse(&body) {
        Ok(click) => click,
        // Signed by Slack but not ours to handle (another block, a modal): acknowledge and drop.
        Err(e) => {
            tracing::info!(error = %e, "slack interaction ignored");
            return StatusCode::OK.into_response();
        }
    };
    match state.queues.enqueue_click(&click).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "slack interaction not queued");
            (StatusCode::SERVICE_UNAVAILABLE, "try again\n").into_response()
        }
    }
}
