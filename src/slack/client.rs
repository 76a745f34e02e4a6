//! The Slack Web API calls Mergecast makes, with Slack's error model: HTTP 200 with `ok:false`
//! and an error code, or HTTP 429 with `Retry-After`.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use thiserror::Error;

use crate::config::SlackConfig;

/// A failed Slack call, sorted by what to do about it.
#[derive(Debug, Error)]
pub enum SlackError {
    #[error("network: {0}")]
    Http(#[from] reqwest::Error),
    #[error("slack rate limit: retry after {0:?}")]
    RateLimited(Duration),
    /// Slack's own error code (`user_not_found`, `channel_not_found`, `not_authed`, ...).
    #[error("slack error: {0}")]
    Api(String),
    #[error("unexpected slack response: {0}")]
    Decode(String),
}

impl SlackError {
    /// Errors worth retrying later (network trouble, rate limits, Slack's own hiccups).
    pub fn is_transient(&self) -> bool {
        match self {
            SlackError::Http(_) | SlackError::RateLimited(_) => true,
            SlackError::Api(code) => matches!(
                code.as_str(),
                "internal_error"
                    | "fatal_error"
                    | "service_unavailable"
                    | "request_timeout"
                    | "ratelimited"
            ),
            SlackError::Decode(_) => false,
        }
    }

    /// The short code recorded on a survey (`user_not_found`, `ratelimited`, `network`...).
    pub fn code(&self) -> String {
        match self {
            SlackError::Api(code) => code.clone(),
            SlackError::RateLimited(_) => "ratelimited".into(),
            SlackError::Http(_) => "network".into(),
            SlackError::Decode(_) => "bad_response".into(),
        }
    }
}

/// A Slack user as far as we need one.
#[derive(Debug, Clone, Deserialize)]
pub struct SlackUser {
    pub id: String,
    #[serde(default)]
    pub tz: Option<String>,
    #[serde(default)]
    pub tz_offset: Option<i32>,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub deleted: bool,
}

/// A posted message's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// One client per process (connection pool inside).
#[derive(Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    api_url: String,
    token: String,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl SlackClient {
    pub fn new(config: &SlackConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("mergecast/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            http,
            api_url: config.api_url.clone(),
            token: config.bot_token.clone(),
        }
    }

    /// Calls `method` with a JSON body; returns the response object when `ok` is true.
    pub async fn call(&self, method: &str, body: Value) -> Result<Value, SlackError> {
        let response = self
            .http
            .post(format!("{}{}", self.api_url, method))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let secs = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(30);
            return Err(SlackError::RateLimited(Duration::from_secs(secs)));
        }
        let status = response.status();
        let value: Value = response
            .json()
            .await
            .map_err(|e| SlackError::Decode(format!("HTTP {status}: {e}")))?;
        if value.get("ok").and_then(Value::as_bool) == Some(true) {
            Ok(value)
        } else {
            let code = value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown_error");
            Err(SlackError::Api(code.to_owned()))
        }
    }

    pub async fn lookup_by_email(&self, email: &str) -> Result<SlackUser, SlackError> {
        let v = self
            .call("users.lookupByEmail", json!({ "email": email }))
            .await?;
        serde_json::from_value(v["user"].clone()).map_err(|e| SlackError::Decode(e.to_string()))
    }

    pub async fn user_info(&self, user: &str) -> Result<SlackUser, SlackError> {
        let v = self.call("users.info", json!({ "user": user })).await?;
        serde_json::from_value(v["user"].clone()).map_err(|e| SlackError::Decode(e.to_string()))
    }

    /// The DM channel with `user` (Slack returns the same one every time).
    pub async fn open_dm(&self, user: &str) -> Result<String, SlackError> {
        let v = self
            .call("conversations.open", json!({ "users": user }))
            .await?;
        v["channel"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SlackError::Decode("conversations.open without channel id".into()))
    }

    /// Posts a message carrying `key` in its metadata, so a crash between posting and recording
    /// can be told apart from a message never sent.
    pub async fn post(
        &self,
        channel: &str,
        text: &str,
        blocks: Option<Value>,
        thread_ts: Option<&str>,
        key: &str,
    ) -> Result<Posted, SlackError> {
        let mut body = json!({
            "channel": channel,
            "text": text,
            "unfurl_links": false,
            "metadata": { "event_type": "mergecast_message", "event_payload": { "key": key } },
        });
        if let Some(blocks) = blocks {
            body["blocks"] = blocks;
        }
        if let Some(ts) = thread_ts {
            body["thread_ts"] = json!(ts);
        }
        let v = self.call("chat.postMessage", body).await?;
        Ok(Posted {
            channel: v["channel"].as_str().unwrap_or(channel).to_owned(),
            ts: v["ts"].as_str().unwrap_or_default().to_owned(),
        })
    }

    pub async fn update(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Value,
    ) -> Result<(), SlackError> {
        self.call(
            "chat.update",
            json!({ "channel": channel, "ts": ts, "text": text, "blocks": blocks }),
        )
        .await?;
        Ok(())
    }

    /// Finds a message we posted with metadata `key` among a channel's recent messages.
    pub async fn find_posted(
        &self,
        channel: &str,
        key: &str,
    ) -> Result<Option<String>, SlackError> {
        let v = self
            .call(
                "conversations.history",
                json!({ "channel": channel, "limit": 100, "include_all_metadata": true }),
            )
            .await?;
        Ok(v["messages"].as_array().and_then(|messages| {
            messages.iter().find_map(|m| {
                (m["metadata"]["event_payload"]["key"].as_str() == Some(key))
                    .then(|| m["ts"].as_str().map(str::to_owned))
                    .flatten()
            })
        }))
    }
}
