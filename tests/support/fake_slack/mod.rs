//! A fake of the part of slack.com/api that Mergecast calls: an axum server on a loopback port,
//! backed by an in-memory [`Model`] that the test arranges and then inspects.
//!
//! It follows Slack's rules rather than the client's assumptions: RPC-style `POST {base}{method}`
//! with JSON or form bodies (or a query string), bearer-token auth, HTTP 200 with `ok:false` for
//! errors, HTTP 429 with `Retry-After` for rate limits, and Slack's JSON shapes and error codes.
//!
//! The parts: [`model`] (users, conversations, messages and the calls made), [`http`] (reading
//! arguments as each method accepts them, auth, injected failures) and [`methods`] (one
//! function per Web API method).

#![allow(dead_code)]

mod http;
mod methods;
mod model;

// Not every test uses every type of the fake.
#[allow(unused_imports)]
pub use model::{Call, Channel, Message, Model, SlackUser};

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use http::handle;

/// The methods the fake serves; anything else is `unknown_method`, as on Slack.
pub const METHODS: &[&str] = &[
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
    pub model: Arc<Mutex<Model>>,
    server: JoinHandle<()>,
}

impl FakeSlack {
    /// Starts the fake on a free loopback port, accepting only `bot_token`, with no users.
    pub async fn start(bot_token: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake Slack");
        let url = format!("http://{}/api/", listener.local_addr().expect("local addr"));
        let model = Arc::new(Mutex::new(Model::new(bot_token)));
        let app = Router::new()
            .route("/api/{method}", get(handle).post(handle))
            .with_state(model.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, model, server }
    }

    /// Runs `f` with the model locked, to arrange state or read what happened.
    pub fn with<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        f(&mut lock(&self.model))
    }
}

impl Drop for FakeSlack {
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
