//! Reading a webhook body under bounds, so that a flood of large, slow or wrongly signed bodies
//! can neither exhaust memory nor starve GitHub's own (small, signed) deliveries.
//!
//! - Admission: a body is read only while it holds a slot of one of two pools: `small`
//!   (`Content-Length` ≤ 1 MiB, 32 slots) and `large` (bigger or chunked, 2 slots). A request
//!   waits a bounded time for a slot, then is told to come back later (503, `Retry-After`).
//!   Large bodies never take small slots, so a flood of them leaves small deliveries flowing.
//! - Reading: every chunk is fed to the HMAC of every secret as it arrives and kept as its own
//!   `Bytes` (no contiguous buffer that grows and copies); the size cap holds while streaming
//!   (chunked bodies too) and the whole read has a deadline. Only a body whose signature
//!   matches is assembled; any other is dropped as soon as its last byte arrives.
//!
//! Together this bounds the memory held by bodies not (yet) proven to come from GitHub to
//! `small slots × 1 MiB + large slots × 25 MiB`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use thiserror::Error;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::MAX_WEBHOOK_BODY;
use crate::github::signature::Verifier;
use crate::metrics::{BodyPool, Metrics};

/// How many webhook bodies are read at once, how long a request may wait for that, and how
/// long a read may take.
#[derive(Debug, Clone)]
pub struct BodyLimits {
    /// Largest body accepted (GitHub caps payloads at 25 MB).
    pub max_body: u64,
    /// A declared `Content-Length` up to this reads in the small pool.
    pub small_body: u64,
    pub small_slots: usize,
    pub large_slots: usize,
    /// Longest wait for a slot before 503.
    pub slot_wait: Duration,
    /// Longest time from taking a slot to the body's last byte before 408.
    pub read_deadline: Duration,
    /// Seconds sent in `Retry-After` with a 503 for a full pool.
    pub retry_after_secs: u32,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self {
            max_body: MAX_WEBHOOK_BODY as u64,
            small_body: 1024 * 1024,
            small_slots: 32,
            large_slots: 2,
            slot_wait: Duration::from_secs(2),
            read_deadline: Duration::from_secs(8),
            retry_after_secs: 5,
        }
    }
}

/// Why a body was not read to the end (or not kept).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReadError {
    #[error("too many webhook bodies being read, retry later")]
    Busy,
    #[error("body larger than the limit")]
    TooLarge,
    #[error("body longer than its Content-Length")]
    LongerThanDeclared,
    #[error("body not received in time")]
    TimedOut,
    #[error("missing or invalid X-Hub-Signature-256")]
    BadSignature,
    #[error("body could not be read")]
    Broken,
}

/// The two admission pools and the limits they enforce.
pub struct BodyGate {
    limits: BodyLimits,
    small: Arc<Semaphore>,
    large: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

/// A held slot of one pool; gives it back (and lowers the pool's gauge) when dropped.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    pool: BodyPool,
    metrics: Arc<Metrics>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.body_read_ended(self.pool);
    }
}

impl BodyGate {
    pub fn new(limits: BodyLimits, metrics: Arc<Metrics>) -> Self {
        Self {
            small: Arc::new(Semaphore::new(limits.small_slots)),
            large: Arc::new(Semaphore::new(limits.large_slots)),
            limits,
            metrics,
        }
    }

    pub fn limits(&self) -> &BodyLimits {
        &self.limits
    }

    /// The pool a body of declared length `content_length` (None: chunked) is read in.
    pub fn pool_for(&self, content_length: Option<u64>) -> BodyPool {
        match content_length {
            Some(n) if n <= self.limits.small_body => BodyPool::Small,
            _ => BodyPool::Large,
        }
    }

    /// Waits (at most `slot_wait`) for a slot of the pool `content_length` belongs to.
    pub async fn admit(&self, content_length: Option<u64>) -> Result<Slot, ReadError> {
        let pool = self.pool_for(content_length);
        let semaphore = match pool {
            BodyPool::Small => &self.small,
            BodyPool::Large => &self.large,
        };
        let permit = tokio::time::timeout(self.limits.slot_wait, semaphore.clone().acquire_owned())
            .await
            .map_err(|_| ReadError::Busy)?
            // The semaphores are never closed.
            .map_err(|_| ReadError::Busy)?;
        self.metrics.body_read_started(pool);
        Ok(Slot {
            _permit: permit,
            pool,
            metrics: self.metrics.clone(),
        })
    }

    /// Reads `body` while holding `slot` (given back when this returns), feeding `verifier` as
    /// it goes. Returns the whole body only when its signature matched.
    pub async fn read_signed(
        &self,
        body: Body,
        slot: Slot,
        mut verifier: Verifier,
        content_length: Option<u64>,
    ) -> Result<Vec<u8>, ReadError> {
        let max = self.limits.max_body;
        let read = async {
            let mut body = body;
            let mut chunks: Vec<Bytes> = Vec::new();
            let mut total: u64 = 0;
            while let Some(frame) = body.frame().await {
                let Ok(data) = frame.map_err(|_| ReadError::Broken)?.into_data() else {
                    continue; // trailers carry nothing we use
                };
                total += data.len() as u64;
                if total > max {
                    return Err(ReadError::TooLarge);
                }
                if content_length.is_some_and(|declared| total > declared) {
                    return Err(ReadError::LongerThanDeclared);
                }
                verifier.update(&data);
                chunks.push(data);
            }
            Ok((chunks, total))
        };
        let (chunks, total) = tokio::time::timeout(self.limits.read_deadline, read)
            .await
            .map_err(|_| ReadError::TimedOut)??;
        drop(slot);
        if !verifier.matches() {
            return Err(ReadError::BadSignature);
        }
        Ok(assemble(chunks, total))
    }
}

/// One contiguous body from its chunks, allocated once at its final size.
fn assemble(chunks: Vec<Bytes>, total: u64) -> Vec<u8> {
    let mut whole = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for chunk in chunks {
        whole.extend_from_slice(&chunk);
    }
    whole
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WebhookSecrets;
    use crate::github::signature::{self, Expected};
    use futures::StreamExt;

    fn gate(limits: BodyLimits) -> (BodyGate, Arc<Metrics>) {
        let metrics = Arc::new(Metrics::default());
        (BodyGate::new(limits, metrics.clone()), metrics)
    }

    fn verifier(secret: &str, signed: &[u8]) -> Verifier {
        let expected = Expected::parse(&signature::sign(secret.as_bytes(), signed)).unwrap();
        Verifier::new(&WebhookSecrets::new(["s"]), expected)
    }

    /// A body arriving in the given pieces, with `pause` before each.
    fn streamed(pieces: Vec<&'static [u8]>, pause: Duration) -> Body {
        let stream = futures::stream::iter(pieces).then(move |p| async move {
            tokio::time::sleep(pause).await;
            Ok::<_, std::io::Error>(Bytes::from_static(p))
        });
        Body::from_stream(stream)
    }

    #[tokio::test]
    async fn chunks_are_verified_and_assembled() {
        let (gate, metrics) = gate(BodyLimits::default());
        let slot = gate.admit(Some(11)).await.unwrap();
        assert!(
            metrics
                .render(&[])
                .contains("bodies_reading{pool=\"small\"} 1")
        );
        let body = streamed(vec![b"{\"a\":", b"1}"], Duration::ZERO);
        let whole = gate
            .read_signed(body, slot, verifier("s", b"{\"a\":1}"), None)
            .await
            .unwrap();
        assert_eq!(whole, b"{\"a\":1}");
        assert!(
            metrics
                .render(&[])
                .contains("bodies_reading{pool=\"small\"} 0")
        );

        let slot = gate.admit(None).await.unwrap();
        let body = streamed(vec![b"{\"a\":", b"2}"], Duration::ZERO);
        let err = gate
            .read_signed(body, slot, verifier("s", b"{\"a\":1}"), None)
            .await
            .unwrap_err();
        assert_eq!(err, ReadError::BadSignature);
        assert!(
            metrics
                .render(&[])
                .contains("bodies_reading{pool=\"large\"} 0")
        );
    }

    #[tokio::test]
    async fn the_cap_holds_while_streaming() {
        let (gate, _) = gate(BodyLimits {
            max_body: 8,
            ..BodyLimits::default()
        });
        let slot = gate.admit(None).await.unwrap();
        let body = streamed(vec![b"12345", b"6789"], Duration::ZERO);
        let err = gate.read_signed(body, slot, verifier("s", b""), None).await;
        assert_eq!(err.unwrap_err(), ReadError::TooLarge);

        let slot = gate.admit(Some(4)).await.unwrap();
        let body = streamed(vec![b"12345"], Duration::ZERO);
        let err = gate
            .read_signed(body, slot, verifier("s", b""), Some(4))
            .await;
        assert_eq!(err.unwrap_err(), ReadError::LongerThanDeclared);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_times_out_and_frees_its_slot() {
        let (gate, _) = gate(BodyLimits {
            large_slots: 1,
            ..BodyLimits::default()
        });
        let slot = gate.admit(None).await.unwrap();
        // The pool is full: the next large body waits `slot_wait`, then is refused.
        assert_eq!(gate.admit(None).await.err(), Some(ReadError::Busy));
        // A small body has its own pool.
        assert!(gate.admit(Some(10)).await.is_ok());
        let body = streamed(vec![b"{", b"}"], Duration::from_secs(5));
        let err = gate
            .read_signed(body, slot, verifier("s", b"{}"), None)
            .await;
        assert_eq!(err.unwrap_err(), ReadError::TimedOut);
        assert!(gate.admit(None).await.is_ok(), "the slot was given back");
    }
}
