//! Admin sign-in configuration, parsed from the environment with the rest of `Config` so a bad
//! value stops the process with one line naming the variable.

use super::{ConfigError, invalid};

/// The app's own GitHub OAuth client (org admins sign in with GitHub).
#[derive(Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
}

/// How admins sign in; both methods may be off (then `/admin` says so).
#[derive(Clone)]
pub struct AdminConfig {
    /// Argon2 PHC string of the operator's password (`ADMIN_PASSWORD_HASH`).
    pub password_hash: Option<String>,
    /// Key signing the session cookie (`SESSION_SECRET`, at least 32 bytes).
    pub session_secret: Option<Vec<u8>>,
    /// GitHub's side of OAuth (`GITHUB_WEB_URL`, `GITHUB_API_URL`) is the process's
    /// `GithubApi`.
    pub oauth: Option<OAuthClient>,
    /// The public base URL (`PUBLIC_URL`): the OAuth callback and whether cookies are `Secure`
    /// (see [`AdminConfig::secure_cookies`]).
    pub public_url: Option<String>,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("password", &self.password_hash.is_some())
            .field("oauth", &self.oauth.is_some())
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

fn url(
    get: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
    default: Option<&str>,
) -> Result<Option<String>, ConfigError> {
    let Some(raw) = get(name).or_else(|| default.map(str::to_owned)) else {
        return Ok(None);
    };
    let value = raw.trim().trim_end_matches('/').to_owned();
    if !(value.starts_with("https://") || value.starts_with("http://")) {
        return Err(invalid(name, "must be an http(s) URL"));
    }
    Ok(Some(value))
}

impl AdminConfig {
    /// Reads the admin variables through `get` (which already drops empty values).
    pub fn from_lookup(get: &impl Fn(&'static str) -> Option<String>) -> Result<Self, ConfigError> {
        let password_hash = match get("ADMIN_PASSWORD_HASH") {
            Some(raw) => {
                let raw = raw.trim().to_owned();
                argon2::PasswordHash::new(&raw).map_err(|_| {
                    invalid(
                        "ADMIN_PASSWORD_HASH",
                        "expected an argon2 PHC string (mergecast admin hash-password)",
                    )
                })?;
                Some(raw)
            }
            None => None,
        };
        let oauth = match (get("GITHUB_CLIENT_ID"), get("GITHUB_CLIENT_SECRET")) {
            (Some(id), Some(secret)) => Some(OAuthClient {
                client_id: id.trim().to_owned(),
                client_secret: secret.trim().to_owned(),
            }),
            (Some(_), None) => return Err(ConfigError::Missing("GITHUB_CLIENT_SECRET")),
            (None, Some(_)) => return Err(ConfigError::Missing("GITHUB_CLIENT_ID")),
            (None, None) => None,
        };
        let session_secret = match get("SESSION_SECRET") {
            Some(s) if s.len() < 32 => {
                return Err(invalid("SESSION_SECRET", "must be at least 32 bytes"));
            }
            Some(s) => Some(s.into_bytes()),
            None if password_hash.is_some() || oauth.is_some() => {
                return Err(ConfigError::Missing("SESSION_SECRET"));
            }
            None => None,
        };
        Ok(Self {
            password_hash,
            session_secret,
            oauth,
            public_url: url(get, "PUBLIC_URL", None)?,
        })
    }

    /// Whether any sign-in method is configured.
    pub fn sign_in_enabled(&self) -> bool {
        self.session_secret.is_some() && (self.password_hash.is_some() || self.oauth.is_some())
    }

    /// Cookies are `Secure` unless the public URL is plain http on this machine
    /// (`http://localhost…`, `http://127.0.0.1…`, `http://[::1]…`): a deployment, or one whose
    /// `PUBLIC_URL` is unset, never sends the session over plain http.
    pub fn secure_cookies(&self) -> bool {
        let Some(rest) = self
            .public_url
            .as_deref()
            .and_then(|u| u.strip_prefix("http://"))
        else {
            return true;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        !matches!(host, "localhost" | "127.0.0.1" | "::1")
    }
}

/// Hashes `password` as an argon2id PHC string (`mergecast admin hash-password`).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    use argon2::PasswordHasher;
    use argon2::password_hash::SaltString;
    use argon2::password_hash::rand_core::OsRng;
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Checks `password` against a PHC string; any parse error is a mismatch.
pub fn verify_password(phc: &str, password: &str) -> bool {
    use argon2::PasswordVerifier;
    argon2::PasswordHash::new(phc).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&'static str, &str)]) -> Result<AdminConfig, ConfigError> {
        let map: HashMap<&str, String> = vars.iter().map(|(k, v)| (*k, v.to_string())).collect();
        AdminConfig::from_lookup(&|k| map.get(k).cloned())
    }

    #[test]
    fn off_by_default_and_validated() {
        assert!(!load(&[]).unwrap().sign_in_enabled());
        let hash = hash_password("pw").unwrap();
        assert_eq!(
            load(&[("ADMIN_PASSWORD_HASH", &hash)])
                .unwrap_err()
                .to_string(),
            "SESSION_SECRET is required but not set"
        );
        assert!(
            load(&[("ADMIN_PASSWORD_HASH", &hash), ("SESSION_SECRET", "short")])
                .unwrap_err()
                .to_string()
                .starts_with("SESSION_SECRET is invalid")
        );
        assert!(
            load(&[("ADMIN_PASSWORD_HASH", "plain")])
                .unwrap_err()
                .to_string()
                .starts_with("ADMIN_PASSWORD_HASH is invalid")
        );
        let secret = "x".repeat(32);
        let c = load(&[("ADMIN_PASSWORD_HASH", &hash), ("SESSION_SECRET", &secret)]).unwrap();
        assert!(
            c.sign_in_enabled() && verify_password(&hash, "pw") && !verify_password(&hash, "no")
        );
        assert!(!format!("{c:?}").contains(&hash));
        assert!(c.secure_cookies(), "no PUBLIC_URL: Secure");
        assert_eq!(
            load(&[("GITHUB_CLIENT_ID", "x")]).unwrap_err().to_string(),
            "GITHUB_CLIENT_SECRET is required but not set"
        );
    }

    #[test]
    fn cookies_are_secure_unless_plain_http_on_this_machine() {
        let secure = |url: &str| load(&[("PUBLIC_URL", url)]).unwrap().secure_cookies();
        for local in [
            "http://localhost",
            "http://localhost:8080/",
            "http://127.0.0.1:3000",
            "http://[::1]:80",
        ] {
            assert!(!secure(local), "{local}");
        }
        for other in [
            "https://mergecast.example.com",
            "https://localhost:8443",
            "http://mergecast.example.com",
            "http://localhost.example.com",
            "http://127.0.0.1.example.com",
            "http://10.0.0.5:8080",
        ] {
            assert!(secure(other), "{other}");
        }
    }
}
