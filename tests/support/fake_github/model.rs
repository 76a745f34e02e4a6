//! What the fake GitHub knows: installations, users and org members, repositories, pull
//! requests with their reviews and commits, issues, webhook deliveries, tokens and rate-limit
//! windows. Tests arrange it through the builders (which fill in GitHub-like defaults) or edit
//! its fields directly, and read back what the app did (requests, mints, redeliveries).

use std::collections::HashMap;

use chrono::{DateTime, Duration, SubsecRound, Utc};

use super::DEFAULT_RATE_LIMIT;
use super::http::Caller;
pub use super::records::{
    Collaborator, Commit, CopilotSeat, HookDelivery, Installation, Invitation, Issue, Pull,
    RateLimit, Repo, RequestLog, Review, SecondaryLimit, Team, Token, User,
};
use super::routes::RepoRef;

/// Everything the fake knows. Tests may edit any field directly; the builders only fill in
/// GitHub-like defaults.
#[derive(Debug, Clone)]
pub struct Model {
    /// The app's URL name and owner login (`GET /app`, the manifest flow's conversion).
    pub app_slug: String,
    pub app_owner: String,
    pub installations: Vec<Installation>,
    /// Org login -> member user ids, in the order `/orgs/{org}/members` lists them.
    pub members: HashMap<String, Vec<i64>>,
    /// Org login -> id of the organization that holds the login now. A rename is arranged by
    /// pointing the old login at another org's id. Logins not listed here belong to the
    /// installation account of that login, if any.
    pub orgs: HashMap<String, i64>,
    /// (user id, org id) -> (role, state) of the org memberships
    /// (https://docs.github.com/en/rest/orgs/members#get-organization-membership-for-a-user):
    /// role `admin` or `member`, state `active` or `pending`.
    pub memberships: HashMap<(i64, i64), (String, String)>,
    /// Fault injection: while set, every request through the API loop is answered 503, as
    /// GitHub answers during an outage.
    pub unavailable: bool,
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
    /// The orgs' teams, in the order `/orgs/{org}/teams` lists them (also used by webhooks).
    pub teams: Vec<Team>,
    /// Org login -> its Copilot seats; an org without an entry has no Copilot plan (404).
    /// [`Model::add_org_installation`] gives the org a plan with no seats.
    pub copilot: HashMap<String, Vec<CopilotSeat>>,
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
            orgs: HashMap::new(),
            memberships: HashMap::new(),
            unavailable: false,
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
            copilot: HashMap::new(),
            collaborators: Vec::new(),
            invitations: Vec::new(),
            api_url: "https://api.github.com".into(),
            app_id: 0,
            app_slug: "mergecast-test".into(),
            app_owner: "mergecast-operator".into(),
            next_id: 1_000_000,
        }
    }
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
        self.copilot.entry(login.to_string()).or_default();
        let account_id = self.next_id();
        self.installations.push(Installation {
            id,
            account_login: login.to_string(),
            account_id,
            account_type: "Organization".into(),
            suspended: false,
            updated_at: now(),
            copilot_permission: true,
        });
        self.installations.last_mut().expect("just pushed")
    }

    /// The id of the organization that holds `login` now (see [`Model::orgs`]).
    pub fn org_id(&self, login: &str) -> Option<i64> {
        self.orgs
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(login))
            .map(|(_, &id)| id)
            .or_else(|| {
                self.installations
                    .iter()
                    .find(|i| i.account_login.eq_ignore_ascii_case(login))
                    .map(|i| i.account_id)
            })
    }

    /// Makes `user` a member of the org that holds `org` now, with `role` and `state`.
    pub fn set_membership(&mut self, user: &User, org: &str, role: &str, state: &str) {
        let org_id = self
            .org_id(org)
            .unwrap_or_else(|| panic!("arrange org {org} (orgs or an installation) first"));
        self.users.entry(user.id).or_insert_with(|| user.clone());
        self.memberships
            .insert((user.id, org_id), (role.into(), state.into()));
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

    /// Requests by `method` to `path` (the query string aside), whoever made them and whatever
    /// their outcome: what a caller spent of GitHub's rate limits on that endpoint.
    pub fn count_requests(&self, method: &str, path: &str) -> usize {
        self.requests
            .iter()
            .filter(|r| r.method == method && r.path_and_query.split('?').next() == Some(path))
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
