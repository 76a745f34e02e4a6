//! The admin page's reads and writes. Every function takes the session's scope (`None` = all
//! installations, the operator) and applies it in SQL, so no page can show another org's rows.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};

/// The SQL condition "installation is in scope" for a `bigint[]` bound as `$1`.
pub const IN_SCOPE: &str = "($1::bigint[] IS NULL OR installation_id = ANY($1))";

/// Rows per page of every list.
pub const PAGE: i64 = 50;

#[derive(Debug, FromRow)]
pub struct InstallationRow {
    pub id: i64,
    pub account_login: String,
    pub status: String,
    pub repositories: i64,
    pub members: i64,
    pub run_started: Option<DateTime<Utc>>,
    pub run_finished: Option<DateTime<Utc>>,
    pub run_status: Option<String>,
    pub run_error: Option<String>,
    pub created: Option<i32>,
    pub updated: Option<i32>,
    pub deactivated: Option<i32>,
    pub api_calls: Option<i32>,
    pub not_modified: Option<i32>,
}

/// Installations in scope with their repository count and last sync run.
pub async fn installations(
    pool: &PgPool,
    scope: Option<&[i64]>,
    offset: i64,
) -> Result<Vec<InstallationRow>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT i.id, i.account_login, i.status,
                  (SELECT count(*) FROM repositories r WHERE r.installation_id = i.id AND r.active) AS repositories,
                  (SELECT count(*) FROM members m WHERE m.installation_id = i.id AND m.active) AS members,
                  r.started_at AS run_started, r.finished_at AS run_finished, r.status AS run_status,
                  r.error AS run_error, r.created, r.updated, r.deactivated, r.api_calls, r.not_modified
           FROM installations i
           LEFT JOIN LATERAL (SELECT * FROM sync_runs s WHERE s.installation_id = i.id
                              ORDER BY s.started_at DESC LIMIT 1) r ON true
           WHERE ($1::bigint[] IS NULL OR i.id = ANY($1))
           ORDER BY lower(i.account_login), i.id LIMIT $2 OFFSET $3"#,
    )
    .bind(scope)
    .bind(PAGE + 1)
    .bind(offset)
    .fetch_all(pool)
    .await
}

/// Deliveries of the last 24 hours by status.
pub async fn deliveries_by_status(
    pool: &PgPool,
    scope: Option<&[i64]>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT status, count(*) FROM deliveries WHERE received_at > now() - interval '24 hours'
         AND {IN_SCOPE} GROUP BY status ORDER BY status"
    ))
    .bind(scope)
    .fetch_all(pool)
    .await
}

#[derive(Debug, FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<i64>,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// Filters of the delivery list.
#[derive(Debug, Default)]
pub struct DeliveryFilter<'a> {
    pub event: Option<&'a str>,
    pub action: Option<&'a str>,
    pub status: Option<&'a str>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Keyset cursor: rows strictly older than (received_at, id).
    pub before: Option<(DateTime<Utc>, String)>,
}

/// A page of deliveries, newest first (one extra row tells whether there is a next page).
pub async fn deliveries(
    pool: &PgPool,
    scope: Option<&[i64]>,
    f: &DeliveryFilter<'_>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let (before_at, before_id) = match &f.before {
        Some((at, id)) => (Some(*at), Some(id.as_str())),
        None => (None, None),
    };
    sqlx::query_as(&format!(
        r#"SELECT id, event, action, installation_id, status, attempts, last_error, received_at
           FROM deliveries
           WHERE {IN_SCOPE}
             AND ($2::text IS NULL OR event = $2)
             AND ($3::text IS NULL OR action = $3)
             AND ($4::text IS NULL OR status = $4)
             AND ($5::timestamptz IS NULL OR received_at >= $5)
             AND ($6::timestamptz IS NULL OR received_at < $6)
             AND ($7::timestamptz IS NULL OR (received_at, id) < ($7, $8))
           ORDER BY received_at DESC, id DESC LIMIT $9"#
    ))
    .bind(scope)
    .bind(f.event)
    .bind(f.action)
    .bind(f.status)
    .bind(f.from)
    .bind(f.to)
    .bind(before_at)
    .bind(before_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[derive(Debug, FromRow)]
pub struct MemberRow {
    pub installation_id: i64,
    pub account_login: String,
    pub github_id: i64,
    pub login: String,
    pub name: Option<String>,
    pub active: bool,
    pub slack_user_id: Option<String>,
    pub slack_mapping_source: Option<String>,
    pub slack_unmapped_reason: Option<String>,
    pub opted_out: bool,
}

/// A page of members, by login; `q` matches login or name; `unmapped` keeps those without Slack.
pub async fn members(
    pool: &PgPool,
    scope: Option<&[i64]>,
    installation: Option<i64>,
    q: Option<&str>,
    unmapped: bool,
    offset: i64,
) -> Result<Vec<MemberRow>, sqlx::Error> {
    let pattern = q.map(|q| {
        format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    sqlx::query_as(
        r#"SELECT m.installation_id, i.account_login, m.github_id, m.login, m.name, m.active,
                  m.slack_user_id, m.slack_mapping_source, m.slack_unmapped_reason, m.opted_out
           FROM members m JOIN installations i ON i.id = m.installation_id
           WHERE ($1::bigint[] IS NULL OR m.installation_id = ANY($1))
             AND ($2::bigint IS NULL OR m.installation_id = $2)
             AND ($3::text IS NULL OR m.login ILIKE $3 OR m.name ILIKE $3)
             AND (NOT $4 OR m.slack_user_id IS NULL)
           ORDER BY lower(m.login), m.installation_id LIMIT $5 OFFSET $6"#,
    )
    .bind(scope)
    .bind(installation)
    .bind(pattern)
    .bind(unmapped)
    .bind(PAGE + 1)
    .bind(offset)
    .fetch_all(pool)
    .await
}

#[derive(Debug, FromRow)]
pub struct SurveyRow {
    pub id: i64,
    pub installation_id: i64,
    pub repository_full_name: String,
    pub number: i32,
    pub title: String,
    pub html_url: Option<String>,
    pub merged_at: Option<DateTime<Utc>>,
    pub status: String,
    pub last_error: Option<String>,
    pub asked: i64,
    pub answered: i64,
    pub revealed: i64,
    pub errors: i64,
}

const SURVEY_COLUMNS: &str = r#"s.id, s.installation_id, s.repository_full_name, s.number, s.title,
    s.html_url, s.merged_at, s.status, s.last_error,
    (SELECT count(*) FROM survey_participants p WHERE p.survey_id = s.id AND p.asked_at IS NOT NULL) AS asked,
    (SELECT count(*) FROM survey_participants p WHERE p.survey_id = s.id AND p.answered_at IS NOT NULL) AS answered,
    (SELECT count(*) FROM survey_participants p WHERE p.survey_id = s.id AND p.revealed_at IS NOT NULL) AS revealed,
    (SELECT count(*) FROM survey_participants p WHERE p.survey_id = s.id AND p.last_error IS NOT NULL) AS errors"#;

/// A page of surveys, newest first (keyset on id).
pub async fn surveys(
    pool: &PgPool,
    scope: Option<&[i64]>,
    before: Option<i64>,
) -> Result<Vec<SurveyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SURVEY_COLUMNS} FROM surveys s
         WHERE ($1::bigint[] IS NULL OR s.installation_id = ANY($1)) AND ($2::bigint IS NULL OR s.id < $2)
         ORDER BY s.id DESC LIMIT $3"
    ))
    .bind(scope)
    .bind(before)
    .bind(PAGE + 1)
    .fetch_all(pool)
    .await
}

/// One survey, if in scope.
pub async fn survey(
    pool: &PgPool,
    scope: Option<&[i64]>,
    id: i64,
) -> Result<Option<SurveyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SURVEY_COLUMNS} FROM surveys s
         WHERE ($1::bigint[] IS NULL OR s.installation_id = ANY($1)) AND s.id = $2"
    ))
    .bind(scope)
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// A participant as admins may see them: whether they answered, never what.
#[derive(Debug, FromRow)]
pub struct ParticipantRow {
    pub login: String,
    pub role: String,
    pub skip_reason: Option<String>,
    pub asked: bool,
    pub answered: bool,
    pub revealed: bool,
    pub last_error: Option<String>,
}

pub async fn participants(pool: &PgPool, survey: i64) -> Result<Vec<ParticipantRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT login, role, skip_reason, asked_at IS NOT NULL AS asked,
                answered_at IS NOT NULL AS answered, revealed_at IS NOT NULL AS revealed, last_error
         FROM survey_participants WHERE survey_id = $1 ORDER BY role, login",
    )
    .bind(survey)
    .fetch_all(pool)
    .await
}

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
    pool: &PgPool,
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
    .fetch_all(pool)
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
