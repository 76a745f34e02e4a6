//! `POST /webhooks/github`: check the headers, read the body under bounds while verifying its
//! signature, dedupe, durably enqueue, answer. Everything that can be refused on headers is
//! refused before a byte of the body is read (see `webhook_body` for how bodies are read). No
//! Postgres or GitHub I/O happens before the answer: only Redis, and 2xx only once Redis holds
//! the job.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use thiserror::Error;

use super::AppState;
use super::webhook_body::ReadError;
use crate::config::WebhookSecrets;
use crate::github::events::{Envelope, ParseError};
use crate::github::signature::{Expected, Verifier};
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
    #[error("body larger than the limit")]
    TooLarge,
    #[error(transparent)]
    Body(ReadError),
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
            Refusal::BadSignature | Refusal::Body(ReadError::BadSignature) => {
                StatusCode::UNAUTHORIZED
            }
            Refusal::TooLarge | Refusal::Body(ReadError::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Body(ReadError::Busy) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Body(ReadError::TimedOut) => StatusCode::REQUEST_TIMEOUT,
            Refusal::Body(ReadError::LongerThanDeclared | ReadError::Broken) => {
                StatusCode::BAD_REQUEST
            }
        }
    }

    /// The `metrics` outcome of a refusal the counters break out (None: only logged).
    fn outcome(&self) -> Option<&'static str> {
        match self {
            Refusal::Body(ReadError::Busy) => Some("busy"),
            Refusal::Body(ReadError::TimedOut) => Some("timed_out"),
            Refusal::TooLarge | Refusal::Body(ReadError::TooLarge) => Some("too_large"),
            Refusal::Malformed { .. } => Some("rejected"),
            _ => None,
        }
    }
}

impl From<ReadError> for Refusal {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::BadSignature => Refusal::BadSignature,
            ReadError::TooLarge => Refusal::TooLarge,
            other => Refusal::Body(other),
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

/// What the headers alone establish about a request that passed every check made on them.
#[derive(Debug)]
pub struct CheckedHeaders {
    pub id: DeliveryId,
    pub event: String,
    pub signature: Expected,
    /// None: no `Content-Length` (a chunked body).
    pub content_length: Option<u64>,
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

/// Every check that needs no body, in the order their refusals take precedence: content type
/// (415), event and delivery id (400), signature header form (401), then declared length
/// (400 unparsable, 413 over `max_body`).
pub fn check_headers(headers: &HeaderMap, max_body: u64) -> Result<CheckedHeaders, Refusal> {
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
    let signature = header_str(headers, "x-hub-signature-256")
        .and_then(Expected::parse)
        .ok_or(Refusal::BadSignature)?;
    let content_length = match headers.get(header::CONTENT_LENGTH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or(Refusal::BadHeader("Content-Length"))?,
        ),
    };
    if content_length.is_some_and(|n| n > max_body) {
        return Err(Refusal::TooLarge);
    }
    Ok(CheckedHeaders {
        id,
        event: event.to_owned(),
        signature,
        content_length,
    })
}

/// The delivery a signed `body` makes: the kept headers and the parsed envelope.
fn accept_body(
    checked: CheckedHeaders,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<VerifiedDelivery, Refusal> {
    let mut kept = Map::new();
    for name in KEPT_HEADERS {
        if let Some(v) = header_str(headers, name) {
            kept.insert((*name).to_owned(), Value::String(v.to_owned()));
        }
    }
    let mut delivery = VerifiedDelivery {
        id: checked.id,
        event: checked.event,
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

/// Every check of a webhook request whose body is already whole, without HTTP.
pub fn verify_request(
    headers: &HeaderMap,
    body: &[u8],
    secrets: &WebhookSecrets,
    max_body: u64,
) -> Result<VerifiedDelivery, Refusal> {
    let checked = check_headers(headers, max_body)?;
    if body.len() as u64 > max_body {
        return Err(Refusal::TooLarge);
    }
    let mut verifier = Verifier::new(secrets, checked.signature);
    verifier.update(body);
    if !verifier.matches() {
        return Err(Refusal::BadSignature);
    }
    accept_body(checked, headers, body)
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// Answers a refused request (and counts and logs it).
fn refused(
    state: &AppState,
    event_name: &str,
    refusal: Refusal,
    received_at: DateTime<Utc>,
    body: &[u8],
) -> Response {
    let status = refusal.status();
    let message = refusal.to_string();
    if let Some(outcome) = refusal.outcome() {
        state.metrics.delivery_received(event_name, outcome);
    }
    match refusal {
        Refusal::BadSignature => {
            state.metrics.signature_failure();
            tracing::warn!(event = %event_name, "webhook refused: bad signature");
        }
        Refusal::Malformed { delivery, reason } => {
            tracing::warn!(delivery = %delivery.id, event = %delivery.event, %reason, "webhook rejected: malformed body");
            record_rejected(state, *delivery, received_at, body, reason.to_string());
        }
        Refusal::Body(ReadError::Busy) => {
            tracing::info!(event = %event_name, "webhook refused: every body slot busy");
            let retry_after = state.webhook_bodies.limits().retry_after_secs.to_string();
            let mut response = refuse(status, &message);
            if let Ok(v) = header::HeaderValue::from_str(&retry_after) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return response;
        }
        _ => tracing::info!(event = %event_name, %message, "webhook refused"),
    }
    refuse(status, &message)
}

/// The webhook endpoint.
pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let received_at = Utc::now();
    let event_name = header_str(&headers, "x-github-event")
        .unwrap_or("")
        .to_owned();
    if state.webhook_secrets.is_empty() {
        // First run: no app registered yet, so nothing can be verified. 503 (not 401): the
        // delivery is not refused for what it is, and catch-up asks GitHub to redeliver it.
        tracing::warn!(event = %event_name, "webhook refused: no webhook secret yet (finish setup at /admin/setup)");
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "not set up yet: no webhook secret",
        );
    }
    let gate = &state.webhook_bodies;
    let checked = match check_headers(&headers, gate.limits().max_body) {
        Ok(c) => c,
        Err(refusal) => return refused(&state, &event_name, refusal, received_at, &[]),
    };
    let read = match gate.admit(checked.content_length).await {
        Ok(slot) => {
            let verifier = Verifier::new(&state.webhook_secrets, checked.signature);
            gate.read_signed(body, slot, verifier, checked.content_length)
                .await
        }
        Err(busy) => Err(busy),
    };
    let body = match read {
        Ok(body) => body,
        Err(e) => return refused(&state, &event_name, e.into(), received_at, &[]),
    };
    let delivery = match accept_body(checked, &headers, &body) {
        Ok(d) => d,
        Err(refusal) => return refused(&state, &event_name, refusal, received_at, &body),
    };
    if delivery.event == "ping" {
        state.metrics.delivery_received("ping", "pong");
        return refuse(StatusCode::OK, "pong");
    }
    // The envelope parse proved the body is UTF-8, so this cannot fail (and does not copy).
    let body = String::from_utf8(body).unwrap_or_default();
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
    use crate::github::signature;
    use axum::http::HeaderValue;

    const MAX: u64 = 25 * 1024 * 1024;

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
        assert!(verify_request(&headers(&good), body, &secrets, MAX).is_ok());

        let mut h = headers(&good);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert_eq!(
            verify_request(&h, body, &secrets, MAX)
                .unwrap_err()
                .status(),
            415
        );

        let mut h = headers(&good);
        h.remove("x-github-delivery");
        assert_eq!(
            verify_request(&h, body, &secrets, MAX)
                .unwrap_err()
                .status(),
            400
        );

        assert_eq!(
            verify_request(&headers("sha256=00"), body, &secrets, MAX)
                .unwrap_err()
                .status(),
            401
        );

        let list = b"[1]";
        let err = verify_request(&headers(&signature::sign(b"s", list)), list, &secrets, MAX)
            .unwrap_err();
        assert!(matches!(err, Refusal::Malformed { .. }));
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn kept_headers_exclude_signatures() {
        let secrets = WebhookSecrets::new(["s"]);
        let body = b"{}";
        let d =
            verify_request(&headers(&signature::sign(b"s", body)), body, &secrets, MAX).unwrap();
        assert!(d.headers.get("x-hub-signature-256").is_none());
        assert_eq!(d.headers["x-github-event"], "issues");
    }

    fn status_of(h: &HeaderMap) -> u16 {
        check_headers(h, MAX).unwrap_err().status().as_u16()
    }

    #[test]
    fn header_checks_need_no_body() {
        let good = signature::sign(b"s", b"{}");
        let checked = check_headers(&headers(&good), MAX).unwrap();
        assert_eq!(checked.content_length, None, "no Content-Length: chunked");
        assert_eq!(checked.event, "issues");

        for sig in [
            "",
            "sha1=0123",
            "sha256=",
            "sha256=zz",
            &good[..good.len() - 2],
        ] {
            assert_eq!(status_of(&headers(sig)), 401, "{sig:?}");
        }
        let mut h = headers(&good);
        h.remove("x-hub-signature-256");
        assert_eq!(status_of(&h), 401);

        let mut h = headers(&good);
        h.insert("x-github-event", HeaderValue::from_static("bad event"));
        assert_eq!(status_of(&h), 400);
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(status_of(&h), 415, "content type is checked first");

        let mut h = headers(&good);
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("12"));
        assert_eq!(check_headers(&h, MAX).unwrap().content_length, Some(12));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("26214400"));
        assert!(check_headers(&h, MAX).is_ok(), "exactly 25 MiB is allowed");
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("26214401"));
        assert_eq!(status_of(&h), 413);
        for bad in ["-1", "ten", "1e6", "99999999999999999999999"] {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from_static(bad));
            assert_eq!(status_of(&h), 400, "{bad}");
        }
        // A malformed signature outranks the length: both are refused without a read.
        let mut h = headers("sha256=00");
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("26214401"));
        assert_eq!(status_of(&h), 401);
    }
}
