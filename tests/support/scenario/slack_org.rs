//! Slack per org in a scenario: "Add to Slack" pressed by the operator on an org's page and
//! allowed on the fake Slack's consent page, and Slack's own requests to the app (signed
//! Events API posts, clicks from a given workspace), each exactly as Slack sends them.

use chrono::Utc;
use mergecast::slack::{interactions, signature};
use serde_json::{Value, json};

use super::super::browser::{Browser, Page, csrf};
use super::{OPERATOR_PASSWORD, SLACK_SIGNING_SECRET, Scenario};

impl Scenario {
    /// Adds `installation` to the fake Slack's workspace `team_id` as the operator would: the
    /// org's Slack page, "Add to Slack", Allow on Slack's consent page (that workspace chosen),
    /// and back. Returns the page the app lands on after the callback.
    pub async fn add_to_slack(&self, installation: i64, team_id: &str) -> Page {
        let mut b = Browser::new(&self.app);
        b.sign_in_operator(OPERATOR_PASSWORD).await;
        self.add_to_slack_as(&mut b, installation, team_id, "allow")
            .await
    }

    /// [`Scenario::add_to_slack`] in a signed-in browser `b`, with `decision` (`allow` or
    /// `deny`) on Slack's page; returns the app's page after the callback.
    pub async fn add_to_slack_as(
        &self,
        b: &mut Browser,
        installation: i64,
        team_id: &str,
        decision: &str,
    ) -> Page {
        let callback = self.slack_consent(b, installation, team_id, decision).await;
        let back = b.get(&callback).await;
        assert_eq!(back.status, 303, "callback: {}", back.body);
        let landing = back.location.expect("back to the org's Slack page");
        b.get(&landing).await
    }

    /// Up to Slack's redirect back: the callback URL (with code or error, and state) that Slack
    /// sends the browser to.
    pub async fn slack_consent(
        &self,
        b: &mut Browser,
        installation: i64,
        team_id: &str,
        decision: &str,
    ) -> String {
        let page = b
            .get(&format!("/admin/installations/{installation}/slack"))
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let token = csrf(&page.body);
        let add = b
            .post(
                &format!("/admin/installations/{installation}/slack"),
                &[("csrf", &token)],
            )
            .await;
        assert_eq!(add.status, 303, "Add to Slack: {}", add.body);
        let authorize = add.location.expect("Slack's consent page");
        assert!(
            authorize.starts_with(&self.slack.web_url),
            "to Slack: {authorize}"
        );
        let consent = b.get(&authorize).await;
        assert_eq!(consent.status, 200, "consent page: {}", consent.body);
        let query: Vec<(String, String)> = url::Url::parse(&authorize)
            .expect("authorize URL")
            .query_pairs()
            .into_owned()
            .collect();
        let arg = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let (client_id, scope, state, redirect_uri) = (
            arg("client_id"),
            arg("scope"),
            arg("state"),
            arg("redirect_uri"),
        );
        let mut form = vec![
            ("client_id", client_id.as_str()),
            ("scope", scope.as_str()),
            ("state", state.as_str()),
            ("team", team_id),
            ("decision", decision),
        ];
        if !redirect_uri.is_empty() {
            form.push(("redirect_uri", redirect_uri.as_str()));
        }
        let answered = b
            .post(&format!("{}/oauth/v2/authorize", self.slack.web_url), &form)
            .await;
        assert_eq!(answered.status, 302, "consent: {}", answered.body);
        answered.location.expect("redirect back to the app")
    }

    /// Posts an Events API request signed as Slack signs it; the status and body.
    pub async fn slack_event(&self, event: &Value) -> (u16, String) {
        let body = event.to_string();
        let ts = Utc::now().timestamp().to_string();
        let sig = signature::sign(SLACK_SIGNING_SECRET, &ts, body.as_bytes());
        let response = self
            .app
            .client
            .post(self.app.url("/slack/events"))
            .header("content-type", "application/json")
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", sig)
            .body(body)
            .send()
            .await
            .expect("post event");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// Posts a click on `action_id` of survey `survey` by `user` of workspace `team_id`, as
    /// Slack sends it (`team` names the workspace); the HTTP status.
    pub async fn click_from(&self, team_id: &str, user: &str, action_id: &str, survey: i64) -> u16 {
        let payload = json!({
            "type": "block_actions",
            "team": { "id": team_id, "domain": "workspace" },
            "user": { "id": user, "team_id": team_id },
            "container": { "type": "message" },
            "actions": [{
                "action_id": action_id,
                "value": survey.to_string(),
                "action_ts": format!("{}.{}", Utc::now().timestamp(), uuid::Uuid::new_v4().simple()),
            }],
        });
        let body = interactions::encode_form(&payload);
        let ts = Utc::now().timestamp().to_string();
        let sig = signature::sign(SLACK_SIGNING_SECRET, &ts, body.as_bytes());
        self.slack().post_signed(&body, &ts, &sig).await
    }
}
