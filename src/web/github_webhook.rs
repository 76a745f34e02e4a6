//! `POST /webhooks/github`: verify, dedupe, durably enqueue, answer. No Postgres or GitHub I/O
//! happens before the answer: only Redis, and 2xx only once Redis holds the job.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use thiserror::Error;

use super::AppState;
use crate::config::WebhookSecrets;
use crate::github::events::{Envelope, ParseError};
use crate::github::signature;
use crate::ids::DeliveryId;
use crate::queue::Enqueued;
use crate::queue::jobs::DeliveryJob;
use crate::store::deliveries;

/// Request headers we keep with a delivery (never the signature headers).
const KEPT_HEADERS: &[&str] = &[
    "x-github-event",
    "x-github-delivery",
    "x-github-hook-id",
    "x-github-hook-installation-target-id",
    "x-github-hook-installation-target-type",
    "user-agent",
    "content-type",
    "content-length",
];

/// Why a webhook request was refused; each maps to one status code.
#[derive(Debug, Error)]
pub enum Refusal {
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("missing or invalid {0} header")]
    BadHeader(&'static str),
    #[error("missing or invalid X-Hub-Signature-256")]
    BadSignature,
    #[error("{reason}")]
    Malformed {
        delivery: Box<VerifiedDelivery>,
        reason: ParseError,
    },
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::BadHeader(_) | Refusal::Malformed { .. } => StatusCode::BAD_REQUEST,
            Refusal::BadSignature => StatusCode::UNAUTHORIZED,
        }
    }
}

/// A request whose signature checked out.
#[derive(Debug)]
pub struct VerifiedDelivery {
    pub id: DeliveryId,
    pub event: String,
    pub hook_id: Option<i64>,
    pub headers: Value,
    pub envelope: Envelope,
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// Every check of a webhook request, without HTTP: content type, headers, signature, body.
pub fn verify_request(
    headers: &HeaderMap,
    body: &[u8],
    secrets: &WebhookSecrets,
) -> Result<VerifiedDelivery, Refusal> {
    if !is_json(header_str(headers, header::CONTENT_TYPE.as_str())) {
        return Err(Refusal::UnsupportedMediaType);
    }
    let event = header_str(headers, "x-github-event")
        .filter(|e| {
            !e.is_empty()
                && e.len() <= 100
                && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .ok_or(Refusal::BadHeader("X-GitHub-Event"))?;
    let id = header_str(headers, "x-github-delivery")
        .and_then(DeliveryId::parse)
        .ok_or(Refusal::BadHeader("X-GitHub-Delivery"))?;
    let signature_header =
        header_str(headers, "x-hub-signature-256").ok_or(Refusal::BadSignature)?;
    if !signature::verify(secrets, signature_header, body) {
        return Err(Refusal::BadSignature);
    }
    let mut kept = Map::new();
    for name in KEPT_HEADERS {
        if let Some(v) = header_str(headers, name) {
            kept.insert((*name).to_owned(), Value::String(v.to_owned()));
        }
    }
    let mut delivery = VerifiedDelivery {
        id,
        event: event.to_owned(),
        hook_id: header_str(headers, "x-github-hook-id").and_then(|h| h.parse().ok()),
        headers: Value::Object(kept),
        envelope: Envelope::default(),
    };
    match Envelope::parse(body) {
        Ok(envelope) => {
            delivery.envelope = envelope;
            Ok(delivery)
        }
        Err(reason) => Err(Refusal::Malformed {
            delivery: Box::new(delivery),
            reason,
        }),
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// The webhook endpoint.
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let received_at = Utc::now();
    let event_name = header_str(&headers, "x-github-event")
        .unwrap_or("")
        .to_owned();
    let delivery = match verify_request(&headers, &body, &state.webhook_secrets) {
        Ok(d) => d,
        Err(refusal) => {
            let status = refusal.status();
            let message = refusal.to_string();
            match refusal {
                Refusal::BadSignature => {
                    state.metrics.signature_failure();
                    tracing::warn!(event = %event_name, "webhook refused: bad signature");
                }
                Refusal::Malformed { delivery, reason } => {
                    state.metrics.delivery_received(&delivery.event, "rejected");
                    tracing::warn!(delivery = %delivery.id, event = %delivery.event, %reason, "webhook rejected: malformed body");
                    record_rejected(&state, *delivery, received_at, &body, reason.to_string());
                }
                _ => tracing::info!(event = %event_name, %message, "webhook refused"),
            }
            return refuse(status, &message);
        }
    };
    if delivery.event == "ping" {
        state.metrics.delivery_received("ping", "pong");
        return refuse(StatusCode::OK, "pong");
    }
    // The envelope parse proved the body is UTF-8, so this cannot fail (no lossy re-scan).
    let body = String::from_utf8(body.to_vec()).unwrap_or_default();
    let job = DeliveryJob {
        delivery_id: delivery.id.0,
        event: delivery.event,
        action: delivery.envelope.action,
        installation_id: delivery.envelope.installation.map(|i| i.id),
        hook_id: delivery.hook_id,
        received_at,
        headers: delivery.headers,
        body,
        failures: 0,
    };
    match state.queues.enqueue_delivery(&job).await {
        Ok(Enqueued::New) => {
            state.metrics.delivery_received(&job.event, "accepted");
            refuse(StatusCode::ACCEPTED, "queued")
        }
        Ok(Enqueued::Duplicate) => {
            state.metrics.delivery_received(&job.event, "duplicate");
            refuse(StatusCode::OK, "already accepted")
        }
        Err(e) => {
            state.metrics.delivery_received(&job.event, "unavailable");
            tracing::error!(delivery = %job.delivery_id, error = %e, "webhook not queued: redis unavailable");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue unavailable, retry later",
            )
        }
    }
}

/// Writes the rejected delivery to the log after the response (off the request path).
fn record_rejected(
    state: &AppState,
    delivery: VerifiedDelivery,
    received_at: DateTime<Utc>,
    body: &[u8],
    reason: String,
) {
    let pool = state.pool.clone();
    let body = String::from_utf8_lossy(body).into_owned();
    tokio::spawn(async move {
        let row = deliveries::NewDelivery {
            id: delivery.id.as_str(),
            event: &delivery.event,
            action: None,
            installation_id: None,
            hook_id: delivery.hook_id,
            received_at,
            headers: &delivery.headers,
            body: &body,
        };
        if let Err(e) = deliveries::record_rejected(&pool, row, &reason).await {
            tracing::warn!(delivery = %delivery.id, error = %e, "could not record rejected delivery");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert("x-github-event", HeaderValue::from_static("issues"));
        h.insert(
            "x-github-delivery",
            HeaderValue::from_static("72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        );
        h.insert("x-hub-signature-256", HeaderValue::from_str(sig).unwrap());
        h
    }

    #[test]
    fn checks_in_order() {
        let secrets = WebhookSecrets::new(["s"]);
        let body = br#"{"action":"opened"}"#;
        let good = signature::sign(b"s", body);
        assert!(verify_request(&headers(&good), body, &secrets).is_ok());

        let mut h = headers(&good);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert_eq!(
            verify_request(&h, body, &secrets).unwrap_err().status(),
            415
        );

        let mut h = headers(&good);
        h.remove("x-github-delivery");
        assert_eq!(
            verify_request(&h, body, &secrets).unwrap_err().status(),
            400
        );

        assert_eq!(
            verify_request(&headers("sha256=00"), body, &secrets)
                .unwrap_err()
                .status(),
            401
        );

        let list = b"[1]";
        let err =
            verify_request(&headers(&signature::sign(b"s", list)), list, &secrets).unwrap_err();
        assert!(matches!(err, Refusal::Malformed { .. }));
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn kept_headers_exclude_signatures() {
        let secrets = WebhookSecrets::new(["s"]);
        let body = b"{}";
        let d = verify_request(&headers(&signature::sign(b"s", body)), body, &secrets).unwrap();
        assert!(d.headers.get("x-hub-signature-256").is_none());
        assert_eq!(d.headers["x-github-event"], "issues");
    }
}
