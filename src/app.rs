//! Wiring: connect to Postgres and Redis, run migrations, and run the web and/or worker roles
//! until a shutdown signal, finishing in-flight requests and jobs first.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::PgPool;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::config::layered::{Env, Reload};
use crate::github::client::{GithubApi, GithubClient};
use crate::metrics::Metrics;
use crate::queue::catch_up::{self, CatchUp};
use crate::queue::delivery_worker::{self, WorkerState};
use crate::queue::{QueueError, Queues, maintenance, survey_workers};
use crate::slack::clients::SlackClients;
use crate::store;
use crate::survey::{SurveyContext, tick};
use crate::sync::{SyncSettings, Syncer};
use crate::web::{self, AppState};

/// Which parts of Mergecast this process runs; web and workers scale separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    All,
    Web,
    Worker,
}

impl Role {
    fn web(self) -> bool {
        matches!(self, Role::All | Role::Web)
    }
    fn worker(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
}

/// Start-up failures, each naming the dependency that failed.
#[derive(Debug, Error)]
pub enum StartError {
    #[error("cannot connect to Postgres (DATABASE_URL): {0}")]
    Postgres(#[source] sqlx::Error),
    #[error("cannot run migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot connect to Redis (REDIS_URL): {0}")]
    Redis(#[from] QueueError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error("{0}")]
    Github(#[from] crate::github::client::GithubError),
    #[error("configuration: {0}")]
    Config(#[from] store::app_settings::LoadError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The long-lived connections every role shares.
#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub pool: PgPool,
    pub queues: Queues,
    pub metrics: Arc<Metrics>,
    /// The process's one HTTP client to GitHub (admin sign-in needs it without an App identity).
    pub github_api: GithubApi,
    /// Present when the GitHub App identity is configured (on top of `github_api`).
    pub github: Option<GithubClient>,
    /// Present when Slack is configured: each installation's workspace client, or the default.
    pub slack: Option<SlackClients>,
    /// How this process re-reads its configuration after the setup page changed it: the
    /// environment it started with, and the signal that asks [`serve`] to reload. `None` when the
    /// caller built the configuration itself (tests of other parts).
    pub reload: Option<Reload>,
}

impl Services {
    /// Connects to both stores, brings the schema up to date, and reads the process environment
    /// over what the setup page stored (one-shot commands: `sync`, `deliveries replay`).
    pub async fn connect(config: Config) -> Result<Self, StartError> {
        let pool = Self::database(&config).await?;
        let env = crate::config::layered::process_env();
        let config = store::app_settings::current_config(&pool, &env).await?;
        Self::with_pool(config, pool).await
    }

    /// Connects to both stores and brings the schema up to date, with `config` exactly as given
    /// (benchmarks and tools that build their configuration themselves).
    pub async fn connect_as_given(config: Config) -> Result<Self, StartError> {
        let pool = Self::database(&config).await?;
        Self::with_pool(config, pool).await
    }

    async fn database(config: &Config) -> Result<PgPool, StartError> {
        let pool = store::connect(&config.database_url, config.database_max_connections)
            .await
            .map_err(StartError::Postgres)?;
        store::migrate(&pool).await?;
        Ok(pool)
    }

    /// Uses an existing pool (tests hand in a fresh database per test).
    pub async fn with_pool(config: Config, pool: PgPool) -> Result<Self, StartError> {
        let queues = Queues::connect(
            &config.redis_url,
            &config.queue_prefix,
            config.worker_heartbeat,
            config.delivery_retention,
            config.dedupe_window,
            config.redis_timeout,
        )
        .await?;
        let slack = config.slack.as_ref().map(|s| {
            SlackClients::new(
                &s.api_url,
                s.bot_token.as_deref(),
                pool.clone(),
                config.keyring.clone(),
            )
        });
        let github_api = GithubApi::new(&config.github_api_url, &config.github_web_url)?;
        let github = config.github_app.as_ref().map(|app| {
            GithubClient::new(
                github_api.clone(),
                app,
                queues.connection(),
                &config.queue_prefix,
                pool.clone(),
            )
        });
        Ok(Self {
            config: Arc::new(config),
            pool,
            queues,
            metrics: Arc::new(Metrics::default()),
            github_api,
            github,
            slack,
            reload: None,
        })
    }

    pub fn app_state(&self) -> AppState {
        AppState {
            pool: self.pool.clone(),
            queues: self.queues.clone(),
            metrics: self.metrics.clone(),
            webhook_secrets: Arc::new(self.config.webhook_secrets.clone()),
            webhook_bodies: Arc::new(web::webhook_body::BodyGate::new(
                web::webhook_body::BodyLimits::default(),
                self.metrics.clone(),
            )),
            slack_signing_secret: self
                .config
                .slack
                .as_ref()
                .map(|s| Arc::from(s.signing_secret.as_str())),
            admin: Arc::new(
                web::admin::AdminContext::new(
                    self.config.clone(),
                    self.catch_up(),
                    self.github_api.clone(),
                    self.github.clone(),
                    self.reload.clone(),
                    self.survey_context(),
                )
                .with_deletion_grace(self.config.deletion_grace),
            ),
        }
    }

    /// What the survey flow needs (Slack may be absent: surveys then wait for it).
    pub fn survey_context(&self) -> SurveyContext {
        SurveyContext {
            pool: self.pool.clone(),
            slack: self.slack.clone(),
            github: self.github.clone(),
            config: self.config.survey.clone(),
            leaderboard_channel: self
                .config
                .slack
                .as_ref()
                .and_then(|s| s.leaderboard_channel.clone()),
        }
    }

    /// Catch-up (sync, then relay the merges found), when the app identity is configured.
    pub fn catch_up(&self) -> Option<CatchUp> {
        let app = self.config.github_app.as_ref()?;
        let syncer = Syncer {
            client: self.github.clone()?,
            pool: self.pool.clone(),
            redis: self.queues.connection(),
            prefix: self.config.queue_prefix.clone(),
            settings: SyncSettings {
                merged_window: app.merged_window,
                rate_limit_reserve: app.rate_limit_reserve,
                initial_lookback: app.initial_lookback,
            },
        };
        Some(CatchUp {
            syncer,
            queues: self.queues.clone(),
        })
    }

    pub fn worker_state(&self) -> WorkerState {
        WorkerState {
            pool: self.pool.clone(),
            queues: self.queues.clone(),
            metrics: self.metrics.clone(),
            max_attempts: self.config.delivery_max_attempts,
            retry_base: self.config.delivery_retry_base,
        }
    }
}

/// A unique worker name per process and per worker within it (host + pid + counter), as
/// apalis-redis tracks liveness by name.
pub fn worker_name(kind: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!(
        "{kind}-{host}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Resolves when SIGTERM or SIGINT arrives.
pub async fn termination_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Sockets the web role serves on, when the caller bound them (tests bind port 0); an absent
/// one is bound from the configuration (`BIND_ADDR`, `METRICS_ADDR`).
#[derive(Debug, Default)]
pub struct Listeners {
    pub web: Option<TcpListener>,
    pub metrics: Option<TcpListener>,
}

async fn bind(given: Option<TcpListener>, addr: SocketAddr) -> Result<TcpListener, StartError> {
    match given {
        Some(l) => Ok(l),
        None => TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source }),
    }
}

/// Runs `role` until `shutdown` flips to true. `listener` is used when given (tests bind port 0).
pub async fn run(
    services: Services,
    role: Role,
    listener: Option<TcpListener>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), StartError> {
    let listeners = Listeners {
        web: listener,
        metrics: None,
    };
    run_with(services, role, listeners, shutdown).await
}

/// [`run`] with both of the web role's sockets given or bound from the configuration.
pub async fn run_with(
    services: Services,
    role: Role,
    listeners: Listeners,
    shutdown: watch::Receiver<bool>,
) -> Result<(), StartError> {
    let mut tasks: JoinSet<Result<(), StartError>> = JoinSet::new();
    if role.web() {
        let listener = bind(listeners.web, services.config.bind_addr).await?;
        let metrics = bind(listeners.metrics, services.config.metrics_addr).await?;
        if let Ok(addr) = metrics.local_addr() {
            tracing::info!(%addr, "metrics: listening");
        }
        let metrics_router = web::metrics_router(services.app_state());
        let mut rx = shutdown.clone();
        tasks.spawn(async move {
            axum::serve(metrics, metrics_router)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .await
                .map_err(StartError::Serve)
        });
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "web: listening");
        }
        let router = web::router(services.app_state());
        let mut rx = shutdown.clone();
        tasks.spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.wait_for(|stop| *stop).await;
            })
            .await
            .map_err(StartError::Serve)
        });
    }
    if role.worker() {
        for kind in [
            WorkerKind::Deliveries,
            WorkerKind::Merged,
            WorkerKind::Clicks,
        ] {
            let (services, rx) = (services.clone(), shutdown.clone());
            tasks.spawn(async move {
                supervise(kind, services, rx).await;
                Ok(())
            });
        }
        let (pool, queues, retention, grace) = (
            services.pool.clone(),
            services.queues.clone(),
            services.config.delivery_retention,
            services.config.deletion_grace,
        );
        let rx = shutdown.clone();
        tasks.spawn(async move {
            maintenance::run(pool, queues, retention, grace, rx).await;
            Ok(())
        });
        spawn_survey_tick(&mut tasks, &services, &shutdown);
        match (services.catch_up(), services.config.github_app.as_ref()) {
            (Some(catch_up), Some(app)) => {
                let (interval, rx) = (app.sync_interval, shutdown.clone());
                tasks.spawn(async move {
                    catch_up::run_scheduler(catch_up, interval, rx).await;
                    Ok(())
                });
            }
            _ => tracing::warn!("GITHUB_APP_ID not set: catch-up sync and redelivery are off"),
        }
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Err(e)) => return Err(e),
            Err(e) => tracing::error!(error = %e, "task panicked"),
            Ok(Ok(())) => {}
        }
    }
    Ok(())
}

/// The queue workers a worker process runs.
#[derive(Debug, Clone, Copy)]
enum WorkerKind {
    Deliveries,
    Merged,
    Clicks,
}

/// Runs one queue worker until shutdown. A Redis outage ends an apalis worker with an error;
/// a new one is started (under a new name), so processing resumes by itself when Redis is back.
async fn supervise(kind: WorkerKind, services: Services, mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        let name = worker_name(&format!("{kind:?}").to_ascii_lowercase());
        tracing::info!(worker = %name, "worker: started");
        let mut stop_rx = rx.clone();
        let stop = async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        };
        let result = match kind {
            WorkerKind::Deliveries => {
                let concurrency = services.config.worker_concurrency;
                delivery_worker::run(services.worker_state(), name, concurrency, stop).await
            }
            WorkerKind::Merged => {
                survey_workers::run_merged(services.survey_context(), &services.queues, name, stop)
                    .await
            }
            WorkerKind::Clicks => {
                survey_workers::run_clicks(services.survey_context(), &services.queues, name, stop)
                    .await
            }
        };
        match result {
            Ok(()) => break,
            Err(e) => {
                tracing::error!(error = %e, worker = ?kind, "worker stopped with an error; restarting")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
            _ = rx.wait_for(|stop| *stop) => {}
        }
    }
}

/// Starts the survey tick: delayed asks, reminders, expiry and the leaderboard.
fn spawn_survey_tick(
    tasks: &mut JoinSet<Result<(), StartError>>,
    services: &Services,
    shutdown: &watch::Receiver<bool>,
) {
    let (ctx, mut rx) = (services.survey_context(), shutdown.clone());
    let every = services.config.survey_tick;
    tasks.spawn(async move {
        let mut interval = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = rx.wait_for(|stop| *stop) => return Ok(()),
            }
            if let Err(e) = tick::tick(&ctx, chrono::Utc::now()).await {
                tracing::warn!(error = %e, "survey tick failed");
            }
        }
    });
}

/// How often a process compares the stored configuration version with the one it runs.
const RELOAD_POLL: std::time::Duration = std::time::Duration::from_secs(3);

/// A new one-time setup code: 12 characters from an alphabet without look-alikes, in groups of
/// four (`ABCD-EFGH-JKLM`), about 60 bits.
fn new_setup_code() -> String {
    use chacha20poly1305::aead::rand_core::RngCore;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 12];
    chacha20poly1305::aead::OsRng.fill_bytes(&mut bytes);
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Where the setup page is, for the log line that carries the code.
fn setup_url(config: &Config) -> String {
    match &config.admin.public_url {
        Some(url) => format!("{url}/admin/setup"),
        None => {
            let addr = config.bind_addr;
            let host = if addr.ip().is_unspecified() {
                "localhost".to_owned()
            } else {
                addr.ip().to_string()
            };
            format!("http://{host}:{}/admin/setup", addr.port())
        }
    }
}

/// A listener's socket, kept across reloads (each run gets its own handle on it; connections
/// arriving while the roles restart wait in the backlog).
fn reusable(
    given: Option<TcpListener>,
    addr: SocketAddr,
) -> Result<std::net::TcpListener, StartError> {
    let listener = match given {
        Some(l) => l.into_std(),
        None => {
            let l = std::net::TcpListener::bind(addr)
                .map_err(|source| StartError::Bind { addr, source })?;
            l.set_nonblocking(true)
                .map_err(|source| StartError::Bind { addr, source })?;
            Ok(l)
        }
    };
    listener.map_err(|source| StartError::Bind { addr, source })
}

fn handle_of(listener: &std::net::TcpListener) -> Result<TcpListener, StartError> {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    listener
        .try_clone()
        .and_then(TcpListener::from_std)
        .map_err(|source| StartError::Bind { addr, source })
}

/// Runs `role` with the configuration read from `env` over what the setup page stored, and
/// runs it again, in place, whenever that stored configuration changes (this process's setup
/// page asks at once; other processes notice the version within [`RELOAD_POLL`]). In-flight
/// requests and jobs finish before the roles restart; the listening sockets stay open.
///
/// While no operator password is configured, the web role prints a one-time setup code in the
/// log (as Grafana and Jenkins do); only its hash is stored, and the newest one printed works.
pub async fn serve(
    env: Env,
    pool: PgPool,
    role: Role,
    listeners: Listeners,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), StartError> {
    let first = store::app_settings::current_config(&pool, &env).await?;
    let (web, metrics) = if role.web() {
        (
            Some(reusable(listeners.web, first.bind_addr)?),
            Some(reusable(listeners.metrics, first.metrics_addr)?),
        )
    } else {
        (None, None)
    };
    let notify = Arc::new(Notify::new());
    let mut code_printed = false;
    let mut config = first;
    loop {
        let version = store::app_settings::version(&pool).await?;
        if role.web() && config.admin.password_hash.is_none() && !code_printed {
            let code = new_setup_code();
            store::app_settings::set_setup_code(&pool, &code).await?;
            tracing::warn!(
                "setup: open {} and enter the one-time setup code {code}",
                setup_url(&config)
            );
            code_printed = true;
        }
        let mut services = Services::with_pool(config, pool.clone()).await?;
        services.reload = Some(Reload {
            env: env.clone(),
            notify: notify.clone(),
        });
        let listeners = Listeners {
            web: web.as_ref().map(handle_of).transpose()?,
            metrics: metrics.as_ref().map(handle_of).transpose()?,
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut running = Box::pin(run_with(services, role, listeners, stop_rx));
        let mut poll = tokio::time::interval(RELOAD_POLL);
        let reload = loop {
            tokio::select! {
                result = &mut running => return result,
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break false;
                    }
                }
                _ = notify.notified() => break true,
                _ = poll.tick() => {
                    match store::app_settings::version(&pool).await {
                        Ok(now) if now != version => break true,
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "cannot read the configuration version"),
                    }
                }
            }
        };
        let _ = stop_tx.send(true);
        running.await?;
        if !reload {
            return Ok(());
        }
        config = store::app_settings::current_config(&pool, &env).await?;
        tracing::info!("configuration changed: roles restarted with it");
    }
}
