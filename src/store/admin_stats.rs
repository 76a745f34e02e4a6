//! The stats page's weekly survey aggregates across `surveys` and `survey_participants`, with
//! the privacy rules (a minimum number of people, no 0 % / 100 % shares) applied here, next to the
//! SQL, so neither the page nor the CSV can show a figure that would tell someone's answer.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

/// Fewest distinct people behind any aggregate we show.
pub const MIN_PEOPLE: i64 = 3;

/// One week of survey aggregates (skipped surveys, e.g. bots' PRs, are not surveys); a figure is
/// `None` (withheld, never shown as 0) when fewer than [`MIN_PEOPLE`] are behind it, and a share
/// of 0 % or 100 % of AI help or right guesses is withheld too (it would tell each answer).
#[derive(Debug, Clone)]
pub struct WeekStats {
    pub week: DateTime<Utc>,
    pub surveys: i64,
    pub asked: Option<i64>,
    pub answered: Option<i64>,
    pub response_rate: Option<f64>,
    pub ai_share: Option<f64>,
    pub guess_accuracy: Option<f64>,
}

#[derive(FromRow)]
struct WeekRow {
    week: DateTime<Utc>,
    surveys: i64,
    asked: i64,
    answered: i64,
    askees: i64,
    authors: i64,
    authors_ai: i64,
    author_people: i64,
    guesses: i64,
    correct: i64,
    guesser_people: i64,
}

/// Weekly response rate, share of AI-assisted PRs and reviewers' guess accuracy (last 26 weeks).
pub async fn weekly_stats(
    db: impl PgExecutor<'_>,
    scope: Option<&[i64]>,
) -> Result<Vec<WeekStats>, sqlx::Error> {
    let rows: Vec<WeekRow> = sqlx::query_as(
        r#"WITH s AS (
             SELECT id, date_trunc('week', coalesce(merged_at, created_at)) AS week FROM surveys
             WHERE ($1::bigint[] IS NULL OR installation_id = ANY($1)) AND status <> 'skipped'
               AND coalesce(merged_at, created_at) > now() - interval '26 weeks'),
           a AS (SELECT p.survey_id, p.answer FROM survey_participants p JOIN s ON s.id = p.survey_id
                 WHERE p.role = 'author' AND p.answer IS NOT NULL)
           SELECT s.week,
             count(DISTINCT s.id) AS surveys,
             count(p.github_id) FILTER (WHERE p.asked_at IS NOT NULL) AS asked,
             count(p.github_id) FILTER (WHERE p.answered_at IS NOT NULL) AS answered,
             count(DISTINCT p.github_id) FILTER (WHERE p.asked_at IS NOT NULL) AS askees,
             count(*) FILTER (WHERE p.role = 'author' AND p.answer IS NOT NULL) AS authors,
             count(*) FILTER (WHERE p.role = 'author' AND p.answer IN ('a_little', 'a_lot')) AS authors_ai,
             count(DISTINCT p.github_id) FILTER (WHERE p.role = 'author' AND p.answer IS NOT NULL) AS author_people,
             count(*) FILTER (WHERE p.role = 'reviewer' AND p.answer IS NOT NULL AND a.answer IS NOT NULL) AS guesses,
             count(*) FILTER (WHERE p.role = 'reviewer' AND a.answer IS NOT NULL AND
                   ((p.answer = 'yes' AND a.answer IN ('a_little', 'a_lot')) OR (p.answer = 'no' AND a.answer = 'none'))) AS correct,
             count(DISTINCT p.github_id) FILTER (WHERE p.role = 'reviewer' AND p.answer IS NOT NULL AND a.answer IS NOT NULL) AS guesser_people
           FROM s LEFT JOIN survey_participants p ON p.survey_id = s.id
                  LEFT JOIN a ON a.survey_id = s.id
           GROUP BY s.week ORDER BY s.week"#,
    )
    .bind(scope)
    .fetch_all(db)
    .await?;
    let ratio =
        |n: i64, d: i64, people: i64| (people >= MIN_PEOPLE && d > 0).then(|| n as f64 / d as f64);
    let not_extreme = |share: Option<f64>| share.filter(|v| *v > 0.0 && *v < 1.0);
    Ok(rows
        .into_iter()
        .map(|r| WeekStats {
            week: r.week,
            surveys: r.surveys,
            asked: (r.askees >= MIN_PEOPLE).then_some(r.asked),
            answered: (r.askees >= MIN_PEOPLE).then_some(r.answered),
            response_rate: ratio(r.answered, r.asked, r.askees),
            ai_share: not_extreme(ratio(r.authors_ai, r.authors, r.author_people)),
            guess_accuracy: not_extreme(ratio(r.correct, r.guesses, r.guesser_people)),
        })
        .collect())
}
