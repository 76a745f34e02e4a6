//! Teams, their members (with role, joined and left) and their repositories. Deleted teams keep
//! their row (`deleted_at`); former members keep theirs (`active = false`, `left_at`).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::records::{Person, TeamRecord};
use crate::ids::InstallationId;

/// Upserts a team as of `observed_at`; `deleted` marks it gone (and is never undone by an older event).
pub async fn upsert(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    team: TeamRecord<'_>,
    deleted: bool,
    observed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO teams (id, installation_id, slug, name, description, privacy, permission,
               parent_id, deleted_at, observed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9 THEN $10 END, $10)
           ON CONFLICT (id) DO UPDATE SET
               slug = EXCLUDED.slug,
               name = EXCLUDED.name,
               description = EXCLUDED.description,
               privacy = EXCLUDED.privacy,
               permission = EXCLUDED.permission,
               parent_id = EXCLUDED.parent_id,
               deleted_at = COALESCE(teams.deleted_at, EXCLUDED.deleted_at),
               observed_at = EXCLUDED.observed_at,
               updated_at = now()
           WHERE teams.observed_at <= EXCLUDED.observed_at"#,
    )
    .bind(team.id)
    .bind(installation.0)
    .bind(team.slug)
    .bind(team.name)
    .bind(team.description)
    .bind(team.privacy)
    .bind(team.permission)
    .bind(team.parent_id)
    .bind(deleted)
    .bind(observed_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Makes sure a team row exists (membership events can precede the team's own events).
pub async fn ensure(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    team: TeamRecord<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO teams (id, installation_id, slug, name) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO NOTHING"#,
    )
    .bind(team.id)
    .bind(installation.0)
    .bind(team.slug)
    .bind(team.name)
    .execute(db)
    .await?;
    Ok(())
}

/// Someone's role in a team (`GET /orgs/{org}/teams/{team_slug}/members?role=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TeamRole {
    Member,
    Maintainer,
}

/// Adds or removes a person from a team, as of `observed_at`. `role` is kept when `None` (the
/// `membership` webhook carries none). Joining sets `joined_at`; leaving sets `left_at` and keeps
/// the row.
pub async fn set_member(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    team_id: i64,
    user: Person<'_>,
    active: bool,
    role: Option<TeamRole>,
    observed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO team_members (team_id, github_id, installation_id, login, active, role,
               joined_at, left_at, observed_at)
           VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $5 THEN $7 END, CASE WHEN NOT $5 THEN $7 END, $7)
           ON CONFLICT (team_id, github_id) DO UPDATE SET
               login = EXCLUDED.login, active = EXCLUDED.active,
               role = COALESCE(EXCLUDED.role, team_members.role),
               joined_at = CASE WHEN EXCLUDED.active AND NOT team_members.active
                                THEN EXCLUDED.observed_at ELSE team_members.joined_at END,
               left_at = CASE WHEN EXCLUDED.active THEN NULL
                              WHEN team_members.active THEN EXCLUDED.observed_at
                              ELSE team_members.left_at END,
               observed_at = EXCLUDED.observed_at, updated_at = now()
           WHERE team_members.observed_at <= EXCLUDED.observed_at"#,
    )
    .bind(team_id)
    .bind(user.id)
    .bind(installation.0)
    .bind(user.login)
    .bind(active)
    .bind(role)
    .bind(observed_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Ends the memberships of `github_ids` in team `team_id` as of `at` (rows kept, `left_at` set),
/// unless something newer was observed about them. Returns how many ended.
pub async fn end_members(
    db: impl PgExecutor<'_>,
    team_id: i64,
    github_ids: &[i64],
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        r#"UPDATE team_members SET active = false, left_at = $3, observed_at = $3, updated_at = now()
           WHERE team_id = $1 AND github_id = ANY($2) AND active AND observed_at <= $3"#,
    )
    .bind(team_id)
    .bind(github_ids)
    .bind(at)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// A membership as the sync compares it with GitHub's lists.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KnownMember {
    pub team_id: i64,
    pub github_id: i64,
    pub login: String,
    pub active: bool,
    pub role: Option<TeamRole>,
}

/// Every membership ever recorded in `installation`'s teams.
pub async fn known_members(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
) -> Result<Vec<KnownMember>, sqlx::Error> {
    sqlx::query_as(
        "SELECT team_id, github_id, login, active, role FROM team_members WHERE installation_id = $1",
    )
    .bind(installation.0)
    .fetch_all(db)
    .await
}

/// `installation`'s teams not deleted: (id, slug).
pub async fn current(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, slug FROM teams WHERE installation_id = $1 AND deleted_at IS NULL ORDER BY id",
    )
    .bind(installation.0)
    .fetch_all(db)
    .await
}

/// Marks `installation`'s teams not in `listed` deleted as of `at` (unless observed later, e.g.
/// created by a webhook during the sync), ending their memberships. Returns how many.
pub async fn mark_deleted_unless_listed(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    listed: &[i64],
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let deleted: i64 = sqlx::query_scalar(
        r#"WITH gone AS (
               UPDATE teams SET deleted_at = $3, observed_at = $3, updated_at = now()
               WHERE installation_id = $1 AND deleted_at IS NULL AND id <> ALL($2)
                 AND observed_at <= $3
               RETURNING id),
           ended AS (
               UPDATE team_members SET active = false, left_at = $3, observed_at = $3,
                   updated_at = now()
               WHERE team_id IN (SELECT id FROM gone) AND active AND observed_at <= $3
               RETURNING 1)
           SELECT count(*) FROM gone"#,
    )
    .bind(installation.0)
    .bind(listed)
    .bind(at)
    .fetch_one(db)
    .await?;
    Ok(deleted as u64)
}

/// Grants or withdraws a team's access to a repository, as of `observed_at`.
pub async fn set_repository(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    team_id: i64,
    repository_id: i64,
    permission: Option<&str>,
    active: bool,
    observed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO team_repositories (team_id, repository_id, installation_id, permission, active, observed_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (team_id, repository_id) DO UPDATE SET
               permission = COALESCE(EXCLUDED.permission, team_repositories.permission),
               active = EXCLUDED.active, observed_at = EXCLUDED.observed_at, updated_at = now()
           WHERE team_repositories.observed_at <= EXCLUDED.observed_at"#,
    )
    .bind(team_id)
    .bind(repository_id)
    .bind(installation.0)
    .bind(permission)
    .bind(active)
    .bind(observed_at)
    .execute(db)
    .await?;
    Ok(())
}

/// A team as the database holds it now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TeamRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub parent_id: Option<i64>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Team `id`, if known (deleted teams too).
pub async fn get(db: impl PgExecutor<'_>, id: i64) -> Result<Option<TeamRow>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT id, slug, name, description, parent_id, deleted_at FROM teams WHERE id = $1"#,
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Someone's place in a team, present or past.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TeamMemberRow {
    pub github_id: i64,
    pub login: String,
    pub active: bool,
    pub role: Option<TeamRole>,
    pub joined_at: Option<DateTime<Utc>>,
    pub left_at: Option<DateTime<Utc>>,
}

/// Everyone ever recorded in team `id`, by login.
pub async fn members(db: impl PgExecutor<'_>, id: i64) -> Result<Vec<TeamMemberRow>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT github_id, login, active, role, joined_at, left_at FROM team_members
           WHERE team_id = $1 ORDER BY login"#,
    )
    .bind(id)
    .fetch_all(db)
    .await
}

/// A team's access to a repository, present or past.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TeamRepositoryRow {
    pub repository_id: i64,
    pub permission: Option<String>,
    pub active: bool,
}

/// Every repository team `id` was ever given, by id.
pub async fn repositories(
    db: impl PgExecutor<'_>,
    id: i64,
) -> Result<Vec<TeamRepositoryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT repository_id, permission, active FROM team_repositories WHERE team_id = $1 ORDER BY repository_id",
    )
    .bind(id)
    .fetch_all(db)
    .await
}
