//! Events API payloads as Slack pushes them to an app's Request URL, for tests that play Slack's
//! side of the Events API: the `url_verification` handshake
//! (https://docs.slack.dev/apis/events-api/#url_verification) and the `event_callback`
//! envelope (https://docs.slack.dev/apis/events-api/#callback-field) around `app_uninstalled`
//! (https://docs.slack.dev/reference/events/app_uninstalled) and `tokens_revoked`
//! (https://docs.slack.dev/reference/events/tokens_revoked).
//!
//! The envelopes carry the (deprecated) verification `token` [`VERIFICATION_TOKEN`], a fresh
//! `event_id` and the current `event_time`. Their `authorizations` name the installation the
//! event is for: the workspace's bot user as the fake names it ([`bot_user_id_of`]).

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::model::bot_user_id_of;

/// The verification token the payloads carry (Slack's deprecated shared secret; apps verify
/// the request signature instead).
pub const VERIFICATION_TOKEN: &str = "fake-verification-token";

/// The handshake Slack sends when a Request URL is saved: the app must answer with
/// `challenge` (https://docs.slack.dev/apis/events-api/#url_verification).
pub fn url_verification(challenge: &str) -> Value {
    json!({
        "token": VERIFICATION_TOKEN,
        "challenge": challenge,
        "type": "url_verification",
    })
}

/// The app was uninstalled from workspace `team_id`; its tokens no longer work
/// (https://docs.slack.dev/reference/events/app_uninstalled). The event has no fields but its
/// type.
pub fn app_uninstalled(team_id: &str, api_app_id: &str) -> Value {
    callback(team_id, api_app_id, json!({ "type": "app_uninstalled" }))
}

/// Tokens of workspace `team_id` were revoked (https://docs.slack.dev/reference/events/tokens_revoked):
/// `tokens.bot` lists the bot users whose bot tokens were, `tokens.oauth` the users whose user
/// tokens were (none here: the fake models no user tokens).
pub fn tokens_revoked(team_id: &str, api_app_id: &str, bot_user_ids: &[&str]) -> Value {
    callback(
        team_id,
        api_app_id,
        json!({
            "type": "tokens_revoked",
            "tokens": { "oauth": [], "bot": bot_user_ids },
        }),
    )
}

/// The `event_callback` envelope around `event`
/// (https://docs.slack.dev/apis/events-api/#callback-field).
fn callback(team_id: &str, api_app_id: &str, event: Value) -> Value {
    static NEXT_EVENT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT_EVENT.fetch_add(1, Ordering::Relaxed);
    json!({
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": null,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": format!("Ev0FAKE{n:06}"),
        "event_time": chrono::Utc::now().timestamp(),
        "authorizations": [{
            "enterprise_id": null,
            "team_id": team_id,
            "user_id": bot_user_id_of(team_id),
            "is_bot": true,
            "is_enterprise_install": false,
        }],
        "is_ext_shared_channel": false,
    })
}
