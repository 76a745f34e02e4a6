//! Periodic upkeep run by worker processes: relaying recorded merges to the survey queue,
//! dropping finished jobs from Redis, pruning delivery bodies past retention, and purging the
//! data of installations deleted longer ago than the grace period (`org_data`).

use std::sync::LazyLock;
use std::time::Duration;

use chrono::Utc;
use redis::Script;
use sqlx::PgPool;

use super::{Queues, org_data};
use crate::store::{deliveries, merged};

/// Pushes recorded-but-unqueued merges to the survey queue and marks them queued.
/// Safe to run concurrently and repeatedly: the queue's idempotency key dedupes.
pub async fn relay_merged(pool: &PgPool, queues: &Queues, limit: i64) -> usize {
    let rows = match merged::pending(pool, limit).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "merged outbox: cannot read");
            return 0;
        }
    };
    let mut relayed = 0;
    for row in rows {
        if let Err(e) = queues.enqueue_merged(&row.job()).await {
            tracing::warn!(error = %e, "merged outbox: redis refused; will retry");
            break;
        }
        if merged::mark_enqueued(pool, row.pull_request_id)
            .await
            .is_ok()
        {
            relayed += 1;
        }
    }
    relayed
}

/// Relays one pull request's merge right after the transaction that recorded it (the fast path;
/// `relay_merged` sweeps up whatever a crash left behind).
pub async fn relay_one(pool: &PgPool, queues: &Queues, pull_request_id: i64) {
    let row = match merged::pending_one(pool, pull_request_id).await {
        Ok(Some(row)) => row,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "merged outbox: cannot read");
            return;
        }
    };
    match queues.enqueue_merged(&row.job()).await {
        Ok(_) => {
            if let Err(e) = merged::mark_enqueued(pool, pull_request_id).await {
                tracing::warn!(error = %e, "merged outbox: cannot mark; the sweep will");
            }
        }
        Err(e) => tracing::warn!(error = %e, "merged outbox: redis refused; the sweep will retry"),
    }
}

/// Moves due jobs from a queue's scheduled set to its ready list, a bounded batch per call.
/// apalis-redis 1.0 puts every new job in the scheduled set and its fetch script promotes all due
/// ids with one `unpack`, which Redis refuses beyond ~8,000 values: a backlog that large (after
/// downtime) would wedge every worker. Promoting in batches here keeps the fetch's share small.
static PROMOTE_DUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
        local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
        if #ids > 0 then
            redis.call('RPUSH', KEYS[2], unpack(ids))
            redis.call('ZREM', KEYS[1], unpack(ids))
        end
        return #ids
        "#,
    )
});

/// Promotes every due job of every queue, `batch` at a time; returns how many moved.
pub async fn promote_due(queues: &Queues, batch: usize) -> Result<usize, redis::RedisError> {
    let mut conn = queues.connection();
    let now = Utc::now().timestamp();
    let mut total = 0;
    for config in [
        queues.deliveries_config(),
        queues.merged_config(),
        queues.clicks_config(),
    ] {
        loop {
            let moved: usize = PROMOTE_DUE
                .key(config.scheduled_jobs_set())
                .key(config.active_jobs_list())
                .arg(now)
                .arg(batch)
                .invoke_async(&mut conn)
                .await?;
            total += moved;
            if moved < batch {
                break;
            }
        }
    }
    Ok(total)
}

/// Removes finished jobs' payloads from Redis (apalis-redis keeps them until vacuumed).
static VACUUM_DONE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
        local ids = redis.call('SPOP', KEYS[1], tonumber(ARGV[1]))
        for _, id in ipairs(ids) do
            redis.call('HDEL', KEYS[2], id)
            redis.call('DEL', KEYS[3] .. ':' .. id)
        end
        return #ids
        "#,
    )
});

/// Drops up to `batch` finished jobs of each queue; returns how many were dropped.
pub async fn vacuum_done(queues: &Queues, batch: usize) -> Result<usize, redis::RedisError> {
    let mut conn = queues.connection();
    let mut total = 0;
    for config in [
        queues.deliveries_config(),
        queues.merged_config(),
        queues.clicks_config(),
    ] {
        let n: usize = VACUUM_DONE
            .key(config.done_jobs_set())
            .key(config.job_data_hash())
            .key(config.job_meta_hash())
            .arg(batch)
            .invoke_async(&mut conn)
            .await?;
        total += n;
    }
    Ok(total)
}

/// Runs upkeep until `shutdown` resolves. `deletion_grace` is how long a deleted
/// installation's data is kept (`DELETION_GRACE_DAYS`).
pub async fn run(
    pool: PgPool,
    queues: Queues,
    retention: Duration,
    deletion_grace: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        n += 1;
        if let Err(e) = promote_due(&queues, 1000).await {
            tracing::warn!(error = %e, "promoting due jobs failed");
        }
        loop {
            match vacuum_done(&queues, 2000).await {
                Ok(dropped) if dropped >= 2000 => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "vacuum failed");
                    break;
                }
            }
        }
        if n.is_multiple_of(60) {
            relay_merged(&pool, &queues, 500).await;
        }
        // Every 15 s: deletion from the admin page should not wait long.
        if n % 60 == 2 {
            match org_data::purge_due(&pool, &queues, Utc::now(), deletion_grace).await {
                Ok(done) if !done.is_empty() => {
                    tracing::info!(?done, "purge of deleted installations")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "purge of deleted installations failed; will retry")
                }
            }
        }
        if n % 2400 == 1 {
            let cutoff = Utc::now() - chrono::Duration::from_std(retention).unwrap_or_default();
            match deliveries::prune_bodies(&pool, cutoff).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "pruned delivery bodies past retention"),
                Err(e) => tracing::warn!(error = %e, "prune failed"),
            }
        }
    }
}
