//! GitHub's `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, hex, prefixed `sha256=`.
//! Checked in constant time against every configured secret (rotation keeps two alive).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::WebhookSecrets;

type HmacSha256 = Hmac<Sha256>;

/// The header value GitHub would send for `body` signed with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // An HMAC key may be any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A well-formed `X-Hub-Signature-256` value: `sha256=` and the 32-byte MAC as 64 hex digits.
/// Parsing it needs no secret and no body, so a malformed header is refused before any read.
#[derive(Clone, Copy)]
pub struct Expected([u8; 32]);

impl Expected {
    pub fn parse(header: &str) -> Option<Self> {
        let hex_sig = header.trim().strip_prefix("sha256=")?;
        let mut expected = [0u8; 32];
        hex::decode_to_slice(hex_sig, &mut expected).ok()?;
        Some(Self(expected))
    }
}

impl std::fmt::Debug for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Expected(redacted)")
    }
}

/// The HMAC of a body fed in pieces as they arrive, under every configured secret at once, so
/// the body never has to be whole (or kept) to learn that its signature is wrong.
pub struct Verifier {
    expected: Expected,
    macs: Vec<HmacSha256>,
}

impl Verifier {
    pub fn new(secrets: &WebhookSecrets, expected: Expected) -> Self {
        let macs = secrets
            .iter()
            .filter_map(|s| HmacSha256::new_from_slice(s).ok())
            .collect();
        Self { expected, macs }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        for mac in &mut self.macs {
            mac.update(chunk);
        }
    }

    /// True when the body fed so far is signed by any secret. Every secret is checked (no early
    /// exit on a match), each in constant time, so timing says nothing about which one matched.
    pub fn matches(self) -> bool {
        let mut matched = false;
        for mac in self.macs {
            matched |= mac.verify_slice(&self.expected.0).is_ok();
        }
        matched
    }
}

/// True when `header` is a valid signature of `body` under any of `secrets`.
pub fn verify(secrets: &WebhookSecrets, header: &str, body: &[u8]) -> bool {
    let Some(expected) = Expected::parse(header) else {
        return false;
    };
    let mut verifier = Verifier::new(secrets, expected);
    verifier.update(body);
    verifier.matches()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's published test vector (docs: "Validating webhook deliveries").
    const SECRET: &str = "It's a Secret to Everybody";
    const BODY: &str = "Hello, World!";
    const SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn github_published_vector() {
        assert_eq!(sign(SECRET.as_bytes(), BODY.as_bytes()), SIG);
        let secrets = WebhookSecrets::new([SECRET]);
        assert!(verify(&secrets, SIG, BODY.as_bytes()));
    }

    #[test]
    fn any_rotated_secret_matches() {
        let secrets = WebhookSecrets::new(["new-secret", SECRET]);
        assert!(verify(&secrets, SIG, BODY.as_bytes()));
    }

    #[test]
    fn rejects_wrong_body_secret_or_format() {
        let secrets = WebhookSecrets::new([SECRET]);
        assert!(!verify(&secrets, SIG, b"Hello, World"));
        assert!(!verify(
            &WebhookSecrets::new(["other"]),
            SIG,
            BODY.as_bytes()
        ));
        assert!(!verify(
            &secrets,
            &SIG.replace("sha256=", "sha1="),
            BODY.as_bytes()
        ));
        assert!(!verify(&secrets, "sha256=zz", BODY.as_bytes()));
        assert!(!verify(&secrets, "", BODY.as_bytes()));
        assert!(!verify(&secrets, &SIG[..SIG.len() - 2], BODY.as_bytes()));
    }

    #[test]
    fn streaming_equals_whole() {
        let secrets = WebhookSecrets::new(["other", SECRET]);
        let expected = Expected::parse(SIG).unwrap();
        let mut v = Verifier::new(&secrets, expected);
        for piece in BODY.as_bytes().chunks(3) {
            v.update(piece);
        }
        assert!(v.matches());
        let mut v = Verifier::new(&secrets, expected);
        v.update(b"Hello, World");
        assert!(!v.matches());
    }

    #[test]
    fn header_form_is_checked_without_a_body() {
        assert!(Expected::parse(SIG).is_some());
        assert!(Expected::parse(&SIG.to_uppercase().replace("SHA256=", "sha256=")).is_some());
        for bad in [
            "",
            "sha256=",
            "sha1=0123",
            "sha256=zz",
            &SIG[..SIG.len() - 1],
            &format!("{SIG}00"),
        ] {
            assert!(Expected::parse(bad).is_none(), "{bad}");
        }
    }
}
