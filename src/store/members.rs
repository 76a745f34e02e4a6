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

// Admin page reads

/// A member as the admin page lists them.
#[derive(Debug, sqlx::FromRow)]
pub struct AdminMemberRow {
    pub installation_id: i64,
    pub account_login: String,
    pub github_id: i64,
    pub login: String,
    pub name: Option<String>,
    pub active: bool,
    pub slack_user_id: Option<String>,
    pub slack_mapping_source: Option<String>,
    pub slack_unmapped_reason: Option<String>,
    pub opted_out: bool,
}

/// What the admin member list is filtered by.
#[derive(Debug, Default, Clone, Copy)]
pub struct AdminMemberFilter<'a> {
    /// One installation (already checked to be in scope).
    pub installation: Option<i64>,
    /// Matches login or name (a substring, `%` and `_` taken literally).
    pub search: Option<&'a str>,
    /// Only those without a Slack user.
    pub unmapped: bool,
}

/// Members of the installations in `scope` (all when `None`) matching `f`, by login; `limit`
/// rows from `offset`.
pub async fn admin_list(
    db: impl PgExecutor<'_>,
    scope: Option<&[i64]>,
    f: AdminMemberFilter<'_>,
    limit: i64,
    offset: i64,
) -> Result<Vec<AdminMemberRow>, sqlx::Error> {
    let pattern = f.search.map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    sqlx::query_as(
        r#"SELECT m.installation_id, i.account_login, m.github_id, m.login, m.name, m.active,
                  m.slack_user_id, m.slack_mapping_source, m.slack_unmapped_reason, m.opted_out
           FROM members m JOIN installations i ON i.id = m.installation_id
           WHERE ($1::bigint[] IS NULL OR m.installation_id = ANY($1))
             AND ($2::bigint IS NULL OR m.installation_id = $2)
             AND ($3::text IS NULL OR m.login ILIKE $3 OR m.name ILIKE $3)
             AND (NOT $4 OR m.slack_user_id IS NULL)
           ORDER BY lower(m.login), m.installation_id LIMIT $5 OFFSET $6"#,
    )
    .bind(scope)
    .bind(f.installation)
    .bind(pattern)
    .bind(f.unmapped)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

/// An admin (de)activating a member by hand; false if there is no such member.
pub async fn admin_toggle_active(
    db: impl PgExecutor<'_>,
    installation_id: i64,
    github_id: i64,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "UPDATE members SET active = NOT active,
            state = CASE WHEN active THEN 'inactive' ELSE 'active' END,
            inactive_since = CASE WHEN active THEN now() ELSE NULL END, updated_at = now()
         WHERE installation_id = $1 AND github_id = $2",
    )
    .bind(installation_id)
    .bind(github_id)
    .execute(db)
    .await?;
    Ok(res.rows_affected() > 0)
}

/// An admin opting a member out, or asking them back (which wins, in this org, over their own
/// earlier "Don't ask me again"); false if there is no such member.
pub async fn admin_toggle_opt_out(
    db: impl PgExecutor<'_>,
    installation_id: i64,
    github_id: i64,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "UPDATE members SET opted_out = NOT opted_out,
            opted_out_at = CASE WHEN opted_out THEN NULL ELSE now() END,
            opted_in_by_admin_at = CASE WHEN opted_out THEN now() ELSE NULL END, updated_at = now()
         WHERE installation_id = $1 AND github_id = $2",
    )
    .bind(installation_id)
    .bind(github_id)
    .execute(db)
    .await?;
    Ok(res.rows_affected() > 0)
}

/// An admin's Slack mapping for a member (`None` clears it, noting why); false if there is no
/// such member.
pub async fn admin_map_slack(
    db: impl PgExecutor<'_>,
    installation_id: i64,
    github_id: i64,
    slack_user_id: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "UPDATE members SET slack_user_id = $3,
            slack_mapping_source = CASE WHEN $3::text IS NULL THEN NULL ELSE 'manual' END,
            slack_unmapped_reason = CASE WHEN $3::text IS NULL THEN 'cleared by an admin' ELSE NULL END,
            updated_at = now()
         WHERE installation_id = $1 AND github_id = $2",
    )
    .bind(installation_id)
    .bind(github_id)
    .bind(slack_user_id)
    .execute(db)
    .await?;
    Ok(res.rows_affected() > 0)
}

/// An org member as the database holds them now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Member {
    pub installation_id: i64,
    pub github_id: i64,
    pub login: String,
    pub email: Option<String>,
    pub role: Option<String>,
    /// `active`, `invited` or `inactive`.
    pub state: String,
    pub active: bool,
    pub inactive_since: Option<DateTime<Utc>>,
    pub slack_user_id: Option<String>,
    pub slack_unmapped_reason: Option<String>,
    pub opted_out: bool,
}

const MEMBER_COLUMNS: &str = "installation_id, github_id, login, email, role, state, active, inactive_since, slack_user_id, slack_unmapped_reason, opted_out";

/// Member `github_id` of `installation`, if known.
pub async fn get(
    db: impl PgExecutor<'_>,
    installation: i64,
    github_id: i64,
) -> Result<Option<Member>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE installation_id = $1 AND github_id = $2"
    ))
    .bind(installation)
    .bind(github_id)
    .fetch_optional(db)
    .await
}

/// Every member row of `installation` (active, invited and gone), by login.
pub async fn all(db: impl PgExecutor<'_>, installation: i64) -> Result<Vec<Member>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE installation_id = $1 ORDER BY login"
    ))
    .bind(installation)
    .fetch_all(db)
    .await
}

/// A repository collaborator as the database holds them now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Collaborator {
    pub repository_id: i64,
    pub github_id: i64,
    pub login: String,
    pub permission: Option<String>,
    pub active: bool,
}

/// The collaborators of `repository_id` ever recorded, active or not, by login.
pub async fn collaborators(
    db: impl PgExecutor<'_>,
    repository_id: i64,
) -> Result<Vec<Collaborator>, sqlx::Error> {
    sqlx::query_as(
        "SELECT repository_id, github_id, login, permission, active FROM repository_collaborators WHERE repository_id = $1 ORDER BY login",
    )
    .bind(repository_id)
    .fetch_all(db)
    .await
}

/// Maps member `github_id` to Slack user `slack_user_id` by hand, as an org admin does on the
/// members page when the email does not tell.
pub async fn map_to_slack(
    db: impl PgExecutor<'_>,
    installation: i64,
    github_id: i64,
    slack_user_id: &str,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        r#"UPDATE members SET slack_user_id = $3, slack_mapping_source = 'manual',
               slack_unmapped_reason = NULL, updated_at = now()
           WHERE installation_id = $1 AND github_id = $2"#,
    )
    .bind(installation)
    .bind(github_id)
    .bind(slack_user_id)
    .execute(db)
    .await?;
    Ok(res.rows_affected() > 0)
}
