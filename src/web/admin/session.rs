//! Admin sessions: the cookie holds a random id signed with HMAC-SHA256 (`SESSION_SECRET`); the
//! session itself (who, which installations, CSRF token, OAuth state) lives in Postgres keyed by
//! the id's SHA-256 (`store::admin_sessions`), so a leaked table cannot be replayed as cookies and
//! sign-out is real. This file signs and reads cookies, and is the `Admin` extractor, which also
//! has GitHub confirm an org admin's memberships again when the last check is twelve hours old
//! (so a demoted admin loses access within that time; see `membership`).

use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use subtle::ConstantTimeEq;

use super::AdminError;
use super::handlers::oauth;
use super::membership;
use crate::store::admin_sessions::{self as store, NewSession, SessionKind, SessionRow};
use crate::web::AppState;

/// Name of the session cookie.
pub const COOKIE: &str = "mergecast_admin";
/// A signed-in session ends after this long without a request.
pub const IDLE_HOURS: i64 = 12;
/// ... and after this long whatever happens.
pub const ABSOLUTE_DAYS: i64 = 7;
/// A pre-sign-in session (CSRF token, OAuth state) lives this long.
const PENDING_MINUTES: i64 = 30;

/// A loaded session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub kind: SessionKind,
    pub login: Option<String>,
    pub github_user_id: Option<i64>,
    /// Installations visible to this session; `None` = all (operator).
    pub scope: Option<Vec<i64>>,
    pub csrf: String,
    pub oauth_state: Option<String>,
    /// When GitHub last confirmed a GitHub session's memberships.
    pub memberships_checked_at: Option<DateTime<Utc>>,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        // Only the operator sees everything; anyone else with no list sees nothing.
        let scope = match r.kind {
            SessionKind::Operator => None,
            _ => Some(r.installation_ids.unwrap_or_default()),
        };
        Self {
            id_hash: r.id_hash,
            kind: r.kind,
            login: r.login,
            github_user_id: r.github_user_id,
            scope,
            csrf: r.csrf_token,
            oauth_state: r.oauth_state,
            memberships_checked_at: r.memberships_checked_at,
        }
    }
}

impl Session {
    /// Constant-time check of a submitted CSRF token.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), AdminError> {
        let ok: bool = self.csrf.as_bytes().ct_eq(submitted.as_bytes()).into();
        if ok && !submitted.is_empty() {
            Ok(())
        } else {
            Err(AdminError::Csrf)
        }
    }

    /// Whether this session may see `installation`.
    pub fn allows(&self, installation: i64) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|ids| ids.contains(&installation))
    }

    pub fn is_operator(&self) -> bool {
        self.kind == SessionKind::Operator
    }
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn hash_id(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// HMAC-SHA256 of `id` with `secret`, hex (also signs the pre-sign-in CSRF cookie).
pub(super) fn sign(secret: &[u8], id: &str) -> String {
    // HMAC accepts keys of any length; should that ever fail, no signature matches.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The session id from a signed cookie value, if the signature holds.
fn verify(secret: &[u8], value: &str) -> Option<String> {
    let (id, sig) = value.split_once('.')?;
    let expected = sign(secret, id);
    if expected.is_empty() {
        return None;
    }
    let ok: bool = expected.as_bytes().ct_eq(sig.as_bytes()).into();
    ok.then(|| id.to_owned())
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    cookie_named(headers, COOKIE)
}

/// The value of the cookie `name` in the request's `Cookie` headers.
pub(super) fn cookie_named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

/// `Set-Cookie` for a new session id (or, with `None`, one that clears the cookie).
pub fn set_cookie(secret: &[u8], id: Option<&str>, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = match id {
        Some(id) => format!(
            "{COOKIE}={id}.{}; Path=/admin; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            sign(secret, id),
            ABSOLUTE_DAYS * 86_400
        ),
        None => format!("{COOKIE}=; Path=/admin; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Creates a session; returns the raw id (for the cookie) and the session.
pub async fn create(
    pool: &PgPool,
    kind: SessionKind,
    login: Option<&str>,
    github_user_id: Option<i64>,
    scope: Option<&[i64]>,
) -> Result<(String, Session), sqlx::Error> {
    let id = random_token();
    let lifetime = match kind {
        SessionKind::Pending => format!("{PENDING_MINUTES} minutes"),
        _ => format!("{ABSOLUTE_DAYS} days"),
    };
    let row = store::create(
        pool,
        NewSession {
            id_hash: &hash_id(&id),
            kind,
            login,
            github_user_id,
            installation_ids: scope,
            csrf_token: &random_token(),
            lifetime: &lifetime,
        },
    )
    .await?;
    Ok((id, row.into()))
}

/// Loads the session the request's cookie names, refreshing its idle timer.
pub async fn from_headers(
    pool: &PgPool,
    secret: &[u8],
    headers: &HeaderMap,
) -> Result<Option<Session>, sqlx::Error> {
    let Some(id) = cookie_value(headers).and_then(|v| verify(secret, &v)) else {
        return Ok(None);
    };
    let row = store::touch(pool, &hash_id(&id), IDLE_HOURS as i32).await?;
    Ok(row.map(Session::from))
}

/// A signed-in admin (operator or org admin); anything else is sent to the sign-in page. A
/// GitHub session whose memberships were confirmed twelve hours ago or more is re-checked first:
/// the installations its user no longer administers leave its scope (none left: the session
/// ends), and when GitHub cannot answer the page is a 503, never the old scope.
pub struct Admin(pub Session);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let SignedIn(s) = SignedIn::from_request_parts(parts, state).await?;
        if s.kind != SessionKind::Github
            || !membership::needs_recheck(s.memberships_checked_at, Utc::now())
        {
            return Ok(Admin(s));
        }
        let to_sign_in = || Redirect::to("/admin/login").into_response();
        let still = oauth::recheck_memberships(state, &s)
            .await
            .map_err(IntoResponse::into_response)?;
        if still.is_empty() {
            tracing::info!(
                login = s.login.as_deref().unwrap_or(""),
                "admin: GitHub no longer confirms any membership; session ended"
            );
            store::delete(&state.pool, &s.id_hash)
                .await
                .map_err(|e| AdminError::from(e).into_response())?;
            return Err(to_sign_in());
        }
        match store::set_memberships_checked(&state.pool, &s.id_hash, &still).await {
            Ok(Some(row)) => Ok(Admin(row.into())),
            Ok(None) => Err(to_sign_in()),
            Err(e) => Err(AdminError::from(e).into_response()),
        }
    }
}

/// Any signed-in session, memberships not re-checked: only for signing out, which must work
/// while GitHub is down.
pub struct SignedIn(pub Session);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(secret) = state.admin.config.session_secret.as_deref() else {
            return Err(Redirect::to("/admin/login").into_response());
        };
        match from_headers(&state.pool, secret, &parts.headers).await {
            Ok(Some(s)) if s.kind != SessionKind::Pending => Ok(SignedIn(s)),
            Ok(_) => Err(Redirect::to("/admin/login").into_response()),
            Err(e) => Err(AdminError::from(e).into_response()),
        }
    }
}
