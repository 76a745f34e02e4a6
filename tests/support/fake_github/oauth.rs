//! GitHub's OAuth web flow as the admin sign-in uses it
//! (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app),
//! plus `GET /user` and `GET /user/memberships/orgs/{org}` for the token it mints, and the
//! revocation of that token (`DELETE /applications/{client_id}/token`). Memberships live in the
//! [`Model`] (by org id), which the installation-token endpoint reads too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::auth::credentials;
use super::http::Reply;
use super::json::{membership_json, profile_json};
use super::model::{Model, User};
use super::{DOCS_URL, lock};

/// GitHub's OAuth web flow as the admin sign-in uses it, plus `GET /user`,
/// `GET /user/memberships/orgs/{org}` and the revocation of the tokens it mints.
#[derive(Debug, Default)]
pub struct OAuth {
    pub client_id: String,
    pub client_secret: String,
    /// Where `authorize` sends the browser back when the request names no `redirect_uri`
    /// (GitHub uses the app's registered callback URL).
    pub callback_url: String,
    /// The GitHub user who approves the next authorization: (id, login).
    pub approve_as: Option<(i64, String)>,
    codes: HashMap<String, (i64, String)>,
    tokens: HashMap<String, (i64, String)>,
    /// Codes exchanged successfully.
    pub exchanges: u32,
    /// Every user access token minted, in order (a test searches the app's output for them).
    pub issued: Vec<String>,
    /// Every token revoked through `DELETE /applications/{client_id}/token`, in order.
    pub revocations: Vec<String>,
}

pub(super) fn oauth_router(
    oauth: Arc<Mutex<OAuth>>,
    base: String,
    model: Arc<Mutex<Model>>,
) -> Router {
    use axum::extract::{Form, Path, Query};
    use axum::routing::{delete, get, post};
    type Params = HashMap<String, String>;

    fn bearer(oauth: &OAuth, headers: &HeaderMap) -> Option<(i64, String)> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("token "))?;
        oauth.tokens.get(token).cloned()
    }
    fn unauthorized() -> Response {
        Reply::json(
            StatusCode::UNAUTHORIZED,
            &json!({ "message": "Bad credentials", "documentation_url": DOCS_URL }),
        )
        .into_response()
    }

    let user_base = base.clone();
    Router::new()
        .route(
            "/login/oauth/authorize",
            get(
                |State(oauth): State<Arc<Mutex<OAuth>>>, Query(q): Query<Params>| async move {
                    let mut o = lock_oauth(&oauth);
                    if q.get("client_id") != Some(&o.client_id) {
                        return Reply::not_found().into_response();
                    }
                    let Some(user) = o.approve_as.clone() else {
                        return Reply::error(StatusCode::FORBIDDEN, "nobody signed in").into_response();
                    };
                    let code = uuid::Uuid::new_v4().simple().to_string();
                    o.codes.insert(code.clone(), user);
                    let back = q.get("redirect_uri").cloned().unwrap_or_else(|| o.callback_url.clone());
                    let sep = if back.contains('?') { '&' } else { '?' };
                    let state = q.get("state").cloned().unwrap_or_default();
                    Response::builder()
                        .status(StatusCode::FOUND)
                        .header(header::LOCATION, format!("{back}{sep}code={code}&state={state}"))
                        .body(Body::empty())
                        .expect("valid response")
                },
            ),
        )
        .route(
            "/login/oauth/access_token",
            post(
                |State(oauth): State<Arc<Mutex<OAuth>>>, Form(f): Form<Params>| async move {
                    let mut o = lock_oauth(&oauth);
                    if f.get("client_id") != Some(&o.client_id)
                        || f.get("client_secret") != Some(&o.client_secret)
                    {
                        return Reply::json(StatusCode::OK, &json!({ "error": "incorrect_client_credentials" }))
                            .into_response();
                    }
                    let Some(user) = f.get("code").and_then(|c| o.codes.remove(c)) else {
                        return Reply::json(StatusCode::OK, &json!({ "error": "bad_verification_code" }))
                            .into_response();
                    };
                    let token = format!("gho_{}", uuid::Uuid::new_v4().simple());
                    o.tokens.insert(token.clone(), user);
                    o.issued.push(token.clone());
                    o.exchanges += 1;
                    Reply::json(
                        StatusCode::OK,
                        &json!({ "access_token": token, "token_type": "bearer", "scope": "read:org" }),
                    )
                    .into_response()
                },
            ),
        )
        .route(
            "/user",
            // https://docs.github.com/en/rest/users/users#get-the-authenticated-user (without the
            // `user` scope GitHub shows the public profile).
            get(move |State(oauth): State<Arc<Mutex<OAuth>>>, headers: HeaderMap| {
                let user_base = user_base.clone();
                async move {
                let o = lock_oauth(&oauth);
                match bearer(&o, &headers) {
                    Some((id, login)) => {
                        Reply::json(StatusCode::OK, &profile_json(&user_base, &User::new(id, &login)))
                            .into_response()
                    }
                    None => unauthorized(),
                }
                }
            }),
        )
        .route(
            "/user/memberships/orgs/{org}",
            get(
                move |State(oauth): State<Arc<Mutex<OAuth>>>, Path(org): Path<String>, headers: HeaderMap| {
                    let (base, model) = (base.clone(), model.clone());
                    async move {
                    let o = lock_oauth(&oauth);
                    let Some((id, login)) = bearer(&o, &headers) else {
                        return unauthorized();
                    };
                    // https://docs.github.com/en/rest/orgs/members#get-an-organization-membership-for-the-authenticated-user:
                    // the org that holds the login now (after a rename, maybe another one).
                    let model = lock(&model);
                    let membership = model.org_id(&org).and_then(|org_id| {
                        model.memberships.get(&(id, org_id)).map(|m| (org_id, m))
                    });
                    match membership {
                        Some((org_id, (role, state))) => Reply::json(
                            StatusCode::OK,
                            &membership_json(&base, (&org, org_id), (id, &login), role, state),
                        )
                        .into_response(),
                        None => Reply::not_found().into_response(),
                    }
                    }
                },
            ),
        )
        .route(
            "/applications/{client_id}/token",
            // https://docs.github.com/en/rest/apps/oauth-applications#delete-an-app-token: HTTP
            // Basic with the app's client id and secret (401 otherwise), the token in the JSON
            // body; 204 when revoked, 422 for a token it does not know (or no token).
            delete(
                |State(oauth): State<Arc<Mutex<OAuth>>>,
                 Path(client_id): Path<String>,
                 headers: HeaderMap,
                 body: axum::body::Bytes| async move {
                    let mut o = lock_oauth(&oauth);
                    if basic(&headers) != Some((o.client_id.clone(), o.client_secret.clone())) {
                        return unauthorized();
                    }
                    if client_id != o.client_id {
                        return Reply::not_found().into_response();
                    }
                    let token = serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v["access_token"].as_str().map(str::to_owned));
                    match token {
                        Some(token) if o.tokens.remove(&token).is_some() => {
                            o.revocations.push(token);
                            Response::builder()
                                .status(StatusCode::NO_CONTENT)
                                .body(Body::empty())
                                .expect("valid response")
                        }
                        _ => Reply::error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed")
                            .into_response(),
                    }
                },
            ),
        )
        .with_state(oauth)
}

/// The (user, password) of an HTTP Basic `Authorization` header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let (scheme, encoded) = credentials(headers)?;
    if scheme != "basic" {
        return None;
    }
    let decoded = String::from_utf8(BASE64.decode(encoded).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

pub(super) fn lock_oauth(oauth: &Mutex<OAuth>) -> MutexGuard<'_, OAuth> {
    oauth
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
