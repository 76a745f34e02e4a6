//! The Slack Web API calls Mergecast makes, through slack-morphism's typed API, with Slack's
//! error model kept visible: HTTP 200 with `ok:false` and an error code (recorded per survey and
//! participant), or HTTP 429 with `Retry-After` (waited out by the survey steps).
//!
//! slack-morphism sends each method the way Slack reads it: the read methods
//! (`users.lookupByEmail`, `users.info`, `conversations.history`, `conversations.list`) as `GET`
//! with a query string, since Slack ignores a JSON body there; the write methods
//! (`conversations.open`, `chat.postMessage`, `chat.update`) as JSON. Its automatic rate
//! control is left off on purpose: it would sleep and retry inside a call, while we record the
//! 429 and retry the whole (idempotent) step ourselves, driven by the `retry_after` it reports.

use std::sync::Arc;
use std::time::Duration;

use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use thiserror::Error;

use tokio::sync::OnceCell;

/// How long one Web API call may take before it counts as a network failure.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Slack's `Retry-After` when a 429 comes without one (Slack always sends it; be patient).
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);
/// The `event_type` of the metadata we attach to every message we post.
pub const METADATA_EVENT_TYPE: &str = "mergecast_message";

/// A failed Slack call, sorted by what to do about it.
#[derive(Debug, Error)]
pub enum SlackError {
    /// Connection trouble, a timeout, or Slack answering with a non-200 HTTP status.
    #[error("network: {0}")]
    Network(String),
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
            SlackError::Network(_) | SlackError::RateLimited(_) => true,
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

    /// Slack refused the token itself (https://docs.slack.dev/apis/web-api/#errors, each
    /// method's error list): revoked, uninstalled, expired, or its workspace or user deactivated.
    /// Nothing sent with it will work until the workspace is added again.
    pub fn is_token_refused(&self) -> bool {
        matches!(self, SlackError::Api(code) if matches!(
            code.as_str(),
            "not_authed"
                | "invalid_auth"
                | "token_revoked"
                | "token_expired"
                | "account_inactive"
                | "team_access_not_granted"
                | "no_permission"
                | "org_login_required"
                | "ekm_access_denied"
        ))
    }

    /// The short code recorded on a survey (`user_not_found`, `ratelimited`, `network`...).
    pub fn code(&self) -> String {
        match self {
            SlackError::Api(code) => code.clone(),
            SlackError::RateLimited(_) => "ratelimited".into(),
            SlackError::Network(_) => "network".into(),
            SlackError::Decode(_) => "bad_response".into(),
        }
    }
}

impl From<SlackClientError> for SlackError {
    fn from(e: SlackClientError) -> Self {
        match e {
            SlackClientError::ApiError(api) => SlackError::Api(api.code),
            SlackClientError::RateLimitError(rate) => {
                SlackError::RateLimited(rate.retry_after.unwrap_or(DEFAULT_RETRY_AFTER))
            }
            SlackClientError::HttpError(http) => {
                SlackError::Network(format!("HTTP {}", http.status_code))
            }
            SlackClientError::ProtocolError(p) => SlackError::Decode(p.json_error.to_string()),
            other => SlackError::Network(other.to_string()),
        }
    }
}

/// A Slack user as far as we need one.
#[derive(Debug, Clone)]
pub struct SlackUser {
    pub id: String,
    /// IANA zone name, e.g. `America/New_York`.
    pub tz: Option<String>,
    /// Seconds east of UTC right now, as Slack reports it.
    pub tz_offset: Option<i32>,
    pub is_bot: bool,
    pub deleted: bool,
}

impl From<slack_morphism::SlackUser> for SlackUser {
    fn from(u: slack_morphism::SlackUser) -> Self {
        Self {
            id: u.id.0,
            tz: u.tz,
            tz_offset: u.tz_offset,
            is_bot: u.flags.is_bot.unwrap_or(false),
            deleted: u.deleted.unwrap_or(false),
        }
    }
}

/// A channel of the workspace, as the settings page offers it for the weekly board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackChannel {
    pub id: String,
    pub name: String,
    pub is_private: bool,
    /// Whether the bot is in it (it can post there only then).
    pub is_member: bool,
}

/// Channels listed per `conversations.list` page (Slack: at most 1000, fewer recommended).
const CHANNELS_PAGE: u16 = 200;
/// Pages read at most (so a huge workspace cannot hold the settings page for long).
const CHANNELS_MAX_PAGES: usize = 25;

/// A posted message's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// A message's content: the notification `text` and the Block Kit `blocks` shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    pub text: String,
    pub blocks: Vec<SlackBlock>,
}

/// The process's one connection to Slack's Web API: slack-morphism's hyper client (connection
/// pool inside) and the API base. Each workspace's [`SlackClient`] shares it.
#[derive(Clone)]
pub struct SlackHttp {
    client: Arc<SlackHyperClient>,
    api_url: String,
}

impl std::fmt::Debug for SlackHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackHttp")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// What `oauth.v2.access` granted: a workspace's bot token and who it is.
#[derive(Clone)]
pub struct OAuthGrant {
    pub bot_token: String,
    pub team_id: String,
    pub team_name: String,
    pub bot_user_id: Option<String>,
    pub scopes: String,
}

impl std::fmt::Debug for OAuthGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthGrant")
            .field("team_id", &self.team_id)
            .field("team_name", &self.team_name)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl SlackHttp {
    /// A client for `api_url` (Slack's, or a fake's). The connector accepts plain `http://`
    /// too, so loopback fakes work; TLS roots are Mozilla's (webpki), so the process does not
    /// depend on the host's certificate store.
    pub fn new(api_url: &str) -> Self {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        // slack-morphism appends `/{method}` itself.
        let api_url = api_url.trim_end_matches('/').to_owned();
        let connector =
            SlackClientHyperConnector::with_connector(https).with_slack_api_url(&api_url);
        Self {
            client: Arc::new(slack_morphism::SlackClient::new(connector)),
            api_url,
        }
    }

    /// A workspace's client: its bot token, and its team id when known (the default token's is
    /// asked of `auth.test` once, then kept in `team`, which clones share).
    pub fn client(&self, token: &str, team: Arc<OnceCell<String>>) -> SlackClient {
        SlackClient {
            client: self.client.clone(),
            token: SlackApiToken::new(SlackApiTokenValue(token.to_owned())),
            api_url: self.api_url.clone(),
            team,
        }
    }

    /// Exchanges an "Add to Slack" code for the workspace's bot token: `oauth.v2.access`
    /// (https://docs.slack.dev/reference/methods/oauth.v2.access), which slack-morphism sends
    /// with the client credentials as HTTP Basic auth, as Slack prefers. `redirect_uri` must
    /// be the one the consent page was opened with.
    pub async fn oauth_access(
        &self,
        client_id: &str,
        client_secret: &str,
        code: &str,
        redirect_uri: Option<&str>,
    ) -> Result<OAuthGrant, SlackError> {
        let mut request = SlackOAuthV2AccessTokenRequest::new(
            SlackClientId(client_id.to_owned()),
            SlackClientSecret(client_secret.to_owned()),
            SlackOAuthCode(code.to_owned()),
        );
        if let Some(uri) = redirect_uri {
            let url = uri
                .parse()
                .map_err(|_| SlackError::Decode(format!("redirect uri {uri:?} is not a URL")))?;
            request = request.with_redirect_uri(url);
        }
        let response =
            match tokio::time::timeout(CALL_TIMEOUT, self.client.oauth2_access(&request)).await {
                Ok(result) => result.map_err(SlackError::from)?,
                Err(_) => {
                    return Err(SlackError::Network(format!(
                        "no answer within {CALL_TIMEOUT:?}"
                    )));
                }
            };
        Ok(OAuthGrant {
            bot_token: response.access_token.0,
            team_id: response.team.id.0,
            team_name: response.team.name.unwrap_or_default(),
            bot_user_id: response.bot_user_id.map(|u| u.0),
            scopes: response.scope.0,
        })
    }
}

/// One workspace's client: the shared HTTP client and that workspace's bot token. `Debug` never
/// shows the token.
#[derive(Clone)]
pub struct SlackClient {
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    api_url: String,
    team: Arc<OnceCell<String>>,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("api_url", &self.api_url)
            .field("team", &self.team.get())
            .finish_non_exhaustive()
    }
}

impl SlackClient {
    /// The workspace (`T…`) this client's token belongs to: known for a workspace added
    /// through "Add to Slack", asked of `auth.test` once for the default token
    /// (https://docs.slack.dev/reference/methods/auth.test).
    pub async fn team_id(&self) -> Result<String, SlackError> {
        let team = self
            .team
            .get_or_try_init(|| async {
                let session = self.client.open_session(&self.token);
                let response = self.timed(session.auth_test()).await?;
                Ok::<_, SlackError>(response.team_id.0)
            })
            .await?;
        Ok(team.clone())
    }

    async fn timed<T>(
        &self,
        call: impl Future<Output = Result<T, SlackClientError>>,
    ) -> Result<T, SlackError> {
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(result) => result.map_err(SlackError::from),
            Err(_) => Err(SlackError::Network(format!(
                "no answer within {CALL_TIMEOUT:?}"
            ))),
        }
    }

    /// `users.lookupByEmail` (a read method: query string).
    pub async fn lookup_by_email(&self, email: &str) -> Result<SlackUser, SlackError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiUsersLookupByEmailRequest::new(EmailAddress(email.to_owned()));
        let response = self.timed(session.users_lookup_by_email(&request)).await?;
        Ok(response.user.into())
    }

    /// `users.info` (a read method: query string).
    pub async fn user_info(&self, user: &str) -> Result<SlackUser, SlackError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiUsersInfoRequest::new(SlackUserId(user.to_owned()));
        let response = self.timed(session.users_info(&request)).await?;
        Ok(response.user.into())
    }

    /// The DM channel with `user` (Slack returns the same one every time).
    ///
    /// Goes around slack-morphism's typed `conversations_open` on purpose, but still through
    /// its session (auth, error model, typed response): that request type serialises `users` as
    /// a JSON array, while Slack documents `users` as a *comma-separated string*
    /// (https://docs.slack.dev/reference/methods/conversations.open), and Slack's own SDKs join
    /// lists before sending. Our strict fake refuses the array as Slack's docs allow nothing
    /// else (`tests/fake_slack_selftest.rs`, `conversations_open_wants_users_as_a_string`).
    pub async fn open_dm(&self, user: &str) -> Result<String, SlackError> {
        #[derive(serde::Serialize)]
        struct OpenDm<'a> {
            users: &'a str,
        }
        let session = self.client.open_session(&self.token);
        let response: SlackApiConversationsOpenResponse<SlackBasicChannelInfo> = self
            .timed(session.http_session_api.http_post(
                "conversations.open",
                &OpenDm { users: user },
                None,
            ))
            .await?;
        Ok(response.channel.id.0)
    }

    /// The workspace's public channels and the private ones the bot is in, not archived, by
    /// name: `conversations.list` (a read method: query string), every page by its
    /// `response_metadata.next_cursor` (https://docs.slack.dev/reference/methods/conversations.list),
    /// at most [`CHANNELS_MAX_PAGES`] pages.
    pub async fn channels(&self) -> Result<Vec<SlackChannel>, SlackError> {
        let session = self.client.open_session(&self.token);
        let mut request = SlackApiConversationsListRequest::new()
            .with_limit(CHANNELS_PAGE)
            .with_exclude_archived(true)
            .with_types(vec![
                SlackConversationType::Public,
                SlackConversationType::Private,
            ]);
        let mut out = Vec::new();
        for _ in 0..CHANNELS_MAX_PAGES {
            let page = self.timed(session.conversations_list(&request)).await?;
            out.extend(page.channels.into_iter().filter_map(|c| {
                let archived = c.flags.is_archived.unwrap_or(false);
                let name = c.name.or(c.name_normalized)?;
                (!archived).then(|| SlackChannel {
                    id: c.id.0,
                    name,
                    is_private: c.flags.is_private.unwrap_or(false),
                    is_member: c.flags.is_member.unwrap_or(false),
                })
            }));
            let next = page
                .response_metadata
                .and_then(|m| m.next_cursor)
                .filter(|c| !c.0.is_empty());
            match next {
                Some(cursor) => request = request.with_cursor(cursor),
                None => break,
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Posts a message carrying `key` in its metadata, so a crash between posting and recording
    /// can be told apart from a message never sent.
    pub async fn post(
        &self,
        channel: &str,
        content: Content,
        thread_ts: Option<&str>,
        key: &str,
    ) -> Result<Posted, SlackError> {
        let session = self.client.open_session(&self.token);
        let payload = [("key".to_owned(), key.to_owned())].into_iter().collect();
        let mut message = SlackMessageContent::new()
            .with_text(content.text)
            .with_metadata(SlackMessageMetadata {
                event_type: METADATA_EVENT_TYPE.to_owned(),
                event_payload: Some(payload),
            });
        if !content.blocks.is_empty() {
            message = message.with_blocks(content.blocks);
        }
        let mut request =
            SlackApiChatPostMessageRequest::new(SlackChannelId(channel.into()), message)
                .with_unfurl_links(false);
        if let Some(ts) = thread_ts {
            request = request.with_thread_ts(SlackTs(ts.to_owned()));
        }
        let response = self.timed(session.chat_post_message(&request)).await?;
        Ok(Posted {
            channel: response.channel.0,
            ts: response.ts.0,
        })
    }

    /// Replaces a message's text and blocks.
    pub async fn update(
        &self,
        channel: &str,
        ts: &str,
        content: Content,
    ) -> Result<(), SlackError> {
        let session = self.client.open_session(&self.token);
        let message = SlackMessageContent::new()
            .with_text(content.text)
            .with_blocks(content.blocks);
        let request = SlackApiChatUpdateRequest::new(
            SlackChannelId(channel.to_owned()),
            message,
            SlackTs(ts.to_owned()),
        );
        self.timed(session.chat_update(&request)).await?;
        Ok(())
    }

    /// Finds a message we posted with metadata `key`: a top-level one among the channel's
    /// recent messages (`conversations.history`), or a thread reply among the replies to
    /// `thread_ts` (`conversations.replies`): history never returns thread replies, so a reveal
    /// or reminder (threaded) must be looked for in its thread.
    pub async fn find_posted(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        key: &str,
    ) -> Result<Option<String>, SlackError> {
        let messages = match thread_ts {
            None => self.history(channel).await?,
            Some(parent) => self.replies(channel, parent).await?,
        };
        Ok(messages
            .into_iter()
            .find(|m| carries_key(m, key))
            .map(|m| m.origin.ts.0))
    }

    /// `conversations.history` with `include_all_metadata` (a read method: query string).
    async fn history(&self, channel: &str) -> Result<Vec<SlackHistoryMessage>, SlackError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiConversationsHistoryRequest::new()
            .with_channel(SlackChannelId(channel.to_owned()))
            .with_limit(100)
            .with_include_all_metadata(true);
        let response = self.timed(session.conversations_history(&request)).await?;
        Ok(response.messages)
    }

    /// `conversations.replies` with `include_all_metadata` (a read method: query string).
    ///
    /// Goes around slack-morphism's typed `conversations_replies`, through its session's
    /// `http_get` (same auth, error model and typed response): its request type has no
    /// `include_all_metadata`, and without it Slack returns no `metadata`, so a sent reply could
    /// never be recognised (https://docs.slack.dev/reference/methods/conversations.replies;
    /// the fake models it: `tests/fake_slack_selftest.rs`,
    /// `replies_carry_metadata_only_when_asked`).
    async fn replies(
        &self,
        channel: &str,
        parent: &str,
    ) -> Result<Vec<SlackHistoryMessage>, SlackError> {
        let session = self.client.open_session(&self.token);
        let params = vec![
            ("channel", Some(channel)),
            ("ts", Some(parent)),
            ("limit", Some("200")),
            ("include_all_metadata", Some("true")),
        ];
        let response: SlackApiConversationsRepliesResponse = self
            .timed(
                session
                    .http_session_api
                    .http_get("conversations.replies", &params, None),
            )
            .await?;
        Ok(response.messages)
    }
}

/// Whether `message` carries our metadata with `key`.
fn carries_key(message: &SlackHistoryMessage, key: &str) -> bool {
    message.content.metadata.as_ref().is_some_and(|metadata| {
        metadata.event_type == METADATA_EVENT_TYPE
            && metadata
                .event_payload
                .as_ref()
                .and_then(|p| p.get("key"))
                .is_some_and(|k| k == key)
    })
}
