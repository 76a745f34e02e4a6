//! The Slack side of a scenario: what people received (read from the fake Slack) and what they
//! click. A click is found the way a person finds it, by the button's label in the message they
//! got, and posted to the app exactly as Slack posts interactions: a `block_actions` payload as
//! a form, signed with the signing secret (v0) and a fresh timestamp
//! (https://docs.slack.dev/authentication/verifying-requests-from-slack).

use chrono::Utc;
use mergecast::slack::{interactions, signature};
use serde_json::{Value, json};

use super::super::fake_slack::{Message, Model};
use super::{Person, SLACK_SIGNING_SECRET, Scenario};

/// The fake Slack, seen from a scenario.
pub struct SlackView<'a> {
    s: &'a Scenario,
}

/// The DMs one person got (about one survey, or any).
pub struct Dm<'a> {
    s: &'a Scenario,
    person: Person,
    survey: Option<i64>,
}

impl Scenario {
    pub fn slack(&self) -> SlackView<'_> {
        SlackView { s: self }
    }
}

fn slack_id(person: Person) -> &'static str {
    person
        .slack_id
        .unwrap_or_else(|| panic!("{} is not on Slack", person.login))
}

/// The metadata key the app puts on each message it sends once (`ask:…`, `remind:…`, …).
fn key(msg: &Message) -> Option<&str> {
    msg.metadata
        .as_ref()?
        .pointer("/event_payload/key")?
        .as_str()
}

/// The buttons of `blocks`: (label, action_id, value).
fn buttons(blocks: &Value) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for block in blocks.as_array().into_iter().flatten() {
        for element in block["elements"].as_array().into_iter().flatten() {
            if element["type"] == "button" {
                found.push((
                    element["text"]["text"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    element["action_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    element["value"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
    }
    found
}

impl<'a> SlackView<'a> {
    /// Runs `f` on the fake Slack's model.
    pub fn with<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        self.s.slack.with(f)
    }

    /// `person`'s DMs.
    pub fn dm(&self, person: Person) -> Dm<'a> {
        Dm {
            s: self.s,
            person,
            survey: None,
        }
    }

    /// `person`'s DMs about survey `survey`.
    pub fn dm_about(&self, person: Person, survey: i64) -> Dm<'a> {
        Dm {
            s: self.s,
            person,
            survey: Some(survey),
        }
    }

    /// Messages in channel `channel` (not DMs), their texts in order.
    pub fn channel_texts(&self, channel: &str) -> Vec<String> {
        self.with(|m| {
            m.messages_in(channel)
                .iter()
                .map(|msg| msg.text.clone())
                .collect()
        })
    }

    /// Every message whose text contains `needle`, to anyone.
    pub fn count_all(&self, needle: &str) -> usize {
        self.with(|m| {
            m.messages
                .iter()
                .filter(|msg| msg.text.contains(needle))
                .count()
        })
    }

    /// Calls of Web API `method` made so far.
    pub fn calls(&self, method: &str) -> usize {
        self.with(|m| m.count_calls(method))
    }

    /// Every call made so far.
    pub fn all_calls(&self) -> usize {
        self.with(|m| m.calls.len())
    }

    /// The next call of `method` fails with Slack error `code`.
    pub fn fail_next(&self, method: &str, code: &str) {
        self.with(|m| m.fail_next.push((method.into(), code.into())));
    }

    /// The next call of `method` is rate limited for `secs` seconds.
    pub fn rate_limit_next(&self, method: &str, secs: u64) {
        self.with(|m| m.rate_limit_next.push((method.into(), secs)));
    }

    /// Every message the app posted carries a unique key: none may appear twice.
    pub fn assert_nothing_sent_twice(&self) {
        let keys: Vec<String> = self.with(|m| {
            m.messages
                .iter()
                .filter_map(|msg| key(msg).map(str::to_owned))
                .collect()
        });
        let unique: std::collections::HashSet<&String> = keys.iter().collect();
        assert_eq!(
            unique.len(),
            keys.len(),
            "a message was sent twice: {keys:?}"
        );
    }

    /// Waits until `done` holds for the fake Slack.
    pub async fn until(&self, what: &str, done: impl Fn(&Model) -> bool) {
        self.s
            .until(what, || async { self.with(|m| done(m)) })
            .await;
    }

    /// Posts an interaction body with the given timestamp and signature; the HTTP status.
    pub async fn post_signed(&self, body: &str, ts: &str, sig: &str) -> u16 {
        self.s
            .app
            .client
            .post(self.s.app.url("/slack/interactions"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", sig)
            .body(body.to_owned())
            .send()
            .await
            .expect("post interaction")
            .status()
            .as_u16()
    }
}

impl Dm<'_> {
    fn mine(&self, msg: &Message) -> bool {
        match self.survey {
            None => true,
            Some(survey) => {
                key(msg).is_some_and(|k| k.split(':').nth(1) == Some(survey.to_string().as_str()))
            }
        }
    }

    /// The texts of the messages (as posted), in order.
    pub fn texts(&self) -> Vec<String> {
        let user = slack_id(self.person);
        self.s.slack.with(|m| {
            m.messages_to(user)
                .into_iter()
                .filter(|msg| self.mine(msg))
                .map(|msg| msg.text.clone())
                .collect()
        })
    }

    /// How many messages.
    pub fn count(&self) -> usize {
        self.texts().len()
    }

    /// How many messages contain `needle`.
    pub fn count_with(&self, needle: &str) -> usize {
        self.texts().iter().filter(|t| t.contains(needle)).count()
    }

    /// The messages, as the fake holds them.
    pub fn messages(&self) -> Vec<Message> {
        let user = slack_id(self.person);
        self.s.slack.with(|m| {
            m.messages_to(user)
                .into_iter()
                .filter(|msg| self.mine(msg))
                .cloned()
                .collect()
        })
    }

    /// The survey question (the `ask:` message) as Slack shows it now.
    pub fn ask(&self) -> Option<Message> {
        self.messages()
            .into_iter()
            .find(|msg| key(msg).is_some_and(|k| k.starts_with("ask:")))
    }

    /// The question's blocks as Slack shows them now ("" before it is asked).
    pub fn ask_blocks(&self) -> String {
        self.ask()
            .map(|msg| msg.current_blocks().to_string())
            .unwrap_or_default()
    }

    /// Waits until there are at least `n` messages.
    pub async fn wait_count(&self, n: usize) {
        let what = format!("{n} DMs to {}", self.person.login);
        self.s.until(&what, || async { self.count() >= n }).await;
    }

    /// Waits until `n` messages contain `needle`.
    pub async fn wait_with(&self, needle: &str, n: usize) {
        let what = format!("{n} DMs to {} with {needle:?}", self.person.login);
        self.s
            .until(&what, || async { self.count_with(needle) == n })
            .await;
    }

    /// Waits until the question's blocks satisfy `done`.
    pub async fn wait_ask(&self, what: &str, done: impl Fn(&str) -> bool) {
        let what = format!("{}'s question: {what}", self.person.login);
        self.s
            .until(&what, || async { done(&self.ask_blocks()) })
            .await;
    }

    /// Clicks the button labelled `label` in a message that showed it (as posted or as updated
    /// since: a person may click a button their client still shows after an update), and
    /// checks Slack got its 200.
    pub async fn click(&self, label: &str) {
        let (action_id, value) = self
            .messages()
            .iter()
            .flat_map(|msg| {
                let mut shown = buttons(&msg.blocks);
                for update in &msg.updated {
                    shown.extend(buttons(&update["blocks"]));
                }
                shown
            })
            .find(|(text, _, _)| text == label)
            .map(|(_, action, value)| (action, value))
            .unwrap_or_else(|| panic!("no {label:?} button in {}'s DMs", self.person.login));
        let status = self.click_action(&action_id, &value).await;
        assert_eq!(status, 200, "Slack's click on {label:?} answered");
    }

    /// Posts a `block_actions` click of `action_id` with `value`, signed; the HTTP status.
    pub async fn click_action(&self, action_id: &str, value: &str) -> u16 {
        // Slack names the workspace a click comes from; the scenario's people are in the
        // default workspace (`SLACK_BOT_TOKEN`'s, which the app learns through `auth.test`).
        let team = self.s.slack.with(|m| m.team_id.clone());
        let payload = json!({
            "type": "block_actions",
            "team": { "id": team, "domain": "fake-workspace" },
            "user": { "id": slack_id(self.person), "team_id": team },
            "container": { "type": "message" },
            "actions": [{
                "action_id": action_id,
                "value": value,
                "action_ts": format!("{}.{}", Utc::now().timestamp(), uuid::Uuid::new_v4().simple()),
            }],
        });
        let body = interactions::encode_form(&payload);
        let ts = Utc::now().timestamp().to_string();
        let sig = signature::sign(SLACK_SIGNING_SECRET, &ts, body.as_bytes());
        self.s.slack().post_signed(&body, &ts, &sig).await
    }
}
