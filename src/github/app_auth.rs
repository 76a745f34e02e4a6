//! App identity: RS256 JWTs signed with the app's private key, and installation tokens minted
//! with them, cached in Redis so every process shares one token per installation.
//!
//! Minting is single-flight per installation: an in-process mutex stops a local stampede, a Redis
//! lock (with expiry) stops one across processes; everyone else waits for the cache to fill.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::Mutex;

/// The app's private key; never printed.
#[derive(Clone)]
pub struct AppKey(EncodingKey);

impl std::fmt::Debug for AppKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppKey(redacted)")
    }
}

/// A key that cannot sign RS256 JWTs.
#[derive(Debug, Error)]
#[error("not a usable RSA private key in PEM format")]
pub struct BadKey;

impl AppKey {
    /// Parses a PEM key, accepting `\n`-escaped single-line values (common in env files), and
    /// proves it can sign so a bad key stops start-up rather than the first sync.
    pub fn from_pem(pem: &str) -> Result<Self, BadKey> {
        let pem = pem.trim().replace("\\n", "\n");
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| BadKey)?;
        let key = AppKey(key);
        key.sign(1, Utc::now()).map_err(|_| BadKey)?;
        Ok(key)
    }

    /// A JWT for app-level endpoints: `iat` 60 s in the past (clock drift), `exp` 9 minutes ahead
    /// (GitHub refuses more than 10).
    pub fn sign(
        &self,
        app_id: i64,
        now: DateTime<Utc>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        #[derive(Serialize)]
        struct Claims {
            iat: i64,
            exp: i64,
            iss: String,
        }
        let claims = Claims {
            iat: now.timestamp() - 60,
            exp: now.timestamp() + 9 * 60,
            iss: app_id.to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.0)
    }
}

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
