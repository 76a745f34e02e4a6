//! The Slack survey flow end to end: a signed merged-PR webhook → queue → worker → survey job →
//! DMs on the fake Slack → signed clicks → answers, reveal, reminders, expiry.

mod support;

use std::time::Duration;

use chrono::Utc;
use mergecast::app::Role;
use mergecast::slack::{interactions, signature};
use mergecast::survey::tick;
use serde_json::json;
use sqlx::PgPool;
use support::fake_slack::FakeSlack;
use support::{TestApp, redis_url, test_config_with, wait_until};

const TOKEN: &str = "xoxb-test-token";
const SIGNING_SECRET: &str = "test-signing-secret";
const INST: i64 = 41234567;
const MONA: i64 = 583231;
const HUBOT: i64 = 1000001;
const OCTOCAT: i64 = 1000002;
const PR: i64 = 279147437;

struct Ctx {
    app: TestApp,
    slack: FakeSlack,
}

/// Mergecast with Slack pointed at a fake whose users work around the clock (working hours are
/// tested on their own), plus the org's members with public emails.
async fn setup(pool: PgPool, extra: &[(&str, String)]) -> Ctx {
    let slack = FakeSlack::start(TOKEN).await;
    slack.with(|m| {
        m.add_user("UMONA", "mona@example.com", "Europe/Berlin", 3600);
        m.add_user("UHUBOT", "hubot@example.com", "America/New_York", -5 * 3600);
        m.add_user("UOCTO", "octocat@example.com", "UTC", 0);
    });
    // The test's own settings first: the first match wins.
    let mut vars: Vec<(&str, String)> = extra.to_vec();
    vars.extend([
        ("SLACK_BOT_TOKEN", TOKEN.to_string()),
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.to_string()),
        ("SLACK_API_URL", slack.url.clone()),
        ("SURVEY_WORKING_HOURS", "00:00-24:00".to_string()),
        (
            "SURVEY_WORKING_DAYS",
            "mon,tue,wed,thu,fri,sat,sun".to_string(),
        ),
    ]);
    let app = TestApp::spawn_with(pool, Role::All, test_config_with(&redis_url(), &vars)).await;
    app.deliver_and_apply("installation.created").await;
    for (id, login, email) in [
        (MONA, "mona", Some("mona@example.com")),
        (HUBOT, "hubot", Some("hubot@example.com")),
        (OCTOCAT, "octocat", None),
    ] {
        sqlx::query("INSERT INTO members (installation_id, github_id, login, email) VALUES ($1, $2, $3, $4)")
            .bind(INST)
            .bind(id)
            .bind(login)
            .bind(email)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    Ctx { app, slack }
}

impl Ctx {
    async fn merge(&self) {
        self.app
            .deliver_and_apply("pull_request_review.submitted")
            .await;
        self.app
            .deliver_and_apply("pull_request.closed_merged")
            .await;
    }

    fn dms(&self, user: &str) -> usize {
        self.slack.with(|m| m.messages_to(user).len())
    }

    async fn wait_dms(&self, user: &str, n: usize) {
        wait_until(
            &format!("{n} DMs to {user}"),
            Duration::from_secs(20),
            || async { self.dms(user) >= n },
        )
        .await;
    }

    /// Merges the fixture PR (review, then merge), waits for both DMs, returns the survey.
    async fn merged_and_asked(&self) -> i64 {
        self.merge().await;
        self.wait_dms("UMONA", 1).await;
        self.wait_dms("UHUBOT", 1).await;
        self.survey_id().await
    }

    async fn survey_id(&self) -> i64 {
        sqlx::query_scalar("SELECT id FROM surveys WHERE pull_request_id = $1")
            .bind(PR)
            .fetch_one(&self.app.pool)
            .await
            .unwrap()
    }

    /// Posts a click exactly as Slack does: form body, v0 signature, fresh timestamp.
    async fn click(&self, user: &str, action_id: &str, survey_id: i64) -> u16 {
        let payload = json!({
            "type": "block_actions",
            "user": { "id": user },
            "container": { "type": "message" },
            "actions": [{ "action_id": action_id, "value": survey_id.to_string(), "action_ts": format!("{}.{}", Utc::now().timestamp(), uuid::Uuid::new_v4().simple()) }],
        });
        let body = interactions::encode_form(&payload);
        let ts = Utc::now().timestamp().to_string();
        self.post_signed(
            &body,
            &ts,
            &signature::sign(SIGNING_SECRET, &ts, body.as_bytes()),
        )
        .await
    }

    async fn post_signed(&self, body: &str, ts: &str, sig: &str) -> u16 {
        self.app
            .client
            .post(self.app.url("/slack/interactions"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", sig)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn answer_of(&self, github_id: i64) -> Option<String> {
        sqlx::query_scalar("SELECT answer FROM survey_participants WHERE github_id = $1")
            .bind(github_id)
            .fetch_one(&self.app.pool)
            .await
            .unwrap()
    }

    async fn wait_answer(&self, github_id: i64) {
        wait_until("answer recorded", Duration::from_secs(20), || async {
            self.answer_of(github_id).await.is_some()
        })
        .await;
    }

    /// Every message we posted carries a unique key in its metadata: no key may appear twice.
    fn assert_nothing_sent_twice(&self) {
        let keys: Vec<String> = self.slack.with(|m| {
            m.messages
                .iter()
                .filter_map(|msg| {
                    msg.metadata
                        .as_ref()?
                        .pointer("/event_payload/key")?
                        .as_str()
                        .map(str::to_owned)
                })
                .collect()
        });
        let unique: std::collections::HashSet<&String> = keys.iter().collect();
        assert_eq!(
            unique.len(),
            keys.len(),
            "a message was sent twice: {keys:?}"
        );
    }
}

#[sqlx::test]
async fn merge_to_dms_clicks_and_reveal(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    let survey = ctx.merged_and_asked().await;
    let ask = ctx.slack.with(|m| m.messages_to("UMONA")[0].text.clone());
    assert!(ask.contains("How much AI assistance"), "{ask}");

    assert_eq!(ctx.click("UMONA", "ai_a_lot", survey).await, 200);
    ctx.wait_answer(MONA).await;
    assert_eq!(ctx.answer_of(MONA).await.as_deref(), Some("a_lot"));
    // The question is replaced by a confirmation without buttons.
    wait_until("the ask is updated", Duration::from_secs(20), || async {
        ctx.slack
            .with(|m| !m.messages_to("UMONA")[0].updated.is_empty())
    })
    .await;
    let updated = ctx
        .slack
        .with(|m| m.messages_to("UMONA")[0].updated.last().cloned());
    let updated = updated.expect("the ask was updated").to_string();
    assert!(!updated.contains("\"button\""), "{updated}");

    // A repeated click: the first answer stands, and the user is told.
    assert_eq!(ctx.click("UMONA", "ai_none", survey).await, 200);
    wait_until(
        "already-recorded notice",
        Duration::from_secs(20),
        || async {
            ctx.slack.with(|m| {
                m.messages_to("UMONA")
                    .iter()
                    .any(|msg| msg.text.contains("already recorded"))
            })
        },
    )
    .await;
    assert_eq!(ctx.answer_of(MONA).await.as_deref(), Some("a_lot"));

    // The reviewer guesses: both sides get the reveal, in the survey's thread, once.
    assert_eq!(ctx.click("UHUBOT", "guess_yes", survey).await, 200);
    wait_until("reveals", Duration::from_secs(20), || async {
        ctx.slack.with(|m| {
            ["UMONA", "UHUBOT"].iter().all(|u| {
                m.messages_to(u)
                    .iter()
                    .any(|msg| msg.text.contains("reveal"))
            })
        })
    })
    .await;
    let reveal = ctx.slack.with(|m| {
        m.messages_to("UHUBOT")
            .into_iter()
            .find(|msg| msg.text.contains("reveal"))
            .map(|msg| (msg.text.clone(), msg.thread_ts.clone()))
    });
    let (text, thread) = reveal.unwrap();
    assert!(text.contains("right"), "{text}");
    assert!(
        thread.is_some(),
        "the reveal is threaded under the survey DM"
    );
    assert_eq!(ctx.click("UHUBOT", "quality_3", survey).await, 200);
    wait_until("quality recorded", Duration::from_secs(20), || async {
        sqlx::query_scalar::<_, Option<i16>>(
            "SELECT quality FROM survey_participants WHERE github_id = $1",
        )
        .bind(HUBOT)
        .fetch_one(&ctx.app.pool)
        .await
        .unwrap()
            == Some(3)
    })
    .await;
    let status: String = sqlx::query_scalar("SELECT status FROM surveys")
        .fetch_one(&ctx.app.pool)
        .await
        .unwrap();
    assert_eq!(status, "revealed");
    ctx.assert_nothing_sent_twice();
    let reveals = ctx.slack.with(|m| {
        m.messages
            .iter()
            .filter(|msg| msg.text.contains("reveal"))
            .count()
    });
    assert_eq!(reveals, 2, "exactly one reveal per person");
    ctx.app.stop().await;
}

#[sqlx::test]
async fn a_redelivered_merge_makes_one_survey(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    ctx.merge().await;
    ctx.app
        .deliver_and_apply("pull_request.closed_merged")
        .await;
    ctx.app
        .deliver_and_apply("pull_request.closed_merged")
        .await;
    ctx.wait_dms("UMONA", 1).await;
    ctx.wait_dms("UHUBOT", 1).await;
    assert_eq!(ctx.app.count("SELECT count(*) FROM surveys").await, 1);
    assert_eq!(ctx.dms("UMONA"), 1);
    ctx.assert_nothing_sent_twice();
    ctx.app.stop().await;
}

#[sqlx::test]
async fn bad_signatures_and_old_timestamps_are_refused(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    let body = interactions::encode_form(
        &json!({"type": "block_actions", "user": {"id": "UMONA"}, "actions": [{"action_id": "ai_none", "value": "1", "action_ts": "1"}]}),
    );
    let now = Utc::now().timestamp().to_string();
    assert_eq!(
        ctx.post_signed(
            &body,
            &now,
            &signature::sign("wrong-secret", &now, body.as_bytes())
        )
        .await,
        401
    );
    let old = (Utc::now().timestamp() - 6 * 60).to_string();
    assert_eq!(
        ctx.post_signed(
            &body,
            &old,
            &signature::sign(SIGNING_SECRET, &old, body.as_bytes())
        )
        .await,
        401
    );
    assert_eq!(ctx.post_signed(&body, &now, "").await, 401);
    let clicks = ctx.app.services.queues.clicks_config().active_jobs_list();
    let mut conn = ctx.app.services.queues.connection();
    let queued: u64 = redis::cmd("LLEN")
        .arg(clicks)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(queued, 0);
    ctx.app.stop().await;
}

#[sqlx::test]
async fn bots_self_reviews_and_unmapped_people_are_skipped(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    // A bot review, a self-review, and a reviewer Slack cannot find.
    sqlx::query(
        r#"INSERT INTO reviews (id, pull_request_id, installation_id, reviewer_id, reviewer_login, reviewer_type, state) VALUES
           (901, $1, $2, 49699333, 'dependabot[bot]', 'Bot', 'approved'),
           (902, $1, $2, $3, 'mona', 'User', 'commented'),
           (903, $1, $2, $4, 'octocat', 'User', 'approved')"#,
    )
    .bind(PR)
    .bind(INST)
    .bind(MONA)
    .bind(OCTOCAT)
    .execute(&ctx.app.pool)
    .await
    .unwrap();
    ctx.merge().await;
    ctx.wait_dms("UMONA", 1).await;
    ctx.wait_dms("UHUBOT", 1).await;
    wait_until("octocat recorded as unmapped", Duration::from_secs(20), || async {
        ctx.app
            .count("SELECT count(*) FROM survey_participants WHERE github_id = 1000002 AND skip_reason LIKE 'unmapped%'")
            .await
            == 1
    })
    .await;
    let reason: Option<String> =
        sqlx::query_scalar("SELECT slack_unmapped_reason FROM members WHERE github_id = $1")
            .bind(OCTOCAT)
            .fetch_one(&ctx.app.pool)
            .await
            .unwrap();
    assert!(reason.is_some());
    let bot = ctx.app.count("SELECT count(*) FROM survey_participants WHERE github_id = 49699333 AND skip_reason = 'bot'").await;
    assert_eq!(bot, 1);
    assert_eq!(
        ctx.app
            .count("SELECT count(*) FROM survey_participants WHERE github_id = 583231")
            .await,
        1,
        "self-review: asked once, as author"
    );
    assert_eq!(ctx.dms("UMONA"), 1);
    ctx.app.stop().await;
}

#[sqlx::test]
async fn a_pull_request_by_a_bot_gets_no_survey_dms(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    let body = String::from_utf8(support::fixture("pull_request.closed_merged"))
        .unwrap()
        .replace("\"type\": \"User\"", "\"type\": \"Bot\"");
    let (status, id) = ctx.app.deliver("pull_request", body.as_bytes()).await;
    assert_eq!(status, 202);
    ctx.app.wait_for_status(&id, &["processed"]).await;
    wait_until(
        "survey recorded as skipped",
        Duration::from_secs(20),
        || async {
            ctx.app
                .count("SELECT count(*) FROM surveys WHERE status = 'skipped'")
                .await
                == 1
        },
    )
    .await;
    assert_eq!(ctx.slack.with(|m| m.messages.len()), 0);
    ctx.app.stop().await;
}

#[sqlx::test]
async fn one_reminder_then_expiry_with_a_partial_reveal_and_closed_clicks(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    let survey = ctx.merged_and_asked().await;
    assert_eq!(ctx.click("UHUBOT", "guess_no", survey).await, 200);
    ctx.wait_answer(HUBOT).await;

    let sc = ctx.app.services.survey_context();
    let tomorrow = Utc::now() + chrono::Duration::hours(25);
    tick::tick(&sc, tomorrow).await.unwrap();
    tick::tick(&sc, tomorrow + chrono::Duration::hours(1))
        .await
        .unwrap();
    let reminders = ctx.slack.with(|m| {
        m.messages_to("UMONA")
            .iter()
            .filter(|msg| msg.text.starts_with("Reminder"))
            .count()
    });
    assert_eq!(
        reminders, 1,
        "one reminder to the author, who has not answered"
    );
    assert_eq!(
        ctx.slack.with(|m| m
            .messages_to("UHUBOT")
            .iter()
            .filter(|msg| msg.text.starts_with("Reminder"))
            .count()),
        0,
        "no reminder to who answered"
    );

    let report = tick::tick(&sc, Utc::now() + chrono::Duration::hours(73))
        .await
        .unwrap();
    assert_eq!(report.closed, 1);
    let partial = ctx.slack.with(|m| {
        m.messages_to("UHUBOT")
            .iter()
            .any(|msg| msg.text.contains("closed"))
    });
    assert!(partial, "who answered gets a partial reveal at close");

    assert_eq!(ctx.click("UMONA", "ai_none", survey).await, 200);
    wait_until("closed notice", Duration::from_secs(20), || async {
        ctx.slack.with(|m| {
            m.messages_to("UMONA").iter().any(|msg| {
                msg.updated
                    .iter()
                    .any(|u| u.to_string().contains("no longer recorded"))
            })
        })
    })
    .await;
    assert_eq!(ctx.answer_of(MONA).await, None);
    ctx.assert_nothing_sent_twice();
    ctx.app.stop().await;
}

#[sqlx::test]
async fn slack_429_is_waited_out_and_errors_are_recorded(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    ctx.slack.with(|m| {
        m.rate_limit_next.push(("chat.postMessage".into(), 1));
        m.fail_next
            .push(("conversations.open".into(), "internal_error".into()));
    });
    ctx.merge().await;
    // One of the two asks hit a transient internal_error (recorded); the other waited out the
    // 429. (Permanent errors pass the person over: a_permanent_slack_error_* below.)
    wait_until("error recorded", Duration::from_secs(20), || async {
        ctx.app
            .count("SELECT count(*) FROM surveys WHERE last_error = 'internal_error'")
            .await
            == 1
    })
    .await;
    wait_until(
        "someone got their DM after the 429",
        Duration::from_secs(20),
        || async { ctx.dms("UMONA") + ctx.dms("UHUBOT") >= 1 },
    )
    .await;
    // The next tick retries the failed ask.
    tick::tick(&ctx.app.services.survey_context(), Utc::now())
        .await
        .unwrap();
    ctx.wait_dms("UMONA", 1).await;
    ctx.wait_dms("UHUBOT", 1).await;
    assert!(
        ctx.slack.with(|m| m.count_calls("chat.postMessage")) >= 3,
        "429 then retry"
    );
    assert_eq!(
        ctx.app
            .count("SELECT count(*) FROM surveys WHERE last_error IS NOT NULL")
            .await,
        0,
        "the error is cleared once the retry succeeded"
    );
    ctx.assert_nothing_sent_twice();
    assert_eq!(ctx.dms("UMONA"), 1);
    assert_eq!(ctx.dms("UHUBOT"), 1);
    ctx.app.stop().await;
}

#[sqlx::test]
async fn opting_out_is_honoured_at_once(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    ctx.merge().await;
    ctx.wait_dms("UMONA", 1).await;
    let survey = ctx.survey_id().await;
    assert_eq!(ctx.click("UMONA", "opt_out", survey).await, 200);
    wait_until("opted out", Duration::from_secs(20), || async {
        ctx.app
            .count("SELECT count(*) FROM members WHERE github_id = 583231 AND opted_out")
            .await
            == 1
    })
    .await;
    tick::tick(
        &ctx.app.services.survey_context(),
        Utc::now() + chrono::Duration::hours(25),
    )
    .await
    .unwrap();
    let reminders = ctx.slack.with(|m| {
        m.messages_to("UMONA")
            .iter()
            .filter(|msg| msg.text.starts_with("Reminder"))
            .count()
    });
    assert_eq!(reminders, 0);
    ctx.app.stop().await;
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
    let ctx = setup(
        pool,
        &[
            ("SURVEY_WORKING_HOURS", window),
            ("SURVEY_WORKING_DAYS", "mon,tue,wed,thu,fri,sat,sun".into()),
        ],
    )
    .await;
    // Everyone in UTC for this test.
    ctx.slack.with(|m| {
        for u in m.users.iter_mut() {
            u.tz = "UTC".into();
            u.tz_offset = 0;
        }
    });
    ctx.merge().await;
    wait_until("send times recorded", Duration::from_secs(20), || async {
        ctx.app
            .count("SELECT count(*) FROM survey_participants WHERE send_after IS NOT NULL")
            .await
            == 2
    })
    .await;
    assert_eq!(ctx.slack.with(|m| m.count_calls("chat.postMessage")), 0);
    let earliest: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT min(send_after) FROM survey_participants")
            .fetch_one(&ctx.app.pool)
            .await
            .unwrap();
    assert!(
        earliest > now + chrono::Duration::minutes(59)
            && earliest <= now + chrono::Duration::hours(2),
        "waits for the window: {earliest}"
    );
    // Inside the window, the tick sends them.
    tick::tick(
        &ctx.app.services.survey_context(),
        earliest + chrono::Duration::seconds(1),
    )
    .await
    .unwrap();
    assert_eq!(ctx.dms("UMONA"), 1);
    ctx.app.stop().await;
}

#[sqlx::test]
async fn without_slack_surveys_wait(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.deliver_and_apply("installation.created").await;
    app.deliver_and_apply("pull_request.closed_merged").await;
    wait_until(
        "survey waits for slack",
        Duration::from_secs(20),
        || async {
            app.count("SELECT count(*) FROM surveys WHERE status = 'waiting_for_slack'")
                .await
                == 1
        },
    )
    .await;
    app.stop().await;
}

#[sqlx::test]
async fn the_weekly_leaderboard_posts_once_and_only_with_enough_people(pool: PgPool) {
    let ctx = setup(pool, &[("SLACK_LEADERBOARD_CHANNEL", "CBOARD".into())]).await;
    ctx.slack.with(|m| m.public_channels.push("CBOARD".into()));
    let sc = ctx.app.services.survey_context();
    let client = ctx.app.services.slack.clone().unwrap();
    let now = Utc::now();
    let last_week =
        mergecast::survey::leaderboard::previous_week_start(now) + chrono::Duration::days(2);

    // Nothing happened last week: silent.
    mergecast::survey::leaderboard::post_weekly(&sc, &client, "CBOARD", now)
        .await
        .unwrap();
    assert_eq!(ctx.slack.with(|m| m.messages_in("CBOARD").len()), 0);

    // Four merged PRs by four authors (three used AI), each guessed by hubot.
    for i in 0..4i64 {
        let survey: i64 = sqlx::query_scalar(
            r#"INSERT INTO surveys (installation_id, pull_request_id, repository_id, repository_full_name, number, title,
                   status, created_at, merged_at, remind_at, closes_at)
               VALUES ($1, $2, 1, 'octo-org/hello-world', $3, 't', 'closed', $4, $4, $4, $4) RETURNING id"#,
        )
        .bind(INST)
        .bind(7000 + i)
        .bind(i as i32)
        .bind(last_week)
        .fetch_one(&ctx.app.pool)
        .await
        .unwrap();
        let answer = if i == 0 { "none" } else { "a_lot" };
        sqlx::query(
            r#"INSERT INTO survey_participants (survey_id, github_id, login, role, asked_at, answer, answered_at) VALUES
               ($1, $2, $3, 'author', $4, $5, $4), ($1, $6, 'hubot', 'reviewer', $4, 'yes', $4)"#,
        )
        .bind(survey)
        .bind(8000 + i)
        .bind(format!("author{i}"))
        .bind(last_week)
        .bind(answer)
        .bind(HUBOT)
        .execute(&ctx.app.pool)
        .await
        .unwrap();
    }
    mergecast::survey::leaderboard::post_weekly(&sc, &client, "CBOARD", now)
        .await
        .unwrap();
    mergecast::survey::leaderboard::post_weekly(&sc, &client, "CBOARD", now)
        .await
        .unwrap();
    let posts: Vec<String> = ctx.slack.with(|m| {
        m.messages_in("CBOARD")
            .iter()
            .map(|msg| msg.text.clone())
            .collect()
    });
    assert_eq!(posts.len(), 1, "once per week");
    assert!(
        posts[0].contains("AI-assisted merged PRs: *75%*"),
        "{}",
        posts[0]
    );
    assert!(posts[0].contains("Response rate: *100%*"), "{}", posts[0]);
    assert!(posts[0].contains("hubot: 75% of 4"), "{}", posts[0]);
    ctx.app.stop().await;
}

impl Ctx {
    /// Merges pull request `n` (a review, then the merge) through signed webhooks.
    async fn merge_numbered(&self, n: i64) {
        let (review, merged) = support::numbered_pr_fixtures(n);
        let (status, id) = self.app.deliver("pull_request_review", &review).await;
        assert_eq!(status, 202);
        self.app.wait_for_status(&id, &["processed"]).await;
        assert_eq!(self.app.deliver("pull_request", &merged).await.0, 202);
    }

    async fn survey_of(&self, n: i64) -> Option<i64> {
        sqlx::query_scalar("SELECT id FROM surveys WHERE pull_request_id = $1")
            .bind(PR + n)
            .fetch_optional(&self.app.pool)
            .await
            .unwrap()
    }

    /// Messages to `user` whose text contains `needle`.
    fn count_to(&self, user: &str, needle: &str) -> usize {
        self.slack.with(|m| {
            m.messages_to(user)
                .iter()
                .filter(|msg| msg.text.contains(needle))
                .count()
        })
    }

    /// The survey DM (`ask:` key) that `user` got for `survey`, as Slack shows it now.
    fn ask_blocks(&self, user: &str, survey: i64) -> String {
        self.slack.with(|m| {
            m.messages_to(user)
                .iter()
                .find(|msg| {
                    msg.metadata
                        .as_ref()
                        .and_then(|md| md.pointer("/event_payload/key"))
                        .and_then(|k| k.as_str())
                        .is_some_and(|k| k.starts_with(&format!("ask:{survey}:")))
                })
                .map(|msg| msg.current_blocks().to_string())
                .unwrap_or_default()
        })
    }
}

/// Author and reviewer clicking at the same moment, 50 times over (and the reviewer's guess and
/// rating at once): every run ends with exactly one reveal each, the reviewer's DM showing both
/// recorded answers, and no "already recorded" notice that nobody earned.
#[sqlx::test]
async fn simultaneous_clicks_converge(pool: PgPool) {
    const ROUNDS: i64 = 50;
    let ctx = setup(pool, &[]).await;
    for n in 1..=ROUNDS {
        ctx.merge_numbered(n).await;
    }
    let mut surveys = Vec::new();
    for n in 1..=ROUNDS {
        wait_until("survey created", Duration::from_secs(30), || async {
            ctx.survey_of(n).await.is_some()
        })
        .await;
        surveys.push(ctx.survey_of(n).await.unwrap());
    }
    ctx.wait_dms("UMONA", ROUNDS as usize).await;
    ctx.wait_dms("UHUBOT", ROUNDS as usize).await;
    for &survey in &surveys {
        let (a, g, q) = tokio::join!(
            ctx.click("UMONA", "ai_a_little", survey),
            ctx.click("UHUBOT", "guess_yes", survey),
            ctx.click("UHUBOT", "quality_2", survey),
        );
        assert_eq!((a, g, q), (200, 200, 200));
    }
    wait_until("one reveal each", Duration::from_secs(60), || async {
        ctx.count_to("UMONA", "reveal") >= ROUNDS as usize
            && ctx.count_to("UHUBOT", "reveal") >= ROUNDS as usize
    })
    .await;
    for &survey in &surveys {
        wait_until(
            "reviewer DM shows guess and rating",
            Duration::from_secs(30),
            || async {
                let blocks = ctx.ask_blocks("UHUBOT", survey);
                blocks.contains("Your guess: *Yes* (recorded)")
                    && blocks.contains("Quality: *Good* (recorded)")
            },
        )
        .await;
    }
    wait_until("every click handled", Duration::from_secs(30), || async {
        ctx.app
            .count("SELECT count(*) FROM slack_interactions WHERE outcome IS NOT NULL")
            .await
            == 3 * ROUNDS
    })
    .await;
    let outcomes: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT outcome FROM slack_interactions")
            .fetch_all(&ctx.app.pool)
            .await
            .unwrap();
    assert_eq!(outcomes, vec!["Recorded".to_string()], "{outcomes:?}");
    assert_eq!(ctx.count_to("UMONA", "reveal"), ROUNDS as usize);
    assert_eq!(ctx.count_to("UHUBOT", "reveal"), ROUNDS as usize);
    assert_eq!(ctx.count_to("UMONA", "already recorded"), 0);
    assert_eq!(ctx.count_to("UHUBOT", "already recorded"), 0);
    let reveal = ctx.slack.with(|m| {
        m.messages_to("UHUBOT")
            .iter()
            .find(|msg| msg.text.contains("reveal"))
            .map(|msg| msg.text.clone())
            .unwrap()
    });
    assert!(
        reveal.contains("A little"),
        "names the author's answer: {reveal}"
    );
    ctx.assert_nothing_sent_twice();
    ctx.app.stop().await;
}

/// A reviewer who guesses, then rates a second later, sees both recorded in their DM, and is
/// told nothing else; a repeated click on the same button changes nothing.
#[sqlx::test]
async fn guess_then_rating_a_second_apart(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    ctx.merge().await;
    ctx.wait_dms("UHUBOT", 1).await;
    let survey = ctx.survey_id().await;
    assert_eq!(ctx.click("UHUBOT", "guess_no", survey).await, 200);
    // The person's pace, not a wait for work: the second click comes a second after the first.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(ctx.click("UHUBOT", "quality_3", survey).await, 200);
    assert_eq!(ctx.click("UHUBOT", "quality_3", survey).await, 200);
    wait_until(
        "both recorded in the DM",
        Duration::from_secs(20),
        || async {
            let blocks = ctx.ask_blocks("UHUBOT", survey);
            blocks.contains("Your guess: *No* (recorded)")
                && blocks.contains("Quality: *Excellent* (recorded)")
                && !blocks.contains("\"button\"")
        },
    )
    .await;
    wait_until(
        "all three clicks handled",
        Duration::from_secs(20),
        || async {
            ctx.app
                .count("SELECT count(*) FROM slack_interactions WHERE outcome IS NOT NULL")
                .await
                == 3
        },
    )
    .await;
    assert_eq!(ctx.count_to("UHUBOT", "already recorded"), 0);
    assert_eq!(ctx.dms("UHUBOT"), 1, "no message besides the survey DM");
    ctx.assert_nothing_sent_twice();
    ctx.app.stop().await;
}

/// Approve-then-merge often reaches us merge first: the review applied after the merge (and a
/// second reviewer's, after the reveal) still gets its reviewer asked, and the late reviewer gets
/// the reveal once they answer.
#[sqlx::test]
async fn reviews_applied_after_the_merge_ask_their_reviewers(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    ctx.app
        .deliver_and_apply("pull_request.closed_merged")
        .await;
    ctx.wait_dms("UMONA", 1).await;
    let survey = ctx.survey_id().await;
    assert_eq!(ctx.dms("UHUBOT"), 0, "no review known yet");

    ctx.app
        .deliver_and_apply("pull_request_review.submitted")
        .await;
    let sc = ctx.app.services.survey_context();
    tick::tick(&sc, Utc::now()).await.unwrap();
    ctx.wait_dms("UHUBOT", 1).await;

    assert_eq!(ctx.click("UMONA", "ai_none", survey).await, 200);
    assert_eq!(ctx.click("UHUBOT", "guess_no", survey).await, 200);
    wait_until("reveal to both", Duration::from_secs(20), || async {
        ctx.count_to("UMONA", "reveal") == 1 && ctx.count_to("UHUBOT", "reveal") == 1
    })
    .await;

    // A second reviewer's review lands after the reveal.
    let mut late: serde_json::Value =
        serde_json::from_slice(&support::fixture("pull_request_review.submitted")).unwrap();
    late["review"]["id"] = json!(81);
    late["review"]["user"]["login"] = json!("octocat");
    late["review"]["user"]["id"] = json!(OCTOCAT);
    late["sender"] = late["review"]["user"].clone();
    let (status, id) = ctx
        .app
        .deliver("pull_request_review", &serde_json::to_vec(&late).unwrap())
        .await;
    assert_eq!(status, 202);
    ctx.app.wait_for_status(&id, &["processed"]).await;
    sqlx::query("UPDATE members SET slack_user_id = 'UOCTO' WHERE github_id = $1")
        .bind(OCTOCAT)
        .execute(&ctx.app.pool)
        .await
        .unwrap();
    tick::tick(&sc, Utc::now()).await.unwrap();
    ctx.wait_dms("UOCTO", 1).await;
    assert_eq!(ctx.click("UOCTO", "guess_yes", survey).await, 200);
    wait_until(
        "the late reviewer's reveal",
        Duration::from_secs(20),
        || async { ctx.count_to("UOCTO", "reveal") == 1 },
    )
    .await;
    assert_eq!(ctx.count_to("UMONA", "reveal"), 1);
    ctx.assert_nothing_sent_twice();
    ctx.app.stop().await;
}

/// A merge job that stopped after creating the survey but before adding anyone: its rerun adds
/// the participants and asks them.
#[sqlx::test]
async fn a_rerun_merge_job_adds_the_missing_participants(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    ctx.app
        .deliver_and_apply("pull_request_review.submitted")
        .await;
    // What the first run left: the survey, nobody in it.
    let now = Utc::now();
    let survey = insert_survey(&ctx.app.pool, INST, PR, 42).await;
    let job = mergecast::queue::jobs::PullRequestMerged {
        installation_id: INST,
        pull_request_id: PR,
        repository_id: 0,
        number: 42,
        merged_at: Some(now),
    };
    mergecast::survey::start::on_merged(&ctx.app.services.survey_context(), &job, now)
        .await
        .unwrap();
    let asked: Vec<(String, bool)> = sqlx::query_as(
        "SELECT role, asked_at IS NOT NULL FROM survey_participants WHERE survey_id = $1 ORDER BY role",
    )
    .bind(survey)
    .fetch_all(&ctx.app.pool)
    .await
    .unwrap();
    assert_eq!(
        asked,
        vec![("author".to_string(), true), ("reviewer".to_string(), true)]
    );
    assert_eq!((ctx.dms("UMONA"), ctx.dms("UHUBOT")), (1, 1));
    ctx.app.stop().await;
}

/// Slack refusing a DM for good (here `cannot_dm_bot`) passes that person over with the reason,
/// and the next ticks do not ask again.
#[sqlx::test]
async fn a_permanent_slack_error_on_the_ask_is_not_retried(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    ctx.slack.with(|m| {
        m.fail_next
            .push(("conversations.open".into(), "cannot_dm_bot".into()))
    });
    ctx.merge().await;
    ctx.wait_dms("UHUBOT", 1).await;
    let skipped: Option<String> =
        sqlx::query_scalar("SELECT skip_reason FROM survey_participants WHERE role = 'author'")
            .fetch_one(&ctx.app.pool)
            .await
            .unwrap();
    assert_eq!(skipped.as_deref(), Some("slack error: cannot_dm_bot"));
    let opens_to_mona = || {
        ctx.slack.with(|m| {
            m.calls_to("conversations.open")
                .iter()
                .filter(|c| c.params["users"] == "UMONA")
                .count()
        })
    };
    let opens = opens_to_mona();
    let sc = ctx.app.services.survey_context();
    tick::tick(&sc, Utc::now()).await.unwrap();
    tick::tick(&sc, Utc::now() + chrono::Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(opens_to_mona(), opens, "no new attempt for the author");
    ctx.app.stop().await;
}

/// One recipient's reveal refused for good (`account_inactive`) does not stop the others' or
/// the survey's end: the reviewer gets theirs, the survey is revealed, and it closes on time.
#[sqlx::test]
async fn a_permanent_slack_error_on_one_reveal_spares_the_others(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    let survey = ctx.merged_and_asked().await;
    assert_eq!(ctx.click("UMONA", "ai_a_lot", survey).await, 200);
    ctx.wait_answer(MONA).await;
    // The next message posted, the author's reveal (the author comes first), is refused.
    ctx.slack.with(|m| {
        m.fail_next
            .push(("chat.postMessage".into(), "account_inactive".into()))
    });
    assert_eq!(ctx.click("UHUBOT", "guess_yes", survey).await, 200);
    wait_until("the reviewer's reveal", Duration::from_secs(20), || async {
        ctx.count_to("UHUBOT", "reveal") == 1
    })
    .await;
    wait_until("revealed", Duration::from_secs(20), || async {
        ctx.app
            .count("SELECT count(*) FROM surveys WHERE status = 'revealed'")
            .await
            == 1
    })
    .await;
    assert_eq!(ctx.count_to("UMONA", "reveal"), 0);
    let error: Option<String> =
        sqlx::query_scalar("SELECT reveal_error FROM survey_participants WHERE role = 'author'")
            .fetch_one(&ctx.app.pool)
            .await
            .unwrap();
    assert_eq!(error.as_deref(), Some("account_inactive"));
    let posts = ctx.slack.with(|m| m.count_calls("chat.postMessage"));
    let report = tick::tick(
        &ctx.app.services.survey_context(),
        Utc::now() + chrono::Duration::hours(73),
    )
    .await
    .unwrap();
    assert_eq!(report.closed, 1);
    assert_eq!(
        ctx.slack.with(|m| m.count_calls("chat.postMessage")),
        posts,
        "the refused reveal is not tried again"
    );
    ctx.app.stop().await;
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
                insert_survey(&pool, installation, installation * 1_000_000 + n, n as i32).await;
            surveys::add_participant(&pool, id, 1, "a", surveys::Role::Author, None)
                .await
                .unwrap();
            lone = id;
        }
    }
    let batch = surveys::due_for_asking(&pool, now, 500).await.unwrap();
    assert_eq!(batch.len(), 500);
    assert!(batch[..2].contains(&lone), "the other org goes first round");
}

/// An open survey of pull request `pull_request_id` by mona, as the merge job creates it, with
/// nobody in it yet.
async fn insert_survey(pool: &PgPool, installation: i64, pull_request_id: i64, number: i32) -> i64 {
    let now = Utc::now();
    mergecast::store::surveys::create(
        pool,
        &mergecast::store::surveys::NewSurvey {
            installation_id: installation,
            pull_request_id,
            repository_id: 0,
            repository_full_name: "octo-org/hello-world",
            number,
            title: "Add a feature",
            html_url: None,
            author_github_id: Some(MONA),
            author_login: Some("mona"),
            merged_at: Some(now),
            status: mergecast::store::surveys::SurveyStatus::Open,
            skip_reason: None,
            remind_at: now + chrono::Duration::hours(24),
            closes_at: now + chrono::Duration::hours(72),
        },
    )
    .await
    .unwrap()
    .expect("created")
}

/// As if the process died after Slack took a threaded message (a reminder, a reveal) and before
/// we recorded it: the retry finds the reply in its thread (`conversations.replies`; history
/// never shows thread replies) and sends nothing twice.
#[sqlx::test]
async fn threaded_messages_are_not_sent_twice_after_a_crash(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    let survey = ctx.merged_and_asked().await;
    let sc = ctx.app.services.survey_context();

    // The reminder (a reply in the survey DM's thread), then the crash.
    tick::tick(&sc, Utc::now() + chrono::Duration::hours(25))
        .await
        .unwrap();
    assert_eq!(ctx.count_to("UMONA", "Reminder"), 1);
    forget_sends(&ctx, "remind:").await;
    sqlx::query("UPDATE survey_participants SET reminded_at = NULL")
        .execute(&ctx.app.pool)
        .await
        .unwrap();
    tick::tick(&sc, Utc::now() + chrono::Duration::hours(26))
        .await
        .unwrap();
    assert_eq!(ctx.count_to("UMONA", "Reminder"), 1, "found in its thread");

    // The reveal, then the crash; closing the survey reveals again to whoever lacks one.
    assert_eq!(ctx.click("UMONA", "ai_a_lot", survey).await, 200);
    assert_eq!(ctx.click("UHUBOT", "guess_yes", survey).await, 200);
    wait_until("reveals", Duration::from_secs(20), || async {
        ctx.count_to("UMONA", "reveal") == 1 && ctx.count_to("UHUBOT", "reveal") == 1
    })
    .await;
    forget_sends(&ctx, "reveal:").await;
    sqlx::query("UPDATE survey_participants SET revealed_at = NULL")
        .execute(&ctx.app.pool)
        .await
        .unwrap();
    let report = tick::tick(&sc, Utc::now() + chrono::Duration::hours(73))
        .await
        .unwrap();
    assert_eq!(report.closed, 1);
    assert_eq!(ctx.count_to("UMONA", "reveal"), 1);
    assert_eq!(ctx.count_to("UHUBOT", "reveal"), 1);
    ctx.assert_nothing_sent_twice();
    ctx.app.stop().await;
}

/// Leaves the messages keyed `prefix…` as a crash right after Slack's answer would: still
/// "sending", with no `ts`, and old enough for a retry to take over.
async fn forget_sends(ctx: &Ctx, prefix: &str) {
    sqlx::query(
        "UPDATE slack_messages SET state = 'sending', ts = NULL, sent_at = NULL, created_at = now() - interval '2 minutes' WHERE key LIKE $1",
    )
    .bind(format!("{prefix}%"))
    .execute(&ctx.app.pool)
    .await
    .unwrap();
}

/// A suspended org is asked nothing and reminded of nothing until it is unsuspended; a deleted
/// org's survey closes without a word to anyone.
#[sqlx::test]
async fn suspended_and_deleted_orgs_get_nothing(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    ctx.app.deliver_and_apply("installation.suspend").await;
    assert_eq!(
        ctx.app
            .count("SELECT count(*) FROM installations WHERE status = 'suspended'")
            .await,
        1
    );
    ctx.merge().await;
    wait_until("survey created", Duration::from_secs(20), || async {
        ctx.app.count("SELECT count(*) FROM surveys").await == 1
    })
    .await;
    let sc = ctx.app.services.survey_context();
    tick::tick(&sc, Utc::now()).await.unwrap();
    assert_eq!(ctx.slack.with(|m| m.calls.len()), 0, "no Slack call at all");

    ctx.app.deliver_and_apply("installation.unsuspend").await;
    tick::tick(&sc, Utc::now()).await.unwrap();
    ctx.wait_dms("UMONA", 1).await;
    ctx.wait_dms("UHUBOT", 1).await;

    ctx.app.deliver_and_apply("installation.deleted").await;
    let calls = ctx.slack.with(|m| m.calls.len());
    let report = tick::tick(&sc, Utc::now() + chrono::Duration::hours(73))
        .await
        .unwrap();
    assert_eq!(report.closed, 1);
    assert_eq!(
        ctx.slack.with(|m| m.calls.len()),
        calls,
        "no reminder, reveal or update"
    );
    ctx.app.stop().await;
}

/// "Don't ask me again" follows the person: the same reviewer in a second org, and an outside
/// collaborator with no member row at all, are not asked again.
#[sqlx::test]
async fn opting_out_follows_the_person_across_orgs(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    ctx.merge().await;
    ctx.wait_dms("UHUBOT", 1).await;
    let survey = ctx.survey_id().await;
    assert_eq!(ctx.click("UHUBOT", "opt_out", survey).await, 200);
    wait_until("opted out", Duration::from_secs(20), || async {
        ctx.app
            .count("SELECT count(*) FROM person_opt_outs WHERE github_id = 1000001")
            .await
            == 1
    })
    .await;
    // hubot reviews in another org where mona is a member and hubot has no member row (an
    // outside collaborator).
    sqlx::query("INSERT INTO installations (id, account_login) VALUES ($1, 'other-org')")
        .bind(INST + 1)
        .execute(&ctx.app.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO members (installation_id, github_id, login, email) VALUES ($1, $2, 'mona', 'mona@example.com')")
        .bind(INST + 1)
        .bind(MONA)
        .execute(&ctx.app.pool)
        .await
        .unwrap();
    let (mut review, mut merged) = support::numbered_pr_fixtures(7);
    for body in [&mut review, &mut merged] {
        let mut v: serde_json::Value = serde_json::from_slice(body).unwrap();
        v["installation"]["id"] = json!(INST + 1);
        *body = serde_json::to_vec(&v).unwrap();
    }
    let (status, id) = ctx.app.deliver("pull_request_review", &review).await;
    assert_eq!(status, 202);
    ctx.app.wait_for_status(&id, &["processed"]).await;
    assert_eq!(ctx.app.deliver("pull_request", &merged).await.0, 202);
    wait_until(
        "the other org's survey asks its author",
        Duration::from_secs(20),
        || async { ctx.dms("UMONA") >= 2 },
    )
    .await;
    wait_until("passed over in the other org", Duration::from_secs(20), || async {
        ctx.app
            .count(&format!(
                "SELECT count(*) FROM survey_participants p JOIN surveys s ON s.id = p.survey_id WHERE s.installation_id = {} AND p.github_id = {HUBOT} AND p.skip_reason = 'opted out'",
                INST + 1
            ))
            .await
            == 1
    })
    .await;
    assert_eq!(ctx.dms("UHUBOT"), 1, "only the first org's DM");
    ctx.app.stop().await;
}

/// Messages promise only what can happen: an author whose PR nobody reviewed is not promised
/// guesses, and reviewers of an author who is not asked are not promised a reveal.
#[sqlx::test]
async fn messages_say_what_will_happen_without_the_other_side(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    ctx.app
        .deliver_and_apply("pull_request.closed_merged")
        .await;
    ctx.wait_dms("UMONA", 1).await;
    let survey = ctx.survey_id().await;
    let blocks = ctx.ask_blocks("UMONA", survey);
    assert!(
        blocks.contains("No reviewer of this PR is being asked"),
        "{blocks}"
    );

    // The next PR's author has opted out; its reviewer is told there will be no reveal.
    mergecast::store::surveys::opt_out(&ctx.app.pool, MONA)
        .await
        .unwrap();
    ctx.merge_numbered(2).await;
    wait_until("the reviewer's DM", Duration::from_secs(20), || async {
        ctx.dms("UHUBOT") == 1
    })
    .await;
    let second = ctx.survey_of(2).await.unwrap();
    let blocks = ctx.ask_blocks("UHUBOT", second);
    assert!(blocks.contains("The author is not being asked"), "{blocks}");
    assert_eq!(ctx.dms("UMONA"), 1);
    ctx.app.stop().await;
}

/// Two orgs with surveys in the same week: each gets its own board, naming only its own people
/// and counting only its own PRs; a board waits while a survey of its week is still open, and a
/// share of 100 % (which would tell each author's answer) is withheld.
#[sqlx::test]
async fn each_org_gets_its_own_board_once_its_week_is_closed(pool: PgPool) {
    let ctx = setup(pool, &[("SLACK_LEADERBOARD_CHANNEL", "CBOARD".into())]).await;
    ctx.slack.with(|m| m.public_channels.push("CBOARD".into()));
    let other = INST + 1;
    sqlx::query("INSERT INTO installations (id, account_login) VALUES ($1, 'other-org')")
        .bind(other)
        .execute(&ctx.app.pool)
        .await
        .unwrap();
    let sc = ctx.app.services.survey_context();
    let client = ctx.app.services.slack.clone().unwrap();
    let now = Utc::now();
    let last_week =
        mergecast::survey::leaderboard::previous_week_start(now) + chrono::Duration::days(2);
    // Org 1: four authors, three used AI, guessed by hubot. Org 2: three authors, all used AI,
    // guessed by "rival"; one of its surveys is still open.
    let orgs = [(INST, 4_i64, "hubot", 0_i64), (other, 3, "rival", 100)];
    for (installation, authors, guesser, base) in orgs {
        for i in 0..authors {
            let status = if installation == other && i == 0 {
                "revealed"
            } else {
                "closed"
            };
            let survey: i64 = sqlx::query_scalar(
                r#"INSERT INTO surveys (installation_id, pull_request_id, repository_id, repository_full_name, number, title,
                       status, created_at, merged_at, remind_at, closes_at)
                   VALUES ($1, $2, 1, 'o/r', $3, 't', $5, $4, $4, $4, $4) RETURNING id"#,
            )
            .bind(installation)
            .bind(7000 + base + i)
            .bind(i as i32)
            .bind(last_week)
            .bind(status)
            .fetch_one(&ctx.app.pool)
            .await
            .unwrap();
            let answer = if installation == INST && i == 0 {
                "none"
            } else {
                "a_lot"
            };
            sqlx::query(
                r#"INSERT INTO survey_participants (survey_id, github_id, login, role, asked_at, answer, answered_at) VALUES
                   ($1, $2, $3, 'author', $4, $5, $4), ($1, $6, $7, 'reviewer', $4, 'yes', $4)"#,
            )
            .bind(survey)
            .bind(8000 + base + i)
            .bind(format!("author{}", base + i))
            .bind(last_week)
            .bind(answer)
            .bind(9000 + base)
            .bind(guesser)
            .execute(&ctx.app.pool)
            .await
            .unwrap();
        }
    }
    let boards = || -> Vec<String> {
        ctx.slack.with(|m| {
            m.messages_in("CBOARD")
                .iter()
                .map(|msg| msg.text.clone())
                .collect()
        })
    };
    mergecast::survey::leaderboard::post_weekly(&sc, &client, "CBOARD", now)
        .await
        .unwrap();
    let posted = boards();
    assert_eq!(
        posted.len(),
        1,
        "org 2 waits for its open survey: {posted:?}"
    );
    assert!(posted[0].contains("hubot: 75% of 4"), "{}", posted[0]);
    assert!(posted[0].contains("*75%*"), "{}", posted[0]);
    assert!(!posted[0].contains("rival"), "{}", posted[0]);

    sqlx::query("UPDATE surveys SET status = 'closed'")
        .execute(&ctx.app.pool)
        .await
        .unwrap();
    mergecast::survey::leaderboard::post_weekly(&sc, &client, "CBOARD", now)
        .await
        .unwrap();
    let posted = boards();
    assert_eq!(posted.len(), 2, "{posted:?}");
    let second = &posted[1];
    assert!(second.contains("other-org"), "{second}");
    assert!(second.contains("rival: 100% of 3"), "{second}");
    assert!(!second.contains("hubot"), "{second}");
    assert!(
        !second.contains("AI-assisted"),
        "100 % is withheld: {second}"
    );
    ctx.app.stop().await;
}

/// A reviewer who is not a member of the org (an outside collaborator) is listed for its admins;
/// once an admin maps them to Slack, their next review gets them asked.
#[sqlx::test]
async fn an_outside_collaborator_mapped_by_an_admin_is_asked(pool: PgPool) {
    const OUTSIDER: i64 = 4343;
    let ctx = setup(pool, &[]).await;
    ctx.slack.with(|m| {
        m.add_user("UOUT", "outsider@elsewhere.example", "UTC", 0);
    });
    let with_outsider = |n: i64| {
        let (review, merged) = support::numbered_pr_fixtures(n);
        let mut v: serde_json::Value = serde_json::from_slice(&review).unwrap();
        v["review"]["user"]["login"] = json!("outsider");
        v["review"]["user"]["id"] = json!(OUTSIDER);
        (serde_json::to_vec(&v).unwrap(), merged)
    };
    for n in [1, 2] {
        let (review, merged) = with_outsider(n);
        let (status, id) = ctx.app.deliver("pull_request_review", &review).await;
        assert_eq!(status, 202);
        ctx.app.wait_for_status(&id, &["processed"]).await;
        assert_eq!(ctx.app.deliver("pull_request", &merged).await.0, 202);
        wait_until("the outsider is considered", Duration::from_secs(20), || async {
            ctx.app
                .count(&format!(
                    "SELECT count(*) FROM survey_participants p JOIN surveys s ON s.id = p.survey_id WHERE s.pull_request_id = {} AND p.github_id = {OUTSIDER} AND (p.skip_reason IS NOT NULL OR p.asked_at IS NOT NULL)",
                    support::FIXTURE_PR_ID + n
                ))
                .await
                == 1
        })
        .await;
        if n == 1 {
            assert_eq!(ctx.dms("UOUT"), 0, "nobody knows who they are on Slack yet");
            assert!(
                mergecast::store::surveys::map_outside_person(
                    &ctx.app.pool,
                    INST,
                    OUTSIDER,
                    Some("UOUT")
                )
                .await
                .unwrap(),
                "listed for the org's admins"
            );
        }
    }
    assert_eq!(ctx.dms("UOUT"), 1, "asked on the second PR");
    ctx.app.stop().await;
}

/// A step that finds someone already asked (a concurrent advance, a tick between the post and
/// its record) does not ask them "again": their deadlines and the survey's end stay put.
#[sqlx::test]
async fn a_second_ask_record_moves_no_deadline(pool: PgPool) {
    let ctx = setup(pool, &[]).await;
    ctx.merge().await;
    ctx.wait_dms("UMONA", 1).await;
    let survey = ctx.survey_id().await;
    wait_until("asked", Duration::from_secs(20), || async {
        ctx.app
            .count("SELECT count(*) FROM survey_participants WHERE asked_at IS NOT NULL AND remind_due_at IS NOT NULL")
            .await
            == 2
    })
    .await;
    let before: (chrono::DateTime<Utc>,) = sqlx::query_as("SELECT closes_at FROM surveys")
        .fetch_one(&ctx.app.pool)
        .await
        .unwrap();
    let again = mergecast::store::surveys::mark_asked(&ctx.app.pool, survey, MONA, "D1", "1.0")
        .await
        .unwrap();
    assert!(!again, "already asked");
    // A tick a day later finds nobody to ask and moves nothing.
    tick::tick(
        &ctx.app.services.survey_context(),
        Utc::now() + chrono::Duration::hours(25),
    )
    .await
    .unwrap();
    let after: (chrono::DateTime<Utc>,) = sqlx::query_as("SELECT closes_at FROM surveys")
        .fetch_one(&ctx.app.pool)
        .await
        .unwrap();
    assert_eq!(before, after);
    ctx.app.stop().await;
}
