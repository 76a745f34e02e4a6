//! What the fake Slack knows about one workspace: its team and bot identity, the bot token (and
//! revoked ones), its users (with time zones), the DMs and channel messages posted (with every
//! `chat.update` applied), injected failures and rate limits, and every call made, for tests to
//! arrange and inspect. One fake hosts several workspaces, one `Model` each.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Value, json};

/// Everything the fake knows about one workspace (one Slack team the app is installed in).
/// Tests may edit any field directly; the builders only fill in Slack-like defaults.
#[derive(Debug, Clone)]
pub struct Model {
    /// The token that speaks for this workspace (`Authorization: Bearer ...`); Web API calls
    /// carrying it are routed here. Changing it makes the old one `invalid_auth`; empty after
    /// [`Model::revoke_bot_token`] until the app is installed again through OAuth.
    pub bot_token: String,
    /// Tokens revoked in this workspace: a call with one is answered `token_revoked`
    /// (https://docs.slack.dev/reference/methods/auth.test lists it among the errors every
    /// method can return), and logged here.
    pub revoked_tokens: Vec<String>,
    pub team_id: String,
    /// The workspace's name (`auth.test`'s `team`, the OAuth consent page, `oauth.v2.access`).
    pub team_name: String,
    /// The bot user's handle (`auth.test`'s `user`).
    pub bot_name: String,
    /// The member who approves installs in this workspace (`oauth.v2.access`'s
    /// `authed_user.id`).
    pub installer_user_id: String,
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
    /// The workspace's channels as `conversations.list` lists them (see [`Model::add_channel`]);
    /// the bot can post in those it is a member of.
    pub conversations: Vec<Channel>,
    /// Put after the `D` of DM channel ids this workspace opens (empty: the default ones).
    dm_prefix: String,
    next_channel: u64,
    /// Microseconds of the last `ts` handed out, shared by every workspace of one fake, so
    /// every `ts` is unique and increasing across workspaces.
    clock: Arc<AtomicI64>,
}

/// The default workspace's team id (the one [`super::FakeSlack::start`] creates).
pub const DEFAULT_TEAM_ID: &str = "T0FAKE0001";

impl Model {
    /// The default workspace, with the ids existing tests know (`U0FAKEBOT1`, ...).
    pub(super) fn new(bot_token: &str) -> Self {
        Self::with_ids(
            bot_token,
            DEFAULT_TEAM_ID,
            "Fake Workspace",
            Ids {
                bot_user_id: bot_user_id_of(DEFAULT_TEAM_ID),
                bot_id: "B0FAKEBOT1".into(),
                installer_user_id: "U0FAKEADM1".into(),
                dm_prefix: String::new(),
            },
            Arc::new(AtomicI64::new(0)),
        )
    }

    /// Another workspace of the same fake: its ids carry a key derived from the team id
    /// (`T0B` gives bot user `U0BBOT`, bot `B0BBOT`, DMs `D0B000001`...), so they collide
    /// neither with the default workspace's nor with another team's; `ts` values come from
    /// the `clock` of the default workspace, shared.
    pub(super) fn for_team(
        team_id: &str,
        team_name: &str,
        bot_token: &str,
        default: &Model,
    ) -> Self {
        let key = team_key(team_id);
        let mut model = Self::with_ids(
            bot_token,
            team_id,
            team_name,
            Ids {
                bot_user_id: bot_user_id_of(team_id),
                bot_id: format!("B{key}BOT"),
                installer_user_id: format!("U{key}ADM"),
                dm_prefix: key,
            },
            default.clock.clone(),
        );
        model.app_id = default.app_id.clone();
        model
    }

    fn with_ids(
        bot_token: &str,
        team_id: &str,
        team_name: &str,
        ids: Ids,
        clock: Arc<AtomicI64>,
    ) -> Self {
        Self {
            bot_token: bot_token.to_string(),
            revoked_tokens: Vec::new(),
            team_id: team_id.into(),
            team_name: team_name.into(),
            bot_name: "mergecast".into(),
            installer_user_id: ids.installer_user_id,
            dm_prefix: ids.dm_prefix,
            bot_user_id: ids.bot_user_id,
            bot_id: ids.bot_id,
            app_id: "A0FAKEAPP1".into(),
            users: Vec::new(),
            channels: HashMap::new(),
            messages: Vec::new(),
            calls: Vec::new(),
            fail_next: Vec::new(),
            rate_limit_next: Vec::new(),
            public_channels: Vec::new(),
            conversations: Vec::new(),
            next_channel: 0,
            clock,
        }
    }

    /// The workspace revokes its bot token (an admin removed the app, or the token leaked):
    /// calls with it are answered `token_revoked` from now on, and the workspace has no bot
    /// token until the app is installed again (`oauth.v2.access` then hands out a new one).
    pub fn revoke_bot_token(&mut self) {
        let token = std::mem::take(&mut self.bot_token);
        if !token.is_empty() && !self.revoked_tokens.contains(&token) {
            self.revoked_tokens.push(token);
        }
    }

    /// The workspace's subdomain, `<domain>.slack.com`, derived from its name
    /// ("Fake Workspace" gives `fake-workspace`).
    pub fn team_domain(&self) -> String {
        let mut domain = String::new();
        for c in self.team_name.chars() {
            if c.is_ascii_alphanumeric() {
                domain.push(c.to_ascii_lowercase());
            } else if !domain.is_empty() && !domain.ends_with('-') {
                domain.push('-');
            }
        }
        domain.trim_end_matches('-').to_string()
    }
}

/// The key a workspace's ids carry: its team id without the `T`, upper-case alphanumerics.
fn team_key(team_id: &str) -> String {
    team_id
        .strip_prefix('T')
        .unwrap_or(team_id)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The bot user id the workspace `team_id` gets from the fake: `U0FAKEBOT1` for the default
/// workspace, `U{key}BOT` for the others (`T0B` gives `U0BBOT`).
pub fn bot_user_id_of(team_id: &str) -> String {
    if team_id == DEFAULT_TEAM_ID {
        "U0FAKEBOT1".into()
    } else {
        format!("U{}BOT", team_key(team_id))
    }
}

/// The ids a workspace hands out for itself.
struct Ids {
    bot_user_id: String,
    bot_id: String,
    installer_user_id: String,
    /// Put after the `D` of DM channel ids; empty for the default workspace.
    dm_prefix: String,
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

/// A channel of the workspace (not a DM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// `C...`.
    pub id: String,
    pub name: String,
    pub is_private: bool,
    pub is_archived: bool,
    /// Whether the bot is in it: Slack lists a private channel only to its members.
    pub is_member: bool,
    /// Unix seconds.
    pub created: i64,
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

    pub(super) fn insert_user(&mut self, user: SlackUser) -> &mut SlackUser {
        self.users.retain(|u| u.id != user.id);
        self.users.push(user);
        self.users.last_mut().expect("just pushed")
    }

    /// Adds a channel the bot is a member of (public unless `private`).
    pub fn add_channel(&mut self, id: &str, name: &str, private: bool) -> &mut Channel {
        self.conversations.retain(|c| c.id != id);
        self.conversations.push(Channel {
            id: id.to_string(),
            name: name.to_string(),
            is_private: private,
            is_archived: false,
            is_member: true,
            created: 1_700_000_000 + self.conversations.len() as i64,
        });
        self.conversations.last_mut().expect("just pushed")
    }

    /// A channel as `conversations.list` returns it.
    pub(super) fn channel_json(&self, c: &Channel) -> Value {
        json!({
            "id": c.id,
            "name": c.name,
            "name_normalized": c.name,
            "is_channel": !c.is_private,
            "is_group": c.is_private,
            "is_im": false,
            "is_mpim": false,
            "is_private": c.is_private,
            "created": c.created,
            "is_archived": c.is_archived,
            "is_general": false,
            "is_shared": false,
            "is_org_shared": false,
            "is_member": c.is_member,
            "creator": self.bot_user_id,
            "context_team_id": self.team_id,
            "topic": { "value": "", "creator": "", "last_set": 0 },
            "purpose": { "value": "", "creator": "", "last_set": 0 },
            "previous_names": [],
        })
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
    pub(super) fn next_ts(&mut self) -> String {
        let now = chrono::Utc::now().timestamp_micros();
        let previous = self
            .clock
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
                Some(now.max(last + 1))
            })
            .expect("the closure always returns Some");
        let micros = now.max(previous + 1);
        format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
    }

    pub(super) fn user_by_id(&self, id: &str) -> Option<&SlackUser> {
        self.users.iter().find(|u| u.id == id)
    }

    pub(super) fn is_dm_channel(&self, channel: &str) -> bool {
        self.channels.values().any(|c| c == channel)
            || self.public_channels.iter().any(|c| c == channel)
            || self
                .conversations
                .iter()
                .any(|c| c.id == channel && c.is_member && !c.is_archived)
    }

    /// The DM with `user_id`, created on first use.
    pub(super) fn open_dm(&mut self, user_id: &str) -> (String, bool) {
        if let Some(channel) = self.channels.get(user_id) {
            return (channel.clone(), true);
        }
        self.next_channel += 1;
        let channel = if self.dm_prefix.is_empty() {
            format!("D0{:09X}", 0x00FA_0000 + self.next_channel)
        } else {
            format!("D{}{:06X}", self.dm_prefix, self.next_channel)
        };
        self.channels.insert(user_id.to_string(), channel.clone());
        (channel, false)
    }

    pub(super) fn user_json(&self, user: &SlackUser) -> Value {
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
    pub(super) fn message_json(&self, message: &Message, with_metadata: bool) -> Value {
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
