//! Slack's v0 request signature: HMAC-SHA256 over `v0:{timestamp}:{raw body}` with the signing
//! secret, hex, prefixed `v0=`. Requests older than five minutes are refused (replay).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How old a signed request may be.
pub const MAX_AGE_SECS: i64 = 5 * 60;

/// The `X-Slack-Signature` Slack would send.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why a Slack request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing or malformed timestamp")]
    BadTimestamp,
    #[error("request is older than five minutes")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

/// Verifies a request at time `now` (Unix seconds); compares in constant time.
pub fn verify(
    secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if (now - ts).abs() > MAX_AGE_SECS {
        return Err(SignatureError::Stale);
    }
    let Some(hex_sig) = signature.trim().strip_prefix("v0=") else {
        return Err(SignatureError::Mismatch);
    };
    let mut expected = [0u8; 32];
    hex::decode_to_slice(hex_sig, &mut expected).map_err(|_| SignatureError::Mismatch)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Mismatch)?;
    mac.update(b"v0:");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's published example ("Verifying requests from Slack").
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slack_published_example() {
        assert_eq!(sign(SECRET, TS, BODY.as_bytes()), SIG);
        assert_eq!(
            verify(SECRET, TS, SIG, BODY.as_bytes(), 1531420618 + 10),
            Ok(())
        );
    }

    #[test]
    fn refuses_stale_tampered_and_malformed() {
        let now = 1531420618;
        assert_eq!(
            verify(SECRET, TS, SIG, BODY.as_bytes(), now + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, TS, SIG, b"token=other", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("wrong", TS, SIG, BODY.as_bytes(), now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, "soon", SIG, BODY.as_bytes(), now),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(SECRET, TS, "v0=zz", BODY.as_bytes(), now),
            Err(SignatureError::Mismatch)
        );
    }
}
