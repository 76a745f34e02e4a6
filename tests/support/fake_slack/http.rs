//! The fake's HTTP side: arguments read from the query string, a form or a JSON body as each
//! method accepts them (https://docs.slack.dev/apis/web-api/#post-bodies), bearer-token auth
//! routed to the token's workspace, `ok:false` errors with HTTP 200, 429s with `Retry-After`
//! (https://docs.slack.dev/apis/web-api/rate-limits), and the call log.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, Query, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::methods::{
    auth_test, chat_post_message, chat_update, conversations_history, conversations_list,
    conversations_open, conversations_replies, users_info, users_lookup_by_email,
};
use super::model::{Call, Model};
use super::oauth::oauth_v2_access;
use super::{MAX_TEXT_CHARS, METHODS, Shared, lock, reads_json_body};

/// One answer before it becomes an HTTP response.
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) body: Value,
    pub(super) retry_after: Option<u64>,
}

impl Reply {
    pub(super) fn ok(mut body: Value) -> Self {
        body["ok"] = json!(true);
        Self {
            status: StatusCode::OK,
            body,
            retry_after: None,
        }
    }

    /// Slack's error model: still HTTP 200.
    pub(super) fn error(code: &str) -> Self {
        Self {
            status: StatusCode::OK,
            body: json!({ "ok": false, "error": code }),
            retry_after: None,
        }
    }

    pub(super) fn rate_limited(secs: u64) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: json!({ "ok": false, "error": "ratelimited" }),
            retry_after: Some(secs),
        }
    }

    /// Slack's validation errors name the missing field in `response_metadata.messages`.
    pub(super) fn missing(field: &str) -> Self {
        let mut reply = Self::error("invalid_arguments");
        reply.body["response_metadata"] =
            json!({ "messages": [format!("[ERROR] missing required field: {field}")] });
        reply
    }

    /// Slack's validation error for an argument of the wrong type.
    pub(super) fn invalid(field: &str, why: &str) -> Self {
        let mut reply = Self::error("invalid_arguments");
        reply.body["response_metadata"] =
            json!({ "messages": [format!("[ERROR] {why} [json-pointer:/{field}]")] });
        reply
    }

    /// Slack's soft complaints about the request, e.g. `missing_charset`.
    pub(super) fn warn(&mut self, warnings: &[&str]) {
        if warnings.is_empty() || self.retry_after.is_some() {
            return;
        }
        self.body["warning"] = json!(warnings.join(","));
        self.body["response_metadata"]["warnings"] = json!(warnings);
    }

    pub(super) fn into_response(self) -> Response {
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
pub(super) type Params = Map<String, Value>;

/// One Web API call: `oauth.v2.access` authenticates the app by its client credentials
/// ([`oauth_v2_access`]); every other method runs against the workspace its bearer token
/// belongs to ([`Shared::route`]) and is logged in that workspace's `calls`.
pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    Path(method_name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut warnings = Vec::new();
    let params = read_params(&method_name, &uri, &headers, body, &mut warnings).await;
    if method_name == "oauth.v2.access" {
        let mut reply = oauth_v2_access(&shared, &method, &headers, &params);
        reply.warn(&warnings);
        return reply.into_response();
    }
    let workspace = shared.route(bearer(&headers));
    let mut reply = {
        let mut model = lock(&workspace.model);
        let reply = process(&mut model, &method_name, &headers, &params);
        record(
            &mut model,
            method_name,
            &method,
            &params,
            &reply,
            &["token"],
        );
        reply
    };
    reply.warn(&warnings);
    reply.into_response()
}

/// Logs a call in `model.calls`, its arguments without those named in `secret`.
pub(super) fn record(
    model: &mut Model,
    method_name: String,
    method: &Method,
    params: &Result<Params, &'static str>,
    reply: &Reply,
    secret: &[&str],
) {
    let recorded = match params {
        Ok(params) => {
            let mut params = params.clone();
            for name in secret {
                params.remove(*name);
            }
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
}

/// The token of an `Authorization: Bearer <token>` header, if there is a non-empty one.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
}

/// Merges query-string and body arguments (the body wins), as Slack accepts both; the error is
/// Slack's code for an unreadable request. A JSON body is read only by methods that accept one
/// ([`reads_json_body`]); the others see only their query string.
pub(super) async fn read_params(
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

/// Routing, auth, injected failures, then the method itself. `model` is the workspace the
/// bearer token was routed to: its current `bot_token` is accepted, one of its
/// `revoked_tokens` is `token_revoked` (https://docs.slack.dev/reference/methods/auth.test,
/// "Errors"), anything else `invalid_auth`, no token `not_authed`.
pub(super) fn process(
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
    match bearer(headers) {
        None => return Reply::error("not_authed"),
        Some(token) if token == model.bot_token => {}
        Some(token) if model.revoked_tokens.iter().any(|t| t == token) => {
            return Reply::error("token_revoked");
        }
        Some(_) => return Reply::error("invalid_auth"),
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
        "auth.test" => auth_test(model, &args),
        "conversations.open" => conversations_open(model, &args),
        "chat.postMessage" => chat_post_message(model, &args),
        "chat.update" => chat_update(model, &args),
        "users.lookupByEmail" => users_lookup_by_email(model, &args),
        "users.info" => users_info(model, &args),
        "conversations.history" => conversations_history(model, &args),
        "conversations.replies" => conversations_replies(model, &args),
        "conversations.list" => conversations_list(model, &args),
        // oauth.v2.access is answered by `handle` before any workspace is chosen.
        _ => unreachable!("listed in METHODS"),
    };
    result.unwrap_or_else(|reply| reply)
}

/// Typed access to arguments that may arrive as JSON values or as form strings.
pub(super) struct Args<'a>(pub(super) &'a Params);

impl Args<'_> {
    /// A non-empty string argument (numbers and booleans are read as their text).
    pub(super) fn str(&self, name: &str) -> Option<String> {
        let text = match self.0.get(name)? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        (!text.trim().is_empty()).then(|| text.trim().to_string())
    }

    pub(super) fn bool(&self, name: &str) -> bool {
        match self.0.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            Some(Value::String(s)) => matches!(s.trim(), "true" | "1"),
            _ => false,
        }
    }

    /// A JSON argument: a JSON value in a JSON body, or JSON text in a form field (Slack takes
    /// both). `Ok(None)` when absent; `Err(())` when the text is not JSON.
    pub(super) fn json(&self, name: &str) -> Result<Option<Value>, ()> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|_| ()),
            Some(other) => Ok(Some(other.clone())),
        }
    }

    /// The offset a `cursor` (one we handed out) stands for; 0 without one.
    pub(super) fn cursor(&self) -> Result<usize, Reply> {
        match self.str("cursor") {
            None => Ok(0),
            Some(cursor) => cursor
                .strip_prefix("fake_offset:")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| Reply::error("invalid_cursor")),
        }
    }

    /// `blocks`, checked the way Slack checks its shape (not the Block Kit schema).
    pub(super) fn blocks(&self) -> Result<Option<Value>, Reply> {
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
    pub(super) fn metadata(&self) -> Result<Option<Value>, Reply> {
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
    pub(super) fn text(&self, blocks: &Option<Value>) -> Result<String, Reply> {
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
