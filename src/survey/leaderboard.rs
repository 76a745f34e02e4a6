//! The weekly leaderboard, one per org: share of AI-assisted merged PRs, response rate, and
//! reviewers' guess accuracy (people with at least 3 guesses), by merge time. Aggregates need at
//! least 3 people behind them and a share of 0 % or 100 % is withheld (it would tell each
//! answer); a board waits until every survey of its week has closed; a week with nothing to
//! report posts nothing.

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc};

use super::send::{Once, send_once};
use super::{ClientCache, SurveyContext, SurveyError};
use crate::slack::client::{Content, SlackClient};
use crate::store::surveys;

/// Fewest people behind any aggregate we publish.
pub const MIN_PEOPLE: i64 = 3;

/// The figures of one week, `None` where too few people are behind them.
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    pub label: String,
    pub ai_share: Option<f64>,
    pub response_rate: Option<f64>,
    pub accuracy: Vec<(String, f64, i64)>,
}

/// Start (Monday 00:00 UTC) of the week before the one containing `now`.
pub fn previous_week_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let days = now.weekday().num_days_from_monday() as i64 + 7;
    (now - Duration::days(days))
        .date_naive()
        .and_time(NaiveTime::MIN)
        .and_utc()
}

/// Computes one installation's figures for pull requests merged in [start, start + 7 days)
/// (merge time, as the stats page counts; skipped surveys, e.g. bots' PRs, are not surveys).
pub async fn week(
    ctx: &SurveyContext,
    installation_id: i64,
    start: DateTime<Utc>,
) -> Result<Week, SurveyError> {
    let end = start + Duration::days(7);
    let f = surveys::week_figures(&ctx.pool, installation_id, start, end).await?;
    let accuracy =
        surveys::week_guessers(&ctx.pool, installation_id, start, end, MIN_PEOPLE).await?;
    // A share of 0 % or 100 % tells each author's answer: withheld like any figure under the floor.
    let ai_share = (f.authors >= MIN_PEOPLE && f.author_answers > 0)
        .then(|| f.ai as f64 / f.author_answers as f64)
        .filter(|share| *share > 0.0 && *share < 1.0);
    Ok(Week {
        label: format!(
            "{}-W{:02}",
            start.iso_week().year(),
            start.iso_week().week()
        ),
        ai_share,
        response_rate: (f.askees >= MIN_PEOPLE && f.asked > 0)
            .then(|| f.answered as f64 / f.asked as f64),
        accuracy,
    })
}

/// Posts last week's board once per installation (keyed by installation and week), each org
/// its own, naming only its own people, to the channel its settings name and from the weekday
/// they name (UTC; Monday, the default, posts as soon as the week is final); only once every
/// survey of that week has closed, so the figures are final; silent when there is nothing to
/// report or the org has no board channel. Each board goes through its org's own workspace.
pub async fn post_weekly(
    ctx: &SurveyContext,
    clients: &mut ClientCache<'_>,
    now: DateTime<Utc>,
) -> Result<(), SurveyError> {
    let start = previous_week_start(now);
    let end = start + Duration::days(7);
    for (installation_id, org) in
        surveys::week_complete_installations(&ctx.pool, start, end).await?
    {
        let settings = ctx.org_settings(installation_id).await?;
        let Some(channel) = settings.leaderboard_channel else {
            continue;
        };
        if now.weekday().num_days_from_monday() < settings.leaderboard_day.num_days_from_monday() {
            continue; // not this org's day yet
        }
        let Some(slack) = clients.get(installation_id).await? else {
            continue; // no workspace (or disconnected): the board waits for it
        };
        post_one(ctx, &slack, &channel.id, installation_id, &org, start).await?;
    }
    Ok(())
}

async fn post_one(
    ctx: &SurveyContext,
    slack: &SlackClient,
    channel: &str,
    installation_id: i64,
    org: &str,
    start: DateTime<Utc>,
) -> Result<(), SurveyError> {
    let w = week(ctx, installation_id, start).await?;
    if w.ai_share.is_none() && w.response_rate.is_none() && w.accuracy.is_empty() {
        return Ok(());
    }
    let mut lines = vec![format!("*Mergecast weekly — {org} — {}*", w.label)];
    if let Some(share) = w.ai_share {
        lines.push(format!("AI-assisted merged PRs: *{:.0}%*", share * 100.0));
    }
    if let Some(rate) = w.response_rate {
        lines.push(format!("Response rate: *{:.0}%*", rate * 100.0));
    }
    if !w.accuracy.is_empty() {
        lines.push("Best guessers (3+ guesses):".into());
        for (login, acc, n) in &w.accuracy {
            lines.push(format!("• {login}: {:.0}% of {n}", acc * 100.0));
        }
    }
    send_once(
        ctx,
        slack,
        Once {
            key: format!("leaderboard:{installation_id}:{}", w.label),
            survey_id: None,
            github_id: None,
            kind: "leaderboard",
            channel,
            content: Content {
                text: lines.join("\n"),
                blocks: Vec::new(),
            },
            thread_ts: None,
        },
    )
    .await?;
    Ok(())
}
