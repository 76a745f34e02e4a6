//! Test harness: starts the real Mergecast (web and/or workers) in-process against the real
//! Postgres (a fresh database per test from `#[sqlx::test]`) and the real Redis (a unique key
//! prefix per test), plus a small DSL to deliver signed webhooks and wait for their effects.
#![allow(dead_code)]

pub mod browser;
pub mod fake_github;
pub mod fake_slack;
pub mod log_capture;
pub mod proxy;
pub mod raw_http;
pub mod scenario;
pub mod webdriver;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mergecast::app::{self, Role, Services};
use mergecast::config::Config;
use mergecast::github::signature;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const SECRET: &str = "test-webhook-secret";

/// Redis the tests use (CI and the dev machine run one on the default port).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// What every test process is given: fast retries, short heartbeats, a unique Redis prefix.
fn base_vars(redis_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", "postgres://unused/for-tests".to_string()),
        ("REDIS_URL", redis_url.to_string()),
        (
            "QUEUE_PREFIX",
            format!("mctest:{}", uuid::Uuid::new_v4().simple()),
        ),
        ("WORKER_CONCURRENCY", "8".into()),
        ("DELIVERY_MAX_ATTEMPTS", "3".into()),
        ("DELIVERY_RETRY_BASE_MS", "10".into()),
        ("WORKER_HEARTBEAT_SECS", "1".into()),
        ("REDIS_TIMEOUT_MS", "500".into()),
        ("DATABASE_MAX_CONNECTIONS", "10".into()),
    ]
}

/// A configuration for tests: fast retries, short heartbeats, a unique Redis prefix.
pub fn test_config(redis_url: &str) -> Config {
    test_config_with(redis_url, &[])
}

/// `test_config` plus the GitHub App identity, pointed at a fake GitHub.
pub fn github_config(redis_url: &str, github_url: &str) -> Config {
    let key = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/keys/test-app.pem");
    test_config_with(
        redis_url,
        &[
            ("GITHUB_APP_ID", APP_ID.to_string()),
            ("GITHUB_PRIVATE_KEY_PATH", key.display().to_string()),
            ("GITHUB_API_URL", github_url.to_string()),
            ("SYNC_RATE_LIMIT_RESERVE", "100".into()),
        ],
    )
}

/// The fake GitHub App's id.
pub const APP_ID: i64 = 123456;

/// A test configuration with extra variables set.
pub fn test_config_with(redis_url: &str, extra: &[(&str, String)]) -> Config {
    let mut vars = base_vars(redis_url);
    vars.extend([
        ("GITHUB_WEBHOOK_SECRET", format!("old-secret,{SECRET}")),
        ("BIND_ADDR", "127.0.0.1:0".into()),
        ("METRICS_ADDR", "127.0.0.1:0".into()),
    ]);
    // Extra variables come first, so they override the defaults.
    let mut all: Vec<(&str, String)> = extra.to_vec();
    all.extend(vars);
    Config::from_lookup(|k| all.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
        .expect("test config is valid")
}

/// The environment of a test process started through `app::serve` (the reloading server):
/// like [`test_config_with`], without a webhook secret unless `extra` sets one. Returns the
/// variables (extra first, so they win).
pub fn serve_env(redis_url: &str, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    for (k, v) in base_vars(redis_url) {
        if !all.iter().any(|(n, _)| n == k) {
            all.push((k.to_string(), v));
        }
    }
    all
}

/// A fake GitHub model of the scenario's org ([`scenario::ORG`], installation
/// [`scenario::INSTALLATION`], repository [`scenario::REPO`], [`scenario::MEMBERS`]), for tests
/// that run their own app and post the webhooks it renders. Returns it and the repository id.
pub fn org_model() -> (fake_github::Model, i64) {
    let mut m = fake_github::Model::default();
    m.add_org_installation(scenario::INSTALLATION, scenario::ORG);
    let repo = m
        .add_repo(scenario::INSTALLATION, scenario::ORG, scenario::REPO)
        .id;
    for person in scenario::MEMBERS {
        m.add_member(scenario::ORG, person.github_user());
    }
    (m, repo)
}

/// `issues.opened` for a new issue by [`scenario::MONA`], rendered by a fresh [`org_model`]:
/// a valid signed delivery that stores one row in `issues`.
pub fn issue_opened_hook() -> fake_github::Webhook {
    let (mut m, repo) = org_model();
    let issue = m.add_issue(repo, scenario::MONA.github_id).id;
    m.issue_hook(issue, fake_github::IssueAction::Opened)
}

/// A pull request by [`scenario::MONA`] merged by [`scenario::HUBOT`] (`pull_request.closed`),
/// rendered by a fresh [`org_model`].
pub fn pr_merged_hook() -> fake_github::Webhook {
    let (mut m, repo) = org_model();
    let pull = m.add_pull(repo, scenario::MONA.github_id).id;
    m.pull_hook(
        pull,
        fake_github::PullAction::Merged(scenario::HUBOT.github_id),
    )
}

/// `organization.member_added` for [`scenario::OCTOCAT`] joining [`scenario::ORG`] (where
/// [`scenario::MONA`] is), rendered by the fake GitHub's model.
pub fn member_added_hook() -> fake_github::Webhook {
    let mut m = fake_github::Model::default();
    m.add_org_installation(scenario::INSTALLATION, scenario::ORG);
    m.add_member(scenario::ORG, scenario::MONA.github_user());
    m.add_user(scenario::OCTOCAT.github_user());
    m.org_hook(
        scenario::ORG,
        fake_github::OrgAction::MemberAdded(scenario::OCTOCAT.github_id),
    )
}

/// Polls `check` until it returns true or `timeout` passes (then panics with `what`).
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The web and metrics sockets of a test app, on free loopback ports.
async fn loopback_listeners() -> (
    tokio::net::TcpListener,
    SocketAddr,
    tokio::net::TcpListener,
    SocketAddr,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let metrics = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind metrics");
    let metrics_addr = metrics.local_addr().expect("metrics addr");
    (listener, addr, metrics, metrics_addr)
}

/// A running Mergecast.
pub struct TestApp {
    pub addr: SocketAddr,
    /// Where `/metrics` is served (its own listener, like `METRICS_ADDR`).
    pub metrics_addr: SocketAddr,
    pub pool: PgPool,
    pub services: Services,
    pub client: reqwest::Client,
    shutdown: watch::Sender<bool>,
    handle: Option<JoinHandle<()>>,
}

impl TestApp {
    /// Web and workers, against the shared Redis.
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, Role::All, test_config(&redis_url())).await
    }

    pub async fn spawn_with(pool: PgPool, role: Role, config: Config) -> Self {
        let services = Services::with_pool(config, pool.clone())
            .await
            .expect("services");
        Self::start(services, role).await
    }

    /// Starts `role` on already-connected services (several apps can share one queue prefix).
    pub async fn start(services: Services, role: Role) -> Self {
        let (listener, addr, metrics, metrics_addr) = loopback_listeners().await;
        let listeners = app::Listeners {
            web: Some(listener),
            metrics: Some(metrics),
        };
        let (tx, rx) = watch::channel(false);
        let run_services = services.clone();
        let handle = tokio::spawn(async move {
            if let Err(e) = app::run_with(run_services, role, listeners, rx).await {
                panic!("app stopped: {e}");
            }
        });
        Self {
            addr,
            metrics_addr,
            pool: services.pool.clone(),
            services,
            client: reqwest::Client::new(),
            shutdown: tx,
            handle: Some(handle),
        }
    }

    /// Starts Mergecast as `mergecast serve` does (`app::serve`: configuration from `env` over
    /// what the setup page stored, reloaded when that changes). `BIND_ADDR` is set to the bound
    /// port, so the log line with the setup code names this app. `services` is built from the
    /// environment alone, for inspecting the queue.
    pub async fn serve(pool: PgPool, role: Role, env: Vec<(String, String)>) -> Self {
        let (listener, addr, metrics, metrics_addr) = loopback_listeners().await;
        let mut env = env;
        env.retain(|(k, _)| k != "BIND_ADDR" && k != "METRICS_ADDR");
        env.push(("BIND_ADDR".into(), addr.to_string()));
        env.push(("METRICS_ADDR".into(), metrics_addr.to_string()));
        let map: std::collections::HashMap<String, String> = env.into_iter().collect();
        let config = Config::from_lookup(|k| map.get(k).cloned()).expect("test env is valid");
        let services = Services::with_pool(config, pool.clone())
            .await
            .expect("services");
        let lookup: mergecast::config::layered::Env =
            std::sync::Arc::new(move |k: &str| map.get(k).cloned());
        let listeners = app::Listeners {
            web: Some(listener),
            metrics: Some(metrics),
        };
        let (tx, rx) = watch::channel(false);
        let serve_pool = pool.clone();
        let handle = tokio::spawn(async move {
            if let Err(e) = app::serve(lookup, serve_pool, role, listeners, rx).await {
                panic!("app stopped: {e}");
            }
        });
        Self {
            addr,
            metrics_addr,
            pool,
            services,
            client: reqwest::Client::new(),
            shutdown: tx,
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A URL on the metrics listener.
    pub fn metrics_url(&self, path: &str) -> String {
        format!("http://{}{}", self.metrics_addr, path)
    }

    /// Posts `body` as GitHub would: signed with the configured secret, a fresh delivery id.
    pub async fn deliver(&self, event: &str, body: &[u8]) -> (u16, String) {
        let id = uuid::Uuid::new_v4().to_string();
        let status = self.deliver_as(event, body, &id).await;
        (status, id)
    }

    /// Posts a signed delivery with a given id (GitHub's redeliveries reuse the id).
    pub async fn deliver_as(&self, event: &str, body: &[u8], id: &str) -> u16 {
        self.client
            .post(self.url("/webhooks/github"))
            .header("content-type", "application/json")
            .header("user-agent", "GitHub-Hookshot/test")
            .header("x-github-event", event)
            .header("x-github-delivery", id)
            .header("x-github-hook-id", "4242")
            .header(
                "x-hub-signature-256",
                signature::sign(SECRET.as_bytes(), body),
            )
            .body(body.to_vec())
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }

    pub async fn delivery_status(&self, id: &str) -> Option<String> {
        sqlx::query_scalar("SELECT status FROM deliveries WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .expect("query")
    }

    /// Waits until the delivery reaches one of `statuses`.
    pub async fn wait_for_status(&self, id: &str, statuses: &[&str]) {
        wait_until(
            &format!("delivery {id} in {statuses:?}"),
            Duration::from_secs(20),
            || async {
                self.delivery_status(id)
                    .await
                    .is_some_and(|s| statuses.contains(&s.as_str()))
            },
        )
        .await;
    }

    /// Delivers a webhook rendered by the fake GitHub's model and waits until the worker has
    /// applied it (processed or ignored).
    pub async fn apply_hook(&self, hook: &fake_github::Webhook) -> String {
        let (status, id) = self.deliver(hook.event, &hook.bytes()).await;
        assert_eq!(status, 202, "{} {:?} accepted", hook.event, hook.action());
        self.wait_for_status(&id, &["processed", "ignored"]).await;
        id
    }

    /// Jobs in the delivery queue (ready + scheduled).
    pub async fn queued(&self) -> u64 {
        let d = self.services.queues.delivery_depth().await.expect("depth");
        d.ready + d.scheduled
    }

    /// `PullRequestMerged` jobs ever emitted (the survey worker may have consumed them since).
    pub async fn merged_jobs(&self) -> u64 {
        self.services
            .queues
            .merged_emitted()
            .await
            .expect("merged count")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .expect(sql)
    }

    /// Whether the app's run loop has not returned yet.
    pub fn is_running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Signals shutdown (SIGTERM's effect) without waiting.
    pub fn begin_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Stops the app (graceful) and deletes this test's Redis keys.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(handle) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
        delete_prefix(&redis_url(), &self.services.config.queue_prefix).await;
    }
}

/// Deletes every Redis key under `prefix` (never FLUSHDB: other tests share the server).
pub async fn delete_prefix(redis_url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(redis_url) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let _ = mergecast::queue::purge::purge_prefix(&mut conn, prefix).await;
}
