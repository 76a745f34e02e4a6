//! The Slack survey flow end to end, as scenarios: pull requests opened, reviewed and merged on
//! the fake GitHub (signed webhooks rendered from its model) → queue → worker → survey job →
//! DMs on the fake Slack → clicks on their buttons → answers, reveal, reminders, expiry.

mod support;

use std::time::Duration;

use chrono::Utc;
use mergecast::slack::{interactions, signature};
use mergecast::store::installations::InstallationStatus;
use mergecast::store::surveys::Role;
use serde_json::json;
use sqlx::PgPool;
use support::scenario::github::{PrRef, ReviewState};
use support::scenario::survey::{PastSurvey, create_open_survey};
use support::scenario::views::{Answer, SurveyStatus};
use support::scenario::{
    DEPENDABOT, HUBOT, INSTALLATION, MONA, OCTOCAT, OTHER_INSTALLATION, OTHER_ORG, OUTSIDER,
    SLACK_SIGNING_SECRET, Scenario,
};

/// mona opens a pull request, hubot approves it, it is merged; both are asked.
async fn merged_and_asked(s: &Scenario) -> (PrRef, i64) {
    let pr = reviewed_and_merged(s).await;
    s.slack().dm(MONA).wait_count(1).await;
    s.slack().dm(HUBOT).wait_count(1).await;
    (pr, s.survey(pr).await.id())
}

/// mona opens a pull request, hubot approves it, it is merged.
async fn reviewed_and_merged(s: &Scenario) -> PrRef {
    let pr = s.open_pr(MONA).await;
    s.review(pr, HUBOT, ReviewState::Approved).await;
    s.merge(pr).await;
    pr
}

#[sqlx::test]
async fn merge_to_dms_clicks_and_reveal(pool: PgPool) {
    let s = Scenario::new(pool).await;
    let (pr, _) = merged_and_asked(&s).await;
    let ask = s.slack().dm(MONA).texts()[0].clone();
    assert!(ask.contains("How much AI assistance"), "{ask}");

    s.slack().dm(MONA).click("A lot").await;
    let survey = s
        .survey_until(pr, "mona's answer", |v| v.answer(MONA).is_some())
        .await;
    assert_eq!(survey.answer(MONA), Some(Answer::ALot));
    // The question is replaced by a confirmation without buttons.
    s.slack()
        .until("the ask is updated", |m| {
            !m.messages_to("UMONA")[0].updated.is_empty()
        })
        .await;
    let updated = s.slack().dm(MONA).messages()[0].updated.last().cloned();
    let updated = updated.expect("the ask was updated").to_string();
    // Only "Delete my answers" is left.
    assert_eq!(updated.matches("\"button\"").count(), 1, "{updated}");
    assert!(updated.contains("delete_my_answers"), "{updated}");

    // A repeated click: the first answer stands, and the user is told.
    s.slack().dm(MONA).click("None").await;
    s.slack().dm(MONA).wait_with("already recorded", 1).await;
    assert_eq!(s.survey(pr).await.answer(MONA), Some(Answer::ALot));

    // The reviewer guesses: both sides get the reveal, in the survey's thread, once.
    s.slack().dm(HUBOT).click("Yes").await;
    s.slack().dm(MONA).wait_with("reveal", 1).await;
    s.slack().dm(HUBOT).wait_with("reveal", 1).await;
    let reveal = s
        .slack()
        .dm(HUBOT)
        .messages()
        .into_iter()
        .find(|msg| msg.text.contains("reveal"))
        .map(|msg| (msg.text, msg.thread_ts));
    let (text, thread) = reveal.unwrap();
    assert!(text.contains("right"), "{text}");
    assert!(
        thread.is_some(),
        "the reveal is threaded under the survey DM"
    );
    s.slack().dm(HUBOT).click("Excellent").await;
    s.survey_until(pr, "hubot's rating", |v| v.quality(HUBOT) == Some(3))
        .await
        .expect_revealed();
    s.slack().assert_nothing_sent_twice();
    assert_eq!(
        s.slack().count_all("reveal"),
        2,
        "exactly one reveal per person"
    );
    s.stop().await;
}

#[sqlx::test]
async fn a_redelivered_merge_makes_one_survey(pool: PgPool) {
    let s = Scenario::new(pool).await;
    let pr = s.open_pr(MONA).await;
    s.review(pr, HUBOT, ReviewState::Approved).await;
    let merge = s.merge(pr).await;
    s.send_again(&merge).await;
    s.send_again(&merge).await;
    s.slack().dm(MONA).wait_count(1).await;
    s.slack().dm(HUBOT).wait_count(1).await;
    let surveys = mergecast::store::surveys::of_installation(s.pool(), INSTALLATION)
        .await
        .unwrap();
    assert_eq!(surveys.len(), 1);
    assert_eq!(s.slack().dm(MONA).count(), 1);
    s.slack().assert_nothing_sent_twice();
    s.stop().await;
}

#[sqlx::test]
async fn bad_signatures_and_old_timestamps_are_refused(pool: PgPool) {
    let s = Scenario::new(pool).await;
    let body = interactions::encode_form(
        &json!({"type": "block_actions", "user": {"id": "UMONA"}, "actions": [{"action_id": "ai_none", "value": "1", "action_ts": "1"}]}),
    );
    let slack = s.slack();
    let now = Utc::now().timestamp().to_string();
    let wrong = signature::sign("wrong-secret", &now, body.as_bytes());
    assert_eq!(slack.post_signed(&body, &now, &wrong).await, 401);
    let old = (Utc::now().timestamp() - 6 * 60).to_string();
    let stale = signature::sign(SLACK_SIGNING_SECRET, &old, body.as_bytes());
    assert_eq!(slack.post_signed(&body, &old, &stale).await, 401);
    assert_eq!(slack.post_signed(&body, &now, "").await, 401);
    let clicks = s.app.services.queues.clicks_config().active_jobs_list();
    let mut conn = s.app.services.queues.connection();
    let queued: u64 = redis::cmd("LLEN")
        .arg(clicks)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(queued, 0);
    s.stop().await;
}

#[sqlx::test]
async fn bots_self_reviews_and_unmapped_people_are_skipped(pool: PgPool) {
    let s = Scenario::new(pool).await;
    // A bot review, a self-review, and a reviewer Slack cannot find (no public email).
    let pr = s.open_pr(MONA).await;
    s.review(pr, DEPENDABOT, ReviewState::Approved).await;
    s.review(pr, MONA, ReviewState::Commented).await;
    s.review(pr, OCTOCAT, ReviewState::Approved).await;
    s.review(pr, HUBOT, ReviewState::Approved).await;
    s.merge(pr).await;
    s.slack().dm(MONA).wait_count(1).await;
    s.slack().dm(HUBOT).wait_count(1).await;
    let survey = s
        .survey_until(pr, "octocat recorded as unmapped", |v| {
            v.participant(OCTOCAT)
                .and_then(|p| p.skip_reason.as_deref())
                .is_some_and(|r| r.starts_with("unmapped"))
        })
        .await;
    let octocat = s.member(OCTOCAT).await.unwrap();
    assert!(octocat.slack_unmapped_reason.is_some());
    assert_eq!(survey.skip_reason(DEPENDABOT), Some("bot"));
    assert_eq!(
        survey
            .participants
            .iter()
            .filter(|p| p.github_id == MONA.github_id)
            .count(),
        1,
        "self-review: asked once, as author"
    );
    assert_eq!(s.slack().dm(MONA).count(), 1);
    s.stop().await;
}

#[sqlx::test]
async fn a_pull_request_by_a_bot_gets_no_survey_dms(pool: PgPool) {
    let s = Scenario::new(pool).await;
    let pr = s.open_pr(DEPENDABOT).await;
    s.merge(pr).await;
    s.survey_until(pr, "recorded as skipped", |v| {
        v.status() == SurveyStatus::Skipped
    })
    .await;
    assert_eq!(s.slack().with(|m| m.messages.len()), 0);
    s.stop().await;
}

#[sqlx::test]
async fn one_reminder_then_expiry_with_a_partial_reveal_and_closed_clicks(pool: PgPool) {
    let s = Scenario::new(pool).await;
    let (pr, _) = merged_and_asked(&s).await;
    s.slack().dm(HUBOT).click("No").await;
    s.survey_until(pr, "hubot's guess", |v| v.answer(HUBOT).is_some())
        .await;

    s.tick_in(25).await;
    s.tick_in(26).await;
    assert_eq!(
        s.slack()
            .dm(MONA)
            .texts()
            .iter()
            .filter(|t| t.starts_with("Reminder"))
            .count(),
        1,
        "one reminder to the author, who has not answered"
    );
    assert_eq!(
        s.slack()
            .dm(HUBOT)
            .texts()
            .iter()
            .filter(|t| t.starts_with("Reminder"))
            .count(),
        0,
        "no reminder to who answered"
    );

    let report = s.tick_in(73).await;
    assert_eq!(report.closed, 1);
    assert!(
        s.slack().dm(HUBOT).count_with("closed") >= 1,
        "who answered gets a partial reveal at close"
    );

    s.slack().dm(MONA).click("None").await;
    s.slack()
        .until("closed notice", |m| {
            m.messages_to("UMONA").iter().any(|msg| {
                msg.updated
                    .iter()
                    .any(|u| u.to_string().contains("no longer recorded"))
            })
        })
        .await;
    assert_eq!(s.survey(pr).await.answer(MONA), None);
    s.slack().assert_nothing_sent_twice();
    s.stop().await;
}

#[sqlx::test]
async fn slack_429_is_waited_out_and_errors_are_recorded(pool: PgPool) {
    let s = Scenario::new(pool).await;
    s.slack().rate_limit_next("chat.postMessage", 1);
    s.slack().fail_next("conversations.open", "internal_error");
    let pr = reviewed_and_merged(&s).await;
    // One of the two asks hit a transient internal_error (recorded); the other waited out the
    // 429. (Permanent errors pass the person over: a_permanent_slack_error_* below.)
    s.survey_until(pr, "error recorded", |v| {
        v.state.last_error.as_deref() == Some("internal_error")
    })
    .await;
    s.until("someone got their DM after the 429", || async {
        s.slack().dm(MONA).count() + s.slack().dm(HUBOT).count() >= 1
    })
    .await;
    // The next tick retries the failed ask.
    s.tick_at(Utc::now()).await;
    s.slack().dm(MONA).wait_count(1).await;
    s.slack().dm(HUBOT).wait_count(1).await;
    assert!(s.slack().calls("chat.postMessage") >= 3, "429 then retry");
    assert_eq!(
        s.survey(pr).await.state.last_error,
        None,
        "the error is cleared once the retry succeeded"
    );
    s.slack().assert_nothing_sent_twice();
    assert_eq!(s.slack().dm(MONA).count(), 1);
    assert_eq!(s.slack().dm(HUBOT).count(), 1);
    s.stop().await;
}

#[sqlx::test]
async fn opting_out_is_honoured_at_once(pool: PgPool) {
    let s = Scenario::new(pool).await;
    reviewed_and_merged(&s).await;
    s.slack().dm(MONA).wait_count(1).await;
    s.slack().dm(MONA).click("Don't ask me again").await;
    s.until("opted out", || async {
        s.member(MONA).await.is_some_and(|m| m.opted_out)
    })
    .await;
    s.tick_in(25).await;
    assert_eq!(s.slack().dm(MONA).count_with("Reminder"), 0);
    s.stop().await;
}

#[sqlx::test]
async fn dms_wait_for_working_hours(pool: PgPool) {
    // A one-hour working window that starts two hours from now (UTC), every day.
    let now = Utc::now();
    let start_hour = (now + chrono::Duration::hours(2))
        .format("%H")
        .to_string()
        .parse::<u32>()
        .unwrap();
    let window = format!("{start_hour:02}:00-{:02}:00", start_hour + 1);
    let s = Scenario::builder(pool)
        .env("SURVEY_WORKING_HOURS", window)
        .env("SURVEY_WORKING_DAYS", "mon,tue,wed,thu,fri,sat,sun")
        .start()
        .await;
    // Everyone in UTC for this test.
    s.slack().with(|m| {
        for u in m.users.iter_mut() {
            u.tz = "UTC".into();
            u.tz_offset = 0;
        }
    });
    let pr = reviewed_and_merged(&s).await;
    let survey = s
        .survey_until(pr, "send times recorded", |v| {
            v.participants
                .iter()
                .filter(|p| p.send_after.is_some())
                .count()
                == 2
        })
        .await;
    assert_eq!(s.slack().calls("chat.postMessage"), 0);
    let earliest = survey
        .participants
        .iter()
        .filter_map(|p| p.send_after)
        .min()
        .unwrap();
    assert!(
        earliest > now + chrono::Duration::minutes(59)
            && earliest <= now + chrono::Duration::hours(2),
        "waits for the window: {earliest}"
    );
    // Inside the window, the tick sends them.
    s.tick_at(earliest + chrono::Duration::seconds(1)).await;
    assert_eq!(s.slack().dm(MONA).count(), 1);
    s.stop().await;
}

#[sqlx::test]
async fn without_slack_surveys_wait(pool: PgPool) {
    let s = Scenario::builder(pool)
        .without_slack()
        .without_catch_up()
        .start()
        .await;
    let pr = s.open_pr(MONA).await;
    s.merge(pr).await;
    s.survey_until(pr, "survey waits for slack", |v| {
        v.status() == SurveyStatus::WaitingForSlack
    })
    .await;
    s.stop().await;
}

#[sqlx::test]
async fn the_weekly_leaderboard_posts_once_and_only_with_enough_people(pool: PgPool) {
    let s = Scenario::builder(pool)
        .env("SLACK_LEADERBOARD_CHANNEL", "CBOARD")
        .start()
        .await;
    s.slack().with(|m| m.public_channels.push("CBOARD".into()));
    let now = Utc::now();
    let last_week =
        mergecast::survey::leaderboard::previous_week_start(now) + chrono::Duration::days(2);

    // Nothing happened last week: silent.
    s.post_leaderboard(now).await;
    assert_eq!(s.slack().channel_texts("CBOARD").len(), 0);

    // Four merged PRs by four authors (three used AI), each guessed by hubot.
    for i in 0..4i64 {
        let login = format!("author{i}");
        s.past_survey(PastSurvey {
            installation: INSTALLATION,
            pull_request_id: 7000 + i,
            number: i as i32,
            merged_at: last_week,
            status: SurveyStatus::Closed,
            author: (8000 + i, &login, if i == 0 { "none" } else { "a_lot" }),
            reviewer: (HUBOT.github_id, "hubot", "yes"),
        })
        .await;
    }
    s.post_leaderboard(now).await;
    s.post_leaderboard(now).await;
    let posts = s.slack().channel_texts("CBOARD");
    assert_eq!(posts.len(), 1, "once per week");
    assert!(
        posts[0].contains("AI-assisted merged PRs: *75%*"),
        "{}",
        posts[0]
    );
    assert!(posts[0].contains("Response rate: *100%*"), "{}", posts[0]);
    assert!(posts[0].contains("hubot: 75% of 4"), "{}", posts[0]);
    s.stop().await;
}

/// Author and reviewer clicking at the same moment, 50 times over (and the reviewer's guess and
/// rating at once): every run ends with exactly one reveal each, the reviewer's DM showing both
/// recorded answers, and no "already recorded" notice that nobody earned.
#[sqlx::test]
async fn simultaneous_clicks_converge(pool: PgPool) {
    const ROUNDS: usize = 50;
    let s = Scenario::new(pool).await;
    let mut prs = Vec::new();
    for _ in 0..ROUNDS {
        prs.push(reviewed_and_merged(&s).await);
    }
    let mut surveys = Vec::new();
    for &pr in &prs {
        surveys.push(s.survey(pr).await.id());
    }
    s.slack().dm(MONA).wait_count(ROUNDS).await;
    s.slack().dm(HUBOT).wait_count(ROUNDS).await;
    let slack = s.slack();
    for &survey in &surveys {
        let (mona, hubot) = (slack.dm_about(MONA, survey), slack.dm_about(HUBOT, survey));
        tokio::join!(
            mona.click("A little"),
            hubot.click("Yes"),
            hubot.click("Good"),
        );
    }
    s.until("one reveal each", || async {
        slack.dm(MONA).count_with("reveal") >= ROUNDS
            && slack.dm(HUBOT).count_with("reveal") >= ROUNDS
    })
    .await;
    for &survey in &surveys {
        slack
            .dm_about(HUBOT, survey)
            .wait_ask("shows guess and rating", |blocks| {
                blocks.contains("Your guess: *Yes* (recorded)")
                    && blocks.contains("Quality: *Good* (recorded)")
            })
            .await;
    }
    let clicks = s.clicks_handled(3 * ROUNDS).await;
    let mut outcomes: Vec<String> = clicks.into_iter().filter_map(|c| c.outcome).collect();
    outcomes.sort();
    outcomes.dedup();
    assert_eq!(outcomes, vec!["Recorded".to_string()], "{outcomes:?}");
    assert_eq!(slack.dm(MONA).count_with("reveal"), ROUNDS);
    assert_eq!(slack.dm(HUBOT).count_with("reveal"), ROUNDS);
    assert_eq!(slack.dm(MONA).count_with("already recorded"), 0);
    assert_eq!(slack.dm(HUBOT).count_with("already recorded"), 0);
    let reveal = slack
        .dm(HUBOT)
        .texts()
        .into_iter()
        .find(|t| t.contains("reveal"))
        .unwrap();
    assert!(
        reveal.contains("A little"),
        "names the author's answer: {reveal}"
    );
    slack.assert_nothing_sent_twice();
    s.stop().await;
}

/// A reviewer who guesses, then rates a second later, sees both recorded in their DM, and is
/// told nothing else; a repeated click on the same button changes nothing.
#[sqlx::test]
async fn guess_then_rating_a_second_apart(pool: PgPool) {
    let s = Scenario::new(pool).await;
    reviewed_and_merged(&s).await;
    let hubot = s.slack().dm(HUBOT);
    hubot.wait_count(1).await;
    hubot.click("No").await;
    // The person's pace, not a wait for work: the second click comes a second after the first.
    tokio::time::sleep(Duration::from_secs(1)).await;
    hubot.click("Excellent").await;
    hubot.click("Excellent").await;
    hubot
        .wait_ask("both recorded", |blocks| {
            blocks.contains("Your guess: *No* (recorded)")
                && blocks.contains("Quality: *Excellent* (recorded)")
                && blocks.matches("\"button\"").count() == 1
                && blocks.contains("delete_my_answers")
        })
        .await;
    s.clicks_handled(3).await;
    assert_eq!(hubot.count_with("already recorded"), 0);
    assert_eq!(hubot.count(), 1, "no message besides the survey DM");
    s.slack().assert_nothing_sent_twice();
    s.stop().await;
}

/// Approve-then-merge often reaches us merge first: the review applied after the merge (and a
/// second reviewer's, after the reveal) still gets its reviewer asked, and the late reviewer gets
/// the reveal once they answer.
#[sqlx::test]
async fn reviews_applied_after_the_merge_ask_their_reviewers(pool: PgPool) {
    let s = Scenario::new(pool).await;
    let pr = s.open_pr(MONA).await;
    s.merge(pr).await;
    s.slack().dm(MONA).wait_count(1).await;
    assert_eq!(s.slack().dm(HUBOT).count(), 0, "no review known yet");

    s.review(pr, HUBOT, ReviewState::Approved).await;
    s.tick_at(Utc::now()).await;
    s.slack().dm(HUBOT).wait_count(1).await;

    s.slack().dm(MONA).click("None").await;
    s.slack().dm(HUBOT).click("No").await;
    s.slack().dm(MONA).wait_with("reveal", 1).await;
    s.slack().dm(HUBOT).wait_with("reveal", 1).await;

    // A second reviewer's review lands after the reveal; an admin maps them to Slack.
    s.review(pr, OCTOCAT, ReviewState::Approved).await;
    s.map_to_slack(INSTALLATION, OCTOCAT).await;
    s.tick_at(Utc::now()).await;
    s.slack().dm(OCTOCAT).wait_count(1).await;
    s.slack().dm(OCTOCAT).click("Yes").await;
    s.slack().dm(OCTOCAT).wait_with("reveal", 1).await;
    assert_eq!(s.slack().dm(MONA).count_with("reveal"), 1);
    s.slack().assert_nothing_sent_twice();
    s.stop().await;
}

/// A merge job that stopped after creating the survey but before adding anyone: its rerun adds
/// the participants and asks them.
#[sqlx::test]
async fn a_rerun_merge_job_adds_the_missing_participants(pool: PgPool) {
    let s = Scenario::new(pool).await;
    // A pull request the app has only heard of through its review.
    let pr = s.github(|m| {
        let pull = m.add_pull(s.repo, MONA.github_id);
        PrRef {
            id: pull.id,
            number: pull.number,
            repo: pull.repo_id,
        }
    });
    s.review(pr, HUBOT, ReviewState::Approved).await;
    // What the first run left: the survey, nobody in it.
    let now = Utc::now();
    s.open_survey(INSTALLATION, pr.id, pr.number).await;
    let job = mergecast::queue::jobs::PullRequestMerged {
        installation_id: INSTALLATION,
        pull_request_id: pr.id,
        repository_id: 0,
        number: pr.number,
        merged_at: Some(now),
    };
    mergecast::survey::start::on_merged(&s.app.services.survey_context(), &job, now)
        .await
        .unwrap();
    let asked: Vec<(Role, bool)> = s
        .survey(pr)
        .await
        .participants
        .iter()
        .map(|p| (p.role, p.asked_at.is_some()))
        .collect();
    assert_eq!(asked, vec![(Role::Author, true), (Role::Reviewer, true)]);
    assert_eq!(
        (s.slack().dm(MONA).count(), s.slack().dm(HUBOT).count()),
        (1, 1)
    );
    s.stop().await;
}

/// Slack refusing a DM for good (here `cannot_dm_bot`) passes that person over with the reason,
/// and the next ticks do not ask again.
#[sqlx::test]
async fn a_permanent_slack_error_on_the_ask_is_not_retried(pool: PgPool) {
    let s = Scenario::new(pool).await;
    s.slack().fail_next("conversations.open", "cannot_dm_bot");
    let pr = reviewed_and_merged(&s).await;
    s.slack().dm(HUBOT).wait_count(1).await;
    assert_eq!(
        s.survey(pr).await.skip_reason(MONA),
        Some("slack error: cannot_dm_bot")
    );
    let opens_to_mona = || {
        s.slack().with(|m| {
            m.calls_to("conversations.open")
                .iter()
                .filter(|c| c.params["users"] == "UMONA")
                .count()
        })
    };
    let opens = opens_to_mona();
    s.tick_at(Utc::now()).await;
    s.tick_in(2).await;
    assert_eq!(opens_to_mona(), opens, "no new attempt for the author");
    s.stop().await;
}

/// One recipient's reveal refused for good (`account_inactive`) does not stop the others' or
/// the survey's end: the reviewer gets theirs, the survey is revealed, and it closes on time.
#[sqlx::test]
async fn a_permanent_slack_error_on_one_reveal_spares_the_others(pool: PgPool) {
    let s = Scenario::new(pool).await;
    let (pr, _) = merged_and_asked(&s).await;
    s.slack().dm(MONA).click("A lot").await;
    s.survey_until(pr, "mona's answer", |v| v.answer(MONA).is_some())
        .await;
    // The next message posted, the author's reveal (the author comes first), is refused.
    s.slack().fail_next("chat.postMessage", "account_inactive");
    s.slack().dm(HUBOT).click("Yes").await;
    s.slack().dm(HUBOT).wait_with("reveal", 1).await;
    let survey = s
        .survey_until(pr, "revealed", |v| v.status() == SurveyStatus::Revealed)
        .await;
    assert_eq!(s.slack().dm(MONA).count_with("reveal"), 0);
    let author = survey.participant(MONA).unwrap();
    assert_eq!(author.reveal_error.as_deref(), Some("account_inactive"));
    let posts = s.slack().calls("chat.postMessage");
    let report = s.tick_in(73).await;
    assert_eq!(report.closed, 1);
    assert_eq!(
        s.slack().calls("chat.postMessage"),
        posts,
        "the refused reveal is not tried again"
    );
    s.stop().await;
}

/// The tick takes due work round-robin across installations: one org's backlog of 600 surveys
/// does not keep another org's single survey out of a 500-row batch.
#[sqlx::test]
async fn the_tick_is_fair_across_orgs(pool: PgPool) {
    use mergecast::ids::InstallationId;
    use mergecast::store::{installations, surveys};
    let now = Utc::now();
    let mut lone = 0;
    for (installation, count) in [(1_i64, 600_i64), (2, 1)] {
        installations::ensure(&pool, InstallationId(installation), "org")
            .await
            .unwrap();
        for n in 0..count {
            let id =
                create_open_survey(&pool, installation, installation * 1_000_000 + n, n as i32)
                    .await;
            surveys::add_participant(&pool, id, 1, "a", Role::Author, None)
                .await
                .unwrap();
            lone = id;
        }
    }
    let batch = surveys::due_for_asking(&pool, now, 500).await.unwrap();
    assert_eq!(batch.len(), 500);
    assert!(batch[..2].contains(&lone), "the other org goes first round");
}

/// As if the process died after Slack took a threaded message (a reminder, a reveal) and before
/// we recorded it: the retry finds the reply in its thread (`conversations.replies`; history
/// never shows thread replies) and sends nothing twice.
#[sqlx::test]
async fn threaded_messages_are_not_sent_twice_after_a_crash(pool: PgPool) {
    let s = Scenario::new(pool).await;
    let (_, survey) = merged_and_asked(&s).await;

    // The reminder (a reply in the survey DM's thread), then the crash.
    s.tick_in(25).await;
    assert_eq!(s.slack().dm(MONA).count_with("Reminder"), 1);
    s.forget_sends(survey, "remind:").await;
    s.tick_in(26).await;
    assert_eq!(
        s.slack().dm(MONA).count_with("Reminder"),
        1,
        "found in its thread"
    );

    // The reveal, then the crash; closing the survey reveals again to whoever lacks one.
    s.slack().dm(MONA).click("A lot").await;
    s.slack().dm(HUBOT).click("Yes").await;
    s.slack().dm(MONA).wait_with("reveal", 1).await;
    s.slack().dm(HUBOT).wait_with("reveal", 1).await;
    s.forget_sends(survey, "reveal:").await;
    let report = s.tick_in(73).await;
    assert_eq!(report.closed, 1);
    assert_eq!(s.slack().dm(MONA).count_with("reveal"), 1);
    assert_eq!(s.slack().dm(HUBOT).count_with("reveal"), 1);
    s.slack().assert_nothing_sent_twice();
    s.stop().await;
}

/// A suspended org is asked nothing and reminded of nothing until it is unsuspended; a deleted
/// org's survey closes without a word to anyone.
#[sqlx::test]
async fn suspended_and_deleted_orgs_get_nothing(pool: PgPool) {
    use support::fake_github::InstallationAction;
    let s = Scenario::new(pool).await;
    s.installation_event(InstallationAction::Suspend).await;
    assert_eq!(s.installation().await.status, InstallationStatus::Suspended);
    let pr = reviewed_and_merged(&s).await;
    s.survey(pr).await;
    s.tick_at(Utc::now()).await;
    assert_eq!(s.slack().all_calls(), 0, "no Slack call at all");

    s.installation_event(InstallationAction::Unsuspend).await;
    s.tick_at(Utc::now()).await;
    s.slack().dm(MONA).wait_count(1).await;
    s.slack().dm(HUBOT).wait_count(1).await;

    s.installation_event(InstallationAction::Deleted).await;
    let calls = s.slack().all_calls();
    let report = s.tick_in(73).await;
    assert_eq!(report.closed, 1);
    assert_eq!(
        s.slack().all_calls(),
        calls,
        "no reminder, reveal or update"
    );
    s.stop().await;
}

/// "Don't ask me again" follows the person: the same reviewer in a second org, and an outside
/// collaborator with no member row at all, are not asked again.
#[sqlx::test]
async fn opting_out_follows_the_person_across_orgs(pool: PgPool) {
    use support::fake_github::InstallationAction;
    let s = Scenario::new(pool).await;
    reviewed_and_merged(&s).await;
    s.slack().dm(HUBOT).wait_count(1).await;
    s.slack().dm(HUBOT).click("Don't ask me again").await;
    s.until("opted out", || async {
        mergecast::store::surveys::person_opted_out(s.pool(), INSTALLATION, HUBOT.github_id)
            .await
            .unwrap()
    })
    .await;
    // hubot reviews in another org where mona is a member and hubot has no member row (an
    // outside collaborator).
    let other_repo = s.github(|m| {
        m.add_org_installation(OTHER_INSTALLATION, OTHER_ORG);
        m.add_member(OTHER_ORG, MONA.github_user());
        m.add_repo(OTHER_INSTALLATION, OTHER_ORG, "elsewhere").id
    });
    s.send(s.github(|m| m.installation_hook(OTHER_INSTALLATION, InstallationAction::Created)))
        .await;
    s.catch_up_org(OTHER_INSTALLATION, OTHER_ORG).await;
    let pr = s.open_pr_in(other_repo, MONA).await;
    s.review(pr, HUBOT, ReviewState::Approved).await;
    s.merge(pr).await;
    s.slack().dm(MONA).wait_count(2).await;
    s.survey_until(pr, "passed over in the other org", |v| {
        v.skip_reason(HUBOT) == Some("opted out")
    })
    .await;
    assert_eq!(s.slack().dm(HUBOT).count(), 1, "only the first org's DM");
    s.stop().await;
}

/// Messages promise only what can happen: an author whose PR nobody reviewed is not promised
/// guesses, and reviewers of an author who is not asked are not promised a reveal.
#[sqlx::test]
async fn messages_say_what_will_happen_without_the_other_side(pool: PgPool) {
    let s = Scenario::new(pool).await;
    let pr = s.open_pr(MONA).await;
    s.merge(pr).await;
    s.slack().dm(MONA).wait_count(1).await;
    let blocks = s.slack().dm(MONA).ask_blocks();
    assert!(
        blocks.contains("No reviewer of this PR is being asked"),
        "{blocks}"
    );

    // The next PR's author has opted out; its reviewer is told there will be no reveal.
    mergecast::store::surveys::opt_out(s.pool(), MONA.github_id)
        .await
        .unwrap();
    let second = reviewed_and_merged(&s).await;
    s.slack().dm(HUBOT).wait_count(1).await;
    let second = s.survey(second).await.id();
    let blocks = s.slack().dm_about(HUBOT, second).ask_blocks();
    assert!(blocks.contains("The author is not being asked"), "{blocks}");
    assert_eq!(s.slack().dm(MONA).count(), 1);
    s.stop().await;
}

/// Two orgs with surveys in the same week: each gets its own board, naming only its own people
/// and counting only its own PRs; a board waits while a survey of its week is still open, and a
/// share of 100 % (which would tell each author's answer) is withheld.
#[sqlx::test]
async fn each_org_gets_its_own_board_once_its_week_is_closed(pool: PgPool) {
    use mergecast::ids::InstallationId;
    use mergecast::store::{installations, surveys};
    let s = Scenario::builder(pool)
        .env("SLACK_LEADERBOARD_CHANNEL", "CBOARD")
        .start()
        .await;
    s.slack().with(|m| m.public_channels.push("CBOARD".into()));
    installations::ensure(s.pool(), InstallationId(OTHER_INSTALLATION), OTHER_ORG)
        .await
        .unwrap();
    let now = Utc::now();
    let last_week =
        mergecast::survey::leaderboard::previous_week_start(now) + chrono::Duration::days(2);
    // Org 1: four authors, three used AI, guessed by hubot. Org 2: three authors, all used AI,
    // guessed by "rival"; one of its surveys is still open.
    let orgs = [
        (INSTALLATION, 4_i64, "hubot", 0_i64),
        (OTHER_INSTALLATION, 3, "rival", 100),
    ];
    let mut still_open = Vec::new();
    for (installation, authors, guesser, base) in orgs {
        for i in 0..authors {
            let open = installation == OTHER_INSTALLATION && i == 0;
            let login = format!("author{}", base + i);
            let answer = if installation == INSTALLATION && i == 0 {
                "none"
            } else {
                "a_lot"
            };
            let id = s
                .past_survey(PastSurvey {
                    installation,
                    pull_request_id: 7000 + base + i,
                    number: i as i32,
                    merged_at: last_week,
                    status: if open {
                        SurveyStatus::Revealed
                    } else {
                        SurveyStatus::Closed
                    },
                    author: (8000 + base + i, &login, answer),
                    reviewer: (9000 + base, guesser, "yes"),
                })
                .await;
            if open {
                still_open.push(id);
            }
        }
    }
    s.post_leaderboard(now).await;
    let posted = s.slack().channel_texts("CBOARD");
    assert_eq!(
        posted.len(),
        1,
        "org 2 waits for its open survey: {posted:?}"
    );
    assert!(posted[0].contains("hubot: 75% of 4"), "{}", posted[0]);
    assert!(posted[0].contains("*75%*"), "{}", posted[0]);
    assert!(!posted[0].contains("rival"), "{}", posted[0]);

    for id in still_open {
        assert!(surveys::close(s.pool(), id).await.unwrap());
    }
    s.post_leaderboard(now).await;
    let posted = s.slack().channel_texts("CBOARD");
    assert_eq!(posted.len(), 2, "{posted:?}");
    let second = &posted[1];
    assert!(second.contains("other-org"), "{second}");
    assert!(second.contains("rival: 100% of 3"), "{second}");
    assert!(!second.contains("hubot"), "{second}");
    assert!(
        !second.contains("AI-assisted"),
        "100 % is withheld: {second}"
    );
    s.stop().await;
}

/// The stats page and its CSV count only the orgs in the reader's scope: an org admin of one org
/// sees its surveys and people, never the other org's, and the operator sees both.
#[sqlx::test]
async fn stats_count_only_the_orgs_in_scope(pool: PgPool) {
    use mergecast::ids::InstallationId;
    use mergecast::store::{admin_stats, installations};
    let s = Scenario::builder(pool).without_slack().start().await;
    installations::ensure(s.pool(), InstallationId(OTHER_INSTALLATION), OTHER_ORG)
        .await
        .unwrap();
    let merged = Utc::now() - chrono::Duration::hours(1);
    // Org 1: four authors, one of them without AI. Org 2: three authors, two without AI.
    for (installation, authors, without_ai, base) in [
        (INSTALLATION, 4_i64, 1_i64, 0_i64),
        (OTHER_INSTALLATION, 3, 2, 100),
    ] {
        for i in 0..authors {
            let login = format!("author{}", base + i);
            s.past_survey(PastSurvey {
                installation,
                pull_request_id: 7000 + base + i,
                number: i as i32,
                merged_at: merged,
                status: SurveyStatus::Closed,
                author: (
                    8000 + base + i,
                    &login,
                    if i < without_ai { "none" } else { "a_lot" },
                ),
                reviewer: (9000 + base, "guesser", "yes"),
            })
            .await;
        }
    }
    let figures = |scope: Option<Vec<i64>>| {
        let pool = s.pool().clone();
        async move {
            let weeks = admin_stats::weekly_stats(&pool, scope.as_deref())
                .await
                .unwrap();
            let surveys: i64 = weeks.iter().map(|w| w.surveys).sum();
            let shares: Vec<f64> = weeks.iter().filter_map(|w| w.ai_share).collect();
            (surveys, shares)
        }
    };
    assert_eq!(figures(Some(vec![INSTALLATION])).await, (4, vec![0.75]));
    let (surveys, shares) = figures(Some(vec![OTHER_INSTALLATION])).await;
    assert_eq!(surveys, 3);
    assert!(
        shares.iter().all(|v| (v - 1.0 / 3.0).abs() < 1e-9),
        "only org 2's answers: {shares:?}"
    );
    let (surveys, shares) = figures(None).await;
    assert_eq!(surveys, 7);
    assert!(
        shares.iter().all(|v| (v - 4.0 / 7.0).abs() < 1e-9),
        "{shares:?}"
    );
    s.stop().await;
}

/// A reviewer who is not a member of the org (an outside collaborator) is listed for its admins;
/// once an admin maps them to Slack, their next review gets them asked.
#[sqlx::test]
async fn an_outside_collaborator_mapped_by_an_admin_is_asked(pool: PgPool) {
    let s = Scenario::new(pool).await;
    for n in [1, 2] {
        let pr = s.open_pr(MONA).await;
        s.review(pr, OUTSIDER, ReviewState::Approved).await;
        s.merge(pr).await;
        s.survey_until(pr, "the outsider is considered", |v| v.considered(OUTSIDER))
            .await;
        if n == 1 {
            assert_eq!(
                s.slack().dm(OUTSIDER).count(),
                0,
                "nobody knows who they are on Slack yet"
            );
            assert!(
                mergecast::store::surveys::map_outside_person(
                    s.pool(),
                    INSTALLATION,
                    OUTSIDER.github_id,
                    OUTSIDER.slack_id
                )
                .await
                .unwrap(),
                "listed for the org's admins"
            );
        }
    }
    assert_eq!(s.slack().dm(OUTSIDER).count(), 1, "asked on the second PR");
    s.stop().await;
}

/// A step that finds someone already asked (a concurrent advance, a tick between the post and
/// its record) does not ask them "again": their deadlines and the survey's end stay put.
#[sqlx::test]
async fn a_second_ask_record_moves_no_deadline(pool: PgPool) {
    let s = Scenario::new(pool).await;
    let pr = reviewed_and_merged(&s).await;
    s.slack().dm(MONA).wait_count(1).await;
    let before = s
        .survey_until(pr, "asked", |v| {
            v.participants.len() == 2 && v.all_asked_with_deadlines()
        })
        .await;
    let again =
        mergecast::store::surveys::mark_asked(s.pool(), before.id(), MONA.github_id, "D1", "1.0")
            .await
            .unwrap();
    assert!(!again, "already asked");
    // A tick a day later finds nobody to ask and moves nothing.
    s.tick_in(25).await;
    let after = s.survey(pr).await;
    assert_eq!(before.survey.closes_at, after.survey.closes_at);
    s.stop().await;
}
