//! Catch-up: converge on GitHub's truth for whatever webhooks missed, within the installation's
//! API budget.
//!
//! Every list is fetched with `If-None-Match`; a 304 costs nothing against the rate limit and
//! means "what we stored last time" (`github_etags` remembers which ids a page held). Pull
//! requests and issues are read newest-updated first and only back to a per-repository
//! watermark. One sync per installation runs at a time across processes (Redis lock).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use thiserror::Error;

pub mod manual_redelivery;
pub mod redelivery;
mod teams;

use crate::github::client::{Auth, GithubClient, GithubError, Response};
use crate::github::events::{Installation, Issue, PullRequest, Repository, User};
use crate::github::records::repository_records;
use crate::github::rest::{self, InstallationRepositories, UserProfile};
use crate::ids::InstallationId;
use crate::lock::RedisLock;
use crate::store::installations::InstallationStatus;
use crate::store::members::{self, MembershipState};
use crate::store::sync::{self as state, RunCounters, RunStatus, WatermarkKind};
use crate::store::{installations, issues, merged, pulls};

/// A member's profile without a public email is read again after this long.
const EMAIL_RECHECK_AFTER: chrono::Duration = chrono::Duration::days(7);
/// Profiles read per run for members missing an email (the rest wait for later runs).
const EMAIL_CHECKS_PER_RUN: i64 = 200;

/// How a sync run ended (also what `mergecast sync` prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    Done(RunCounters),
    /// Another process holds this installation's sync lock.
    AlreadyRunning,
    /// Rate limit below the reserve: nothing more until `until`.
    Paused {
        until: DateTime<Utc>,
        counters: RunCounters,
    },
    /// Suspended or deleted installations are not synced.
    Skipped(String),
}

/// Why a sync failed (recorded on the run).
#[derive(Debug, Error)]
pub enum SyncError {
    #[error(transparent)]
    Github(#[from] GithubError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected GitHub payload: {0}")]
    Payload(#[from] serde_json::Error),
    #[error("unexpected GitHub payload: {0}")]
    Incomplete(#[from] rest::Incomplete),
}

/// Knobs of a sync (from `GithubAppConfig`).
#[derive(Debug, Clone, Copy)]
pub struct SyncSettings {
    pub merged_window: Duration,
    pub rate_limit_reserve: u32,
    /// How far back the first sync of a repository reads pull requests and issues.
    pub initial_lookback: Duration,
}

/// Everything a sync needs. Merges it finds go to the outbox (`store::merged`); handing them to
/// the survey queue is the caller's step (`queue::catch_up`), so this layer knows no queue.
#[derive(Clone)]
pub struct Syncer {
    pub client: GithubClient,
    pub pool: PgPool,
    /// For the one-sync-per-installation lock.
    pub redis: redis::aio::ConnectionManager,
    pub prefix: String,
    pub settings: SyncSettings,
}

impl std::fmt::Debug for Syncer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Syncer")
            .field("prefix", &self.prefix)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Signals that stop a run early without it being an error.
enum Stop {
    Paused(DateTime<Utc>),
    Failed(SyncError),
}

impl From<SyncError> for Stop {
    fn from(e: SyncError) -> Self {
        Stop::Failed(e)
    }
}
impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        Stop::Failed(e.into())
    }
}
impl From<serde_json::Error> for Stop {
    fn from(e: serde_json::Error) -> Self {
        Stop::Failed(e.into())
    }
}
impl From<rest::Incomplete> for Stop {
    fn from(e: rest::Incomplete) -> Self {
        Stop::Failed(e.into())
    }
}

/// One run's bookkeeping.
struct Run<'a> {
    syncer: &'a Syncer,
    installation: InstallationId,
    started: DateTime<Utc>,
    counters: RunCounters,
    /// Set when a response showed the rate limit below the reserve: stop at the next boundary.
    pause_after: Option<DateTime<Utc>>,
}

impl Run<'_> {
    /// GET with ETag, counting calls; pauses below the reserve; waits out secondary limits.
    async fn get(&mut self, url: &str, etag: Option<&str>) -> Result<Response, Stop> {
        let mut backoff = Duration::ZERO;
        for attempt in 0..4 {
            self.counters.api_calls += 1;
            match self
                .syncer
                .client
                .get(Auth::Installation(self.installation), url, etag)
                .await
            {
                Ok(response) => {
                    if response.not_modified() {
                        self.counters.not_modified += 1;
                    }
                    if let Some(rate) = response.rate
                        && rate.remaining < self.syncer.settings.rate_limit_reserve
                    {
                        // Keep this page (it is paid for), then stop before spending the reserve.
                        self.pause_after = Some(rate.reset);
                    }
                    return Ok(response);
                }
                Err(GithubError::RateLimited { reset }) => return Err(Stop::Paused(reset)),
                Err(GithubError::SecondaryLimit { retry_after }) => {
                    // GitHub: wait retry-after, else at least a minute, backing off each time.
                    backoff = retry_after.max(backoff * 2);
                    if attempt == 3 || backoff > Duration::from_secs(120) {
                        let until =
                            Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default();
                        return Err(Stop::Paused(until));
                    }
                    tracing::warn!(
                        installation = self.installation.0,
                        ?backoff,
                        "secondary rate limit; waiting"
                    );
                    tokio::time::sleep(backoff).await;
                }
                Err(e) => return Err(Stop::Failed(e.into())),
            }
        }
        Err(Stop::Paused(Utc::now() + chrono::Duration::minutes(1)))
    }
}

impl Run<'_> {
    fn check_pause(&self) -> Result<(), Stop> {
        match self.pause_after {
            Some(reset) => Err(Stop::Paused(reset)),
            None => Ok(()),
        }
    }
}

/// Members known before a run: id -> (login, active).
type Known = HashMap<i64, (String, bool)>;

/// The paginated lists whose pages are cached with the ids they held.
enum ListKind<'k> {
    Repositories,
    Members(&'k Known),
    /// `/orgs/{org}/teams`: teams upserted, their ids listed.
    Teams,
    /// A team's members: only ids listed; the logins of fresh pages are collected here.
    TeamMembers(&'k mut HashMap<i64, String>),
    /// `/orgs/{org}/copilot/billing/seats`: seats upserted, their holders' ids listed.
    CopilotSeats,
}

/// The Redis key of an installation's one-sync-at-a-time lock.
pub fn sync_lock_key(prefix: &str, installation: InstallationId) -> String {
    format!("{prefix}:gh:sync-lock:{}", installation.0)
}

impl Syncer {
    fn lock_key(&self, installation: InstallationId) -> String {
        sync_lock_key(&self.prefix, installation)
    }

    /// Whether a sync of `installation` runs now (in any process): its lock is held.
    pub async fn is_running(
        &self,
        installation: InstallationId,
    ) -> Result<bool, redis::RedisError> {
        RedisLock::is_held(&mut self.redis.clone(), &self.lock_key(installation)).await
    }

    /// Syncs one installation, unless another process is already doing it.
    pub async fn sync_installation(
        &self,
        installation: InstallationId,
    ) -> Result<SyncOutcome, SyncError> {
        let Some(account) = installations::account(&self.pool, installation).await? else {
            return Ok(SyncOutcome::Skipped("unknown installation".into()));
        };
        if account.status != InstallationStatus::Active {
            return Ok(SyncOutcome::Skipped(format!(
                "installation is {}",
                account.status
            )));
        }
        if let Some(last) = state::last_run(&self.pool, installation).await?
            && let Some(until) = last.paused_until.filter(|u| *u > Utc::now())
        {
            return Ok(SyncOutcome::Paused {
                until,
                counters: RunCounters::default(),
            });
        }
        let mut conn = self.redis.clone();
        let lock_ttl = Duration::from_secs(30 * 60);
        let Some(lock) =
            RedisLock::try_acquire(&mut conn, self.lock_key(installation), lock_ttl).await?
        else {
            return Ok(SyncOutcome::AlreadyRunning);
        };
        let started = Utc::now();
        let run_id = state::start_run(&self.pool, installation, started).await?;
        let mut run = Run {
            syncer: self,
            installation,
            started,
            counters: RunCounters::default(),
            pause_after: None,
        };
        let result = run.all(&account.account_login, account.is_org()).await;
        let counters = run.counters;
        let outcome = match result {
            Ok(()) => {
                state::finish_run(&self.pool, run_id, RunStatus::Success, None, counters, None)
                    .await?;
                Ok(SyncOutcome::Done(counters))
            }
            Err(Stop::Paused(until)) => {
                tracing::warn!(installation = installation.0, %until, "sync paused by rate limit");
                state::finish_run(
                    &self.pool,
                    run_id,
                    RunStatus::Paused,
                    None,
                    counters,
                    Some(until),
                )
                .await?;
                Ok(SyncOutcome::Paused { until, counters })
            }
            Err(Stop::Failed(e)) => {
                let message = e.to_string();
                state::finish_run(
                    &self.pool,
                    run_id,
                    RunStatus::Error,
                    Some(&message),
                    counters,
                    None,
                )
                .await?;
                Err(e)
            }
        };
        lock.release(&mut conn).await?;
        outcome
    }

    /// Lists the app's installations (JWT), so orgs that installed while we were down appear,
    /// and marks those no longer listed as deleted. Returns the active installation ids.
    pub async fn discover_installations(&self) -> Result<Vec<InstallationId>, SyncError> {
        let app = InstallationId(0);
        let mut url = Some(self.client.url("/app/installations?per_page=100"));
        let mut seen = Vec::new();
        let now = Utc::now();
        while let Some(current) = url.take() {
            let cached = state::cached_page(&self.pool, app, &current).await?;
            let response = app_get(&self.client, &current, cached.as_ref()).await?;
            if response.not_modified() {
                let cached = cached.unwrap_or_else(unreachable_cache);
                seen.extend(cached.item_ids.iter().copied());
                url = cached.next_url;
                continue;
            }
            // Our own type: octocrab's has no `suspended_at` (see `rest`).
            let list: Vec<Installation> =
                serde_json::from_value(response.body.unwrap_or(Value::Null))?;
            let mut ids = Vec::with_capacity(list.len());
            for inst in &list {
                let status = if inst.suspended_at.is_some() {
                    InstallationStatus::Suspended
                } else {
                    InstallationStatus::Active
                };
                installations::upsert(&self.pool, &inst.record(), status, now).await?;
                ids.push(inst.id);
            }
            if let Some(etag) = &response.etag {
                state::store_page(
                    &self.pool,
                    app,
                    &current,
                    etag,
                    &ids,
                    response.next.as_deref(),
                )
                .await?;
            }
            seen.extend(ids);
            url = response.next;
        }
        installations::mark_deleted_unless_listed(&self.pool, &seen).await?;
        Ok(installations::active_ids(&self.pool).await?)
    }
}

/// An app-level (JWT) GET, conditional on the cached page's ETag when there is one.
async fn app_get(
    client: &GithubClient,
    url: &str,
    cached: Option<&state::CachedPage>,
) -> Result<Response, GithubError> {
    client
        .get(Auth::App, url, cached.map(|c| c.etag.as_str()))
        .await
}

/// A 304 without a cached page cannot happen (we only send `If-None-Match` from the cache).
fn unreachable_cache() -> state::CachedPage {
    state::CachedPage {
        etag: String::new(),
        item_ids: Vec::new(),
        next_url: None,
    }
}

impl Run<'_> {
    async fn all(&mut self, account_login: &str, is_org: bool) -> Result<(), Stop> {
        self.repositories().await?;
        self.check_pause()?;
        if is_org {
            self.members(account_login).await?;
            self.check_pause()?;
            self.missing_emails().await?;
            self.check_pause()?;
            self.teams(account_login).await?;
            self.check_pause()?;
            self.copilot_seats(account_login).await?;
            self.check_pause()?;
        }
        let repos =
            installations::active_repositories(&self.syncer.pool, self.installation).await?;
        for stored in repos {
            let repo = Repository {
                id: stored.id,
                name: stored.name,
                full_name: stored.full_name,
                private: stored.private,
                default_branch: None,
            };
            self.pull_requests(&repo).await?;
            self.check_pause()?;
            self.issues(&repo).await?;
            self.check_pause()?;
        }
        Ok(())
    }

    /// Walks a paginated list: fresh pages are applied (returning the ids they held), 304 pages
    /// contribute the ids cached with their ETag. Returns every id listed.
    async fn walk_list(&mut self, first: String, mut kind: ListKind<'_>) -> Result<Vec<i64>, Stop> {
        let mut url = Some(first);
        let mut all = Vec::new();
        while let Some(current) = url.take() {
            let cached = state::cached_page(&self.syncer.pool, self.installation, &current).await?;
            let response = self
                .get(&current, cached.as_ref().map(|c| c.etag.as_str()))
                .await?;
            if response.not_modified() {
                let cached = cached.unwrap_or_else(unreachable_cache);
                all.extend(cached.item_ids);
                url = cached.next_url;
                continue;
            }
            let body = response.body.unwrap_or(Value::Null);
            let ids = match &mut kind {
                ListKind::Repositories => self.repositories_page(body).await?,
                ListKind::Members(known) => self.members_page(body, known).await?,
                ListKind::Teams => self.teams_page(body).await?,
                ListKind::TeamMembers(logins) => teams::team_members_page(body, logins)?,
                ListKind::CopilotSeats => self.copilot_seats_page(body).await?,
            };
            if let Some(etag) = &response.etag {
                state::store_page(
                    &self.syncer.pool,
                    self.installation,
                    &current,
                    etag,
                    &ids,
                    response.next.as_deref(),
                )
                .await?;
            }
            all.extend(ids);
            url = response.next;
        }
        Ok(all)
    }

    async fn repositories(&mut self) -> Result<(), Stop> {
        let first = self
            .syncer
            .client
            .url("/installation/repositories?per_page=100");
        let started = self.started;
        let listed = self.walk_list(first, ListKind::Repositories).await?;
        let removed = installations::deactivate_repositories_unless_listed(
            &self.syncer.pool,
            self.installation,
            &listed,
            started,
        )
        .await?;
        self.counters.deactivated += removed as i32;
        Ok(())
    }

    async fn repositories_page(&mut self, body: Value) -> Result<Vec<i64>, Stop> {
        let page: InstallationRepositories = serde_json::from_value(body)?;
        let repositories: Vec<_> = page.repositories.iter().map(rest::repository).collect();
        installations::set_repositories(
            &self.syncer.pool,
            self.installation,
            &repository_records(&repositories),
            true,
            self.started,
        )
        .await?;
        Ok(repositories.iter().map(|r| r.id).collect())
    }

    async fn members_page(&mut self, body: Value, known: &Known) -> Result<Vec<i64>, Stop> {
        let page: Vec<octocrab::models::Author> = serde_json::from_value(body)?;
        let mut ids = Vec::with_capacity(page.len());
        let mut profiles_read = Vec::new();
        for member in &page {
            let mut user: User = rest::user(member);
            ids.push(user.id);
            match known.get(&user.id) {
                Some((login, true)) if *login == user.login => continue,
                Some(_) => self.counters.updated += 1,
                None => {
                    self.counters.created += 1;
                    let profile = self.profile(&user.login).await?;
                    user.name = profile.as_ref().and_then(|p| p.name.clone());
                    user.email = profile.as_ref().and_then(|p| p.email.clone());
                }
            }
            if !known.contains_key(&user.id) {
                profiles_read.push(user.id);
            }
            members::set_membership(
                &self.syncer.pool,
                self.installation,
                user.person(),
                None,
                MembershipState::Active,
                self.started,
            )
            .await?;
        }
        // Their name and email went in with the membership; one statement notes when.
        members::profiles_read(&self.syncer.pool, self.installation, &profiles_read).await?;
        Ok(ids)
    }

    /// A user's public profile (`GET /users/{login}`); `None` when GitHub has no body for it.
    async fn profile(&mut self, login: &str) -> Result<Option<UserProfile>, Stop> {
        let url = self.syncer.client.url(&format!("/users/{login}"));
        let details = self.get(&url, None).await?;
        match details.body {
            Some(body) => Ok(Some(serde_json::from_value(body)?)),
            None => Ok(None),
        }
    }

    /// Members with no public email whose profile was never read (added by a webhook: a new
    /// hire) or not for a week get it read, a bounded number per run, inside the rate budget.
    async fn missing_emails(&mut self) -> Result<(), Stop> {
        let due = members::without_email(
            &self.syncer.pool,
            self.installation,
            EMAIL_RECHECK_AFTER,
            EMAIL_CHECKS_PER_RUN,
        )
        .await?;
        for (github_id, login) in due {
            self.check_pause()?;
            let profile = self.profile(&login).await?;
            members::record_profile(
                &self.syncer.pool,
                self.installation,
                github_id,
                profile.as_ref().and_then(|p| p.name.as_deref()),
                profile.as_ref().and_then(|p| p.email.as_deref()),
            )
            .await?;
        }
        Ok(())
    }

    async fn members(&mut self, org: &str) -> Result<(), Stop> {
        // What we know before the run: to tell new members (who need details) from known ones.
        let known: Known = members::known(&self.syncer.pool, self.installation).await?;
        let first = self
            .syncer
            .client
            .url(&format!("/orgs/{org}/members?per_page=100"));
        let listed = self.walk_list(first, ListKind::Members(&known)).await?;
        let listed: HashSet<i64> = listed.into_iter().collect();
        let gone: Vec<i64> = known
            .iter()
            .filter(|(id, (_, active))| *active && !listed.contains(id))
            .map(|(id, _)| *id)
            .collect();
        if !gone.is_empty() {
            let changed = members::deactivate_missing(
                &self.syncer.pool,
                self.installation,
                &gone,
                self.started,
            )
            .await?;
            self.counters.deactivated += changed as i32;
        }
        Ok(())
    }

    fn lookback_floor(&self) -> DateTime<Utc> {
        self.started
            - chrono::Duration::from_std(self.syncer.settings.initial_lookback).unwrap_or_default()
    }

    /// Reads a list sorted newest-updated first back to `floor`. The first page is conditional:
    /// `None` means 304, nothing changed. Its ETag is returned, to be stored only once the items
    /// are applied, so a failed run is not mistaken for "seen" next time.
    async fn read_back_to(
        &mut self,
        first: String,
        floor: DateTime<Utc>,
    ) -> Result<Option<(Vec<Value>, Option<String>)>, Stop> {
        let cached = state::cached_page(&self.syncer.pool, self.installation, &first).await?;
        let response = self
            .get(&first, cached.as_ref().map(|c| c.etag.as_str()))
            .await?;
        if response.not_modified() {
            return Ok(None);
        }
        let etag = response.etag.clone();
        let mut items = Vec::new();
        let mut page = Some(response);
        while let Some(response) = page.take() {
            let list: Vec<Value> = serde_json::from_value(response.body.unwrap_or(Value::Null))?;
            let (before, listed) = (items.len(), list.len());
            items.extend(list.into_iter().take_while(|item| {
                item.get("updated_at")
                    .and_then(Value::as_str)
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .is_none_or(|t| t.with_timezone(&Utc) >= floor)
            }));
            let reached_floor = items.len() - before < listed;
            // Deeper pages shift whenever anything changes: fetched unconditionally.
            if let Some(next) = response.next.filter(|_| !reached_floor) {
                page = Some(self.get(&next, None).await?);
            }
        }
        Ok(Some((items, etag)))
    }

    async fn pull_requests(&mut self, repo: &Repository) -> Result<(), Stop> {
        let pool = self.syncer.pool.clone();
        let floor = state::watermark(&pool, repo.id, WatermarkKind::Pulls)
            .await?
            .unwrap_or_else(|| self.lookback_floor());
        let first = self.syncer.client.url(&format!(
            "/repos/{}/pulls?state=all&sort=updated&direction=desc&per_page=100",
            repo.full_name
        ));
        let Some((items, etag)) = self.read_back_to(first.clone(), floor).await? else {
            return Ok(());
        };
        let mut newest: Option<DateTime<Utc>> = None;
        for item in items {
            let pr: octocrab::models::pulls::PullRequest = serde_json::from_value(item)?;
            let pr: PullRequest = rest::pull_request(&pr)?;
            newest = newest.max(Some(pr.updated_at));
            if pulls::upsert(&pool, self.installation, repo.record(), &pr.record()).await? {
                self.counters.updated += 1;
            }
            self.merged_pull_request(repo, &pr).await?;
        }
        if let Some(newest) = newest {
            state::advance_watermark(
                &pool,
                self.installation,
                repo.id,
                WatermarkKind::Pulls,
                newest,
            )
            .await?;
        }
        if let Some(etag) = etag {
            state::store_page(&pool, self.installation, &first, &etag, &[], None).await?;
        }
        Ok(())
    }

    async fn merged_pull_request(
        &mut self,
        repo: &Repository,
        pr: &PullRequest,
    ) -> Result<(), Stop> {
        let Some(merged_at) = pr.merged_at else {
            return Ok(());
        };
        let window =
            chrono::Duration::from_std(self.syncer.settings.merged_window).unwrap_or_default();
        if merged_at < self.started - window {
            return Ok(());
        }
        let pool = self.syncer.pool.clone();
        if !pulls::has_reviews(&pool, pr.id).await? {
            let url = self.syncer.client.url(&format!(
                "/repos/{}/pulls/{}/reviews?per_page=100",
                repo.full_name, pr.number
            ));
            let response = self.get(&url, None).await?;
            let reviews: Vec<octocrab::models::pulls::Review> =
                serde_json::from_value(response.body.unwrap_or(Value::Null))?;
            for review in reviews.iter().map(rest::review) {
                pulls::upsert_review(&pool, self.installation, pr.id, &review.record(), None)
                    .await?;
            }
        }
        if merged::record(
            &pool,
            self.installation,
            pr.id,
            repo.id,
            pr.number,
            Some(merged_at),
            "sync",
        )
        .await?
        {
            self.counters.created += 1;
        }
        Ok(())
    }

    async fn issues(&mut self, repo: &Repository) -> Result<(), Stop> {
        let pool = self.syncer.pool.clone();
        let watermark = state::watermark(&pool, repo.id, WatermarkKind::Issues).await?;
        let floor = watermark.unwrap_or_else(|| self.lookback_floor());
        // `since` is an anchor moved at most weekly, so an unchanged repository repeats the same
        // URL and gets a 304; reading stops at the watermark whatever `since` says.
        let anchor = state::watermark(&pool, repo.id, WatermarkKind::IssuesSince).await?;
        let stale = self.lookback_floor() - chrono::Duration::days(7);
        let since = match anchor {
            Some(a) if a >= stale => a,
            _ => {
                let anchor = self.lookback_floor().min(floor);
                state::set_watermark(
                    &pool,
                    self.installation,
                    repo.id,
                    WatermarkKind::IssuesSince,
                    anchor,
                )
                .await?;
                anchor
            }
        };
        let first = self.syncer.client.url(&format!(
            "/repos/{}/issues?state=all&sort=updated&direction=desc&per_page=100&since={}",
            repo.full_name,
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
        let Some((items, etag)) = self.read_back_to(first.clone(), floor).await? else {
            return Ok(());
        };
        let mut newest: Option<DateTime<Utc>> = None;
        for item in items {
            // Our own type: octocrab's has no issue `type` and a closed `state_reason` (see `rest`).
            let issue: Issue = serde_json::from_value(item)?;
            newest = newest.max(Some(issue.updated_at));
            // GitHub lists pull requests among issues; those are synced as pull requests.
            if issue.pull_request.is_none()
                && issues::upsert(&pool, self.installation, repo.record(), &issue.record()).await?
            {
                self.counters.updated += 1;
            }
        }
        if let Some(newest) = newest {
            state::advance_watermark(
                &pool,
                self.installation,
                repo.id,
                WatermarkKind::Issues,
                newest,
            )
            .await?;
        }
        if let Some(etag) = etag {
            state::store_page(&pool, self.installation, &first, &etag, &[], None).await?;
        }
        Ok(())
    }
}
