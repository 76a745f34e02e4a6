//! Registering a GitHub App from a manifest
//! (https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest):
//! the browser POSTs a form with a `manifest` field (JSON) to `/settings/apps/new` (personal
//! account) or `/organizations/{org}/settings/apps/new`, with `state` in the query; GitHub shows
//! the app for confirmation (the fake confirms at once, as the user clicking "Create GitHub App")
//! and redirects to the manifest's `redirect_url` with `code` and `state`. Then
//! `POST /app-manifests/{code}/conversions`
//! (https://docs.github.com/en/rest/apps/apps#create-a-github-app-from-a-manifest) answers 201
//! with the app, its `client_id`, `client_secret`, `webhook_secret` and `pem`; the code works
//! once and for one hour (404 otherwise).
//!
//! The app created is the fake's own (its id, and the test key the fake trusts), so the
//! credentials handed over work against the rest of the fake. Strict where GitHub's docs are
//! silent: the manifest must be a JSON object with `url`, `hook_attributes.url` and
//! `redirect_url` as http(s) URLs and only `read`/`write` permissions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::model::Model;
use super::{DOCS_URL, lock, private_key_pem};

/// The manifest flow's state, for tests to arrange and inspect.
#[derive(Debug)]
pub struct ManifestFlow {
    pub app_id: i64,
    pub client_id: String,
    pub client_secret: String,
    pub webhook_secret: String,
    /// Every manifest received, with the owner it was posted for (`None`: personal).
    pub received: Vec<(Option<String>, Value)>,
    /// Code -> when it was issued.
    codes: HashMap<String, DateTime<Utc>>,
    /// Successful conversions.
    pub conversions: u32,
    /// Next time, the user declines on GitHub's page (no redirect with a code).
    pub decline: bool,
}

impl ManifestFlow {
    pub fn new(app_id: i64) -> Self {
        Self {
            app_id,
            client_id: "Iv1.manifest0client".into(),
            client_secret: "manifest-client-secret-0123456789abcdef".into(),
            webhook_secret: "manifest-webhook-secret-0123456789".into(),
            received: Vec::new(),
            codes: HashMap::new(),
            conversions: 0,
            decline: false,
        }
    }

    /// Ages every issued code by `by` (a code lives one hour).
    pub fn age_codes(&mut self, by: Duration) {
        for at in self.codes.values_mut() {
            *at -= by;
        }
    }
}

type Shared = (Arc<Mutex<ManifestFlow>>, Arc<Mutex<Model>>);

fn flow(shared: &Shared) -> MutexGuard<'_, ManifestFlow> {
    shared.0.lock().unwrap_or_else(|p| p.into_inner())
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({ "message": message, "documentation_url": DOCS_URL });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn is_url(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.starts_with("https://") || s.starts_with("http://"))
}

/// GitHub's checks on the manifest, as far as its docs state them (plus strictness).
fn check_manifest(m: &Value) -> Result<(), String> {
    let Some(obj) = m.as_object() else {
        return Err("manifest must be a JSON object".into());
    };
    if !is_url(&m["url"]) {
        return Err("url is required".into());
    }
    if !is_url(&m["hook_attributes"]["url"]) {
        return Err("hook_attributes.url is required".into());
    }
    if !is_url(&m["redirect_url"]) {
        return Err("redirect_url is required".into());
    }
    if let Some(name) = obj.get("name").and_then(Value::as_str)
        && name.chars().count() > 34
    {
        return Err("name is too long (maximum is 34 characters)".into());
    }
    if let Some(perms) = obj.get("default_permissions").and_then(Value::as_object) {
        for (k, v) in perms {
            if !matches!(v.as_str(), Some("read" | "write")) {
                return Err(format!("default_permissions.{k} must be read or write"));
            }
        }
    }
    Ok(())
}

/// The new-app page: reads the form, "confirms", redirects back with a code.
fn create(
    shared: &Shared,
    owner: Option<String>,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_encoded {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the manifest is posted as a form",
        );
    }
    if let Some(org) = &owner
        && !lock(&shared.1).orgs.contains_key(org)
        && !lock(&shared.1)
            .installations
            .iter()
            .any(|i| &i.account_login == org)
    {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    let fields: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let Some(manifest) = fields
        .get("manifest")
        .and_then(|m| serde_json::from_str::<Value>(m).ok())
    else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "manifest is missing or not JSON",
        );
    };
    if let Err(why) = check_manifest(&manifest) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, &why);
    }
    let redirect = manifest["redirect_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut flow = flow(shared);
    flow.received.push((owner, manifest));
    if flow.decline {
        return (StatusCode::OK, "declined").into_response();
    }
    let code = format!("mcode{}", uuid::Uuid::new_v4().simple());
    flow.codes.insert(code.clone(), Utc::now());
    let mut target = url::Url::parse(&redirect).expect("checked URL");
    target.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = query.get("state") {
        target.query_pairs_mut().append_pair("state", state);
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

pub(super) fn router(flows: Arc<Mutex<ManifestFlow>>, model: Arc<Mutex<Model>>) -> Router {
    use axum::body::Bytes;
    use axum::routing::post;
    type Q = Query<HashMap<String, String>>;
    let shared: Shared = (flows, model);
    Router::new()
        .route(
            "/settings/apps/new",
            post(
                |State(s): State<Shared>, Query(q): Q, headers: HeaderMap, body: Bytes| async move {
                    create(&s, None, &q, &headers, &body)
                },
            ),
        )
        .route(
            "/organizations/{org}/settings/apps/new",
            post(
                |State(s): State<Shared>,
                 Path(org): Path<String>,
                 Query(q): Q,
                 headers: HeaderMap,
                 body: Bytes| async move { create(&s, Some(org), &q, &headers, &body) },
            ),
        )
        .route(
            "/app-manifests/{code}/conversions",
            post(
                |State(s): State<Shared>, Path(code): Path<String>| async move {
                    let (slug, owner, api_url) = {
                        let model = lock(&s.1);
                        (
                            model.app_slug.clone(),
                            model.app_owner.clone(),
                            model.api_url.clone(),
                        )
                    };
                    let mut flow = flow(&s);
                    let fresh = flow
                        .codes
                        .remove(&code)
                        .is_some_and(|at| Utc::now() - at < Duration::hours(1));
                    if !fresh {
                        return error(StatusCode::NOT_FOUND, "Not Found");
                    }
                    flow.conversions += 1;
                    let body = json!({
                        "id": flow.app_id,
                        "slug": slug,
                        "node_id": "MDM6QXBwNTk=",
                        "owner": { "login": owner, "id": 1, "type": "Organization" },
                        "name": "Mergecast",
                        "description": "",
                        "external_url": "",
                        "html_url": format!("{api_url}/apps/{slug}"),
                        "created_at": Utc::now().to_rfc3339(),
                        "updated_at": Utc::now().to_rfc3339(),
                        "permissions": { "metadata": "read" },
                        "events": [],
                        "client_id": flow.client_id,
                        "client_secret": flow.client_secret,
                        "webhook_secret": flow.webhook_secret,
                        "pem": private_key_pem(),
                    });
                    (
                        StatusCode::CREATED,
                        [(header::CONTENT_TYPE, "application/json")],
                        body.to_string(),
                    )
                        .into_response()
                },
            ),
        )
        .with_state(shared)
}
