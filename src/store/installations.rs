//! Installations (one per account that installed the app) and their repositories.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::copilot::CopilotStatus;
use super::records::{InstallationRecord, RepositoryRecord};
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
/// Ignored when GitHub's `updated_at` is older than the stored one; `deleted` is final, and a
/// purged installation's tombstone is never written again.
pub async fn upsert(
    db: impl PgExecutor<'_>,
    inst: &InstallationRecord<'_>,
    status: InstallationStatus,
    observed_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let suspended = status == InstallationStatus::Suspended;
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
           WHERE installations.purge_started_at IS NULL
             AND (installations.gh_updated_at IS NULL
                  OR installations.gh_updated_at <= EXCLUDED.gh_updated_at
                  OR EXCLUDED.status = 'deleted')"#,
    )
    .bind(inst.id)
    .bind(inst.account_id)
    .bind(inst.account_login)
    .bind(inst.account_type)
    .bind(inst.target_type)
    .bind(inst.repository_selection)
    .bind(&inst.permissions)
    .bind(&inst.events)
    .bind(status)
    .bind(if suspended { inst.suspended_at.or(Some(observed_at)) } else { None })
    .bind(if suspended { inst.suspended_by } else { None })
    .bind(inst.created_at)
    .bind(updated_at)
    .bind(observed_at)
    .execute(db)
    .await?;
    Ok(res.rows_affected() > 0)
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
    repos: &[RepositoryRecord<'_>],
    active: bool,
    observed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if repos.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = repos.iter().map(|r| r.id).collect();
    let names: Vec<&str> = repos.iter().map(|r| r.name).collect();
    let full: Vec<&str> = repos.iter().map(|r| r.full_name).collect();
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
    Ok(status(db, InstallationId(id)).await? == Some(InstallationStatus::Active))
}

/// An installation's state (the schema's `installations.status` check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum InstallationStatus {
    Active,
    Suspended,
    Deleted,
}

impl InstallationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deleted => "deleted",
        }
    }
}

impl std::fmt::Display for InstallationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stored status of installation `id`, if we know it.
pub async fn status(
    db: impl PgExecutor<'_>,
    id: InstallationId,
) -> Result<Option<InstallationStatus>, sqlx::Error> {
    sqlx::query_scalar("SELECT status FROM installations WHERE id = $1")
        .bind(id.0)
        .fetch_optional(db)
        .await
}

/// Who an installation belongs to, and whether we may act for it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Account {
    pub status: InstallationStatus,
    pub account_login: String,
    pub account_type: Option<String>,
}

impl Account {
    /// Organizations have members and teams; a user account has neither.
    pub fn is_org(&self) -> bool {
        self.account_type.as_deref() != Some("User")
    }
}

pub async fn account(
    db: impl PgExecutor<'_>,
    id: InstallationId,
) -> Result<Option<Account>, sqlx::Error> {
    sqlx::query_as("SELECT status, account_login, account_type FROM installations WHERE id = $1")
        .bind(id.0)
        .fetch_optional(db)
        .await
}

/// Marks every installation not in `listed` deleted (GitHub's list of the app's installations
/// no longer holds it); `deleted` is final.
pub async fn mark_deleted_unless_listed(
    db: impl PgExecutor<'_>,
    listed: &[i64],
) -> Result<u64, sqlx::Error> {
    let res = sqlx::query(
        r#"UPDATE installations SET status = 'deleted', deleted_at = COALESCE(deleted_at, now()), updated_at = now()
           WHERE status <> 'deleted' AND id <> ALL($1)"#,
    )
    .bind(listed)
    .execute(db)
    .await?;
    Ok(res.rows_affected())
}

/// Ids of the installations we may act for, in id order.
pub async fn active_ids(db: impl PgExecutor<'_>) -> Result<Vec<InstallationId>, sqlx::Error> {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM installations WHERE status = 'active' ORDER BY id")
            .fetch_all(db)
            .await?;
    Ok(ids.into_iter().map(InstallationId).collect())
}

/// Records `repository_selection` (`all` or `selected`) from an `installation_repositories` event.
pub async fn set_repository_selection(
    db: impl PgExecutor<'_>,
    id: InstallationId,
    selection: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE installations SET repository_selection = $2, updated_at = now() WHERE id = $1",
    )
    .bind(id.0)
    .bind(selection)
    .execute(db)
    .await?;
    Ok(())
}

/// A repository we still receive events for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActiveRepository {
    pub id: i64,
    pub name: String,
    pub full_name: String,
    pub private: bool,
}

pub async fn active_repositories(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
) -> Result<Vec<ActiveRepository>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, full_name, private FROM repositories WHERE installation_id = $1 AND active ORDER BY id",
    )
    .bind(installation.0)
    .fetch_all(db)
    .await
}

/// Deactivates the installation's repositories not in `listed` unless an event newer than
/// `observed_at` says otherwise. Returns how many were deactivated.
pub async fn deactivate_repositories_unless_listed(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    listed: &[i64],
    observed_at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let res = sqlx::query(
        r#"UPDATE repositories SET active = false, removed_at = COALESCE(removed_at, $3), updated_at = now()
           WHERE installation_id = $1 AND active AND id <> ALL($2) AND (gh_updated_at IS NULL OR gh_updated_at < $3)"#,
    )
    .bind(installation.0)
    .bind(listed)
    .bind(observed_at)
    .execute(db)
    .await?;
    Ok(res.rows_affected())
}

// Admin page reads

/// An installation as the admin page lists it: counts and its last sync run.
#[derive(Debug, sqlx::FromRow)]
pub struct AdminInstallationRow {
    pub id: i64,
    pub account_login: String,
    pub status: String,
    pub repositories: i64,
    pub members: i64,
    pub run_started: Option<DateTime<Utc>>,
    pub run_finished: Option<DateTime<Utc>>,
    pub run_status: Option<String>,
    pub run_error: Option<String>,
    pub created: Option<i32>,
    pub updated: Option<i32>,
    pub deactivated: Option<i32>,
    pub api_calls: Option<i32>,
    pub not_modified: Option<i32>,
    /// Whether the last sync could read the Copilot seats (`None`: never tried).
    pub copilot_status: Option<CopilotStatus>,
    pub copilot_reason: Option<String>,
    pub copilot_seats: i64,
}

/// Installations in `scope` (all when `None`) with their repository and member counts and last
/// sync run, by account login; `limit` rows from `offset`.
pub async fn admin_list(
    db: impl PgExecutor<'_>,
    scope: Option<&[i64]>,
    limit: i64,
    offset: i64,
) -> Result<Vec<AdminInstallationRow>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT i.id, i.account_login, i.status,
                  (SELECT count(*) FROM repositories r WHERE r.installation_id = i.id AND r.active) AS repositories,
                  (SELECT count(*) FROM members m WHERE m.installation_id = i.id AND m.active) AS members,
                  r.started_at AS run_started, r.finished_at AS run_finished, r.status AS run_status,
                  r.error AS run_error, r.created, r.updated, r.deactivated, r.api_calls, r.not_modified,
                  i.copilot_status, i.copilot_reason,
                  (SELECT count(*) FROM copilot_seats c WHERE c.installation_id = i.id AND c.ended_at IS NULL) AS copilot_seats
           FROM installations i
           LEFT JOIN LATERAL (SELECT * FROM sync_runs s WHERE s.installation_id = i.id
                              ORDER BY s.started_at DESC LIMIT 1) r ON true
           WHERE ($1::bigint[] IS NULL OR i.id = ANY($1)) AND i.purged_at IS NULL
           ORDER BY lower(i.account_login), i.id LIMIT $2 OFFSET $3"#,
    )
    .bind(scope)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

/// Whether installation `id` is known (in any status) and its data not purged.
pub async fn exists(db: impl PgExecutor<'_>, id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM installations WHERE id = $1 AND purged_at IS NULL)",
    )
    .bind(id)
    .fetch_one(db)
    .await
}

/// An installation someone signing in with GitHub may administer.
#[derive(Debug, sqlx::FromRow)]
pub struct SignInCandidate {
    pub id: i64,
    pub account_login: String,
    /// `Organization` or `User`.
    pub account_type: Option<String>,
    pub account_id: Option<i64>,
}

/// Every installation not deleted: whose admins may sign in is asked of GitHub per row.
pub async fn sign_in_candidates(
    db: impl PgExecutor<'_>,
) -> Result<Vec<SignInCandidate>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, account_login, account_type, account_id FROM installations WHERE status <> 'deleted'",
    )
    .fetch_all(db)
    .await
}

/// An installation as the database holds it now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InstallationRow {
    pub id: i64,
    pub account_login: String,
    pub status: InstallationStatus,
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
