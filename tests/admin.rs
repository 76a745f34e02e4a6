//! The admin pages over HTTP against the real app, Postgres and Redis, with the fake GitHub for
//! OAuth sign-in, "Sync now" and "Ask GitHub to redeliver".

mod support;

use std::net::IpAddr;
use std::time::Duration;

use chrono::Utc;
use mergecast::app::Role;
use mergecast::config::Config;
use mergecast::config::hash_password;
use sqlx::PgPool;
use support::browser::{Browser, Page, csrf};
use support::fake_github::{FakeGithub, User};
use support::{TestApp, redis_url, test_config_with, wait_until};

const PASSWORD: &str = "correct horse battery staple";
const SESSION_SECRET: &str = "0123456789abcdef0123456789abcdef-test";
const CLIENT_ID: &str = "Iv1.testclient";
const CLIENT_SECRET: &str = "oauth-client-secret-value";
/// Org A (installation 1) and org B (installation 2).
const INST_A: i64 = 1;
const INST_B: i64 = 2;

fn admin_vars(fake: Option<&FakeGithub>) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        (
            "ADMIN_PASSWORD_HASH",
            hash_password(PASSWORD).expect("hash"),
        ),
        ("SESSION_SECRET", SESSION_SECRET.to_string()),
        ("GITHUB_CLIENT_ID", CLIENT_ID.to_string()),
        ("GITHUB_CLIENT_SECRET", CLIENT_SECRET.to_string()),
    ];
    if let Some(fake) = fake {
        let key = support::fake_github::private_key_path();
        vars.extend([
            ("GITHUB_APP_ID", support::APP_ID.to_string()),
            ("GITHUB_PRIVATE_KEY_PATH", key.display().to_string()),
            ("GITHUB_API_URL", fake.url.clone()),
            ("GITHUB_WEB_URL", fake.url.clone()),
            ("SYNC_RATE_LIMIT_RESERVE", "100".into()),
        ]);
    }
    vars
}

fn config(fake: Option<&FakeGithub>) -> Config {
    test_config_with(&redis_url(), &admin_vars(fake))
}

/// Two orgs with members, deliveries and a survey each.
async fn seed(pool: &PgPool) {
    let member_added = String::from_utf8(support::member_added_hook().bytes()).expect("utf8");
    sqlx::query(
        "INSERT INTO installations (id, account_id, account_login, account_type) VALUES
         (1, 501, 'org-a', 'Organization'), (2, 502, 'org-b', 'Organization'),
         (41234567, 503, 'octo-org', 'Organization')",
    )
    .execute(pool)
    .await
    .expect("installations");
    sqlx::query(
        "INSERT INTO repositories (id, installation_id, full_name, name) VALUES
         (11, 1, 'org-a/api', 'api'), (21, 2, 'org-b/web', 'web')",
    )
    .execute(pool)
    .await
    .expect("repos");
    sqlx::query(
        "INSERT INTO members (installation_id, github_id, login, name, slack_unmapped_reason) VALUES
         (1, 101, 'alice', 'Alice Anders', NULL), (1, 102, 'bob', 'Bob Berg', 'no Slack user with this email'),
         (2, 201, 'carol', 'Carol Chen', NULL)",
    )
    .execute(pool)
    .await
    .expect("members");
    sqlx::query(
        "INSERT INTO sync_runs (installation_id, started_at, finished_at, status, created, updated, api_calls)
         VALUES (1, now() - interval '1 hour', now() - interval '59 minutes', 'success', 3, 4, 12)",
    )
    .execute(pool)
    .await
    .expect("sync run");
    let headers = serde_json::json!({
        "x-github-event": "organization", "user-agent": "GitHub-Hookshot/test",
        "x-hub-signature-256": "sha256=deadbeefsignature", "authorization": "Bearer leaked-token"
    });
    let rows = [
        (
            "dlv-a-dead",
            "organization",
            Some("member_added"),
            Some(41234567),
            "dead",
            Some("boom: apply failed"),
        ),
        (
            "dlv-a-ok",
            "pull_request",
            Some("opened"),
            Some(INST_A),
            "processed",
            None,
        ),
        (
            "dlv-b-failed",
            "issues",
            Some("opened"),
            Some(INST_B),
            "failed",
            Some("b went wrong"),
        ),
        ("dlv-ping", "ping", None, None, "ignored", None),
    ];
    for (i, (id, event, action, inst, status, error)) in rows.into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO deliveries (id, event, action, installation_id, status, attempts, last_error, received_at, headers, body)
             VALUES ($1, $2, $3, $4, $5, 3, $6, now() - make_interval(mins => $7), $8, $9)",
        )
        .bind(id)
        .bind(event)
        .bind(action)
        .bind(inst)
        .bind(status)
        .bind(error)
        .bind(i as i32)
        .bind(&headers)
        .bind(&member_added)
        .execute(pool)
        .await
        .expect("delivery");
    }
    for (id, inst, repo) in [(1i64, INST_A, "org-a/api"), (2, INST_B, "org-b/web")] {
        sqlx::query(
            "INSERT INTO surveys (id, installation_id, pull_request_id, repository_id, repository_full_name, number,
                                  title, author_github_id, author_login, merged_at, status, remind_at, closes_at)
             VALUES ($1, $2, $1 * 100, 11, $3, 7, 'Add the thing', 101, 'alice', now(), 'open', now(), now())",
        )
        .bind(id)
        .bind(inst)
        .bind(repo)
        .execute(pool)
        .await
        .expect("survey");
    }
    sqlx::query(
        "INSERT INTO survey_participants (survey_id, github_id, login, role, asked_at, answer, answered_at, last_error) VALUES
         (1, 101, 'alice', 'author', now(), 'a_lot', now(), NULL),
         (1, 102, 'bob', 'reviewer', now(), 'no', now(), 'channel_not_found'),
         (2, 201, 'carol', 'author', now(), NULL, NULL, NULL)",
    )
    .execute(pool)
    .await
    .expect("participants");
}

const PAGES: [&str; 9] = [
    "/admin",
    "/admin/installations",
    "/admin/members",
    "/admin/deliveries",
    "/admin/deliveries/dlv-a-ok",
    "/admin/surveys",
    "/admin/surveys/1",
    "/admin/stats",
    "/admin/stats.csv",
];

#[sqlx::test]
async fn not_signed_in_is_sent_to_sign_in(pool: PgPool) {
    seed(&pool).await;
    let app = TestApp::spawn_with(pool.clone(), Role::Web, config(None)).await;
    let mut b = Browser::new(&app);
    for path in PAGES {
        let page = b.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.location.as_deref(), Some("/admin/login"), "{path}");
    }
    let post = b
        .post("/admin/members/1/101", &[("action", "toggle_active")])
        .await;
    assert_eq!(post.status, 303);
    let active: bool = sqlx::query_scalar(
        "SELECT active FROM members WHERE installation_id = 1 AND github_id = 101",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(active);
    // A forged cookie is no session.
    b.cookies.insert("mergecast_admin".into(), "abc.def".into());
    assert_eq!(b.get("/admin").await.status, 303);
    let login = b.get("/admin/login").await;
    assert!(login.body.contains("Sign in with GitHub"));
    assert!(login.body.contains("Operator password"));
    app.stop().await;
}

#[sqlx::test]
async fn without_sign_in_configured_the_login_page_sends_to_setup(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Role::Web, support::test_config(&redis_url())).await;
    let mut b = Browser::new(&app);
    let login = b.get("/admin/login").await;
    assert_eq!(login.location.as_deref(), Some("/admin/setup"));
    // No session key and no encryption key: setup can only say what is missing.
    let page = b.get("/admin/setup").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("needs an encryption key"));
    assert!(!page.body.contains("<form"));
    assert_eq!(
        b.get("/admin").await.location.as_deref(),
        Some("/admin/login")
    );
    app.stop().await;
}

#[sqlx::test]
async fn operator_sees_every_page_and_no_secrets(pool: PgPool) {
    seed(&pool).await;
    let app = TestApp::spawn_with(pool.clone(), Role::Web, config(None)).await;
    let mut b = Browser::new(&app);
    b.sign_in_operator(PASSWORD).await;
    for path in PAGES {
        let page = b.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        for secret in [
            "deadbeefsignature",
            "leaked-token",
            CLIENT_SECRET,
            SESSION_SECRET,
            "argon2",
            support::SECRET,
        ] {
            assert!(!page.body.contains(secret), "{path} shows {secret}");
        }
        // Individual answers are never shown to admins.
        assert!(!page.body.contains("a_lot"), "{path} shows an answer");
    }
    // A web-only app has no workers: a delivery stays in the queue, and the overview shows it.
    let ping = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/github/examples/ping/payload.json"
    ))
    .expect("GitHub's ping example");
    let (accepted, _) = app.deliver("ping", &ping).await;
    assert_eq!(accepted, 200, "ping is answered without queueing");
    let hook = support::member_added_hook();
    let (accepted, _) = app.deliver(hook.event, &hook.bytes()).await;
    assert_eq!(accepted, 202);
    let overview = b.get("/admin").await.body;
    assert!(overview.contains("Postgres") && overview.contains("ok"));
    assert!(overview.contains("1 waiting"), "{overview}");
    let today = Utc::now().format("oldest job: %Y-%m-%d").to_string();
    assert!(overview.contains(&today), "{overview}");
    assert!(overview.contains("dlv-a-dead") && overview.contains("boom: apply failed"));
    assert!(overview.contains("org-a") && overview.contains("org-b"));
    let installations = b.get("/admin/installations").await.body;
    assert!(installations.contains("3 new") && installations.contains("12 calls"));
    let members = b.get("/admin/members?q=ander").await.body;
    assert!(members.contains("alice") && !members.contains("carol"));
    let unmapped = b.get("/admin/members?unmapped=1&installation=1").await.body;
    assert!(unmapped.contains("no Slack user with this email"));
    let filtered = b.get("/admin/deliveries?status=failed").await.body;
    assert!(filtered.contains("b went wrong") && !filtered.contains("dlv-a-ok"));
    let by_event = b
        .get("/admin/deliveries?event=pull_request&action=opened")
        .await
        .body;
    assert!(by_event.contains("dlv-a-ok") && !by_event.contains("dlv-b-failed"));
    let future = b.get("/admin/deliveries?from=2999-01-01").await.body;
    assert!(future.contains("No deliveries match"));
    let detail = b.get("/admin/deliveries/dlv-a-dead").await.body;
    assert!(detail.contains("GitHub-Hookshot/test") && detail.contains("member_added"));
    assert!(detail.contains("&quot;action&quot;") || detail.contains("\"action\""));
    assert!(detail.contains("Replay"));
    let survey = b.get("/admin/surveys/1").await.body;
    assert!(survey.contains("channel_not_found") && survey.contains("bob"));
    // Two people answered: below the threshold, so no aggregate is shown.
    let stats = b.get("/admin/stats").await.body;
    assert!(
        stats.contains(r#"<td class="num">withheld</td>"#),
        "{stats}"
    );
    assert!(
        !stats.contains(r#"<td class="num">0</td>"#),
        "under the floor is not 0: {stats}"
    );
    assert!(!stats.contains(r#"<td class="num">100%</td>"#), "{stats}");
    let csv = b.get("/admin/stats.csv").await.body;
    assert!(csv.starts_with("week,surveys,asked,answered,response_rate"));
    assert_eq!(b.get("/admin/deliveries/nope").await.status, 404);
    assert_eq!(b.get("/admin/surveys/999").await.status, 404);
    app.stop().await;
}

#[sqlx::test]
async fn aggregates_appear_with_three_people(pool: PgPool) {
    seed(&pool).await;
    sqlx::query(
        "INSERT INTO surveys (id, installation_id, pull_request_id, repository_id, repository_full_name, number,
                              title, merged_at, status, remind_at, closes_at)
         SELECT n, 1, n * 100, 11, 'org-a/api', n, 'PR', now(), 'revealed', now(), now() FROM generate_series(3, 5) n",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO survey_participants (survey_id, github_id, login, role, asked_at, answer, answered_at)
         SELECT n, 300 + n, 'author' || n, 'author', now(), CASE WHEN n = 3 THEN 'none' ELSE 'a_little' END, now()
         FROM generate_series(3, 5) n",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = TestApp::spawn_with(pool.clone(), Role::Web, config(None)).await;
    let mut b = Browser::new(&app);
    b.sign_in_operator(PASSWORD).await;
    let stats = b.get("/admin/stats").await.body;
    assert!(stats.contains("<svg"), "{stats}");
    // 4 authors answered (alice + 3), 3 of them AI-assisted.
    assert!(stats.contains("75%"), "{stats}");
    let csv = b.get("/admin/stats.csv").await.body;
    assert!(csv.contains(",0.7500,"), "{csv}");
    app.stop().await;
}

#[sqlx::test]
async fn wrong_password_is_rejected_and_the_sixth_attempt_throttled(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), Role::Web, config(None)).await;
    let mut b = Browser::new(&app);
    let token = csrf(&b.get("/admin/login").await.body);
    for attempt in 1..=5 {
        let page = b
            .post("/admin/login", &[("csrf", &token), ("password", "wrong")])
            .await;
        assert_eq!(page.status, 401, "attempt {attempt}");
        assert!(page.body.contains("Wrong password"));
    }
    let sixth = b
        .post("/admin/login", &[("csrf", &token), ("password", PASSWORD)])
        .await;
    assert_eq!(sixth.status, 429);
    assert_eq!(b.get("/admin").await.status, 303);
    let sessions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM admin_sessions WHERE kind <> 'pending'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(sessions, 0);
    app.stop().await;
}

/// Guessing from one address locks out that address only: the operator still signs in from
/// another, and their own successes (and a wrong password between them) never lock them out.
#[sqlx::test]
async fn an_attacker_address_cannot_lock_the_operator_out(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), Role::Web, config(None)).await;
    let mut attacker = Browser::from_address(&app, IpAddr::from([127, 0, 0, 2]));
    let token = csrf(&attacker.get("/admin/login").await.body);
    let mut statuses = Vec::new();
    for _ in 0..50 {
        let page = attacker
            .post("/admin/login", &[("csrf", &token), ("password", "guess")])
            .await;
        statuses.push(page.status.as_u16());
    }
    assert_eq!(statuses[..5], [401; 5], "the first failures are answered");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // Throttled even with the right password: the attacker's address is blocked.
    let right = attacker
        .post("/admin/login", &[("csrf", &token), ("password", PASSWORD)])
        .await;
    assert_eq!(right.status, 429);

    // The operator, from another address, signs in; again and again, with a typo between.
    for _ in 0..7 {
        let mut operator = Browser::from_address(&app, IpAddr::from([127, 0, 0, 3]));
        let token = csrf(&operator.get("/admin/login").await.body);
        let typo = operator
            .post("/admin/login", &[("csrf", &token), ("password", "typo")])
            .await;
        assert_eq!(typo.status, 401);
        operator.sign_in_operator(PASSWORD).await;
    }
    app.stop().await;
}

/// The sign-in page stores nothing: its CSRF token is a signed double-submit cookie, so
/// anonymous visits cannot fill `admin_sessions`; sign-in still needs cookie and token to match.
#[sqlx::test]
async fn anonymous_sign_in_pages_store_nothing(pool: PgPool) {
    use mergecast::store::admin_sessions;
    let app = TestApp::spawn_with(pool.clone(), Role::Web, config(None)).await;
    let before = admin_sessions::count(&pool).await.unwrap();
    let mut b = Browser::new(&app);
    for _ in 0..300 {
        b.cookies.clear();
        let page = b.get("/admin/login").await;
        assert_eq!(page.status, 200);
        assert!(b.cookies.contains_key("mergecast_csrf"));
        assert!(!b.cookies.contains_key("mergecast_admin"));
    }
    assert_eq!(admin_sessions::count(&pool).await.unwrap(), before);

    // Missing, wrong, unsigned or foreign tokens are refused (403), and store nothing.
    let token = csrf(&b.get("/admin/login").await.body);
    let good_cookie = b.cookies["mergecast_csrf"].clone();
    for form in [
        vec![("password", PASSWORD)],
        vec![("csrf", ""), ("password", PASSWORD)],
        vec![("csrf", "forged"), ("password", PASSWORD)],
    ] {
        assert_eq!(b.post("/admin/login", &form).await.status, 403, "{form:?}");
    }
    // A token from someone else's page, without its cookie.
    let mut stranger = Browser::new(&app);
    let page = stranger
        .post("/admin/login", &[("csrf", &token), ("password", PASSWORD)])
        .await;
    assert_eq!(page.status, 403);
    // A cookie whose signature does not hold, with the matching token.
    let (raw, _) = good_cookie.split_once('.').unwrap();
    stranger
        .cookies
        .insert("mergecast_csrf".into(), format!("{raw}.{}", "0".repeat(64)));
    let page = stranger
        .post("/admin/login", &[("csrf", raw), ("password", PASSWORD)])
        .await;
    assert_eq!(page.status, 403);
    assert_eq!(admin_sessions::count(&pool).await.unwrap(), before);

    // Cookie and token together sign in.
    let done = b
        .post("/admin/login", &[("csrf", &token), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(b.get("/admin").await.status, 200);
    assert_eq!(admin_sessions::count(&pool).await.unwrap(), before + 1);
    app.stop().await;
}

#[sqlx::test]
async fn posts_without_a_valid_csrf_token_change_nothing(pool: PgPool) {
    seed(&pool).await;
    let app = TestApp::spawn_with(pool.clone(), Role::Web, config(None)).await;
    let mut b = Browser::new(&app);
    // Even the sign-in form needs the token.
    b.get("/admin/login").await;
    let page = b.post("/admin/login", &[("password", PASSWORD)]).await;
    assert_eq!(page.status, 403);
    let token = b.sign_in_operator(PASSWORD).await;
    for form in [
        vec![("action", "toggle_active")],
        vec![("action", "toggle_active"), ("csrf", "forged")],
        vec![("action", "slack"), ("slack_user_id", "U999"), ("csrf", "")],
    ] {
        let page = b.post("/admin/members/1/101", &form).await;
        assert_eq!(page.status, 403);
    }
    let replay = b
        .post("/admin/deliveries/dlv-a-dead/replay", &[("csrf", "x")])
        .await;
    assert_eq!(replay.status, 403);
    let logout = b.post("/admin/logout", &[]).await;
    assert_eq!(logout.status, 403);
    let (active, slack): (bool, Option<String>) = sqlx::query_as(
        "SELECT active, slack_user_id FROM members WHERE installation_id = 1 AND github_id = 101",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(active && slack.is_none());
    let status: String =
        sqlx::query_scalar("SELECT status FROM deliveries WHERE id = 'dlv-a-dead'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "dead");
    // The right token still works, and sign-out ends the session.
    assert_eq!(
        b.post("/admin/logout", &[("csrf", &token)]).await.status,
        303
    );
    assert_eq!(b.get("/admin").await.status, 303);
    app.stop().await;
}

#[sqlx::test]
async fn member_actions_change_the_member(pool: PgPool) {
    seed(&pool).await;
    let app = TestApp::spawn_with(pool.clone(), Role::Web, config(None)).await;
    let mut b = Browser::new(&app);
    let token = b.sign_in_operator(PASSWORD).await;
    let row = || async {
        sqlx::query_as::<_, (bool, bool, Option<String>, Option<String>)>(
            "SELECT active, opted_out, slack_user_id, slack_mapping_source FROM members
             WHERE installation_id = 1 AND github_id = 102",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let p = b
        .post(
            "/admin/members/1/102",
            &[("csrf", &token), ("action", "toggle_active")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert!(!row().await.0);
    b.post(
        "/admin/members/1/102",
        &[("csrf", &token), ("action", "toggle_opt_out")],
    )
    .await;
    assert!(row().await.1);
    let p = b
        .post(
            "/admin/members/1/102",
            &[
                ("csrf", &token),
                ("action", "slack"),
                ("slack_user_id", "U0BOB123"),
            ],
        )
        .await;
    assert_eq!(p.status, 303);
    let r = row().await;
    assert_eq!(
        (r.2.as_deref(), r.3.as_deref()),
        (Some("U0BOB123"), Some("manual"))
    );
    let bad = b
        .post(
            "/admin/members/1/102",
            &[
                ("csrf", &token),
                ("action", "slack"),
                ("slack_user_id", "<script>"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(row().await.2.as_deref(), Some("U0BOB123"));
    let missing = b
        .post(
            "/admin/members/1/999",
            &[("csrf", &token), ("action", "toggle_active")],
        )
        .await;
    assert_eq!(missing.status, 404);
    let page = b.get("/admin/members?installation=1").await.body;
    assert!(page.contains("U0BOB123") && page.contains("inactive") && page.contains("opted out"));
    app.stop().await;
}

#[sqlx::test]
async fn replay_requeues_a_dead_delivery(pool: PgPool) {
    seed(&pool).await;
    let app = TestApp::spawn_with(pool.clone(), Role::All, config(None)).await;
    let mut b = Browser::new(&app);
    let token = b.sign_in_operator(PASSWORD).await;
    let processed = b
        .post("/admin/deliveries/dlv-a-ok/replay", &[("csrf", &token)])
        .await;
    assert_eq!(
        processed.status, 400,
        "only failed or dead ones are replayed"
    );
    let page = b
        .post("/admin/deliveries/dlv-a-dead/replay", &[("csrf", &token)])
        .await;
    assert_eq!(page.status, 303);
    app.wait_for_status("dlv-a-dead", &["processed"]).await;
    let member: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM members WHERE installation_id = 41234567 AND login = 'octocat'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(member, 1);
    app.stop().await;
}

/// Path of GitHub's list of the app's hook deliveries, and the verb of a redelivery.
const HOOK_DELIVERIES: &str = "/app/hook/deliveries";

/// A delivery of org A that failed here, as `id`.
async fn failed_delivery(pool: &PgPool, id: &str) {
    sqlx::query(
        "INSERT INTO deliveries (id, event, action, installation_id, status, attempts, last_error, received_at, headers)
         VALUES ($1, 'issues', 'opened', $2, 'failed', 3, 'boom', now(), '{}')",
    )
    .bind(id)
    .bind(INST_A)
    .execute(pool)
    .await
    .expect("failed delivery");
}

/// Puts GitHub's hook delivery of `guid` at position `at` (0 = newest) of a list of `total`
/// deliveries (the fake lists newest first, 100 a page); returns its hook delivery id.
fn hook_delivery_at(fake: &FakeGithub, guid: &str, at: usize, total: usize) -> i64 {
    fake.with(|m| {
        for _ in 0..total - at - 1 {
            m.add_hook_delivery("issues", Some("opened"), 502);
        }
        let target = m.add_hook_delivery("issues", Some("opened"), 502);
        target.guid = guid.to_owned();
        target.installation_id = Some(INST_A);
        let id = target.id;
        for _ in 0..at {
            m.add_hook_delivery("issues", Some("opened"), 502);
        }
        id
    })
}

/// Signs in as alice (admin of org A) and asks GitHub to redeliver `id`; returns the redirect.
async fn click_redeliver(b: &mut Browser, id: &str) -> String {
    let token = csrf(&b.get("/admin").await.body);
    let page = b
        .post(
            &format!("/admin/deliveries/{id}/redeliver"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    page.location.expect("redirect")
}

/// (list requests, redelivery POSTs) the fake GitHub received.
fn redelivery_cost(fake: &FakeGithub) -> (usize, usize) {
    fake.with(|m| {
        let posts = m.requests.iter().filter(|r| {
            r.method == "POST" && r.path_and_query.starts_with("/app/hook/deliveries/")
        });
        (m.count_requests("GET", HOOK_DELIVERIES), posts.count())
    })
}

#[sqlx::test]
async fn five_redeliver_clicks_cost_one_search_and_one_post(pool: PgPool) {
    seed(&pool).await;
    failed_delivery(&pool, "dlv-a-failed").await;
    let (app, fake) = github_app(&pool).await;
    // On GitHub's second page of 201.
    let hook = hook_delivery_at(&fake, "dlv-a-failed", 150, 201);
    let mut b = Browser::new(&app);
    assert_eq!(sign_in_with_github(&mut b).await.status, 303);
    let first = click_redeliver(&mut b, "dlv-a-failed").await;
    assert!(first.ends_with("?notice=redelivery_requested"), "{first}");
    assert_eq!(fake.with(|m| m.redelivery_requests.clone()), vec![hook]);
    for _ in 0..4 {
        let later = click_redeliver(&mut b, "dlv-a-failed").await;
        assert!(
            later.contains("?notice=redelivery_cooldown&wait="),
            "{later}"
        );
        let page = b.get(&later).await.body;
        assert!(page.contains("the next may be made in 10 min"), "{page}");
    }
    let (lists, posts) = redelivery_cost(&fake);
    assert!(lists <= 3, "{lists} list requests");
    assert_eq!(posts, 1);
    assert_eq!(fake.with(|m| m.redelivery_requests.clone()), vec![hook]);
    app.stop().await;
}

#[sqlx::test]
async fn a_known_hook_delivery_is_redelivered_without_listing(pool: PgPool) {
    seed(&pool).await;
    failed_delivery(&pool, "dlv-a-failed").await;
    let (app, fake) = github_app(&pool).await;
    let hook = hook_delivery_at(&fake, "dlv-a-failed", 0, 1);
    // The periodic redelivery asked for it two hours ago, and kept GitHub's id.
    sqlx::query(
        "INSERT INTO redelivery_requests (guid, hook_delivery_id, event, requested_at)
         VALUES ('dlv-a-failed', $1, 'issues', now() - interval '2 hours')",
    )
    .bind(hook)
    .execute(&pool)
    .await
    .unwrap();
    let mut b = Browser::new(&app);
    assert_eq!(sign_in_with_github(&mut b).await.status, 303);
    let location = click_redeliver(&mut b, "dlv-a-failed").await;
    assert!(
        location.ends_with("?notice=redelivery_requested"),
        "{location}"
    );
    wait_until("the redelivery", Duration::from_secs(20), || async {
        fake.with(|m| m.redelivery_requests.clone()) == vec![hook]
    })
    .await;
    assert_eq!(redelivery_cost(&fake), (0, 1), "no list request");
    app.stop().await;
}

#[sqlx::test]
async fn a_search_reads_at_most_three_pages(pool: PgPool) {
    seed(&pool).await;
    failed_delivery(&pool, "dlv-a-failed").await;
    let (app, fake) = github_app(&pool).await;
    // On GitHub's fourth page: too far to look.
    hook_delivery_at(&fake, "dlv-a-failed", 350, 401);
    let mut b = Browser::new(&app);
    assert_eq!(sign_in_with_github(&mut b).await.status, 303);
    let location = click_redeliver(&mut b, "dlv-a-failed").await;
    assert!(
        location.ends_with("?notice=redelivery_not_listed"),
        "{location}"
    );
    assert_eq!(redelivery_cost(&fake), (3, 0));
    let page = b.get(&location).await.body;
    assert!(
        page.contains("GitHub does not list this delivery"),
        "{page}"
    );
    app.stop().await;
}

#[sqlx::test]
async fn an_applied_delivery_is_not_redelivered(pool: PgPool) {
    seed(&pool).await;
    let (app, fake) = github_app(&pool).await;
    hook_delivery_at(&fake, "dlv-a-ok", 0, 1);
    let mut b = Browser::new(&app);
    assert_eq!(sign_in_with_github(&mut b).await.status, 303);
    let detail = b.get("/admin/deliveries/dlv-a-ok").await.body;
    assert!(
        !detail.contains("Ask GitHub to redeliver"),
        "processed: no button"
    );
    fake.with(|m| m.clear_requests());
    let location = click_redeliver(&mut b, "dlv-a-ok").await;
    assert!(
        location.ends_with("?notice=redelivery_not_needed"),
        "{location}"
    );
    let page = b.get(&location).await.body;
    assert!(page.contains("GitHub was not asked"), "{page}");
    assert_eq!(fake.with(|m| m.requests.len()), 0, "no GitHub request");
    assert_eq!(
        app.count("SELECT count(*) FROM redelivery_requests").await,
        0
    );
    app.stop().await;
}

#[sqlx::test]
async fn an_installation_may_ask_five_redeliveries_a_minute(pool: PgPool) {
    seed(&pool).await;
    let (app, fake) = github_app(&pool).await;
    let ids: Vec<String> = (1..=6).map(|i| format!("dlv-a-failed-{i}")).collect();
    for id in &ids {
        failed_delivery(&pool, id).await;
        hook_delivery_at(&fake, id, 0, 1);
    }
    let mut b = Browser::new(&app);
    assert_eq!(sign_in_with_github(&mut b).await.status, 303);
    for id in &ids[..5] {
        let location = click_redeliver(&mut b, id).await;
        assert!(
            location.ends_with("?notice=redelivery_requested"),
            "{id}: {location}"
        );
    }
    let sixth = click_redeliver(&mut b, &ids[5]).await;
    assert!(
        sixth.contains("?notice=redelivery_cooldown&wait="),
        "{sixth}"
    );
    let wait: u64 = sixth.rsplit('=').next().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(fake.with(|m| m.redelivery_requests.len()), 5);
    assert_eq!(
        app.count("SELECT count(*) FROM redelivery_requests WHERE guid = 'dlv-a-failed-6'")
            .await,
        0
    );
    app.stop().await;
}

#[sqlx::test]
async fn sync_now_twice_starts_one_sync_and_the_second_says_when(pool: PgPool) {
    seed(&pool).await;
    let (app, _fake) = github_app(&pool).await;
    let mut b = Browser::new(&app);
    assert_eq!(sign_in_with_github(&mut b).await.status, 303);
    let token = csrf(&b.get("/admin").await.body);
    let runs = "SELECT count(*) FROM sync_runs WHERE installation_id = 1";
    let before = app.count(runs).await;
    let first = b
        .post("/admin/installations/1/sync", &[("csrf", &token)])
        .await;
    assert_eq!(
        first.location.as_deref(),
        Some("/admin/installations?notice=sync_started")
    );
    wait_until("the sync run", Duration::from_secs(20), || async {
        app.count(
            "SELECT count(*) FROM sync_runs WHERE installation_id = 1 AND finished_at IS NOT NULL",
        )
        .await
            > before
    })
    .await;
    let second = b
        .post("/admin/installations/1/sync", &[("csrf", &token)])
        .await;
    let location = second.location.expect("redirect");
    let wait = location
        .strip_prefix("/admin/installations?notice=sync_cooldown&wait=")
        .unwrap_or_else(|| panic!("{location}"));
    let wait: u64 = wait.parse().unwrap();
    assert!((240..=300).contains(&wait), "{wait}");
    let page = b.get(&location).await.body;
    assert!(page.contains("the next may run in 5 min"), "{page}");
    assert_eq!(app.count(runs).await, before + 1, "one sync");
    app.stop().await;
}

/// Signs in through the fake GitHub's OAuth flow as `user`; returns the final page.
async fn sign_in_with_github(b: &mut Browser) -> Page {
    let login = b.get("/admin/login").await;
    let token = csrf(&login.body);
    let start = b.post("/admin/login/github", &[("csrf", &token)]).await;
    assert_eq!(start.status, 303, "{}", start.body);
    let authorize = start.location.expect("authorize URL");
    assert!(authorize.contains("state="));
    let back = b.get(&authorize).await;
    assert_eq!(back.status, 302);
    let callback = back.location.expect("callback");
    b.get(&callback).await
}

async fn github_app(pool: &PgPool) -> (TestApp, FakeGithub) {
    oauth_app(pool, true).await
}

/// The app with OAuth sign-in against the fake GitHub, with or without the App identity.
async fn oauth_app(pool: &PgPool, app_identity: bool) -> (TestApp, FakeGithub) {
    let fake = FakeGithub::start(support::APP_ID).await;
    let config = if app_identity {
        config(Some(&fake))
    } else {
        let mut vars = admin_vars(None);
        vars.extend([
            ("GITHUB_API_URL", fake.url.clone()),
            ("GITHUB_WEB_URL", fake.url.clone()),
        ]);
        test_config_with(&redis_url(), &vars)
    };
    let app = TestApp::spawn_with(pool.clone(), Role::Web, config).await;
    {
        let mut o = fake.oauth.lock().unwrap();
        o.client_id = CLIENT_ID.into();
        o.client_secret = CLIENT_SECRET.into();
        o.callback_url = app.url("/admin/oauth/callback");
        o.approve_as = Some((7001, "alice".into()));
    }
    fake.with(|m| {
        // The orgs `seed` installs, under the account ids it stores.
        m.orgs.extend([
            ("org-a".into(), 501),
            ("org-b".into(), 502),
            ("octo-org".into(), 503),
        ]);
        let alice = User::new(7001, "alice");
        m.set_membership(&alice, "org-a", "admin", "active");
        m.set_membership(&alice, "org-b", "member", "active");
        m.set_membership(&alice, "octo-org", "admin", "pending");
    });
    (app, fake)
}

#[sqlx::test]
async fn org_admins_sign_in_without_the_app_identity(pool: PgPool) {
    seed(&pool).await;
    let (app, fake) = oauth_app(&pool, false).await;
    assert!(app.services.github.is_none(), "no GITHUB_APP_ID configured");
    let mut b = Browser::new(&app);
    let done = sign_in_with_github(&mut b).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/admin"));
    let scope: Vec<i64> =
        sqlx::query_scalar("SELECT installation_ids FROM admin_sessions WHERE kind = 'github'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(scope, vec![INST_A]);
    assert_eq!(fake.oauth.lock().unwrap().exchanges, 1);
    let delivery = b.get("/admin/deliveries/dlv-a-ok").await;
    assert_eq!(delivery.status, 200);
    assert!(!delivery.body.contains("Ask GitHub to redeliver"));
    app.stop().await;
}

#[sqlx::test]
async fn org_admin_sees_only_their_org(pool: PgPool) {
    seed(&pool).await;
    let (app, fake) = github_app(&pool).await;
    let mut b = Browser::new(&app);
    let done = sign_in_with_github(&mut b).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/admin"));
    let scope: Vec<i64> =
        sqlx::query_scalar("SELECT installation_ids FROM admin_sessions WHERE kind = 'github'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(scope, vec![INST_A]);
    let overview = b.get("/admin").await;
    assert_eq!(overview.status, 200);
    assert!(overview.body.contains("alice"));
    let token = csrf(&overview.body);
    for path in [
        "/admin",
        "/admin/installations",
        "/admin/members",
        "/admin/deliveries",
        "/admin/surveys",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, 200);
        for other in [
            "org-b",
            "carol",
            "dlv-b-failed",
            "b went wrong",
            "octo-org",
            "dlv-ping",
        ] {
            assert!(!page.body.contains(other), "{path} shows {other}");
        }
    }
    assert!(b.get("/admin/members").await.body.contains("alice"));
    for path in [
        "/admin/members?installation=2",
        "/admin/deliveries/dlv-b-failed",
        "/admin/deliveries/dlv-ping",
        "/admin/surveys/2",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.body.contains("org-b"));
    }
    for (path, form) in [
        (
            "/admin/members/2/201",
            vec![("csrf", token.as_str()), ("action", "toggle_active")],
        ),
        (
            "/admin/installations/2/sync",
            vec![("csrf", token.as_str())],
        ),
        (
            "/admin/deliveries/dlv-b-failed/replay",
            vec![("csrf", token.as_str())],
        ),
        (
            "/admin/deliveries/dlv-b-failed/redeliver",
            vec![("csrf", token.as_str())],
        ),
    ] {
        assert_eq!(b.post(path, &form).await.status, 404, "{path}");
    }
    let (active, status): (bool, String) = sqlx::query_as(
        "SELECT m.active, d.status FROM members m, deliveries d
         WHERE m.installation_id = 2 AND m.github_id = 201 AND d.id = 'dlv-b-failed'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(active && status == "failed");
    assert_eq!(fake.oauth.lock().unwrap().exchanges, 1);
    app.stop().await;
}

#[sqlx::test]
async fn oauth_state_is_checked_and_single_use(pool: PgPool) {
    seed(&pool).await;
    let (app, fake) = github_app(&pool).await;
    let mut b = Browser::new(&app);
    let token = csrf(&b.get("/admin/login").await.body);
    let start = b.post("/admin/login/github", &[("csrf", &token)]).await;
    let back = b.get(&start.location.unwrap()).await;
    let callback = back.location.unwrap();
    let (base, _) = callback.split_once("&state=").unwrap();
    let forged = b.get(&format!("{base}&state=forged")).await;
    assert_eq!(forged.status, 400);
    assert_eq!(b.get(&callback).await.status, 303);
    // Replaying the same callback in a fresh browser finds no pending session with that state.
    let mut other = Browser::new(&app);
    other.get("/admin/login").await;
    assert_eq!(other.get(&callback).await.status, 400);
    // Wrong client secret: the exchange fails and nobody is signed in.
    fake.oauth.lock().unwrap().client_secret = "rotated".into();
    let mut third = Browser::new(&app);
    let failed = sign_in_with_github(&mut third).await;
    assert_eq!(failed.status, 502);
    assert_eq!(third.get("/admin").await.status, 303);
    // A GitHub user who administers none of our orgs gets no session.
    fake.oauth.lock().unwrap().client_secret = CLIENT_SECRET.into();
    fake.oauth.lock().unwrap().approve_as = Some((7002, "mallory".into()));
    let mut fourth = Browser::new(&app);
    let refused = sign_in_with_github(&mut fourth).await;
    assert_eq!(refused.status, 403);
    assert_eq!(fourth.get("/admin").await.status, 303);
    app.stop().await;
}

/// Installation 1's org was renamed and its old login `org-a` registered by another org (id
/// 9001) where mallory is an admin: she gets nothing, because the ids differ.
#[sqlx::test]
async fn a_renamed_orgs_old_login_grants_nothing(pool: PgPool) {
    seed(&pool).await;
    let (app, fake) = github_app(&pool).await;
    fake.with(|m| {
        m.orgs.insert("org-a-renamed".into(), 501);
        m.orgs.insert("org-a".into(), 9001);
        m.set_membership(&User::new(7002, "mallory"), "org-a", "admin", "active");
    });
    fake.oauth.lock().unwrap().approve_as = Some((7002, "mallory".into()));
    let mut b = Browser::new(&app);
    let refused = sign_in_with_github(&mut b).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(github_sessions(&app).await, 0);
    assert_eq!(b.get("/admin").await.status, 303);
    app.stop().await;
}

/// An org installation whose account id we never stored grants nobody anything, even an active
/// admin of an org with its login.
#[sqlx::test]
async fn an_installation_without_account_id_grants_nothing(pool: PgPool) {
    seed(&pool).await;
    sqlx::query("UPDATE installations SET account_id = NULL WHERE id = 1")
        .execute(&pool)
        .await
        .unwrap();
    let (app, _fake) = github_app(&pool).await;
    let mut b = Browser::new(&app);
    let refused = sign_in_with_github(&mut b).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(github_sessions(&app).await, 0);
    app.stop().await;
}

/// The app with alice signed in as org-a's admin, and installation 1 (org-a, id 501) known to
/// the fake so the re-check can use its token.
async fn signed_in_org_admin(pool: &PgPool) -> (TestApp, FakeGithub, Browser) {
    seed(pool).await;
    let (app, fake) = github_app(pool).await;
    fake.with(|m| m.add_org_installation(INST_A, "org-a").account_id = 501);
    let mut b = Browser::new(&app);
    let done = sign_in_with_github(&mut b).await;
    assert_eq!(done.status, 303, "{}", done.body);
    (app, fake, b)
}

async fn github_sessions(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM admin_sessions WHERE kind = 'github'")
        .await
}

/// Makes the GitHub session's last membership check `hours` old (no waiting).
async fn age_membership_check(pool: &PgPool, hours: i32) {
    sqlx::query(
        "UPDATE admin_sessions SET memberships_checked_at = now() - make_interval(hours => $1)
         WHERE kind = 'github'",
    )
    .bind(hours)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test]
async fn a_demoted_admin_loses_access_after_twelve_hours(pool: PgPool) {
    let (app, fake, mut b) = signed_in_org_admin(&pool).await;
    // Still an admin: after 13 hours GitHub confirms it (installation token) and nothing changes.
    age_membership_check(&pool, 13).await;
    let page = b.get("/admin/members").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("alice"));
    let fresh = app
        .count(
            "SELECT count(*) FROM admin_sessions WHERE kind = 'github'
             AND memberships_checked_at > now() - interval '1 minute' AND installation_ids = '{1}'",
        )
        .await;
    assert_eq!(fresh, 1);
    let asked = fake.with(|m| {
        m.requests
            .iter()
            .filter(|r| r.path_and_query == "/orgs/org-a/memberships/alice")
            .map(|r| (r.status, r.installation_id))
            .collect::<Vec<_>>()
    });
    assert_eq!(asked, vec![(200, Some(INST_A))]);

    // Demoted to member: within the twelve hours nothing is asked, after them access ends.
    fake.with(|m| m.set_membership(&User::new(7001, "alice"), "org-a", "member", "active"));
    age_membership_check(&pool, 11).await;
    assert_eq!(b.get("/admin/members").await.status, 200);
    age_membership_check(&pool, 12).await;
    let page = b.get("/admin/members").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location.as_deref(), Some("/admin/login"));
    assert_eq!(github_sessions(&app).await, 0);
    assert_eq!(b.get("/admin").await.status, 303);
    app.stop().await;
}

#[sqlx::test]
async fn github_down_at_the_recheck_is_a_503_without_access(pool: PgPool) {
    let (app, fake, mut b) = signed_in_org_admin(&pool).await;
    fake.with(|m| m.unavailable = true);
    age_membership_check(&pool, 13).await;
    for path in ["/admin", "/admin/members", "/admin/deliveries/dlv-a-ok"] {
        let page = b.get(path).await;
        assert_eq!(page.status, 503, "{path}");
        assert!(page.body.contains("GitHub could not confirm"), "{path}");
        for shown in ["alice", "dlv-a-ok", "org-a"] {
            assert!(!page.body.contains(shown), "{path} shows {shown}");
        }
    }
    // Nothing was confirmed: the check stays due.
    let due = app
        .count(
            "SELECT count(*) FROM admin_sessions WHERE kind = 'github'
             AND memberships_checked_at < now() - interval '12 hours'",
        )
        .await;
    assert_eq!(due, 1);
    // GitHub is back: the check passes and the pages show again.
    fake.with(|m| m.unavailable = false);
    assert_eq!(b.get("/admin/members").await.status, 200);
    // Signing out needs no answer from GitHub.
    fake.with(|m| m.unavailable = true);
    age_membership_check(&pool, 13).await;
    let token: String =
        sqlx::query_scalar("SELECT csrf_token FROM admin_sessions WHERE kind = 'github'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let out = b.post("/admin/logout", &[("csrf", &token)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(github_sessions(&app).await, 0);
    app.stop().await;
}

#[sqlx::test]
async fn the_user_token_is_revoked_after_sign_in(pool: PgPool) {
    seed(&pool).await;
    let (app, fake) = github_app(&pool).await;
    let mut b = Browser::new(&app);
    assert_eq!(sign_in_with_github(&mut b).await.status, 303);
    let (issued, revoked) = {
        let o = fake.oauth.lock().unwrap();
        (o.issued.clone(), o.revocations.clone())
    };
    assert_eq!(issued.len(), 1);
    assert_eq!(revoked, issued);
    // Refused sign-ins revoke theirs too.
    fake.oauth.lock().unwrap().approve_as = Some((7002, "mallory".into()));
    let mut other = Browser::new(&app);
    assert_eq!(sign_in_with_github(&mut other).await.status, 403);
    let (issued, revoked) = {
        let o = fake.oauth.lock().unwrap();
        (o.issued.clone(), o.revocations.clone())
    };
    assert_eq!(issued.len(), 2);
    assert_eq!(revoked, issued);
    app.stop().await;
}

#[sqlx::test]
async fn sync_now_runs_in_the_background_and_redeliver_reaches_github(pool: PgPool) {
    seed(&pool).await;
    sqlx::query("UPDATE deliveries SET status = 'failed' WHERE id = 'dlv-a-ok'")
        .execute(&pool)
        .await
        .unwrap();
    let (app, fake) = github_app(&pool).await;
    fake.with(|m| {
        m.hook_deliveries.push(support::fake_github::HookDelivery {
            id: 9_001,
            guid: "dlv-a-ok".into(),
            delivered_at: Utc::now(),
            redelivery: false,
            status_code: 502,
            event: "pull_request".into(),
            action: Some("opened".into()),
            installation_id: Some(INST_A),
        })
    });
    let mut b = Browser::new(&app);
    let done = sign_in_with_github(&mut b).await;
    assert_eq!(done.status, 303);
    let token = csrf(&b.get("/admin").await.body);
    let runs_before: i64 = app
        .count("SELECT count(*) FROM sync_runs WHERE installation_id = 1")
        .await;
    let sync = b
        .post("/admin/installations/1/sync", &[("csrf", &token)])
        .await;
    assert_eq!(sync.status, 303);
    wait_until("a sync run of installation 1", Duration::from_secs(20), || async {
        app.count("SELECT count(*) FROM sync_runs WHERE installation_id = 1 AND finished_at IS NOT NULL AND started_at > now() - interval '1 minute'")
            .await
            > 0
    })
    .await;
    assert!(
        app.count("SELECT count(*) FROM sync_runs WHERE installation_id = 1")
            .await
            > runs_before
    );
    let redeliver = b
        .post("/admin/deliveries/dlv-a-ok/redeliver", &[("csrf", &token)])
        .await;
    assert_eq!(redeliver.status, 303);
    wait_until("the redelivery request", Duration::from_secs(20), || async {
        app.count("SELECT count(*) FROM redelivery_requests WHERE guid = 'dlv-a-ok' AND hook_delivery_id = 9001")
            .await
            == 1
    })
    .await;
    assert_eq!(fake.with(|m| m.redelivery_requests.clone()), vec![9_001]);
    let detail = b.get("/admin/deliveries/dlv-a-ok").await.body;
    assert!(detail.contains("hook delivery 9001"));
    app.stop().await;
}

#[sqlx::test]
async fn session_cookie_is_signed_http_only_and_expires(pool: PgPool) {
    let mut vars = admin_vars(None);
    vars.push(("PUBLIC_URL", "http://localhost:8080".into()));
    let app = TestApp::spawn_with(
        pool.clone(),
        Role::Web,
        test_config_with(&redis_url(), &vars),
    )
    .await;
    let mut b = Browser::new(&app);
    b.get("/admin/login").await;
    let token = csrf(&b.get("/admin/login").await.body);
    b.post("/admin/login", &[("csrf", &token), ("password", PASSWORD)])
        .await;
    let cookie = b.set_cookies.first().expect("a session cookie").clone();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/admin"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http on localhost: {cookie}"
    );
    // The cookie holds a random id and its signature; the table holds only a hash of the id.
    let id = cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v.split('.').next().unwrap_or_default().to_owned())
        .unwrap();
    let stored: i64 = app
        .count(&format!(
            "SELECT count(*) FROM admin_sessions WHERE id_hash = '{id}'"
        ))
        .await;
    assert_eq!(stored, 0);
    assert_eq!(b.get("/admin").await.status, 200);
    // A tampered signature is no session.
    let good = b.cookies["mergecast_admin"].clone();
    b.cookies
        .insert("mergecast_admin".into(), format!("{id}.{}", "0".repeat(64)));
    assert_eq!(b.get("/admin").await.status, 303);
    b.cookies.insert("mergecast_admin".into(), good.clone());
    // Idle for 13 hours: gone.
    sqlx::query("UPDATE admin_sessions SET last_seen_at = now() - interval '13 hours' WHERE kind = 'operator'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(b.get("/admin").await.status, 303);
    sqlx::query("UPDATE admin_sessions SET last_seen_at = now() WHERE kind = 'operator'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(b.get("/admin").await.status, 200);
    // Past the absolute lifetime: gone, however active.
    sqlx::query("UPDATE admin_sessions SET expires_at = now() - interval '1 second' WHERE kind = 'operator'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(b.get("/admin").await.status, 303);
    app.stop().await;

    // Anywhere but plain http on this machine (https, plain http elsewhere, or no PUBLIC_URL
    // at all), the cookie is Secure.
    for public_url in [
        Some("https://mergecast.example.com"),
        Some("http://mergecast.example.com"),
        Some("http://localhost.example.com"),
        None,
    ] {
        let mut vars = admin_vars(None);
        if let Some(url) = public_url {
            vars.push(("PUBLIC_URL", url.into()));
        }
        let app = TestApp::spawn_with(
            pool.clone(),
            Role::Web,
            test_config_with(&redis_url(), &vars),
        )
        .await;
        let mut b = Browser::new(&app);
        let token = csrf(&b.get("/admin/login").await.body);
        assert!(
            b.set_cookies.iter().all(|c| c.contains("; Secure")),
            "{public_url:?}"
        );
        b.post("/admin/login", &[("csrf", &token), ("password", PASSWORD)])
            .await;
        assert!(!b.set_cookies.is_empty());
        assert!(
            b.set_cookies.iter().all(|c| c.contains("; Secure")),
            "{public_url:?}: {:?}",
            b.set_cookies
        );
        app.stop().await;
    }
}

/// Every admin response, the sign-in page and errors included, carries the security headers:
/// no script may run, only our stylesheet loads, nothing is cached or framed.
#[sqlx::test]
async fn every_admin_page_carries_the_security_headers(pool: PgPool) {
    seed(&pool).await;
    let app = TestApp::spawn_with(pool.clone(), Role::Web, config(None)).await;
    let mut b = Browser::new(&app);
    let check = |path: &str, page: &Page| {
        let header = |name: &str| {
            page.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{path}: no {name}"))
                .to_owned()
        };
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "style-src 'self'",
            "form-action 'self' https://github.com",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(
            !csp.contains("script-src") && !csp.contains("unsafe"),
            "{path}: {csp}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("cache-control"), "no-store", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
    };
    for path in ["/admin/login", "/admin"] {
        check(path, &b.get(path).await);
    }
    b.sign_in_operator(PASSWORD).await;
    for path in PAGES
        .iter()
        .chain(&["/admin/outside", "/admin/deliveries/nope"])
    {
        check(path, &b.get(path).await);
    }
    // The stylesheet is the one thing cached, and it is served as CSS.
    let css = b.get("/admin/assets/admin.css").await;
    assert_eq!(css.headers["x-content-type-options"], "nosniff");
    assert!(
        css.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    app.stop().await;
}

/// A link from stored data is a link only when it is https; anything else is plain text.
#[sqlx::test]
async fn only_https_links_from_data_are_clickable(pool: PgPool) {
    seed(&pool).await;
    sqlx::query(
        "UPDATE surveys SET html_url = CASE id WHEN 1 THEN 'javascript:alert(1)'
                                                ELSE 'https://github.com/org-b/web/pull/7' END",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = TestApp::spawn_with(pool, Role::Web, config(None)).await;
    let mut b = Browser::new(&app);
    b.sign_in_operator(PASSWORD).await;
    let bad = b.get("/admin/surveys/1").await.body;
    assert!(!bad.contains("javascript:"), "{bad}");
    assert!(bad.contains("org-a/api#7"), "the name is still shown");
    let good = b.get("/admin/surveys/2").await.body;
    assert!(
        good.contains(r#"href="https://github.com/org-b/web/pull/7""#),
        "{good}"
    );
    app.stop().await;
}

/// `?notice=` is a code for a fixed line; anything else in it is never shown.
#[sqlx::test]
async fn notices_are_fixed_codes_never_echoed(pool: PgPool) {
    seed(&pool).await;
    let app = TestApp::spawn_with(pool, Role::Web, config(None)).await;
    let mut b = Browser::new(&app);
    let token = b.sign_in_operator(PASSWORD).await;
    for path in [
        "/admin/members?installation=1&notice=Your+session+expired%2C+call+555-0100",
        "/admin/installations?notice=Your+session+expired%2C+call+555-0100",
        "/admin/outside?notice=Your+session+expired%2C+call+555-0100",
        "/admin/deliveries/dlv-a-ok?notice=Your+session+expired%2C+call+555-0100",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(!page.body.contains("555-0100"), "{path} echoes the notice");
        assert!(!page.body.contains("class=\"notice\""), "{path}");
    }
    // A real action redirects with a code, and the page shows its fixed text.
    let saved = b
        .post(
            "/admin/members/1/101",
            &[("csrf", &token), ("action", "toggle_opt_out")],
        )
        .await;
    let location = saved.location.expect("redirect");
    assert!(location.contains("notice=saved"), "{location}");
    let page = b.get(&location).await.body;
    assert!(
        page.contains(r#"<p class="notice" role="status">Saved.</p>"#),
        "{page}"
    );
    app.stop().await;
}

#[sqlx::test]
async fn lists_are_paginated(pool: PgPool) {
    seed(&pool).await;
    sqlx::query(
        "INSERT INTO members (installation_id, github_id, login) SELECT 1, 1000 + n, 'user' || lpad(n::text, 3, '0')
         FROM generate_series(1, 120) n",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO deliveries (id, event, installation_id, status, received_at)
         SELECT 'bulk-' || lpad(n::text, 3, '0'), 'issues', 1, 'processed', now() - make_interval(hours => 1, secs => n)
         FROM generate_series(1, 120) n",
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = TestApp::spawn_with(pool, Role::Web, config(None)).await;
    let mut b = Browser::new(&app);
    b.sign_in_operator(PASSWORD).await;
    let first = b.get("/admin/members?installation=1").await.body;
    assert!(first.contains("user001") && !first.contains("user060"));
    assert!(first.contains("page=1"));
    let second = b.get("/admin/members?installation=1&q=&page=1").await.body;
    assert!(second.contains("user060") && !second.contains("user001"));
    // Keyset pages of deliveries: follow "Older" to the end, seeing every bulk row once.
    let mut seen = std::collections::HashSet::new();
    let mut next = Some("/admin/deliveries?event=issues".to_string());
    let mut pages = 0;
    while let Some(url) = next.take() {
        pages += 1;
        assert!(pages < 10, "pagination ends");
        let body = b.get(&url).await.body;
        for n in 1..=120 {
            let id = format!("/admin/deliveries/bulk-{n:03}\"");
            if body.contains(&id) {
                assert!(seen.insert(n), "bulk-{n:03} shown twice");
            }
        }
        next = body
            .split("href=\"")
            .filter_map(|s| s.split('"').next())
            .find(|h| h.contains("before="))
            .map(|h| h.replace("&amp;", "&"));
    }
    assert_eq!(seen.len(), 120);
    assert_eq!(pages, 3);
    app.stop().await;
}

/// Honest figures: a skipped survey (a bot's PR) is not a survey, and an AI share of 100 % with
/// three authors (it would tell each answer) is withheld like a figure under the floor.
#[sqlx::test]
async fn weekly_stats_skip_skipped_surveys_and_withhold_extremes(pool: PgPool) {
    let merged = Utc::now() - chrono::Duration::days(1);
    for (i, status) in [
        (0_i64, "revealed"),
        (1, "revealed"),
        (2, "revealed"),
        (3, "skipped"),
    ] {
        let survey: i64 = sqlx::query_scalar(
            r#"INSERT INTO surveys (installation_id, pull_request_id, repository_id, repository_full_name, number, title,
                   status, merged_at, remind_at, closes_at)
               VALUES (1, $1, 1, 'o/r', $2, 't', $3, $4, $4, $4) RETURNING id"#,
        )
        .bind(100 + i)
        .bind(i as i32)
        .bind(status)
        .bind(merged)
        .fetch_one(&pool)
        .await
        .unwrap();
        if status == "skipped" {
            continue;
        }
        sqlx::query(
            r#"INSERT INTO survey_participants (survey_id, github_id, login, role, asked_at, answer, answered_at)
               VALUES ($1, $2, $3, 'author', $4, 'a_lot', $4)"#,
        )
        .bind(survey)
        .bind(200 + i)
        .bind(format!("author{i}"))
        .bind(merged)
        .execute(&pool)
        .await
        .unwrap();
    }
    let weeks = mergecast::store::admin_stats::weekly_stats(&pool, None)
        .await
        .unwrap();
    let totals: i64 = weeks.iter().map(|w| w.surveys).sum();
    assert_eq!(totals, 3, "the skipped survey does not count");
    assert!(
        weeks.iter().all(|w| w.ai_share.is_none()),
        "100 % is withheld"
    );
    assert!(weeks.iter().any(|w| w.response_rate == Some(1.0)));
}

/// Outside collaborators (surveyed without a member row) are listed for their org, and the
/// org's admins map them to Slack and opt them out or back in.
#[sqlx::test]
async fn outside_collaborators_can_be_mapped_and_opted_out(pool: PgPool) {
    seed(&pool).await;
    mergecast::store::surveys::outside_person(&pool, 1, 777, "outsider")
        .await
        .unwrap();
    let app = TestApp::spawn_with(pool.clone(), Role::Web, config(None)).await;
    let mut b = Browser::new(&app);
    let token = b.sign_in_operator(PASSWORD).await;
    let list = b.get("/admin/outside").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("outsider"), "{}", list.body);
    let row = || async {
        sqlx::query_as::<_, (Option<String>, bool)>(
            "SELECT slack_user_id, opted_out FROM outside_people WHERE installation_id = 1 AND github_id = 777",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let saved = b
        .post(
            "/admin/outside/1/777",
            &[
                ("csrf", &token),
                ("action", "slack"),
                ("slack_user_id", "U0OUTSIDE"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    assert_eq!(row().await, (Some("U0OUTSIDE".into()), false));
    b.post(
        "/admin/outside/1/777",
        &[("csrf", &token), ("action", "toggle_opt_out")],
    )
    .await;
    assert_eq!(row().await, (Some("U0OUTSIDE".into()), true));
    let bad = b
        .post(
            "/admin/outside/1/777",
            &[
                ("csrf", &token),
                ("action", "slack"),
                ("slack_user_id", "<script>"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        b.post(
            "/admin/outside/1/999",
            &[("csrf", &token), ("action", "toggle_opt_out")]
        )
        .await
        .status,
        404
    );
    app.stop().await;
}

/// A sync refused the Copilot seat list (no permission): the installations page says Copilot is
/// not available and why.
#[sqlx::test]
async fn the_installations_page_shows_copilot_not_available_with_the_reason(pool: PgPool) {
    let (app, fake) = github_app(&pool).await;
    fake.with(|m| {
        m.add_org_installation(INST_A, "org-a").copilot_permission = false;
    });
    let syncer = app.services.catch_up().expect("app configured");
    syncer.discover_installations().await.expect("discover");
    syncer
        .sync_installation(mergecast::ids::InstallationId(INST_A))
        .await
        .expect("sync");
    let mut b = Browser::new(&app);
    b.sign_in_operator(PASSWORD).await;
    let page = b.get("/admin/installations").await.body;
    assert!(page.contains("not available: no permission"), "{page}");
    assert!(
        page.contains("Resource not accessible by integration"),
        "{page}"
    );
    app.stop().await;
}
