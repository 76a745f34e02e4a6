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

/// True when `header` is a valid signature of `body` under any of `secrets`.
/// Every secret is tried (no early exit on a match) so timing says nothing about which one matched.
pub fn verify(secrets: &WebhookSecrets, header: &str, body: &[u8]) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let mut expected = [0u8; 32];
    if hex::decode_to_slice(hex_sig, &mut expected).is_err() {
        return false;
    }
    let mut matched = false;
    for secret in secrets.iter() {
        let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
            continue;
        };
        mac.update(body);
        // `verify_slice` compares in constant time.
        matched |= mac.verify_slice(&expected).is_ok();
    }
    matched
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
}
