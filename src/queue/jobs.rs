//! Job payloads as they sit in Redis. Changing a field's meaning needs a new field name:
//! jobs written by the previous release may still be queued.
//!
//! A delivery's body is stored compressed: `body_lz4` is the body as an LZ4 block with its
//! length in front (4 bytes, little-endian), in standard padded base64 (the job is JSON, as
//! apalis stores it). A 24 KB `pull_request` body takes about 4.2 KB that way instead of the
//! 25.6 KB it took JSON-escaped, which is most of a queued delivery's Redis memory, and what
//! Redis's Lua hashes byte by byte on every enqueue. Jobs written before (a plain `body`) are
//! still read, so a backlog queued by the previous release drains after an upgrade.

use std::cell::RefCell;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use lz4_flex::block::{CompressTable, compress_into_with_table, get_maximum_output_size};
use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::store::deliveries::NewDelivery;

/// The largest body a stored job may say it holds (GitHub's cap on a webhook payload): a
/// corrupt length is refused before anything is allocated for it.
const MAX_BODY: usize = 25 * 1024 * 1024;

/// A verified GitHub delivery, exactly as received, waiting to be applied.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryJob {
    pub delivery_id: String,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<i64>,
    pub hook_id: Option<i64>,
    pub received_at: DateTime<Utc>,
    /// Non-secret request headers worth keeping (the signature header is never stored).
    pub headers: Value,
    /// The raw body; it is valid UTF-8 because the web layer checked it before queueing.
    /// Stored compressed (see the module doc).
    pub body: String,
    /// Failed runs so far; drives backoff and the dead-letter decision.
    pub failures: u32,
}

impl DeliveryJob {
    /// The delivery-log row this job corresponds to.
    pub fn as_new_delivery(&self) -> NewDelivery<'_> {
        NewDelivery {
            id: &self.delivery_id,
            event: &self.event,
            action: self.action.as_deref(),
            installation_id: self.installation_id,
            hook_id: self.hook_id,
            received_at: self.received_at,
            headers: &self.headers,
            body: &self.body,
        }
    }
}

thread_local! {
    /// LZ4's hash table, kept per thread: allocating and zeroing a new one for every body was
    /// about a tenth of the webhook handler's CPU (BENCHMARKS.md, issue 14).
    static LZ4_TABLE: RefCell<CompressTable> = RefCell::new(CompressTable::default());
}

/// `body` as stored: LZ4 block, length in front, base64 (the layout of
/// `lz4_flex::compress_prepend_size`, which older jobs were written with).
fn compress(body: &str) -> String {
    let input = body.as_bytes();
    let mut out = vec![0u8; 4 + get_maximum_output_size(input.len())];
    out[..4].copy_from_slice(&(input.len() as u32).to_le_bytes());
    let written =
        LZ4_TABLE.with_borrow_mut(|table| compress_into_with_table(input, &mut out[4..], table));
    match written {
        Ok(n) => {
            out.truncate(4 + n);
            STANDARD.encode(out)
        }
        // Cannot happen with a buffer of the maximum size; the plain call is always right.
        Err(_) => STANDARD.encode(lz4_flex::compress_prepend_size(input)),
    }
}

fn decompress(stored: &str) -> Result<String, String> {
    let bytes = STANDARD
        .decode(stored)
        .map_err(|e| format!("body_lz4 is not base64: {e}"))?;
    let Some((len, block)) = bytes.split_first_chunk::<4>() else {
        return Err("body_lz4 is too short".into());
    };
    let len = u32::from_le_bytes(*len) as usize;
    if len > MAX_BODY {
        return Err(format!("body_lz4 claims {len} bytes"));
    }
    let raw = lz4_flex::decompress(block, len).map_err(|e| format!("body_lz4: {e}"))?;
    String::from_utf8(raw).map_err(|_| "body_lz4 is not UTF-8".into())
}

impl Serialize for DeliveryJob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut job = s.serialize_struct("DeliveryJob", 9)?;
        job.serialize_field("delivery_id", &self.delivery_id)?;
        job.serialize_field("event", &self.event)?;
        job.serialize_field("action", &self.action)?;
        job.serialize_field("installation_id", &self.installation_id)?;
        job.serialize_field("hook_id", &self.hook_id)?;
        job.serialize_field("received_at", &self.received_at)?;
        job.serialize_field("headers", &self.headers)?;
        job.serialize_field("body_lz4", &compress(&self.body))?;
        job.serialize_field("failures", &self.failures)?;
        job.end()
    }
}

/// A job as any release wrote it: `body` (before compression) or `body_lz4`.
#[derive(Deserialize)]
struct Stored {
    delivery_id: String,
    event: String,
    action: Option<String>,
    installation_id: Option<i64>,
    hook_id: Option<i64>,
    received_at: DateTime<Utc>,
    headers: Value,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_lz4: Option<String>,
    #[serde(default)]
    failures: u32,
}

impl<'de> Deserialize<'de> for DeliveryJob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Stored::deserialize(d)?;
        let body = match (s.body_lz4, s.body) {
            (Some(stored), _) => decompress(&stored).map_err(D::Error::custom)?,
            (None, Some(body)) => body,
            (None, None) => return Err(D::Error::missing_field("body_lz4")),
        };
        Ok(DeliveryJob {
            delivery_id: s.delivery_id,
            event: s.event,
            action: s.action,
            installation_id: s.installation_id,
            hook_id: s.hook_id,
            received_at: s.received_at,
            headers: s.headers,
            body,
            failures: s.failures,
        })
    }
}

pub use crate::store::merged::PullRequestMerged;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(body: &str) -> DeliveryJob {
        DeliveryJob {
            delivery_id: "d-1".into(),
            event: "pull_request".into(),
            action: Some("closed".into()),
            installation_id: Some(7),
            hook_id: Some(9),
            received_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            headers: json!({"user-agent": "GitHub-Hookshot/x"}),
            body: body.into(),
            failures: 2,
        }
    }

    #[test]
    fn the_body_is_stored_compressed_and_read_back_exactly() {
        let body = format!(
            r#"{{"action":"closed","pull_request":{{"title":"héllo \"quoted\" ✓","body":"{}"}}}}"#,
            "https://api.github.com/repos/octo-org/hello-world/pulls/1 ".repeat(400)
        );
        let original = job(&body);
        let stored = serde_json::to_vec(&original).unwrap();
        assert!(
            stored.len() * 4 < body.len(),
            "{} bytes stored for a {}-byte body",
            stored.len(),
            body.len()
        );
        let value: Value = serde_json::from_slice(&stored).unwrap();
        assert!(value.get("body").is_none(), "no clear body: {value}");
        assert_eq!(
            serde_json::from_slice::<DeliveryJob>(&stored).unwrap(),
            original
        );
    }

    #[test]
    fn the_reused_table_writes_what_compress_prepend_size_writes() {
        for body in ["", "{}", &"abc".repeat(30_000), &"x".repeat(70_000)] {
            let expected = STANDARD.encode(lz4_flex::compress_prepend_size(body.as_bytes()));
            assert_eq!(compress(body), expected, "{} bytes", body.len());
            assert_eq!(decompress(&compress(body)).unwrap(), body);
        }
    }

    #[test]
    fn a_job_queued_before_compression_still_reads() {
        let old = r#"{"delivery_id":"d-1","event":"pull_request","action":"closed","installation_id":7,"hook_id":9,"received_at":"2023-11-14T22:13:20Z","headers":{"user-agent":"GitHub-Hookshot/x"},"body":"{\"action\":\"closed\"}","failures":2}"#;
        let read: DeliveryJob = serde_json::from_str(old).unwrap();
        assert_eq!(read, job(r#"{"action":"closed"}"#));
        // The oldest jobs had no `failures`.
        let older = old.replace(r#","failures":2"#, "");
        assert_eq!(
            serde_json::from_str::<DeliveryJob>(&older)
                .unwrap()
                .failures,
            0
        );
    }

    #[test]
    fn a_corrupt_body_is_refused_not_allocated() {
        let mut value = serde_json::to_value(job("{}")).unwrap();
        let huge = STANDARD.encode([0xff, 0xff, 0xff, 0x7f, 0, 0]);
        value["body_lz4"] = json!(huge);
        let err = serde_json::from_value::<DeliveryJob>(value.clone()).unwrap_err();
        assert!(err.to_string().contains("claims"), "{err}");
        value["body_lz4"] = json!("not base64!");
        assert!(serde_json::from_value::<DeliveryJob>(value.clone()).is_err());
        value.as_object_mut().unwrap().remove("body_lz4");
        assert!(serde_json::from_value::<DeliveryJob>(value).is_err());
    }
}
