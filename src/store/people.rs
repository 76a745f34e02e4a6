//! The people × teams export: one row per active member and team they are actively on, with
//! their Copilot seat, read as a stream (`fetch`) so an org of any size is exported without
//! holding the table in memory. The row shape is the export's column list (see the README).

use chrono::{DateTime, NaiveDate, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor};

/// The export's columns, in order (the CSV header and the JSON keys).
pub const COLUMNS: [&str; 20] = [
    "installation_id",
    "org",
    "member_id",
    "login",
    "name",
    "email",
    "member_role",
    "member_active",
    "team_id",
    "team_slug",
    "team_name",
    "parent_team_slug",
    "team_role",
    "team_joined_at",
    "copilot_plan_type",
    "copilot_assigned_at",
    "copilot_last_activity_at",
    "copilot_last_activity_editor",
    "copilot_pending_cancellation_date",
    "copilot_assigning_team",
];

/// One (member, team) pair. A member on no team has one row with the team fields empty; a
/// member without a current seat (none, or `ended_at` set) has the Copilot fields empty.
/// Field order is [`COLUMNS`] (the CSV writer serializes fields in declaration order).
#[derive(Debug, Clone, PartialEq, FromRow, Serialize, Deserialize)]
pub struct PersonTeamRow {
    pub installation_id: i64,
    pub org: String,
    pub member_id: i64,
    pub login: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub member_role: Option<String>,
    pub member_active: bool,
    pub team_id: Option<i64>,
    pub team_slug: Option<String>,
    pub team_name: Option<String>,
    pub parent_team_slug: Option<String>,
    pub team_role: Option<String>,
    pub team_joined_at: Option<DateTime<Utc>>,
    pub copilot_plan_type: Option<String>,
    pub copilot_assigned_at: Option<DateTime<Utc>>,
    pub copilot_last_activity_at: Option<DateTime<Utc>>,
    pub copilot_last_activity_editor: Option<String>,
    pub copilot_pending_cancellation_date: Option<NaiveDate>,
    pub copilot_assigning_team: Option<String>,
}

/// The rows of `installation`, ordered by login then team slug, as they come from Postgres.
/// Active members only (`members.active`), current memberships only (`active`, no `left_at`) of
/// teams not deleted, current seats only (`ended_at IS NULL`).
pub fn people_teams<'e>(
    db: impl PgExecutor<'e> + 'e,
    installation: i64,
) -> BoxStream<'e, Result<PersonTeamRow, sqlx::Error>> {
    sqlx::query_as(
        r#"SELECT m.installation_id, i.account_login AS org, m.github_id AS member_id, m.login,
                  m.name, m.email, m.role AS member_role, m.active AS member_active,
                  t.id AS team_id, t.slug AS team_slug, t.name AS team_name,
                  p.slug AS parent_team_slug, tm.role AS team_role, tm.joined_at AS team_joined_at,
                  s.plan_type AS copilot_plan_type, s.assigned_at AS copilot_assigned_at,
                  s.last_activity_at AS copilot_last_activity_at,
                  s.last_activity_editor AS copilot_last_activity_editor,
                  s.pending_cancellation_date AS copilot_pending_cancellation_date,
                  s.assigning_team_slug AS copilot_assigning_team
           FROM members m
           JOIN installations i ON i.id = m.installation_id
           LEFT JOIN (team_members tm JOIN teams t ON t.id = tm.team_id AND t.deleted_at IS NULL)
                  ON tm.installation_id = m.installation_id AND tm.github_id = m.github_id
                 AND tm.active AND tm.left_at IS NULL
           LEFT JOIN teams p ON p.id = t.parent_id
           LEFT JOIN copilot_seats s ON s.installation_id = m.installation_id
                 AND s.github_id = m.github_id AND s.ended_at IS NULL
           WHERE m.installation_id = $1 AND m.active
           ORDER BY lower(m.login), m.github_id, t.slug NULLS FIRST"#,
    )
    .bind(installation)
    .fetch(db)
}
