//! First run in the browser: an unconfigured Mergecast sends `/` to the setup page, which the
//! one-time code from the log unlocks; the operator sets a password, registers the GitHub App
//! from its manifest against the fake GitHub, and the process applies what was stored at once
//! (webhooks signed with the new app's secret are accepted), secrets sealed. Environment
//! variables win; without an encryption key nothing secret is stored.

mod support;

use base64::Engine;
use mergecast::app::Role;
use mergecast::github::signature;
use sqlx::PgPool;
use std::time::Duration;

use support::browser::{Browser, csrf};
use support::fake_github::FakeGithub;
use support::log_capture::{log, setup_code};
use support::{APP_ID, TestApp, redis_url, serve_env, wait_until};

const PASSWORD: &str = "a long operator passphrase";
const ORG: &str = "acme";

fn key() -> String {
    base64::engine::general_purpose::STANDARD.encode([7u8; 32])
}

fn env_for(fake: &FakeGithub, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut vars: Vec<(&str, String)> = extra.to_vec();
    vars.push(("GITHUB_API_URL", fake.url.clone()));
    vars.push(("GITHUB_WEB_URL", fake.url.clone()));
    serve_env(&redis_url(), &vars)
}

async fn fake() -> FakeGithub {
    let fake = FakeGithub::start(APP_ID).await;
    fake.with(|m| {
        m.orgs.insert(ORG.into(), 9001);
    });
    fake
}

/// Enters the setup code and the password; the browser is then the operator.
async fn set_password(app: &TestApp, b: &mut Browser) {
    let root = b.get("/").await;
    assert_eq!(root.location.as_deref(), Some("/admin/setup"));
    let page = b.get("/admin/setup").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = csrf(&page.body);
    let code = setup_code(app.addr).await;
    let done = b
        .post(
            "/admin/setup/password",
            &[
                ("csrf", &token),
                ("code", &code),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/admin/setup"));
}

/// The manifest form's action and manifest, from the page `POST /admin/setup/github` returns.
fn manifest_form(html: &str) -> (String, String) {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#39;", "'")
    };
    let field = |marker: &str| {
        let at = html.find(marker).expect("field") + marker.len();
        unescape(html[at..].split('"').next().unwrap_or_default())
    };
    (field("action=\""), field("name=\"manifest\" value=\""))
}

/// Registers the app for `ORG`: the setup page's form, GitHub's page, the way back.
async fn register_app(app: &TestApp, b: &mut Browser) -> reqwest::Response {
    let page = b.get("/admin/setup").await;
    assert!(
        page.body.contains("Register the GitHub App"),
        "{}",
        page.body
    );
    let token = csrf(&page.body);
    let form = b
        .post(
            "/admin/setup/github",
            &[("csrf", &token), ("public_url", &app.url("")), ("org", ORG)],
        )
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
    let (action, manifest) = manifest_form(&form.body);
    assert!(
        action.contains(&format!("/organizations/{ORG}/settings/apps/new?state=")),
        "{action}"
    );
    let manifest: serde_json::Value = serde_json::from_str(&manifest).expect("manifest JSON");
    assert_eq!(
        manifest["hook_attributes"]["url"],
        app.url("/webhooks/github")
    );
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(&action)
        .form(&[("manifest", manifest.to_string())])
        .send()
        .await
        .expect("post the manifest to GitHub")
}

async fn deliver_ping(app: &TestApp, secret: &str) -> u16 {
    let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    app.client
        .post(app.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "ping")
        .header("x-github-delivery", uuid::Uuid::new_v4().to_string())
        .header(
            "x-hub-signature-256",
            signature::sign(secret.as_bytes(), body),
        )
        .body(body.to_vec())
        .send()
        .await
        // A reload closes idle keep-alive connections; one reused at that instant fails to
        // send (a client, like GitHub, sends again): 0 stands for "no answer".
        .map_or(0, |r| r.status().as_u16())
}

#[sqlx::test]
async fn a_new_deployment_is_set_up_in_the_browser_and_its_app_registered(pool: PgPool) {
    log();
    let fake = fake().await;
    let env = env_for(&fake, &[("MERGECAST_ENCRYPTION_KEY", key())]);
    let app = TestApp::serve(pool.clone(), Role::All, env).await;
    let mut b = Browser::new(&app);
    // Before the app exists, webhooks cannot be verified: 503, not a verdict.
    assert_eq!(deliver_ping(&app, "anything").await, 503);
    set_password(&app, &mut b).await;

    let back = register_app(&app, &mut b).await;
    assert_eq!(back.status(), 302);
    let location = back.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(location.starts_with(&app.url("/admin/setup/github/registered?code=")));
    let done = b.get(&location).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some("/admin/setup?notice=app-registered")
    );
    assert_eq!(fake.manifest.lock().expect("flow").conversions, 1);

    // Stored: plain values in app_settings, secrets only sealed.
    let (secret, client_secret) = {
        let flow = fake.manifest.lock().expect("flow");
        (flow.webhook_secret.clone(), flow.client_secret.clone())
    };
    let app_id: String =
        sqlx::query_scalar("SELECT value FROM app_settings WHERE name = 'GITHUB_APP_ID'")
            .fetch_one(&pool)
            .await
            .expect("app id stored");
    assert_eq!(app_id, APP_ID.to_string());
    let sealed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sealed_secrets WHERE installation_id = 0")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(sealed, 4, "key, webhook secret, client secret, session key");
    let dump: String = sqlx::query_scalar(
        "SELECT coalesce(string_agg(t::text, ' '), '') FROM (SELECT * FROM app_settings) t",
    )
    .fetch_one(&pool)
    .await
    .expect("dump");
    let dump = format!(
        "{dump} {}",
        sqlx::query_scalar::<_, String>(
            "SELECT coalesce(string_agg(encode(sealed, 'escape'), ' '), '') FROM sealed_secrets"
        )
        .fetch_one(&pool)
        .await
        .expect("sealed")
    );
    for clear in [&secret, &client_secret, "PRIVATE KEY"] {
        assert!(!dump.contains(clear), "{clear} stored in clear");
    }

    // Applied without a restart: the new app's webhook secret verifies deliveries.
    wait_until(
        "the new webhook secret in use",
        Duration::from_secs(15),
        || {
            let (app, secret) = (&app, &secret);
            async move { deliver_ping(app, secret).await == 200 }
        },
    )
    .await;
    assert_eq!(deliver_ping(&app, "wrong").await, 401);

    // The page: the app works (GET /app with its JWT), and links to its install page.
    let page = b.get("/admin/setup?notice=app-registered").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("The GitHub App is registered"));
    assert!(
        page.body.contains("App mergecast-test (id 123456)"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!(
        "{}/apps/mergecast-test/installations/new",
        fake.url
    )));
    assert!(!page.body.contains(&secret));
    // The code worked once; the operator signs in with the password from now on.
    assert_eq!(
        Browser::new(&app).get("/").await.location.as_deref(),
        Some("/admin")
    );
    let mut other = Browser::new(&app);
    other.sign_in_operator(PASSWORD).await;
    app.stop().await;
}

#[sqlx::test]
async fn the_setup_code_is_checked_and_works_once(pool: PgPool) {
    log();
    let fake = fake().await;
    let env = env_for(&fake, &[("MERGECAST_ENCRYPTION_KEY", key())]);
    let app = TestApp::serve(pool.clone(), Role::Web, env).await;
    let mut b = Browser::new(&app);
    let page = b.get("/admin/setup").await;
    let token = csrf(&page.body);
    let code = setup_code(app.addr).await;
    let stored = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM app_settings WHERE name = 'ADMIN_PASSWORD_HASH'",
        )
        .fetch_one(&pool)
        .await
        .expect("count")
    };
    for (code, password, confirm, says) in [
        ("AAAA-BBBB-CCCC", PASSWORD, PASSWORD, "not the setup code"),
        (code.as_str(), "short", "short", "at least 12"),
        (code.as_str(), PASSWORD, "another long password", "differ"),
    ] {
        let refused = b
            .post(
                "/admin/setup/password",
                &[
                    ("csrf", &token),
                    ("code", code),
                    ("password", password),
                    ("confirm", confirm),
                ],
            )
            .await;
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains(says), "{}", refused.body);
        assert_eq!(stored().await, 0);
    }
    // Without the form's cookie: refused as CSRF.
    let mut stranger = Browser::new(&app);
    let forged = stranger
        .post(
            "/admin/setup/password",
            &[
                ("csrf", &token),
                ("code", &code),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(stored().await, 0);
    let ok = b
        .post(
            "/admin/setup/password",
            &[
                ("csrf", &token),
                ("code", &code.to_lowercase()),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(stored().await, 1);
    // Used up: a second try changes nothing.
    let mut late = Browser::new(&app);
    let late_page = late.get("/admin/setup").await;
    let again = late
        .post(
            "/admin/setup/password",
            &[
                ("csrf", &csrf_or_empty(&late_page.body)),
                ("code", &code),
                ("password", "an attacker's password"),
                ("confirm", "an attacker's password"),
            ],
        )
        .await;
    // Nothing set: the browser is merely sent to sign in.
    assert_eq!(again.location.as_deref(), Some("/admin/login"));
    assert!(!late.cookies.contains_key("mergecast_admin"));
    assert_eq!(stored().await, 1);
    late.sign_in_operator(PASSWORD).await;
    app.stop().await;
}

fn csrf_or_empty(html: &str) -> String {
    if html.contains("name=\"csrf\"") {
        csrf(html)
    } else {
        String::new()
    }
}

#[sqlx::test]
async fn a_manifest_callback_needs_this_sessions_fresh_state(pool: PgPool) {
    log();
    let fake = fake().await;
    let env = env_for(&fake, &[("MERGECAST_ENCRYPTION_KEY", key())]);
    let app = TestApp::serve(pool.clone(), Role::Web, env).await;
    let mut b = Browser::new(&app);
    set_password(&app, &mut b).await;
    let back = register_app(&app, &mut b).await;
    let location = back.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let stored = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM app_settings WHERE name LIKE 'GITHUB_%'")
            .fetch_one(&pool)
            .await
            .expect("count")
    };
    // A state this app never issued.
    let forged = location.replace("state=", "state=x");
    let refused = b.get(&forged).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("not started from this session"));
    // Another operator session (signed in separately) cannot use this session's state.
    let mut other = Browser::new(&app);
    other.sign_in_operator(PASSWORD).await;
    let refused = other.get(&location).await;
    assert_eq!(refused.status, 400);
    // That attempt used the state up: the owner cannot finish with it either.
    assert_eq!(b.get(&location).await.status, 400);
    assert_eq!(stored().await, 0);
    assert_eq!(fake.manifest.lock().expect("flow").conversions, 0);

    // A code older than an hour: GitHub answers 404, the page says so, nothing stored.
    let back = register_app(&app, &mut b).await;
    let location = back.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    fake.manifest
        .lock()
        .expect("flow")
        .age_codes(chrono::Duration::minutes(61));
    let failed = b.get(&location).await;
    assert_eq!(failed.status, 400);
    assert!(
        failed.body.contains("did not hand over the new app"),
        "{}",
        failed.body
    );
    assert_eq!(stored().await, 0);
    app.stop().await;
}

#[sqlx::test]
async fn environment_variables_win_over_the_setup_page(pool: PgPool) {
    log();
    let fake = fake().await;
    let key_path = support::fake_github::private_key_path()
        .display()
        .to_string();
    let env = env_for(
        &fake,
        &[
            ("MERGECAST_ENCRYPTION_KEY", key()),
            ("GITHUB_APP_ID", APP_ID.to_string()),
            ("GITHUB_PRIVATE_KEY_PATH", key_path),
            ("GITHUB_WEBHOOK_SECRET", "from-the-environment".into()),
        ],
    );
    // Something stored earlier for the same groups.
    let keyring = mergecast::config::seal::Keyring::from_keys(&[7u8; 32], &[]);
    mergecast::store::app_settings::save(
        &pool,
        Some(&keyring),
        &[(mergecast::store::app_settings::Setting::GithubAppId, "999")],
        &[(
            mergecast::store::secrets::SecretName::GithubWebhookSecret,
            b"stored-secret".as_slice(),
        )],
    )
    .await
    .expect("save");
    let app = TestApp::serve(pool.clone(), Role::Web, env).await;
    assert_eq!(deliver_ping(&app, "from-the-environment").await, 200);
    assert_eq!(deliver_ping(&app, "stored-secret").await, 401);
    let mut b = Browser::new(&app);
    set_password(&app, &mut b).await;
    let page = b.get("/admin/setup").await;
    assert!(page.body.contains("(id 123456)"), "{}", page.body);
    assert!(page.body.contains("from environment variables, which win"));
    assert!(!page.body.contains("Register the GitHub App"));
    app.stop().await;
}

#[sqlx::test]
async fn without_an_encryption_key_nothing_secret_is_stored(pool: PgPool) {
    log();
    let fake = fake().await;
    let env = env_for(
        &fake,
        &[(
            "SESSION_SECRET",
            "0123456789abcdef0123456789abcdef-k".into(),
        )],
    );
    let app = TestApp::serve(pool.clone(), Role::Web, env).await;
    let mut b = Browser::new(&app);
    set_password(&app, &mut b).await;
    let page = b.get("/admin/setup").await;
    assert!(
        page.body.contains("Set MERGECAST_ENCRYPTION_KEY"),
        "{}",
        page.body
    );
    let refused = b
        .post(
            "/admin/setup/github",
            &[
                ("csrf", &csrf(&page.body)),
                ("public_url", &app.url("")),
                ("org", ORG),
            ],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .body
            .contains("refusing to store a secret without an encryption key")
    );
    let sealed: i64 = sqlx::query_scalar("SELECT count(*) FROM sealed_secrets")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(sealed, 0);
    assert!(
        log()
            .text()
            .contains("refusing to store a secret without an encryption key")
    );
    app.stop().await;
}

#[sqlx::test]
async fn another_process_applies_what_one_stored(pool: PgPool) {
    log();
    let fake = fake().await;
    let env = env_for(&fake, &[("MERGECAST_ENCRYPTION_KEY", key())]);
    let first = TestApp::serve(pool.clone(), Role::Web, env.clone()).await;
    let second = TestApp::serve(pool.clone(), Role::Web, env).await;
    let mut b = Browser::new(&first);
    // Two processes printed codes; only the newest one stored works.
    let codes = [setup_code(first.addr).await, setup_code(second.addr).await];
    let page = b.get("/admin/setup").await;
    let token = csrf(&page.body);
    let mut accepted = 0;
    for code in &codes {
        let done = b
            .post(
                "/admin/setup/password",
                &[
                    ("csrf", &token),
                    ("code", code),
                    ("password", PASSWORD),
                    ("confirm", PASSWORD),
                ],
            )
            .await;
        if done.status == 303 {
            accepted += 1;
            break;
        }
        assert_eq!(done.status, 400, "{}", done.body);
    }
    assert_eq!(accepted, 1);
    let back = register_app(&first, &mut b).await;
    let location = back.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert_eq!(b.get(&location).await.status, 303);
    let secret = fake.manifest.lock().expect("flow").webhook_secret.clone();
    wait_until(
        "the other process uses the new secret",
        Duration::from_secs(15),
        || {
            let (second, secret) = (&second, &secret);
            async move { deliver_ping(second, secret).await == 200 }
        },
    )
    .await;
    first.stop().await;
    second.stop().await;
}
