//! A fake of the part of slack.com/api that Mergecast calls: an axum server on a loopback port,
//! backed by an in-memory [`Model`] that the test arranges and then inspects.
//!
//! It follows Slack's rules rather than the client's assumptions: RPC-style `POST {base}{method}`
//! with JSON or form bodies (or a query string), bearer-token auth, HTTP 200 with `ok:false` for
//! errors, HTTP 429 with `Retry-After` for rate limits, and Slack's JSON shapes and error codes.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, Query, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The methods the fake serves; anything else is `unknown_method`, as on Slack.
pub const METHODS: &[&str] = &[
    "conversations.open",
    "chat.postMessage",
    "chat.update",
    "users.lookupByEmail",
    "users.info",
    "conversations.history",
    "conversations.replies",
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

/// Everything the fake knows. Tests may edit any field directly; the builders only fill in
/// Slack-like defaults.
#[derive(Debug, Clone)]
pub struct Model {
    /// The only token accepted (`Authorization: Bearer ...`).
    pub bot_token: String,
    pub team_id: String,
    /// Who the bot token speaks as; posted messages carry these.
    pub bot_user_id: String,
    pub bot_id: String,
    pub app_id: String,
    pub users: Vec<SlackUser>,
    /// User id -> that user's DM channel id (`D...`), created by `conversations.open`.
    pub channels: HashMap<String, String>,
    /// Every message posted, in posting order (thread replies included).
    pub messages: Vec<Message>,
    /// Every API call, in arrival order, whatever its outcome.
    pub calls: Vec<Call>,
    /// (method, error code): the next call of that method answers `{"ok":false,"error":code}`
    /// instead of running. Consumed first to last.
    pub fail_next: Vec<(String, String)>,
    /// (method, retry-after seconds): the next call of that method answers HTTP 429 with
    /// `Retry-After`. Consumed first to last, and before `fail_next`.
    pub rate_limit_next: Vec<(String, u64)>,
    /// Public channels the bot is a member of (ids like `C0...`), e.g. for the leaderboard.
    pub public_channels: Vec<String>,
    next_channel: u64,
    /// Microseconds of the last `ts` handed out, so every `ts` is unique and increasing.
    last_ts_micros: i64,
}

impl Model {
    fn new(bot_token: &str) -> Self {
        Self {
            bot_token: bot_token.to_string(),
            team_id: "T0FAKE0001".into(),
            bot_user_id: "U0FAKEBOT1".into(),
            bot_id: "B0FAKEBOT1".into(),
            app_id: "A0FAKEAPP1".into(),
            users: Vec::new(),
            channels: HashMap::new(),
            messages: Vec::new(),
            calls: Vec::new(),
            fail_next: Vec::new(),
            rate_limit_next: Vec::new(),
            public_channels: Vec::new(),
            next_channel: 0,
            last_ts_micros: 0,
        }
    }
}

/// A workspace member as `users.info` describes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackUser {
    /// `U...` (or `W...` on Enterprise Grid).
    pub id: String,
    /// The handle.
    pub name: String,
    pub real_name: String,
    pub display_name: String,
    /// `profile.email`; bots have none.
    pub email: Option<String>,
    /// IANA zone, e.g. `Europe/Berlin`.
    pub tz: String,
    pub tz_label: String,
    /// Seconds east of UTC, as Slack reports it (already including daylight saving).
    pub tz_offset: i64,
    pub is_bot: bool,
    /// Deactivated: `users.info` still answers, `users.lookupByEmail` and DMs do not.
    pub deleted: bool,
}

/// One posted message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub channel: String,
    pub ts: String,
    /// The thread's parent `ts` for replies; `None` for top-level messages.
    pub thread_ts: Option<String>,
    /// As posted; later edits are in `updated` (see [`Message::current_text`]).
    pub text: String,
    /// As posted (`Value::Null` when none were sent).
    pub blocks: Value,
    /// `{event_type, event_payload}` as posted.
    pub metadata: Option<Value>,
    /// Every later `chat.update` call's arguments (blocks and metadata parsed), in order.
    pub updated: Vec<Value>,
}

impl Message {
    /// The text Slack shows now: the last update's, else the posted one.
    pub fn current_text(&self) -> &str {
        self.updated
            .iter()
            .rev()
            .find_map(|u| u.get("text").and_then(Value::as_str))
            .unwrap_or(&self.text)
    }

    /// The blocks Slack shows now (an update without `blocks` keeps the previous ones).
    pub fn current_blocks(&self) -> &Value {
        self.updated
            .iter()
            .rev()
            .find_map(|u| u.get("blocks").filter(|b| !b.is_null()))
            .unwrap_or(&self.blocks)
    }

    /// The metadata Slack holds now (an update may replace it).
    pub fn current_metadata(&self) -> Option<&Value> {
        self.updated
            .iter()
            .rev()
            .find_map(|u| u.get("metadata").filter(|m| !m.is_null()))
            .or(self.metadata.as_ref())
    }
}

/// One API call as the fake saw and answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The Web API method, e.g. `chat.postMessage`.
    pub method: String,
    /// `GET` or `POST`.
    pub http_method: String,
    /// The arguments as sent (query string and body merged; form values stay strings), or
    /// `Value::Null` when the body could not be read.
    pub params: Value,
    /// 200, or 429 when rate limited.
    pub status: u16,
    pub ok: bool,
    pub error: Option<String>,
    /// The JSON body answered.
    pub response: Value,
}

impl Model {
    /// Adds (or replaces) an active human user; name and real name derive from the email.
    pub fn add_user(&mut self, id: &str, email: &str, tz: &str, tz_offset: i64) -> &mut SlackUser {
        let handle = email.split('@').next().unwrap_or(email).to_string();
        let mut real_name = handle.clone();
        if let Some(first) = real_name.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        self.insert_user(SlackUser {
            id: id.to_string(),
            name: handle.clone(),
            real_name,
            display_name: handle,
            email: Some(email.to_string()),
            tz: tz.to_string(),
            tz_label: tz.to_string(),
            tz_offset,
            is_bot: false,
            deleted: false,
        })
    }

    /// Adds (or replaces) a bot user: no email, Slack's default zone.
    pub fn add_bot(&mut self, id: &str, name: &str) -> &mut SlackUser {
        self.insert_user(SlackUser {
            id: id.to_string(),
            name: name.to_string(),
            real_name: name.to_string(),
            display_name: String::new(),
            email: None,
            tz: "America/Los_Angeles".into(),
            tz_label: "Pacific Standard Time".into(),
            tz_offset: -8 * 3600,
            is_bot: true,
            deleted: false,
        })
    }

    fn insert_user(&mut self, user: SlackUser) -> &mut SlackUser {
        self.users.retain(|u| u.id != user.id);
        self.users.push(user);
        self.users.last_mut().expect("just pushed")
    }

    /// The user with `id`; panics if there is none (a broken test).
    pub fn user(&mut self, id: &str) -> &mut SlackUser {
        self.users
            .iter_mut()
            .find(|u| u.id == id)
            .unwrap_or_else(|| panic!("no Slack user {id}"))
    }

    /// The DM channel opened with `user_id`, if any.
    pub fn dm_channel(&self, user_id: &str) -> Option<&str> {
        self.channels.get(user_id).map(String::as_str)
    }

    /// Messages posted in `channel`, in posting order (thread replies included).
    pub fn messages_in(&self, channel: &str) -> Vec<&Message> {
        self.messages
            .iter()
            .filter(|m| m.channel == channel)
            .collect()
    }

    /// Messages posted in the DM with `user_id`, in posting order (thread replies included).
    pub fn messages_to(&self, user_id: &str) -> Vec<&Message> {
        match self.dm_channel(user_id) {
            Some(channel) => self.messages_in(channel),
            None => Vec::new(),
        }
    }

    /// The message at (`channel`, `ts`).
    pub fn message(&self, channel: &str, ts: &str) -> Option<&Message> {
        self.messages
            .iter()
            .find(|m| m.channel == channel && m.ts == ts)
    }

    /// Calls of `method`, whatever their outcome (rate-limited and failed ones included).
    pub fn count_calls(&self, method: &str) -> usize {
        self.calls.iter().filter(|c| c.method == method).count()
    }

    /// Calls of `method`, in arrival order.
    pub fn calls_to(&self, method: &str) -> Vec<&Call> {
        self.calls.iter().filter(|c| c.method == method).collect()
    }

    /// A fresh `ts`: now in Slack's `seconds.micros` form, but always after the last one.
    fn next_ts(&mut self) -> String {
        let now = chrono::Utc::now().timestamp_micros();
        self.last_ts_micros = now.max(self.last_ts_micros + 1);
        format!(
            "{}.{:06}",
            self.last_ts_micros / 1_000_000,
            self.last_ts_micros % 1_000_000
        )
    }

    fn user_by_id(&self, id: &str) -> Option<&SlackUser> {
        self.users.iter().find(|u| u.id == id)
    }

    fn is_dm_channel(&self, channel: &str) -> bool {
        self.channels.values().any(|c| c == channel)
            || self.public_channels.iter().any(|c| c == channel)
    }

    /// The DM with `user_id`, created on first use.
    fn open_dm(&mut self, user_id: &str) -> (String, bool) {
        if let Some(channel) = self.channels.get(user_id) {
            return (channel.clone(), true);
        }
        self.next_channel += 1;
        let channel = format!("D0{:09X}", 0x00FA_0000 + self.next_channel);
        self.channels.insert(user_id.to_string(), channel.clone());
        (channel, false)
    }

    fn user_json(&self, user: &SlackUser) -> Value {
        let mut profile = json!({
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.display_name,
            "display_name_normalized": user.display_name,
            "team": self.team_id,
        });
        if let Some(email) = &user.email {
            profile["email"] = json!(email);
        }
        json!({
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": user.tz_label,
            "tz_offset": user.tz_offset,
            "is_bot": user.is_bot,
            "is_app_user": false,
            "profile": profile,
        })
    }

    /// A message as Slack returns it: current content, metadata only when asked for.
    fn message_json(&self, message: &Message, with_metadata: bool) -> Value {
        let mut out = json!({
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": message.current_text(),
            "ts": message.ts,
        });
        let blocks = message.current_blocks();
        if !blocks.is_null() {
            out["blocks"] = blocks.clone();
        }
        if let Some(thread_ts) = &message.thread_ts {
            out["thread_ts"] = json!(thread_ts);
        } else {
            let replies: Vec<&Message> = self
                .messages
                .iter()
                .filter(|m| {
                    m.channel == message.channel && m.thread_ts.as_ref() == Some(&message.ts)
                })
                .collect();
            if let Some(last) = replies.last() {
                out["thread_ts"] = json!(message.ts);
                out["reply_count"] = json!(replies.len());
                out["latest_reply"] = json!(last.ts);
            }
        }
        if with_metadata && let Some(metadata) = message.current_metadata() {
            out["metadata"] = metadata.clone();
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// One answer before it becomes an HTTP response.
struct Reply {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
}

impl Reply {
    fn ok(mut body: Value) -> Self {
        body["ok"] = json!(true);
        Self {
            status: StatusCode::OK,
            body,
            retry_after: None,
        }
    }

    /// Slack's error model: still HTTP 200.
    fn error(code: &str) -> Self {
        Self {
            status: StatusCode::OK,
            body: json!({ "ok": false, "error": code }),
            retry_after: None,
        }
    }

    fn rate_limited(secs: u64) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: json!({ "ok": false, "error": "ratelimited" }),
            retry_after: Some(secs),
        }
    }

    /// Slack's validation errors name the missing field in `response_metadata.messages`.
    fn missing(field: &str) -> Self {
        let mut reply = Self::error("invalid_arguments");
        reply.body["response_metadata"] =
            json!({ "messages": [format!("[ERROR] missing required field: {field}")] });
        reply
    }

    /// Slack's validation error for an argument of the wrong type.
    fn invalid(field: &str, why: &str) -> Self {
        let mut reply = Self::error("invalid_arguments");
        reply.body["response_metadata"] =
            json!({ "messages": [format!("[ERROR] {why} [json-pointer:/{field}]")] });
        reply
    }

    /// Slack's soft complaints about the request, e.g. `missing_charset`.
    fn warn(&mut self, warnings: &[&str]) {
        if warnings.is_empty() || self.retry_after.is_some() {
            return;
        }
        self.body["warning"] = json!(warnings.join(","));
        self.body["response_metadata"]["warnings"] = json!(warnings);
    }

    fn into_response(self) -> Response {
        let mut response = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8");
        if let Some(secs) = self.retry_after {
            response = response.header(header::RETRY_AFTER, secs.to_string());
        }
        response
            .body(Body::from(
                serde_json::to_vec(&self.body).expect("serialize JSON"),
            ))
            .expect("valid response")
    }
}

/// Arguments of one call, from the query string and the body, or the error reading them.
type Params = Map<String, Value>;

async fn handle(
    State(model): State<Arc<Mutex<Model>>>,
    Path(method_name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut warnings = Vec::new();
    let params = read_params(&method_name, &uri, &headers, body, &mut warnings).await;
    let mut reply = {
        let mut model = lock(&model);
        let reply = process(&mut model, &method_name, &headers, &params);
        let recorded = match &params {
            Ok(params) => {
                let mut params = params.clone();
                params.remove("token");
                Value::Object(params)
            }
            Err(_) => Value::Null,
        };
        model.calls.push(Call {
            method: method_name,
            http_method: method.to_string(),
            params: recorded,
            status: reply.status.as_u16(),
            ok: reply.body["ok"] == json!(true),
            error: reply.body["error"].as_str().map(str::to_string),
            response: reply.body.clone(),
        });
        reply
    };
    reply.warn(&warnings);
    reply.into_response()
}

/// Merges query-string and body arguments (the body wins), as Slack accepts both; the error is
/// Slack's code for an unreadable request. A JSON body is read only by methods that accept one
/// ([`reads_json_body`]); the others see only their query string.
async fn read_params(
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
    warnings: &mut Vec<&'static str>,
) -> Result<Params, &'static str> {
    let mut params = Params::new();
    let query: Query<Vec<(String, String)>> =
        Query::try_from_uri(uri).map_err(|_| "invalid_arguments")?;
    for (name, value) in query.0 {
        params.insert(name, Value::String(value));
    }
    if body.is_empty() {
        return Ok(params);
    }
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return Err("missing_post_type");
    };
    let mut parts = content_type.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default().to_ascii_lowercase();
    let charset = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.trim().trim_matches('"').to_ascii_lowercase());
    if let Some(charset) = &charset
        && charset != "utf-8"
        && charset != "iso-8859-1"
    {
        return Err("invalid_charset");
    }
    match essence.as_str() {
        "application/json" if !reads_json_body(method) => {}
        "application/json" => {
            if charset.is_none() {
                warnings.push("missing_charset");
            }
            let Ok(value) = serde_json::from_slice::<Value>(&body) else {
                return Err("invalid_json");
            };
            let Value::Object(object) = value else {
                return Err("json_not_object");
            };
            params.extend(object);
        }
        "application/x-www-form-urlencoded" => {
            if charset.is_some() {
                warnings.push("superfluous_charset");
            }
            let request = Request::builder()
                .method(Method::POST)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .map_err(|_| "invalid_form_data")?;
            let form = axum::Form::<Vec<(String, String)>>::from_request(request, &())
                .await
                .map_err(|_| "invalid_form_data")?;
            for (name, value) in form.0 {
                params.insert(name, Value::String(value));
            }
        }
        _ => return Err("invalid_post_type"),
    }
    Ok(params)
}

/// Routing, auth, injected failures, then the method itself.
fn process(
    model: &mut Model,
    method: &str,
    headers: &HeaderMap,
    params: &Result<Params, &'static str>,
) -> Reply {
    if !METHODS.contains(&method) {
        let mut reply = Reply::error("unknown_method");
        reply.body["req_method"] = json!(method);
        return reply;
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    match bearer {
        None => return Reply::error("not_authed"),
        Some(token) if token != model.bot_token => return Reply::error("invalid_auth"),
        Some(_) => {}
    }
    let params = match params {
        Ok(params) => params,
        Err(code) => return Reply::error(code),
    };
    if let Some(i) = model.rate_limit_next.iter().position(|(m, _)| m == method) {
        let (_, secs) = model.rate_limit_next.remove(i);
        return Reply::rate_limited(secs);
    }
    if let Some(i) = model.fail_next.iter().position(|(m, _)| m == method) {
        let (_, code) = model.fail_next.remove(i);
        return Reply::error(&code);
    }
    let args = Args(params);
    let result = match method {
        "conversations.open" => conversations_open(model, &args),
        "chat.postMessage" => chat_post_message(model, &args),
        "chat.update" => chat_update(model, &args),
        "users.lookupByEmail" => users_lookup_by_email(model, &args),
        "users.info" => users_info(model, &args),
        "conversations.history" => conversations_history(model, &args),
        "conversations.replies" => conversations_replies(model, &args),
        _ => unreachable!("listed in METHODS"),
    };
    result.unwrap_or_else(|reply| reply)
}

/// Typed access to arguments that may arrive as JSON values or as form strings.
struct Args<'a>(&'a Params);

impl Args<'_> {
    /// A non-empty string argument (numbers and booleans are read as their text).
    fn str(&self, name: &str) -> Option<String> {
        let text = match self.0.get(name)? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        (!text.trim().is_empty()).then(|| text.trim().to_string())
    }

    fn bool(&self, name: &str) -> bool {
        match self.0.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            Some(Value::String(s)) => matches!(s.trim(), "true" | "1"),
            _ => false,
        }
    }

    /// A JSON argument: a JSON value in a JSON body, or JSON text in a form field (Slack takes
    /// both). `Ok(None)` when absent; `Err(())` when the text is not JSON.
    fn json(&self, name: &str) -> Result<Option<Value>, ()> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|_| ()),
            Some(other) => Ok(Some(other.clone())),
        }
    }

    /// The offset a `cursor` (one we handed out) stands for; 0 without one.
    fn cursor(&self) -> Result<usize, Reply> {
        match self.str("cursor") {
            None => Ok(0),
            Some(cursor) => cursor
                .strip_prefix("fake_offset:")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| Reply::error("invalid_cursor")),
        }
    }

    /// `blocks`, checked the way Slack checks its shape (not the Block Kit schema).
    fn blocks(&self) -> Result<Option<Value>, Reply> {
        match self.json("blocks") {
            Err(()) => Err(Reply::error("invalid_blocks_format")),
            Ok(Some(Value::Array(blocks))) if blocks.iter().all(Value::is_object) => {
                Ok((!blocks.is_empty()).then_some(Value::Array(blocks)))
            }
            Ok(Some(_)) => Err(Reply::error("invalid_blocks")),
            Ok(None) => Ok(None),
        }
    }

    /// `metadata`: `{event_type: string, event_payload: object}`.
    fn metadata(&self) -> Result<Option<Value>, Reply> {
        match self.json("metadata") {
            Err(()) | Ok(Some(Value::Array(_) | Value::String(_) | Value::Number(_))) => {
                Err(Reply::error("invalid_metadata_format"))
            }
            Ok(Some(metadata)) => {
                let typed = metadata["event_type"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty());
                if typed && metadata["event_payload"].is_object() {
                    Ok(Some(metadata))
                } else {
                    Err(Reply::error("invalid_metadata_schema"))
                }
            }
            Ok(None) => Ok(None),
        }
    }

    /// `text`, with Slack's rule that a message needs text or blocks.
    fn text(&self, blocks: &Option<Value>) -> Result<String, Reply> {
        let text = match self.0.get("text") {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        if text.trim().is_empty() && blocks.is_none() {
            return Err(Reply::error("no_text"));
        }
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(Reply::error("msg_too_long"));
        }
        Ok(text)
    }
}

fn conversations_open(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    // `users`: "Comma separated lists of users" (a string), per
    // https://docs.slack.dev/reference/methods/conversations.open. The docs allow no JSON
    // array here, so the fake refuses one (strict where the docs are silent).
    if let Some(users) = args.0.get("users")
        && !users.is_string()
    {
        return Err(Reply::invalid("users", "expected a comma-separated string"));
    }
    let Some(users) = args.str("users") else {
        // Resuming by channel id instead of users.
        let Some(channel) = args.str("channel") else {
            return Err(Reply::error("users_list_not_supplied"));
        };
        if !model.is_dm_channel(&channel) {
            return Err(Reply::error("channel_not_found"));
        }
        return Ok(Reply::ok(json!({
            "no_op": true, "already_open": true, "channel": { "id": channel },
        })));
    };
    let ids: Vec<&str> = users.split(',').map(str::trim).collect();
    let [user_id] = ids.as_slice() else {
        // Multi-person DMs are not modelled; say so rather than pretend.
        return Err(Reply::error("fake_slack_does_not_model_mpims"));
    };
    match model.user_by_id(user_id) {
        None => return Err(Reply::error("user_not_found")),
        Some(user) if user.deleted => return Err(Reply::error("user_disabled")),
        Some(_) => {}
    }
    let (channel, existed) = model.open_dm(user_id);
    let mut body = json!({ "channel": { "id": channel } });
    if args.bool("return_im") {
        body["channel"]["is_im"] = json!(true);
        body["channel"]["user"] = json!(user_id);
    }
    if existed {
        body["no_op"] = json!(true);
        body["already_open"] = json!(true);
    }
    Ok(Reply::ok(body))
}

fn chat_post_message(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    let Some(target) = args.str("channel") else {
        return Err(Reply::error("channel_not_found"));
    };
    // Slack also takes a user id here and posts into the app's DM with that user.
    let channel = if model.is_dm_channel(&target) {
        target
    } else if model.user_by_id(&target).is_some_and(|u| !u.deleted) {
        model.open_dm(&target).0
    } else {
        return Err(Reply::error("channel_not_found"));
    };
    let blocks = args.blocks()?;
    let text = args.text(&blocks)?;
    let metadata = args.metadata()?;
    // A reply to a reply joins the parent's thread; an unknown thread_ts posts unthreaded.
    let thread_ts = args.str("thread_ts").and_then(|ts| {
        model
            .message(&channel, &ts)
            .map(|parent| parent.thread_ts.clone().unwrap_or(parent.ts.clone()))
    });
    let ts = model.next_ts();
    model.messages.push(Message {
        channel: channel.clone(),
        ts: ts.clone(),
        thread_ts,
        text,
        blocks: blocks.unwrap_or(Value::Null),
        metadata,
        updated: Vec::new(),
    });
    let posted = model.messages.last().expect("just pushed");
    let message = model.message_json(posted, true);
    Ok(Reply::ok(
        json!({ "channel": channel, "ts": ts, "message": message }),
    ))
}

fn chat_update(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    let Some(channel) = args.str("channel").filter(|c| model.is_dm_channel(c)) else {
        return Err(Reply::error("channel_not_found"));
    };
    let Some(ts) = args.str("ts") else {
        return Err(Reply::error("message_not_found"));
    };
    let Some(index) = model
        .messages
        .iter()
        .position(|m| m.channel == channel && m.ts == ts)
    else {
        return Err(Reply::error("message_not_found"));
    };
    let blocks = args.blocks()?;
    args.text(&blocks)?;
    let metadata = args.metadata()?;
    let mut update = args.0.clone();
    update.remove("token");
    for (name, value) in [("blocks", blocks), ("metadata", metadata)] {
        match value {
            Some(value) => update.insert(name.into(), value),
            None => update.remove(name),
        };
    }
    model.messages[index].updated.push(Value::Object(update));
    let message = model.message_json(&model.messages[index], true);
    let text = model.messages[index].current_text().to_string();
    Ok(Reply::ok(json!({
        "channel": channel, "ts": ts, "text": text, "message": message,
    })))
}

fn users_lookup_by_email(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    let Some(email) = args.str("email") else {
        return Err(Reply::missing("email"));
    };
    // Deactivated users are not found by email (Slack's documented behaviour).
    let user = model.users.iter().find(|u| {
        !u.deleted
            && u.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&email))
    });
    match user {
        Some(user) => Ok(Reply::ok(json!({ "user": model.user_json(user) }))),
        None => Err(Reply::error("users_not_found")),
    }
}

fn users_info(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    let user = args.str("user").and_then(|id| model.user_by_id(&id));
    match user {
        Some(user) => Ok(Reply::ok(json!({ "user": model.user_json(user) }))),
        None => Err(Reply::error("user_not_found")),
    }
}

/// Top-level messages only (thread replies stay in their thread), newest first, paged.
fn conversations_history(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    let Some(channel) = args.str("channel").filter(|c| model.is_dm_channel(c)) else {
        return Err(Reply::error("channel_not_found"));
    };
    let limit = match args.str("limit") {
        None => DEFAULT_HISTORY_LIMIT,
        Some(limit) => match limit.parse::<usize>() {
            Ok(0) => DEFAULT_HISTORY_LIMIT,
            Ok(n) => n.min(MAX_HISTORY_LIMIT),
            Err(_) => return Err(Reply::error("invalid_limit")),
        },
    };
    let offset = args.cursor()?;
    let bound = |name: &str| -> Result<Option<i128>, Reply> {
        match args.str(name) {
            None => Ok(None),
            Some(ts) => ts_micros(&ts)
                .map(Some)
                .ok_or_else(|| Reply::error(&format!("invalid_ts_{name}"))),
        }
    };
    let (oldest, latest) = (bound("oldest")?, bound("latest")?);
    let inclusive = args.bool("inclusive");
    let in_range = |ts: i128| {
        let after = oldest.is_none_or(|o| ts > o || (inclusive && ts == o));
        let before = latest.is_none_or(|l| ts < l || (inclusive && ts == l));
        after && before
    };
    let mut top: Vec<&Message> = model
        .messages
        .iter()
        .filter(|m| m.channel == channel && m.thread_ts.is_none())
        .filter(|m| ts_micros(&m.ts).is_some_and(in_range))
        .collect();
    top.reverse();
    let mut body = message_page(model, &top, args, offset, limit);
    body["pin_count"] = json!(0);
    Ok(Reply::ok(body))
}

/// A thread: the parent first, then its replies, oldest first, paged
/// (https://docs.slack.dev/reference/methods/conversations.replies). `ts` may name the parent
/// or any reply; a missing or unknown `ts` is `thread_not_found` ("Value for ts was missing or
/// invalid"). Metadata only with `include_all_metadata`, as for history.
fn conversations_replies(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    let Some(channel) = args.str("channel").filter(|c| model.is_dm_channel(c)) else {
        return Err(Reply::error("channel_not_found"));
    };
    let Some(ts) = args.str("ts") else {
        return Err(Reply::error("thread_not_found"));
    };
    let Some(named) = model.message(&channel, &ts) else {
        return Err(Reply::error("thread_not_found"));
    };
    let parent = named.thread_ts.clone().unwrap_or_else(|| named.ts.clone());
    let limit = match args.str("limit") {
        None => 1000,
        Some(limit) => match limit.parse::<usize>() {
            Ok(0) => 1000,
            Ok(n) => n.min(1000),
            Err(_) => return Err(Reply::error("invalid_limit")),
        },
    };
    let offset = args.cursor()?;
    let thread: Vec<&Message> = model
        .messages
        .iter()
        .filter(|m| {
            m.channel == channel && (m.ts == parent || m.thread_ts.as_deref() == Some(&parent))
        })
        .collect();
    Ok(Reply::ok(message_page(model, &thread, args, offset, limit)))
}

/// One page of `messages` (metadata only with `include_all_metadata`), with Slack's
/// `has_more` and `response_metadata.next_cursor`.
fn message_page(
    model: &Model,
    messages: &[&Message],
    args: &Args,
    offset: usize,
    limit: usize,
) -> Value {
    let with_metadata = args.bool("include_all_metadata");
    let page: Vec<Value> = messages
        .iter()
        .skip(offset)
        .take(limit)
        .map(|m| model.message_json(m, with_metadata))
        .collect();
    let has_more = messages.len() > offset + limit;
    let next_cursor = if has_more {
        format!("fake_offset:{}", offset + limit)
    } else {
        String::new()
    };
    json!({
        "messages": page,
        "has_more": has_more,
        "response_metadata": { "next_cursor": next_cursor },
    })
}

/// A Slack `ts` (`seconds[.fraction]`) in microseconds, for ordering and range checks.
fn ts_micros(ts: &str) -> Option<i128> {
    let (secs, fraction) = ts.split_once('.').unwrap_or((ts, ""));
    if fraction.len() > 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros = format!("{fraction:0<6}").parse::<i128>().ok()?;
    Some(secs.parse::<i128>().ok()? * 1_000_000 + micros)
}
