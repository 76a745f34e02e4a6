//! Secrets at rest: the keys that seal what Mergecast stores in Postgres (the app's private key,
//! webhook and OAuth secrets, Slack tokens), so a dump of the database, a replica or a backup
//! gives none of them away.
//!
//! XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`): an AEAD with a 192-bit random nonce, so
//! nonces may be drawn at random for every seal without counting. A sealed value is
//! `version (1) ‖ key id (8) ‖ nonce (24) ‖ ciphertext ‖ tag (16)`; the key id (the first 8 bytes
//! of SHA-256 of the key) says which key sealed it. The associated data names the row the value
//! belongs to, so a sealed value copied into another row does not open there.
//!
//! `MERGECAST_ENCRYPTION_KEY` is the key that seals; `MERGECAST_ENCRYPTION_KEY_OLD` (a
//! comma-separated list) holds keys that still open what they sealed, until
//! `mergecast secrets rotate` has re-sealed everything under the current one. Keys are 32 random
//! bytes written as 64 hex digits or as base64 (`openssl rand -base64 32`).

use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use super::{ConfigError, invalid};

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

/// Why a sealed value did not open.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("no encryption key is configured (set MERGECAST_ENCRYPTION_KEY)")]
    NoKey,
    #[error("the sealed value is not in a format this version knows")]
    Format,
    #[error("the sealed value was sealed with key {0}, which is not configured")]
    UnknownKey(String),
    #[error("the sealed value does not open (tampered with, or moved from another row)")]
    Tampered,
}

/// One 32-byte key and its id.
#[derive(Clone)]
struct Key {
    id: [u8; KEY_ID_LEN],
    cipher: XChaCha20Poly1305,
}

impl Key {
    fn from_bytes(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::digest(bytes);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self {
            id,
            cipher: XChaCha20Poly1305::new(bytes.into()),
        }
    }

    fn parse(name: &'static str, text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| invalid(name, "not valid hex"))?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| {
                    invalid(
                        name,
                        "expected 32 random bytes as 64 hex digits or base64 (openssl rand -base64 32)",
                    )
                })?
        };
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| invalid(name, "must be exactly 32 bytes (256 bits)"))?;
        Ok(Self::from_bytes(&bytes))
    }
}

/// The key that seals and the older keys that still open.
#[derive(Clone)]
pub struct Keyring {
    current: Key,
    older: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current_id())
            .field("older", &self.older.len())
            .finish()
    }
}

impl Keyring {
    /// Reads `MERGECAST_ENCRYPTION_KEY` (absent = no keyring: nothing can be stored sealed) and
    /// `MERGECAST_ENCRYPTION_KEY_OLD`.
    pub fn from_lookup(
        get: &impl Fn(&'static str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let older = match get("MERGECAST_ENCRYPTION_KEY_OLD") {
            Some(list) => list
                .split(',')
                .filter(|k| !k.trim().is_empty())
                .map(|k| Key::parse("MERGECAST_ENCRYPTION_KEY_OLD", k))
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        match get("MERGECAST_ENCRYPTION_KEY") {
            Some(current) => Ok(Some(Self {
                current: Key::parse("MERGECAST_ENCRYPTION_KEY", &current)?,
                older,
            })),
            None if !older.is_empty() => Err(invalid(
                "MERGECAST_ENCRYPTION_KEY_OLD",
                "is set without MERGECAST_ENCRYPTION_KEY",
            )),
            None => Ok(None),
        }
    }

    /// A keyring of raw keys: the first seals, all open (tests, benchmarks).
    pub fn from_keys(current: &[u8; 32], older: &[[u8; 32]]) -> Self {
        Self {
            current: Key::from_bytes(current),
            older: older.iter().map(Key::from_bytes).collect(),
        }
    }

    /// A fresh random key, as `mergecast secrets generate-key` prints it (base64).
    pub fn generate_key() -> String {
        let key = XChaCha20Poly1305::generate_key(&mut chacha20poly1305::aead::OsRng);
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    /// The id of the key that seals (hex), as stored beside each sealed value.
    pub fn current_id(&self) -> String {
        hex::encode(self.current.id)
    }

    /// Seals `plain` for the row named by `context`.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut chacha20poly1305::aead::OsRng);
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            // Encryption fails only for messages over 256 GiB.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&self.current.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a value sealed for `context` by the current key or an older one.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < HEADER_LEN + 16 || sealed[0] != VERSION {
            return Err(SealError::Format);
        }
        let id = &sealed[1..1 + KEY_ID_LEN];
        let key = std::iter::once(&self.current)
            .chain(&self.older)
            .find(|k| k.id == id)
            .ok_or_else(|| SealError::UnknownKey(hex::encode(id)))?;
        let nonce = XNonce::from_slice(&sealed[1 + KEY_ID_LEN..HEADER_LEN]);
        key.cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Tampered)
    }

    /// Whether `sealed` was sealed by another key than the current one (rotation re-seals it).
    pub fn is_stale(&self, sealed: &[u8]) -> bool {
        sealed.get(1..1 + KEY_ID_LEN) != Some(&self.current.id[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 32] = [7; 32];
    const B: [u8; 32] = [9; 32];

    #[test]
    fn seals_and_opens_for_the_same_row_only() {
        let ring = Keyring::from_keys(&A, &[]);
        let sealed = ring.seal("app:github_private_key", b"-----BEGIN");
        assert_eq!(
            ring.open("app:github_private_key", &sealed).unwrap(),
            b"-----BEGIN"
        );
        assert_eq!(
            ring.open("installation:1:slack_bot_token", &sealed),
            Err(SealError::Tampered)
        );
        assert!(!sealed.windows(10).any(|w| w == b"-----BEGIN"));
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let ring = Keyring::from_keys(&A, &[]);
        assert_ne!(ring.seal("x", b"same"), ring.seal("x", b"same"));
    }

    #[test]
    fn a_flipped_bit_does_not_open() {
        let ring = Keyring::from_keys(&A, &[]);
        let mut sealed = ring.seal("x", b"secret");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(ring.open("x", &sealed), Err(SealError::Tampered));
        assert_eq!(ring.open("x", &sealed[..10]), Err(SealError::Format));
    }

    #[test]
    fn an_older_key_still_opens_what_it_sealed() {
        let old = Keyring::from_keys(&A, &[]);
        let sealed = old.seal("x", b"secret");
        let rotated = Keyring::from_keys(&B, &[A]);
        assert!(rotated.is_stale(&sealed));
        assert_eq!(rotated.open("x", &sealed).unwrap(), b"secret");
        assert!(!rotated.is_stale(&rotated.seal("x", b"secret")));
        let without_old = Keyring::from_keys(&B, &[]);
        assert!(matches!(
            without_old.open("x", &sealed),
            Err(SealError::UnknownKey(_))
        ));
    }

    #[test]
    fn keys_parse_as_hex_or_base64_and_bad_ones_name_the_variable() {
        let get = |vars: Vec<(&'static str, String)>| {
            move |name: &'static str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            }
        };
        let hex_key = hex::encode(A);
        let b64 = base64::engine::general_purpose::STANDARD.encode(B);
        let ring = Keyring::from_lookup(&get(vec![
            ("MERGECAST_ENCRYPTION_KEY", hex_key),
            ("MERGECAST_ENCRYPTION_KEY_OLD", b64),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(ring.older.len(), 1);
        assert!(Keyring::from_lookup(&get(vec![])).unwrap().is_none());
        let err = Keyring::from_lookup(&get(vec![("MERGECAST_ENCRYPTION_KEY", "short".into())]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("MERGECAST_ENCRYPTION_KEY is invalid"),
            "{err}"
        );
        let err =
            Keyring::from_lookup(&get(vec![("MERGECAST_ENCRYPTION_KEY_OLD", hex::encode(A))]))
                .unwrap_err()
                .to_string();
        assert!(err.contains("without MERGECAST_ENCRYPTION_KEY"), "{err}");
        let generated = Keyring::generate_key();
        assert!(
            Keyring::from_lookup(&get(vec![("MERGECAST_ENCRYPTION_KEY", generated)]))
                .unwrap()
                .is_some()
        );
    }
}
