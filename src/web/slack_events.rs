//! `POST /slack/events`: the Events API endpoint (https://docs.slack.dev/apis/events-api/).
//! Signed like every Slack request; answers the `url_verification` handshake with its
//! challenge, and disconnects the org(s) of a workspace that uninstalled the app or revoked its
//! token (`survey::workspace::on_event`: two short writes, well inside the 3 seconds Slack
//! waits). Anything else is acknowledged and ignored; a body that is not an event is 400.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{AppState, slack_request};
use crate::slack::events;
use crate::survey::workspace::{self, EventOutcome};

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = slack_request::verify(&state, &headers, &body) {
        return refused.into_response();
    }
    let event = match events::parse(&body) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(error = %e, "slack event refused");
            return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response();
        }
    };
    match workspace::on_event(&state.pool, event).await {
        // Slack accepts the challenge as plain text, form or JSON; JSON it is.
        Ok(EventOutcome::Challenge(challenge)) => {
            Json(serde_json::json!({ "challenge": challenge })).into_response()
        }
        Ok(_) => StatusCode::OK.into_response(),
        // Slack retries the event (three times, with backoff) on anything but 2xx.
        Err(e) => {
            tracing::error!(error = %e, "slack event not applied");
            (StatusCode::SERVICE_UNAVAILABLE, "try again\n").into_response()
        }
    }
}
