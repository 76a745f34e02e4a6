//! `POST /slack/interactions`: verify Slack's signature, queue the click, answer at once
//! (Slack waits 3 seconds). All Slack calls happen in the click worker, which also routes the
//! click by the workspace it came from.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{AppState, slack_request};
use crate::slack::interactions;

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = slack_request::verify(&state, &headers, &body) {
        return refused.into_response();
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
