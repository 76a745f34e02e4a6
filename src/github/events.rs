//! The internal event enum, parsed from a delivery's `X-GitHub-Event` name and raw body.
//!
//! Only the fields Mergecast uses are read; everything else in GitHub's payloads is ignored, so
//! new fields never break parsing. Unknown events and unknown actions are values, not errors:
//! `action` stays a string and each handler decides what it understands.
//!
//! Webhook bodies keep these types rather than `octocrab::models::webhook_events`: octocrab's
//! action enums are closed, so a delivery whose action GitHub added later fails to parse as a
//! whole (it would be dead instead of still updating the object it carries). `issues.typed` and
//! `issues.untyped` already exist and octocrab 0.54 rejects both (test below).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

/// A body that is not the JSON object GitHub documents for its event.
#[derive(Debug, Error)]
pub enum ParseError {
    #[error("body is not valid UTF-8")]
    NotUtf8,
    #[error("body is not a JSON object")]
    NotAnObject,
    #[error("malformed {event} payload: {source}")]
    Malformed {
        event: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The few envelope fields every delivery is indexed by (delivery log, metrics, routing).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Envelope {
    pub action: Option<String>,
    pub installation: Option<InstallationRef>,
}

impl Envelope {
    /// Validates that `body` is UTF-8 and a JSON object, and reads the envelope fields.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let text = std::str::from_utf8(body).map_err(|_| ParseError::NotUtf8)?;
        if !text.trim_start().starts_with('{') {
            return Err(ParseError::NotAnObject);
        }
        serde_json::from_str(text).map_err(|source| ParseError::Malformed {
            event: "envelope".into(),
            source,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstallationRef {
    pub id: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: i64,
    pub login: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    pub id: i64,
    pub login: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Organization {
    pub id: i64,
    pub login: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Repository {
    pub id: i64,
    pub name: String,
    pub full_name: String,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub default_branch: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub name: String,
    #[serde(default)]
    pub color: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Milestone {
    pub title: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GitRef {
    #[serde(rename = "ref")]
    pub name: String,
    pub sha: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Installation {
    pub id: i64,
    pub account: Option<Account>,
    #[serde(default)]
    pub target_type: Option<String>,
    #[serde(default)]
    pub repository_selection: Option<String>,
    #[serde(default)]
    pub permissions: Value,
    #[serde(default)]
    pub events: Value,
    #[serde(default)]
    pub suspended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub suspended_by: Option<Account>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient_time")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// The short repository form used in installation payloads.
#[derive(Debug, Clone, Deserialize)]
pub struct RepositoryStub {
    pub id: i64,
    pub name: String,
    pub full_name: String,
    #[serde(default)]
    pub private: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Team {
    pub id: i64,
    /// Empty on the stub of a deleted team in `membership.removed` (only `id`, `name`, `deleted`).
    #[serde(default)]
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub privacy: Option<String>,
    #[serde(default)]
    pub permission: Option<String>,
    #[serde(default)]
    pub parent: Option<Box<Team>>,
    /// Present (true) on the team stub of a `membership` event whose team was deleted.
    #[serde(default)]
    pub deleted: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PullRequest {
    pub id: i64,
    pub number: i32,
    pub title: String,
    pub state: String,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub locked: bool,
    pub user: Option<User>,
    #[serde(default)]
    pub html_url: Option<String>,
    pub head: GitRef,
    pub base: GitRef,
    #[serde(default)]
    pub merged: Option<bool>,
    #[serde(default)]
    pub merged_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub merged_by: Option<User>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub assignees: Vec<User>,
    #[serde(default)]
    pub requested_reviewers: Vec<Value>,
    #[serde(default)]
    pub requested_teams: Vec<Value>,
    #[serde(default)]
    pub milestone: Option<Milestone>,
    #[serde(default)]
    pub auto_merge: Option<Value>,
    #[serde(default)]
    pub additions: Option<i32>,
    #[serde(default)]
    pub deletions: Option<i32>,
    #[serde(default)]
    pub changed_files: Option<i32>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
}

impl PullRequest {
    /// GitHub sets `merged_at` on every merged PR; `merged` is absent in some list shapes.
    pub fn is_merged(&self) -> bool {
        self.merged.unwrap_or(false) || self.merged_at.is_some()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Review {
    pub id: i64,
    pub user: Option<User>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub commit_id: Option<String>,
    pub state: String,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub submitted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub id: i64,
    pub number: i32,
    pub title: String,
    /// Empty when the payload omits it: GitHub's schema does not require it, and its published
    /// `issues.pinned` / `unpinned` examples have none. The store keeps the known state then.
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub state_reason: Option<String>,
    #[serde(default)]
    pub locked: bool,
    pub user: Option<User>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub assignees: Vec<User>,
    #[serde(default)]
    pub milestone: Option<Milestone>,
    #[serde(rename = "type", default)]
    pub issue_type: Option<Value>,
    #[serde(default)]
    pub pull_request: Option<Value>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstallationEvent {
    pub action: String,
    pub installation: Installation,
    #[serde(default)]
    pub repositories: Vec<RepositoryStub>,
    pub sender: Option<User>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstallationRepositoriesEvent {
    pub action: String,
    pub installation: Installation,
    #[serde(default)]
    pub repository_selection: Option<String>,
    #[serde(default)]
    pub repositories_added: Vec<RepositoryStub>,
    #[serde(default)]
    pub repositories_removed: Vec<RepositoryStub>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstallationTargetEvent {
    pub action: String,
    pub installation: InstallationRef,
    pub account: Account,
    #[serde(default)]
    pub target_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AppAuthorizationEvent {
    pub action: String,
    pub sender: User,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Membership {
    pub user: Option<User>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrganizationEvent {
    pub action: String,
    pub installation: Option<InstallationRef>,
    pub organization: Organization,
    #[serde(default)]
    pub membership: Option<Membership>,
    /// Set on `member_invited`: the invitee, when they already have a GitHub account.
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub invitation: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MemberEvent {
    pub action: String,
    pub installation: Option<InstallationRef>,
    pub member: User,
    pub repository: Repository,
    #[serde(default)]
    pub changes: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MembershipEvent {
    pub action: String,
    pub installation: Option<InstallationRef>,
    pub member: User,
    pub team: Team,
    pub organization: Organization,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TeamEvent {
    pub action: String,
    pub installation: Option<InstallationRef>,
    pub team: Team,
    pub organization: Organization,
    #[serde(default)]
    pub repository: Option<Repository>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PullRequestEvent {
    pub action: String,
    pub installation: Option<InstallationRef>,
    pub pull_request: PullRequest,
    pub repository: Repository,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PullRequestReviewEvent {
    pub action: String,
    pub installation: Option<InstallationRef>,
    pub review: Review,
    pub pull_request: PullRequest,
    pub repository: Repository,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IssueChanges {
    #[serde(default)]
    pub new_issue: Option<Value>,
    #[serde(default)]
    pub new_repository: Option<Repository>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IssuesEvent {
    pub action: String,
    pub installation: Option<InstallationRef>,
    pub issue: Issue,
    pub repository: Repository,
    #[serde(default)]
    pub changes: Option<IssueChanges>,
}

/// One delivery, typed. `Other` covers every event Mergecast does not handle.
#[derive(Debug, Clone)]
pub enum Event {
    Ping,
    Installation(InstallationEvent),
    InstallationRepositories(InstallationRepositoriesEvent),
    InstallationTarget(InstallationTargetEvent),
    AppAuthorization(AppAuthorizationEvent),
    Organization(OrganizationEvent),
    Member(MemberEvent),
    Membership(MembershipEvent),
    Team(TeamEvent),
    PullRequest(Box<PullRequestEvent>),
    PullRequestReview(Box<PullRequestReviewEvent>),
    Issues(Box<IssuesEvent>),
    Other { event: String },
}

impl Event {
    /// Parses a verified body by its `X-GitHub-Event` name.
    pub fn parse(event: &str, body: &[u8]) -> Result<Self, ParseError> {
        let text = std::str::from_utf8(body).map_err(|_| ParseError::NotUtf8)?;
        if !text.trim_start().starts_with('{') {
            return Err(ParseError::NotAnObject);
        }
        fn typed<T: for<'de> Deserialize<'de>>(event: &str, text: &str) -> Result<T, ParseError> {
            serde_json::from_str(text).map_err(|source| ParseError::Malformed {
                event: event.to_owned(),
                source,
            })
        }
        Ok(match event {
            "ping" => Event::Ping,
            "installation" => Event::Installation(typed(event, text)?),
            "installation_repositories" => Event::InstallationRepositories(typed(event, text)?),
            "installation_target" => Event::InstallationTarget(typed(event, text)?),
            "github_app_authorization" => Event::AppAuthorization(typed(event, text)?),
            "organization" => Event::Organization(typed(event, text)?),
            "member" => Event::Member(typed(event, text)?),
            "membership" => Event::Membership(typed(event, text)?),
            "team" => Event::Team(typed(event, text)?),
            "pull_request" => Event::PullRequest(Box::new(typed(event, text)?)),
            "pull_request_review" => Event::PullRequestReview(Box::new(typed(event, text)?)),
            "issues" => Event::Issues(Box::new(typed(event, text)?)),
            other => Event::Other {
                event: other.to_owned(),
            },
        })
    }
}

/// GitHub sends timestamps as ISO 8601 strings, but a few payload shapes (push events,
/// older installation objects) use Unix seconds; accept both rather than fail a delivery.
fn lenient_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(&s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Some(Value::Number(n)) => n.as_i64().and_then(|s| DateTime::from_timestamp(s, 0)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_actions_octocrab_rejects_still_parse() {
        // GitHub publishes no example of these actions: GitHub's `issues.opened` example, with
        // the action and the issue type as the issue-types documentation describes them.
        let path = format!(
            "{}/fixtures/github/examples/issues/opened.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let opened: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for name in ["issues.typed", "issues.untyped"] {
            let mut json = opened.clone();
            let issue_type = serde_json::json!({
                "id": 411,
                "node_id": "IT_kwDOAAAmv84AAAGb",
                "name": "Bug",
                "description": "An unexpected problem or behavior",
                "color": "red",
                "created_at": "2025-03-12T09:20:31Z",
                "updated_at": "2025-03-12T09:20:31Z",
                "is_enabled": true
            });
            json["action"] = Value::from(name.strip_prefix("issues.").unwrap());
            json["type"] = issue_type.clone();
            json["issue"]["type"] = if name == "issues.typed" {
                issue_type
            } else {
                Value::Null
            };
            let body = serde_json::to_vec(&json).unwrap();
            assert!(
                octocrab::models::webhook_events::WebhookEvent::try_from_header_and_body(
                    "issues", &body
                )
                .is_err(),
                "octocrab now parses {name}: the reason to keep our own types is gone"
            );
            let Event::Issues(event) = Event::parse("issues", &body).unwrap() else {
                panic!("{name} is an issues event");
            };
            assert_eq!(Some(event.action.as_str()), name.strip_prefix("issues."));
        }
    }

    #[test]
    fn unknown_event_is_a_value() {
        assert!(matches!(
            Event::parse("deployment", br#"{"action":"created"}"#).unwrap(),
            Event::Other { .. }
        ));
    }

    #[test]
    fn rejects_non_objects_and_bad_utf8() {
        assert!(matches!(
            Envelope::parse(b"[1,2]"),
            Err(ParseError::NotAnObject)
        ));
        assert!(matches!(
            Envelope::parse(b"\"x\""),
            Err(ParseError::NotAnObject)
        ));
        assert!(matches!(
            Envelope::parse(b"{\"a\":\"\xff\"}"),
            Err(ParseError::NotUtf8)
        ));
        assert!(matches!(
            Envelope::parse(b"{\"a\":"),
            Err(ParseError::Malformed { .. })
        ));
        let env = Envelope::parse(br#"{"action":"opened","installation":{"id":5}}"#).unwrap();
        assert_eq!(env.action.as_deref(), Some("opened"));
        assert_eq!(env.installation.map(|i| i.id), Some(5));
    }
}
