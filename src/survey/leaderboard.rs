//! The weekly leaderboard: share of AI-assisted merged PRs, response rate, and reviewers' guess
//! accuracy (people with at least 3 guesses). Aggregates need at least 3 people behind them;
//! a week with nothing to report posts nothing.

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc};

use super::send::{Once, send_once};
use super::{SurveyContext, SurveyError};
use crate::slack::client::{Content, SlackClient};

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

/// Computes a week's figures from surveys created in [start, start + 7 days).
pub async fn week(ctx: &SurveyContext, start: DateTime<Utc>) -> Result<Week, SurveyError> {
    let end = start + Duration::days(7);
    let (authors, ai, asked, answered): (i64, i64, i64, i64) = sqlx::query_as(
        r#"SELECT
             count(DISTINCT p.github_id) FILTER (WHERE p.role = 'author' AND p.answer IS NOT NULL),
             count(*) FILTER (WHERE p.role = 'author' AND p.answer IN ('a_little', 'a_lot')),
             count(*) FILTER (WHERE p.asked_at IS NOT NULL),
             count(*) FILTER (WHERE p.asked_at IS NOT NULL AND p.answer IS NOT NULL)
           FROM survey_participants p JOIN surveys s ON s.id = p.survey_id
           WHERE s.created_at >= $1 AND s.created_at < $2"#,
    )
    .bind(start)
    .bind(end)
    .fetch_one(&ctx.pool)
    .await?;
    let author_answers: i64 = sqlx::query_scalar(
        r#"SELECT count(*) FROM survey_participants p JOIN surveys s ON s.id = p.survey_id
           WHERE s.created_at >= $1 AND s.created_at < $2 AND p.role = 'author' AND p.answer IS NOT NULL"#,
    )
    .bind(start)
    .bind(end)
    .fetch_one(&ctx.pool)
    .await?;
    let askees: i64 = sqlx::query_scalar(
        r#"SELECT count(DISTINCT p.github_id) FROM survey_participants p JOIN surveys s ON s.id = p.survey_id
           WHERE s.created_at >= $1 AND s.created_at < $2 AND p.asked_at IS NOT NULL"#,
    )
    .bind(start)
    .bind(end)
    .fetch_one(&ctx.pool)
    .await?;
    let accuracy: Vec<(String, f64, i64)> = sqlx::query_as(
        r#"SELECT r.login,
                  avg(CASE WHEN (r.answer = 'yes') = (a.answer IN ('a_little', 'a_lot')) THEN 1.0 ELSE 0.0 END)::float8,
                  count(*)
           FROM survey_participants r
           JOIN survey_participants a ON a.survey_id = r.survey_id AND a.role = 'author' AND a.answer IS NOT NULL
           JOIN surveys s ON s.id = r.survey_id
           WHERE r.role = 'reviewer' AND r.answer IS NOT NULL AND s.created_at >= $1 AND s.created_at < $2
           GROUP BY r.login HAVING count(*) >= 3 ORDER BY 2 DESC, 3 DESC, 1 LIMIT 10"#,
    )
    .bind(start)
    .bind(end)
    .fetch_all(&ctx.pool)
    .await?;
    Ok(Week {
        label: format!(
            "{}-W{:02}",
            start.iso_week().year(),
            start.iso_week().week()
        ),
        ai_share: (authors >= MIN_PEOPLE).then(|| ai as f64 / author_answers.max(1) as f64),
        response_rate: (askees >= MIN_PEOPLE && asked > 0).then(|| answered as f64 / asked as f64),
        accuracy,
    })
}

/// Posts last week's board once (keyed by week); silent when there is nothing to report.
pub async fn post_weekly(
    ctx: &SurveyContext,
    slack: &SlackClient,
    channel: &str,
    now: DateTime<Utc>,
) -> Result<(), SurveyError> {
    let start = previous_week_start(now);
    let w = week(ctx, start).await?;
    if w.ai_share.is_none() && w.response_rate.is_none() && w.accuracy.is_empty() {
        return Ok(());
    }
    let mut lines = vec![format!("*Mergecast weekly — {}*", w.label)];
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
            key: format!("leaderboard:{}", w.label),
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
