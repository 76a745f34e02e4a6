//! Org members and repository collaborators. Never deleted: leaving marks them inactive with a
//! timestamp. GitHub's membership payloads carry no timestamp, so a fact is ordered by when we
//! observed it (`membership_observed_at`); an older fact never overwrites a newer one.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::records::Person;
use crate::ids::InstallationId;

/// What an event says about a person's org membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipState {
    Active,
    Invited,
    Inactive,
}

impl MembershipState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Invited => "invited",
            Self::Inactive => "inactive",
        }
    }
}

/// Applies a membership fact observed at `observed_at`.
/// An invitation never demotes someone who is already an active member.
pub async fn set_membership(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    user: Person<'_>,
    role: Option<&str>,
    state: MembershipState,
    observed_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        r#"INSERT INTO members (installation_id, github_id, login, name, email, user_type, role,
               state, active, inactive_since, membership_observed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8 = 'active',
                   CASE WHEN $8 = 'inactive' THEN $9 END, $9)
           ON CONFLICT (installation_id, github_id) DO UPDATE SET
               login = EXCLUDED.login,
               name = COALESCE(EXCLUDED.name, members.name),
               email = COALESCE(EXCLUDED.email, members.email),
               user_type = COALESCE(EXCLUDED.user_type, members.user_type),
               role = COALESCE(EXCLUDED.role, members.role),
               state = EXCLUDED.state,
               active = EXCLUDED.active,
               inactive_since = CASE
                   WHEN EXCLUDED.state = 'inactive' THEN COALESCE(members.inactive_since, EXCLUDED.inactive_since)
                   ELSE NULL END,
               membership_observed_at = EXCLUDED.membership_observed_at,
               updated_at = now()
           WHERE members.membership_observed_at <= EXCLUDED.membership_observed_at
             AND NOT (EXCLUDED.state = 'invited' AND members.state = 'active')"#,
    )
    .bind(installation.0)
    .bind(user.id)
    .bind(user.login)
    .bind(user.name)
    .bind(user.email)
    .bind(user.kind)
    .bind(role)
    .bind(state.as_str())
    .bind(observed_at)
    .execute(db)
    .await?;
    Ok(res.rows_affected() > 0)
}

/// Records a repository collaborator change (`member` events).
pub async fn set_collaborator(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    repository_id: i64,
    user: Person<'_>,
    permission: Option<&str>,
    active: bool,
    observed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO repository_collaborators (repository_id, github_id, installation_id, login,
               permission, active, observed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (repository_id, github_id) DO UPDATE SET
               login = EXCLUDED.login,
               permission = COALESCE(EXCLUDED.permission, repository_collaborators.permission),
               active = EXCLUDED.active,
               observed_at = EXCLUDED.observed_at,
               updated_at = now()
           WHERE repository_collaborators.observed_at <= EXCLUDED.observed_at"#,
    )
    .bind(repository_id)
    .bind(user.id)
    .bind(installation.0)
    .bind(user.login)
    .bind(permission)
    .bind(active)
    .bind(observed_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Stores what a member's public profile says (name, public email) and when it was read.
pub async fn record_profile(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    github_id: i64,
    name: Option<&str>,
    email: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"UPDATE members SET name = COALESCE($3, name), email = COALESCE($4, email),
               email_checked_at = now()
           WHERE installation_id = $1 AND github_id = $2"#,
    )
    .bind(installation.0)
    .bind(github_id)
    .bind(name)
    .bind(email)
    .execute(db)
    .await?;
    Ok(())
}

/// Notes that the profiles of `github_ids` were just read (their name and email stored with
/// the membership).
pub async fn profiles_read(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    github_ids: &[i64],
) -> Result<(), sqlx::Error> {
    if github_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE members SET email_checked_at = now() WHERE installation_id = $1 AND github_id = ANY($2)",
    )
    .bind(installation.0)
    .bind(github_ids)
    .execute(db)
    .await?;
    Ok(())
}

/// Active members with no email whose profile was never read, or not for `recheck_after`:
/// (github id, login), never-read first, at most `limit`.
pub async fn without_email(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    recheck_after: chrono::Duration,
    limit: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT github_id, login FROM members
           WHERE installation_id = $1 AND active AND email IS NULL
             AND (email_checked_at IS NULL OR email_checked_at < now() - $2::interval)
           ORDER BY email_checked_at NULLS FIRST, github_id LIMIT $3"#,
    )
    .bind(installation.0)
    .bind(format!("{} seconds", recheck_after.num_seconds()))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Members known to us for an installation: github id -> (login, active).
pub async fn known(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
) -> Result<std::collections::HashMap<i64, (String, bool)>, sqlx::Error> {
    let rows: Vec<(i64, String, bool)> =
        sqlx::query_as("SELECT github_id, login, active FROM members WHERE installation_id = $1")
            .bind(installation.0)
            .fetch_all(db)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, login, active)| (id, (login, active)))
        .collect())
}

/// Marks `gone` members inactive, unless a membership fact newer than `observed_at` was
/// recorded since. Returns how many changed.
pub async fn deactivate_missing(
    db: impl PgExecutor<'_>,
    installation: InstallationId,
    gone: &[i64],
    observed_at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let res = sqlx::query(
        r#"UPDATE members SET active = false, state = 'inactive',
               inactive_since = COALESCE(inactive_since, $3), membership_observed_at = $3, updated_at = now()
           WHERE installation_id = $1 AND github_id = ANY($2) AND active AND membership_observed_at < $3"#,
    )
    .bind(installation.0)
    .bind(gone)
    .bind(observed_at)
    .execute(db)
    .await?;
    Ok(res.rows_affected())
}

/// What asking a member in Slack needs: whether we may, and how to reach them when.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlackProfile {
    pub active: bool,
    pub opted_out: bool,
    pub email: Option<String>,
    pub slack_user_id: Option<String>,
    pub slack_tz: Option<String>,
    pub slack_tz_offset: Option<i32>,
    pub slack_tz_checked_at: Option<DateTime<Utc>>,
}

pub async fn slack_profile(
    db: impl PgExecutor<'_>,
    installation: i64,
    github_id: i64,
) -> Result<Option<SlackProfile>, sqlx::Error> {
    sqlx::query_as(
        "SELECT active, opted_out, email, slack_user_id, slack_tz, slack_tz_offset, slack_tz_checked_at FROM members WHERE installation_id = $1 AND github_id = $2",
    )
    .bind(installation)
    .bind(github_id)
    .fetch_optional(db)
    .await
}

/// Records the Slack user found by the member's email, with their time zone as read now.
pub async fn map_slack_by_email(
    db: impl PgExecutor<'_>,
    installation: i64,
    github_id: i64,
    slack_user_id: &str,
    tz: Option<&str>,
    tz_offset: Option<i32>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"UPDATE members SET slack_user_id = $3, slack_mapping_source = 'email', slack_unmapped_reason = NULL,
               slack_tz = $4, slack_tz_offset = $5, slack_tz_checked_at = now()
           WHERE installation_id = $1 AND github_id = $2"#,
    )
    .bind(installation)
    .bind(github_id)
    .bind(slack_user_id)
    .bind(tz)
    .bind(tz_offset)
    .execute(db)
    .await?;
    Ok(())
}

/// Records the member's Slack time zone as read now.
pub async fn set_slack_zone(
    db: impl PgExecutor<'_>,
    installation: i64,
    github_id: i64,
    tz: Option<&str>,
    tz_offset: Option<i32>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE members SET slack_tz = $3, slack_tz_offset = $4, slack_tz_checked_at = now() WHERE installation_id = $1 AND github_id = $2",
    )
    .bind(installation)
    .bind(github_id)
    .bind(tz)
    .bind(tz_offset)
    .execute(db)
    .await?;
    Ok(())
}

/// Records why the member could not be mapped to a Slack user (shown on the admin page).
pub async fn set_unmapped_reason(
    db: impl PgExecutor<'_>,
    installation: i64,
    github_id: i64,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE members SET slack_unmapped_reason = $3 WHERE installation_id = $1 AND github_id = $2",
    )
    .bind(installation)
    .bind(github_id)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
}
