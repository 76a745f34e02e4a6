//! Issues. Deleted and transferred issues keep their row, marked.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgExecutor;

use super::records::{IssueRecord, RepositoryRecord};
use crate::ids::InstallationId;

/// Upserts an issue; an older `updated_at` than stored changes nothing. Returns whether written.
pub async fn upsert(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    repo: RepositoryRecord<'_>,
    issue: &IssueRecord<'_>,
) -> Result<bool, sqlx::Error> {
    let labels = Value::Array(issue.labels.iter().map(|l| json!(l)).collect());
    let assignees = Value::Array(issue.assignees.iter().map(|u| json!(u)).collect());
    let author = issue.author.as_ref();
    let res = sqlx::query(
        r#"INSERT INTO issues (id, installation_id, repository_id, repository_full_name, number, title,
               state, state_reason, locked, author_id, author_login, html_url, labels, assignees,
               milestone, issue_type, gh_created_at, gh_updated_at, closed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
           ON CONFLICT (id) DO UPDATE SET
               installation_id = EXCLUDED.installation_id,
               repository_id = EXCLUDED.repository_id,
               repository_full_name = EXCLUDED.repository_full_name,
               number = EXCLUDED.number, title = EXCLUDED.title,
               state = COALESCE(NULLIF(EXCLUDED.state, ''), issues.state),
               state_reason = EXCLUDED.state_reason, locked = EXCLUDED.locked,
               author_id = EXCLUDED.author_id, author_login = EXCLUDED.author_login,
               html_url = EXCLUDED.html_url, labels = EXCLUDED.labels,
               assignees = EXCLUDED.assignees, milestone = EXCLUDED.milestone,
               issue_type = EXCLUDED.issue_type,
               gh_created_at = COALESCE(EXCLUDED.gh_created_at, issues.gh_created_at),
               gh_updated_at = EXCLUDED.gh_updated_at, closed_at = EXCLUDED.closed_at,
               updated_at = now()
           WHERE issues.gh_updated_at <= EXCLUDED.gh_updated_at"#,
    )
    .bind(issue.id)
    .bind(installation.0)
    .bind(repo.id)
    .bind(repo.full_name)
    .bind(issue.number)
    .bind(issue.title)
    .bind(issue.state)
    .bind(issue.state_reason)
    .bind(issue.locked)
    .bind(author.map(|u| u.id))
    .bind(author.map(|u| u.login))
    .bind(issue.html_url)
    .bind(labels)
    .bind(assignees)
    .bind(issue.milestone)
    .bind(issue.issue_type)
    .bind(issue.created_at)
    .bind(issue.updated_at)
    .bind(issue.closed_at)
    .execute(db)
    .await?;
    Ok(res.rows_affected() > 0)
}

/// Marks an issue deleted or transferred away. Final whatever order events arrive in.
pub async fn mark_gone(
    db: impl PgExecutor<'_>,
    issue_id: i64,
    deleted_at: Option<DateTime<Utc>>,
    transferred_to: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"UPDATE issues SET deleted_at = COALESCE(deleted_at, $2),
               transferred_to = COALESCE(transferred_to, $3), updated_at = now()
           WHERE id = $1"#,
    )
    .bind(issue_id)
    .bind(deleted_at)
    .bind(transferred_to)
    .execute(db)
    .await?;
    Ok(())
}

/// Pinning carries no timestamp of its own; the latest event we apply wins.
pub async fn set_pinned(
    db: impl PgExecutor<'_>,
    issue_id: i64,
    pinned: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE issues SET pinned = $2, updated_at = now() WHERE id = $1")
        .bind(issue_id)
        .bind(pinned)
        .execute(db)
        .await?;
    Ok(())
}

/// An issue as the database holds it now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IssueRow {
    pub id: i64,
    pub number: i32,
    pub title: String,
    pub state: String,
    pub locked: bool,
    pub pinned: bool,
    pub labels: sqlx::types::Json<Vec<String>>,
    pub assignees: sqlx::types::Json<Vec<String>>,
    pub milestone: Option<String>,
    pub issue_type: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub transferred_to: Option<String>,
}

/// Issue `id`, if known (deleted and transferred ones too).
pub async fn get(db: impl PgExecutor<'_>, id: i64) -> Result<Option<IssueRow>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT id, number, title, state, locked, pinned, labels, assignees, milestone,
               issue_type, deleted_at, transferred_to
           FROM issues WHERE id = $1"#,
    )
    .bind(id)
    .fetch_optional(db)
    .await
}
