//! Admin sign-in sessions (`admin_sessions`): who is signed in, which installations they may see,
//! their CSRF token and OAuth `state`. Rows are keyed by the SHA-256 of the cookie's random id;
//! signing the cookie and checking tokens is the web layer's business, storing them is ours.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor, PgPool};

/// Who a session belongs to; the schema's `kind IN ('pending', 'operator', 'github')`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// Before sign-in: holds only the CSRF token and the OAuth `state`.
    Pending,
    /// The operator (password): sees every installation.
    Operator,
    /// An org admin signed in with GitHub: sees their orgs' installations.
    Github,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Pending => "pending",
            SessionKind::Operator => "operator",
            SessionKind::Github => "github",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => SessionKind::Pending,
            "operator" => SessionKind::Operator,
            "github" => SessionKind::Github,
            _ => return None,
        })
    }
}

impl TryFrom<String> for SessionKind {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or_else(|| format!("unknown admin session kind {s:?}"))
    }
}

/// A session row.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id_hash: String,
    #[sqlx(try_from = "String")]
    pub kind: SessionKind,
    pub login: Option<String>,
    pub github_user_id: Option<i64>,
    /// Installations this session may see; `NULL` means all (operator only).
    pub installation_ids: Option<Vec<i64>>,
    pub csrf_token: String,
    pub oauth_state: Option<String>,
    /// When GitHub last confirmed this (GitHub) session's org memberships.
    pub memberships_checked_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id_hash, kind, login, github_user_id, installation_ids, csrf_token, \
                       oauth_state, memberships_checked_at";

/// What a new session is created from.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub kind: SessionKind,
    pub login: Option<&'a str>,
    pub github_user_id: Option<i64>,
    pub installation_ids: Option<&'a [i64]>,
    pub csrf_token: &'a str,
    /// How long it lives, as a Postgres interval (`'30 minutes'`, `'7 days'`).
    pub lifetime: &'a str,
}

/// Drops expired sessions, then stores the new one. A GitHub session's memberships were
/// checked just now (at sign-in).
pub async fn create(pool: &PgPool, new: NewSession<'_>) -> Result<SessionRow, sqlx::Error> {
    sqlx::query("DELETE FROM admin_sessions WHERE expires_at < now()")
        .execute(pool)
        .await?;
    sqlx::query_as(&format!(
        "INSERT INTO admin_sessions (id_hash, kind, login, github_user_id, installation_ids, csrf_token,
                                     expires_at, memberships_checked_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + $7::interval,
                 CASE WHEN $2 = 'github' THEN now() END)
         RETURNING {COLUMNS}"
    ))
    .bind(new.id_hash)
    .bind(new.kind.as_str())
    .bind(new.login)
    .bind(new.github_user_id)
    .bind(new.installation_ids)
    .bind(new.csrf_token)
    .bind(new.lifetime)
    .fetch_one(pool)
    .await
}

/// How many session rows there are (expired ones included, until the next sign-in drops them).
pub async fn count(db: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM admin_sessions")
        .fetch_one(db)
        .await
}

/// The live session `id_hash` (not expired; a signed-in one not idle for `idle_hours`),
/// refreshing its idle timer.
pub async fn touch(
    db: impl PgExecutor<'_>,
    id_hash: &str,
    idle_hours: i32,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE admin_sessions SET last_seen_at = now()
         WHERE id_hash = $1 AND expires_at > now()
           AND (kind = 'pending' OR last_seen_at > now() - make_interval(hours => $2))
         RETURNING {COLUMNS}"
    ))
    .bind(id_hash)
    .bind(idle_hours)
    .fetch_optional(db)
    .await
}

/// Ends a session (sign-out, or a pending one replaced by a signed-in one).
pub async fn delete(db: impl PgExecutor<'_>, id_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Records a membership re-check: the installations the session may still see, checked now.
pub async fn set_memberships_checked(
    db: impl PgExecutor<'_>,
    id_hash: &str,
    installation_ids: &[i64],
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE admin_sessions SET installation_ids = $2, memberships_checked_at = now()
         WHERE id_hash = $1 RETURNING {COLUMNS}"
    ))
    .bind(id_hash)
    .bind(installation_ids)
    .fetch_optional(db)
    .await
}

/// Stores a fresh OAuth `state` on a pending session.
pub async fn set_oauth_state(
    db: impl PgExecutor<'_>,
    id_hash: &str,
    state: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE admin_sessions SET oauth_state = $2 WHERE id_hash = $1")
        .bind(id_hash)
        .bind(state)
        .execute(db)
        .await?;
    Ok(())
}

/// Consumes the OAuth `state` (single use): true when it matched.
pub async fn take_oauth_state(
    db: impl PgExecutor<'_>,
    id_hash: &str,
    state: &str,
) -> Result<bool, sqlx::Error> {
    let taken: Option<String> = sqlx::query_scalar(
        "UPDATE admin_sessions SET oauth_state = NULL
         WHERE id_hash = $1 AND oauth_state IS NOT NULL AND oauth_state = $2 RETURNING id_hash",
    )
    .bind(id_hash)
    .bind(state)
    .fetch_optional(db)
    .await?;
    Ok(taken.is_some())
}
