//! A fake of the part of slack.com that Mergecast talks to: an axum server on a loopback port
//! serving the Web API (`/api/{method}`) and Slack's OAuth v2 install pages
//! (`/oauth/v2/authorize`), backed by in-memory [`Model`]s (one per workspace) that the test
//! arranges and then inspects.
//!
//! It follows Slack's rules rather than the client's assumptions: RPC-style `POST {base}{method}`
//! with JSON or form bodies (or a query string), bearer-token auth routed to the workspace the
//! token belongs to, HTTP 200 with `ok:false` for errors, HTTP 429 with `Retry-After` for rate
//! limits, and Slack's JSON shapes and error codes.
//!
//! The parts: [`model`] (one workspace: users, conversations, messages and the calls made),
//! [`http`] (reading arguments as each method accepts them, routing by token, auth, injected
//! failures), [`methods`] (one function per Web API method), [`oauth`] (the install flow and
//! `oauth.v2.access`) and [`events`] (Events API payloads Slack would push to the app).

#![allow(dead_code)]

pub mod events;
mod http;
mod methods;
mod model;
mod oauth;

// Not every test uses every type of the fake.
#[allow(unused_imports)]
pub use events::{app_uninstalled, tokens_revoked, url_verification};
#[allow(unused_imports)]
pub use model::{Call, Channel, DEFAULT_TEAM_ID, Message, Model, SlackUser, bot_user_id_of};

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use http::handle;
use oauth::{OAuth, OAuthApp, authorize_decision, authorize_page};

/// The methods the fake serves; anything else is `unknown_method`, as on Slack.
pub const METHODS: &[&str] = &[
    "auth.test",
    "oauth.v2.access",
    "conversations.open",
    "chat.postMessage",
    "chat.update",
    "users.lookupByEmail",
    "users.info",
    "conversations.history",
    "conversations.replies",
    "conversations.list",
];

/// Whether `method` reads a JSON body. Slack's Web API reads `application/json` bodies only for
/// (most) write methods; every method reads query-string and form arguments. Each method's
/// reference page lists its "Accepted content types":
/// - conversations.open: form, JSON — https://docs.slack.dev/reference/methods/conversations.open
/// - chat.postMessage: form, JSON — https://docs.slack.dev/reference/methods/chat.postMessage
/// - chat.update: form, JSON — https://docs.slack.dev/reference/methods/chat.update
/// - users.lookupByEmail: form only — https://docs.slack.dev/reference/methods/users.lookupByEmail
/// - users.info: form only — https://docs.slack.dev/reference/methods/users.info
/// - conversations.history: form only — https://docs.slack.dev/reference/methods/conversations.history
/// - conversations.replies: form only — https://docs.slack.dev/reference/methods/conversations.replies
/// - conversations.list: form only — https://docs.slack.dev/reference/methods/conversations.list
/// - auth.test: form only — https://docs.slack.dev/reference/methods/auth.test
/// - oauth.v2.access: form only — https://docs.slack.dev/reference/methods/oauth.v2.access
///
/// ("Basic overview", https://docs.slack.dev/apis/web-api/#post-bodies: "JSON-encoded bodies
/// ... are not yet supported by all methods".) A JSON body sent to a form-only method is not
/// read at all: its arguments are missing, and the method answers as it does when they are
/// (`invalid_arguments`, `user_not_found`, `channel_not_found`).
pub fn reads_json_body(method: &str) -> bool {
    matches!(
        method,
        "conversations.open" | "chat.postMessage" | "chat.update"
    )
}

/// Slack truncates nothing: longer `text` is refused with `msg_too_long`.
const MAX_TEXT_CHARS: usize = 40_000;
/// `conversations.history` pages: Slack's default and its ceiling.
const DEFAULT_HISTORY_LIMIT: usize = 100;
const MAX_HISTORY_LIMIT: usize = 999;
/// `conversations.list` pages: "default 100", at most 1000
/// (https://docs.slack.dev/reference/methods/conversations.list).
const DEFAULT_LIST_LIMIT: usize = 100;
const MAX_LIST_LIMIT: usize = 1000;

/// A running fake; the server stops when this is dropped.
pub struct FakeSlack {
    /// Base URL of the Web API, `http://127.0.0.1:PORT/api/`, with the trailing slash Slack
    /// clients expect (they append the method name).
    pub url: String,
    /// Base URL of Slack's web pages, `http://127.0.0.1:PORT` (no trailing slash): the OAuth
    /// install page is `{web_url}/oauth/v2/authorize`.
    pub web_url: String,
    /// The default workspace's model (team [`DEFAULT_TEAM_ID`]).
    pub model: Arc<Mutex<Model>>,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

/// One workspace of the fake: a cheap handle on its model.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub model: Arc<Mutex<Model>>,
}

impl Workspace {
    /// Runs `f` with this workspace's model locked.
    pub fn with<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        f(&mut lock(&self.model))
    }

    pub fn team_id(&self) -> String {
        self.with(|m| m.team_id.clone())
    }
}

/// What the server's handlers share: the workspaces (the default one first) and the OAuth
/// app and its codes.
struct Shared {
    workspaces: Mutex<Vec<Workspace>>,
    oauth: Mutex<OAuth>,
}

impl Shared {
    /// The workspaces, the default one first (a snapshot: no lock is held afterwards).
    fn workspaces(&self) -> Vec<Workspace> {
        lock(&self.workspaces).clone()
    }

    fn default_workspace(&self) -> Workspace {
        self.workspaces()
            .into_iter()
            .next()
            .expect("the default workspace")
    }

    fn workspace(&self, team_id: &str) -> Option<Workspace> {
        self.workspaces()
            .into_iter()
            .find(|w| w.with(|m| m.team_id == team_id))
    }

    /// The workspace a bearer token speaks for: the one whose `bot_token` it is, else the one
    /// that revoked it (which answers `token_revoked`), else the default one (which answers
    /// `not_authed` or `invalid_auth`, and logs the call).
    fn route(&self, token: Option<&str>) -> Workspace {
        let all = self.workspaces();
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            if let Some(w) = all.iter().find(|w| w.with(|m| m.bot_token == token)) {
                return w.clone();
            }
            let revoked = |m: &mut Model| m.revoked_tokens.iter().any(|t| t == token);
            if let Some(w) = all.iter().find(|w| w.with(revoked)) {
                return w.clone();
            }
        }
        all[0].clone()
    }
}

impl FakeSlack {
    /// Starts the fake on a free loopback port with one workspace (team [`DEFAULT_TEAM_ID`],
    /// "Fake Workspace"), accepting only `bot_token`, with no users and no OAuth app.
    pub async fn start(bot_token: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake Slack");
        let addr = listener.local_addr().expect("local addr");
        let url = format!("http://{addr}/api/");
        let web_url = format!("http://{addr}");
        let model = Arc::new(Mutex::new(Model::new(bot_token)));
        let shared = Arc::new(Shared {
            workspaces: Mutex::new(vec![Workspace {
                model: model.clone(),
            }]),
            oauth: Mutex::new(OAuth::default()),
        });
        let app = Router::new()
            .route("/api/{method}", get(handle).post(handle))
            .route(
                "/oauth/v2/authorize",
                get(authorize_page).post(authorize_decision),
            )
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            web_url,
            model,
            shared,
            server,
        }
    }

    /// Runs `f` with the default workspace's model locked, to arrange state or read what
    /// happened.
    pub fn with<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        f(&mut lock(&self.model))
    }

    /// Adds a workspace (a Slack team the app is installed in, speaking through `bot_token`).
    /// Its bot user, bot and DM ids derive from `team_id`; the app id is the default
    /// workspace's (one app, installed in several workspaces). Panics if the team id or the
    /// token is taken (a broken test).
    pub fn add_workspace(&self, team_id: &str, team_name: &str, bot_token: &str) -> Workspace {
        let mut workspaces = lock(&self.shared.workspaces);
        for w in workspaces.iter() {
            w.with(|m| {
                assert_ne!(m.team_id, team_id, "workspace {team_id} exists already");
                assert_ne!(m.bot_token, bot_token, "bot token of {} already", m.team_id);
            });
        }
        let model = Model::for_team(team_id, team_name, bot_token, &lock(&self.model));
        let workspace = Workspace {
            model: Arc::new(Mutex::new(model)),
        };
        workspaces.push(workspace.clone());
        workspace
    }

    /// The workspace of `team_id`, if the fake hosts it.
    pub fn workspace(&self, team_id: &str) -> Option<Workspace> {
        self.shared.workspace(team_id)
    }

    /// The workspace [`FakeSlack::start`] created (the one `model` and `with` reach).
    pub fn default_workspace(&self) -> Workspace {
        Workspace {
            model: self.model.clone(),
        }
    }

    /// Configures the one Slack app the fake knows, as its "Basic Information" (client id and
    /// secret) and "OAuth & Permissions" (Redirect URLs) pages would
    /// (https://docs.slack.dev/authentication/installing-with-oauth). Replaces any earlier one.
    pub fn set_oauth_app(&self, client_id: &str, client_secret: &str, redirect_urls: &[&str]) {
        lock(&self.shared.oauth).app = Some(OAuthApp {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_urls: redirect_urls.iter().map(|u| u.to_string()).collect(),
        });
    }

    /// Makes every OAuth code handed out so far `by` older (codes expire ten minutes after they
    /// are issued).
    pub fn age_oauth_codes(&self, by: Duration) {
        for code in &mut lock(&self.shared.oauth).codes {
            code.aged += by;
        }
    }

    /// Every install approved on the consent page, in order: (team id, bot scopes granted).
    pub fn oauth_installs(&self) -> Vec<(String, Vec<String>)> {
        lock(&self.shared.oauth).installs.clone()
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A panicking test must not poison the state for the assertions that follow.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
