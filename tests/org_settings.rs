//! Settings per org: a new installation starts from the environment and keeps what it saved;
//! the admin page saves with validation, an audit row per changed field (none for a save that
//! changes nothing) and an optimistic version; it is scoped to the org's admins; and the survey
//! flow follows each org's own settings (surveys off, exclusions, working days, the board's
//! channel and day), asserted in the database and on the fake Slack.

mod support;

#[path = "support/admin_client.rs"]
mod admin_client;

use chrono::{Datelike, Duration, Utc};
use mergecast::store::org_settings::{self, Actor, ExcludedRepository};
use mergecast::store::surveys::SurveyStatus;
use mergecast::survey::settings::{self, Channel, OrgSettings};
use sqlx::PgPool;
use support::TestApp;
use support::browser::{Browser, csrf};
use support::fake_github::FakeGithub;
use support::fake_slack::FakeSlack;
use support::scenario::survey::PastSurvey;
use support::scenario::{HUBOT, INSTALLATION, MONA, OTHER_INSTALLATION, OTHER_ORG, Scenario};

const SLACK_TOKEN: &str = "xoxb-settings-test";

/// Org A (installation 1, account 501) with repositories `org-a/api` (11) and `org-a/legacy`
/// (12); org B (installation 2, account 502) with `org-b/site` (21).
async fn seed(pool: &PgPool) {
    let statements = [
        "INSERT INTO installations (id, account_login, account_type, account_id) VALUES
         (1, 'org-a', 'Organization', 501), (2, 'org-b', 'Organization', 502)",
        "INSERT INTO repositories (id, installation_id, full_name, name) VALUES
         (11, 1, 'org-a/api', 'api'), (12, 1, 'org-a/legacy', 'legacy'),
         (21, 2, 'org-b/site', 'site')",
    ];
    for sql in statements {
        sqlx::query(sql).execute(pool).await.expect(sql);
    }
}

/// A fake Slack whose workspace has `#board`, `#general` and the private `#leads`.
async fn slack() -> FakeSlack {
    let slack = FakeSlack::start(SLACK_TOKEN).await;
    slack.with(|m| {
        m.add_channel("CBOARD", "board", false);
        m.add_channel("CGEN", "general", false);
        m.add_channel("GLEADS", "leads", true);
    });
    slack
}

/// The environment's survey settings, and Slack pointed at `slack`.
fn env(slack: &FakeSlack, hours: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SLACK_BOT_TOKEN", SLACK_TOKEN.to_string()),
        ("SLACK_SIGNING_SECRET", "signing".to_string()),
        ("SLACK_API_URL", slack.url.clone()),
        ("SLACK_LEADERBOARD_CHANNEL", "CBOARD".to_string()),
        ("SURVEY_WORKING_HOURS", hours.to_string()),
        ("SURVEY_WORKING_DAYS", "mon,tue,wed,thu".to_string()),
        ("SURVEY_REMIND_AFTER_SECS", "7200".to_string()),
        ("SURVEY_TTL_SECS", "172800".to_string()),
        ("SURVEY_BOT_LOGINS", "ci-bot".to_string()),
        (
            "SURVEY_EXCLUDED_REPOSITORIES",
            "Org-A/Legacy,org-b/nothing".to_string(),
        ),
        ("SURVEY_EXCLUDED_LABELS", "Chore".to_string()),
        // The board is not this test's subject: no tick posts one behind its back.
        ("SURVEY_TICK_MS", "3600000".to_string()),
    ]
}

struct Setup {
    app: TestApp,
    slack: FakeSlack,
    _github: FakeGithub,
}

/// The web app with sign-in (alice administers org-a) and the environment above.
async fn start(pool: &PgPool) -> Setup {
    seed(pool).await;
    let github = FakeGithub::start(support::APP_ID).await;
    let slack = slack().await;
    let app = admin_client::app_with(pool, &github, "org-a", &env(&slack, "08:30-17:00")).await;
    Setup {
        app,
        slack,
        _github: github,
    }
}

async fn operator(app: &TestApp) -> Browser {
    let mut b = Browser::new(app);
    b.sign_in_operator(admin_client::PASSWORD).await;
    b
}

async fn alice(app: &TestApp) -> Browser {
    let mut b = Browser::new(app);
    admin_client::sign_in_org_admin(&mut b).await;
    b
}

/// The settings form as the environment's defaults fill it, with `changes` replacing (or, for
/// a repeated field, standing in for) the fields they name.
fn form<'a>(
    csrf: &'a str,
    version: &'a str,
    changes: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let base = [
        ("survey_enabled", "on"),
        ("working_hours", "08:30-17:00"),
        ("working_days", "mon"),
        ("working_days", "tue"),
        ("working_days", "wed"),
        ("working_days", "thu"),
        ("remind_after", "2h"),
        ("ttl", "2d"),
        ("excluded_repositories", "12"),
        ("excluded_labels", "chore"),
        ("bot_logins", "ci-bot"),
        ("leaderboard_channel", "CBOARD"),
        ("leaderboard_day", "mon"),
    ];
    let mut out = vec![("csrf", csrf), ("version", version)];
    out.extend(
        base.iter()
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .copied(),
    );
    out.extend(changes.iter().filter(|(_, v)| !v.is_empty()).copied());
    out
}

async fn stored(pool: &PgPool, installation: i64) -> org_settings::StoredSettings {
    org_settings::get(pool, installation)
        .await
        .expect("read settings")
        .expect("settings stored")
}

async fn audit(pool: &PgPool, installation: i64) -> Vec<org_settings::AuditEntry> {
    org_settings::audit(pool, installation, 100)
        .await
        .expect("read audit")
}

#[sqlx::test]
async fn a_new_installation_starts_from_the_environment_and_keeps_what_it_has(pool: PgPool) {
    let Setup {
        app,
        slack,
        _github,
    } = start(&pool).await;
    assert!(org_settings::get(&pool, 1).await.unwrap().is_none());
    let mut op = operator(&app).await;
    let page = op.get("/admin/installations/1/settings").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("value=\"08:30-17:00\""), "{}", page.body);
    assert!(page.body.contains("#board (CBOARD)"));
    assert!(
        page.body.contains("#leads (GLEADS)"),
        "private channels the bot is in"
    );
    assert!(
        page.body
            .contains("the defaults this installation started with")
    );

    let s = stored(&pool, 1).await;
    assert_eq!(s.version, 1);
    assert_eq!(s.updated_by, None);
    let r = &s.settings;
    assert!(r.survey_enabled);
    assert_eq!((r.work_start_minute, r.work_end_minute), (510, 1020));
    assert_eq!(r.working_days, vec![0, 1, 2, 3]);
    assert_eq!((r.remind_after_secs, r.ttl_secs), (7200, 172_800));
    assert_eq!(
        r.excluded_repositories,
        vec![ExcludedRepository {
            id: 12,
            name: "org-a/legacy".into()
        }],
        "the env's names become this org's repositories; other orgs' names are dropped"
    );
    assert_eq!(r.excluded_labels, vec!["chore"]);
    assert_eq!(r.bot_logins, vec!["ci-bot"]);
    assert_eq!(r.leaderboard_channel_id.as_deref(), Some("CBOARD"));
    assert_eq!(r.leaderboard_day, 0);
    assert!(audit(&pool, 1).await.is_empty());
    assert_eq!(slack.with(|m| m.count_calls("conversations.list")), 1);
    app.stop().await;

    // The environment changes: org A keeps what it has; org B, new, starts from the new values.
    let github = FakeGithub::start(support::APP_ID).await;
    let later = admin_client::app_with(&pool, &github, "org-a", &env(&slack, "10:00-11:00")).await;
    let mut op = operator(&later).await;
    let a = op.get("/admin/installations/1/settings").await;
    assert!(a.body.contains("value=\"08:30-17:00\""), "{}", a.body);
    assert_eq!(stored(&pool, 1).await, s);
    let b = op.get("/admin/installations/2/settings").await;
    assert_eq!(b.status, 200);
    assert!(b.body.contains("value=\"10:00-11:00\""));
    let b = stored(&pool, 2).await.settings;
    assert_eq!((b.work_start_minute, b.work_end_minute), (600, 660));
    assert!(b.excluded_repositories.is_empty());
    later.stop().await;
}

#[sqlx::test]
async fn a_save_writes_who_changed_what_and_a_no_op_writes_nothing(pool: PgPool) {
    let Setup {
        app,
        slack: _slack,
        _github,
    } = start(&pool).await;
    let before = Utc::now();
    let mut op = operator(&app).await;
    let page = op.get("/admin/installations/1/settings").await;
    let token = csrf(&page.body);
    let changes = [
        ("survey_enabled", ""),
        ("working_hours", "07:00-15:00"),
        ("leaderboard_channel", "CGEN"),
        ("leaderboard_day", "fri"),
    ];
    let saved = op
        .post(
            "/admin/installations/1/settings",
            &form(&token, "1", &changes),
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        saved.location.as_deref(),
        Some("/admin/installations/1/settings?notice=saved")
    );
    let s = stored(&pool, 1).await;
    assert_eq!(s.version, 2);
    assert_eq!(s.updated_by, Some(Actor::Operator));
    assert!(!s.settings.survey_enabled);
    assert_eq!(
        (s.settings.work_start_minute, s.settings.work_end_minute),
        (420, 900)
    );
    assert_eq!(s.settings.leaderboard_channel_id.as_deref(), Some("CGEN"));
    assert_eq!(
        s.settings.leaderboard_channel_name.as_deref(),
        Some("general")
    );
    assert_eq!(s.settings.leaderboard_day, 4);
    let log = audit(&pool, 1).await;
    let mut fields: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|a| (a.field.as_str(), a.old_value.as_str(), a.new_value.as_str()))
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            ("leaderboard channel", "CBOARD", "#general (CGEN)"),
            ("leaderboard day", "mon", "fri"),
            ("survey", "on", "off"),
            ("working hours", "08:30-17:00", "07:00-15:00"),
        ]
    );
    assert!(log.iter().all(|a| a.actor == Actor::Operator));
    assert!(
        log.iter()
            .all(|a| a.changed_at >= before - Duration::seconds(5))
    );

    // The same values again: nothing written, no audit row, the version stays.
    let again = op
        .post(
            "/admin/installations/1/settings",
            &form(&token, "2", &changes),
        )
        .await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(stored(&pool, 1).await, s);
    assert_eq!(audit(&pool, 1).await.len(), 4);

    // The org's admin changes the labels: the log names them, newest first on the page.
    let mut admin = alice(&app).await;
    let page = admin.get("/admin/installations/1/settings").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = csrf(&page.body);
    let mut changes = changes.to_vec();
    changes.push(("excluded_labels", "chore, WIP,wip"));
    let by_alice = admin
        .post(
            "/admin/installations/1/settings",
            &form(&token, "2", &changes),
        )
        .await;
    assert_eq!(by_alice.status, 303, "{}", by_alice.body);
    assert_eq!(
        stored(&pool, 1).await.settings.excluded_labels,
        vec!["chore", "wip"]
    );
    let log = audit(&pool, 1).await;
    assert_eq!(log.len(), 5);
    assert_eq!(log[0].actor, Actor::Github("alice".into()));
    assert_eq!(
        (log[0].old_value.as_str(), log[0].new_value.as_str()),
        ("chore", "chore, wip")
    );
    let page = admin.get("/admin/installations/1/settings").await;
    let labels_row = page.body.find("<td>excluded labels</td>");
    let hours_row = page.body.find("<td>working hours</td>");
    assert!(
        labels_row.is_some() && hours_row.is_some() && labels_row < hours_row,
        "newest first: {}",
        page.body
    );
    assert!(page.body.contains("Last saved by alice"));
    app.stop().await;
}

#[sqlx::test]
async fn an_invalid_form_is_shown_again_with_its_errors_and_nothing_is_saved(pool: PgPool) {
    let Setup {
        app,
        slack: _slack,
        _github,
    } = start(&pool).await;
    let mut op = operator(&app).await;
    let page = op.get("/admin/installations/1/settings").await;
    let token = csrf(&page.body);
    let before = stored(&pool, 1).await;
    let bad = op
        .post(
            "/admin/installations/1/settings",
            &form(
                &token,
                "1",
                &[
                    ("working_hours", "18:00-09:00"),
                    ("remind_after", "5d"),
                    ("excluded_repositories", "21"),
                    ("leaderboard_channel", "CNOPE"),
                    ("bot_logins", "ci-bot, not a login"),
                ],
            ),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    for message in [
        "working hours: expected HH:MM-HH:MM",
        "reminder after: must be shorter than closes after",
        "excluded repositories: &quot;21&quot; is not one of this org&#39;s repositories",
        "leaderboard channel: &quot;CNOPE&quot; is not one of the workspace&#39;s channels",
        "bot logins: &quot;not a login&quot; is not a valid GitHub login",
    ] {
        let found = bad.body.contains(message) || bad.body.contains(&message.replace("&#39;", "'"));
        assert!(found, "{message}: {}", bad.body);
    }
    // The values as typed are kept.
    assert!(bad.body.contains("value=\"18:00-09:00\""));
    assert!(bad.body.contains("value=\"5d\""));
    assert!(bad.body.contains("ci-bot, not a login"));
    assert_eq!(stored(&pool, 1).await, before);
    assert!(audit(&pool, 1).await.is_empty());

    // No CSRF token: refused before anything is read.
    let forged = op
        .post(
            "/admin/installations/1/settings",
            &form("", "1", &[("working_hours", "07:00-15:00")]),
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(stored(&pool, 1).await, before);
    app.stop().await;
}

#[sqlx::test]
async fn a_save_from_a_stale_form_is_refused(pool: PgPool) {
    let Setup {
        app,
        slack: _slack,
        _github,
    } = start(&pool).await;
    let mut op = operator(&app).await;
    let mut admin = alice(&app).await;
    let op_token = csrf(&op.get("/admin/installations/1/settings").await.body);
    let alice_token = csrf(&admin.get("/admin/installations/1/settings").await.body);

    let first = admin
        .post(
            "/admin/installations/1/settings",
            &form(&alice_token, "1", &[("working_hours", "07:00-15:00")]),
        )
        .await;
    assert_eq!(first.status, 303, "{}", first.body);
    let late = op
        .post(
            "/admin/installations/1/settings",
            &form(&op_token, "1", &[("excluded_labels", "docs")]),
        )
        .await;
    assert_eq!(late.status, 409, "{}", late.body);
    assert!(late.body.contains("someone else saved these settings"));
    assert!(late.body.contains(">docs<"), "typed values kept");
    let s = stored(&pool, 1).await;
    assert_eq!(s.version, 2);
    assert_eq!(s.settings.work_start_minute, 420);
    assert_eq!(s.settings.excluded_labels, vec!["chore"]);
    let log = audit(&pool, 1).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].actor, Actor::Github("alice".into()));
    app.stop().await;
}

#[sqlx::test]
async fn another_orgs_admin_can_neither_read_nor_write(pool: PgPool) {
    let Setup {
        app,
        slack: _slack,
        _github,
    } = start(&pool).await;
    let mut admin = alice(&app).await;
    let token = csrf(&admin.get("/admin/installations/1/settings").await.body);
    let read = admin.get("/admin/installations/2/settings").await;
    assert_eq!(read.status, 404);
    assert!(!read.body.contains("org-b/site"));
    let write = admin
        .post(
            "/admin/installations/2/settings",
            &form(&token, "1", &[("survey_enabled", "")]),
        )
        .await;
    assert_eq!(write.status, 404);
    assert!(org_settings::get(&pool, 2).await.unwrap().is_none());
    assert!(audit(&pool, 2).await.is_empty());
    // Unknown installations are 404s as well, for everyone.
    assert_eq!(
        admin.get("/admin/installations/3/settings").await.status,
        404
    );
    let mut op = operator(&app).await;
    let b = op.get("/admin/installations/2/settings").await;
    assert_eq!(b.status, 200);
    assert!(b.body.contains("org-b/site"));
    // The installations page links each one's settings.
    let list = admin.get("/admin/installations").await;
    assert!(list.body.contains("/admin/installations/1/settings"));
    assert!(!list.body.contains("/admin/installations/2/settings"));
    app.stop().await;
}

#[sqlx::test]
async fn when_slack_cannot_list_channels_the_current_one_is_kept(pool: PgPool) {
    let Setup {
        app,
        slack,
        _github,
    } = start(&pool).await;
    let mut op = operator(&app).await;
    slack.with(|m| {
        m.fail_next
            .push(("conversations.list".into(), "missing_scope".into()))
    });
    let page = op.get("/admin/installations/1/settings").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("Slack did not list the channels (missing_scope)"),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"CBOARD\""));
    let token = csrf(&page.body);
    slack.with(|m| {
        m.fail_next
            .push(("conversations.list".into(), "missing_scope".into()))
    });
    let other = op
        .post(
            "/admin/installations/1/settings",
            &form(&token, "1", &[("leaderboard_channel", "CGEN")]),
        )
        .await;
    assert_eq!(other.status, 422);
    assert!(other.body.contains("could not be read"));
    slack.with(|m| {
        m.fail_next
            .push(("conversations.list".into(), "missing_scope".into()))
    });
    let keep = op
        .post(
            "/admin/installations/1/settings",
            &form(&token, "1", &[("leaderboard_day", "tue")]),
        )
        .await;
    assert_eq!(keep.status, 303, "{}", keep.body);
    let s = stored(&pool, 1).await.settings;
    assert_eq!(s.leaderboard_channel_id.as_deref(), Some("CBOARD"));
    assert_eq!(s.leaderboard_day, 1);
    app.stop().await;
}

/// Changes `installation`'s settings as an admin would (through the domain's save).
async fn set(s: &Scenario, installation: i64, change: impl FnOnce(&mut OrgSettings)) {
    let ctx = s.app.services.survey_context();
    let loaded = settings::load(s.pool(), &ctx.settings_defaults(), installation)
        .await
        .expect("load settings");
    let mut new = loaded.settings.clone();
    change(&mut new);
    settings::save(
        s.pool(),
        installation,
        loaded.version,
        &new,
        &Actor::Operator,
    )
    .await
    .expect("save settings");
}

/// Labels `pr` with `label` on the fake GitHub (the merge webhook carries it).
fn label(s: &Scenario, pr: i64, label: &str) {
    s.github(|m| {
        m.pulls
            .iter_mut()
            .find(|p| p.id == pr)
            .expect("the pull request")
            .labels
            .push(label.to_owned())
    });
}

#[sqlx::test]
async fn each_org_is_surveyed_by_its_own_settings(pool: PgPool) {
    let s = Scenario::builder(pool)
        .env("SURVEY_TICK_MS", "3600000")
        .start()
        .await;
    let (skipped_repo, _) = s.add_repo("skip-me").await;
    let elsewhere = s.install_other_org().await;
    // Org A excludes `skip-me` and the label `chore`. Org B excludes nothing but works only on
    // the weekday three days from now (not today anywhere on Earth).
    let skipped_name = format!("{}/skip-me", support::scenario::ORG);
    set(&s, INSTALLATION, |o| {
        o.excluded_repositories = vec![ExcludedRepository {
            id: skipped_repo,
            name: skipped_name,
        }];
        o.excluded_labels = vec!["chore".into()];
    })
    .await;
    let far_day = (Utc::now().weekday().num_days_from_monday() + 3) % 7;
    set(&s, OTHER_INSTALLATION, |o| o.working_days = vec![far_day]).await;

    // Org A: the excluded repository and label are skipped; an ordinary PR is asked.
    let in_skipped = s.open_pr_in(skipped_repo, MONA).await;
    s.merge(in_skipped).await;
    let labelled = s.open_pr(MONA).await;
    label(&s, labelled.id, "Chore");
    s.merge(labelled).await;
    let ordinary = s.open_pr(MONA).await;
    s.merge(ordinary).await;
    s.slack().dm(MONA).wait_count(1).await;
    for (pr, reason) in [
        (in_skipped, "repository excluded"),
        (labelled, "label chore excluded"),
    ] {
        let v = s
            .survey_until(pr, reason, |v| v.status() == SurveyStatus::Skipped)
            .await;
        assert_eq!(v.state.skip_reason.as_deref(), Some(reason));
        assert!(v.participants.is_empty());
    }
    s.survey_until(ordinary, "mona asked", |v| {
        v.participant(MONA).is_some_and(|p| p.asked_at.is_some())
    })
    .await;

    // Org B: the same label is surveyed there, but mona waits for org B's working day.
    let b_labelled = s.open_pr_in(elsewhere, MONA).await;
    label(&s, b_labelled.id, "chore");
    s.merge(b_labelled).await;
    let waiting = s
        .survey_until(b_labelled, "mona waits for org B's working day", |v| {
            v.participant(MONA).is_some_and(|p| p.send_after.is_some())
        })
        .await;
    assert_eq!(waiting.status(), SurveyStatus::Open);
    let mona = waiting.participant(MONA).expect("mona");
    assert!(mona.asked_at.is_none());
    let send_after = mona.send_after.expect("send after");
    assert!(
        send_after > Utc::now() + Duration::hours(24),
        "{send_after}"
    );
    let local = send_after.with_timezone(&chrono_tz::Europe::Berlin);
    assert_eq!(
        local.weekday().num_days_from_monday(),
        far_day,
        "on org B's working day in mona's zone: {local}"
    );

    // Org B turns surveys off: its next merge starts no survey, saying why.
    set(&s, OTHER_INSTALLATION, |o| o.survey_enabled = false).await;
    let off = s.open_pr_in(elsewhere, MONA).await;
    s.merge(off).await;
    let v = s
        .survey_until(off, "skipped", |v| v.status() == SurveyStatus::Skipped)
        .await;
    assert_eq!(
        v.state.skip_reason.as_deref(),
        Some("surveys are turned off for this org")
    );
    assert!(v.participants.is_empty());
    // Org A is still surveyed.
    let still = s.open_pr(MONA).await;
    s.merge(still).await;
    s.slack().dm(MONA).wait_count(2).await;
    assert_eq!(s.slack().dm(MONA).count(), 2, "only org A's two asks");
    s.stop().await;
}

#[sqlx::test]
async fn each_org_gets_its_board_in_its_channel_on_its_day(pool: PgPool) {
    use mergecast::ids::InstallationId;
    use mergecast::store::installations;
    let s = Scenario::builder(pool)
        .env("SLACK_LEADERBOARD_CHANNEL", "CBOARD")
        .env("SURVEY_TICK_MS", "3600000")
        .start()
        .await;
    installations::ensure(s.pool(), InstallationId(OTHER_INSTALLATION), OTHER_ORG)
        .await
        .unwrap();
    s.slack().with(|m| {
        m.add_channel("CA", "board-a", false);
        m.add_channel("CB", "board-b", false);
    });
    set(&s, INSTALLATION, |o| {
        o.leaderboard_channel = Some(Channel {
            id: "CA".into(),
            name: Some("board-a".into()),
        });
    })
    .await;
    set(&s, OTHER_INSTALLATION, |o| {
        o.leaderboard_channel = Some(Channel {
            id: "CB".into(),
            name: Some("board-b".into()),
        });
        o.leaderboard_day = chrono::Weekday::Sun;
    })
    .await;
    let last_monday = mergecast::survey::leaderboard::previous_week_start(Utc::now());
    // Four authors per org last week, three of them used AI, each guessed by one reviewer.
    for (installation, base, guesser) in [
        (INSTALLATION, 0_i64, "hubot"),
        (OTHER_INSTALLATION, 100, "rival"),
    ] {
        for i in 0..4_i64 {
            let login = format!("author{}", base + i);
            s.past_survey(PastSurvey {
                installation,
                pull_request_id: 7000 + base + i,
                number: i as i32,
                merged_at: last_monday + Duration::days(2),
                status: SurveyStatus::Closed,
                author: (
                    8000 + base + i,
                    &login,
                    if i == 0 { "none" } else { "a_lot" },
                ),
                reviewer: (HUBOT.github_id + base, guesser, "yes"),
            })
            .await;
        }
    }
    // Wednesday of this week: org A's day (Monday) has come, org B's (Sunday) has not.
    let wednesday = last_monday + Duration::days(9) + Duration::hours(12);
    s.post_leaderboard(wednesday).await;
    let a = s.slack().channel_texts("CA");
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(
        a[0].contains(support::scenario::ORG) && a[0].contains("hubot"),
        "{}",
        a[0]
    );
    assert!(s.slack().channel_texts("CB").is_empty());
    assert!(
        s.slack().channel_texts("CBOARD").is_empty(),
        "no org uses the env's channel now"
    );

    // Sunday: org B's board, in its own channel; org A's is not posted again.
    let sunday = last_monday + Duration::days(13) + Duration::hours(12);
    s.post_leaderboard(sunday).await;
    let b = s.slack().channel_texts("CB");
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(
        b[0].contains(OTHER_ORG) && b[0].contains("rival"),
        "{}",
        b[0]
    );
    assert!(!b[0].contains("hubot"));
    assert_eq!(s.slack().channel_texts("CA").len(), 1);
    s.stop().await;
}
