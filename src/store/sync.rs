//! State the catch-up sync keeps between runs: ETags (with what each page listed), watermarks,
//! run history, redelivery requests, and app-wide checkpoints.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

use crate::ids::InstallationId;

/// What we remember about a URL we fetched.
#[derive(Debug, Clone, FromRow)]
pub struct CachedPage {
    pub etag: String,
    pub item_ids: Vec<i64>,
    pub next_url: Option<String>,
}

pub async fn cached_page(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    url: &str,
) -> Result<Option<CachedPage>, sqlx::Error> {
    sqlx::query_as(
        "SELECT etag, item_ids, next_url FROM github_etags WHERE installation_id = $1 AND url = $2",
    )
    .bind(installation.0)
    .bind(url)
    .fetch_optional(db)
    .await
}

pub async fn store_page(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    url: &str,
    etag: &str,
    item_ids: &[i64],
    next_url: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO github_etags (installation_id, url, etag, item_ids, next_url, fetched_at)
           VALUES ($1, $2, $3, $4, $5, now())
           ON CONFLICT (installation_id, url) DO UPDATE SET etag = EXCLUDED.etag,
               item_ids = EXCLUDED.item_ids, next_url = EXCLUDED.next_url, fetched_at = now()"#,
    )
    .bind(installation.0)
    .bind(url)
    .bind(etag)
    .bind(item_ids)
    .bind(next_url)
    .execute(db)
    .await?;
    Ok(())
}

/// Which list a watermark belongs to.
#[derive(Debug, Clone, Copy)]
pub enum WatermarkKind {
    Pulls,
    Issues,
    /// The `since` sent for issues: moved rarely so an unchanged repository keeps one URL (and
    /// so its ETag); the `Issues` watermark bounds how far the listing is read.
    IssuesSince,
}

impl WatermarkKind {
    fn as_str(self) -> &'static str {
        match self {
            WatermarkKind::Pulls => "pulls",
            WatermarkKind::Issues => "issues",
            WatermarkKind::IssuesSince => "issues_since",
        }
    }
}

pub async fn watermark(
    db: impl PgExecutor<'_>,
    repository_id: i64,
    kind: WatermarkKind,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT watermark FROM sync_watermarks WHERE repository_id = $1 AND kind = $2",
    )
    .bind(repository_id)
    .bind(kind.as_str())
    .fetch_optional(db)
    .await
}

/// Sets a watermark outright (used for the `since` anchor).
pub async fn set_watermark(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    repository_id: i64,
    kind: WatermarkKind,
    to: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO sync_watermarks (repository_id, kind, installation_id, watermark) VALUES ($1, $2, $3, $4)
           ON CONFLICT (repository_id, kind) DO UPDATE SET watermark = EXCLUDED.watermark"#,
    )
    .bind(repository_id)
    .bind(kind.as_str())
    .bind(installation.0)
    .bind(to)
    .execute(db)
    .await?;
    Ok(())
}

/// Moves a watermark forward (never back).
pub async fn advance_watermark(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    repository_id: i64,
    kind: WatermarkKind,
    to: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO sync_watermarks (repository_id, kind, installation_id, watermark) VALUES ($1, $2, $3, $4)
           ON CONFLICT (repository_id, kind) DO UPDATE
           SET watermark = GREATEST(sync_watermarks.watermark, EXCLUDED.watermark)"#,
    )
    .bind(repository_id)
    .bind(kind.as_str())
    .bind(installation.0)
    .bind(to)
    .execute(db)
    .await?;
    Ok(())
}

/// Figures of one sync run (shown on the admin page).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounters {
    pub created: i32,
    pub updated: i32,
    pub deactivated: i32,
    pub api_calls: i32,
    pub not_modified: i32,
}

pub async fn start_run(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    at: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO sync_runs (installation_id, started_at, status) VALUES ($1, $2, 'running') RETURNING id")
        .bind(installation.0)
        .bind(at)
        .fetch_one(db)
        .await
}

/// How a sync run ended (the schema's `sync_runs.status` check; `running` until then).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Success,
    Error,
    Paused,
}

pub async fn finish_run(
    db: impl PgExecutor<'_>,
    run_id: i64,
    status: RunStatus,
    error: Option<&str>,
    c: RunCounters,
    paused_until: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"UPDATE sync_runs SET finished_at = now(), status = $2, error = $3, created = $4, updated = $5,
               deactivated = $6, api_calls = $7, not_modified = $8, paused_until = $9 WHERE id = $1"#,
    )
    .bind(run_id)
    .bind(status)
    .bind(error)
    .bind(c.created)
    .bind(c.updated)
    .bind(c.deactivated)
    .bind(c.api_calls)
    .bind(c.not_modified)
    .bind(paused_until)
    .execute(db)
    .await?;
    Ok(())
}

/// The latest finished run of an installation, for scheduling and pausing.
#[derive(Debug, Clone, FromRow)]
pub struct LastRun {
    pub started_at: DateTime<Utc>,
    pub status: RunStatus,
    pub paused_until: Option<DateTime<Utc>>,
}

pub async fn last_run(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
) -> Result<Option<LastRun>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT started_at, status, paused_until FROM sync_runs
           WHERE installation_id = $1 AND status <> 'running' ORDER BY started_at DESC LIMIT 1"#,
    )
    .bind(installation.0)
    .fetch_optional(db)
    .await
}

/// Claims the right to ask GitHub to redeliver `guid`; false if it was already asked for.
pub async fn claim_redelivery(
    db: impl PgExecutor<'_>,
    guid: &str,
    hook_delivery_id: i64,
    event: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "INSERT INTO redelivery_requests (guid, hook_delivery_id, event) VALUES ($1, $2, $3) ON CONFLICT (guid) DO NOTHING",
    )
    .bind(guid)
    .bind(hook_delivery_id)
    .bind(event)
    .execute(db)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Gives a claim back when GitHub refused the request, so the next run tries again.
pub async fn unclaim_redelivery(db: impl PgExecutor<'_>, guid: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM redelivery_requests WHERE guid = $1")
        .bind(guid)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn checkpoint(
    db: impl PgExecutor<'_>,
    name: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM app_checkpoints WHERE name = $1")
        .bind(name)
        .fetch_optional(db)
        .await
}

pub async fn set_checkpoint(
    db: impl PgExecutor<'_>,
    name: &str,
    value: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO app_checkpoints (name, value) VALUES ($1, $2)
           ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"#,
    )
    .bind(name)
    .bind(value)
    .execute(db)
    .await?;
    Ok(())
}

/// Active installations whose last run is older than `interval`, or whose pause has ended.
pub async fn due_installations(
    db: impl PgExecutor<'_>,
    interval: std::time::Duration,
) -> Result<Vec<InstallationId>, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        r#"SELECT i.id FROM installations i
           LEFT JOIN LATERAL (SELECT started_at, status, paused_until FROM sync_runs r
                              WHERE r.installation_id = i.id ORDER BY started_at DESC LIMIT 1) last ON true
           WHERE i.status = 'active'
             AND (last.started_at IS NULL
                  OR (last.status = 'paused' AND last.paused_until <= now())
                  OR (last.status IN ('success', 'error') AND last.started_at <= now() - make_interval(secs => $1)))
           ORDER BY i.id"#,
    )
    .bind(interval.as_secs_f64())
    .fetch_all(db)
    .await?;
    Ok(ids.into_iter().map(InstallationId).collect())
}
