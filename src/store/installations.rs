//! Installations (one per account that installed the app) and their repositories.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;

use crate::github::events::{Installation, RepositoryStub};
use crate::ids::InstallationId;

/// Makes sure an installation row exists before rows that reference it, when an event about an
/// org arrives before (or without) its `installation.created`.
pub async fn ensure(
    db: impl PgExecutor<'_>,
    id: InstallationId,
    account_login: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO installations (id, account_login) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id.0)
    .bind(account_login)
    .execute(db)
    .await?;
    Ok(())
}

/// Upserts an installation from a payload; `status` is the state the event implies.
/// Ignored when GitHub's `updated_at` is older than the stored one; `deleted` is final.
pub async fn upsert(
    db: impl PgExecutor<'_>,
    inst: &Installation,
    status: &str,
    observed_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let account = inst.account.as_ref();
    let updated_at = inst.updated_at.unwrap_or(observed_at);
    let res = sqlx::query(
        r#"INSERT INTO installations (id, account_id, account_login, account_type, target_type,
               repository_selection, permissions, events, status, suspended_at, suspended_by,
               deleted_at, gh_created_at, gh_updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                   CASE WHEN $9 = 'deleted' THEN $14 END, $12, $13)
           ON CONFLICT (id) DO UPDATE SET
               account_id = EXCLUDED.account_id,
               account_login = EXCLUDED.account_login,
               account_type = EXCLUDED.account_type,
               target_type = EXCLUDED.target_type,
               repository_selection = EXCLUDED.repository_selection,
               permissions = EXCLUDED.permissions,
               events = EXCLUDED.events,
               status = CASE WHEN installations.status = 'deleted' THEN 'deleted' ELSE EXCLUDED.status END,
               suspended_at = EXCLUDED.suspended_at,
               suspended_by = EXCLUDED.suspended_by,
               deleted_at = COALESCE(installations.deleted_at, EXCLUDED.deleted_at),
               gh_created_at = COALESCE(EXCLUDED.gh_created_at, installations.gh_created_at),
               gh_updated_at = EXCLUDED.gh_updated_at,
               updated_at = now()
           WHERE installations.gh_updated_at IS NULL
              OR installations.gh_updated_at <= EXCLUDED.gh_updated_at
              OR EXCLUDED.status = 'deleted'"#,
    )
    .bind(inst.id)
    .bind(account.map(|a| a.id))
    .bind(account.map(|a| a.login.as_str()).unwrap_or(""))
    .bind(account.and_then(|a| a.kind.as_deref()))
    .bind(inst.target_type.as_deref())
    .bind(inst.repository_selection.as_deref())
    .bind(non_null(&inst.permissions, "{}"))
    .bind(non_null(&inst.events, "[]"))
    .bind(status)
    .bind(if status == "suspended" { inst.suspended_at.or(Some(observed_at)) } else { None })
    .bind(if status == "suspended" { inst.suspended_by.as_ref().map(|a| a.login.as_str()) } else { None })
    .bind(inst.created_at)
    .bind(updated_at)
    .bind(observed_at)
    .execute(db)
    .await?;
    Ok(res.rows_affected() > 0)
}

fn non_null(v: &Value, empty: &str) -> Value {
    if v.is_null() {
        serde_json::from_str(empty).unwrap_or(Value::Null)
    } else {
        v.clone()
    }
}

/// Renames the installation's account (org renamed, or installation target renamed).
pub async fn rename_account(
    db: impl PgExecutor<'_>,
    id: InstallationId,
    login: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE installations SET account_login = $2, updated_at = now() WHERE id = $1")
        .bind(id.0)
        .bind(login)
        .execute(db)
        .await?;
    Ok(())
}

/// Records the repositories the installation can see; `active = false` when removed.
pub async fn set_repositories(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    repos: &[RepositoryStub],
    active: bool,
    observed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if repos.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = repos.iter().map(|r| r.id).collect();
    let names: Vec<&str> = repos.iter().map(|r| r.name.as_str()).collect();
    let full: Vec<&str> = repos.iter().map(|r| r.full_name.as_str()).collect();
    let private: Vec<bool> = repos.iter().map(|r| r.private).collect();
    sqlx::query(
        r#"INSERT INTO repositories (id, installation_id, name, full_name, private, active, removed_at, gh_updated_at)
           SELECT u.id, $2, u.name, u.full_name, u.private, $6, CASE WHEN $6 THEN NULL ELSE $7 END, $7
           FROM UNNEST($1::bigint[], $3::text[], $4::text[], $5::bool[]) AS u(id, name, full_name, private)
           ON CONFLICT (id) DO UPDATE SET
               installation_id = EXCLUDED.installation_id,
               name = EXCLUDED.name,
               full_name = EXCLUDED.full_name,
               private = EXCLUDED.private,
               active = EXCLUDED.active,
               removed_at = EXCLUDED.removed_at,
               gh_updated_at = EXCLUDED.gh_updated_at,
               updated_at = now()
           WHERE repositories.gh_updated_at IS NULL OR repositories.gh_updated_at <= EXCLUDED.gh_updated_at"#,
    )
    .bind(&ids)
    .bind(installation.0)
    .bind(&names)
    .bind(&full)
    .bind(&private)
    .bind(active)
    .bind(observed_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Remembers that a user revoked their authorization of the app, so their user tokens are not used.
pub async fn record_revoked_authorization(
    db: impl PgExecutor<'_>,
    github_user_id: i64,
    login: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO revoked_authorizations (github_user_id, login, revoked_at) VALUES ($1, $2, $3)
           ON CONFLICT (github_user_id) DO UPDATE SET login = EXCLUDED.login,
               revoked_at = GREATEST(revoked_authorizations.revoked_at, EXCLUDED.revoked_at)"#,
    )
    .bind(github_user_id)
    .bind(login)
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// Whether Mergecast may act for installation `id`: it is known and neither suspended nor
/// deleted.
pub async fn is_active(db: impl PgExecutor<'_>, id: i64) -> Result<bool, sqlx::Error> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM installations WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(status.as_deref() == Some("active"))
}

/// An installation as the database holds it now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InstallationRow {
    pub id: i64,
    pub account_login: String,
    /// `active`, `suspended` or `deleted`.
    pub status: String,
    pub suspended_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Installation `id`, if known.
pub async fn get(db: impl PgExecutor<'_>, id: i64) -> Result<Option<InstallationRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, account_login, status, suspended_at, deleted_at FROM installations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// A repository an installation can see (or could, until `removed_at`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RepositoryRow {
    pub id: i64,
    pub full_name: String,
    pub active: bool,
    pub removed_at: Option<DateTime<Utc>>,
}

/// Every repository of `installation`, active or not, by id.
pub async fn repositories(
    db: impl PgExecutor<'_>,
    installation: i64,
) -> Result<Vec<RepositoryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, full_name, active, removed_at FROM repositories WHERE installation_id = $1 ORDER BY id",
    )
    .bind(installation)
    .fetch_all(db)
    .await
}

/// When `github_user_id` revoked their authorization of the app, if they did.
pub async fn revoked_at(
    db: impl PgExecutor<'_>,
    github_user_id: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT revoked_at FROM revoked_authorizations WHERE github_user_id = $1")
        .bind(github_user_id)
        .fetch_optional(db)
        .await
}
