//! Re-queueing a logged delivery by id (`mergecast deliveries replay ID`, the admin page).

use sqlx::PgPool;
use thiserror::Error;

use super::jobs::DeliveryJob;
use super::{QueueError, Queues};
use crate::store::deliveries;

/// Why a logged delivery could not be queued again.
#[derive(Debug, Error)]
pub enum RequeueError {
    #[error("no delivery with id {0}")]
    NotFound(String),
    #[error("delivery {0} has no body any more (pruned after the retention period)")]
    BodyPruned(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Queues a logged delivery again with its original id, headers and body; returns the status
/// it had. The worker then applies it as if new (effects stay idempotent).
pub async fn requeue_logged(
    pool: &PgPool,
    queues: &Queues,
    id: &str,
) -> Result<String, RequeueError> {
    let stored = deliveries::get(pool, id)
        .await?
        .ok_or_else(|| RequeueError::NotFound(id.to_owned()))?;
    let body = stored
        .body
        .ok_or_else(|| RequeueError::BodyPruned(id.to_owned()))?;
    let job = DeliveryJob {
        delivery_id: stored.id,
        event: stored.event,
        action: stored.action,
        installation_id: stored.installation_id,
        hook_id: stored.hook_id,
        received_at: stored.received_at,
        headers: stored.headers,
        body,
        failures: 0,
    };
    deliveries::mark_requeued(pool, &job.delivery_id).await?;
    queues.requeue_delivery(&job).await?;
    Ok(stored.status)
}
