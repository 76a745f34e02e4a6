//! Pull requests and their reviews.
//!
//! Both writers of a `pull_requests` row (a `pull_request` event's upsert, and a review's
//! insert-if-absent of its embedded PR) first take a transaction-scoped advisory lock keyed by
//! the pull request id. Without it, two first inserts of one PR at the same moment can collide
//! on the `(repository_id, number)` key, which `ON CONFLICT (id)` does not arbitrate, and one
//! delivery fails an attempt (`tests/reliability.rs`,
//! `a_review_and_a_merge_applied_at_once_need_no_retry`). The lock is held to the end of the
//! caller's transaction (or of the statement, outside one) and is the only advisory lock keyed
//! by a bare pull request id.

use serde_json::{Value, json};
use sqlx::PgExecutor;

use super::records::{PullRecord, RepositoryRecord, ReviewRecord};
use crate::ids::InstallationId;

/// A JSON array of strings, as the `labels`, `assignees` and requested-reviewer columns hold.
fn strings(names: &[&str]) -> Value {
    Value::Array(names.iter().map(|n| json!(n)).collect())
}

/// Upserts a pull request; a payload whose `updated_at` is older than the stored one changes nothing.
/// Returns whether the row was written.
pub async fn upsert(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    repo: RepositoryRecord<'_>,
    pr: &PullRecord<'_>,
) -> Result<bool, sqlx::Error> {
    let author = pr.author.as_ref();
    let res = sqlx::query(
        r#"INSERT INTO pull_requests (id, installation_id, repository_id, repository_full_name, number,
               title, state, draft, locked, author_id, author_login, author_type, html_url,
               head_ref, head_sha, base_ref, merged, merged_at, merged_by_login, merge_commit_sha,
               labels, assignees, requested_reviewers, requested_teams, milestone, auto_merge,
               additions, deletions, changed_files, gh_created_at, gh_updated_at, closed_at)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                  $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32
           FROM (SELECT pg_advisory_xact_lock($1)) AS one_writer_per_pull_request
           ON CONFLICT (id) DO UPDATE SET
               installation_id = EXCLUDED.installation_id,
               repository_id = EXCLUDED.repository_id,
               repository_full_name = EXCLUDED.repository_full_name,
               number = EXCLUDED.number,
               title = EXCLUDED.title, state = EXCLUDED.state, draft = EXCLUDED.draft,
               locked = EXCLUDED.locked, author_id = EXCLUDED.author_id,
               author_login = EXCLUDED.author_login, author_type = EXCLUDED.author_type,
               html_url = EXCLUDED.html_url, head_ref = EXCLUDED.head_ref,
               head_sha = EXCLUDED.head_sha, base_ref = EXCLUDED.base_ref,
               merged = pull_requests.merged OR EXCLUDED.merged,
               merged_at = COALESCE(EXCLUDED.merged_at, pull_requests.merged_at),
               merged_by_login = COALESCE(EXCLUDED.merged_by_login, pull_requests.merged_by_login),
               merge_commit_sha = COALESCE(EXCLUDED.merge_commit_sha, pull_requests.merge_commit_sha),
               labels = EXCLUDED.labels, assignees = EXCLUDED.assignees,
               requested_reviewers = EXCLUDED.requested_reviewers,
               requested_teams = EXCLUDED.requested_teams, milestone = EXCLUDED.milestone,
               auto_merge = EXCLUDED.auto_merge,
               additions = COALESCE(EXCLUDED.additions, pull_requests.additions),
               deletions = COALESCE(EXCLUDED.deletions, pull_requests.deletions),
               changed_files = COALESCE(EXCLUDED.changed_files, pull_requests.changed_files),
               gh_created_at = COALESCE(EXCLUDED.gh_created_at, pull_requests.gh_created_at),
               gh_updated_at = EXCLUDED.gh_updated_at, closed_at = EXCLUDED.closed_at,
               updated_at = now()
           WHERE pull_requests.gh_updated_at <= EXCLUDED.gh_updated_at"#,
    )
    .bind(pr.id)
    .bind(installation.0)
    .bind(repo.id)
    .bind(repo.full_name)
    .bind(pr.number)
    .bind(pr.title)
    .bind(pr.state)
    .bind(pr.draft)
    .bind(pr.locked)
    .bind(author.map(|u| u.id))
    .bind(author.map(|u| u.login))
    .bind(author.and_then(|u| u.kind))
    .bind(pr.html_url)
    .bind(pr.head_ref)
    .bind(pr.head_sha)
    .bind(pr.base_ref)
    .bind(pr.merged)
    .bind(pr.merged_at)
    .bind(pr.merged_by_login)
    .bind(pr.merge_commit_sha)
    .bind(strings(&pr.labels))
    .bind(strings(&pr.assignees))
    .bind(strings(&pr.requested_reviewers))
    .bind(strings(&pr.requested_teams))
    .bind(pr.milestone)
    .bind(pr.auto_merge)
    .bind(pr.additions)
    .bind(pr.deletions)
    .bind(pr.changed_files)
    .bind(pr.created_at)
    .bind(pr.updated_at)
    .bind(pr.closed_at)
    .execute(db)
    .await?;
    Ok(res.rows_affected() > 0)
}

/// Inserts the pull request only if we have never seen it (a review's embedded PR is a partial
/// object, so it must not overwrite what a `pull_request` event stored).
pub async fn insert_if_absent(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    repo: RepositoryRecord<'_>,
    pr: &PullRecord<'_>,
) -> Result<(), sqlx::Error> {
    let author = pr.author.as_ref();
    sqlx::query(
        r#"INSERT INTO pull_requests (id, installation_id, repository_id, repository_full_name, number,
               title, state, draft, author_id, author_login, author_type, html_url, head_ref, head_sha,
               base_ref, merged, merged_at, gh_created_at, gh_updated_at)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19
           FROM (SELECT pg_advisory_xact_lock($1)) AS one_writer_per_pull_request
           ON CONFLICT (id) DO NOTHING"#,
    )
    .bind(pr.id)
    .bind(installation.0)
    .bind(repo.id)
    .bind(repo.full_name)
    .bind(pr.number)
    .bind(pr.title)
    .bind(pr.state)
    .bind(pr.draft)
    .bind(author.map(|u| u.id))
    .bind(author.map(|u| u.login))
    .bind(author.and_then(|u| u.kind))
    .bind(pr.html_url)
    .bind(pr.head_ref)
    .bind(pr.head_sha)
    .bind(pr.base_ref)
    .bind(pr.merged)
    .bind(pr.merged_at)
    .bind(pr.created_at)
    .bind(pr.updated_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Upserts a review. A dismissal is final: a late `submitted`/`edited` only updates the body.
pub async fn upsert_review(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    pull_request_id: i64,
    review: &ReviewRecord<'_>,
    dismissed_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), sqlx::Error> {
    let user = review.reviewer.as_ref();
    sqlx::query(
        r#"INSERT INTO reviews (id, pull_request_id, installation_id, reviewer_id, reviewer_login,
               reviewer_type, state, body, commit_id, html_url, submitted_at, dismissed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (id) DO UPDATE SET
               state = CASE WHEN reviews.state = 'dismissed' THEN 'dismissed' ELSE EXCLUDED.state END,
               body = EXCLUDED.body,
               commit_id = COALESCE(EXCLUDED.commit_id, reviews.commit_id),
               submitted_at = COALESCE(reviews.submitted_at, EXCLUDED.submitted_at),
               dismissed_at = COALESCE(reviews.dismissed_at, EXCLUDED.dismissed_at),
               updated_at = now()"#,
    )
    .bind(review.id)
    .bind(pull_request_id)
    .bind(installation.0)
    .bind(user.map(|u| u.id))
    .bind(user.map(|u| u.login))
    .bind(user.and_then(|u| u.kind))
    .bind(&review.state)
    .bind(review.body)
    .bind(review.commit_id)
    .bind(review.html_url)
    .bind(review.submitted_at)
    .bind(dismissed_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Whether any review of the pull request is stored.
pub async fn has_reviews(
    db: impl PgExecutor<'_>,
    pull_request_id: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM reviews WHERE pull_request_id = $1)")
        .bind(pull_request_id)
        .fetch_one(db)
        .await
}

/// What a survey needs of a merged pull request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MergedPull {
    pub repository_full_name: String,
    pub title: String,
    pub html_url: Option<String>,
    pub author_id: Option<i64>,
    pub author_login: Option<String>,
    pub author_type: Option<String>,
    /// Label names, as stored (a JSON array of strings).
    pub labels: Value,
    pub merged_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn merged_pull(
    db: impl PgExecutor<'_>,
    pull_request_id: i64,
) -> Result<Option<MergedPull>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT repository_full_name, title, html_url, author_id, author_login, author_type, labels, merged_at
           FROM pull_requests WHERE id = $1"#,
    )
    .bind(pull_request_id)
    .fetch_optional(db)
    .await
}

/// A pull request as the database holds it now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PullRow {
    pub id: i64,
    pub installation_id: i64,
    pub number: i32,
    pub title: String,
    pub state: String,
    pub draft: bool,
    pub locked: bool,
    pub merged: bool,
    pub merged_at: Option<chrono::DateTime<chrono::Utc>>,
    pub head_sha: Option<String>,
    pub labels: sqlx::types::Json<Vec<String>>,
    pub assignees: sqlx::types::Json<Vec<String>>,
    pub milestone: Option<String>,
    pub auto_merge: bool,
}

/// Pull request `id`, if known.
pub async fn get(db: impl PgExecutor<'_>, id: i64) -> Result<Option<PullRow>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT id, installation_id, number, title, state, draft, locked, merged, merged_at,
               head_sha, labels, assignees, milestone, auto_merge
           FROM pull_requests WHERE id = $1"#,
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// A review as the database holds it now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReviewRow {
    pub id: i64,
    pub pull_request_id: i64,
    pub reviewer_id: Option<i64>,
    pub reviewer_login: Option<String>,
    /// Lower case: `approved`, `changes_requested`, `commented`, `dismissed`.
    pub state: String,
    pub body: Option<String>,
    pub dismissed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Review `id`, if known.
pub async fn review(db: impl PgExecutor<'_>, id: i64) -> Result<Option<ReviewRow>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT id, pull_request_id, reviewer_id, reviewer_login, state, body, dismissed_at
           FROM reviews WHERE id = $1"#,
    )
    .bind(id)
    .fetch_optional(db)
    .await
}
