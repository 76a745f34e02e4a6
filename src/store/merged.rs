//! The once-only guard for `PullRequestMerged`, doubling as its outbox: a row is written in the
//! same transaction that learns of the merge, and `enqueued_at` is set once the job is in Redis.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor};

use crate::ids::InstallationId;

/// Emitted exactly once per merged pull request; consumed by the Slack survey flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestMerged {
    pub installation_id: i64,
    pub pull_request_id: i64,
    pub repository_id: i64,
    pub number: i32,
    pub merged_at: Option<DateTime<Utc>>,
}

/// A merge waiting to be (or already) handed to the survey queue.
#[derive(Debug, Clone, FromRow)]
pub struct MergedRow {
    pub pull_request_id: i64,
    pub installation_id: i64,
    pub repository_id: i64,
    pub number: i32,
    pub merged_at: Option<DateTime<Utc>>,
}

impl MergedRow {
    /// The job this outbox row stands for.
    pub fn job(&self) -> PullRequestMerged {
        PullRequestMerged {
            installation_id: self.installation_id,
            pull_request_id: self.pull_request_id,
            repository_id: self.repository_id,
            number: self.number,
            merged_at: self.merged_at,
        }
    }
}

/// Records a merge; true only the first time for this pull request, whatever the redeliveries.
pub async fn record(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    pull_request_id: i64,
    repository_id: i64,
    number: i32,
    merged_at: Option<DateTime<Utc>>,
    source: &str,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        r#"INSERT INTO merged_pull_requests (pull_request_id, installation_id, repository_id, number, merged_at, source)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (pull_request_id) DO NOTHING"#,
    )
    .bind(pull_request_id)
    .bind(installation.0)
    .bind(repository_id)
    .bind(number)
    .bind(merged_at)
    .bind(source)
    .execute(db)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Merges recorded but not yet confirmed in Redis (oldest first).
pub async fn pending(db: impl PgExecutor<'_>, limit: i64) -> Result<Vec<MergedRow>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT pull_request_id, installation_id, repository_id, number, merged_at
           FROM merged_pull_requests WHERE enqueued_at IS NULL ORDER BY recorded_at LIMIT $1"#,
    )
    .bind(limit)
    .fetch_all(db)
    .await
}

/// This pull request's merge if it is still waiting to be queued.
pub async fn pending_one(
    db: impl PgExecutor<'_>,
    pull_request_id: i64,
) -> Result<Option<MergedRow>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT pull_request_id, installation_id, repository_id, number, merged_at
           FROM merged_pull_requests WHERE pull_request_id = $1 AND enqueued_at IS NULL"#,
    )
    .bind(pull_request_id)
    .fetch_optional(db)
    .await
}

/// Confirms the job for this merge is durably queued.
pub async fn mark_enqueued(
    db: impl PgExecutor<'_>,
    pull_request_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE merged_pull_requests SET enqueued_at = now() WHERE pull_request_id = $1 AND enqueued_at IS NULL")
        .bind(pull_request_id)
        .execute(db)
        .await?;
    Ok(())
}

/// The once-only record of a merged pull request, and whether its job left the outbox.
#[derive(Debug, Clone, FromRow)]
pub struct MergedRecord {
    pub pull_request_id: i64,
    pub installation_id: i64,
    pub source: String,
    pub enqueued_at: Option<DateTime<Utc>>,
}

/// Every merged pull request recorded for `installation`, oldest first.
pub async fn of_installation(
    db: impl PgExecutor<'_>,
    installation: i64,
) -> Result<Vec<MergedRecord>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT pull_request_id, installation_id, source, enqueued_at FROM merged_pull_requests
           WHERE installation_id = $1 ORDER BY recorded_at, pull_request_id"#,
    )
    .bind(installation)
    .fetch_all(db)
    .await
}
