//! Catch-up as scheduled work: the scheduler loop of `serve`, and the one call every trigger
//! (scheduler, the admin page's "Sync now", `mergecast sync`) goes through, so merges a sync finds
//! are handed to the survey queue right after it (the outbox relay) whoever started it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{Queues, maintenance};
use crate::ids::InstallationId;
use crate::lock::{Budget, Spend};
use crate::store;
use crate::sync::redelivery::{self, RedeliveryReport};
use crate::sync::{SyncError, SyncOutcome, Syncer};

/// How often an operator may start a sync of one installation ("Sync now").
pub const SYNC_NOW_COOLDOWN: Duration = Duration::from_secs(5 * 60);

/// The Redis key of an installation's "Sync now" cooldown.
pub fn sync_now_key(prefix: &str, id: InstallationId) -> String {
    format!("{prefix}:admin:sync-now:{}", id.0)
}

/// What an operator's "Sync now" did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncNow {
    /// A sync runs in the background.
    Started,
    /// A sync of this installation runs already (its catch-up lock is held); nothing started.
    Running,
    /// One was started within [`SYNC_NOW_COOLDOWN`]; the next may start after this wait.
    Cooldown(Duration),
}

/// A syncer plus the queue its merges go to.
#[derive(Clone, Debug)]
pub struct CatchUp {
    pub syncer: Syncer,
    pub queues: Queues,
}

impl CatchUp {
    /// Syncs one installation, then relays the merges it recorded to the survey queue.
    pub async fn sync_installation(&self, id: InstallationId) -> Result<SyncOutcome, SyncError> {
        let outcome = self.syncer.sync_installation(id).await;
        maintenance::relay_merged(&self.syncer.pool, &self.queues, 500).await;
        outcome
    }

    /// An operator's "Sync now": starts a sync of `id` in the background unless one was started
    /// within [`SYNC_NOW_COOLDOWN`] (a Redis budget, so it holds across processes) or one runs
    /// (its catch-up lock is held; that costs no cooldown). A sync spends the installation's
    /// rate limit and the app's.
    pub async fn sync_now(&self, id: InstallationId) -> Result<SyncNow, redis::RedisError> {
        let mut conn = self.syncer.redis.clone();
        let cooldown = Budget::new(sync_now_key(&self.syncer.prefix, id), 1, SYNC_NOW_COOLDOWN);
        if let Some(wait) = cooldown.wait(&mut conn).await? {
            return Ok(SyncNow::Cooldown(wait));
        }
        if self.syncer.is_running(id).await? {
            return Ok(SyncNow::Running);
        }
        if let Spend::Wait(wait) = Budget::spend_all(&mut conn, &[cooldown]).await? {
            return Ok(SyncNow::Cooldown(wait));
        }
        let this = self.clone();
        tokio::spawn(async move {
            match this.sync_installation(id).await {
                Ok(outcome) => tracing::info!(installation = id.0, ?outcome, "admin: sync now"),
                Err(e) => tracing::warn!(installation = id.0, error = %e, "admin: sync now failed"),
            }
        });
        Ok(SyncNow::Started)
    }

    /// Lists the app's installations; returns the active ones.
    pub async fn discover_installations(&self) -> Result<Vec<InstallationId>, SyncError> {
        self.syncer.discover_installations().await
    }

    /// Asks GitHub to redeliver deliveries that failed and were never applied.
    pub async fn redeliver_failed(&self) -> Result<RedeliveryReport, SyncError> {
        redelivery::redeliver_failed(&self.syncer.client, &self.syncer.pool).await
    }
}

/// The catch-up scheduler: every `interval`, list installations and redeliver failed deliveries;
/// sync each installation when due (a paused one as soon as its rate-limit window resets), at
/// most four at once.
pub async fn run_scheduler(
    catch_up: CatchUp,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    let mut next_cycle = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        if tokio::time::Instant::now() >= next_cycle {
            next_cycle = tokio::time::Instant::now() + interval;
            if let Err(e) = catch_up.discover_installations().await {
                tracing::warn!(error = %e, "listing installations failed");
            }
            if let Err(e) = catch_up.redeliver_failed().await {
                tracing::warn!(error = %e, "checking failed deliveries failed");
            }
        }
        let due = match store::sync::due_installations(&catch_up.syncer.pool, interval).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read installations");
                continue;
            }
        };
        let limit = Arc::new(tokio::sync::Semaphore::new(4));
        let mut runs = JoinSet::new();
        for id in due {
            let (catch_up, limit) = (catch_up.clone(), limit.clone());
            runs.spawn(async move {
                let _permit = limit.acquire_owned().await;
                match catch_up.sync_installation(id).await {
                    Ok(outcome) => tracing::info!(installation = id.0, ?outcome, "catch-up sync"),
                    Err(e) => {
                        tracing::warn!(installation = id.0, error = %e, "catch-up sync failed")
                    }
                }
            });
        }
        while runs.join_next().await.is_some() {}
    }
}
