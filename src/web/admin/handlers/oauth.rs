//! Org admins sign in with GitHub OAuth: the sign-in page's CSRF token (double-submit cookie),
//! then a pending session (created only now, never by a page view) with a fresh single-use
//! `state`, the code exchange, then GitHub is asked which of our installations' orgs this user
//! administers (decided on org ids, see `membership`), and the user's token is revoked: we keep
//! no user credential. Every twelve hours the `Admin` extractor has GitHub confirm the
//! memberships again, with the installations' own tokens ([`recheck_memberships`]). These are
//! the admin request paths that wait on GitHub, each call bounded by a deadline; any failure
//! fails closed.

use std::future::Future;
use std::time::Duration;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use futures::StreamExt;
use octocrab::models::UserProfile;
use serde::Deserialize;

use super::CsrfForm;
use super::login::{self, not_configured, pending_or_new, pending_session, signed_in, with_cookie};
use crate::config::OAuthClient;
use crate::github::client::{Auth, GithubApi, GithubError};
use crate::ids::InstallationId;
use crate::store::admin_sessions::{self, SessionKind};
use crate::store::installations::{self, SignInCandidate};
use crate::web::AppState;
use crate::web::admin::membership::{Membership, grants_org, owns_account};
use crate::web::admin::params::urlencode;
use crate::web::admin::session::{self, Session};
use crate::web::admin::{AdminError, csrf, views};

/// How long one call to GitHub may hold up the sign-in request.
const GITHUB_DEADLINE: Duration = Duration::from_secs(10);

/// Membership checks in flight at once.
const CONCURRENT_CHECKS: usize = 8;

async fn bounded<T>(call: impl Future<Output = Result<T, GithubError>>) -> Result<T, GithubError> {
    tokio::time::timeout(GITHUB_DEADLINE, call)
        .await
        .unwrap_or(Err(GithubError::Timeout(GITHUB_DEADLINE)))
}

async fn within_deadline<T>(
    call: impl Future<Output = Result<T, GithubError>>,
) -> Result<T, AdminError> {
    bounded(call)
        .await
        .map_err(|e| AdminError::OAuth(e.to_string()))
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
    let outcome = sign_in_as(&state, &s, &access_token).await;
    revoke(api, &oauth, &access_token).await;
    outcome
}

/// Revokes the user's token: we needed it only to learn who they are and what they administer.
/// A failure is logged (never the token) and does not undo the sign-in.
async fn revoke(api: &GithubApi, oauth: &OAuthClient, access_token: &str) {
    let revoked =
        bounded(api.revoke_oauth_token(&oauth.client_id, &oauth.client_secret, access_token)).await;
    if let Err(e) = revoked {
        tracing::warn!(error = %e, "admin: could not revoke the GitHub user token");
    }
}

/// Signs the token's user in to the installations they administer, or answers 403.
async fn sign_in_as(
    state: &AppState,
    pending: &Session,
    access_token: &str,
) -> Result<Response, AdminError> {
    let api = &state.admin.github_api;
    let user = within_deadline(api.get_as_user(access_token, "/user")).await?;
    let user: UserProfile = serde_json::from_value(user.body.unwrap_or_default())
        .map_err(|e| AdminError::OAuth(format!("GET /user: {e}")))?;
    let (login, user_id) = (user.login.as_str(), user.id.0 as i64);
    let candidates = installations::sign_in_candidates(&state.pool).await?;
    let allowed = administered(api, access_token, user_id, candidates).await;
    if allowed.is_empty() {
        tracing::info!(login, "admin: GitHub user administers no installed org");
        let body = views::login::not_an_admin(login);
        return Ok((StatusCode::FORBIDDEN, body).into_response());
    }
    signed_in(
        state,
        Some(pending),
        SessionKind::Github,
        Some(login),
        Some(user_id),
        Some(&allowed),
    )
    .await
}

/// The installations (sorted ids) user `user_id` administers: their own account, or an org
/// whose id is the installation's account id and where GitHub says they are an active admin.
async fn administered(
    api: &GithubApi,
    access_token: &str,
    user_id: i64,
    candidates: Vec<SignInCandidate>,
) -> Vec<i64> {
    let checks = futures::stream::iter(candidates.into_iter().map(|c| async move {
        if c.account_type.as_deref() == Some("User") {
            return owns_account(c.account_id, user_id).then_some(c.id);
        }
        // No account id to compare the org's with: nothing to ask.
        c.account_id?;
        let path = format!("/user/memberships/orgs/{}", urlencode(&c.account_login));
        // 404: not a member. Any failure counts as "not an admin" (fails closed).
        let response = within_deadline(api.get_as_user(access_token, &path))
            .await
            .ok()?;
        let m: Membership = serde_json::from_value(response.body?).ok()?;
        grants_org(&m, c.account_id, user_id).then_some(c.id)
    }))
    .buffer_unordered(CONCURRENT_CHECKS)
    .collect::<Vec<Option<i64>>>()
    .await;
    let mut allowed: Vec<i64> = checks.into_iter().flatten().collect();
    allowed.sort_unstable();
    allowed
}

/// The installations of GitHub session `s` that its user still administers (sorted ids), asked
/// with each installation's own token (`GET /orgs/{org}/memberships/{username}`,
/// https://docs.github.com/en/rest/orgs/members#get-organization-membership-for-a-user): the
/// user's token was revoked at sign-in. A 404 (not a member), a deleted or suspended
/// installation, or another org under the login drop that installation; any other failure is
/// [`AdminError::MembershipCheck`], and the session keeps nothing meanwhile.
///
/// Without the App identity there is no installation token to ask with: nothing is confirmed,
/// so the session ends and signing in again checks with the user's token.
pub(in crate::web::admin) async fn recheck_memberships(
    state: &AppState,
    s: &Session,
) -> Result<Vec<i64>, AdminError> {
    let (Some(username), Some(user_id), Some(client)) = (
        s.login.as_deref(),
        s.github_user_id,
        state.admin.github.as_ref(),
    ) else {
        return Ok(Vec::new());
    };
    let scope = s.scope.clone().unwrap_or_default();
    let candidates = installations::sign_in_candidates(&state.pool)
        .await?
        .into_iter()
        .filter(|c| scope.contains(&c.id));
    let checks = futures::stream::iter(candidates.map(|c| async move {
        if c.account_type.as_deref() == Some("User") {
            return Ok(owns_account(c.account_id, user_id).then_some(c.id));
        }
        if c.account_id.is_none() {
            return Ok(None);
        }
        let path = format!(
            "/orgs/{}/memberships/{}",
            urlencode(&c.account_login),
            urlencode(username)
        );
        let auth = Auth::Installation(InstallationId(c.id));
        match bounded(client.get(auth, &path, None)).await {
            Ok(response) => {
                let m: Membership = serde_json::from_value(response.body.unwrap_or_default())
                    .map_err(|e| format!("GET {path}: {e}"))?;
                Ok(grants_org(&m, c.account_id, user_id).then_some(c.id))
            }
            Err(GithubError::Status { status: 404, .. })
            | Err(GithubError::InstallationUnavailable(..)) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }))
    .buffer_unordered(CONCURRENT_CHECKS)
    .collect::<Vec<Result<Option<i64>, String>>>()
    .await;
    let mut still = Vec::new();
    for check in checks {
        match check {
            Ok(granted) => still.extend(granted),
            Err(reason) => return Err(AdminError::MembershipCheck(reason)),
        }
    }
    still.sort_unstable();
    Ok(still)
}
