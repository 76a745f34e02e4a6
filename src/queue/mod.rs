//! The Redis queues (apalis-redis). This module is the only one that knows apalis: the web layer
//! calls `Queues::enqueue_delivery`, workers are started with `delivery_worker::run`.
//!
//! Dedupe on the request path is apalis's idempotency key (the delivery id), claimed in the same
//! Lua script that enqueues, so "accepted" and "durably queued" can never disagree. A delivery's
//! key lives for `WEBHOOK_DEDUPE_WINDOW_SECS` (an hour by default: about 240 bytes per delivery,
//! 216 MB at a sustained 250 deliveries/s); a duplicate arriving later is queued again and the
//! worker finds it already applied in the delivery log. A delivery whose processing failed has
//! its key released so that a GitHub redelivery is queued again.

pub mod catch_up;
pub mod delivery_batch;
pub mod delivery_worker;
pub mod jobs;
pub mod maintenance;
pub mod org_data;
pub mod purge;
pub mod requeue;
pub mod survey_workers;

use std::time::Duration;

use apalis_core::task::builder::TaskBuilder;
use apalis_redis::{Config as QueueConfig, ConnectionManager, RedisTask};
use redis::aio::ConnectionManagerConfig;
use thiserror::Error;

use delivery_batch::DeliveryBatcher;
use jobs::{DeliveryJob, PullRequestMerged};

/// Redis was unreachable, slow, or refused the write: the caller must not acknowledge.
#[derive(Debug, Error)]
pub enum QueueError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("queue: {0}")]
    Backend(#[from] apalis_redis::Error),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("job encoding: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the enqueue task has stopped")]
    Closed,
    /// The error of a grouped enqueue, shared by every delivery of the group.
    #[error("{0}")]
    Shared(std::sync::Arc<QueueError>),
}

/// Whether a push created a job or found the delivery already accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    New,
    Duplicate,
}

/// Handles to every queue Mergecast uses, sharing one multiplexed Redis connection.
#[derive(Clone)]
pub struct Queues {
    conn: ConnectionManager,
    deliveries: QueueConfig,
    merged: QueueConfig,
    clicks: QueueConfig,
    timeout: Duration,
    /// Prefix of every Redis key of this deployment (`QUEUE_PREFIX`).
    prefix: String,
    /// Groups concurrent delivery enqueues into one script call (see `delivery_batch`).
    batcher: DeliveryBatcher,
}

impl std::fmt::Debug for Queues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queues")
            .field("deliveries", &self.deliveries.queue)
            .finish()
    }
}

/// How long jobs have been waiting (the admin overview).
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueAge {
    /// When the oldest ready job was queued.
    pub oldest_ready: Option<chrono::DateTime<chrono::Utc>>,
    /// When the earliest scheduled job (new ones enter here too) is due.
    pub next_scheduled: Option<chrono::DateTime<chrono::Utc>>,
}

/// Queue depth as shown on `/metrics` and the admin page.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueDepth {
    pub ready: u64,
    pub scheduled: u64,
}

impl Queues {
    /// Connects and names the queues under `prefix` (tests use a unique prefix each).
    pub async fn connect(
        redis_url: &str,
        prefix: &str,
        heartbeat: Duration,
        retention: Duration,
        dedupe_window: Duration,
        timeout: Duration,
    ) -> Result<Self, QueueError> {
        let client = redis::Client::open(redis_url)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = tokio::time::timeout(
            timeout,
            ConnectionManager::new_with_config(client, manager_config),
        )
        .await
        .map_err(|_| QueueError::Timeout(timeout))??;
        let base = QueueConfig::default()
            .heartbeat_interval(heartbeat)
            .missed_heartbeats(3)
            .batch_size(32)
            .emit_events(false)
            // Jobs take milliseconds: leases add nothing over the per-worker inflight set and
            // heartbeat re-enqueue, and their `LREM` per fetched job scans the whole backlog.
            .lock_tasks(false)
            .idempotency_ttl(Some(retention));
        // Deliveries are many: their ids are remembered for the dedupe window only (the
        // delivery log dedupes for good). Merges and clicks are few and keep the retention.
        let deliveries = base
            .clone()
            .idempotency_ttl(Some(dedupe_window))
            .queue(format!("{prefix}:deliveries"));
        Ok(Self {
            batcher: DeliveryBatcher::start(conn.clone(), deliveries.clone(), timeout),
            conn,
            deliveries,
            merged: base.clone().queue(format!("{prefix}:pull_request_merged")),
            clicks: base.queue(format!("{prefix}:slack_clicks")),
            timeout,
            prefix: prefix.to_owned(),
        })
    }

    /// Prefix of every Redis key of this deployment.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn deliveries_config(&self) -> &QueueConfig {
        &self.deliveries
    }

    pub fn merged_config(&self) -> &QueueConfig {
        &self.merged
    }

    pub fn clicks_config(&self) -> &QueueConfig {
        &self.clicks
    }

    /// Queues a Slack button click for the answer worker (Slack retries share the click id).
    pub async fn enqueue_click(
        &self,
        click: &crate::slack::interactions::Click,
    ) -> Result<Enqueued, QueueError> {
        let task = TaskBuilder::new(serde_json::to_vec(click)?)
            .idempotency_key(format!("click:{}", click.id))
            .build();
        self.push(&self.clicks, task).await
    }

    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    async fn push(&self, config: &QueueConfig, task: RedisTask) -> Result<Enqueued, QueueError> {
        let mut conn = self.conn.clone();
        let pushed = tokio::time::timeout(
            self.timeout,
            apalis_redis::queries::push_tasks(&mut conn, config, &[task]),
        )
        .await
        .map_err(|_| QueueError::Timeout(self.timeout))??;
        Ok(if pushed.0 + pushed.1 > 0 {
            Enqueued::New
        } else {
            Enqueued::Duplicate
        })
    }

    fn idempotency_key(config: &QueueConfig, key: &str) -> String {
        format!("{}:{}", config.idempotency_key_set(), key)
    }

    /// Durably queues a delivery unless its id was already accepted (and not since released).
    /// Concurrent calls share one Redis script call (`delivery_batch`); each returns once Redis
    /// holds its job.
    pub async fn enqueue_delivery(&self, job: &DeliveryJob) -> Result<Enqueued, QueueError> {
        self.batcher
            .push(job.encode()?, &job.delivery_id, self.timeout)
            .await
    }

    /// Forgets that a delivery id was accepted, so GitHub's next redelivery is queued again.
    pub async fn release_delivery(&self, delivery_id: &str) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let key = Self::idempotency_key(&self.deliveries, delivery_id);
        tokio::time::timeout(
            self.timeout,
            redis::cmd("DEL").arg(key).query_async::<()>(&mut conn),
        )
        .await
        .map_err(|_| QueueError::Timeout(self.timeout))??;
        Ok(())
    }

    /// Queues a delivery again whatever its history (operator replay).
    pub async fn requeue_delivery(&self, job: &DeliveryJob) -> Result<(), QueueError> {
        self.release_delivery(&job.delivery_id).await?;
        self.enqueue_delivery(job).await?;
        Ok(())
    }

    /// Schedules another attempt of a failed delivery after `delay`.
    pub async fn retry_delivery_later(
        &self,
        job: &DeliveryJob,
        delay: Duration,
    ) -> Result<(), QueueError> {
        let task = TaskBuilder::new(job.encode()?).run_after(delay).build();
        self.push(&self.deliveries, task).await?;
        Ok(())
    }

    /// Queues the survey trigger for a merged PR; the idempotency key keeps it once-only even
    /// when the outbox relay runs twice.
    pub async fn enqueue_merged(&self, job: &PullRequestMerged) -> Result<Enqueued, QueueError> {
        let task = TaskBuilder::new(serde_json::to_vec(job)?)
            .idempotency_key(format!("pr:{}", job.pull_request_id))
            .build();
        let pushed = self.push(&self.merged, task).await?;
        if pushed == Enqueued::New {
            // A running total across processes: proves "once per PR" even after workers consumed it.
            let mut conn = self.conn.clone();
            let _: Result<i64, _> = redis::cmd("INCR")
                .arg(self.merged_counter_key())
                .query_async(&mut conn)
                .await;
        }
        Ok(pushed)
    }

    fn merged_counter_key(&self) -> String {
        format!("{}:emitted_total", self.merged.queue.as_ref())
    }

    /// How many `PullRequestMerged` jobs were ever emitted under this prefix.
    pub async fn merged_emitted(&self) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        let n: Option<u64> = redis::cmd("GET")
            .arg(self.merged_counter_key())
            .query_async(&mut conn)
            .await?;
        Ok(n.unwrap_or(0))
    }

    /// Round-trips to Redis (readiness).
    pub async fn ping(&self) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        tokio::time::timeout(
            self.timeout,
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await
        .map_err(|_| QueueError::Timeout(self.timeout))??;
        Ok(())
    }

    /// Jobs waiting in the delivery queue (ready now, and scheduled for later).
    pub async fn delivery_depth(&self) -> Result<QueueDepth, QueueError> {
        self.depth(&self.deliveries).await
    }

    /// Jobs waiting in the merged-PR queue.
    pub async fn merged_depth(&self) -> Result<QueueDepth, QueueError> {
        self.depth(&self.merged).await
    }

    /// When the oldest ready delivery job was queued (job ids are ULIDs, which carry their
    /// creation time) and when the earliest scheduled one is due; for the admin overview.
    pub async fn delivery_age(&self) -> Result<QueueAge, QueueError> {
        let mut conn = self.conn.clone();
        let (oldest, due): (Option<String>, Vec<(String, f64)>) = tokio::time::timeout(
            self.timeout,
            redis::pipe()
                .cmd("LINDEX")
                .arg(self.deliveries.active_jobs_list())
                .arg(0)
                .cmd("ZRANGE")
                .arg(self.deliveries.scheduled_jobs_set())
                .arg(0)
                .arg(0)
                .arg("WITHSCORES")
                .query_async(&mut conn),
        )
        .await
        .map_err(|_| QueueError::Timeout(self.timeout))??;
        Ok(QueueAge {
            oldest_ready: oldest
                .and_then(|id| ulid::Ulid::from_string(&id).ok())
                .and_then(|u| chrono::DateTime::from_timestamp_millis(u.timestamp_ms() as i64)),
            next_scheduled: due
                .first()
                .and_then(|(_, score)| chrono::DateTime::from_timestamp(*score as i64, 0)),
        })
    }

    async fn depth(&self, config: &QueueConfig) -> Result<QueueDepth, QueueError> {
        let mut conn = self.conn.clone();
        let now = chrono::Utc::now().timestamp();
        // New jobs wait in the scheduled set until promoted: count the due ones as ready.
        let (active, due, later): (u64, u64, u64) = tokio::time::timeout(
            self.timeout,
            redis::pipe()
                .cmd("LLEN")
                .arg(config.active_jobs_list())
                .cmd("ZCOUNT")
                .arg(config.scheduled_jobs_set())
                .arg("-inf")
                .arg(now)
                .cmd("ZCOUNT")
                .arg(config.scheduled_jobs_set())
                .arg(format!("({now}"))
                .arg("+inf")
                .query_async(&mut conn),
        )
        .await
        .map_err(|_| QueueError::Timeout(self.timeout))??;
        Ok(QueueDepth {
            ready: active + due,
            scheduled: later,
        })
    }
}
