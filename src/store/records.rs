//! What the store is given to write: plain records in the schema's terms, borrowed from whatever
//! read them (a webhook payload, a REST page). The store names no wire type, so GitHub's payload
//! shapes (which sit a layer above, in `github::events`) can change without touching SQL; the
//! conversions live beside those types.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A GitHub account (user, bot or organization) as stored on members, authors and reviewers.
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    pub id: i64,
    pub login: &'a str,
    /// GitHub's `type`: `User`, `Bot`, `Organization`.
    pub kind: Option<&'a str>,
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
}

/// A repository an installation can see.
#[derive(Debug, Clone, Copy)]
pub struct RepositoryRecord<'a> {
    pub id: i64,
    pub name: &'a str,
    pub full_name: &'a str,
    pub private: bool,
}

/// An installation as GitHub describes it.
#[derive(Debug, Clone)]
pub struct InstallationRecord<'a> {
    pub id: i64,
    pub account_id: Option<i64>,
    pub account_login: &'a str,
    pub account_type: Option<&'a str>,
    pub target_type: Option<&'a str>,
    pub repository_selection: Option<&'a str>,
    /// A JSON object (never null).
    pub permissions: Value,
    /// A JSON array (never null).
    pub events: Value,
    pub suspended_at: Option<DateTime<Utc>>,
    pub suspended_by: Option<&'a str>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A team of an organization.
#[derive(Debug, Clone, Copy)]
pub struct TeamRecord<'a> {
    pub id: i64,
    pub slug: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub privacy: Option<&'a str>,
    pub permission: Option<&'a str>,
    pub parent_id: Option<i64>,
}

/// A pull request, whole (from a `pull_request` event or the REST list) or partial (embedded in
/// a review event: then only the columns `insert_if_absent` writes are trusted).
#[derive(Debug, Clone)]
pub struct PullRecord<'a> {
    pub id: i64,
    pub number: i32,
    pub title: &'a str,
    pub state: &'a str,
    pub draft: bool,
    pub locked: bool,
    pub author: Option<Person<'a>>,
    pub html_url: Option<&'a str>,
    pub head_ref: &'a str,
    pub head_sha: &'a str,
    pub base_ref: &'a str,
    pub merged: bool,
    pub merged_at: Option<DateTime<Utc>>,
    pub merged_by_login: Option<&'a str>,
    /// Only when merged.
    pub merge_commit_sha: Option<&'a str>,
    pub labels: Vec<&'a str>,
    pub assignees: Vec<&'a str>,
    pub requested_reviewers: Vec<&'a str>,
    pub requested_teams: Vec<&'a str>,
    pub milestone: Option<&'a str>,
    pub auto_merge: bool,
    pub additions: Option<i32>,
    pub deletions: Option<i32>,
    pub changed_files: Option<i32>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// A pull request review.
#[derive(Debug, Clone)]
pub struct ReviewRecord<'a> {
    pub id: i64,
    pub reviewer: Option<Person<'a>>,
    /// Lower case: `approved`, `changes_requested`, `commented`, `dismissed`, `pending`.
    pub state: String,
    pub body: Option<&'a str>,
    pub commit_id: Option<&'a str>,
    pub html_url: Option<&'a str>,
    pub submitted_at: Option<DateTime<Utc>>,
}

/// An issue (pull requests excluded).
#[derive(Debug, Clone)]
pub struct IssueRecord<'a> {
    pub id: i64,
    pub number: i32,
    pub title: &'a str,
    pub state: &'a str,
    pub state_reason: Option<&'a str>,
    pub locked: bool,
    pub author: Option<Person<'a>>,
    pub html_url: Option<&'a str>,
    pub labels: Vec<&'a str>,
    pub assignees: Vec<&'a str>,
    pub milestone: Option<&'a str>,
    pub issue_type: Option<&'a str>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}
