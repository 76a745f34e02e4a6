//! Surveys, their participants, and the once-only ledger of Slack messages.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

/// Where a survey is (the schema's `surveys.status` check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum SurveyStatus {
    /// Created while Slack was not configured; asked once it is.
    WaitingForSlack,
    Open,
    /// Both sides answered and were told; late reviewers may still join.
    Revealed,
    Closed,
    /// Excluded (repository, label, bot author): nobody is asked.
    Skipped,
}

impl SurveyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WaitingForSlack => "waiting_for_slack",
            Self::Open => "open",
            Self::Revealed => "revealed",
            Self::Closed => "closed",
            Self::Skipped => "skipped",
        }
    }

    /// Whether people may still be added and asked.
    pub fn takes_participants(self) -> bool {
        matches!(self, Self::WaitingForSlack | Self::Open | Self::Revealed)
    }
}

/// A participant's side of the survey (the schema's `survey_participants.role` check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Role {
    Author,
    Reviewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Author => "author",
            Self::Reviewer => "reviewer",
        }
    }

    /// The side whose answers this one is revealed against.
    pub fn other(self) -> Self {
        match self {
            Self::Author => Self::Reviewer,
            Self::Reviewer => Self::Author,
        }
    }
}

/// A survey row as the flow needs it.
#[derive(Debug, Clone, FromRow)]
pub struct Survey {
    pub id: i64,
    pub installation_id: i64,
    pub pull_request_id: i64,
    pub repository_full_name: String,
    pub number: i32,
    pub title: String,
    pub html_url: Option<String>,
    pub author_github_id: Option<i64>,
    pub author_login: Option<String>,
    pub status: SurveyStatus,
    pub closes_at: DateTime<Utc>,
}

const SURVEY_COLUMNS: &str = "id, installation_id, pull_request_id, repository_full_name, number, title, html_url, author_github_id, author_login, status, closes_at";

/// A participant row.
#[derive(Debug, Clone, FromRow)]
pub struct Participant {
    pub survey_id: i64,
    pub github_id: i64,
    pub login: String,
    pub role: Role,
    pub slack_user_id: Option<String>,
    pub skip_reason: Option<String>,
    pub dm_channel: Option<String>,
    pub message_ts: Option<String>,
    pub send_after: Option<DateTime<Utc>>,
    pub asked_at: Option<DateTime<Utc>>,
    pub reminded_at: Option<DateTime<Utc>>,
    pub answer: Option<String>,
    pub quality: Option<i16>,
    pub answered_at: Option<DateTime<Utc>>,
    pub revealed_at: Option<DateTime<Utc>>,
    pub reveal_error: Option<String>,
}

const PARTICIPANT_COLUMNS: &str = "survey_id, github_id, login, role, slack_user_id, skip_reason, dm_channel, message_ts, send_after, asked_at, reminded_at, answer, quality, answered_at, revealed_at, reveal_error";

/// What a new survey is created from.
#[derive(Debug, Clone)]
pub struct NewSurvey<'a> {
    pub installation_id: i64,
    pub pull_request_id: i64,
    pub repository_id: i64,
    pub repository_full_name: &'a str,
    pub number: i32,
    pub title: &'a str,
    pub html_url: Option<&'a str>,
    pub author_github_id: Option<i64>,
    pub author_login: Option<&'a str>,
    pub merged_at: Option<DateTime<Utc>>,
    pub status: SurveyStatus,
    pub skip_reason: Option<&'a str>,
    pub remind_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

/// Creates the survey of a pull request; `None` if it already exists (one per PR, ever).
pub async fn create(
    db: impl PgExecutor<'_>,
    s: &NewSurvey<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        r#"INSERT INTO surveys (installation_id, pull_request_id, repository_id, repository_full_name, number,
               title, html_url, author_github_id, author_login, merged_at, status, skip_reason, remind_at, closes_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (pull_request_id) DO NOTHING RETURNING id"#,
    )
    .bind(s.installation_id)
    .bind(s.pull_request_id)
    .bind(s.repository_id)
    .bind(s.repository_full_name)
    .bind(s.number)
    .bind(s.title)
    .bind(s.html_url)
    .bind(s.author_github_id)
    .bind(s.author_login)
    .bind(s.merged_at)
    .bind(s.status)
    .bind(s.skip_reason)
    .bind(s.remind_at)
    .bind(s.closes_at)
    .fetch_optional(db)
    .await
}

pub async fn get(db: impl PgExecutor<'_>, id: i64) -> Result<Option<Survey>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SURVEY_COLUMNS} FROM surveys WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn by_pull_request(
    db: impl PgExecutor<'_>,
    pull_request_id: i64,
) -> Result<Option<Survey>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SURVEY_COLUMNS} FROM surveys WHERE pull_request_id = $1"
    ))
    .bind(pull_request_id)
    .fetch_optional(db)
    .await
}

pub async fn add_participant(
    db: impl PgExecutor<'_>,
    survey_id: i64,
    github_id: i64,
    login: &str,
    role: Role,
    skip_reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO survey_participants (survey_id, github_id, login, role, skip_reason)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (survey_id, github_id) DO NOTHING"#,
    )
    .bind(survey_id)
    .bind(github_id)
    .bind(login)
    .bind(role)
    .bind(skip_reason)
    .execute(db)
    .await?;
    Ok(())
}

/// Someone who submitted a review of a pull request.
#[derive(Debug, Clone, FromRow)]
pub struct Reviewer {
    pub github_id: i64,
    pub login: String,
    /// GitHub's account type (`User`, `Bot`).
    pub kind: Option<String>,
}

/// Everyone who submitted a (non-pending) review of `pull_request_id`, once each.
pub async fn reviewers(
    db: impl PgExecutor<'_>,
    pull_request_id: i64,
) -> Result<Vec<Reviewer>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT DISTINCT ON (reviewer_id) reviewer_id AS github_id, reviewer_login AS login,
                  reviewer_type AS kind
           FROM reviews
           WHERE pull_request_id = $1 AND reviewer_id IS NOT NULL AND state <> 'pending'
           ORDER BY reviewer_id, submitted_at DESC NULLS LAST"#,
    )
    .bind(pull_request_id)
    .fetch_all(db)
    .await
}

/// Runs a survey-id query taking `$1` = now and `$2` = limit.
async fn round_robin_ids(
    db: impl PgExecutor<'_>,
    sql: &'static str,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(sql)
        .bind(now)
        .bind(limit)
        .fetch_all(db)
        .await
}

/// Surveys with someone to ask now (working hours reached, Slack now configured, or a failed
/// try), round-robin across installations: every org's oldest before anyone's second.
pub async fn due_for_asking(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    round_robin_ids(
        db,
        r#"SELECT id FROM (
             SELECT s.id, row_number() OVER (PARTITION BY s.installation_id ORDER BY s.id) AS turn
             FROM surveys s
             WHERE s.status IN ('open', 'revealed', 'waiting_for_slack') AND s.closes_at > $1
               AND s.installation_id IN (SELECT id FROM installations WHERE status = 'active')
               AND EXISTS (SELECT 1 FROM survey_participants p
                           WHERE p.survey_id = s.id AND p.skip_reason IS NULL AND p.asked_at IS NULL
                             AND (p.send_after IS NULL OR p.send_after <= $1))
           ) due ORDER BY turn, id LIMIT $2"#,
        now,
        limit,
    )
    .await
}

/// (survey, person) pairs asked before `asked_before` who have not answered and had no reminder,
/// round-robin across installations.
pub async fn due_for_reminder(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
    asked_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT survey_id, github_id FROM (
             SELECT p.survey_id, p.github_id,
                    row_number() OVER (PARTITION BY s.installation_id ORDER BY p.asked_at, p.survey_id) AS turn
             FROM survey_participants p JOIN surveys s ON s.id = p.survey_id
             WHERE s.status IN ('open', 'revealed') AND s.closes_at > $1 AND p.skip_reason IS NULL
               AND s.installation_id IN (SELECT id FROM installations WHERE status = 'active')
               AND p.asked_at IS NOT NULL AND p.answer IS NULL AND p.reminded_at IS NULL
               AND (p.remind_due_at <= $1 OR (p.remind_due_at IS NULL AND p.asked_at <= $2))
           ) due ORDER BY turn, survey_id, github_id LIMIT $3"#,
    )
    .bind(now)
    .bind(asked_before)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Surveys past `closes_at` and not closed yet, round-robin across installations. A suspended
/// org's surveys wait (they close after `unsuspend`, on the next tick).
pub async fn expired(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    round_robin_ids(db, r#"SELECT id FROM (
             SELECT id, row_number() OVER (PARTITION BY installation_id ORDER BY closes_at, id) AS turn
             FROM surveys
             WHERE status IN ('open', 'revealed', 'waiting_for_slack') AND closes_at <= $1
               AND installation_id NOT IN (SELECT id FROM installations WHERE status = 'suspended')
           ) due ORDER BY turn, id LIMIT $2"#, now, limit).await
}

/// Surveys still taking answers whose pull request has a reviewer who is not a participant yet
/// (a review applied after the merge), round-robin across installations.
pub async fn with_reviewers_missing(
    db: impl PgExecutor<'_>,
    limit: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        r#"SELECT id FROM (
           SELECT s.id, row_number() OVER (PARTITION BY s.installation_id ORDER BY s.id) AS turn
           FROM surveys s
           WHERE s.status IN ('open', 'revealed', 'waiting_for_slack')
             AND s.installation_id IN (SELECT id FROM installations WHERE status = 'active')
             AND EXISTS (
               SELECT 1 FROM reviews r
               WHERE r.pull_request_id = s.pull_request_id AND r.reviewer_id IS NOT NULL
                 AND r.state <> 'pending'
                 AND r.reviewer_id IS DISTINCT FROM s.author_github_id
                 AND NOT EXISTS (SELECT 1 FROM survey_participants p
                                 WHERE p.survey_id = s.id AND p.github_id = r.reviewer_id))
           ) due ORDER BY turn, id LIMIT $1"#,
    )
    .bind(limit)
    .fetch_all(db)
    .await
}

pub async fn participants(
    db: impl PgExecutor<'_>,
    survey_id: i64,
) -> Result<Vec<Participant>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PARTICIPANT_COLUMNS} FROM survey_participants WHERE survey_id = $1 ORDER BY role, login"
    ))
    .bind(survey_id)
    .fetch_all(db)
    .await
}

pub async fn participant(
    db: impl PgExecutor<'_>,
    survey_id: i64,
    github_id: i64,
) -> Result<Option<Participant>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PARTICIPANT_COLUMNS} FROM survey_participants WHERE survey_id = $1 AND github_id = $2"
    ))
    .bind(survey_id)
    .bind(github_id)
    .fetch_optional(db)
    .await
}

pub async fn participant_by_slack(
    db: impl PgExecutor<'_>,
    survey_id: i64,
    slack_user_id: &str,
) -> Result<Option<Participant>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PARTICIPANT_COLUMNS} FROM survey_participants WHERE survey_id = $1 AND slack_user_id = $2"
    ))
    .bind(survey_id)
    .bind(slack_user_id)
    .fetch_optional(db)
    .await
}

pub async fn skip_participant(
    db: impl PgExecutor<'_>,
    survey_id: i64,
    github_id: i64,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE survey_participants SET skip_reason = $3 WHERE survey_id = $1 AND github_id = $2 AND asked_at IS NULL",
    )
    .bind(survey_id)
    .bind(github_id)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
}

/// Closes a survey that is still taking answers; false if it was closed (or skipped) already.
pub async fn close(db: impl PgExecutor<'_>, id: i64) -> Result<bool, sqlx::Error> {
    set_status(
        db,
        id,
        &[
            SurveyStatus::Open,
            SurveyStatus::Revealed,
            SurveyStatus::WaitingForSlack,
        ],
        SurveyStatus::Closed,
    )
    .await
}

/// Passes over a participant whose reveal Slack refused for good, with Slack's code.
pub async fn reveal_failed(
    db: impl PgExecutor<'_>,
    survey_id: i64,
    github_id: i64,
    code: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE survey_participants SET reveal_error = $3 WHERE survey_id = $1 AND github_id = $2 AND revealed_at IS NULL",
    )
    .bind(survey_id)
    .bind(github_id)
    .bind(code)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_slack_user(
    db: impl PgExecutor<'_>,
    survey_id: i64,
    github_id: i64,
    slack_user_id: &str,
    send_after: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE survey_participants SET slack_user_id = $3, send_after = $4 WHERE survey_id = $1 AND github_id = $2")
        .bind(survey_id)
        .bind(github_id)
        .bind(slack_user_id)
        .bind(send_after)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn mark_asked(
    db: &sqlx::PgPool,
    survey_id: i64,
    github_id: i64,
    channel: &str,
    ts: &str,
) -> Result<bool, sqlx::Error> {
    // Whether this call is the one that asked them: a concurrent or repeated step finds
    // `asked_at` set (re-checked under the row lock) and must not move their deadlines.
    let first = sqlx::query(
        r#"UPDATE survey_participants SET dm_channel = $3, message_ts = $4, asked_at = now(),
               last_error = NULL
           WHERE survey_id = $1 AND github_id = $2 AND asked_at IS NULL"#,
    )
    .bind(survey_id)
    .bind(github_id)
    .bind(channel)
    .bind(ts)
    .execute(db)
    .await?
    .rows_affected()
        == 1;
    if !first {
        sqlx::query(
            r#"UPDATE survey_participants SET dm_channel = $3, message_ts = $4, last_error = NULL
               WHERE survey_id = $1 AND github_id = $2"#,
        )
        .bind(survey_id)
        .bind(github_id)
        .bind(channel)
        .bind(ts)
        .execute(db)
        .await?;
    }
    Ok(first)
}

/// Sets when a just-asked participant's reminder is due, and lets the survey stay open at least
/// until `close_after` (the TTL counted from this person's own ask).
pub async fn set_deadlines(
    db: &sqlx::PgPool,
    survey_id: i64,
    github_id: i64,
    remind_due_at: DateTime<Utc>,
    close_after: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE survey_participants SET remind_due_at = COALESCE(remind_due_at, $3) WHERE survey_id = $1 AND github_id = $2",
    )
    .bind(survey_id)
    .bind(github_id)
    .bind(remind_due_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE surveys SET closes_at = GREATEST(closes_at, $2) WHERE id = $1")
        .bind(survey_id)
        .bind(close_after)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Records a Slack error on the participant and the survey (shown on the admin page).
pub async fn record_error(
    db: impl PgExecutor<'_> + Copy,
    survey_id: i64,
    github_id: Option<i64>,
    code: &str,
) -> Result<(), sqlx::Error> {
    if let Some(github_id) = github_id {
        sqlx::query("UPDATE survey_participants SET last_error = $3 WHERE survey_id = $1 AND github_id = $2")
            .bind(survey_id)
            .bind(github_id)
            .bind(code)
            .execute(db)
            .await?;
    }
    sqlx::query("UPDATE surveys SET last_error = $2 WHERE id = $1")
        .bind(survey_id)
        .bind(code)
        .execute(db)
        .await?;
    Ok(())
}

/// What recording a click's answer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded<T> {
    /// This click's value is the one stored: written now, or by an earlier run of the same
    /// click (a retried job).
    ByThisClick,
    /// Another click stored the same value first (a double click): nothing to tell.
    SameValue,
    /// Another click stored a different value first; the first one counts.
    Different(T),
}

impl<T> Recorded<T> {
    /// Whether another click's different value is the one that counts.
    pub fn differs(&self) -> bool {
        matches!(self, Recorded::Different(_))
    }
}

/// The two things a participant answers, each kept with the click that recorded it.
#[derive(Debug, Clone, Copy)]
enum AnswerField {
    /// The author's AI answer or the reviewer's guess.
    Answer,
    /// The reviewer's quality rating.
    Quality,
}

impl AnswerField {
    /// (value column, click column, extra assignments when written).
    fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            AnswerField::Answer => ("answer", "answer_click_id", ", answered_at = now()"),
            AnswerField::Quality => ("quality", "quality_click_id", ""),
        }
    }
}

/// Stores `value` for `click_id` unless something is stored already; then says whose it is.
async fn record_first<T>(
    db: &sqlx::PgPool,
    field: AnswerField,
    survey_id: i64,
    github_id: i64,
    value: T,
    click_id: &str,
) -> Result<Recorded<T>, sqlx::Error>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + for<'q> sqlx::Encode<'q, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + PartialEq
        + Send
        + Sync
        + Unpin
        + Clone
        + 'static,
{
    let (column, by, extra) = field.columns();
    let written = sqlx::query(&format!(
        "UPDATE survey_participants SET {column} = $3, {by} = $4{extra}
         WHERE survey_id = $1 AND github_id = $2 AND {column} IS NULL"
    ))
    .bind(survey_id)
    .bind(github_id)
    .bind(value.clone())
    .bind(click_id)
    .execute(db)
    .await?;
    if written.rows_affected() == 1 {
        return Ok(Recorded::ByThisClick);
    }
    // A separate statement, so it sees a concurrent writer's committed value.
    let stored: Option<(Option<T>, Option<String>)> = sqlx::query_as(&format!(
        "SELECT {column}, {by} FROM survey_participants WHERE survey_id = $1 AND github_id = $2"
    ))
    .bind(survey_id)
    .bind(github_id)
    .fetch_optional(db)
    .await?;
    Ok(match stored {
        Some((_, Some(recorded_by))) if recorded_by == click_id => Recorded::ByThisClick,
        Some((Some(stored), _)) if stored != value => Recorded::Different(stored),
        _ => Recorded::SameValue,
    })
}

/// Records a participant's answer (author: AI help; reviewer: the guess) for `click_id`; the
/// first answer wins, and a rerun of the same click finds its own answer.
pub async fn record_answer(
    db: &sqlx::PgPool,
    survey_id: i64,
    github_id: i64,
    answer: &str,
    click_id: &str,
) -> Result<Recorded<String>, sqlx::Error> {
    let answer = answer.to_owned();
    record_first(
        db,
        AnswerField::Answer,
        survey_id,
        github_id,
        answer,
        click_id,
    )
    .await
}

/// Records a reviewer's quality rating for `click_id`, as [`record_answer`] does.
pub async fn record_quality(
    db: &sqlx::PgPool,
    survey_id: i64,
    github_id: i64,
    quality: i16,
    click_id: &str,
) -> Result<Recorded<i16>, sqlx::Error> {
    record_first(
        db,
        AnswerField::Quality,
        survey_id,
        github_id,
        quality,
        click_id,
    )
    .await
}

/// Clears the survey's `last_error` once no participant carries one (a retried step that
/// succeeded, not an error that stays on the page for ever).
pub async fn clear_resolved_error(
    db: impl PgExecutor<'_>,
    survey_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"UPDATE surveys SET last_error = NULL
           WHERE id = $1 AND last_error IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM survey_participants
                             WHERE survey_id = $1 AND last_error IS NOT NULL)"#,
    )
    .bind(survey_id)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn mark_revealed(
    db: impl PgExecutor<'_>,
    survey_id: i64,
    github_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE survey_participants SET revealed_at = COALESCE(revealed_at, now()), last_error = NULL WHERE survey_id = $1 AND github_id = $2")
        .bind(survey_id)
        .bind(github_id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn mark_reminded(
    db: impl PgExecutor<'_>,
    survey_id: i64,
    github_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE survey_participants SET reminded_at = COALESCE(reminded_at, now()) WHERE survey_id = $1 AND github_id = $2")
        .bind(survey_id)
        .bind(github_id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_status(
    db: impl PgExecutor<'_>,
    survey_id: i64,
    from: &[SurveyStatus],
    to: SurveyStatus,
) -> Result<bool, sqlx::Error> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let res = sqlx::query(
        r#"UPDATE surveys SET status = $3, closed_at = CASE WHEN $3 = 'closed' THEN now() ELSE closed_at END
           WHERE id = $1 AND status = ANY($2)"#,
    )
    .bind(survey_id)
    .bind(&from)
    .bind(to)
    .execute(db)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Where a once-only Slack message is (the schema's `slack_messages.state` check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum SendState {
    /// Claimed; the call may or may not have reached Slack.
    Sending,
    Sent,
    Failed,
}

/// State of a once-only Slack message.
#[derive(Debug, Clone, FromRow)]
pub struct MessageRecord {
    pub state: SendState,
    pub channel: Option<String>,
    pub ts: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Claims `key` for sending; true when this caller is the first.
pub async fn claim_message(
    db: impl PgExecutor<'_>,
    key: &str,
    survey_id: Option<i64>,
    github_id: Option<i64>,
    kind: &str,
    channel: &str,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        r#"INSERT INTO slack_messages (key, survey_id, github_id, kind, state, channel) VALUES ($1, $2, $3, $4, 'sending', $5)
           ON CONFLICT (key) DO NOTHING"#,
    )
    .bind(key)
    .bind(survey_id)
    .bind(github_id)
    .bind(kind)
    .bind(channel)
    .execute(db)
    .await?;
    Ok(res.rows_affected() == 1)
}

pub async fn message(
    db: impl PgExecutor<'_>,
    key: &str,
) -> Result<Option<MessageRecord>, sqlx::Error> {
    sqlx::query_as("SELECT state, channel, ts, created_at FROM slack_messages WHERE key = $1")
        .bind(key)
        .fetch_optional(db)
        .await
}

/// Takes a failed or abandoned send back for another try; true if this caller got it.
pub async fn reclaim_message(
    db: impl PgExecutor<'_>,
    key: &str,
    stale_before: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        r#"UPDATE slack_messages SET state = 'sending', created_at = now(), error = NULL
           WHERE key = $1 AND (state = 'failed' OR (state = 'sending' AND created_at < $2))"#,
    )
    .bind(key)
    .bind(stale_before)
    .execute(db)
    .await?;
    Ok(res.rows_affected() == 1)
}

pub async fn message_sent(
    db: impl PgExecutor<'_>,
    key: &str,
    channel: &str,
    ts: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE slack_messages SET state = 'sent', channel = $2, ts = $3, sent_at = now() WHERE key = $1")
        .bind(key)
        .bind(channel)
        .bind(ts)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn message_failed(
    db: impl PgExecutor<'_>,
    key: &str,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE slack_messages SET state = 'failed', error = $2 WHERE key = $1 AND state = 'sending'")
        .bind(key)
        .bind(error)
        .execute(db)
        .await?;
    Ok(())
}

/// "Don't ask me again": the person (not one org's member row) is opted out, in every org
/// they are a member of and as an outside collaborator, and passed over at once in every survey
/// still waiting for their answer. One transaction, so no reminder slips in between.
pub async fn opt_out(db: &sqlx::PgPool, github_id: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO person_opt_outs (github_id) VALUES ($1) ON CONFLICT (github_id) DO NOTHING",
    )
    .bind(github_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE members SET opted_out = true, opted_out_at = COALESCE(opted_out_at, now()) WHERE github_id = $1",
    )
    .bind(github_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE outside_people SET opted_out = true WHERE github_id = $1")
        .bind(github_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        r#"UPDATE survey_participants SET skip_reason = 'opted out'
           WHERE github_id = $1 AND answer IS NULL AND skip_reason IS NULL
             AND survey_id IN (SELECT id FROM surveys WHERE status IN ('open', 'revealed', 'waiting_for_slack'))"#,
    )
    .bind(github_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Whether the person chose "Don't ask me again" (in any org, as a member or an outside
/// collaborator) and no admin of `installation_id` has asked them back since.
pub async fn person_opted_out(
    db: impl PgExecutor<'_>,
    installation_id: i64,
    github_id: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        r#"SELECT EXISTS (
             SELECT 1 FROM person_opt_outs o
             WHERE o.github_id = $2
               AND NOT EXISTS (SELECT 1 FROM members m
                               WHERE m.installation_id = $1 AND m.github_id = $2
                                 AND m.opted_in_by_admin_at > o.opted_out_at)
               AND NOT EXISTS (SELECT 1 FROM outside_people x
                               WHERE x.installation_id = $1 AND x.github_id = $2
                                 AND x.opted_in_by_admin_at > o.opted_out_at))"#,
    )
    .bind(installation_id)
    .bind(github_id)
    .fetch_one(db)
    .await
}

/// Counts behind one installation's weekly figures (surveys of PRs merged in the week that were
/// not skipped).
#[derive(Debug, Clone, Copy, FromRow)]
pub struct WeekFigures {
    /// Distinct authors who answered.
    pub authors: i64,
    /// Author answers, and those reporting AI help.
    pub author_answers: i64,
    pub ai: i64,
    /// Asks and answers, and the distinct people asked.
    pub asked: i64,
    pub answered: i64,
    pub askees: i64,
}

pub async fn week_figures(
    db: impl PgExecutor<'_>,
    installation_id: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<WeekFigures, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT
             count(DISTINCT p.github_id) FILTER (WHERE p.role = 'author' AND p.answer IS NOT NULL) AS authors,
             count(*) FILTER (WHERE p.role = 'author' AND p.answer IS NOT NULL) AS author_answers,
             count(*) FILTER (WHERE p.role = 'author' AND p.answer IN ('a_little', 'a_lot')) AS ai,
             count(*) FILTER (WHERE p.asked_at IS NOT NULL) AS asked,
             count(*) FILTER (WHERE p.asked_at IS NOT NULL AND p.answer IS NOT NULL) AS answered,
             count(DISTINCT p.github_id) FILTER (WHERE p.asked_at IS NOT NULL) AS askees
           FROM survey_participants p JOIN surveys s ON s.id = p.survey_id
           WHERE s.installation_id = $1 AND s.status <> 'skipped'
             AND s.merged_at >= $2 AND s.merged_at < $3"#,
    )
    .bind(installation_id)
    .bind(start)
    .bind(end)
    .fetch_one(db)
    .await
}

/// Reviewers of one installation with at least `min_guesses` guesses on PRs merged in the
/// week: (login, share right, guesses), best first.
pub async fn week_guessers(
    db: impl PgExecutor<'_>,
    installation_id: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    min_guesses: i64,
) -> Result<Vec<(String, f64, i64)>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT r.login,
                  avg(CASE WHEN (r.answer = 'yes') = (a.answer IN ('a_little', 'a_lot')) THEN 1.0 ELSE 0.0 END)::float8,
                  count(*)
           FROM survey_participants r
           JOIN survey_participants a ON a.survey_id = r.survey_id AND a.role = 'author' AND a.answer IS NOT NULL
           JOIN surveys s ON s.id = r.survey_id
           WHERE s.installation_id = $1 AND s.status <> 'skipped'
             AND r.role = 'reviewer' AND r.answer IS NOT NULL AND s.merged_at >= $2 AND s.merged_at < $3
           GROUP BY r.login HAVING count(*) >= $4 ORDER BY 2 DESC, 3 DESC, 1 LIMIT 10"#,
    )
    .bind(installation_id)
    .bind(start)
    .bind(end)
    .bind(min_guesses)
    .fetch_all(db)
    .await
}

/// Active installations with surveys of PRs merged in [start, end) of which none is still
/// taking answers: their board for that week is final. (installation id, account login).
pub async fn week_complete_installations(
    db: impl PgExecutor<'_>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT i.id, i.account_login FROM installations i
           WHERE i.status = 'active'
             AND EXISTS (SELECT 1 FROM surveys s WHERE s.installation_id = i.id
                           AND s.merged_at >= $1 AND s.merged_at < $2)
             AND NOT EXISTS (SELECT 1 FROM surveys s WHERE s.installation_id = i.id
                           AND s.merged_at >= $1 AND s.merged_at < $2
                           AND s.status IN ('open', 'revealed', 'waiting_for_slack'))
           ORDER BY i.id"#,
    )
    .bind(start)
    .bind(end)
    .fetch_all(db)
    .await
}

/// An outside collaborator as the admin page sets them up.
#[derive(Debug, Clone, FromRow)]
pub struct OutsidePerson {
    pub installation_id: i64,
    pub github_id: i64,
    pub login: String,
    pub slack_user_id: Option<String>,
    pub opted_out: bool,
}

/// Records (once) that someone without a member row takes part in `installation_id`'s surveys,
/// and returns what admins set for them.
pub async fn outside_person(
    db: impl PgExecutor<'_>,
    installation_id: i64,
    github_id: i64,
    login: &str,
) -> Result<OutsidePerson, sqlx::Error> {
    sqlx::query_as(
        r#"INSERT INTO outside_people (installation_id, github_id, login) VALUES ($1, $2, $3)
           ON CONFLICT (installation_id, github_id) DO UPDATE SET login = EXCLUDED.login
           RETURNING installation_id, github_id, login, slack_user_id, opted_out"#,
    )
    .bind(installation_id)
    .bind(github_id)
    .bind(login)
    .fetch_one(db)
    .await
}

/// Outside collaborators of the installations in `scope` (all when `None`), by login.
pub async fn outside_people(
    db: impl PgExecutor<'_>,
    scope: Option<&[i64]>,
) -> Result<Vec<OutsidePerson>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT installation_id, github_id, login, slack_user_id, opted_out FROM outside_people
           WHERE ($1::bigint[] IS NULL OR installation_id = ANY($1))
           ORDER BY lower(login), installation_id LIMIT 500"#,
    )
    .bind(scope)
    .fetch_all(db)
    .await
}

/// An admin's Slack mapping for an outside collaborator (`None` clears it); false if unknown.
pub async fn map_outside_person(
    db: impl PgExecutor<'_>,
    installation_id: i64,
    github_id: i64,
    slack_user_id: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        "UPDATE outside_people SET slack_user_id = $3 WHERE installation_id = $1 AND github_id = $2",
    )
    .bind(installation_id)
    .bind(github_id)
    .bind(slack_user_id)
    .execute(db)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// An admin opting an outside collaborator out, or asking them back (which wins, in this org,
/// over their own earlier "Don't ask me again"); false if unknown.
pub async fn toggle_outside_opt_out(
    db: impl PgExecutor<'_>,
    installation_id: i64,
    github_id: i64,
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        r#"UPDATE outside_people SET opted_out = NOT opted_out,
               opted_in_by_admin_at = CASE WHEN opted_out THEN now() ELSE NULL END
           WHERE installation_id = $1 AND github_id = $2"#,
    )
    .bind(installation_id)
    .bind(github_id)
    .execute(db)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// Logs a Slack click (its id is Slack's `trigger_id`-derived key); a retried payload is
/// logged once.
pub async fn log_click(
    db: impl PgExecutor<'_>,
    click_id: &str,
    survey_id: i64,
    slack_user_id: &str,
    action: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO slack_interactions (id, survey_id, slack_user_id, action) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
    )
    .bind(click_id)
    .bind(survey_id)
    .bind(slack_user_id)
    .bind(action)
    .execute(db)
    .await?;
    Ok(())
}

/// Records what a logged click came to.
pub async fn set_click_outcome(
    db: impl PgExecutor<'_>,
    click_id: &str,
    outcome: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE slack_interactions SET outcome = $2 WHERE id = $1")
        .bind(click_id)
        .bind(outcome)
        .execute(db)
        .await?;
    Ok(())
}

// Admin page reads

/// A survey as the admin page shows it: counts of who was asked, answered, and saw the reveal.
#[derive(Debug, FromRow)]
pub struct AdminSurveyRow {
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

const ADMIN_SURVEY_COLUMNS: &str = r#"s.id, s.installation_id, s.repository_full_name, s.number, s.title,
    s.html_url, s.merged_at, s.status, s.last_error,
    (SELECT count(*) FROM survey_participants p WHERE p.survey_id = s.id AND p.asked_at IS NOT NULL) AS asked,
    (SELECT count(*) FROM survey_participants p WHERE p.survey_id = s.id AND p.answered_at IS NOT NULL) AS answered,
    (SELECT count(*) FROM survey_participants p WHERE p.survey_id = s.id AND p.revealed_at IS NOT NULL) AS revealed,
    (SELECT count(*) FROM survey_participants p WHERE p.survey_id = s.id AND p.last_error IS NOT NULL) AS errors"#;

/// Surveys of the installations in `scope` (all when `None`), newest first, older than `before`
/// (keyset on id); at most `limit`.
pub async fn admin_list(
    db: impl PgExecutor<'_>,
    scope: Option<&[i64]>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AdminSurveyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ADMIN_SURVEY_COLUMNS} FROM surveys s
         WHERE ($1::bigint[] IS NULL OR s.installation_id = ANY($1)) AND ($2::bigint IS NULL OR s.id < $2)
         ORDER BY s.id DESC LIMIT $3"
    ))
    .bind(scope)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// One survey, if it belongs to an installation in `scope`.
pub async fn admin_get(
    db: impl PgExecutor<'_>,
    scope: Option<&[i64]>,
    id: i64,
) -> Result<Option<AdminSurveyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ADMIN_SURVEY_COLUMNS} FROM surveys s
         WHERE ($1::bigint[] IS NULL OR s.installation_id = ANY($1)) AND s.id = $2"
    ))
    .bind(scope)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// A participant as admins may see them: whether they answered, never what.
#[derive(Debug, FromRow)]
pub struct AdminParticipantRow {
    pub login: String,
    pub role: String,
    pub skip_reason: Option<String>,
    pub asked: bool,
    pub answered: bool,
    pub revealed: bool,
    pub last_error: Option<String>,
}

/// The participants of `survey` (already checked to be in scope), by role then login.
pub async fn admin_participants(
    db: impl PgExecutor<'_>,
    survey: i64,
) -> Result<Vec<AdminParticipantRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT login, role, skip_reason, asked_at IS NOT NULL AS asked,
                answered_at IS NOT NULL AS answered, revealed_at IS NOT NULL AS revealed, last_error
         FROM survey_participants WHERE survey_id = $1 ORDER BY role, login",
    )
    .bind(survey)
    .fetch_all(db)
    .await
}

/// What [`Survey`] leaves out: the survey's last error and its timestamps.
#[derive(Debug, Clone, FromRow)]
pub struct SurveyState {
    pub id: i64,
    pub status: String,
    pub last_error: Option<String>,
    /// Why the survey asks nobody (status `skipped`): a bot's PR, an excluded repository or
    /// label, surveys turned off for the org.
    pub skip_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub remind_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// Survey `id`'s state, if it exists.
pub async fn state(db: impl PgExecutor<'_>, id: i64) -> Result<Option<SurveyState>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, status, last_error, skip_reason, created_at, remind_at, closes_at, closed_at FROM surveys WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Every survey of `installation`, oldest first.
pub async fn of_installation(
    db: impl PgExecutor<'_>,
    installation: i64,
) -> Result<Vec<Survey>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SURVEY_COLUMNS} FROM surveys WHERE installation_id = $1 ORDER BY id"
    ))
    .bind(installation)
    .fetch_all(db)
    .await
}

/// When participant `github_id` of survey `survey_id` is due a reminder (set once asked).
pub async fn remind_due_at(
    db: impl PgExecutor<'_>,
    survey_id: i64,
    github_id: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT remind_due_at FROM survey_participants WHERE survey_id = $1 AND github_id = $2",
    )
    .bind(survey_id)
    .bind(github_id)
    .fetch_optional(db)
    .await
    .map(Option::flatten)
}

/// A Slack click as received, and how it was handled (`None` until it is).
#[derive(Debug, Clone, FromRow)]
pub struct Interaction {
    pub id: String,
    pub survey_id: Option<i64>,
    pub slack_user_id: Option<String>,
    pub action: String,
    pub outcome: Option<String>,
}

/// Every Slack click received, in arrival order.
pub async fn interactions(db: impl PgExecutor<'_>) -> Result<Vec<Interaction>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, survey_id, slack_user_id, action, outcome FROM slack_interactions ORDER BY received_at, id",
    )
    .fetch_all(db)
    .await
}

/// For tests of crash recovery: leaves the messages keyed `key_prefix…` of survey `survey_id`
/// as a crash right after Slack took them would (still `sending`, no `ts`, claimed two minutes
/// ago so a retry may take over), and forgets the participants' matching `reminded_at` or
/// `revealed_at` (`remind:` and `reveal:` keys).
pub async fn forget_sends(
    db: &sqlx::PgPool,
    survey_id: i64,
    key_prefix: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"UPDATE slack_messages SET state = 'sending', ts = NULL, sent_at = NULL,
               created_at = now() - interval '2 minutes'
           WHERE survey_id = $1 AND key LIKE $2"#,
    )
    .bind(survey_id)
    .bind(format!("{key_prefix}%"))
    .execute(db)
    .await?;
    let column = match key_prefix {
        "remind:" => "reminded_at",
        "reveal:" => "revealed_at",
        _ => return Ok(()),
    };
    sqlx::query(&format!(
        "UPDATE survey_participants SET {column} = NULL WHERE survey_id = $1"
    ))
    .bind(survey_id)
    .execute(db)
    .await?;
    Ok(())
}
