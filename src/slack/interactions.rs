//! Slack interaction payloads (`block_actions`): which button who clicked on which survey.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// A button click as queued for the answer worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Click {
    /// Unique per click (Slack may retry the same payload): user, action time, action id.
    pub id: String,
    pub slack_user_id: String,
    pub action: Action,
    pub survey_id: i64,
    pub channel: Option<String>,
    pub message_ts: Option<String>,
    /// The workspace the click came from (`team.id`; `user.team_id` when Slack sends no team).
    /// Clicks queued before workspaces were recorded have none.
    #[serde(default)]
    pub team_id: Option<String>,
}

/// The buttons of our DMs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    AuthorAi(AiAnswer),
    ReviewerGuess(bool),
    ReviewerQuality(i16),
    OptOut,
    /// "Delete my answers": the person's own answers, guesses and ratings in the org.
    DeleteMyAnswers,
}

/// The author's answer to "How much AI assistance went into this PR?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AiAnswer {
    None,
    ALittle,
    ALot,
}

impl AiAnswer {
    pub fn as_str(self) -> &'static str {
        match self {
            AiAnswer::None => "none",
            AiAnswer::ALittle => "a_little",
            AiAnswer::ALot => "a_lot",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => AiAnswer::None,
            "a_little" => AiAnswer::ALittle,
            "a_lot" => AiAnswer::ALot,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            AiAnswer::None => "None",
            AiAnswer::ALittle => "A little",
            AiAnswer::ALot => "A lot",
        }
    }

    /// Whether a reviewer guessing "AI was used" is right.
    pub fn used_ai(self) -> bool {
        !matches!(self, AiAnswer::None)
    }
}

impl Action {
    /// The `action_id` of the button.
    pub fn action_id(self) -> &'static str {
        match self {
            Action::AuthorAi(AiAnswer::None) => "ai_none",
            Action::AuthorAi(AiAnswer::ALittle) => "ai_a_little",
            Action::AuthorAi(AiAnswer::ALot) => "ai_a_lot",
            Action::ReviewerGuess(true) => "guess_yes",
            Action::ReviewerGuess(false) => "guess_no",
            Action::ReviewerQuality(1) => "quality_1",
            Action::ReviewerQuality(2) => "quality_2",
            Action::ReviewerQuality(_) => "quality_3",
            Action::OptOut => "opt_out",
            Action::DeleteMyAnswers => "delete_my_answers",
        }
    }

    pub fn from_action_id(id: &str) -> Option<Self> {
        Some(match id {
            "ai_none" => Action::AuthorAi(AiAnswer::None),
            "ai_a_little" => Action::AuthorAi(AiAnswer::ALittle),
            "ai_a_lot" => Action::AuthorAi(AiAnswer::ALot),
            "guess_yes" => Action::ReviewerGuess(true),
            "guess_no" => Action::ReviewerGuess(false),
            "quality_1" => Action::ReviewerQuality(1),
            "quality_2" => Action::ReviewerQuality(2),
            "quality_3" => Action::ReviewerQuality(3),
            "opt_out" => Action::OptOut,
            "delete_my_answers" => Action::DeleteMyAnswers,
            _ => return None,
        })
    }
}

/// Why an interaction body could not be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InteractionError {
    #[error("body has no payload field")]
    NoPayload,
    #[error("payload is not JSON: {0}")]
    NotJson(String),
    #[error("not a button click on a Mergecast survey")]
    NotOurs,
}

/// Parses the form-encoded body Slack posts (`payload=<json>`).
pub fn parse(body: &[u8]) -> Result<Click, InteractionError> {
    let payload = form_urlencoded_payload(body).ok_or(InteractionError::NoPayload)?;
    let v: Value =
        serde_json::from_str(&payload).map_err(|e| InteractionError::NotJson(e.to_string()))?;
    if v["type"].as_str() != Some("block_actions") {
        return Err(InteractionError::NotOurs);
    }
    let user = v["user"]["id"].as_str().ok_or(InteractionError::NotOurs)?;
    let first = &v["actions"][0];
    let action = first["action_id"]
        .as_str()
        .and_then(Action::from_action_id)
        .ok_or(InteractionError::NotOurs)?;
    let survey_id: i64 = first["value"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or(InteractionError::NotOurs)?;
    let action_ts = first["action_ts"].as_str().unwrap_or("");
    let channel = v["container"]["channel_id"]
        .as_str()
        .or(v["channel"]["id"].as_str())
        .map(str::to_owned);
    let message_ts = v["container"]["message_ts"]
        .as_str()
        .or(v["message"]["ts"].as_str())
        .map(str::to_owned);
    let team_id = v["team"]["id"]
        .as_str()
        .or(v["user"]["team_id"].as_str())
        .map(str::to_owned);
    Ok(Click {
        id: format!("{user}:{action_ts}:{}", action.action_id()),
        slack_user_id: user.to_owned(),
        action,
        survey_id,
        channel,
        message_ts,
        team_id,
    })
}

fn form_urlencoded_payload(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "payload").then(|| percent_decode(v))
    })
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes a click payload as Slack does (for tests and tools).
pub fn encode_form(payload: &Value) -> String {
    let json = payload.to_string();
    let mut out = String::from("payload=");
    for b in json.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_a_click() {
        let payload = json!({
            "type": "block_actions",
            "user": {"id": "U1", "team_id": "T1"},
            "team": {"id": "T1", "domain": "example"},
            "container": {"channel_id": "D1", "message_ts": "1.2"},
            "actions": [{"action_id": "guess_yes", "value": "42", "action_ts": "1700000000.1"}]
        });
        let click = parse(encode_form(&payload).as_bytes()).unwrap();
        assert_eq!(click.action, Action::ReviewerGuess(true));
        assert_eq!(click.survey_id, 42);
        assert_eq!(click.channel.as_deref(), Some("D1"));
        assert_eq!(click.team_id.as_deref(), Some("T1"));
        // A click queued by an earlier version (no team) still reads.
        let old = r#"{"id":"U1:1:guess_yes","slack_user_id":"U1","action":{"ReviewerGuess":true},"survey_id":42,"channel":null,"message_ts":null}"#;
        let old: Click = serde_json::from_str(old).unwrap();
        assert_eq!(old.team_id, None);
        assert_eq!(parse(b"x=1"), Err(InteractionError::NoPayload));
        assert!(parse(encode_form(&json!({"type": "view_submission"})).as_bytes()).is_err());
    }
}
