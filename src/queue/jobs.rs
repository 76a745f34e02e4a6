//! Job payloads as they sit in Redis. Changing a field's meaning needs a new field name:
//! jobs written by the previous release may still be queued.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::deliveries::NewDelivery;

/// A verified GitHub delivery, exactly as received, waiting to be applied.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    pub body: String,
    /// Failed runs so far; drives backoff and the dead-letter decision.
    #[serde(default)]
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

pub use crate::store::merged::PullRequestMerged;
