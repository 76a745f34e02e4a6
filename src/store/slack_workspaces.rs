//! Slack per org: which workspace each installation added Mergecast to, whether it is still
//! connected (an uninstall or a revoked token disconnects it, and its surveys wait), and the
//! single-use `state` values of pending "Add to Slack" flows. The bot token is sealed in
//! `sealed_secrets`, never here.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::ids::InstallationId;

/// Whether the workspace's bot token may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkspaceStatus {
    Connected,
    /// Uninstalled from Slack, token revoked, or refused by Slack: surveys wait until the org
    /// adds Mergecast to Slack again.
    Disconnected,
}

impl WorkspaceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceStatus::Connected => "connected",
            WorkspaceStatus::Disconnected => "disconnected",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "connected" => WorkspaceStatus::Connected,
            _ => WorkspaceStatus::Disconnected,
        }
    }
}

/// Why a workspace was disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// Slack's `app_uninstalled` event.
    AppUninstalled,
    /// Slack's `tokens_revoked` event named our bot user.
    TokensRevoked,
    /// Slack refused the token on a call (`invalid_auth`, `token_revoked`, ...).
    TokenRefused,
    /// An admin pressed "Disconnect" on the org's Slack page.
    Admin,
}

impl DisconnectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::AppUninstalled => "app_uninstalled",
            DisconnectReason::TokensRevoked => "tokens_revoked",
            DisconnectReason::TokenRefused => "token_refused",
            DisconnectReason::Admin => "disconnected_by_admin",
        }
    }
}

/// An installation's workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub installation_id: InstallationId,
    pub team_id: String,
    pub team_name: String,
    pub bot_user_id: Option<String>,
    pub scopes: String,
    pub status: WorkspaceStatus,
    pub disconnected_reason: Option<String>,
    pub connected_by: String,
    pub connected_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    installation_id: i64,
    team_id: String,
    team_name: String,
    bot_user_id: Option<String>,
    scopes: String,
    status: String,
    disconnected_reason: Option<String>,
    connected_by: String,
    connected_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Workspace {
    fn from(r: Row) -> Self {
        Self {
            installation_id: InstallationId(r.installation_id),
            team_id: r.team_id,
            team_name: r.team_name,
            bot_user_id: r.bot_user_id,
            scopes: r.scopes,
            status: WorkspaceStatus::parse(&r.status),
            disconnected_reason: r.disconnected_reason,
            connected_by: r.connected_by,
            connected_at: r.connected_at,
            updated_at: r.updated_at,
        }
    }
}

/// Installation `id`'s workspace, connected or not.
pub async fn get(
    db: impl PgExecutor<'_>,
    id: InstallationId,
) -> Result<Option<Workspace>, sqlx::Error> {
    let row: Option<Row> =
        sqlx::query_as("SELECT * FROM slack_workspaces WHERE installation_id = $1")
            .bind(id.0)
            .fetch_optional(db)
            .await?;
    Ok(row.map(Workspace::from))
}

/// What an OAuth exchange returned.
#[derive(Debug, Clone)]
pub struct NewWorkspace<'a> {
    pub team_id: &'a str,
    pub team_name: &'a str,
    pub bot_user_id: Option<&'a str>,
    pub scopes: &'a str,
    pub connected_by: &'a str,
}

/// Records installation `id` as connected to `w` (again, after a disconnect or to another
/// workspace).
pub async fn connect(
    db: impl PgExecutor<'_>,
    id: InstallationId,
    w: &NewWorkspace<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO slack_workspaces
               (installation_id, team_id, team_name, bot_user_id, scopes, status, connected_by)
           VALUES ($1, $2, $3, $4, $5, 'connected', $6)
           ON CONFLICT (installation_id) DO UPDATE SET
               team_id = EXCLUDED.team_id, team_name = EXCLUDED.team_name,
               bot_user_id = EXCLUDED.bot_user_id, scopes = EXCLUDED.scopes,
               status = 'connected', disconnected_reason = NULL,
               connected_by = EXCLUDED.connected_by, connected_at = now(), updated_at = now()"#,
    )
    .bind(id.0)
    .bind(w.team_id)
    .bind(w.team_name)
    .bind(w.bot_user_id)
    .bind(w.scopes)
    .bind(w.connected_by)
    .execute(db)
    .await?;
    Ok(())
}

/// Disconnects installation `id`'s workspace; true if it was connected.
pub async fn disconnect(
    db: impl PgExecutor<'_>,
    id: InstallationId,
    reason: DisconnectReason,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        r#"UPDATE slack_workspaces SET status = 'disconnected', disconnected_reason = $2,
               updated_at = now()
           WHERE installation_id = $1 AND status = 'connected'"#,
    )
    .bind(id.0)
    .bind(reason.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Disconnects every installation connected to workspace `team_id` (one workspace may serve
/// several orgs), or only those whose bot user is in `bot_users` when given; returns them.
pub async fn disconnect_team(
    db: impl PgExecutor<'_>,
    team_id: &str,
    bot_users: Option<&[String]>,
    reason: DisconnectReason,
) -> Result<Vec<InstallationId>, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(
        r#"UPDATE slack_workspaces SET status = 'disconnected', disconnected_reason = $2,
               updated_at = now()
           WHERE team_id = $1 AND status = 'connected'
             AND ($3::text[] IS NULL OR bot_user_id = ANY($3))
           RETURNING installation_id"#,
    )
    .bind(team_id)
    .bind(reason.as_str())
    .bind(bot_users)
    .fetch_all(db)
    .await?;
    Ok(ids.into_iter().map(InstallationId).collect())
}

/// How long an "Add to Slack" may take from the click to Slack's redirect back.
pub const STATE_TTL: chrono::Duration = chrono::Duration::minutes(10);

/// Remembers a pending "Add to Slack" by the hash of its `state`, bound to the admin session
/// that started it.
pub async fn create_state(
    db: impl PgExecutor<'_>,
    state_hash: &str,
    id: InstallationId,
    session_id_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO slack_oauth_states (state_hash, installation_id, session_id_hash, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5)"#,
    )
    .bind(state_hash)
    .bind(id.0)
    .bind(session_id_hash)
    .bind(now)
    .bind(now + STATE_TTL)
    .execute(db)
    .await?;
    Ok(())
}

/// Takes a pending state (single use: it is deleted whatever happens next): the installation
/// it was for, if it exists, is unexpired and belongs to `session_id_hash`. Expired states of
/// anyone are swept on the way.
pub async fn take_state(
    db: impl PgExecutor<'_>,
    state_hash: &str,
    session_id_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<InstallationId>, sqlx::Error> {
    let row: Option<(i64, String, DateTime<Utc>)> = sqlx::query_as(
        r#"WITH swept AS (DELETE FROM slack_oauth_states WHERE expires_at <= $2)
           DELETE FROM slack_oauth_states WHERE state_hash = $1
           RETURNING installation_id, session_id_hash, expires_at"#,
    )
    .bind(state_hash)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(|(id, session, expires)| {
        (session == session_id_hash && expires > now).then_some(InstallationId(id))
    }))
}
