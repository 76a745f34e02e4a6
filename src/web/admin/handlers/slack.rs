//! Slack per org: an installation's Slack page (which workspace it surveys through, and why not
//! when it is disconnected), "Add to Slack" (Slack's OAuth v2 with our own `state`), its
//! callback, and "Disconnect". The operator and that org's admins only; another org's page is
//! a 404.
//!
//! The `state` is 32 random bytes, kept only as a SHA-256, single use, valid ten minutes, and
//! bound to the admin session that pressed the button: a callback carrying another session's
//! state (a login-CSRF that would connect someone else's workspace) is refused. The callback is
//! under `/admin` so the session cookie (`Path=/admin`, `SameSite=Lax`) comes with Slack's
//! redirect. The code exchange (`oauth.v2.access`) is one of the few admin requests that waits on
//! Slack, bounded by the Slack client's deadline, like GitHub sign-in's.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{CsrfForm, installation_in_scope};
use crate::config::{SlackConfig, SlackOAuth};
use crate::ids::InstallationId;
use crate::slack::clients::Connection;
use crate::store::slack_workspaces;
use crate::survey::workspace::{self, BOT_SCOPES, WorkspaceError};
use crate::web::AppState;
use crate::web::admin::params::urlencode;
use crate::web::admin::session::{self, Admin, Session};
use crate::web::admin::views::slack::{self as view, SlackPage, Standing};
use crate::web::admin::{AdminError, views};

fn hash(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

/// Where Slack sends the admin back, when the deployment knows its public URL (otherwise Slack
/// uses the first redirect URL registered on the Slack app).
fn redirect_uri(state: &AppState) -> Option<String> {
    state
        .admin
        .config
        .public_url
        .as_ref()
        .map(|public| format!("{public}/admin/slack/oauth/callback"))
}

fn not_configured() -> AdminError {
    AdminError::BadRequest("The Slack app is not configured (see Setup).".into())
}

/// The Slack app and its OAuth client, or why "Add to Slack" cannot run.
fn oauth_client(state: &AppState) -> Result<(&SlackConfig, &SlackOAuth), AdminError> {
    let slack = state
        .admin
        .app_config
        .slack
        .as_ref()
        .ok_or_else(not_configured)?;
    let oauth = slack.oauth.as_ref().ok_or_else(|| {
        AdminError::BadRequest(
            "The Slack app's client id and secret are not configured (see Setup).".into(),
        )
    })?;
    Ok((slack, oauth))
}

#[derive(Deserialize, Default)]
pub struct SlackQuery {
    #[serde(default)]
    pub notice: Option<String>,
}

/// `GET /admin/installations/{id}/slack`.
pub async fn page(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
    Query(q): Query<SlackQuery>,
) -> Result<Response, AdminError> {
    render(&state, &s, id, q.notice.as_deref()).await
}

async fn render(
    state: &AppState,
    s: &Session,
    id: i64,
    notice: Option<&str>,
) -> Result<Response, AdminError> {
    installation_in_scope(&state.pool, s, id).await?;
    let installation = InstallationId(id);
    let workspace = slack_workspaces::get(&state.pool, installation).await?;
    let standing = match &state.admin.survey.slack {
        None => Standing::NotConfigured,
        Some(clients) => match clients.connection(installation).await {
            Ok(Connection::Workspace(_)) => Standing::Connected,
            Ok(Connection::Default(_)) => Standing::Default,
            Ok(Connection::Disconnected) => Standing::Disconnected,
            Ok(Connection::None) => Standing::None,
            Err(e) => {
                tracing::warn!(installation = id, error = %e, "slack page: token does not open");
                Standing::Unreadable
            }
        },
    };
    let org = crate::store::installations::get(&state.pool, id)
        .await?
        .map(|i| i.account_login)
        .unwrap_or_default();
    let can_add = state
        .admin
        .app_config
        .slack
        .as_ref()
        .is_some_and(|c| c.oauth.is_some());
    let body = view::page(
        s,
        &SlackPage {
            installation: id,
            org: &org,
            workspace: workspace.as_ref(),
            standing,
            can_add,
            notice: notice.and_then(view::notice),
        },
    );
    Ok(views::page(s, "installations", &format!("Slack for {org}"), body).into_response())
}

/// `POST /admin/installations/{id}/slack`: "Add to Slack": to Slack's consent page with a fresh
/// `state`.
pub async fn add(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    installation_in_scope(&state.pool, &s, id).await?;
    let (slack, oauth) = oauth_client(&state)?;
    let oauth_state = session::random_token();
    slack_workspaces::create_state(
        &state.pool,
        &hash(&oauth_state),
        InstallationId(id),
        &s.id_hash,
        Utc::now(),
    )
    .await?;
    let mut url = format!(
        "{}/oauth/v2/authorize?client_id={}&scope={}&state={}",
        slack.web_url,
        urlencode(&oauth.client_id),
        urlencode(&BOT_SCOPES.join(",")),
        oauth_state,
    );
    if let Some(uri) = redirect_uri(&state) {
        url.push_str("&redirect_uri=");
        url.push_str(&urlencode(&uri));
    }
    Ok(Redirect::to(&url).into_response())
}

#[derive(Deserialize, Default)]
pub struct CallbackQuery {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    /// `access_denied` when the admin pressed Cancel on Slack's page.
    #[serde(default)]
    pub error: Option<String>,
}

/// `GET /admin/slack/oauth/callback`: Slack's redirect back, with a code (or an error) and our
/// `state`.
pub async fn callback(
    State(state): State<AppState>,
    Admin(s): Admin,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, AdminError> {
    let stale = || {
        AdminError::BadRequest(
            "This \"Add to Slack\" link has expired or was not started from this session; start again from the org's Slack page."
                .into(),
        )
    };
    let oauth_state = q
        .state
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(stale)?;
    let installation =
        slack_workspaces::take_state(&state.pool, &hash(oauth_state), &s.id_hash, Utc::now())
            .await?
            .ok_or_else(stale)?;
    let id = installation.0;
    installation_in_scope(&state.pool, &s, id).await?;
    let back = |notice: &str| {
        Redirect::to(&format!("/admin/installations/{id}/slack?notice={notice}")).into_response()
    };
    if q.error.is_some() {
        return Ok(back("slack-cancelled"));
    }
    let code = q
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(stale)?;
    let (_, oauth) = oauth_client(&state)?;
    let Some(clients) = state.admin.survey.slack.as_ref() else {
        return Err(not_configured());
    };
    let grant = match clients
        .http()
        .oauth_access(
            &oauth.client_id,
            &oauth.client_secret,
            code,
            redirect_uri(&state).as_deref(),
        )
        .await
    {
        Ok(grant) => grant,
        Err(e) => {
            tracing::warn!(installation = id, error = %e, "slack: oauth.v2.access failed");
            return Ok(back("slack-refused"));
        }
    };
    let by = s.login.clone().unwrap_or_else(|| "operator".into());
    match workspace::connect(
        &state.pool,
        state.admin.app_config.keyring.as_ref(),
        installation,
        &grant,
        &by,
    )
    .await
    {
        Ok(()) => Ok(back("slack-connected")),
        Err(WorkspaceError::Database(e)) => Err(AdminError::Database(e)),
        Err(WorkspaceError::MissingScopes { .. }) => Ok(back("slack-scopes")),
        Err(e @ WorkspaceError::Secret(_)) => {
            tracing::error!(installation = id, error = %e, "slack: token not stored");
            Ok(back("slack-no-key"))
        }
    }
}

/// `POST /admin/installations/{id}/slack/disconnect`: stops surveying through the workspace
/// (its token is deleted; Mergecast stays installed in Slack until removed there).
pub async fn disconnect(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    installation_in_scope(&state.pool, &s, id).await?;
    workspace::disconnect(&state.pool, InstallationId(id)).await?;
    Ok(Redirect::to(&format!(
        "/admin/installations/{id}/slack?notice=slack-disconnected"
    ))
    .into_response())
}
