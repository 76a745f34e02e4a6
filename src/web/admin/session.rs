//! Admin sessions: the cookie holds a random id signed with HMAC-SHA256 (`SESSION_SECRET`); the
//! session itself (who, which installations, CSRF token, OAuth state) lives in Postgres keyed by
//! the id's SHA-256, so a leaked table cannot be replayed as cookies and sign-out is real.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgPool};
use subtle::ConstantTimeEq;

use super::AdminError;
use crate::web::AppState;

/// Name of the session cookie.
pub const COOKIE: &str = "mergecast_admin";
/// A signed-in session ends after this long without a request.
pub const IDLE_HOURS: i64 = 12;
/// ... and after this long whatever happens.
pub const ABSOLUTE_DAYS: i64 = 7;
/// A pre-sign-in session (CSRF token, OAuth state) lives this long.
const PENDING_MINUTES: i64 = 30;

/// Who is signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pending,
    Operator,
    Github,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Pending => "pending",
            Kind::Operator => "operator",
            Kind::Github => "github",
        }
    }
}

#[derive(FromRow)]
struct Row {
    id_hash: String,
    kind: String,
    login: Option<String>,
    installation_ids: Option<Vec<i64>>,
    csrf_token: String,
    oauth_state: Option<String>,
}

/// A loaded session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub kind: Kind,
    pub login: Option<String>,
    /// Installations visible to this session; `None` = all (operator).
    pub scope: Option<Vec<i64>>,
    pub csrf: String,
    pub oauth_state: Option<String>,
}

impl From<Row> for Session {
    fn from(r: Row) -> Self {
        let kind = match r.kind.as_str() {
            "operator" => Kind::Operator,
            "github" => Kind::Github,
            _ => Kind::Pending,
        };
        // Only the operator sees everything; anyone else with no list sees nothing.
        let scope = match kind {
            Kind::Operator => None,
            _ => Some(r.installation_ids.unwrap_or_default()),
        };
        Self {
            id_hash: r.id_hash,
            kind,
            login: r.login,
            scope,
            csrf: r.csrf_token,
            oauth_state: r.oauth_state,
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
        self.kind == Kind::Operator
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

fn sign(secret: &[u8], id: &str) -> String {
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
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
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

const COLUMNS: &str = "id_hash, kind, login, installation_ids, csrf_token, oauth_state";

/// Creates a session; returns the raw id (for the cookie) and the session.
pub async fn create(
    pool: &PgPool,
    kind: Kind,
    login: Option<&str>,
    github_user_id: Option<i64>,
    scope: Option<&[i64]>,
) -> Result<(String, Session), sqlx::Error> {
    sqlx::query("DELETE FROM admin_sessions WHERE expires_at < now()")
        .execute(pool)
        .await?;
    let id = random_token();
    let lifetime = match kind {
        Kind::Pending => format!("{PENDING_MINUTES} minutes"),
        _ => format!("{ABSOLUTE_DAYS} days"),
    };
    let row: Row = sqlx::query_as(&format!(
        "INSERT INTO admin_sessions (id_hash, kind, login, github_user_id, installation_ids, csrf_token, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + $7::interval) RETURNING {COLUMNS}"
    ))
    .bind(hash_id(&id))
    .bind(kind.as_str())
    .bind(login)
    .bind(github_user_id)
    .bind(scope)
    .bind(random_token())
    .bind(lifetime)
    .fetch_one(pool)
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
    let row: Option<Row> = sqlx::query_as(&format!(
        "UPDATE admin_sessions SET last_seen_at = now()
         WHERE id_hash = $1 AND expires_at > now()
           AND (kind = 'pending' OR last_seen_at > now() - make_interval(hours => $2))
         RETURNING {COLUMNS}"
    ))
    .bind(hash_id(&id))
    .bind(IDLE_HOURS as i32)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Session::from))
}

/// Ends a session (sign-out, or a pending one replaced by a signed-in one).
pub async fn delete(pool: &PgPool, id_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(pool)
        .await?;
    Ok(())
}

/// Stores a fresh OAuth `state` on a pending session.
pub async fn set_oauth_state(pool: &PgPool, id_hash: &str, state: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE admin_sessions SET oauth_state = $2 WHERE id_hash = $1")
        .bind(id_hash)
        .bind(state)
        .execute(pool)
        .await?;
    Ok(())
}

/// Consumes the OAuth `state` (single use): true when it matched.
pub async fn take_oauth_state(
    pool: &PgPool,
    id_hash: &str,
    state: &str,
) -> Result<bool, sqlx::Error> {
    let taken: Option<String> = sqlx::query_scalar(
        "UPDATE admin_sessions SET oauth_state = NULL
         WHERE id_hash = $1 AND oauth_state IS NOT NULL AND oauth_state = $2 RETURNING id_hash",
    )
    .bind(id_hash)
    .bind(state)
    .fetch_optional(pool)
    .await?;
    Ok(taken.is_some())
}

/// A signed-in admin (operator or org admin); anything else is sent to the sign-in page.
pub struct Admin(pub Session);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(secret) = state.admin.config.session_secret.as_deref() else {
            return Err(Redirect::to("/admin/login").into_response());
        };
        match from_headers(&state.pool, secret, &parts.headers).await {
            Ok(Some(s)) if s.kind != Kind::Pending => Ok(Admin(s)),
            Ok(_) => Err(Redirect::to("/admin/login").into_response()),
            Err(e) => Err(AdminError::from(e).into_response()),
        }
    }
}
