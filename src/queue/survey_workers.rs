//! Workers of the survey flow: `PullRequestMerged` jobs start surveys, click jobs record answers.
//! Transient failures (Slack rate limits and outages, database hiccups) return an error so
//! apalis-redis runs the job again; the survey steps are idempotent, so a rerun sends nothing twice.

use std::time::Duration;

use apalis::prelude::*;
use apalis_redis::RedisStorage;
use chrono::Utc;

use super::Queues;
use super::jobs::PullRequestMerged;
use crate::slack::interactions::Click;
use crate::survey::{SurveyContext, answer, start};

/// Consumes the merged-PR queue until `shutdown` resolves.
pub async fn run_merged(
    ctx: SurveyContext,
    queues: &Queues,
    name: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    let storage = RedisStorage::<PullRequestMerged>::new(queues.connection())
        .with_config(queues.merged_config().clone())
        .poll_with_interval(Duration::from_millis(50));
    WorkerBuilder::new(name)
        .backend(storage)
        .data(ctx)
        .concurrency(16)
        .build(handle_merged)
        .run_until(async move {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        })
        .await
}

async fn handle_merged(
    job: PullRequestMerged,
    ctx: Data<SurveyContext>,
) -> Result<(), BoxDynError> {
    let ctx = (*ctx).clone();
    tokio::spawn(async move {
        match start::on_merged(&ctx, &job, Utc::now()).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_transient() => Err(BoxDynError::from(e.to_string())),
            Err(e) => {
                tracing::warn!(pull_request = job.pull_request_id, error = %e, "survey start failed permanently");
                Ok(())
            }
        }
    })
    .await?
}

/// Consumes the click queue until `shutdown` resolves.
pub async fn run_clicks(
    ctx: SurveyContext,
    queues: &Queues,
    name: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    let storage = RedisStorage::<Click>::new(queues.connection())
        .with_config(queues.clicks_config().clone())
        .poll_with_interval(Duration::from_millis(50));
    WorkerBuilder::new(name)
        .backend(storage)
        .data(ctx)
        .concurrency(16)
        .build(handle_click)
        .run_until(async move {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        })
        .await
}

async fn handle_click(click: Click, ctx: Data<SurveyContext>) -> Result<(), BoxDynError> {
    let ctx = (*ctx).clone();
    tokio::spawn(async move {
        match answer::on_click(&ctx, &click).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_transient() => Err(BoxDynError::from(e.to_string())),
            Err(e) => {
                tracing::warn!(survey = click.survey_id, error = %e, "click failed permanently");
                Ok(())
            }
        }
    })
    .await?
}
