//! Teams, their members and their repositories. Deleted teams keep their row (`deleted_at`).

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

/// Adds or removes a person from a team, as of `observed_at`.
pub async fn set_member(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    team_id: i64,
    user: Person<'_>,
    active: bool,
    observed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO team_members (team_id, github_id, installation_id, login, active, observed_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (team_id, github_id) DO UPDATE SET
               login = EXCLUDED.login, active = EXCLUDED.active,
               observed_at = EXCLUDED.observed_at, updated_at = now()
           WHERE team_members.observed_at <= EXCLUDED.observed_at"#,
    )
    .bind(team_id)
    .bind(user.id)
    .bind(installation.0)
    .bind(user.login)
    .bind(active)
    .bind(observed_at)
    .execute(db)
    .await?;
    Ok(())
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
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Team `id`, if known (deleted teams too).
pub async fn get(db: impl PgExecutor<'_>, id: i64) -> Result<Option<TeamRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, slug, name, description, deleted_at FROM teams WHERE id = $1")
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
}

/// Everyone ever recorded in team `id`, by login.
pub async fn members(db: impl PgExecutor<'_>, id: i64) -> Result<Vec<TeamMemberRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT github_id, login, active FROM team_members WHERE team_id = $1 ORDER BY login",
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
