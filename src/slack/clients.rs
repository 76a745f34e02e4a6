//! Slack per org: which workspace speaks for an installation. An installation that added
//! Mergecast to its Slack ("Add to Slack") is surveyed through that workspace's bot token
//! (sealed in Postgres); one that has not falls back to `SLACK_BOT_TOKEN`, the deployment's
//! default workspace, when set. A workspace that was uninstalled or whose token was revoked is
//! disconnected: its installation gets no client at all (its surveys wait; they never go out
//! through another org's workspace).
//!
//! Tokens are read from Postgres on each lookup (one indexed row and one AEAD open), so a new
//! connection, a disconnect or a rotated key is seen at once by every process, with no cache to
//! invalidate.

use std::sync::Arc;

use sqlx::PgPool;
use thiserror::Error;
use tokio::sync::OnceCell;

use super::client::{SlackClient, SlackHttp};
use crate::config::seal::Keyring;
use crate::ids::InstallationId;
use crate::store::secrets::{self, SecretError, SecretName, SecretOwner};
use crate::store::slack_workspaces::{self, WorkspaceStatus};

/// Why no client could be made.
#[derive(Debug, Error)]
pub enum ClientsError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored token that does not open (wrong or missing encryption key).
    #[error("{0}")]
    Secret(SecretError),
}

impl From<SecretError> for ClientsError {
    fn from(e: SecretError) -> Self {
        match e {
            SecretError::Database(db) => ClientsError::Database(db),
            other => ClientsError::Secret(other),
        }
    }
}

/// Where an installation's Slack stands.
#[derive(Debug, Clone)]
pub enum Connection {
    /// Its own workspace, added through "Add to Slack".
    Workspace(SlackClient),
    /// The default workspace (`SLACK_BOT_TOKEN`).
    Default(SlackClient),
    /// Its workspace was disconnected (uninstalled, token revoked): surveys wait.
    Disconnected,
    /// No workspace of its own and no default one.
    None,
}

impl Connection {
    /// The client to speak through, if any.
    pub fn client(self) -> Option<SlackClient> {
        match self {
            Connection::Workspace(c) | Connection::Default(c) => Some(c),
            Connection::Disconnected | Connection::None => None,
        }
    }
}

/// Every workspace's client, made on demand from the shared HTTP client.
#[derive(Clone)]
pub struct SlackClients {
    http: SlackHttp,
    default: Option<SlackClient>,
    pool: PgPool,
    keyring: Option<Keyring>,
}

impl std::fmt::Debug for SlackClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClients")
            .field("http", &self.http)
            .field("default_workspace", &self.default.is_some())
            .finish_non_exhaustive()
    }
}

impl SlackClients {
    /// `default_token` is `SLACK_BOT_TOKEN`; `keyring` opens the workspaces' sealed tokens.
    pub fn new(
        api_url: &str,
        default_token: Option<&str>,
        pool: PgPool,
        keyring: Option<Keyring>,
    ) -> Self {
        let http = SlackHttp::new(api_url);
        let default = default_token.map(|t| http.client(t, Arc::new(OnceCell::new())));
        Self {
            http,
            default,
            pool,
            keyring,
        }
    }

    /// The shared HTTP side (the OAuth code exchange).
    pub fn http(&self) -> &SlackHttp {
        &self.http
    }

    /// Whether a default workspace (`SLACK_BOT_TOKEN`) is configured.
    pub fn has_default(&self) -> bool {
        self.default.is_some()
    }

    /// Where installation `id`'s Slack stands, with the client to speak through.
    pub async fn connection(&self, id: InstallationId) -> Result<Connection, ClientsError> {
        let Some(workspace) = slack_workspaces::get(&self.pool, id).await? else {
            return Ok(match &self.default {
                Some(client) => Connection::Default(client.clone()),
                None => Connection::None,
            });
        };
        if workspace.status == WorkspaceStatus::Disconnected {
            return Ok(Connection::Disconnected);
        }
        let token = secrets::get(
            &self.pool,
            self.keyring.as_ref(),
            SecretOwner::Installation(id),
            SecretName::SlackBotToken,
        )
        .await?;
        let Some(token) = token else {
            // A connected row without its token cannot speak; say so rather than fall back to
            // another workspace.
            tracing::warn!(
                installation = id.0,
                "slack: workspace connected but its token is missing"
            );
            return Ok(Connection::Disconnected);
        };
        let token = String::from_utf8_lossy(&token);
        let team = Arc::new(OnceCell::new_with(Some(workspace.team_id)));
        Ok(Connection::Workspace(self.http.client(&token, team)))
    }

    /// The client installation `id` speaks through, if it has one.
    pub async fn for_installation(
        &self,
        id: InstallationId,
    ) -> Result<Option<SlackClient>, ClientsError> {
        Ok(self.connection(id).await?.client())
    }
}
