//! From GitHub's payload types to the store's records: the one place that decides how a
//! payload's fields map onto our columns (label names, reviewer logins, `merged`, lower-case
//! review states, the issue type's name).

use serde_json::Value;

use super::events::{
    Account, Installation, Issue, PullRequest, Repository, RepositoryStub, Review, Team, User,
};
use crate::store::records::{
    InstallationRecord, IssueRecord, Person, PullRecord, RepositoryRecord, ReviewRecord, TeamRecord,
};

impl User {
    pub fn person(&self) -> Person<'_> {
        Person {
            id: self.id,
            login: &self.login,
            kind: self.kind.as_deref(),
            name: self.name.as_deref(),
            email: self.email.as_deref(),
        }
    }
}

impl Repository {
    pub fn record(&self) -> RepositoryRecord<'_> {
        RepositoryRecord {
            id: self.id,
            name: &self.name,
            full_name: &self.full_name,
            private: self.private,
        }
    }
}

/// The store's records of a payload's repository list (the short form installation payloads
/// carry: the same four fields).
pub fn repository_records(stubs: &[RepositoryStub]) -> Vec<RepositoryRecord<'_>> {
    stubs
        .iter()
        .map(|r| RepositoryRecord {
            id: r.id,
            name: &r.name,
            full_name: &r.full_name,
            private: r.private,
        })
        .collect()
}

/// A JSON value that must not be null: `empty` stands in for null.
fn non_null(v: &Value, empty: Value) -> Value {
    if v.is_null() { empty } else { v.clone() }
}

impl Installation {
    pub fn record(&self) -> InstallationRecord<'_> {
        let account: Option<&Account> = self.account.as_ref();
        InstallationRecord {
            id: self.id,
            account_id: account.map(|a| a.id),
            account_login: account.map(|a| a.login.as_str()).unwrap_or(""),
            account_type: account.and_then(|a| a.kind.as_deref()),
            target_type: self.target_type.as_deref(),
            repository_selection: self.repository_selection.as_deref(),
            permissions: non_null(&self.permissions, Value::Object(Default::default())),
            events: non_null(&self.events, Value::Array(Vec::new())),
            suspended_at: self.suspended_at,
            suspended_by: self.suspended_by.as_ref().map(|a| a.login.as_str()),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

impl Team {
    pub fn record(&self) -> TeamRecord<'_> {
        TeamRecord {
            id: self.id,
            slug: &self.slug,
            name: &self.name,
            description: self.description.as_deref(),
            privacy: self.privacy.as_deref(),
            permission: self.permission.as_deref(),
            parent_id: self.parent.as_ref().map(|p| p.id),
        }
    }
}

/// The `key` field of each requested reviewer or team (`login`, `slug`).
fn names<'a>(values: &'a [Value], key: &str) -> Vec<&'a str> {
    values
        .iter()
        .filter_map(|v| v.get(key).and_then(Value::as_str))
        .collect()
}

impl PullRequest {
    pub fn record(&self) -> PullRecord<'_> {
        let merged = self.is_merged();
        PullRecord {
            id: self.id,
            number: self.number,
            title: &self.title,
            state: &self.state,
            draft: self.draft,
            locked: self.locked,
            author: self.user.as_ref().map(User::person),
            html_url: self.html_url.as_deref(),
            head_ref: &self.head.name,
            head_sha: &self.head.sha,
            base_ref: &self.base.name,
            merged,
            merged_at: self.merged_at,
            merged_by_login: self.merged_by.as_ref().map(|u| u.login.as_str()),
            merge_commit_sha: self.merge_commit_sha.as_deref().filter(|_| merged),
            labels: self.labels.iter().map(|l| l.name.as_str()).collect(),
            assignees: self.assignees.iter().map(|u| u.login.as_str()).collect(),
            requested_reviewers: names(&self.requested_reviewers, "login"),
            requested_teams: names(&self.requested_teams, "slug"),
            milestone: self.milestone.as_ref().map(|m| m.title.as_str()),
            auto_merge: self.auto_merge.as_ref().is_some_and(|v| !v.is_null()),
            additions: self.additions,
            deletions: self.deletions,
            changed_files: self.changed_files,
            created_at: self.created_at,
            updated_at: self.updated_at,
            closed_at: self.closed_at,
        }
    }
}

impl Review {
    pub fn record(&self) -> ReviewRecord<'_> {
        ReviewRecord {
            id: self.id,
            reviewer: self.user.as_ref().map(User::person),
            state: self.state.to_ascii_lowercase(),
            body: self.body.as_deref(),
            commit_id: self.commit_id.as_deref(),
            html_url: self.html_url.as_deref(),
            submitted_at: self.submitted_at,
        }
    }
}

impl Issue {
    pub fn record(&self) -> IssueRecord<'_> {
        IssueRecord {
            id: self.id,
            number: self.number,
            title: &self.title,
            state: &self.state,
            state_reason: self.state_reason.as_deref(),
            locked: self.locked,
            author: self.user.as_ref().map(User::person),
            html_url: self.html_url.as_deref(),
            labels: self.labels.iter().map(|l| l.name.as_str()).collect(),
            assignees: self.assignees.iter().map(|u| u.login.as_str()).collect(),
            milestone: self.milestone.as_ref().map(|m| m.title.as_str()),
            // GitHub sends an object with a `name`; older previews sent the name alone.
            issue_type: self
                .issue_type
                .as_ref()
                .and_then(|t| t.get("name").and_then(Value::as_str).or_else(|| t.as_str())),
            created_at: self.created_at,
            updated_at: self.updated_at,
            closed_at: self.closed_at,
        }
    }
}
