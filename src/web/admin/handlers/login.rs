//! Signing in and out: the sign-in page, the operator's password (argon2; failures are
//! rate-limited per account and client address, see `throttle`) and sign-out. The sign-in
//! forms carry the double-submit cookie's token (`csrf`: the page stores nothing), and a
//! successful sign-in always gets a brand-new session id (see also `oauth`).

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, FromRequest, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::CsrfForm;
use crate::config::verify_password;
use crate::store::admin_sessions::{self, SessionKind};
use crate::web::AppState;
use crate::web::admin::session::{self, Session, SignedIn};
use crate::web::admin::throttle;
use crate::web::admin::{AdminError, csrf, views};

pub(super) fn secret(state: &AppState) -> &[u8] {
    state.admin.config.session_secret.as_deref().unwrap_or(&[])
}

/// The pending (not signed-in) session of this request, if any.
pub(super) async fn pending_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Session>, AdminError> {
    Ok(session::from_headers(&state.pool, secret(state), headers)
        .await?
        .filter(|s| s.kind == SessionKind::Pending))
}

/// The pending session of this browser, creating one (with its cookie) when absent. Only a
/// POST whose CSRF token was checked gets here (OAuth start), never a page view.
pub(super) async fn pending_or_new(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Session, Option<String>), AdminError> {
    if let Some(s) = pending_session(state, headers).await? {
        return Ok((s, None));
    }
    let (id, s) = session::create(&state.pool, SessionKind::Pending, None, None, None).await?;
    Ok((s, Some(id)))
}

pub(super) fn with_cookie(
    state: &AppState,
    new_id: Option<String>,
    response: Response,
) -> Response {
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

/// No sign-in method yet: a new deployment is sent to the setup page (which says what is
/// missing when even that cannot run).
pub(super) fn not_configured() -> Response {
    Redirect::to("/admin/setup").into_response()
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
        && s.kind != SessionKind::Pending
    {
        return Ok(Redirect::to("/admin").into_response());
    }
    let (token, cookie) = csrf::issue(
        secret(&state),
        &headers,
        state.admin.config.secure_cookies(),
    );
    let mut response = views::login::form(&state.admin.config, &token, None).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// The account name of password sign-in, as the throttle keys it.
const OPERATOR: &str = "operator";

/// The peer address (behind a proxy, the proxy's: then the per-IP limit is shared).
pub(super) fn client_ip(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// A sign-in form and the client address it came from (the throttle's key).
pub(super) async fn form_and_ip<T: serde::de::DeserializeOwned>(
    request: axum::extract::Request,
) -> Result<(String, T), AdminError> {
    let ip = client_ip(request.extensions());
    let Form(form) = Form::<T>::from_request(request, &())
        .await
        .map_err(|_| AdminError::BadRequest("expected a form".into()))?;
    Ok((ip, form))
}

/// `POST /admin/login`: the operator's password.
pub async fn password(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<Response, AdminError> {
    let (ip, form) = form_and_ip::<PasswordForm>(request).await?;
    let Some(hash) = state.admin.config.password_hash.clone() else {
        return Ok(not_configured());
    };
    csrf::check(secret(&state), &headers, &form.csrf)?;
    throttle::check(&state, OPERATOR, &ip).await?;
    let password = form.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .unwrap_or(false);
    if !ok {
        throttle::record_failure(&state, OPERATOR, &ip).await?;
        tracing::warn!(%ip, "admin: wrong operator password");
        let body = views::login::form(&state.admin.config, &form.csrf, Some("Wrong password."));
        return Ok((StatusCode::UNAUTHORIZED, body).into_response());
    }
    throttle::clear(&state, OPERATOR, &ip).await?;
    // A pending session left by an abandoned GitHub sign-in ends here too.
    let pending = pending_session(&state, &headers).await?;
    signed_in(
        &state,
        pending.as_ref(),
        SessionKind::Operator,
        Some("operator"),
        None,
        None,
    )
    .await
}

/// [`signed_in`] for the operator, landing on `target` instead of the overview.
pub(super) async fn signed_in_to(
    state: &AppState,
    pending: Option<&Session>,
    kind: SessionKind,
    login: Option<&str>,
    target: &str,
) -> Result<Response, AdminError> {
    let mut response = signed_in(state, pending, kind, login, None, None).await?;
    if let Ok(value) = axum::http::HeaderValue::from_str(target) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Replaces the pending session (if any) with a signed-in one (a new id: no session fixation).
pub(super) async fn signed_in(
    state: &AppState,
    pending: Option<&Session>,
    kind: SessionKind,
    login: Option<&str>,
    github_user_id: Option<i64>,
    scope: Option<&[i64]>,
) -> Result<Response, AdminError> {
    if let Some(pending) = pending {
        admin_sessions::delete(&state.pool, &pending.id_hash).await?;
    }
    let (id, _) = session::create(&state.pool, kind, login, github_user_id, scope).await?;
    tracing::info!(
        kind = kind.as_str(),
        login = login.unwrap_or(""),
        "admin: signed in"
    );
    Ok(with_cookie(
        state,
        Some(id),
        Redirect::to("/admin").into_response(),
    ))
}

/// `POST /admin/logout`: deletes the session (without asking GitHub anything first).
pub async fn logout(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    admin_sessions::delete(&state.pool, &s.id_hash).await?;
    let mut response = Redirect::to("/admin/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(secret(&state), None, state.admin.config.secure_cookies()),
    );
    Ok(response)
}
