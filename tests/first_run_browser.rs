//! From `scripts/run.sh` to a surveyed merge in one sitting, in a real browser (headless
//! Chromium over WebDriver): an unconfigured Mergecast, the setup code from its log, the
//! operator's password, the GitHub App registered from its manifest (fake GitHub), the app
//! installed on an org (the installation webhook, signed with the secret the manifest flow
//! created), the Slack app's credentials, "Add to Slack" for that org (fake Slack's consent
//! page), one of the org's settings changed, then a merge: the DM goes to that org's workspace,
//! asked under that org's settings. Secrets stay sealed throughout.

mod support;

use std::time::Duration;

use chrono::{Datelike, Utc};
use fantoccini::{Client, Locator};
use mergecast::app::Role;
use mergecast::github::signature;
use sqlx::PgPool;
use support::fake_github::{FakeGithub, InstallationAction, PullAction, User, Webhook};
use support::fake_slack::FakeSlack;
use support::log_capture::{log, setup_code};
use support::webdriver::{Driver, shot, submit_in, wait_path};
use support::{APP_ID, TestApp, redis_url, serve_env, wait_until};

const PASSWORD: &str = "first run operator passphrase";
const ORG: &str = "acme";
const INSTALLATION: i64 = 77001;
const MONA: i64 = 583231;
const MONA_EMAIL: &str = "mona@acme.example";
const TEAM: &str = "T0ACME0001";
const TEAM_TOKEN: &str = "xoxb-acme-workspace-token";
const MONA_IN_SLACK: &str = "UMONAACME";
const SLACK_CLIENT_ID: &str = "5555.6666";
const SLACK_CLIENT_SECRET: &str = "acme-slack-client-secret";
const SLACK_SIGNING_SECRET: &str = "acme-slack-signing-secret";
const WAIT: Duration = Duration::from_secs(30);

async fn fill(c: &Client, css: &str, text: &str) {
    let field = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

/// Waits until the page shows `text` (no double quotes in it).
async fn wait_text(c: &Client, text: &str) {
    let xpath = format!("//body[contains(., \"{text}\")]");
    if let Err(e) = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&xpath))
        .await
    {
        let source = c.source().await.unwrap_or_default();
        panic!("the page never showed {text:?} ({e}): {source}");
    }
}

async fn post_webhook(app: &TestApp, hook: &Webhook, secret: &str) -> u16 {
    let body = hook.bytes();
    app.client
        .post(app.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", hook.event)
        .header("x-github-delivery", uuid::Uuid::new_v4().to_string())
        .header(
            "x-hub-signature-256",
            signature::sign(secret.as_bytes(), &body),
        )
        .body(body)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

#[sqlx::test]
async fn an_empty_deployment_is_set_up_in_the_browser_and_surveys_a_merge_in_the_org_s_workspace(
    pool: PgPool,
) {
    log();
    let github = FakeGithub::start(APP_ID).await;
    github.with(|m| {
        m.orgs.insert(ORG.into(), 9001);
    });
    let slack = FakeSlack::start("xoxb-default-workspace-unused").await;
    let acme = slack.add_workspace(TEAM, "Acme", TEAM_TOKEN);
    acme.with(|m| {
        m.add_user(MONA_IN_SLACK, MONA_EMAIL, "Europe/Berlin", 3600);
        m.add_channel("CACMEBOARD", "acme-board", false).is_member = true;
    });
    // The environment surveys on one weekday only, three days from today: not today anywhere.
    // The org's own settings (changed below) are what let the merge be asked at once.
    let far_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [((Utc::now().weekday().num_days_from_monday() + 3) % 7) as usize];
    let key = mergecast::config::seal::Keyring::generate_key();
    let env = serve_env(
        &redis_url(),
        &[
            ("GITHUB_API_URL", github.url.clone()),
            ("GITHUB_WEB_URL", github.url.clone()),
            ("SLACK_API_URL", slack.url.clone()),
            ("SLACK_WEB_URL", slack.web_url.clone()),
            ("MERGECAST_ENCRYPTION_KEY", key),
            ("SURVEY_WORKING_HOURS", "00:00-24:00".into()),
            ("SURVEY_WORKING_DAYS", far_day.into()),
            ("SYNC_RATE_LIMIT_RESERVE", "100".into()),
        ],
    );
    let app = TestApp::serve(pool.clone(), Role::All, env).await;
    slack.set_oauth_app(
        SLACK_CLIENT_ID,
        SLACK_CLIENT_SECRET,
        &[&app.url("/admin/slack/oauth/callback")],
    );
    let driver = Driver::start().await;
    let c = driver.browser().await;

    // 1. `/` leads to setup; the code from the log and a password unlock it.
    c.goto(&app.url("/")).await.expect("open");
    wait_path(&c, "/admin/setup").await;
    let code = setup_code(app.addr).await;
    fill(&c, "#code", &code).await;
    fill(&c, "#password", PASSWORD).await;
    fill(&c, "#confirm", PASSWORD).await;
    submit_in(&c, "form[action='/admin/setup/password'] button").await;
    wait_text(&c, "Register the GitHub App").await;

    // 2. The GitHub App, from its manifest, owned by the org.
    fill(&c, "#public_url", &app.url("")).await;
    fill(&c, "#org", ORG).await;
    submit_in(&c, "form[action='/admin/setup/github'] button").await;
    wait_path(&c, "/admin/setup/github").await;
    submit_in(&c, "#manifest-form button").await;
    wait_text(&c, "The GitHub App is registered").await;
    shot(&c, "first-run-registered").await;
    let webhook_secret = github.manifest.lock().expect("flow").webhook_secret.clone();

    // 3. Installed on the org: GitHub's installation webhook, signed with the new secret (the
    // reload applies it within seconds), then "Sync now" brings in the members.
    let hook = github.with(|m| {
        m.add_org_installation(INSTALLATION, ORG);
        let mut mona = User::new(MONA, "mona");
        mona.email = Some(MONA_EMAIL.into());
        m.add_member(ORG, mona);
        m.add_repo(INSTALLATION, ORG, "api");
        m.installation_hook(INSTALLATION, InstallationAction::Created)
    });
    wait_until("the installation webhook accepted", WAIT, || async {
        post_webhook(&app, &hook, &webhook_secret).await == 202
    })
    .await;
    wait_until("the installation stored", WAIT, || async {
        app.count(&format!(
            "SELECT count(*) FROM installations WHERE id = {INSTALLATION} AND status = 'active'"
        ))
        .await
            == 1
    })
    .await;
    c.goto(&app.url("/admin/installations"))
        .await
        .expect("open");
    submit_in(
        &c,
        &format!("form[action='/admin/installations/{INSTALLATION}/sync'] button"),
    )
    .await;
    wait_until("mona synced with her public email", WAIT, || async {
        app.count(&format!(
            "SELECT count(*) FROM members WHERE installation_id = {INSTALLATION} AND email = '{MONA_EMAIL}'"
        ))
        .await
            == 1
    })
    .await;

    // 4. The Slack app's credentials.
    c.goto(&app.url("/admin/setup")).await.expect("open");
    fill(&c, "#client_id", SLACK_CLIENT_ID).await;
    fill(&c, "#client_secret", SLACK_CLIENT_SECRET).await;
    fill(&c, "#signing_secret", SLACK_SIGNING_SECRET).await;
    submit_in(&c, "form[action='/admin/setup/slack'] button").await;
    wait_text(&c, "The Slack app's credentials are stored").await;

    // 5. "Add to Slack" for the org: Slack's consent page, the org's workspace, Allow.
    let slack_page = app.url(&format!("/admin/installations/{INSTALLATION}/slack"));
    wait_until("the reloaded app offers Add to Slack", WAIT, || async {
        c.goto(&slack_page).await.expect("open");
        c.source()
            .await
            .unwrap_or_default()
            .contains("id=\"add-to-slack\"")
    })
    .await;
    submit_in(&c, "#add-to-slack").await;
    wait_path(&c, "/oauth/v2/authorize").await;
    c.find(Locator::Css("select[name=team]"))
        .await
        .expect("workspace picker")
        .select_by_value(TEAM)
        .await
        .expect("choose Acme");
    submit_in(&c, "#allow").await;
    wait_text(&c, "Added to Slack").await;
    shot(&c, "first-run-slack").await;

    // 6. One of the org's settings: every day is a working day, reminders after 3 hours, the
    // board in a channel of the org's own workspace.
    c.goto(&app.url(&format!("/admin/installations/{INSTALLATION}/settings")))
        .await
        .expect("open");
    for day in c
        .find_all(Locator::Css("input[name=working_days]"))
        .await
        .expect("days")
    {
        if !day.is_selected().await.expect("checked?") {
            day.click().await.expect("check the day");
        }
    }
    fill(&c, "input[name=remind_after]", "3h").await;
    c.find(Locator::Css("select[name=leaderboard_channel]"))
        .await
        .expect("channel picker")
        .select_by_value("CACMEBOARD")
        .await
        .expect("the org's channel");
    submit_in(&c, "form.settings button[type=submit]").await;
    wait_text(&c, "Saved").await;
    let (days, channel): (Vec<i16>, Option<String>) = sqlx::query_as(
        "SELECT working_days, leaderboard_channel_id FROM org_settings WHERE installation_id = $1",
    )
    .bind(INSTALLATION)
    .fetch_one(&pool)
    .await
    .expect("settings");
    assert_eq!(days.len(), 7);
    assert_eq!(channel.as_deref(), Some("CACMEBOARD"));

    // 7. A merge: mona is asked at once, in the org's workspace, under its settings.
    let (opened, merged) = github.with(|m| {
        let repo = m.repos.iter().find(|r| r.name == "api").expect("repo").id;
        let pull = m.add_pull(repo, MONA).id;
        (
            m.pull_hook(pull, PullAction::Opened),
            m.pull_hook(pull, PullAction::Merged(MONA)),
        )
    });
    assert_eq!(post_webhook(&app, &opened, &webhook_secret).await, 202);
    assert_eq!(post_webhook(&app, &merged, &webhook_secret).await, 202);
    wait_until("mona's DM in the org's workspace", WAIT, || async {
        acme.with(|m| m.messages_to(MONA_IN_SLACK).len()) == 1
    })
    .await;
    assert_eq!(
        slack.with(|m| m.count_calls("chat.postMessage")),
        0,
        "nothing through the default workspace"
    );
    wait_until("mona's ask recorded", WAIT, || async {
        app.count(&format!(
            "SELECT count(*) FROM survey_participants WHERE github_id = {MONA} AND remind_due_at IS NOT NULL"
        ))
        .await
            == 1
    })
    .await;
    let (asked, due): (chrono::DateTime<Utc>, chrono::DateTime<Utc>) = sqlx::query_as(
        "SELECT asked_at, remind_due_at FROM survey_participants WHERE github_id = $1",
    )
    .bind(MONA)
    .fetch_one(&pool)
    .await
    .expect("mona's ask");
    // Three hours of working time from the ask (every hour is working time now).
    let delay = (due - asked).num_seconds();
    assert!(
        (3 * 3600 - 60..=3 * 3600 + 60).contains(&delay),
        "the org's reminder delay: {delay}s"
    );

    // Secrets only sealed: the workspace token and the Slack app's secrets are nowhere in clear.
    let stored: String = sqlx::query_scalar(
        "SELECT coalesce(string_agg(encode(sealed, 'escape'), ' '), '') FROM sealed_secrets",
    )
    .fetch_one(&pool)
    .await
    .expect("sealed");
    let settings: String = sqlx::query_scalar(
        "SELECT coalesce(string_agg(t::text, ' '), '') FROM (SELECT * FROM app_settings) t",
    )
    .fetch_one(&pool)
    .await
    .expect("settings");
    for secret in [
        TEAM_TOKEN,
        SLACK_CLIENT_SECRET,
        SLACK_SIGNING_SECRET,
        &webhook_secret,
    ] {
        assert!(
            !stored.contains(secret) && !settings.contains(secret),
            "{secret} in clear"
        );
    }
    c.close().await.expect("close the browser");
    driver.stop().await;
    app.stop().await;
}
