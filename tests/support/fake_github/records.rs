//! The records the fake GitHub's [`super::Model`] holds, one struct per kind of GitHub object
//! (installation, user, repository, commit, pull request, review, issue, hook delivery, team,
//! collaborator, invitation, Copilot seat) plus its tokens and rate-limit windows, with GitHub's defaults.

use chrono::{DateTime, Utc};

use super::{DEFAULT_RATE_LIMIT, RATE_WINDOW_SECS};

#[derive(Debug, Clone)]
pub struct Installation {
    pub id: i64,
    pub account_login: String,
    pub account_id: i64,
    /// `"Organization"` or `"User"`.
    pub account_type: String,
    pub suspended: bool,
    pub updated_at: DateTime<Utc>,
    /// Granted "GitHub Copilot Business" (`organization_copilot_seat_management: read`); without
    /// it the seat list answers 403. On by default (the app's manifest asks for it).
    pub copilot_permission: bool,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// `"User"` or `"Bot"`.
    pub kind: String,
}

impl User {
    pub fn new(id: i64, login: &str) -> Self {
        Self {
            id,
            login: login.to_string(),
            name: None,
            email: None,
            kind: "User".into(),
        }
    }

    /// A bot account; GitHub spells these logins `name[bot]`.
    pub fn bot(id: i64, login: &str) -> Self {
        Self {
            kind: "Bot".into(),
            ..Self::new(id, login)
        }
    }
}

#[derive(Debug, Clone)]
pub struct Repo {
    pub id: i64,
    pub installation_id: i64,
    pub owner: String,
    pub name: String,
    pub private: bool,
}

/// A commit on a pull request's branch.
#[derive(Debug, Clone)]
pub struct Commit {
    pub pull_id: i64,
    pub sha: String,
    /// The GitHub account the commit's author email belongs to, if any (`author` in the API).
    pub author_id: Option<i64>,
    pub author_name: String,
    /// The git author email (`commit.author.email`).
    pub author_email: String,
    pub date: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Pull {
    pub id: i64,
    pub repo_id: i64,
    pub number: i32,
    pub title: String,
    pub author_id: i64,
    /// `"open"` or `"closed"` (a merged pull request is closed).
    pub state: String,
    pub draft: bool,
    pub merged_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub merged_by: Option<i64>,
    pub locked: bool,
    pub labels: Vec<String>,
    pub assignees: Vec<i64>,
    pub requested_reviewers: Vec<i64>,
    pub milestone: Option<String>,
    pub auto_merge: bool,
    /// Bumped by each push (`synchronize`); the head SHA derives from it.
    pub pushes: u32,
}

impl Pull {
    /// Closes it unmerged at `at`.
    pub fn close(&mut self, at: DateTime<Utc>) -> &mut Self {
        self.state = "closed".into();
        self.closed_at = Some(at);
        self.updated_at = at;
        self
    }

    /// Merges (and so closes) it at `at`.
    pub fn merge(&mut self, at: DateTime<Utc>) -> &mut Self {
        self.merged_at = Some(at);
        self.close(at)
    }
}

#[derive(Debug, Clone)]
pub struct Review {
    pub id: i64,
    pub pull_id: i64,
    pub reviewer_id: i64,
    /// As GitHub returns it: `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`.
    pub state: String,
    pub submitted_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub id: i64,
    pub repo_id: i64,
    pub number: i32,
    pub title: String,
    pub author_id: i64,
    pub state: String,
    pub labels: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub is_pull_request: bool,
    pub locked: bool,
    pub assignees: Vec<i64>,
    pub milestone: Option<String>,
    /// The issue type's name (`Bug`, `Task`, ...), if set.
    pub issue_type: Option<String>,
}

impl Issue {
    /// The issue side of a pull request, which GitHub lists among a repository's issues.
    pub(super) fn of_pull(pull: &Pull) -> Self {
        Self {
            id: pull.id,
            repo_id: pull.repo_id,
            number: pull.number,
            title: pull.title.clone(),
            author_id: pull.author_id,
            state: pull.state.clone(),
            labels: Vec::new(),
            created_at: pull.created_at,
            updated_at: pull.updated_at,
            closed_at: pull.closed_at,
            is_pull_request: true,
            locked: pull.locked,
            assignees: pull.assignees.clone(),
            milestone: pull.milestone.clone(),
            issue_type: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HookDelivery {
    pub id: i64,
    pub guid: String,
    pub delivered_at: DateTime<Utc>,
    pub redelivery: bool,
    /// What the app answered; 0 means no response (shown as "timed out").
    pub status_code: u16,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub installation_id: i64,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLog {
    pub method: String,
    pub path_and_query: String,
    pub status: u16,
    /// The installation whose token authenticated the request, if any.
    pub installation_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the window refills to `limit`.
    pub reset: i64,
}

impl RateLimit {
    pub(super) fn fresh(now: i64) -> Self {
        Self {
            limit: DEFAULT_RATE_LIMIT,
            remaining: DEFAULT_RATE_LIMIT,
            reset: now + RATE_WINDOW_SECS,
        }
    }

    /// Starts a new window once the old one has ended, as GitHub does.
    pub(super) fn roll(&mut self, now: i64) {
        if now >= self.reset {
            self.remaining = self.limit;
            self.reset = now + RATE_WINDOW_SECS;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondaryLimit {
    /// How many more installation-token requests are refused.
    pub remaining_hits: u32,
    pub retry_after_secs: u64,
    /// 403 or 429; GitHub uses both.
    pub status: u16,
}

/// A team of an organization.
#[derive(Debug, Clone)]
pub struct Team {
    pub id: i64,
    pub org: String,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    /// `closed` or `secret`.
    pub privacy: String,
    pub members: Vec<i64>,
    /// Those of `members` who maintain the team (the others have role `member`).
    pub maintainers: Vec<i64>,
    /// The parent team's id, for a nested team.
    pub parent_id: Option<i64>,
    /// Repository id -> the team's permission on it (`pull`, `push`, `admin`, ...).
    pub repos: Vec<(i64, String)>,
}

/// A Copilot seat assigned to a user of an org
/// (https://docs.github.com/en/rest/copilot/copilot-user-management).
#[derive(Debug, Clone)]
pub struct CopilotSeat {
    pub user_id: i64,
    /// `business`, `enterprise` or `unknown`.
    pub plan_type: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub pending_cancellation_date: Option<chrono::NaiveDate>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub last_activity_editor: Option<String>,
    /// The team through which the seat was assigned, if any.
    pub assigning_team_id: Option<i64>,
}

/// Someone given access to one repository (a `member` event's subject).
#[derive(Debug, Clone)]
pub struct Collaborator {
    pub repo_id: i64,
    pub user_id: i64,
    /// `read`, `triage`, `write`, `maintain` or `admin`.
    pub permission: String,
}

/// An invitation to join an organization, for a GitHub account.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: i64,
    pub org: String,
    pub user_id: i64,
    pub inviter_id: i64,
    pub role: String,
    pub created_at: DateTime<Utc>,
}
