//! Sending a Slack message at most once per key, even across crashes and retries.
//!
//! The key is claimed in Postgres (committed) before the call. A claim found still "sending" or
//! "failed" on a later try is resolved by looking for the message itself (we post with metadata
//! carrying the key) before sending again, so a crash between Slack's answer and our record
//! never produces a second copy.

use chrono::{Duration, Utc};

use super::{SurveyContext, SurveyError};
use crate::slack::client::{Content, Posted, SlackClient};
use crate::store::surveys::{self, SendState};

/// A message to send once.
pub struct Once<'a> {
    pub key: String,
    pub survey_id: Option<i64>,
    pub github_id: Option<i64>,
    pub kind: &'a str,
    pub channel: &'a str,
    pub content: Content,
    pub thread_ts: Option<&'a str>,
}

/// Sends `msg` unless it was sent before. `Ok(None)` when it already was.
pub async fn send_once(
    ctx: &SurveyContext,
    slack: &SlackClient,
    msg: Once<'_>,
) -> Result<Option<Posted>, SurveyError> {
    let pool = &ctx.pool;
    let fresh = surveys::claim_message(
        pool,
        &msg.key,
        msg.survey_id,
        msg.github_id,
        msg.kind,
        msg.channel,
    )
    .await?;
    if !fresh {
        let Some(record) = surveys::message(pool, &msg.key).await? else {
            return Ok(None);
        };
        if record.state == SendState::Sent {
            return Ok(None);
        }
        // Another worker may be sending right now: only take over an attempt that is a minute old.
        let stale_before = Utc::now() - Duration::seconds(60);
        if record.state == SendState::Sending && record.created_at >= stale_before {
            return Err(SurveyError::Busy(msg.key));
        }
        if !surveys::reclaim_message(pool, &msg.key, stale_before).await? {
            return Err(SurveyError::Busy(msg.key));
        }
        if let Some(ts) = slack
            .find_posted(msg.channel, msg.thread_ts, &msg.key)
            .await?
        {
            surveys::message_sent(pool, &msg.key, msg.channel, &ts).await?;
            return Ok(None);
        }
    }
    match slack
        .post(msg.channel, msg.content, msg.thread_ts, &msg.key)
        .await
    {
        Ok(posted) => {
            surveys::message_sent(pool, &msg.key, &posted.channel, &posted.ts).await?;
            Ok(Some(posted))
        }
        Err(e) => {
            surveys::message_failed(pool, &msg.key, &e.code()).await?;
            Err(e.into())
        }
    }
}
