//! Deleting an org's data: the periodic purge of installations deleted longer ago than
//! `DELETION_GRACE_DAYS` (or asked for from the admin page), and the Redis keys an installation
//! owns. The rows and the order they go in are `store::org_data`'s; this adds what Redis holds
//! and never purges an installation while a catch-up of it runs (it could write one more page).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::Queues;
use crate::ids::InstallationId;
use crate::lock::RedisLock;
use crate::store::org_data::{self, PurgeReport};

/// Rows deleted per statement (each its own short transaction).
pub const BATCH: i64 = 1000;

/// Installations purged per run of the periodic job.
const PER_RUN: i64 = 10;

/// Every Redis key of installation `id` (besides queued jobs, which the worker ignores once it
/// is deleted, and per-delivery redelivery budgets, which expire within ten minutes).
pub fn installation_keys(prefix: &str, id: InstallationId) -> Vec<String> {
    let mut keys = crate::github::client::token_keys(prefix, id).to_vec();
    keys.push(crate::sync::sync_lock_key(prefix, id));
    keys.push(super::catch_up::sync_now_key(prefix, id));
    keys.push(crate::sync::manual_redelivery::installation_budget_key(
        prefix, id.0,
    ));
    keys
}

/// Deletes installation `id`'s Redis keys (its cached tokens first of all).
pub async fn forget_redis(queues: &Queues, id: InstallationId) -> Result<(), redis::RedisError> {
    let mut conn = queues.connection();
    let keys = installation_keys(queues.prefix(), id);
    redis::cmd("DEL")
        .arg(&keys)
        .query_async::<()>(&mut conn)
        .await
}

/// How one installation's purge went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurgeOutcome {
    Purged(PurgeReport),
    /// A catch-up of it runs now; tried again on the next run.
    SyncRunning,
    /// Not deleted (or purged by another process meanwhile).
    NotDeleted,
}

/// Purges installation `id` now if it is deleted (no grace: the caller decided).
pub async fn purge_one(
    pool: &PgPool,
    queues: &Queues,
    id: InstallationId,
) -> Result<PurgeOutcome, PurgeError> {
    let mut conn = queues.connection();
    let sync_lock = crate::sync::sync_lock_key(queues.prefix(), id);
    if RedisLock::is_held(&mut conn, &sync_lock).await? {
        return Ok(PurgeOutcome::SyncRunning);
    }
    let Some(report) = org_data::purge(pool, id.0, BATCH).await? else {
        return Ok(PurgeOutcome::NotDeleted);
    };
    forget_redis(queues, id).await?;
    tracing::info!(
        installation = id.0,
        rows = report.total(),
        statements = report.statements,
        "purged a deleted installation's data"
    );
    Ok(PurgeOutcome::Purged(report))
}

/// Purges every installation due at `now` (deleted at least `grace` ago, or asked for); a
/// parameter so tests can move the clock.
pub async fn purge_due(
    pool: &PgPool,
    queues: &Queues,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<Vec<(InstallationId, PurgeOutcome)>, PurgeError> {
    let mut done = Vec::new();
    for id in org_data::due_for_purge(pool, now, grace, PER_RUN).await? {
        let outcome = purge_one(pool, queues, id).await?;
        done.push((id, outcome));
    }
    Ok(done)
}

/// A purge stopped; the next run starts again where the data still is.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}
