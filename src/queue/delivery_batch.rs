//! Groups the delivery enqueues of concurrent webhook requests into one Redis script call.
//!
//! Why: at a few thousand deliveries a second, one `EVALSHA` per delivery cost Redis about
//! 85 µs of CPU each (script call, argument and reply handling, a syscall or two), half a core
//! on the 2-core benchmark machine (BENCHMARKS.md, issue 14). apalis-redis's `push_tasks` takes
//! many tasks in one call; this module feeds it every delivery that arrived while the previous
//! call was in flight.
//!
//! Durability is unchanged: a caller is answered only once Redis has acknowledged the script
//! that holds its job (and an error or a timeout answers every caller of that call with the
//! error: none is told "accepted" unless its job is in Redis). No caller waits for others to
//! arrive: a lone request goes out at once, as a batch of one.
//!
//! New or duplicate: the script reports only how many of the call's jobs it queued. When that
//! is all of them or none, every caller's answer follows. Otherwise a pipelined `HEXISTS` of
//! each job's (fresh, unique) id in the job-data hash tells: the script writes a job's data
//! exactly when it claims its delivery id. A job cannot be fetched, finished and vacuumed in
//! the microseconds between the script and that check (new jobs wait in the scheduled set for
//! the next promotion), and if it ever were, the caller would answer 200 instead of 202: both
//! tell GitHub the delivery is accepted.

use std::sync::Arc;
use std::time::Duration;

use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::task_id::TaskId;
use apalis_redis::{Config as QueueConfig, ConnectionManager, RedisTask};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{Enqueued, QueueError};

/// Most deliveries in one script call (its arguments hold each job, ~6 KB for a 24 KB body).
const MAX_BATCH: usize = 64;
/// Script calls in flight at once: enough to keep Redis busy while answers travel back.
const IN_FLIGHT: usize = 4;

struct Pending {
    task: RedisTask,
    task_id: String,
    answer: oneshot::Sender<Result<Enqueued, Arc<QueueError>>>,
}

/// The sending side; cheap to clone. The grouping task ends when the last clone is dropped.
#[derive(Clone)]
pub struct DeliveryBatcher {
    tx: mpsc::Sender<Pending>,
}

impl DeliveryBatcher {
    /// Starts the grouping task on the current runtime.
    pub fn start(conn: ConnectionManager, config: QueueConfig, timeout: Duration) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(group(rx, conn, config, timeout));
        Self { tx }
    }

    /// Queues `job` (serialized) under `idempotency_key`; answers once Redis holds it or has
    /// refused it.
    pub async fn push(
        &self,
        job: Vec<u8>,
        idempotency_key: &str,
        timeout: Duration,
    ) -> Result<Enqueued, QueueError> {
        // A ULID, as apalis would have made it (the admin overview reads job ages from them).
        let task_id = ulid::Ulid::new().to_string();
        let task = TaskBuilder::new(job)
            .task_id(TaskId::from_string(task_id.clone()))
            .idempotency_key(idempotency_key)
            .build();
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            task,
            task_id,
            answer,
        };
        let sent = tokio::time::timeout(timeout, async {
            self.tx
                .send(pending)
                .await
                .map_err(|_| QueueError::Closed)?;
            answered.await.map_err(|_| QueueError::Closed)
        })
        .await
        .map_err(|_| QueueError::Timeout(timeout))??;
        sent.map_err(QueueError::Shared)
    }
}

async fn group(
    mut rx: mpsc::Receiver<Pending>,
    conn: ConnectionManager,
    config: QueueConfig,
    timeout: Duration,
) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let config = Arc::new(config);
    while let Some(first) = rx.recv().await {
        // Waiting for a slot lets the next batch fill up with what arrives meanwhile.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let (conn, config) = (conn.clone(), config.clone());
        tokio::spawn(async move {
            push_batch(conn, &config, batch, timeout).await;
            drop(slot);
        });
    }
}

async fn push_batch(
    mut conn: ConnectionManager,
    config: &QueueConfig,
    batch: Vec<Pending>,
    timeout: Duration,
) {
    let (tasks, rest): (Vec<RedisTask>, Vec<_>) = batch
        .into_iter()
        .map(|p| (p.task, (p.task_id, p.answer)))
        .unzip();
    let outcome = tokio::time::timeout(timeout, async {
        let (queued, scheduled) =
            apalis_redis::queries::push_tasks(&mut conn, config, &tasks).await?;
        let new = (queued + scheduled) as usize;
        if new == tasks.len() {
            return Ok(vec![Enqueued::New; new]);
        }
        if new == 0 {
            return Ok(vec![Enqueued::Duplicate; tasks.len()]);
        }
        let mut pipe = redis::pipe();
        for (task_id, _) in &rest {
            pipe.cmd("HEXISTS").arg(config.job_data_hash()).arg(task_id);
        }
        let exists: Vec<bool> = pipe.query_async(&mut conn).await?;
        Ok::<_, QueueError>(
            exists
                .into_iter()
                .map(|e| {
                    if e {
                        Enqueued::New
                    } else {
                        Enqueued::Duplicate
                    }
                })
                .collect(),
        )
    })
    .await
    .unwrap_or(Err(QueueError::Timeout(timeout)));
    match outcome {
        Ok(each) => {
            for ((_, answer), enqueued) in rest.into_iter().zip(each) {
                let _ = answer.send(Ok(enqueued));
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for (_, answer) in rest {
                let _ = answer.send(Err(e.clone()));
            }
        }
    }
}
