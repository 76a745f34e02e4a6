//! The worker that applies queued deliveries to Postgres.
//!
//! Each delivery is applied in one transaction that first claims its delivery-log row (locking
//! it), so a redelivered, retried or orphaned-and-rerun job finds it processed and does nothing.
//! Failures are retried by scheduling a fresh job with exponential backoff (apalis-redis would
//! otherwise retry 25 times a second apart); after `DELIVERY_MAX_ATTEMPTS` the delivery is dead:
//! kept with its body for `mergecast deliveries replay`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use apalis::prelude::*;
use apalis_redis::RedisStorage;
use sqlx::PgPool;
use thiserror::Error;

use super::jobs::DeliveryJob;
use super::{QueueError, Queues, maintenance, org_data};
use crate::apply::{self, DeliveryContext, Outcome};
use crate::github::events::Event;
use crate::ids::InstallationId;
use crate::metrics::Metrics;
use crate::store::deliveries::{self, Claim, Status};
use crate::store::org_data::{self as store_org, Gate};

/// What the worker needs; cloned into every job.
#[derive(Clone)]
pub struct WorkerState {
    pub pool: PgPool,
    pub queues: Queues,
    pub metrics: Arc<Metrics>,
    pub max_attempts: u32,
    pub retry_base: Duration,
}

/// A delivery could be neither applied nor rescheduled; apalis keeps the job and runs it again.
#[derive(Debug, Error)]
pub enum ProcessError {
    #[error("could not reschedule after failure: {0}")]
    Reschedule(#[from] QueueError),
}

/// How one run of a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunResult {
    Applied(Outcome),
    AlreadyDone,
    Retrying { failures: u32 },
    Dead,
}

/// Runs the delivery worker until `shutdown` resolves; jobs in flight finish first.
pub async fn run(
    state: WorkerState,
    worker_name: String,
    concurrency: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    let storage = RedisStorage::<DeliveryJob>::new(state.queues.connection())
        .with_config(state.queues.deliveries_config().clone())
        .poll_with_interval(Duration::from_millis(50));
    let worker = WorkerBuilder::new(worker_name)
        .backend(storage)
        .data(state)
        .concurrency(concurrency)
        .build(handle);
    worker
        .run_until(async move {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        })
        .await
}

async fn handle(job: DeliveryJob, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    // apalis drives a worker's jobs on one task; spawning spreads the parsing over every core.
    let state = (*state).clone();
    tokio::spawn(async move { process(&state, job).await }).await??;
    Ok(())
}

/// Applies one delivery job: the whole worker logic, callable without a queue.
pub async fn process(state: &WorkerState, job: DeliveryJob) -> Result<RunResult, ProcessError> {
    let started = Instant::now();
    let result = match Event::parse(&job.event, job.body.as_bytes()) {
        Ok(event) => match apply_in_transaction(&state.pool, &job, &event).await {
            Ok(Some(outcome)) => {
                if let Event::PullRequest(e) = &event
                    && e.pull_request.is_merged()
                {
                    maintenance::relay_one(&state.pool, &state.queues, e.pull_request.id).await;
                }
                // Suspended or deleted: its cached installation tokens go at once.
                if let Event::Installation(e) = &event
                    && matches!(e.action.as_str(), "suspend" | "deleted")
                {
                    let id = InstallationId(e.installation.id);
                    if let Err(err) = org_data::forget_redis(&state.queues, id).await {
                        tracing::warn!(installation = id.0, error = %err, "could not drop the installation's Redis keys");
                    }
                }
                RunResult::Applied(outcome)
            }
            Ok(None) => RunResult::AlreadyDone,
            Err(err) => fail(state, job.clone(), &format!("database: {err}"), false).await?,
        },
        // A body that cannot be read as its event will not improve on retry: dead at once.
        Err(err) => fail(state, job.clone(), &err.to_string(), true).await?,
    };
    let outcome = match &result {
        RunResult::Applied(Outcome::Applied) => "processed",
        RunResult::Applied(Outcome::Ignored(_)) => "ignored",
        RunResult::AlreadyDone => "duplicate",
        RunResult::Retrying { .. } => "failed",
        RunResult::Dead => "dead",
    };
    state
        .metrics
        .delivery_processed(&job.event, outcome, job.received_at, started.elapsed());
    Ok(result)
}

/// Applies the event and marks the delivery done in one transaction.
/// `Ok(None)` when an earlier run already finished it.
async fn apply_in_transaction(
    pool: &PgPool,
    job: &DeliveryJob,
    event: &Event,
) -> Result<Option<Outcome>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let claim = deliveries::claim(&mut *tx, job.as_new_delivery()).await?;
    if let Claim::Existing(status) = claim
        && status.is_final_success()
    {
        tx.commit().await?;
        return Ok(None);
    }
    // A deleted installation's deliveries are not applied (all work for it stopped); once its
    // purge has started, not even logged (the purge would have to find it again).
    if let Some(installation) = job.installation_id {
        store_org::hold_gate(&mut *tx, installation).await?;
        if let Gate::Deleted { purging } = store_org::gate(&mut *tx, installation).await? {
            let reason = format!("installation {installation} was deleted: not applied");
            if purging {
                store_org::forget_delivery(&mut *tx, &job.delivery_id).await?;
            } else {
                end_run(
                    &mut tx,
                    claim,
                    &job.delivery_id,
                    Status::Ignored,
                    Some(&reason),
                )
                .await?;
            }
            tx.commit().await?;
            return Ok(Some(Outcome::Ignored(reason)));
        }
    }
    let ctx = DeliveryContext {
        received_at: job.received_at,
    };
    let outcome = apply::apply(&mut tx, event, ctx).await?;
    let (status, note) = match &outcome {
        Outcome::Applied => (Status::Processed, None),
        Outcome::Ignored(reason) => (Status::Ignored, Some(reason.as_str())),
    };
    end_run(&mut tx, claim, &job.delivery_id, status, note).await?;
    tx.commit().await?;
    Ok(Some(outcome))
}

/// Writes how the run ended onto its claimed row; nothing for a row inserted as processed
/// that was processed.
async fn end_run(
    tx: &mut sqlx::PgConnection,
    claim: Claim,
    id: &str,
    status: Status,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    if claim == Claim::Inserted && status == Status::Processed {
        return Ok(());
    }
    deliveries::finish(tx, id, claim, status, note).await
}

async fn fail(
    state: &WorkerState,
    mut job: DeliveryJob,
    error: &str,
    permanent: bool,
) -> Result<RunResult, ProcessError> {
    let failures = job.failures + 1;
    let dead = permanent || failures >= state.max_attempts;
    let recorded =
        deliveries::record_failure(&state.pool, job.as_new_delivery(), error, dead).await;
    tracing::warn!(delivery = %job.delivery_id, event = %job.event, failures, dead, %error, "delivery failed");
    // Let GitHub's own redelivery of this id be queued again.
    if let Err(e) = state.queues.release_delivery(&job.delivery_id).await {
        tracing::warn!(delivery = %job.delivery_id, error = %e, "could not release delivery key");
    }
    if dead && recorded.is_ok() {
        return Ok(RunResult::Dead);
    }
    // Not dead yet, or dead but Postgres could not record it: never drop it silently.
    job.failures = failures;
    let delay = backoff(state.retry_base, failures);
    state.queues.retry_delivery_later(&job, delay).await?;
    Ok(RunResult::Retrying { failures })
}

/// Exponential backoff: base, 2×base, 4×base … capped at five minutes.
pub fn backoff(base: Duration, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    base.saturating_mul(factor).min(Duration::from_secs(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Duration::from_secs(2);
        assert_eq!(backoff(b, 1), Duration::from_secs(2));
        assert_eq!(backoff(b, 3), Duration::from_secs(8));
        assert_eq!(backoff(b, 30), Duration::from_secs(300));
    }
}
