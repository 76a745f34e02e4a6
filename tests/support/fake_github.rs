//! A fake of the part of api.github.com that Mergecast calls: an axum server on a loopback port,
//! backed by an in-memory [`Model`] that the test arranges and then inspects.
//!
//! It enforces GitHub's rules rather than the client's assumptions: RS256 app JWTs with GitHub's
//! time limits, expiring installation tokens, `Link` pagination with absolute URLs, weak `ETag`s
//! with free 304s, primary and secondary rate limits, and GitHub's JSON shapes.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use chrono::{DateTime, Duration, SecondsFormat, SubsecRound, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const DOCS_URL: &str = "https://docs.github.com/rest";
const RATE_DOCS_URL: &str =
    "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api";
/// GitHub's default primary limit for an installation (and for an app's JWT).
pub const DEFAULT_RATE_LIMIT: u32 = 5000;
/// Length of a primary rate-limit window.
const RATE_WINDOW_SECS: i64 = 3600;
/// Clock skew tolerated on a JWT's `exp`, in both directions.
const JWT_EXP_SKEW_SECS: i64 = 30;
/// GitHub refuses app JWTs that expire more than ten minutes ahead.
const JWT_MAX_LIFETIME_SECS: i64 = 600;
/// How far in the future `iat` may be before the JWT is refused.
const JWT_IAT_SKEW_SECS: i64 = 60;
/// GitHub shows authors of content whose account is gone as this user.
const GHOST_ID: i64 = 10137;
const DEFAULT_PER_PAGE: usize = 30;

/// The test app's private key (PKCS#1 PEM), for configuring the client under test.
pub fn private_key_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/keys/test-app.pem")
}

/// The public half of [`private_key_path`], the only key the fake trusts.
pub fn public_key_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/keys/test-app.pub.pem")
}

/// The test app's private key as PEM text.
pub fn private_key_pem() -> String {
    std::fs::read_to_string(private_key_path()).expect("read test app private key")
}

/// Signs arbitrary `claims` with the test app key (RS256), to probe the fake's JWT checks.
pub fn sign_jwt(claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(private_key_pem().as_bytes()).expect("test app key");
    encode(&Header::new(Algorithm::RS256), claims, &key).expect("sign JWT")
}

/// A JWT GitHub accepts for `app_id`: issued a minute ago (clock drift), expiring in nine.
pub fn app_jwt(app_id: i64) -> String {
    let now = Utc::now().timestamp();
    sign_jwt(&json!({ "iat": now - 60, "exp": now + 540, "iss": app_id.to_string() }))
}

/// A running fake; the server stops when this is dropped.
pub struct FakeGithub {
    /// Base URL, `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    pub model: Arc<Mutex<Model>>,
    pub app_id: i64,
    /// The OAuth web flow and the signed-in user's endpoints (admin sign-in).
    pub oauth: Arc<Mutex<OAuth>>,
    server: JoinHandle<()>,
}

impl FakeGithub {
    /// Starts the fake for `app_id` on a free loopback port, with an empty model.
    pub async fn start(app_id: i64) -> Self {
        let pem = std::fs::read(public_key_path()).expect("read test app public key");
        let key = DecodingKey::from_rsa_pem(&pem).expect("test app public key");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake GitHub");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let model = Arc::new(Mutex::new(Model::default()));
        let state = Arc::new(Server {
            url: url.clone(),
            app_id,
            key,
            model: model.clone(),
        });
        let oauth = Arc::new(Mutex::new(OAuth::default()));
        let app = Router::new()
            .fallback(handle)
            .with_state(state)
            .merge(oauth_router(oauth.clone(), url.clone(), model.clone()));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            model,
            app_id,
            oauth,
            server,
        }
    }

    /// Runs `f` with the model locked, to arrange state or read what happened.
    pub fn with<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        f(&mut lock(&self.model))
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A panicking test must not poison the model for the assertions that follow.
fn lock(model: &Mutex<Model>) -> MutexGuard<'_, Model> {
    model
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

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
}

impl Issue {
    /// The issue side of a pull request, which GitHub lists among a repository's issues.
    fn of_pull(pull: &Pull) -> Self {
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
    fn fresh(now: i64) -> Self {
        Self {
            limit: DEFAULT_RATE_LIMIT,
            remaining: DEFAULT_RATE_LIMIT,
            reset: now + RATE_WINDOW_SECS,
        }
    }

    /// Starts a new window once the old one has ended, as GitHub does.
    fn roll(&mut self, now: i64) {
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
    fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Pull requests and issues share one number sequence per repository.
    fn next_number(&self, repo_id: i64) -> i32 {
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
    fn pull(&self, installation: i64, repo: &RepoRef, number: i32) -> Option<(&Repo, &Pull)> {
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

    fn rate_for(&mut self, caller: Caller, now: i64) -> &mut RateLimit {
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
    fn repo(&self, installation_id: i64, repo: &RepoRef) -> Option<&Repo> {
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

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

struct Server {
    url: String,
    app_id: i64,
    key: DecodingKey,
    model: Arc<Mutex<Model>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    App,
    Installation(i64),
}

/// One answer before it becomes an HTTP response.
struct Reply {
    status: StatusCode,
    body: Option<Vec<u8>>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: StatusCode, body: &Value) -> Self {
        Self {
            status,
            body: Some(serde_json::to_vec(body).expect("serialize JSON")),
            headers: Vec::new(),
        }
    }

    fn ok(body: &Value) -> Self {
        Self::json(StatusCode::OK, body)
    }

    fn error(status: StatusCode, message: &str) -> Self {
        Self::json(
            status,
            &json!({ "message": message, "documentation_url": DOCS_URL }),
        )
    }

    fn not_found() -> Self {
        Self::error(StatusCode::NOT_FOUND, "Not Found")
    }

    fn header(mut self, name: &'static str, value: impl ToString) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    fn with_rate(self, rate: &RateLimit) -> Self {
        self.header("x-ratelimit-limit", rate.limit)
            .header("x-ratelimit-remaining", rate.remaining)
            .header(
                "x-ratelimit-used",
                rate.limit.saturating_sub(rate.remaining),
            )
            .header("x-ratelimit-reset", rate.reset)
            .header("x-ratelimit-resource", "core")
    }

    fn into_response(self) -> Response {
        let mut response = Response::builder()
            .status(self.status)
            .header("x-github-request-id", uuid::Uuid::new_v4().to_string())
            .header("x-github-api-version-selected", "2022-11-28");
        if self.body.is_some() {
            response = response.header(header::CONTENT_TYPE, "application/json; charset=utf-8");
        }
        for (name, value) in self.headers {
            response = response.header(name, value);
        }
        response
            .body(Body::from(self.body.unwrap_or_default()))
            .expect("valid response")
    }
}

async fn handle(
    State(server): State<Arc<Server>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let reply = {
        let mut model = lock(&server.model);
        let (reply, installation_id) = server.process(&mut model, &method, &uri, &headers);
        model.requests.push(RequestLog {
            method: method.to_string(),
            path_and_query: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_string(), |pq| pq.to_string()),
            status: reply.status.as_u16(),
            installation_id,
        });
        reply
    };
    reply.into_response()
}

/// The endpoints the fake serves.
enum Route {
    MintToken(i64),
    Installations,
    HookDeliveries,
    Redeliver(i64),
    InstallationRepos,
    OrgMembers(OrgRef),
    User(String),
    Pulls(RepoRef),
    Reviews(RepoRef, i32),
    PullCommits(RepoRef, i32),
    Issues(RepoRef),
}

/// An organization as a path names it: `/orgs/{login}` or GitHub's own `/organizations/{id}`.
enum OrgRef {
    Login(String),
    Id(i64),
}

/// A repository as a path names it: `/repos/{owner}/{name}` or GitHub's `/repositories/{id}`.
enum RepoRef {
    Name(String, String),
    Id(i64),
}

impl Route {
    fn parse(method: &Method, path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let get = *method == Method::GET;
        let post = *method == Method::POST;
        Some(match segments.as_slice() {
            ["app", "installations", id, "access_tokens"] if post => {
                Self::MintToken(id.parse().ok()?)
            }
            ["app", "installations"] if get => Self::Installations,
            ["app", "hook", "deliveries"] if get => Self::HookDeliveries,
            ["app", "hook", "deliveries", id, "attempts"] if post => {
                Self::Redeliver(id.parse().ok()?)
            }
            ["installation", "repositories"] if get => Self::InstallationRepos,
            ["orgs", org, "members"] if get => Self::OrgMembers(OrgRef::Login(org.to_string())),
            ["organizations", id, "members"] if get => {
                Self::OrgMembers(OrgRef::Id(id.parse().ok()?))
            }
            ["users", login] if get => Self::User(login.to_string()),
            ["repos", owner, name, rest @ ..] if get => {
                Self::repo_route(RepoRef::Name(owner.to_string(), name.to_string()), rest)?
            }
            ["repositories", id, rest @ ..] if get => {
                Self::repo_route(RepoRef::Id(id.parse().ok()?), rest)?
            }
            _ => return None,
        })
    }

    fn repo_route(repo: RepoRef, rest: &[&str]) -> Option<Self> {
        Some(match rest {
            ["pulls"] => Self::Pulls(repo),
            ["pulls", number, "reviews"] => Self::Reviews(repo, number.parse().ok()?),
            ["pulls", number, "commits"] => Self::PullCommits(repo, number.parse().ok()?),
            ["issues"] => Self::Issues(repo),
            _ => return None,
        })
    }

    /// App endpoints take the app's JWT; everything else an installation token.
    fn takes_jwt(&self) -> bool {
        matches!(
            self,
            Self::MintToken(_) | Self::Installations | Self::HookDeliveries | Self::Redeliver(_)
        )
    }
}

impl Server {
    /// Authenticates, applies the rate limits and caching rules, and runs the route; returns the
    /// reply and the installation to log it under.
    fn process(
        &self,
        model: &mut Model,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> (Reply, Option<i64>) {
        if model.require_user_agent && !headers.contains_key(header::USER_AGENT) {
            let message = "Request forbidden by administrative rules. Please make sure your \
                           request has a User-Agent header \
                           (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).";
            return (Reply::error(StatusCode::FORBIDDEN, message), None);
        }
        let Some(route) = Route::parse(method, uri.path()) else {
            return (Reply::not_found(), None);
        };
        let now = Utc::now();
        let caller = if route.takes_jwt() {
            match self.verify_jwt(headers, now.timestamp()) {
                Ok(()) => Caller::App,
                Err(message) => return (Reply::error(StatusCode::UNAUTHORIZED, message), None),
            }
        } else {
            match installation_of(model, headers, now) {
                Ok(id) => Caller::Installation(id),
                Err(refusal) => return refusal,
            }
        };
        let logged = match caller {
            Caller::App => None,
            Caller::Installation(id) => Some(id),
        };

        let rate = model.rate_for(caller, now.timestamp()).clone();
        if let Some(refusal) = secondary_limit(model, caller) {
            return (refusal.with_rate(&rate), logged);
        }
        if rate.remaining == 0 {
            let message = match caller {
                Caller::App => format!("API rate limit exceeded for app ID {}.", self.app_id),
                Caller::Installation(id) => {
                    format!("API rate limit exceeded for installation ID {id}.")
                }
            };
            let body = json!({ "message": message, "documentation_url": RATE_DOCS_URL });
            return (
                Reply::json(StatusCode::FORBIDDEN, &body).with_rate(&rate),
                logged,
            );
        }

        let query = Query::parse(uri.query());
        let link_origin = model.link_origin.clone();
        let cx = Ctx {
            base: &self.url,
            link_base: link_origin.as_deref().unwrap_or(&self.url),
            app_id: self.app_id,
            path: uri.path(),
            query: &query,
            now,
            per_page_max: model.per_page_max,
        };
        let mut reply = route.run(model, &cx, caller);

        if *method == Method::GET && reply.status == StatusCode::OK {
            let body = reply.body.as_deref().unwrap_or_default();
            let etag = format!("W/\"{}\"", hex::encode(Sha256::digest(body)));
            reply = if etag_matches(headers, &etag) {
                Reply {
                    status: StatusCode::NOT_MODIFIED,
                    body: None,
                    headers: Vec::new(),
                }
            } else {
                reply
            };
            reply = reply.header("etag", etag);
        }

        // A 304 is free (GitHub's rule); everything else that got this far costs one request.
        let rate = model.rate_for(caller, now.timestamp());
        if reply.status != StatusCode::NOT_MODIFIED {
            rate.remaining = rate.remaining.saturating_sub(1);
        }
        let rate = rate.clone();
        (reply.with_rate(&rate), logged)
    }

    /// GitHub's checks on an app JWT; the error is the message GitHub would give.
    fn verify_jwt(&self, headers: &HeaderMap, now: i64) -> Result<(), &'static str> {
        const UNDECODABLE: &str = "A JSON web token could not be decoded";
        let Some((scheme, jwt)) = credentials(headers) else {
            return Err(UNDECODABLE);
        };
        if scheme != "bearer" {
            return Err(UNDECODABLE);
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims = HashSet::new();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = decode::<Value>(jwt, &self.key, &validation)
            .map_err(|_| UNDECODABLE)?
            .claims;
        let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
            return Err("'Issued at' and 'Expiration time' claims must be integers");
        };
        if exp <= now - JWT_EXP_SKEW_SECS {
            return Err(
                "'Expiration time' claim ('exp') must be a numeric value representing the \
                 future time at which the assertion expires",
            );
        }
        if exp > now + JWT_MAX_LIFETIME_SECS + JWT_EXP_SKEW_SECS {
            return Err("'Expiration time' claim ('exp') is too far in the future");
        }
        if iat > now + JWT_IAT_SKEW_SECS {
            return Err(
                "'Issued at' claim ('iat') must be an Integer representing the time that the \
                 assertion was issued",
            );
        }
        let issuer_ok = match &claims["iss"] {
            Value::Number(n) => n.as_i64() == Some(self.app_id),
            Value::String(s) => s.parse::<i64>().ok() == Some(self.app_id),
            _ => false,
        };
        if !issuer_ok {
            return Err("Integration not found");
        }
        Ok(())
    }
}

/// The `Authorization` header as (lower-case scheme, credential).
fn credentials(headers: &HeaderMap) -> Option<(String, &str)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.trim().split_once(' ')?;
    Some((scheme.to_ascii_lowercase(), credential.trim()))
}

/// The installation behind an installation token, or the refusal to send (and log).
fn installation_of(
    model: &Model,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<i64, (Reply, Option<i64>)> {
    let bad = || {
        (
            Reply::error(StatusCode::UNAUTHORIZED, "Bad credentials"),
            None,
        )
    };
    let Some((scheme, credential)) = credentials(headers) else {
        return Err((
            Reply::error(StatusCode::UNAUTHORIZED, "Requires authentication"),
            None,
        ));
    };
    if scheme != "token" && scheme != "bearer" {
        return Err(bad());
    }
    let Some(token) = model.tokens.get(credential) else {
        return Err(bad());
    };
    if now >= token.expires_at {
        return Err(bad());
    }
    let id = token.installation_id;
    match model.installations.iter().find(|i| i.id == id) {
        None => Err(bad()),
        Some(i) if i.suspended => Err((
            Reply::error(
                StatusCode::FORBIDDEN,
                "This installation has been suspended",
            ),
            Some(id),
        )),
        Some(_) => Ok(id),
    }
}

/// Spends one hit of the secondary limit, if one is armed and this is an installation request.
fn secondary_limit(model: &mut Model, caller: Caller) -> Option<Reply> {
    if caller == Caller::App {
        return None;
    }
    let limit = model.secondary_limit.as_mut()?;
    if limit.remaining_hits == 0 {
        model.secondary_limit = None;
        return None;
    }
    limit.remaining_hits -= 1;
    let status = StatusCode::from_u16(limit.status).unwrap_or(StatusCode::FORBIDDEN);
    let retry_after = limit.retry_after_secs;
    if limit.remaining_hits == 0 {
        model.secondary_limit = None;
    }
    let message = "You have exceeded a secondary rate limit. Please wait a few minutes before you \
                   try again. If you reach out to GitHub Support for help, please include the \
                   request ID.";
    let body = json!({ "message": message, "documentation_url": RATE_DOCS_URL });
    Some(Reply::json(status, &body).header("retry-after", retry_after))
}

/// Weak comparison of `If-None-Match` against the current ETag, as GitHub does.
fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|candidate| candidate.trim() == "*" || bare(candidate) == bare(etag))
}

/// The raw query string, split but kept encoded so `Link`s reproduce what the client sent.
struct Query {
    /// (decoded name, raw `name=value` text)
    parts: Vec<(String, String)>,
}

impl Query {
    fn parse(raw: Option<&str>) -> Self {
        let parts = raw
            .unwrap_or_default()
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| {
                let name = part.split_once('=').map_or(part, |(name, _)| name);
                (percent_decode(name), part.to_string())
            })
            .collect();
        Self { parts }
    }

    fn get(&self, name: &str) -> Option<String> {
        self.parts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, part)| percent_decode(part.split_once('=').map_or("", |(_, v)| v)))
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match hex::decode(&bytes[i + 1..i + 3]) {
                Ok(decoded) => {
                    out.extend(decoded);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a route needs to know about the request besides the model.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    base: &'a str,
    /// Origin of `Link` URLs: `base`, unless [`Model::link_origin`] says otherwise.
    link_base: &'a str,
    app_id: i64,
    path: &'a str,
    query: &'a Query,
    now: DateTime<Utc>,
    per_page_max: usize,
}

impl Ctx<'_> {
    fn param(&self, name: &str) -> Option<String> {
        self.query.get(name)
    }

    fn per_page(&self) -> usize {
        self.param("per_page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_PER_PAGE)
            .min(self.per_page_max.max(1))
    }

    fn page(&self) -> usize {
        self.param("page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(1)
    }

    /// This request's absolute URL with `name` set to `value` and every other parameter kept.
    fn url_with(&self, name: &str, value: &str) -> String {
        let mut parts: Vec<&str> = self
            .query
            .parts
            .iter()
            .filter(|(n, _)| n != name)
            .map(|(_, part)| part.as_str())
            .collect();
        let replaced = format!("{name}={value}");
        parts.push(&replaced);
        format!("{}{}?{}", self.link_base, self.path, parts.join("&"))
    }

    /// One page of `items`, with GitHub's `Link` header when there is more than one page.
    fn paginate(&self, items: Vec<Value>) -> (Vec<Value>, Option<String>) {
        let per_page = self.per_page();
        let page = self.page();
        let last = items.len().div_ceil(per_page).max(1);
        let start = (page - 1).saturating_mul(per_page).min(items.len());
        let slice = items.into_iter().skip(start).take(per_page).collect();
        let mut links = Vec::new();
        let mut link = |page: usize, rel: &str| {
            links.push(format!(
                "<{}>; rel=\"{rel}\"",
                self.url_with("page", &page.to_string())
            ));
        };
        if page > 1 {
            link(page - 1, "prev");
        }
        if page < last {
            link(page + 1, "next");
            link(last, "last");
        }
        if page > 1 {
            link(1, "first");
        }
        (slice, (!links.is_empty()).then(|| links.join(", ")))
    }

    /// A paginated JSON array reply.
    fn page_reply(&self, items: Vec<Value>) -> Reply {
        let (page, link) = self.paginate(items);
        with_link(Reply::ok(&Value::Array(page)), link)
    }

    /// `direction`, defaulting to `default_desc`.
    fn descending(&self, default_desc: bool) -> bool {
        match self.param("direction").as_deref() {
            Some("asc") => false,
            Some("desc") => true,
            _ => default_desc,
        }
    }
}

fn with_link(reply: Reply, link: Option<String>) -> Reply {
    match link {
        Some(link) => reply.header("link", link),
        None => reply,
    }
}

impl Route {
    fn run(&self, model: &mut Model, cx: &Ctx<'_>, caller: Caller) -> Reply {
        let installation_id = match caller {
            Caller::App => 0,
            Caller::Installation(id) => id,
        };
        match self {
            Self::MintToken(id) => mint_token(model, cx, *id),
            Self::Installations => {
                let mut installations = model.installations.clone();
                installations.sort_by_key(|i| i.id);
                let items = installations
                    .iter()
                    .map(|i| installation_json(cx, i))
                    .collect();
                cx.page_reply(items)
            }
            Self::HookDeliveries => hook_deliveries(model, cx),
            Self::Redeliver(id) => {
                if !model.hook_deliveries.iter().any(|d| d.id == *id) {
                    return Reply::not_found();
                }
                model.redelivery_requests.push(*id);
                Reply::json(StatusCode::ACCEPTED, &json!({}))
            }
            Self::InstallationRepos => {
                let items: Vec<Value> = model
                    .repos
                    .iter()
                    .filter(|r| r.installation_id == installation_id)
                    .map(|r| repo_json(cx, model, r))
                    .collect();
                let total = items.len();
                let (page, link) = cx.paginate(items);
                let body = json!({
                    "total_count": total,
                    "repository_selection": "all",
                    "repositories": page,
                });
                with_link(Reply::ok(&body), link)
            }
            Self::OrgMembers(org) => {
                let account = match org {
                    OrgRef::Login(login) => model
                        .installations
                        .iter()
                        .find(|i| i.account_login.eq_ignore_ascii_case(login)),
                    OrgRef::Id(id) => model.installations.iter().find(|i| i.account_id == *id),
                };
                let login = match (org, account) {
                    (OrgRef::Login(login), _) => login.as_str(),
                    (OrgRef::Id(_), Some(account)) => account.account_login.as_str(),
                    (OrgRef::Id(_), None) => return Reply::not_found(),
                };
                let Some(members) = model
                    .members
                    .iter()
                    .find(|(org, _)| org.eq_ignore_ascii_case(login))
                    .map(|(_, ids)| ids)
                else {
                    return Reply::not_found();
                };
                let path = match account {
                    Some(account) if model.github_link_paths => {
                        format!("/organizations/{}/members", account.account_id)
                    }
                    _ => cx.path.to_string(),
                };
                let cx = &Ctx { path: &path, ..*cx };
                let items = members
                    .iter()
                    .map(|&id| simple_user(cx, model, id))
                    .collect();
                cx.page_reply(items)
            }
            Self::User(login) => match model
                .users
                .values()
                .find(|u| u.login.eq_ignore_ascii_case(login))
            {
                Some(user) => Reply::ok(&full_user(cx, user)),
                None => Reply::not_found(),
            },
            Self::Pulls(repo) => match model.repo(installation_id, repo) {
                Some(repo) => {
                    let path = repo_link_path(model, cx, repo, "pulls");
                    pulls(model, &Ctx { path: &path, ..*cx }, repo)
                }
                None => Reply::not_found(),
            },
            Self::Reviews(repo, number) => {
                let Some((repo, pull)) = model.pull(installation_id, repo, *number) else {
                    return Reply::not_found();
                };
                let path = repo_link_path(model, cx, repo, &format!("pulls/{number}/reviews"));
                let cx = &Ctx { path: &path, ..*cx };
                let mut reviews: Vec<&Review> = model
                    .reviews
                    .iter()
                    .filter(|r| r.pull_id == pull.id)
                    .collect();
                reviews.sort_by_key(|r| (r.submitted_at, r.id));
                let items = reviews
                    .iter()
                    .map(|r| review_json(cx, model, repo, pull, r))
                    .collect();
                cx.page_reply(items)
            }
            // https://docs.github.com/en/rest/pulls/pulls#list-commits-on-a-pull-request:
            // oldest first, paginated, "a maximum of 250 commits"; `author` is the GitHub
            // account linked to the commit's email, or null.
            Self::PullCommits(repo, number) => {
                let Some((repo, pull)) = model.pull(installation_id, repo, *number) else {
                    return Reply::not_found();
                };
                let path = repo_link_path(model, cx, repo, &format!("pulls/{number}/commits"));
                let cx = &Ctx { path: &path, ..*cx };
                let items = model
                    .commits
                    .iter()
                    .filter(|c| c.pull_id == pull.id)
                    .take(250)
                    .map(|c| commit_json(cx, model, repo, c))
                    .collect();
                cx.page_reply(items)
            }
            Self::Issues(repo) => match model.repo(installation_id, repo) {
                Some(repo) => {
                    let path = repo_link_path(model, cx, repo, "issues");
                    issues(model, &Ctx { path: &path, ..*cx }, repo)
                }
                None => Reply::not_found(),
            },
        }
    }
}

/// The path `Link`s point at: the one requested, or GitHub's id-based one.
fn repo_link_path(model: &Model, cx: &Ctx<'_>, repo: &Repo, rest: &str) -> String {
    if model.github_link_paths {
        format!("/repositories/{}/{rest}", repo.id)
    } else {
        cx.path.to_string()
    }
}

fn mint_token(model: &mut Model, cx: &Ctx<'_>, id: i64) -> Reply {
    let Some(installation) = model.installations.iter().find(|i| i.id == id) else {
        return Reply::not_found();
    };
    if installation.suspended {
        return Reply::error(
            StatusCode::FORBIDDEN,
            "This installation has been suspended",
        );
    }
    let token = format!("ghs_{}", uuid::Uuid::new_v4().simple());
    let expires_at = cx.now + model.token_ttl;
    model.tokens.insert(
        token.clone(),
        Token {
            installation_id: id,
            expires_at,
        },
    );
    *model.mints.entry(id).or_default() += 1;
    Reply::json(
        StatusCode::CREATED,
        &json!({
            "token": token,
            "expires_at": ts(expires_at),
            "permissions": permissions(),
            "repository_selection": "all",
        }),
    )
}

fn hook_deliveries(model: &Model, cx: &Ctx<'_>) -> Reply {
    let mut deliveries: Vec<&HookDelivery> = model.hook_deliveries.iter().collect();
    deliveries.sort_by(|a, b| b.delivered_at.cmp(&a.delivered_at).then(b.id.cmp(&a.id)));
    // The cursor names the last delivery already returned; the next page starts after it, so
    // deliveries arriving meanwhile (at the top) do not shift the pages.
    let start = match cx.param("cursor") {
        None => 0,
        Some(cursor) => {
            let after = cursor
                .strip_prefix("v1_")
                .and_then(|id| id.parse::<i64>().ok());
            match after.and_then(|id| deliveries.iter().position(|d| d.id == id)) {
                Some(position) => position + 1,
                None => {
                    return Reply::error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid cursor");
                }
            }
        }
    };
    let per_page = cx.per_page();
    let page: Vec<&HookDelivery> = deliveries
        .iter()
        .skip(start)
        .take(per_page)
        .copied()
        .collect();
    let items: Vec<Value> = page.iter().map(|d| delivery_json(d)).collect();
    let link = match page.last() {
        Some(last) if start + per_page < deliveries.len() => Some(format!(
            "<{}>; rel=\"next\"",
            cx.url_with("cursor", &format!("v1_{}", last.id))
        )),
        _ => None,
    };
    with_link(Reply::ok(&Value::Array(items)), link)
}

fn pulls(model: &Model, cx: &Ctx<'_>, repo: &Repo) -> Reply {
    let state = cx.param("state").unwrap_or_else(|| "open".into());
    let mut pulls: Vec<&Pull> = model
        .pulls
        .iter()
        .filter(|p| p.repo_id == repo.id && (state == "all" || p.state == state))
        .collect();
    let sort = cx.param("sort");
    let by_updated = sort.as_deref() == Some("updated");
    // GitHub: `desc` by default when sorting by creation, `asc` for any other sort.
    let desc = cx.descending(matches!(sort.as_deref(), None | Some("created")));
    pulls.sort_by_key(|p| {
        let at = if by_updated {
            p.updated_at
        } else {
            p.created_at
        };
        (at, p.number)
    });
    if desc {
        pulls.reverse();
    }
    let items = pulls
        .iter()
        .map(|p| pull_json(cx, model, repo, p))
        .collect();
    cx.page_reply(items)
}

fn issues(model: &Model, cx: &Ctx<'_>, repo: &Repo) -> Reply {
    let since = match cx.param("since") {
        None => None,
        Some(text) => match DateTime::parse_from_rfc3339(&text) {
            Ok(at) => Some(at.with_timezone(&Utc).timestamp()),
            Err(_) => return Reply::error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed"),
        },
    };
    let state = cx.param("state").unwrap_or_else(|| "open".into());
    let labels: Vec<String> = cx
        .param("labels")
        .map(|l| l.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    // Every pull request is also an issue; an explicit `Issue` with its number wins.
    let mut rows: Vec<Issue> = model
        .issues
        .iter()
        .filter(|i| i.repo_id == repo.id)
        .cloned()
        .collect();
    for pull in model.pulls.iter().filter(|p| p.repo_id == repo.id) {
        if !rows.iter().any(|i| i.number == pull.number) {
            rows.push(Issue::of_pull(pull));
        }
    }
    rows.retain(|i| {
        (state == "all" || i.state == state)
            && since.is_none_or(|since| i.updated_at.timestamp() >= since)
            && labels.iter().all(|l| i.labels.contains(l))
    });
    let by_updated = cx.param("sort").as_deref() == Some("updated");
    rows.sort_by_key(|i| {
        let at = if by_updated {
            i.updated_at
        } else {
            i.created_at
        };
        (at, i.number)
    });
    if cx.descending(true) {
        rows.reverse();
    }
    let items = rows
        .iter()
        .map(|i| issue_json(cx, model, repo, i))
        .collect();
    cx.page_reply(items)
}

// ---------------------------------------------------------------------------------------------
// GitHub's JSON shapes
// ---------------------------------------------------------------------------------------------

fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn ts_opt(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |at| Value::String(ts(at)))
}

/// A stable commit-like SHA for `seed`.
fn fake_sha(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))[..40].to_string()
}

fn permissions() -> Value {
    json!({
        "issues": "read",
        "members": "read",
        "metadata": "read",
        "pull_requests": "read",
    })
}

fn installation_json(cx: &Ctx<'_>, i: &Installation) -> Value {
    let account = json!({
        "login": i.account_login,
        "id": i.account_id,
        "node_id": format!("O_kgDO{}", i.account_id),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", i.account_id),
        "type": i.account_type,
        "site_admin": false,
    });
    json!({
        "id": i.id,
        "account": account,
        "repository_selection": "all",
        "access_tokens_url": format!("{}/app/installations/{}/access_tokens", cx.base, i.id),
        "repositories_url": format!("{}/installation/repositories", cx.base),
        "html_url": format!(
            "https://github.com/organizations/{}/settings/installations/{}",
            i.account_login, i.id
        ),
        "app_id": cx.app_id,
        "app_slug": "mergecast",
        "target_id": i.account_id,
        "target_type": i.account_type,
        "permissions": permissions(),
        "events": ["issues", "member", "organization", "pull_request", "pull_request_review"],
        "created_at": ts(i.updated_at),
        "updated_at": ts(i.updated_at),
        "single_file_name": null,
        "suspended_by": null,
        "suspended_at": if i.suspended { Value::String(ts(i.updated_at)) } else { Value::Null },
    })
}

fn ghost() -> User {
    User::new(GHOST_ID, "ghost")
}

/// GitHub's "simple user" (every user or organization embedded in another object, and the items
/// of `/orgs/{org}/members`), with all the fields it documents:
/// https://docs.github.com/en/rest/orgs/members#list-organization-members
fn user_core(cx: &Ctx<'_>, u: &User) -> Value {
    account_json(cx.base, u.id, &u.login, &u.kind)
}

/// The simple-user shape for any account (user, bot or organization) under API base `base`.
fn account_json(base: &str, id: i64, login: &str, kind: &str) -> Value {
    let api = format!("{base}/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_kgDO{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// The simple user GitHub embeds in lists; unknown ids come back as `ghost`, like deleted
/// accounts do.
fn simple_user(cx: &Ctx<'_>, model: &Model, id: i64) -> Value {
    match model.users.get(&id) {
        Some(user) => user_core(cx, user),
        None => user_core(cx, &ghost()),
    }
}

/// GitHub's "public user" (`GET /users/{username}`, and `GET /user` without the `user` scope):
/// https://docs.github.com/en/rest/users/users#get-a-user
fn full_user(cx: &Ctx<'_>, u: &User) -> Value {
    profile_json(cx.base, u)
}

fn profile_json(base: &str, u: &User) -> Value {
    let mut user = account_json(base, u.id, &u.login, &u.kind);
    let extra = json!({
        "name": u.name,
        "company": null,
        "blog": "",
        "location": null,
        "email": u.email,
        "hireable": null,
        "bio": null,
        "twitter_username": null,
        "public_repos": 0,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": "2015-03-14T09:26:53Z",
        "updated_at": "2024-01-02T03:04:05Z",
    });
    if let (Value::Object(user), Value::Object(extra)) = (&mut user, extra) {
        user.extend(extra);
    }
    user
}

fn repo_json(cx: &Ctx<'_>, model: &Model, r: &Repo) -> Value {
    let full_name = format!("{}/{}", r.owner, r.name);
    let (owner_id, owner_type) = model
        .installations
        .iter()
        .find(|i| i.account_login.eq_ignore_ascii_case(&r.owner))
        .map(|i| (i.account_id, i.account_type.clone()))
        .or_else(|| {
            model
                .users
                .values()
                .find(|u| u.login.eq_ignore_ascii_case(&r.owner))
                .map(|u| (u.id, u.kind.clone()))
        })
        .unwrap_or((0, "Organization".into()));
    json!({
        "id": r.id,
        "node_id": format!("R_kgDO{}", r.id),
        "name": r.name,
        "full_name": full_name,
        "private": r.private,
        "owner": account_json(cx.base, owner_id, &r.owner, &owner_type),
        "html_url": format!("https://github.com/{full_name}"),
        "url": format!("{}/repos/{full_name}", cx.base),
        "description": null,
        "fork": false,
        "archived": false,
        "visibility": if r.private { "private" } else { "public" },
        "default_branch": "main",
    })
}

fn pull_json(cx: &Ctx<'_>, model: &Model, repo: &Repo, p: &Pull) -> Value {
    let full_name = format!("{}/{}", repo.owner, repo.name);
    let api = format!("{}/repos/{full_name}", cx.base);
    let head_ref = format!("feature-{}", p.number);
    let head = json!({
        "label": format!("{}:{head_ref}", repo.owner),
        "ref": head_ref,
        "sha": fake_sha(&format!("head:{}", p.id)),
    });
    let base = json!({
        "label": format!("{}:main", repo.owner),
        "ref": "main",
        "sha": fake_sha(&format!("base:{}", p.id)),
    });
    json!({
        "url": format!("{api}/pulls/{}", p.number),
        "id": p.id,
        "node_id": format!("PR_kwDO{}", p.id),
        "html_url": format!("https://github.com/{full_name}/pull/{}", p.number),
        "issue_url": format!("{api}/issues/{}", p.number),
        "number": p.number,
        "state": p.state,
        "locked": false,
        "title": p.title,
        "user": simple_user(cx, model, p.author_id),
        "body": null,
        "created_at": ts(p.created_at),
        "updated_at": ts(p.updated_at),
        "closed_at": ts_opt(p.closed_at),
        "merged_at": ts_opt(p.merged_at),
        "merge_commit_sha": p.merged_at.map(|_| fake_sha(&format!("merge:{}", p.id))),
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": [],
        "milestone": null,
        "draft": p.draft,
        "head": head,
        "base": base,
        "author_association": "MEMBER",
        "auto_merge": null,
        "active_lock_reason": null,
    })
}

fn review_json(cx: &Ctx<'_>, model: &Model, repo: &Repo, pull: &Pull, r: &Review) -> Value {
    let full_name = format!("{}/{}", repo.owner, repo.name);
    json!({
        "id": r.id,
        "node_id": format!("PRR_kwDO{}", r.id),
        "user": simple_user(cx, model, r.reviewer_id),
        "body": "",
        "state": r.state,
        "html_url": format!(
            "https://github.com/{full_name}/pull/{}#pullrequestreview-{}",
            pull.number, r.id
        ),
        "pull_request_url": format!("{}/repos/{full_name}/pulls/{}", cx.base, pull.number),
        "author_association": "MEMBER",
        "submitted_at": ts(r.submitted_at),
        "commit_id": fake_sha(&format!("head:{}", pull.id)),
    })
}

fn commit_json(cx: &Ctx<'_>, model: &Model, repo: &Repo, c: &Commit) -> Value {
    let full_name = format!("{}/{}", repo.owner, repo.name);
    let git_author = json!({ "name": c.author_name, "email": c.author_email, "date": ts(c.date) });
    let author = c
        .author_id
        .map(|id| simple_user(cx, model, id))
        .unwrap_or(Value::Null);
    json!({
        "sha": c.sha,
        "node_id": format!("C_kwDO{}", &c.sha[..12.min(c.sha.len())]),
        "url": format!("{}/repos/{full_name}/commits/{}", cx.base, c.sha),
        "html_url": format!("https://github.com/{full_name}/commit/{}", c.sha),
        "commit": {
            "author": git_author,
            "committer": git_author,
            "message": "work",
            "tree": { "sha": fake_sha(&format!("tree:{}", c.sha)), "url": "" },
            "comment_count": 0,
        },
        "author": author,
        "committer": author,
        "parents": [],
    })
}

fn label_json(repo_api: &str, name: &str) -> Value {
    let digest = hex::encode(Sha256::digest(name.as_bytes()));
    json!({
        "id": i64::from_str_radix(&digest[..12], 16).unwrap_or(1),
        "node_id": format!("LA_kwDO{}", &digest[..12]),
        "url": format!("{repo_api}/labels/{}", name.replace(' ', "%20")),
        "name": name,
        "color": &digest[..6],
        "default": false,
        "description": null,
    })
}

fn issue_json(cx: &Ctx<'_>, model: &Model, repo: &Repo, i: &Issue) -> Value {
    let full_name = format!("{}/{}", repo.owner, repo.name);
    let api = format!("{}/repos/{full_name}", cx.base);
    let kind = if i.is_pull_request { "pull" } else { "issues" };
    let state_reason = (i.state == "closed" && !i.is_pull_request).then_some("completed");
    let mut issue = json!({
        "url": format!("{api}/issues/{}", i.number),
        "repository_url": api,
        "labels_url": format!("{api}/issues/{}/labels{{/name}}", i.number),
        "comments_url": format!("{api}/issues/{}/comments", i.number),
        "events_url": format!("{api}/issues/{}/events", i.number),
        "id": i.id,
        "node_id": format!("I_kwDO{}", i.id),
        "number": i.number,
        "title": i.title,
        "user": simple_user(cx, model, i.author_id),
        "labels": i.labels.iter().map(|l| label_json(&api, l)).collect::<Vec<_>>(),
        "state": i.state,
        "state_reason": state_reason,
        "locked": false,
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "comments": 0,
        "created_at": ts(i.created_at),
        "updated_at": ts(i.updated_at),
        "closed_at": ts_opt(i.closed_at),
        "author_association": "MEMBER",
        "body": null,
        "html_url": format!("https://github.com/{full_name}/{kind}/{}", i.number),
    });
    if i.is_pull_request {
        let merged_at = model
            .pulls
            .iter()
            .find(|p| p.repo_id == repo.id && p.number == i.number)
            .and_then(|p| p.merged_at);
        issue["pull_request"] = json!({
            "url": format!("{api}/pulls/{}", i.number),
            "html_url": format!("https://github.com/{full_name}/pull/{}", i.number),
            "diff_url": format!("https://github.com/{full_name}/pull/{}.diff", i.number),
            "patch_url": format!("https://github.com/{full_name}/pull/{}.patch", i.number),
            "merged_at": ts_opt(merged_at),
        });
    }
    issue
}

fn delivery_json(d: &HookDelivery) -> Value {
    let status = match d.status_code {
        0 => "timed out",
        200..=299 => "OK",
        code => StatusCode::from_u16(code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Invalid HTTP Response"),
    };
    json!({
        "id": d.id,
        "guid": d.guid,
        "delivered_at": ts(d.delivered_at),
        "redelivery": d.redelivery,
        "duration": 0.27,
        "status": status,
        "status_code": d.status_code,
        "event": d.event,
        "action": d.action,
        "installation_id": d.installation_id,
        "repository_id": null,
        "throttled_at": null,
    })
}

/// A request that reached a [`ForeignHost`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignRequest {
    pub method: String,
    pub path_and_query: String,
    /// The `Authorization` header it carried, if any.
    pub authorization: Option<String>,
}

/// A second listener on another loopback port, standing for a host that is not GitHub's API:
/// it answers 404 to everything and records what it was sent, to prove no credential reaches it.
pub struct ForeignHost {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    requests: Arc<Mutex<Vec<ForeignRequest>>>,
    server: JoinHandle<()>,
}

impl ForeignHost {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind foreign host");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let app = Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
            let log = log.clone();
            async move {
                log.lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(ForeignRequest {
                        method: method.to_string(),
                        path_and_query: uri
                            .path_and_query()
                            .map_or_else(|| uri.path().to_string(), |pq| pq.to_string()),
                        authorization: headers
                            .get(header::AUTHORIZATION)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string),
                    });
                Reply::not_found().into_response()
            }
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            requests,
            server,
        }
    }

    /// Everything it received, in order.
    pub fn requests(&self) -> Vec<ForeignRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for ForeignHost {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// GitHub's OAuth web flow as the admin sign-in uses it, plus `GET /user` and
/// `GET /user/memberships/orgs/{org}` for the token it mints.
#[derive(Debug, Default)]
pub struct OAuth {
    pub client_id: String,
    pub client_secret: String,
    /// Where `authorize` sends the browser back when the request names no `redirect_uri`
    /// (GitHub uses the app's registered callback URL).
    pub callback_url: String,
    /// The GitHub user who approves the next authorization: (id, login).
    pub approve_as: Option<(i64, String)>,
    /// (user id, org login) -> (role, state) as `/user/memberships/orgs/{org}` reports it.
    pub memberships: HashMap<(i64, String), (String, String)>,
    codes: HashMap<String, (i64, String)>,
    tokens: HashMap<String, (i64, String)>,
    /// Codes exchanged successfully.
    pub exchanges: u32,
}

fn oauth_router(oauth: Arc<Mutex<OAuth>>, base: String, model: Arc<Mutex<Model>>) -> Router {
    use axum::extract::{Form, Path, Query};
    use axum::routing::{get, post};
    type Params = HashMap<String, String>;

    fn bearer(oauth: &OAuth, headers: &HeaderMap) -> Option<(i64, String)> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("token "))?;
        oauth.tokens.get(token).cloned()
    }
    fn unauthorized() -> Response {
        Reply::json(
            StatusCode::UNAUTHORIZED,
            &json!({ "message": "Bad credentials", "documentation_url": DOCS_URL }),
        )
        .into_response()
    }

    let user_base = base.clone();
    Router::new()
        .route(
            "/login/oauth/authorize",
            get(
                |State(oauth): State<Arc<Mutex<OAuth>>>, Query(q): Query<Params>| async move {
                    let mut o = lock_oauth(&oauth);
                    if q.get("client_id") != Some(&o.client_id) {
                        return Reply::not_found().into_response();
                    }
                    let Some(user) = o.approve_as.clone() else {
                        return Reply::error(StatusCode::FORBIDDEN, "nobody signed in").into_response();
                    };
                    let code = uuid::Uuid::new_v4().simple().to_string();
                    o.codes.insert(code.clone(), user);
                    let back = q.get("redirect_uri").cloned().unwrap_or_else(|| o.callback_url.clone());
                    let sep = if back.contains('?') { '&' } else { '?' };
                    let state = q.get("state").cloned().unwrap_or_default();
                    Response::builder()
                        .status(StatusCode::FOUND)
                        .header(header::LOCATION, format!("{back}{sep}code={code}&state={state}"))
                        .body(Body::empty())
                        .expect("valid response")
                },
            ),
        )
        .route(
            "/login/oauth/access_token",
            post(
                |State(oauth): State<Arc<Mutex<OAuth>>>, Form(f): Form<Params>| async move {
                    let mut o = lock_oauth(&oauth);
                    if f.get("client_id") != Some(&o.client_id)
                        || f.get("client_secret") != Some(&o.client_secret)
                    {
                        return Reply::json(StatusCode::OK, &json!({ "error": "incorrect_client_credentials" }))
                            .into_response();
                    }
                    let Some(user) = f.get("code").and_then(|c| o.codes.remove(c)) else {
                        return Reply::json(StatusCode::OK, &json!({ "error": "bad_verification_code" }))
                            .into_response();
                    };
                    let token = format!("gho_{}", uuid::Uuid::new_v4().simple());
                    o.tokens.insert(token.clone(), user);
                    o.exchanges += 1;
                    Reply::json(
                        StatusCode::OK,
                        &json!({ "access_token": token, "token_type": "bearer", "scope": "read:org" }),
                    )
                    .into_response()
                },
            ),
        )
        .route(
            "/user",
            // https://docs.github.com/en/rest/users/users#get-the-authenticated-user (without the
            // `user` scope GitHub shows the public profile).
            get(move |State(oauth): State<Arc<Mutex<OAuth>>>, headers: HeaderMap| {
                let user_base = user_base.clone();
                async move {
                let o = lock_oauth(&oauth);
                match bearer(&o, &headers) {
                    Some((id, login)) => {
                        Reply::json(StatusCode::OK, &profile_json(&user_base, &User::new(id, &login)))
                            .into_response()
                    }
                    None => unauthorized(),
                }
                }
            }),
        )
        .route(
            "/user/memberships/orgs/{org}",
            get(
                move |State(oauth): State<Arc<Mutex<OAuth>>>, Path(org): Path<String>, headers: HeaderMap| {
                    let (base, model) = (base.clone(), model.clone());
                    async move {
                    let o = lock_oauth(&oauth);
                    let Some((id, login)) = bearer(&o, &headers) else {
                        return unauthorized();
                    };
                    // https://docs.github.com/en/rest/orgs/members#get-an-organization-membership-for-the-authenticated-user
                    match o.memberships.get(&(id, org.clone())) {
                        Some((role, state)) => {
                            let org_id = lock(&model)
                                .installations
                                .iter()
                                .find(|i| i.account_login.eq_ignore_ascii_case(&org))
                                .map_or(GHOST_ID + 1, |i| i.account_id);
                            let org_api = format!("{base}/orgs/{org}");
                            Reply::json(
                                StatusCode::OK,
                                &json!({
                                    "url": format!("{base}/orgs/{org}/memberships/{login}"),
                                    "state": state,
                                    "role": role,
                                    "organization_url": org_api,
                                    "organization": {
                                        "login": org,
                                        "id": org_id,
                                        "node_id": format!("O_kgDO{org_id}"),
                                        "url": org_api,
                                        "repos_url": format!("{org_api}/repos"),
                                        "events_url": format!("{org_api}/events"),
                                        "hooks_url": format!("{org_api}/hooks"),
                                        "issues_url": format!("{org_api}/issues"),
                                        "members_url": format!("{org_api}/members{{/member}}"),
                                        "public_members_url": format!("{org_api}/public_members{{/member}}"),
                                        "avatar_url": format!("https://avatars.githubusercontent.com/u/{org_id}?v=4"),
                                        "description": null,
                                    },
                                    "user": account_json(&base, id, &login, "User"),
                                }),
                            )
                            .into_response()
                        }
                        None => Reply::not_found().into_response(),
                    }
                    }
                },
            ),
        )
        .with_state(oauth)
}

fn lock_oauth(oauth: &Mutex<OAuth>) -> MutexGuard<'_, OAuth> {
    oauth
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
