//! A fake of the part of api.github.com that Mergecast calls: an axum server on a loopback port,
//! backed by an in-memory [`Model`] that the test arranges and then inspects.
//!
//! It enforces GitHub's rules rather than the client's assumptions: RS256 app JWTs with GitHub's
//! time limits, expiring installation tokens, `Link` pagination with absolute URLs, weak `ETag`s
//! with free 304s, primary and secondary rate limits, and GitHub's JSON shapes.
//!
//! The parts: [`model`] (the state tests arrange, made of [`records`]), [`http`] (the server
//! loop, replies, rate limits, ETags), [`auth`] (app JWTs and installation tokens), [`routes`]
//! (one function per endpoint), [`teams`] (teams and Copilot seats), [`paging`] (query strings and `Link` pagination), [`json`]
//! (GitHub's JSON shapes), [`oauth`] (the admin sign-in's web flow), [`foreign`] (a host that is
//! not GitHub) and [`webhooks`] (delivery bodies rendered from the same model).

#![allow(dead_code)]

mod auth;
mod foreign;
mod http;
mod json;
mod manifest;
mod model;
mod oauth;
mod paging;
mod records;
mod routes;
mod teams;
mod webhooks;

// Not every test uses every type of the fake.
#[allow(unused_imports)]
pub use foreign::{ForeignHost, ForeignRequest};
pub use manifest::ManifestFlow;
#[allow(unused_imports)]
pub use model::{
    Collaborator, Commit, CopilotSeat, HookDelivery, Installation, Invitation, Issue, Model, Pull,
    RateLimit, Repo, RequestLog, Review, SecondaryLimit, Team, Token, User, now,
};
pub use oauth::OAuth;
#[allow(unused_imports)]
pub use webhooks::{
    CollaboratorAction, InstallationAction, IssueAction, OrgAction, PullAction, ReviewAction,
    TeamAction, Webhook,
};

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use http::{Server, handle};

use oauth::oauth_router;

const DOCS_URL: &str = "https://docs.github.com/rest";
const RATE_DOCS_URL: &str =
    "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api";
/// GitHub's default primary limit for an installation (and for an app's JWT).
pub const DEFAULT_RATE_LIMIT: u32 = 5000;
/// Length of a primary rate-limit window.
const RATE_WINDOW_SECS: i64 = 3600;
/// Clock skew tolerated on a JWT's `exp`, in both directions.
const JWT_EXP_SKEW_SECS: i64 = 30;
/// GitHub refuses app JWTs that expire more than ten minutes ahead.
const JWT_MAX_LIFETIME_SECS: i64 = 600;
/// How far in the future `iat` may be before the JWT is refused.
const JWT_IAT_SKEW_SECS: i64 = 60;
/// GitHub shows authors of content whose account is gone as this user.
const GHOST_ID: i64 = 10137;
const DEFAULT_PER_PAGE: usize = 30;

/// The test app's private key (PKCS#1 PEM), for configuring the client under test.
pub fn private_key_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/keys/test-app.pem")
}

/// The public half of [`private_key_path`], the only key the fake trusts.
pub fn public_key_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/keys/test-app.pub.pem")
}

/// The test app's private key as PEM text.
pub fn private_key_pem() -> String {
    std::fs::read_to_string(private_key_path()).expect("read test app private key")
}

/// Signs arbitrary `claims` with the test app key (RS256), to probe the fake's JWT checks.
pub fn sign_jwt(claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(private_key_pem().as_bytes()).expect("test app key");
    encode(&Header::new(Algorithm::RS256), claims, &key).expect("sign JWT")
}

/// A JWT GitHub accepts for `app_id`: issued a minute ago (clock drift), expiring in nine.
pub fn app_jwt(app_id: i64) -> String {
    let now = Utc::now().timestamp();
    sign_jwt(&json!({ "iat": now - 60, "exp": now + 540, "iss": app_id.to_string() }))
}

/// A running fake; the server stops when this is dropped.
pub struct FakeGithub {
    /// Base URL, `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    pub model: Arc<Mutex<Model>>,
    pub app_id: i64,
    /// The OAuth web flow and the signed-in user's endpoints (admin sign-in).
    pub oauth: Arc<Mutex<OAuth>>,
    /// Registering an app from a manifest (the setup page's first GitHub step).
    pub manifest: Arc<Mutex<ManifestFlow>>,
    server: JoinHandle<()>,
}

impl FakeGithub {
    /// Starts the fake for `app_id` on a free loopback port, with an empty model.
    pub async fn start(app_id: i64) -> Self {
        let pem = std::fs::read(public_key_path()).expect("read test app public key");
        let key = DecodingKey::from_rsa_pem(&pem).expect("test app public key");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake GitHub");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let mut model = Model::default();
        model.api_url = url.clone();
        model.app_id = app_id;
        let model = Arc::new(Mutex::new(model));
        let state = Arc::new(Server {
            url: url.clone(),
            app_id,
            key,
            model: model.clone(),
        });
        let oauth = Arc::new(Mutex::new(OAuth::default()));
        let manifest = Arc::new(Mutex::new(ManifestFlow::new(app_id)));
        let app = Router::new()
            .fallback(handle)
            .with_state(state)
            .merge(oauth_router(oauth.clone(), url.clone(), model.clone()))
            .merge(manifest::router(manifest.clone(), model.clone()));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            model,
            app_id,
            oauth,
            manifest,
            server,
        }
    }

    /// Runs `f` with the model locked, to arrange state or read what happened.
    pub fn with<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        f(&mut lock(&self.model))
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A panicking test must not poison the model for the assertions that follow.
fn lock(model: &Mutex<Model>) -> MutexGuard<'_, Model> {
    model
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
