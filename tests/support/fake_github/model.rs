//! What the fake GitHub knows: installations, users and org members, repositories, pull
//! requests with their reviews and commits, issues, webhook deliveries, tokens and rate-limit
//! windows. Tests arrange it through the builders (which fill in GitHub-like defaults) or edit
//! its fields directly, and read back what the app did (requests, mints, redeliveries).

use std::collections::HashMap;

use chrono::{DateTime, Duration, SubsecRound, Utc};

use super::http::Caller;
use super::routes::RepoRef;
use super::{DEFAULT_RATE_LIMIT, RATE_WINDOW_SECS};

/// Everything the fake knows. Tests may edit any field directly; the builders only fill in
/// GitHub-like defaults.
#[derive(Debug, Clone)]
pub struct Model {
    pub installations: Vec<Installation>,
    /// Org login -> member user ids, in the order `/orgs/{org}/members` lists them.
    pub members: HashMap<String, Vec<i64>>,
    pub users: HashMap<i64, User>,
    pub repos: Vec<Repo>,
    pub pulls: Vec<Pull>,
    pub reviews: Vec<Review>,
    /// Commits of pull requests, in the order they were made (oldest first).
    pub commits: Vec<Commit>,
    pub issues: Vec<Issue>,
    /// Any order; the endpoint sorts newest first.
    pub hook_deliveries: Vec<HookDelivery>,
    /// Lifetime of minted installation tokens (GitHub: one hour). Negative mints expired ones.
    pub token_ttl: Duration,
    /// Token string -> what it grants.
    pub tokens: HashMap<String, Token>,
    /// Installation id -> successful mints over HTTP.
    pub mints: HashMap<i64, u32>,
    /// Delivery ids POSTed to `/app/hook/deliveries/{id}/attempts`, in order.
    pub redelivery_requests: Vec<i64>,
    /// Every request, in arrival order.
    pub requests: Vec<RequestLog>,
    /// Primary rate limit per installation, created on first use.
    pub rate: HashMap<i64, RateLimit>,
    /// Primary rate limit of requests authenticated with the app JWT.
    pub app_rate: RateLimit,
    /// When set, the next requests made with installation tokens are refused.
    pub secondary_limit: Option<SecondaryLimit>,
    pub per_page_max: usize,
    /// GitHub refuses requests without a `User-Agent` (403); on by default.
    pub require_user_agent: bool,
    /// Make `Link`s point at GitHub's id-based paths (`/organizations/{id}/members`,
    /// `/repositories/{id}/pulls`), as api.github.com does, instead of the path requested; both
    /// are always served. Off by default.
    pub github_link_paths: bool,
    /// Fault injection, not GitHub behaviour: when set (`http://127.0.0.1:PORT`), `Link`s point
    /// at this origin instead of the fake's own, as a hostile or broken proxy might rewrite them.
    /// GitHub itself links to its own API host:
    /// https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
    pub link_origin: Option<String>,
    /// The org's teams (webhooks only: the REST fake serves no team endpoint).
    pub teams: Vec<Team>,
    /// Outside collaborators of repositories (webhooks only).
    pub collaborators: Vec<Collaborator>,
    /// Pending org invitations (webhooks only).
    pub invitations: Vec<Invitation>,
    /// The fake's base URL and app id, which the webhook bodies embed (set by
    /// [`super::FakeGithub::start`]).
    pub api_url: String,
    pub app_id: i64,
    next_id: i64,
}

impl Default for Model {
    fn default() -> Self {
        Self {
            installations: Vec::new(),
            members: HashMap::new(),
            users: HashMap::new(),
            repos: Vec::new(),
            pulls: Vec::new(),
            reviews: Vec::new(),
            commits: Vec::new(),
            issues: Vec::new(),
            hook_deliveries: Vec::new(),
            token_ttl: Duration::hours(1),
            tokens: HashMap::new(),
            mints: HashMap::new(),
            redelivery_requests: Vec::new(),
            requests: Vec::new(),
            rate: HashMap::new(),
            app_rate: RateLimit::fresh(Utc::now().timestamp()),
            secondary_limit: None,
            per_page_max: 100,
            require_user_agent: true,
            github_link_paths: false,
            link_origin: None,
            teams: Vec::new(),
            collaborators: Vec::new(),
            invitations: Vec::new(),
            api_url: "https://api.github.com".into(),
            app_id: 0,
            next_id: 1_000_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Installation {
    pub id: i64,
    pub account_login: String,
    pub account_id: i64,
    /// `"Organization"` or `"User"`.
    pub account_type: String,
    pub suspended: bool,
    pub updated_at: DateTime<Utc>,
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

/// Now at GitHub's precision (whole seconds), so `since` round-trips exactly.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

impl Model {
    pub(super) fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Pull requests and issues share one number sequence per repository.
    pub(super) fn next_number(&self, repo_id: i64) -> i32 {
        let pulls = self.pulls.iter().filter(|p| p.repo_id == repo_id);
        let issues = self.issues.iter().filter(|i| i.repo_id == repo_id);
        let max = pulls
            .map(|p| p.number)
            .chain(issues.map(|i| i.number))
            .max();
        max.unwrap_or(0) + 1
    }

    /// Installs the app on organization `login`; the org exists (with no members) from now on.
    pub fn add_org_installation(&mut self, id: i64, login: &str) -> &mut Installation {
        self.members.entry(login.to_string()).or_default();
        let account_id = self.next_id();
        self.installations.push(Installation {
            id,
            account_login: login.to_string(),
            account_id,
            account_type: "Organization".into(),
            suspended: false,
            updated_at: now(),
        });
        self.installations.last_mut().expect("just pushed")
    }

    /// Pull request `number` of `repo`, as `installation` sees it.
    pub(super) fn pull(
        &self,
        installation: i64,
        repo: &RepoRef,
        number: i32,
    ) -> Option<(&Repo, &Pull)> {
        let repo = self.repo(installation, repo)?;
        let pull = self
            .pulls
            .iter()
            .find(|p| p.repo_id == repo.id && p.number == number)?;
        Some((repo, pull))
    }

    /// The installation with `id`; panics if there is none (a broken test).
    pub fn installation(&mut self, id: i64) -> &mut Installation {
        self.installations
            .iter_mut()
            .find(|i| i.id == id)
            .unwrap_or_else(|| panic!("no installation {id}"))
    }

    /// Adds or replaces a user (not a member of anything).
    pub fn add_user(&mut self, user: User) -> &mut User {
        let id = user.id;
        self.users.insert(id, user);
        self.users.get_mut(&id).expect("just inserted")
    }

    /// Adds (or replaces) `user` and appends it to `org`'s members, once.
    pub fn add_member(&mut self, org: &str, user: User) {
        let id = user.id;
        self.users.insert(id, user);
        let members = self.members.entry(org.to_string()).or_default();
        if !members.contains(&id) {
            members.push(id);
        }
    }

    /// Removes `user_id` from `org` (the user stays known).
    pub fn remove_member(&mut self, org: &str, user_id: i64) {
        if let Some(members) = self.members.get_mut(org) {
            members.retain(|&id| id != user_id);
        }
    }

    /// A public repository visible to `installation_id`'s tokens.
    pub fn add_repo(&mut self, installation_id: i64, owner: &str, name: &str) -> &mut Repo {
        let id = self.next_id();
        self.repos.push(Repo {
            id,
            installation_id,
            owner: owner.to_string(),
            name: name.to_string(),
            private: false,
        });
        self.repos.last_mut().expect("just pushed")
    }

    /// An open, non-draft pull request with the repository's next number, created now.
    pub fn add_pull(&mut self, repo_id: i64, author_id: i64) -> &mut Pull {
        let id = self.next_id();
        let number = self.next_number(repo_id);
        let at = now();
        self.pulls.push(Pull {
            id,
            repo_id,
            number,
            title: format!("Pull request #{number}"),
            author_id,
            state: "open".into(),
            draft: false,
            merged_at: None,
            created_at: at,
            updated_at: at,
            closed_at: None,
            merged_by: None,
            locked: false,
            labels: Vec::new(),
            assignees: Vec::new(),
            requested_reviewers: Vec::new(),
            milestone: None,
            auto_merge: false,
            pushes: 0,
        });
        self.pulls.last_mut().expect("just pushed")
    }

    /// A review submitted now.
    pub fn add_review(&mut self, pull_id: i64, reviewer_id: i64, state: &str) -> &mut Review {
        let id = self.next_id();
        self.reviews.push(Review {
            id,
            pull_id,
            reviewer_id,
            state: state.to_string(),
            submitted_at: now(),
        });
        self.reviews.last_mut().expect("just pushed")
    }

    /// An open issue (not a pull request) with the repository's next number, created now.
    pub fn add_issue(&mut self, repo_id: i64, author_id: i64) -> &mut Issue {
        let id = self.next_id();
        let number = self.next_number(repo_id);
        let at = now();
        self.issues.push(Issue {
            id,
            repo_id,
            number,
            title: format!("Issue #{number}"),
            author_id,
            state: "open".into(),
            labels: Vec::new(),
            created_at: at,
            updated_at: at,
            closed_at: None,
            is_pull_request: false,
            locked: false,
            assignees: Vec::new(),
            milestone: None,
            issue_type: None,
        });
        self.issues.last_mut().expect("just pushed")
    }

    /// A first delivery (not a redelivery) made now, newer than every earlier one added.
    pub fn add_hook_delivery(
        &mut self,
        event: &str,
        action: Option<&str>,
        status_code: u16,
    ) -> &mut HookDelivery {
        let id = self.next_id();
        self.hook_deliveries.push(HookDelivery {
            id,
            guid: uuid::Uuid::new_v4().to_string(),
            delivered_at: now(),
            redelivery: false,
            status_code,
            event: event.to_string(),
            action: action.map(str::to_string),
            installation_id: None,
        });
        self.hook_deliveries.last_mut().expect("just pushed")
    }

    /// Creates a valid token for `installation_id` without HTTP (not counted in `mints`).
    pub fn issue_token(&mut self, installation_id: i64) -> String {
        let token = format!("ghs_{}", uuid::Uuid::new_v4().simple());
        let expires_at = Utc::now() + self.token_ttl;
        self.tokens.insert(
            token.clone(),
            Token {
                installation_id,
                expires_at,
            },
        );
        token
    }

    /// Expires every token already minted, as if their hour had passed.
    pub fn expire_tokens(&mut self) {
        let past = Utc::now() - Duration::seconds(1);
        for token in self.tokens.values_mut() {
            token.expires_at = past;
        }
    }

    /// Sets what is left of `installation_id`'s window and when it refills (may be negative,
    /// meaning the window has already ended and the next request starts a new one).
    pub fn set_rate_remaining(&mut self, installation_id: i64, remaining: u32, reset_in_secs: i64) {
        let now = Utc::now().timestamp();
        let rate = self
            .rate
            .entry(installation_id)
            .or_insert_with(|| RateLimit::fresh(now));
        rate.remaining = remaining;
        rate.reset = now + reset_in_secs;
    }

    /// What `installation_id` has left (the full limit if it never made a request).
    pub fn rate_remaining(&self, installation_id: i64) -> u32 {
        self.rate
            .get(&installation_id)
            .map_or(DEFAULT_RATE_LIMIT, |r| r.remaining)
    }

    /// Requests made with `installation_id`'s tokens, whatever their outcome (304s included).
    pub fn api_calls(&self, installation_id: i64) -> usize {
        self.requests
            .iter()
            .filter(|r| r.installation_id == Some(installation_id))
            .count()
    }

    /// Requests made with `installation_id`'s tokens that were answered `status`.
    pub fn count_status(&self, installation_id: i64, status: u16) -> usize {
        self.requests
            .iter()
            .filter(|r| r.installation_id == Some(installation_id) && r.status == status)
            .count()
    }

    /// Successful token mints over HTTP for `installation_id`.
    pub fn mint_count(&self, installation_id: i64) -> u32 {
        self.mints.get(&installation_id).copied().unwrap_or(0)
    }

    pub fn clear_requests(&mut self) {
        self.requests.clear();
    }

    pub(super) fn rate_for(&mut self, caller: Caller, now: i64) -> &mut RateLimit {
        let rate = match caller {
            Caller::App => &mut self.app_rate,
            Caller::Installation(id) => {
                self.rate.entry(id).or_insert_with(|| RateLimit::fresh(now))
            }
        };
        rate.roll(now);
        rate
    }

    /// A repository `installation_id` can see (GitHub answers 404 for the others).
    pub(super) fn repo(&self, installation_id: i64, repo: &RepoRef) -> Option<&Repo> {
        self.repos.iter().find(|r| {
            r.installation_id == installation_id
                && match repo {
                    RepoRef::Name(owner, name) => {
                        r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name)
                    }
                    RepoRef::Id(id) => r.id == *id,
                }
        })
    }
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
    /// Repository id -> the team's permission on it (`pull`, `push`, `admin`, ...).
    pub repos: Vec<(i64, String)>,
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
