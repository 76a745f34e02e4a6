//! Webhooks from the model's own state: each builder changes the model as the event says GitHub
//! changed (a label added, a pull request merged, a member removed...) and renders the delivery
//! body GitHub would send for it, so the REST fake and the webhooks can never disagree.
//!
//! Bodies follow https://docs.github.com/en/webhooks/webhook-events-and-payloads: the event's
//! object(s) in the same shapes the REST API returns (see [`super::json`]), plus the usual
//! top-level `action`, `installation` (`{id, node_id}`; the whole installation on
//! `installation` events), `organization`, `repository` and `sender`, and the extra fields each
//! action documents (`label`, `assignee`, `requested_reviewer`, `changes`, `before`/`after`...).
//!
//! This file holds what every event shares (the envelope, the org and user shapes); the builders
//! are in [`install`] (installation, repositories, org members, collaborators, teams) and
//! [`code`] (pull requests, reviews, issues), their action enums in [`actions`].

mod actions;
mod code;
mod install;

pub use actions::{
    CollaboratorAction, InstallationAction, IssueAction, OrgAction, PullAction, ReviewAction,
    TeamAction,
};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::json::{org_json, repo_json, simple_user};
use super::model::{Model, Repo};
use super::paging::{Ctx, Query};

/// One delivery body and the `X-GitHub-Event` it is sent under.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub event: &'static str,
    pub body: Value,
}

impl Webhook {
    /// The body's `action`, if it has one.
    pub fn action(&self) -> Option<&str> {
        self.body["action"].as_str()
    }

    /// The exact bytes to sign and send.
    pub fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body).expect("serialize webhook")
    }
}

/// Renders with the fake's base URL, as the REST side does.
pub(super) fn render<R>(model: &Model, f: impl FnOnce(&Ctx<'_>) -> R) -> R {
    let query = Query::parse(None);
    let cx = Ctx {
        base: &model.api_url,
        link_base: &model.api_url,
        app_id: model.app_id,
        path: "/",
        query: &query,
        now: Utc::now(),
        per_page_max: model.per_page_max,
    };
    f(&cx)
}

pub(super) fn remove(ids: &mut Vec<i64>, id: i64) {
    ids.retain(|&x| x != id);
}

pub(super) fn add(ids: &mut Vec<i64>, id: i64) {
    if !ids.contains(&id) {
        ids.push(id);
    }
}

impl Model {
    /// The installation `{id, node_id}` every event of an installed app carries.
    pub(super) fn installation_ref(id: i64) -> Value {
        json!({ "id": id, "node_id": format!("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{id}") })
    }

    /// The org `login` as webhooks embed it (GitHub's "organization simple").
    pub(super) fn org_json(&self, login: &str) -> Value {
        let id = self
            .installations
            .iter()
            .find(|i| i.account_login.eq_ignore_ascii_case(login))
            .map_or(0, |i| i.account_id);
        org_json(&self.api_url, login, id)
    }

    pub(super) fn installation_of_org(&self, login: &str) -> i64 {
        self.installations
            .iter()
            .find(|i| i.account_login.eq_ignore_ascii_case(login))
            .unwrap_or_else(|| panic!("no installation on {login}"))
            .id
    }

    pub(super) fn user_json(&self, id: i64) -> Value {
        render(self, |cx| simple_user(cx, self, id))
    }

    pub(super) fn repo_by_id(&self, id: i64) -> Repo {
        self.repos
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no repository {id}"))
            .clone()
    }

    /// The org's first member, who stands for "an admin did it" as the sender.
    pub(super) fn org_admin(&self, org: &str) -> i64 {
        self.members
            .get(org)
            .and_then(|m| m.first().copied())
            .unwrap_or(0)
    }

    /// `action`, `installation`, `organization`, `repository` (when given) and `sender`.
    pub(super) fn envelope(
        &self,
        action: &str,
        installation: i64,
        repo: Option<&Repo>,
        sender: i64,
    ) -> Value {
        let org = self
            .installations
            .iter()
            .find(|i| i.id == installation)
            .map(|i| i.account_login.clone())
            .unwrap_or_default();
        let mut body = json!({
            "action": action,
            "installation": Self::installation_ref(installation),
            "organization": self.org_json(&org),
            "sender": self.user_json(sender),
        });
        if let Some(repo) = repo {
            body["repository"] = render(self, |cx| repo_json(cx, self, repo));
        }
        body
    }

    /// The short repository objects installation events list.
    pub(super) fn repo_stubs(&self, ids: &[i64]) -> Vec<Value> {
        ids.iter()
            .map(|&id| {
                let r = self.repo_by_id(id);
                json!({
                    "id": r.id,
                    "node_id": format!("R_kgDO{}", r.id),
                    "name": r.name,
                    "full_name": format!("{}/{}", r.owner, r.name),
                    "private": r.private,
                })
            })
            .collect()
    }
}

/// Adds `extra`'s fields to `body`.
pub(super) fn merge(body: &mut Value, extra: Value) {
    if let (Value::Object(body), Value::Object(extra)) = (body, extra) {
        body.extend(extra);
    }
}

pub(super) fn ts(at: DateTime<Utc>) -> String {
    super::json::ts(at)
}
