//! Postgres access: free functions over `impl PgExecutor`, one file per table family.
//! Every write is idempotent (upserts keyed by GitHub ids) and order-safe (guarded by GitHub's
//! `updated_at`, or by when we observed the fact where GitHub gives no timestamp).

pub mod admin_sessions;
pub mod admin_stats;
pub mod app_settings;
pub mod copilot;
pub mod deliveries;
pub mod installations;
pub mod issues;
pub mod members;
pub mod merged;
pub mod org_data;
pub mod org_settings;
pub mod people;
pub mod pulls;
pub mod records;
pub mod secrets;
pub mod slack_workspaces;
pub mod surveys;
pub mod sync;
pub mod team_stats;
pub mod teams;

use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

/// Opens the pool; `max` bounds connections so web and worker processes share Postgres fairly.
pub async fn connect(url: &str, max: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
}

/// Applies pending migrations (run at start-up of every role and by `mergecast migrate`).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("./migrations").run(pool).await
}

/// Whether Postgres answers (`SELECT 1`): readiness probes and the admin overview.
pub async fn ping(db: impl sqlx::PgExecutor<'_>) -> Result<(), sqlx::Error> {
    sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(db)
        .await?;
    Ok(())
}
