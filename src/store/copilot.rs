//! Copilot seats of an org (who holds one, on which plan, when last active) and whether the last
//! sync could read them at all: without the "GitHub Copilot Business" permission or without a
//! Copilot plan GitHub refuses the list, and the admin page says so instead of showing nothing.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgExecutor;

use crate::ids::InstallationId;

/// Whether the seats could be read (`installations.copilot_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CopilotStatus {
    Available,
    /// 403: the installation lacks the Copilot seat management permission.
    NoPermission,
    /// 404: the org has no Copilot plan.
    NoPlan,
    /// 422 or another refusal GitHub documents for the list.
    Unavailable,
}

impl fmt::Display for CopilotStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CopilotStatus::Available => "available",
            CopilotStatus::NoPermission => "not available: no permission",
            CopilotStatus::NoPlan => "not available: no Copilot plan",
            CopilotStatus::Unavailable => "not available",
        })
    }
}

/// A seat as GitHub lists it.
#[derive(Debug, Clone, Copy)]
pub struct SeatRecord<'a> {
    pub github_id: i64,
    pub login: &'a str,
    pub plan_type: Option<&'a str>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub pending_cancellation_date: Option<NaiveDate>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub last_activity_editor: Option<&'a str>,
    pub assigning_team_id: Option<i64>,
    pub assigning_team_slug: Option<&'a str>,
}

/// Stores a listed seat as of `observed_at` (a seat listed again after it ended is current again).
pub async fn upsert_seat(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    seat: &SeatRecord<'_>,
    observed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO copilot_seats (installation_id, github_id, login, plan_type, assigned_at,
               gh_updated_at, pending_cancellation_date, last_activity_at, last_activity_editor,
               assigning_team_id, assigning_team_slug, observed_at, ended_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL)
           ON CONFLICT (installation_id, github_id) DO UPDATE SET
               login = EXCLUDED.login, plan_type = EXCLUDED.plan_type,
               assigned_at = EXCLUDED.assigned_at, gh_updated_at = EXCLUDED.gh_updated_at,
               pending_cancellation_date = EXCLUDED.pending_cancellation_date,
               last_activity_at = EXCLUDED.last_activity_at,
               last_activity_editor = EXCLUDED.last_activity_editor,
               assigning_team_id = EXCLUDED.assigning_team_id,
               assigning_team_slug = EXCLUDED.assigning_team_slug,
               observed_at = EXCLUDED.observed_at, ended_at = NULL
           WHERE copilot_seats.observed_at <= EXCLUDED.observed_at"#,
    )
    .bind(installation.0)
    .bind(seat.github_id)
    .bind(seat.login)
    .bind(seat.plan_type)
    .bind(seat.assigned_at)
    .bind(seat.updated_at)
    .bind(seat.pending_cancellation_date)
    .bind(seat.last_activity_at)
    .bind(seat.last_activity_editor)
    .bind(seat.assigning_team_id)
    .bind(seat.assigning_team_slug)
    .bind(observed_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Ends the current seats of `installation` not in `listed`, as of `at`. Returns how many.
pub async fn end_unless_listed(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    listed: &[i64],
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        r#"UPDATE copilot_seats SET ended_at = $3, observed_at = $3
           WHERE installation_id = $1 AND ended_at IS NULL AND github_id <> ALL($2)
             AND observed_at <= $3"#,
    )
    .bind(installation.0)
    .bind(listed)
    .bind(at)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Records what the sync at `at` learned about reading the seats (`reason` when refused).
pub async fn set_status(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    status: CopilotStatus,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"UPDATE installations SET copilot_status = $2, copilot_reason = $3, copilot_checked_at = $4
           WHERE id = $1"#,
    )
    .bind(installation.0)
    .bind(status)
    .bind(reason)
    .bind(at)
    .execute(db)
    .await?;
    Ok(())
}

/// A seat as stored, current or ended.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeatRow {
    pub github_id: i64,
    pub login: String,
    pub plan_type: Option<String>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub pending_cancellation_date: Option<NaiveDate>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub last_activity_editor: Option<String>,
    pub assigning_team_id: Option<i64>,
    pub assigning_team_slug: Option<String>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// Every seat `installation` ever had, by login.
pub async fn seats(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
) -> Result<Vec<SeatRow>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT github_id, login, plan_type, assigned_at, pending_cancellation_date,
                  last_activity_at, last_activity_editor, assigning_team_id, assigning_team_slug,
                  ended_at
           FROM copilot_seats WHERE installation_id = $1 ORDER BY login"#,
    )
    .bind(installation.0)
    .fetch_all(db)
    .await
}
