//! App identity: installation tokens minted with the app's JWT (signed by
//! [`crate::config::AppKey`]), cached in Redis so every process shares one token per installation.
//!
//! Minting is single-flight per installation: an in-process mutex stops a local stampede, a Redis
//! lock (with expiry) stops one across processes; everyone else waits for the cache to fill.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// An installation access token; `Debug` never shows it.
#[derive(Clone, Serialize, Deserialize)]
pub struct InstallationToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for InstallationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InstallationToken(expires {})", self.expires_at)
    }
}

/// A token is refreshed when it has less than this left, so no request starts with a token that
/// expires mid-sync.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Per-installation local locks, so concurrent jobs in one process mint once.
#[derive(Default, Clone)]
pub struct LocalLocks(Arc<Mutex<HashMap<i64, Arc<Mutex<()>>>>>);

impl LocalLocks {
    pub async fn for_installation(&self, id: i64) -> Arc<Mutex<()>> {
        self.0.lock().await.entry(id).or_default().clone()
    }
}
