//! The survey's clock and the few facts a test sets up rather than plays out, all through the
//! app's own functions and `mergecast::store` (no raw SQL): running the periodic tick at a
//! chosen time (time travel), posting the weekly board, surveys of a past week, a crash between
//! Slack's answer and our record, an admin's mapping to Slack.

use chrono::{DateTime, Duration, Utc};
use mergecast::store::surveys::{self, NewSurvey, Role, SurveyStatus};
use mergecast::survey::tick::{self, TickReport};
use mergecast::survey::{ClientCache, leaderboard};

use super::{MONA, Person, Scenario};

/// A survey of a past week, answered, as the leaderboard reads it.
pub struct PastSurvey<'a> {
    pub installation: i64,
    pub pull_request_id: i64,
    pub number: i32,
    pub merged_at: DateTime<Utc>,
    /// `closed`, or `revealed` for one still open.
    pub status: SurveyStatus,
    /// (github id, login, answer): the author's AI answer (`none`, `a_little`, `a_lot`).
    pub author: (i64, &'a str, &'a str),
    /// (github id, login, guess): the reviewer's guess (`yes`, `no`).
    pub reviewer: (i64, &'a str, &'a str),
}

impl Scenario {
    /// Runs the survey tick as if it were `at`.
    pub async fn tick_at(&self, at: DateTime<Utc>) -> TickReport {
        tick::tick(&self.app.services.survey_context(), at)
            .await
            .expect("tick")
    }

    /// Runs the survey tick `hours` from now.
    pub async fn tick_in(&self, hours: i64) -> TickReport {
        self.tick_at(Utc::now() + Duration::hours(hours)).await
    }

    /// Posts the weekly boards as of `now` (each org's to the channel its settings name).
    pub async fn post_leaderboard(&self, now: DateTime<Utc>) {
        let ctx = self.app.services.survey_context();
        let mut clients = ClientCache::new(&ctx);
        leaderboard::post_weekly(&ctx, &mut clients, now)
            .await
            .expect("post the board");
    }

    /// Records a survey of a past week with both answers in, through the store's own writes.
    pub async fn past_survey(&self, past: PastSurvey<'_>) -> i64 {
        let pool = self.pool();
        let id = surveys::create(
            pool,
            &NewSurvey {
                installation_id: past.installation,
                pull_request_id: past.pull_request_id,
                repository_id: 1,
                repository_full_name: "octo-org/hello-world",
                number: past.number,
                title: "t",
                html_url: None,
                author_github_id: Some(past.author.0),
                author_login: Some(past.author.1),
                merged_at: Some(past.merged_at),
                status: past.status,
                skip_reason: None,
                remind_at: past.merged_at,
                closes_at: past.merged_at,
            },
        )
        .await
        .expect("create survey")
        .expect("a new survey");
        for ((github_id, login, answer), role) in
            [(past.author, Role::Author), (past.reviewer, Role::Reviewer)]
        {
            surveys::add_participant(pool, id, github_id, login, role, None)
                .await
                .expect("add participant");
            surveys::mark_asked(pool, id, github_id, "D0PAST", "1.0")
                .await
                .expect("mark asked");
            let click = format!("past:{id}:{github_id}");
            surveys::record_answer(pool, id, github_id, answer, &click)
                .await
                .expect("record answer");
        }
        id
    }

    /// As if the process died after Slack took survey `survey`'s messages keyed `prefix…`
    /// (`remind:`, `reveal:`) and before we recorded them.
    pub async fn forget_sends(&self, survey: i64, prefix: &str) {
        surveys::forget_sends(self.pool(), survey, prefix)
            .await
            .expect("forget sends");
    }

    /// An org admin maps `person` to their Slack user by hand.
    pub async fn map_to_slack(&self, installation: i64, person: Person) {
        let slack = person.slack_id.expect("on Slack");
        let mapped = mergecast::store::members::map_to_slack(
            self.pool(),
            installation,
            person.github_id,
            slack,
        )
        .await
        .expect("map member");
        assert!(mapped, "{} is a member", person.login);
    }

    /// An open survey of pull request `pull_request_id` by mona, as the merge job creates it,
    /// with nobody in it yet.
    pub async fn open_survey(&self, installation: i64, pull_request_id: i64, number: i32) -> i64 {
        create_open_survey(self.pool(), installation, pull_request_id, number).await
    }
}

/// [`Scenario::open_survey`] on a bare pool.
pub async fn create_open_survey(
    pool: &sqlx::PgPool,
    installation: i64,
    pull_request_id: i64,
    number: i32,
) -> i64 {
    let now = Utc::now();
    surveys::create(
        pool,
        &NewSurvey {
            installation_id: installation,
            pull_request_id,
            repository_id: 0,
            repository_full_name: "octo-org/hello-world",
            number,
            title: "Add a feature",
            html_url: None,
            author_github_id: Some(MONA.github_id),
            author_login: Some(MONA.login),
            merged_at: Some(now),
            status: SurveyStatus::Open,
            skip_reason: None,
            remind_at: now + Duration::hours(24),
            closes_at: now + Duration::hours(72),
        },
    )
    .await
    .expect("create survey")
    .expect("created")
}
