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
    /// The LZ4 block before base64, kept per thread for the same reason (a zeroed buffer of
    /// the body's worst-case size was allocated for every body).
    static LZ4_OUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The largest LZ4 buffer a thread keeps between bodies. GitHub's deliveries are mostly far
/// smaller; a rare large one (up to 25 MB) is compressed in a buffer freed right after, so no
/// thread holds its worst case for ever.
const KEPT_LZ4_BUFFER: usize = 1024 * 1024;

/// Appends `body` as stored to `out`: LZ4 block, length in front, base64 (the layout of
/// `lz4_flex::compress_prepend_size`, which older jobs were written with).
fn compress_into(body: &str, out: &mut Vec<u8>) {
    let input = body.as_bytes();
    let needed = 4 + get_maximum_output_size(input.len());
    LZ4_OUT.with_borrow_mut(|block| {
        if block.len() < needed {
            block.resize(needed, 0);
        }
        block[..4].copy_from_slice(&(input.len() as u32).to_le_bytes());
        let written = LZ4_TABLE
            .with_borrow_mut(|table| compress_into_with_table(input, &mut block[4..], table));
        let start = out.len();
        let encoded = written.ok().and_then(|n| {
            let len = base64::encoded_len(4 + n, true)?;
            out.resize(start + len, 0);
            STANDARD
                .encode_slice(&block[..4 + n], &mut out[start..])
                .ok()
        });
        if encoded.is_none() {
            // Cannot happen (the buffers have their maximum sizes); the plain calls are always right.
            out.truncate(start);
            let plain = STANDARD.encode(lz4_flex::compress_prepend_size(input));
            out.extend_from_slice(plain.as_bytes());
        }
        if block.len() > KEPT_LZ4_BUFFER {
            *block = Vec::new();
        }
    });
}

fn compress(body: &str) -> String {
    let mut out = Vec::new();
    compress_into(body, &mut out);
    String::from_utf8(out).unwrap_or_default()
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

impl DeliveryJob {
    /// The job as stored in Redis: the bytes `serde_json::to_vec` writes through the
    /// `Serialize` impl below, written directly. The base64 of the compressed body is appended
    /// in place, neither copied from a `String` nor scanned for characters to escape (base64
    /// has none): those were ~6 % of the webhook handler's CPU (BENCHMARKS.md, issue 14).
    pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        fn field<T: Serialize + ?Sized>(
            out: &mut Vec<u8>,
            key: &[u8],
            value: &T,
        ) -> Result<(), serde_json::Error> {
            out.extend_from_slice(key);
            serde_json::to_writer(out, value)
        }
        let mut out = Vec::with_capacity(1024 + self.body.len() / 3);
        field(&mut out, b"{\"delivery_id\":", &self.delivery_id)?;
        field(&mut out, b",\"event\":", &self.event)?;
        field(&mut out, b",\"action\":", &self.action)?;
        field(&mut out, b",\"installation_id\":", &self.installation_id)?;
        field(&mut out, b",\"hook_id\":", &self.hook_id)?;
        field(&mut out, b",\"received_at\":", &self.received_at)?;
        field(&mut out, b",\"headers\":", &self.headers)?;
        out.extend_from_slice(b",\"body_lz4\":\"");
        compress_into(&self.body, &mut out);
        field(&mut out, b"\",\"failures\":", &self.failures)?;
        out.push(b'}');
        Ok(out)
    }
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
    fn encode_writes_what_serialize_writes() {
        let mut quoted = job(&format!("{{\"a\":\"{}\\u2028\\\"\"}}", "ü".repeat(5000)));
        quoted.headers = json!({"user-agent": "Git\"Hub\"\n", "x-github-event": "ping"});
        let mut bare = job("");
        bare.action = None;
        bare.installation_id = None;
        bare.hook_id = None;
        bare.headers = Value::Null;
        for j in [job("{}"), quoted, bare] {
            let encoded = j.encode().unwrap();
            assert_eq!(
                String::from_utf8(encoded.clone()).unwrap(),
                serde_json::to_string(&j).unwrap()
            );
            assert_eq!(serde_json::from_slice::<DeliveryJob>(&encoded).unwrap(), j);
        }
    }

    #[test]
    fn the_reused_table_writes_what_compress_prepend_size_writes() {
        // Large, then small: the reused buffers must not leak a longer body's tail.
        for body in [
            "",
            "{}",
            &"abc".repeat(30_000),
            &"x".repeat(70_000),
            &"y".repeat(KEPT_LZ4_BUFFER + 1),
            "{\"a\":1}",
        ] {
            let expected = STANDARD.encode(lz4_flex::compress_prepend_size(body.as_bytes()));
            assert_eq!(compress(body), expected, "{} bytes", body.len());
            assert_eq!(decompress(&compress(body)).unwrap(), body);
            assert!(LZ4_OUT.with_borrow(|b| b.len()) <= KEPT_LZ4_BUFFER);
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
