//! The periodic part of the flow: asks that waited for working hours, one reminder, expiry
//! with a partial reveal, and the weekly leaderboard.

use chrono::{DateTime, Utc};

use super::answer::reveal_if_ready;
use super::send::{Once, send_once};
use super::{ClientCache, SurveyContext, SurveyError, leaderboard, pr_ref, start};
use crate::slack::client::Content;
use crate::slack::messages;
use crate::store::{installations, surveys};

/// At most this many surveys (or participants) per step and tick, taken round-robin across
/// installations (each org's oldest first), so one org's backlog never starves the others.
const BATCH: i64 = 500;
/// How long after `closes_at` a closing reveal that keeps failing transiently is retried.
const CLOSING_GRACE: chrono::Duration = chrono::Duration::hours(1);

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    pub advanced: u32,
    pub reminded: u32,
    pub closed: u32,
}

/// Runs every periodic step at time `now` (a parameter so tests can move time).
pub async fn tick(ctx: &SurveyContext, now: DateTime<Utc>) -> Result<TickReport, SurveyError> {
    let mut report = TickReport::default();
    if ctx.slack.is_none() {
        return Ok(report);
    }
    let mut clients = ClientCache::new(ctx);

    // Reviews applied after the merge: their reviewers join the survey (asked just below).
    for id in surveys::with_reviewers_missing(&ctx.pool, BATCH).await? {
        if let Some(survey) = surveys::get(&ctx.pool, id).await?
            && let Err(e) = start::add_participants(ctx, &survey).await
        {
            tracing::warn!(survey = id, error = %e, "survey: adding late reviewers failed");
        }
    }

    // Asks that are due (working hours reached, Slack now configured, or a failed try).
    let pending = surveys::due_for_asking(&ctx.pool, now, BATCH).await?;
    for id in pending {
        if let Err(e) = start::advance(ctx, id, now).await {
            tracing::warn!(survey = id, error = %e, "survey: asking failed; will retry");
        }
        report.advanced += 1;
    }

    // One reminder to whoever has not answered after their org's reminder delay (set per
    // person at their ask; `remind_before` only serves rows asked before that existed).
    let remind_before =
        now - chrono::Duration::from_std(ctx.config.remind_after).unwrap_or_default();
    let due = surveys::due_for_reminder(&ctx.pool, now, remind_before, BATCH).await?;
    for (survey_id, github_id) in due {
        let Some(survey) = surveys::get(&ctx.pool, survey_id).await? else {
            continue;
        };
        let Some(p) = surveys::participants(&ctx.pool, survey_id)
            .await?
            .into_iter()
            .find(|p| p.github_id == github_id)
        else {
            continue;
        };
        let (Some(channel), Some(ts)) = (&p.dm_channel, &p.message_ts) else {
            continue;
        };
        let Some(slack) = clients.get(survey.installation_id).await? else {
            continue; // its workspace is disconnected: the reminder waits
        };
        let text = format!(
            "Reminder: {} #{} is waiting for your answer (above). It closes <!date^{}^{{date_short_pretty}} {{time}}|soon>.",
            survey.repository_full_name,
            survey.number,
            survey.closes_at.timestamp()
        );
        let sent = super::with_rate_limit_retries(|| {
            send_once(
                ctx,
                &slack,
                Once {
                    key: format!("remind:{survey_id}:{github_id}"),
                    survey_id: Some(survey_id),
                    github_id: Some(github_id),
                    kind: "remind",
                    channel,
                    content: Content {
                        text: text.clone(),
                        blocks: Vec::new(),
                    },
                    thread_ts: Some(ts),
                },
            )
        })
        .await;
        match sent {
            Ok(_) => {
                surveys::mark_reminded(&ctx.pool, survey_id, github_id).await?;
                report.reminded += 1;
            }
            Err(e) => {
                tracing::warn!(survey = survey_id, error = %e, "survey: reminder failed; will retry")
            }
        }
    }

    // Expiry: close, reveal to whoever answered, and take the buttons off unanswered DMs.
    let expired = surveys::expired(&ctx.pool, now, BATCH).await?;
    for id in expired {
        let Some(survey) = surveys::get(&ctx.pool, id).await? else {
            continue;
        };
        if !installations::is_active(&ctx.pool, survey.installation_id).await? {
            // A deleted org's survey closes without a word to anyone (a suspended org's are not
            // listed as expired: they wait for `unsuspend`).
            report.closed += u32::from(surveys::close(&ctx.pool, id).await?);
            continue;
        }
        let Some(slack) = clients.get(survey.installation_id).await? else {
            continue; // its workspace is disconnected: the closing reveal waits for it
        };
        if let Err(e) =
            super::with_rate_limit_retries(|| reveal_if_ready(ctx, &slack, &survey, true)).await
        {
            // Transient trouble is retried for a while; after that the survey closes anyway
            // rather than take answers forever (permanent refusals never get here: they pass
            // that one person over).
            if now < survey.closes_at + CLOSING_GRACE {
                tracing::warn!(survey = id, error = %e, "survey: closing reveal failed; will retry");
                continue;
            }
            tracing::warn!(survey = id, error = %e, "survey: closing without every reveal sent");
        }
        for p in surveys::participants(&ctx.pool, id).await? {
            if p.answer.is_some() {
                continue;
            }
            if let (Some(channel), Some(ts)) = (&p.dm_channel, &p.message_ts) {
                let content = messages::notice(&pr_ref(&survey), "This survey has closed.");
                let _ = slack.update(channel, ts, content).await;
            }
        }
        report.closed += u32::from(surveys::close(&ctx.pool, id).await?);
    }

    // Each org's board goes to its own channel from its own day (its settings).
    if let Err(e) = leaderboard::post_weekly(ctx, &mut clients, now).await {
        tracing::warn!(error = %e, "leaderboard failed; will retry");
    }
    Ok(report)
}
