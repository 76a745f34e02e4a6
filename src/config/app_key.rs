//! The GitHub App's private key as a setting: parsed and proven able to sign when the
//! configuration is read, so a bad key stops start-up with one line rather than failing the first
//! sync. It lives with the configuration (the lowest layer) because every layer that signs needs
//! it and none of them should parse it.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use thiserror::Error;

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
