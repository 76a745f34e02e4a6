//! The Events API requests Mergecast acts on (https://docs.slack.dev/apis/events-api/), read
//! with slack-morphism's push-event types: the endpoint's `url_verification` handshake, and the
//! two events that end a workspace's connection, `app_uninstalled`
//! (https://docs.slack.dev/reference/events/app_uninstalled) and `tokens_revoked`
//! (https://docs.slack.dev/reference/events/tokens_revoked). slack-morphism does not model
//! `tokens_revoked`; it arrives as its `Unknown` JSON and its `tokens.bot` list is read here.

use slack_morphism::prelude::{SlackEventCallbackBody, SlackPushEvent};
use thiserror::Error;

/// One Events API request, as far as Mergecast cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackEvent {
    /// Slack checks the endpoint: answer with the challenge.
    UrlVerification { challenge: String },
    /// The app was removed from workspace `team_id`: every token of it is revoked.
    AppUninstalled { team_id: String },
    /// Tokens of workspace `team_id` were revoked; `bot_users` are the bot users whose tokens
    /// went.
    TokensRevoked {
        team_id: String,
        bot_users: Vec<String>,
    },
    /// Anything else (acknowledged and ignored); the event type, for the log.
    Other(String),
}

#[derive(Debug, Error)]
#[error("not an Events API request: {0}")]
pub struct EventError(String);

/// Reads an Events API request body.
pub fn parse(body: &[u8]) -> Result<SlackEvent, EventError> {
    let push: SlackPushEvent =
        serde_json::from_slice(body).map_err(|e| EventError(e.to_string()))?;
    Ok(match push {
        SlackPushEvent::UrlVerification(v) => SlackEvent::UrlVerification {
            challenge: v.challenge,
        },
        SlackPushEvent::EventCallback(callback) => {
            let team_id = callback.team_id.0;
            match callback.event {
                SlackEventCallbackBody::AppUninstalled(_) => SlackEvent::AppUninstalled { team_id },
                SlackEventCallbackBody::Unknown(raw) if raw["type"] == "tokens_revoked" => {
                    let bot_users = raw["tokens"]["bot"]
                        .as_array()
                        .map(|ids| {
                            ids.iter()
                                .filter_map(|id| id.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    SlackEvent::TokensRevoked { team_id, bot_users }
                }
                SlackEventCallbackBody::Unknown(raw) => {
                    SlackEvent::Other(raw["type"].as_str().unwrap_or("unknown").to_owned())
                }
                other => SlackEvent::Other(
                    serde_json::to_value(&other)
                        .ok()
                        .and_then(|v| v["type"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| "event_callback".into()),
                ),
            }
        }
        SlackPushEvent::AppRateLimited(_) => SlackEvent::Other("app_rate_limited".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(event: serde_json::Value) -> Vec<u8> {
        json!({
            "token": "XXYYZZ", "team_id": "T123ABC", "api_app_id": "A123ABC",
            "event": event, "type": "event_callback", "event_id": "Ev123ABC",
            "event_time": 1700000000,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn the_events_that_end_a_connection_are_read() {
        let verification =
            json!({"token": "t", "challenge": "3eZbrw1a", "type": "url_verification"});
        assert_eq!(
            parse(verification.to_string().as_bytes()).unwrap(),
            SlackEvent::UrlVerification {
                challenge: "3eZbrw1a".into()
            }
        );
        assert_eq!(
            parse(&envelope(json!({"type": "app_uninstalled"}))).unwrap(),
            SlackEvent::AppUninstalled {
                team_id: "T123ABC".into()
            }
        );
        let revoked =
            json!({"type": "tokens_revoked", "tokens": {"oauth": ["U1"], "bot": ["UBOT"]}});
        assert_eq!(
            parse(&envelope(revoked)).unwrap(),
            SlackEvent::TokensRevoked {
                team_id: "T123ABC".into(),
                bot_users: vec!["UBOT".into()]
            }
        );
        let other = json!({"type": "reaction_added", "user": "U1", "reaction": "tada",
            "item": {"type": "message", "channel": "C1", "ts": "1.2"}, "event_ts": "1.3"});
        assert!(matches!(
            parse(&envelope(other)).unwrap(),
            SlackEvent::Other(_)
        ));
        assert!(parse(b"not json").is_err());
    }
}
