//! Org admins sign in with GitHub OAuth: the sign-in page's CSRF token (double-submit cookie),
//! then a pending session (created only now, never by a page view) with a fresh single-use
//! `state`, the code exchange, then GitHub is asked which of our installations' orgs this user
//! administers (the one admin request path that waits on GitHub, each call bounded by a
//! deadline; any failure fails closed).

use std::future::Future;
use std::time::Duration;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use futures::StreamExt;
use octocrab::models::UserProfile;
use octocrab::models::orgs::{OrgMembership, OrgMembershipState};
use serde::Deserialize;

use super::CsrfForm;
use super::login::{self, not_configured, pending_or_new, pending_session, signed_in, with_cookie};
use crate::github::client::{GithubApi, GithubError};
use crate::store::admin_sessions::{self, SessionKind};
use crate::store::installations::{self, SignInCandidate};
use crate::web::AppState;
use crate::web::admin::params::urlencode;
use crate::web::admin::session;
use crate::web::admin::{AdminError, csrf, views};

/// How long one call to GitHub may hold up the sign-in request.
const GITHUB_DEADLINE: Duration = Duration::from_secs(10);

/// Membership checks in flight at once.
const CONCURRENT_CHECKS: usize = 8;

async fn within_deadline<T>(
    call: impl Future<Output = Result<T, GithubError>>,
) -> Result<T, AdminError> {
    match tokio::time::timeout(GITHUB_DEADLINE, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(AdminError::OAuth(e.to_string())),
        Err(_) => Err(AdminError::OAuth(format!(
            "no answer from GitHub within {GITHUB_DEADLINE:?}"
        ))),
    }
}

/// `POST /admin/login/github`: starts OAuth with a fresh single-use `state`.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AdminError> {
    let Some(oauth) = state.admin.config.oauth.clone() else {
        return Ok(not_configured());
    };
    csrf::check(login::secret(&state), &headers, &form.csrf)?;
    let (s, new_id) = pending_or_new(&state, &headers).await?;
    let oauth_state = session::random_token();
    admin_sessions::set_oauth_state(&state.pool, &s.id_hash, &oauth_state).await?;
    let mut url = format!(
        "{}/login/oauth/authorize?client_id={}&state={}&scope=read%3Aorg",
        state.admin.github_api.web_url(),
        urlencode(&oauth.client_id),
        oauth_state
    );
    if let Some(public) = &state.admin.config.public_url {
        url.push_str("&redirect_uri=");
        url.push_str(&urlencode(&format!("{public}/admin/oauth/callback")));
    }
    Ok(with_cookie(
        &state,
        new_id,
        Redirect::to(&url).into_response(),
    ))
}

#[derive(Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
}

fn expired() -> AdminError {
    AdminError::BadRequest("This sign-in has expired; start again.".into())
}

/// `GET /admin/oauth/callback`: checks `state`, exchanges the code, and signs the user in to
/// the installations whose accounts they administer.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Result<Response, AdminError> {
    let Some(oauth) = state.admin.config.oauth.clone() else {
        return Ok(not_configured());
    };
    let Some(s) = pending_session(&state, &headers).await? else {
        return Err(expired());
    };
    if callback.state.is_empty()
        || callback.code.is_empty()
        || !admin_sessions::take_oauth_state(&state.pool, &s.id_hash, &callback.state).await?
    {
        return Err(expired());
    }
    let config = &state.admin.config;
    let api = &state.admin.github_api;
    let redirect_uri = config
        .public_url
        .as_ref()
        .map(|public| format!("{public}/admin/oauth/callback"));
    let mut form = vec![
        ("client_id", oauth.client_id.as_str()),
        ("client_secret", oauth.client_secret.as_str()),
        ("code", callback.code.as_str()),
    ];
    if let Some(redirect_uri) = &redirect_uri {
        form.push(("redirect_uri", redirect_uri.as_str()));
    }
    let token = within_deadline(api.exchange_oauth_code(&form)).await?;
    let Some(access_token) = token["access_token"].as_str().map(str::to_owned) else {
        let reason = token["error"]
            .as_str()
            .unwrap_or("no access token")
            .to_owned();
        return Err(AdminError::OAuth(reason));
    };
    let user = within_deadline(api.get_as_user(&access_token, "/user")).await?;
    let user: UserProfile = serde_json::from_value(user.body.unwrap_or_default())
        .map_err(|e| AdminError::OAuth(format!("GET /user: {e}")))?;
    let (login, user_id) = (user.login.as_str(), user.id.0 as i64);
    let candidates = installations::sign_in_candidates(&state.pool).await?;
    let allowed = administered(api, &access_token, user_id, candidates).await;
    if allowed.is_empty() {
        tracing::info!(login, "admin: GitHub user administers no installed org");
        let body = views::login::not_an_admin(login);
        return Ok((StatusCode::FORBIDDEN, body).into_response());
    }
    signed_in(
        &state,
        Some(&s),
        SessionKind::Github,
        Some(login),
        Some(user_id),
        Some(&allowed),
    )
    .await
}

/// The installations (sorted ids) user `user_id` administers: their own account, or an org where
/// GitHub says they are an active admin.
async fn administered(
    api: &GithubApi,
    access_token: &str,
    user_id: i64,
    candidates: Vec<SignInCandidate>,
) -> Vec<i64> {
    let checks = futures::stream::iter(candidates.into_iter().map(|c| async move {
        if c.account_type.as_deref() == Some("User") {
            return (c.account_id == Some(user_id)).then_some(c.id);
        }
        let path = format!("/user/memberships/orgs/{}", urlencode(&c.account_login));
        // 404: not a member. Any failure counts as "not an admin" (fails closed).
        let response = within_deadline(api.get_as_user(access_token, &path))
            .await
            .ok()?;
        let m: OrgMembership = serde_json::from_value(response.body?).ok()?;
        (m.role == "admin" && m.state == OrgMembershipState::Active).then_some(c.id)
    }))
    .buffer_unordered(CONCURRENT_CHECKS)
    .collect::<Vec<Option<i64>>>()
    .await;
    let mut allowed: Vec<i64> = checks.into_iter().flatten().collect();
    allowed.sort_unstable();
    allowed
}
