//! What every signed Slack endpoint checks first: that Slack is configured and the request
//! carries Slack's signature over this body, made within the last five minutes
//! (https://docs.slack.dev/authentication/verifying-requests-from-slack).

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::slack::signature;

/// Why a request was not taken as Slack's.
#[derive(Debug)]
pub enum Refused {
    /// Slack is not configured here: 404.
    NotConfigured,
    /// A missing, stale or wrong signature: 401, with the reason.
    Signature(String),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::NotConfigured => {
                (StatusCode::NOT_FOUND, "slack is not configured\n").into_response()
            }
            Refused::Signature(why) => {
                (StatusCode::UNAUTHORIZED, format!("{why}\n")).into_response()
            }
        }
    }
}

/// `Ok` when the request is Slack's.
pub fn verify(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), Refused> {
    let Some(secret) = state.slack_signing_secret.as_deref() else {
        return Err(Refused::NotConfigured);
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let now = chrono::Utc::now().timestamp();
    signature::verify(
        secret,
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        body,
        now,
    )
    .map_err(|e| {
        tracing::warn!(error = %e, "slack request refused");
        Refused::Signature(e.to_string())
    })
}
