//! Wiring: connect to Postgres and Redis, run migrations, and run the web and/or worker roles
//! until a shutdown signal, finishing in-flight requests and jobs first.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::PgPool;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::queue::delivery_worker::{self, WorkerState};
use crate::queue::{QueueError, Queues, maintenance};
use crate::store;
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
}

/// The long-lived connections every role shares.
#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub pool: PgPool,
    pub queues: Queues,
    pub metrics: Arc<Metrics>,
}

impl Services {
    /// Connects to both stores and brings the schema up to date.
    pub async fn connect(config: Config) -> Result<Self, StartError> {
        let pool = store::connect(&config.database_url, config.database_max_connections)
            .await
            .map_err(StartError::Postgres)?;
        store::migrate(&pool).await?;
        Self::with_pool(config, pool).await
    }

    /// Uses an existing pool (tests hand in a fresh database per test).
    pub async fn with_pool(config: Config, pool: PgPool) -> Result<Self, StartError> {
        let queues = Queues::connect(
            &config.redis_url,
            &config.queue_prefix,
            config.worker_heartbeat,
            config.delivery_retention,
            config.redis_timeout,
        )
        .await?;
        Ok(Self {
            config: Arc::new(config),
            pool,
            queues,
            metrics: Arc::new(Metrics::default()),
        })
    }

    pub fn app_state(&self) -> AppState {
        AppState {
            pool: self.pool.clone(),
            queues: self.queues.clone(),
            metrics: self.metrics.clone(),
            webhook_secrets: Arc::new(self.config.webhook_secrets.clone()),
        }
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

/// Runs `role` until `shutdown` flips to true. `listener` is used when given (tests bind port 0).
pub async fn run(
    services: Services,
    role: Role,
    listener: Option<TcpListener>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), StartError> {
    let mut tasks: JoinSet<Result<(), StartError>> = JoinSet::new();
    if role.web() {
        let listener = match listener {
            Some(l) => l,
            None => {
                let addr = services.config.bind_addr;
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?
            }
        };
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "web: listening");
        }
        let router = web::router(services.app_state());
        let mut rx = shutdown.clone();
        tasks.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .await
                .map_err(StartError::Serve)
        });
    }
    if role.worker() {
        let state = services.worker_state();
        let concurrency = services.config.worker_concurrency;
        let mut rx = shutdown.clone();
        tasks.spawn(async move {
            // A Redis outage ends an apalis worker with an error; start a new one (under a
            // new name) until shutdown, so processing resumes by itself when Redis is back.
            while !*rx.borrow() {
                let name = worker_name("deliveries");
                tracing::info!(worker = %name, concurrency, "worker: started");
                let mut stop_rx = rx.clone();
                let stop = async move {
                    let _ = stop_rx.wait_for(|stop| *stop).await;
                };
                match delivery_worker::run(state.clone(), name, concurrency, stop).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "worker stopped with an error; restarting")
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                    _ = rx.wait_for(|stop| *stop) => {}
                }
            }
            Ok(())
        });
        let (pool, queues, retention) = (
            services.pool.clone(),
            services.queues.clone(),
            services.config.delivery_retention,
        );
        let rx = shutdown.clone();
        tasks.spawn(async move {
            maintenance::run(pool, queues, retention, rx).await;
            Ok(())
        });
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
