//! CSRF protection before sign-in, without storing anything: a signed double-submit cookie.
//!
//! The sign-in page would otherwise need a pending session row per anonymous visit, so anyone
//! could fill `admin_sessions` by reloading it. Instead the page sets a cookie holding a random
//! token and its HMAC (`SESSION_SECRET`, domain-separated from session ids) and puts the same
//! token in its forms; a sign-in POST must carry both, the cookie's signature must hold, and the
//! two tokens must match (compared in constant time). A cross-site form can neither read the
//! cookie nor mint a signed one. Signed-in forms keep using the session's own token.

use axum::http::{HeaderMap, HeaderValue};
use subtle::ConstantTimeEq;

use super::AdminError;
use super::session::{cookie_named, random_token, sign};

/// Name of the pre-sign-in CSRF cookie.
pub const COOKIE: &str = "mergecast_csrf";
/// How long a sign-in page's token stays good.
const MAX_AGE_SECS: i64 = 30 * 60;

/// What the signature covers: a prefix keeps a CSRF token from ever passing as a session id.
fn mac(secret: &[u8], token: &str) -> String {
    sign(secret, &format!("csrf:{token}"))
}

/// The token of a well-signed cookie in `headers`, if any.
fn from_cookie(secret: &[u8], headers: &HeaderMap) -> Option<String> {
    let value = cookie_named(headers, COOKIE)?;
    let (token, sig) = value.split_once('.')?;
    let expected = mac(secret, token);
    if token.is_empty() || expected.is_empty() {
        return None;
    }
    let ok: bool = expected.as_bytes().ct_eq(sig.as_bytes()).into();
    ok.then(|| token.to_owned())
}

/// The token for a sign-in page: the browser's own when its cookie is good, else a new one with
/// the `Set-Cookie` that carries it.
pub fn issue(secret: &[u8], headers: &HeaderMap, secure: bool) -> (String, Option<HeaderValue>) {
    if let Some(token) = from_cookie(secret, headers) {
        return (token, None);
    }
    let token = random_token();
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{COOKIE}={token}.{}; Path=/admin; HttpOnly; SameSite=Lax; Max-Age={MAX_AGE_SECS}{secure}",
        mac(secret, &token)
    );
    (token, HeaderValue::from_str(&value).ok())
}

/// `Ok` when `submitted` is the token of the request's well-signed cookie.
pub fn check(secret: &[u8], headers: &HeaderMap, submitted: &str) -> Result<(), AdminError> {
    let Some(token) = from_cookie(secret, headers) else {
        return Err(AdminError::Csrf);
    };
    let ok: bool = token.as_bytes().ct_eq(submitted.as_bytes()).into();
    if ok && !submitted.is_empty() {
        Ok(())
    } else {
        Err(AdminError::Csrf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {COOKIE}={value}")).unwrap(),
        );
        headers
    }

    #[test]
    fn only_the_signed_token_passes() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let (token, cookie) = issue(secret, &HeaderMap::new(), true);
        let cookie = cookie.unwrap();
        let cookie = cookie.to_str().unwrap();
        assert!(cookie.contains("HttpOnly") && cookie.ends_with("; Secure"));
        let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
        let headers = with_cookie(value);
        assert!(check(secret, &headers, &token).is_ok());
        assert_eq!(issue(secret, &headers, true), (token.clone(), None));
        assert!(check(secret, &headers, "").is_err());
        assert!(check(secret, &headers, "forged").is_err());
        assert!(check(secret, &HeaderMap::new(), &token).is_err());
        assert!(check(b"another-secret-another-secret-xx", &headers, &token).is_err());
        let forged = with_cookie(&format!("forged.{}", "0".repeat(64)));
        assert!(check(secret, &forged, "forged").is_err());
        // A session cookie's signature is no CSRF cookie's.
        let session_like = with_cookie(&format!("{token}.{}", sign(secret, &token)));
        assert!(check(secret, &session_like, &token).is_err());
    }
}
