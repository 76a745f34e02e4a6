//! Signing in and out: the operator with a password (argon2), org admins with GitHub OAuth.
//! Every form carries the pending session's CSRF token; password attempts are rate-limited per
//! client IP and per account in Redis; a successful sign-in always gets a brand-new session id.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Form;
use axum::extract::{ConnectInfo, FromRequest, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use futures::StreamExt;
use maud::{Markup, html};
use octocrab::models::UserProfile;
use octocrab::models::orgs::{OrgMembership, OrgMembershipState};
use serde::Deserialize;

use super::session::{self, Admin, Kind, Session};
use super::{AdminError, bare_page};
use crate::config::verify_password;
use crate::github::client::GithubError;
use crate::web::AppState;

/// Attempts allowed per client IP and per account in [`WINDOW_SECS`].
pub const MAX_ATTEMPTS: i64 = 5;
/// Length of the rate-limit window.
pub const WINDOW_SECS: u64 = 15 * 60;

fn secret(state: &AppState) -> &[u8] {
    state.admin.config.session_secret.as_deref().unwrap_or(&[])
}

/// The pending session of this browser, creating one (with its cookie) when absent.
async fn pending(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Session, Option<String>), AdminError> {
    if let Some(s) = session::from_headers(&state.pool, secret(state), headers).await?
        && s.kind == Kind::Pending
    {
        return Ok((s, None));
    }
    let (id, s) = session::create(&state.pool, Kind::Pending, None, None, None).await?;
    Ok((s, Some(id)))
}

fn with_cookie(state: &AppState, new_id: Option<String>, response: Response) -> Response {
    let mut response = response;
    if let Some(id) = new_id {
        response.headers_mut().append(
            header::SET_COOKIE,
            session::set_cookie(
                secret(state),
                Some(&id),
                state.admin.config.secure_cookies(),
            ),
        );
    }
    response
}

fn login_form(state: &AppState, s: &Session, message: Option<&str>) -> Markup {
    let config = &state.admin.config;
    bare_page(
        "Sign in",
        html! {
            main.signin {
                h1 { "Mergecast admin" }
                @if let Some(m) = message { p.error role="alert" { (m) } }
                @if config.password_hash.is_some() {
                    form method="post" action="/admin/login" {
                        input type="hidden" name="csrf" value=(s.csrf);
                        label for="password" { "Operator password" }
                        input #password type="password" name="password" autocomplete="current-password" required;
                        button type="submit" { "Sign in" }
                    }
                }
                @if config.oauth.is_some() {
                    form method="post" action="/admin/login/github" {
                        input type="hidden" name="csrf" value=(s.csrf);
                        button.github type="submit" { "Sign in with GitHub" }
                    }
                    p.hint { "Org admins see the installations of the orgs they administer." }
                }
            }
        },
    )
}

fn not_configured() -> Response {
    bare_page(
        "Sign in",
        html! { main.signin { h1 { "Mergecast admin" }
        p { "Sign-in is not configured. Set " code { "ADMIN_PASSWORD_HASH" } " (see "
            code { "mergecast admin hash-password" } ") or " code { "GITHUB_CLIENT_ID" } " and "
            code { "GITHUB_CLIENT_SECRET" } ", and " code { "SESSION_SECRET" } "." } } },
    )
    .into_response()
}

/// `GET /admin/login`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    if !state.admin.config.sign_in_enabled() {
        return Ok(not_configured());
    }
    if let Some(s) = session::from_headers(&state.pool, secret(&state), &headers).await?
        && s.kind != Kind::Pending
    {
        return Ok(Redirect::to("/admin").into_response());
    }
    let (s, new_id) = pending(&state, &headers).await?;
    Ok(with_cookie(
        &state,
        new_id,
        login_form(&state, &s, None).into_response(),
    ))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// The peer address (behind a proxy, the proxy's: then the per-IP limit is shared).
fn client_ip(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Counts an attempt against `key`; `Throttled` once over the limit.
async fn count_attempt(state: &AppState, key: &str) -> Result<(), AdminError> {
    let key = format!("{}:admin:login:{key}", state.admin.prefix);
    let mut conn = state.queues.connection();
    let (n,): (i64,) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(&key)
        .arg(0)
        .arg("EX")
        .arg(WINDOW_SECS)
        .arg("NX")
        .ignore()
        .cmd("INCR")
        .arg(&key)
        .query_async(&mut conn)
        .await?;
    if n > MAX_ATTEMPTS {
        Err(AdminError::Throttled)
    } else {
        Ok(())
    }
}

/// `POST /admin/login`: the operator's password.
pub async fn password(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<Response, AdminError> {
    let ip = client_ip(request.extensions());
    let Form(form) = Form::<PasswordForm>::from_request(request, &())
        .await
        .map_err(|_| AdminError::BadRequest("expected a form".into()))?;
    let Some(hash) = state.admin.config.password_hash.clone() else {
        return Ok(not_configured());
    };
    let Some(s) = session::from_headers(&state.pool, secret(&state), &headers)
        .await?
        .filter(|s| s.kind == Kind::Pending)
    else {
        return Err(AdminError::Csrf);
    };
    s.check_csrf(&form.csrf)?;
    count_attempt(&state, &format!("ip:{ip}")).await?;
    count_attempt(&state, "user:operator").await?;
    let password = form.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .unwrap_or(false);
    if !ok {
        tracing::warn!(%ip, "admin: wrong operator password");
        let body = login_form(&state, &s, Some("Wrong password."));
        return Ok((StatusCode::UNAUTHORIZED, body).into_response());
    }
    signed_in(&state, &s, Kind::Operator, Some("operator"), None, None).await
}

/// Replaces the pending session with a signed-in one (a new id: no session fixation).
async fn signed_in(
    state: &AppState,
    pending: &Session,
    kind: Kind,
    login: Option<&str>,
    github_user_id: Option<i64>,
    scope: Option<&[i64]>,
) -> Result<Response, AdminError> {
    session::delete(&state.pool, &pending.id_hash).await?;
    let (id, _) = session::create(&state.pool, kind, login, github_user_id, scope).await?;
    tracing::info!(kind = ?kind, login = login.unwrap_or(""), "admin: signed in");
    Ok(with_cookie(
        state,
        Some(id),
        Redirect::to("/admin").into_response(),
    ))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /admin/login/github`: starts OAuth with a fresh single-use `state`.
pub async fn github_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AdminError> {
    let Some(oauth) = state.admin.config.oauth.clone() else {
        return Ok(not_configured());
    };
    let Some(s) = session::from_headers(&state.pool, secret(&state), &headers)
        .await?
        .filter(|s| s.kind == Kind::Pending)
    else {
        return Err(AdminError::Csrf);
    };
    s.check_csrf(&form.csrf)?;
    let oauth_state = session::random_token();
    session::set_oauth_state(&state.pool, &s.id_hash, &oauth_state).await?;
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
    Ok(Redirect::to(&url).into_response())
}

/// How long one call to GitHub may hold up the sign-in request.
const GITHUB_DEADLINE: Duration = Duration::from_secs(10);

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

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
}

/// `GET /admin/oauth/callback`: checks `state`, exchanges the code, and asks GitHub which of
/// our installations' orgs this user administers (the one request path that calls GitHub).
pub async fn github_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Result<Response, AdminError> {
    let Some(oauth) = state.admin.config.oauth.clone() else {
        return Ok(not_configured());
    };
    let Some(s) = session::from_headers(&state.pool, secret(&state), &headers)
        .await?
        .filter(|s| s.kind == Kind::Pending)
    else {
        return Err(AdminError::BadRequest(
            "This sign-in has expired; start again.".into(),
        ));
    };
    if callback.state.is_empty()
        || callback.code.is_empty()
        || !session::take_oauth_state(&state.pool, &s.id_hash, &callback.state).await?
    {
        return Err(AdminError::BadRequest(
            "This sign-in has expired; start again.".into(),
        ));
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
    let installations: Vec<(i64, String, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT id, account_login, account_type, account_id FROM installations WHERE status <> 'deleted'",
    )
    .fetch_all(&state.pool)
    .await?;
    let checks = futures::stream::iter(installations.into_iter().map(
        |(id, org, account_type, account_id)| {
            let access_token = &access_token;
            async move {
                if account_type.as_deref() == Some("User") {
                    return (account_id == Some(user_id)).then_some(id);
                }
                let path = format!("/user/memberships/orgs/{}", urlencode(&org));
                // 404: not a member. Any failure counts as "not an admin" (fails closed).
                let response = within_deadline(api.get_as_user(access_token, &path))
                    .await
                    .ok()?;
                let m: OrgMembership = serde_json::from_value(response.body?).ok()?;
                (m.role == "admin" && m.state == OrgMembershipState::Active).then_some(id)
            }
        },
    ))
    .buffer_unordered(8)
    .collect::<Vec<Option<i64>>>()
    .await;
    let mut allowed: Vec<i64> = checks.into_iter().flatten().collect();
    allowed.sort_unstable();
    if allowed.is_empty() {
        tracing::info!(login, "admin: GitHub user administers no installed org");
        let body = bare_page(
            "Sign in",
            html! { main.signin { h1 { "Mergecast admin" }
            p { "Signed in to GitHub as " strong { (login) } ", but you are not an admin of any organization where Mergecast is installed." }
            p { a href="/admin/login" { "Back" } } } },
        );
        return Ok((StatusCode::FORBIDDEN, body).into_response());
    }
    signed_in(
        &state,
        &s,
        Kind::Github,
        Some(login),
        Some(user_id),
        Some(&allowed),
    )
    .await
}

/// `POST /admin/logout`: deletes the session.
pub async fn logout(
    State(state): State<AppState>,
    Admin(s): Admin,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    session::delete(&state.pool, &s.id_hash).await?;
    let mut response = Redirect::to("/admin/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(secret(&state), None, state.admin.config.secure_cookies()),
    );
    Ok(response)
}
