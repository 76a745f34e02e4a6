//! GitHub's OAuth web flow as the admin sign-in uses it
//! (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app),
//! plus `GET /user` and `GET /user/memberships/orgs/{org}` for the token it mints.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::http::Reply;
use super::json::{account_json, profile_json};
use super::model::{Model, User};
use super::{DOCS_URL, GHOST_ID, lock};

/// GitHub's OAuth web flow as the admin sign-in uses it, plus `GET /user` and
/// `GET /user/memberships/orgs/{org}` for the token it mints.
#[derive(Debug, Default)]
pub struct OAuth {
    pub client_id: String,
    pub client_secret: String,
    /// Where `authorize` sends the browser back when the request names no `redirect_uri`
    /// (GitHub uses the app's registered callback URL).
    pub callback_url: String,
    /// The GitHub user who approves the next authorization: (id, login).
    pub approve_as: Option<(i64, String)>,
    /// (user id, org login) -> (role, state) as `/user/memberships/orgs/{org}` reports it.
    pub memberships: HashMap<(i64, String), (String, String)>,
    codes: HashMap<String, (i64, String)>,
    tokens: HashMap<String, (i64, String)>,
    /// Codes exchanged successfully.
    pub exchanges: u32,
    /// Every user access token minted, in order (a test searches the app's output for them).
    pub issued: Vec<String>,
}

pub(super) fn oauth_router(
    oauth: Arc<Mutex<OAuth>>,
    base: String,
    model: Arc<Mutex<Model>>,
) -> Router {
    use axum::extract::{Form, Path, Query};
    use axum::routing::{get, post};
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
                    // https://docs.github.com/en/rest/orgs/members#get-an-organization-membership-for-the-authenticated-user
                    match o.memberships.get(&(id, org.clone())) {
                        Some((role, state)) => {
                            let org_id = lock(&model)
                                .installations
                                .iter()
                                .find(|i| i.account_login.eq_ignore_ascii_case(&org))
                                .map_or(GHOST_ID + 1, |i| i.account_id);
                            let org_api = format!("{base}/orgs/{org}");
                            Reply::json(
                                StatusCode::OK,
                                &json!({
                                    "url": format!("{base}/orgs/{org}/memberships/{login}"),
                                    "state": state,
                                    "role": role,
                                    "organization_url": org_api,
                                    "organization": {
                                        "login": org,
                                        "id": org_id,
                                        "node_id": format!("O_kgDO{org_id}"),
                                        "url": org_api,
                                        "repos_url": format!("{org_api}/repos"),
                                        "events_url": format!("{org_api}/events"),
                                        "hooks_url": format!("{org_api}/hooks"),
                                        "issues_url": format!("{org_api}/issues"),
                                        "members_url": format!("{org_api}/members{{/member}}"),
                                        "public_members_url": format!("{org_api}/public_members{{/member}}"),
                                        "avatar_url": format!("https://avatars.githubusercontent.com/u/{org_id}?v=4"),
                                        "description": null,
                                    },
                                    "user": account_json(&base, id, &login, "User"),
                                }),
                            )
                            .into_response()
                        }
                        None => Reply::not_found().into_response(),
                    }
                    }
                },
            ),
        )
        .with_state(oauth)
}

pub(super) fn lock_oauth(oauth: &Mutex<OAuth>) -> MutexGuard<'_, OAuth> {
    oauth
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
