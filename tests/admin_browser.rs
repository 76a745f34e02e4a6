//! The admin pages in a real browser: headless Chromium driven over WebDriver (chromedriver,
//! `support::webdriver`) with fantoccini. Signs in both ways, toggles a member, maps a
//! Slack user, replays a dead delivery, and saves a screenshot of each page under
//! `target/screenshots/` (the overview also to `docs/admin-overview.png` for the README).

mod support;

use std::path::Path;
use std::time::Duration;

use fantoccini::{Client, Locator};
use mergecast::app::Role;
use mergecast::config::hash_password;
use serde_json::json;
use sqlx::PgPool;
use support::fake_github::{FakeGithub, User};
use support::webdriver::{Driver, shot, submit_in, wait_path};
use support::{TestApp, redis_url, test_config_with, wait_until};

const PASSWORD: &str = "browser-test-password";

async fn seed(pool: &PgPool) {
    let member_added = String::from_utf8(support::member_added_hook().bytes()).expect("utf8");
    for sql in [
        "INSERT INTO installations (id, account_id, account_login, account_type) VALUES
         (41234567, 503, 'octo-org', 'Organization'), (2, 502, 'other-org', 'Organization')",
        "INSERT INTO repositories (id, installation_id, full_name, name) VALUES (11, 41234567, 'octo-org/api', 'api')",
        "INSERT INTO members (installation_id, github_id, login, name, slack_unmapped_reason) VALUES
         (41234567, 101, 'alice', 'Alice Anders', NULL),
         (41234567, 102, 'bob', 'Bob Berg', 'no Slack user with this email'),
         (2, 201, 'carol', 'Carol Chen', NULL)",
        "INSERT INTO sync_runs (installation_id, started_at, finished_at, status, created, updated, api_calls, not_modified)
         VALUES (41234567, now() - interval '20 minutes', now() - interval '19 minutes', 'success', 12, 40, 57, 31)",
        "INSERT INTO surveys (id, installation_id, pull_request_id, repository_id, repository_full_name, number, title,
                              author_github_id, author_login, merged_at, status, remind_at, closes_at)
         SELECT n, 41234567, n * 100, 11, 'octo-org/api', n, 'Change number ' || n, 300 + n, 'dev' || n,
                now() - make_interval(days => n * 2), 'revealed', now(), now() FROM generate_series(1, 12) n",
        "INSERT INTO survey_participants (survey_id, github_id, login, role, asked_at, answer, answered_at)
         SELECT n, 300 + (n % 4), 'dev' || (n % 4), 'author', now(), CASE WHEN n % 3 = 0 THEN 'none' ELSE 'a_little' END, now()
         FROM generate_series(1, 12) n",
        "INSERT INTO survey_participants (survey_id, github_id, login, role, asked_at, answer, answered_at)
         SELECT n, 400 + (n % 3), 'rev' || (n % 3), 'reviewer', now(), CASE WHEN n % 2 = 0 THEN 'yes' ELSE 'no' END,
                CASE WHEN n % 5 = 0 THEN NULL ELSE now() END
         FROM generate_series(1, 12) n",
    ] {
        sqlx::query(sql).execute(pool).await.expect(sql);
    }
    let headers = json!({ "x-github-event": "organization", "user-agent": "GitHub-Hookshot/test",
                          "content-type": "application/json", "x-github-hook-id": "4242" });
    let rows = [
        (
            "dlv-dead",
            "organization",
            Some("member_added"),
            "dead",
            Some("relation \"members\" was locked; gave up after 3 attempts"),
        ),
        (
            "dlv-ok-1",
            "pull_request",
            Some("closed"),
            "processed",
            None,
        ),
        (
            "dlv-ok-2",
            "pull_request_review",
            Some("submitted"),
            "processed",
            None,
        ),
        ("dlv-ign", "star", Some("created"), "ignored", None),
    ];
    for (i, (id, event, action, status, error)) in rows.into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO deliveries (id, event, action, installation_id, status, attempts, last_error, received_at, headers, body)
             VALUES ($1, $2, $3, 41234567, $4, 3, $5, now() - make_interval(mins => $6), $7, $8)",
        )
        .bind(id)
        .bind(event)
        .bind(action)
        .bind(status)
        .bind(error)
        .bind(i as i32 * 7)
        .bind(&headers)
        .bind(&member_added)
        .execute(pool)
        .await
        .expect("delivery");
    }
}

async fn goto(c: &Client, app: &TestApp, path: &str) {
    c.goto(&app.url(path)).await.expect("goto");
}

/// Writes a README screenshot (`docs/<name>`) when it is missing, or when
/// `UPDATE_DOCS_SCREENSHOT` is set (so ordinary test runs leave the work tree clean).
fn save_docs_copy(name: &str, png: &[u8]) {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let path = docs.join(name);
    if path.exists() && std::env::var_os("UPDATE_DOCS_SCREENSHOT").is_none() {
        return;
    }
    std::fs::create_dir_all(&docs).expect("docs dir");
    std::fs::write(path, png).expect("docs screenshot");
}

#[sqlx::test]
async fn admin_pages_in_a_headless_browser(pool: PgPool) {
    seed(&pool).await;
    let fake = FakeGithub::start(support::APP_ID).await;
    let key = support::fake_github::private_key_path();
    let config = test_config_with(
        &redis_url(),
        &[
            (
                "ADMIN_PASSWORD_HASH",
                hash_password(PASSWORD).expect("hash"),
            ),
            (
                "SESSION_SECRET",
                "browser-session-secret-0123456789abcdef".into(),
            ),
            ("GITHUB_CLIENT_ID", "Iv1.browser".into()),
            ("GITHUB_CLIENT_SECRET", "browser-client-secret".into()),
            ("GITHUB_APP_ID", support::APP_ID.to_string()),
            ("GITHUB_PRIVATE_KEY_PATH", key.display().to_string()),
            ("GITHUB_API_URL", fake.url.clone()),
            ("GITHUB_WEB_URL", fake.url.clone()),
        ],
    );
    // The scheduler lists installations at start; GitHub must know ours or they become deleted.
    // ... and its members, or the first catch-up marks ours inactive.
    fake.with(|m| {
        m.add_org_installation(41234567, "octo-org");
        m.add_org_installation(2, "other-org");
        m.add_member("octo-org", User::new(101, "alice"));
        m.add_member("octo-org", User::new(102, "bob"));
        m.add_member("other-org", User::new(201, "carol"));
        // Teams for the team stats page, which the first catch-up reads from GitHub: the survey
        // authors (300..303) and reviewers (400..402); infra (two people) is withheld.
        for id in (300..=303).chain(400..=402) {
            let prefix = if id < 400 { "dev" } else { "rev" };
            m.add_member("octo-org", User::new(id, &format!("{prefix}{id}")));
        }
        m.add_team("octo-org", 70, "platform");
        m.add_team("octo-org", 71, "api");
        m.add_team("octo-org", 72, "infra");
        m.set_team_parent(71, Some(70));
        m.set_team_parent(72, Some(70));
        for id in (300..=303).chain(400..=402) {
            m.add_team_member(70, id, false);
        }
        for id in 300..=302 {
            m.add_team_member(71, id, false);
        }
        for id in [303, 400] {
            m.add_team_member(72, id, false);
        }
        for id in 300..=303 {
            m.add_copilot_seat("octo-org", id);
        }
    });
    let app = TestApp::spawn_with(pool.clone(), Role::All, config).await;
    // The scheduler's first catch-up runs at start; let it finish so it cannot race the clicks.
    wait_until(
        "the first catch-up of both installations",
        Duration::from_secs(20),
        || async {
            app.count(
                "SELECT count(DISTINCT installation_id) FROM sync_runs
             WHERE finished_at IS NOT NULL AND started_at > now() - interval '5 minutes'",
            )
            .await
                == 2
        },
    )
    .await;
    {
        let mut o = fake.oauth.lock().unwrap();
        o.client_id = "Iv1.browser".into();
        o.client_secret = "browser-client-secret".into();
        o.callback_url = app.url("/admin/oauth/callback");
        o.approve_as = Some((7001, "octo-admin".into()));
    }
    fake.with(|m| {
        m.set_membership(
            &User::new(7001, "octo-admin"),
            "octo-org",
            "admin",
            "active",
        )
    });
    let driver = Driver::start().await;
    let c = driver.browser().await;

    // Not signed in: sent to the sign-in page.
    goto(&c, &app, "/admin/members").await;
    let url = c.current_url().await.expect("url");
    assert_eq!(url.path(), "/admin/login");
    shot(&c, "sign-in").await;

    // Operator sign-in.
    c.find(Locator::Css("#password"))
        .await
        .expect("password field")
        .send_keys(PASSWORD)
        .await
        .expect("type");
    submit_in(&c, "form[action='/admin/login'] button").await;
    wait_path(&c, "/admin").await;
    let source = c.source().await.expect("source");
    assert!(source.contains("Delivery queue"), "overview after sign-in");
    let png = shot(&c, "overview").await;
    save_docs_copy("admin-overview.png", &png);

    goto(&c, &app, "/admin/installations").await;
    assert!(c.source().await.unwrap().contains("octo-org"));
    shot(&c, "installations").await;

    // Toggle bob inactive.
    goto(&c, &app, "/admin/members?installation=41234567").await;
    shot(&c, "members").await;
    submit_in(&c, "#m-41234567-102 input[value='toggle_active'] + button").await;
    let member = |col: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(&format!(
                "SELECT {col}::text FROM members WHERE installation_id = 41234567 AND github_id = 102"
            ))
            .fetch_one(&pool)
            .await
            .expect("member")
        }
    };
    wait_until("bob inactive", Duration::from_secs(10), || async {
        member("active").await.as_deref() == Some("false")
    })
    .await;
    // The reloaded page (with its notice) before touching its fields.
    wait_until(
        "the members page again",
        Duration::from_secs(10),
        || async {
            c.current_url()
                .await
                .is_ok_and(|u| u.query().is_some_and(|q| q.contains("notice=")))
                && c.find(Locator::Css("p.notice")).await.is_ok()
        },
    )
    .await;

    // Map bob to a Slack user.
    let field = c
        .find(Locator::Css("#m-41234567-102 input[name='slack_user_id']"))
        .await
        .expect("slack field");
    field.clear().await.expect("clear");
    field.send_keys("U0BOB777").await.expect("type");
    submit_in(&c, "#m-41234567-102 form.inline button").await;
    wait_until(
        "the members page again",
        Duration::from_secs(10),
        || async { c.source().await.is_ok_and(|s| s.contains("U0BOB777")) },
    )
    .await;
    wait_until("bob mapped", Duration::from_secs(10), || async {
        member("slack_user_id").await.as_deref() == Some("U0BOB777")
            && member("slack_mapping_source").await.as_deref() == Some("manual")
    })
    .await;
    shot(&c, "members-after").await;

    // Replay the dead delivery.
    goto(&c, &app, "/admin/deliveries").await;
    shot(&c, "deliveries").await;
    goto(&c, &app, "/admin/deliveries/dlv-dead").await;
    shot(&c, "delivery").await;
    submit_in(
        &c,
        "form[action='/admin/deliveries/dlv-dead/replay'] button",
    )
    .await;
    app.wait_for_status("dlv-dead", &["processed"]).await;
    goto(&c, &app, "/admin/deliveries/dlv-dead").await;
    assert!(c.source().await.unwrap().contains("processed"));

    goto(&c, &app, "/admin/surveys").await;
    shot(&c, "surveys").await;
    goto(&c, &app, "/admin/surveys/1").await;
    shot(&c, "survey").await;
    goto(&c, &app, "/admin/stats").await;
    assert!(c.source().await.unwrap().contains("<svg"));
    shot(&c, "stats").await;
    goto(&c, &app, "/admin/installations/41234567/teams/stats").await;
    let source = c.source().await.unwrap();
    assert!(
        source.contains("<svg") && source.contains("platform") && source.contains("withheld"),
        "{source}"
    );
    let png = shot(&c, "team-stats").await;
    save_docs_copy("team-stats.png", &png);

    // Readable on a phone.
    c.set_window_size(390, 844).await.expect("resize");
    goto(&c, &app, "/admin").await;
    shot(&c, "overview-phone").await;
    c.set_window_size(1280, 1000).await.expect("resize");

    // Sign out, then sign in with GitHub as an org admin of octo-org only.
    submit_in(&c, "form.signout button").await;
    wait_path(&c, "/admin/login").await;
    submit_in(&c, "form[action='/admin/login/github'] button").await;
    // Through the fake GitHub's authorize page and back to the callback, then the overview.
    wait_path(&c, "/admin").await;
    goto(&c, &app, "/admin/installations").await;
    let source = c.source().await.unwrap();
    assert!(source.contains("octo-admin") && source.contains("octo-org"));
    assert!(!source.contains("other-org"));
    shot(&c, "installations-org-admin").await;

    c.close().await.expect("close browser");
    driver.stop().await;
    app.stop().await;
}
