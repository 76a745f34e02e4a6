//! The admin app with both sign-ins for tests of admin pages outside `tests/admin.rs`, and
//! the GitHub (org admin) sign-in for `support::browser::Browser`. Included with `#[path]` next
//! to `mod support;`.
#![allow(dead_code)]

use mergecast::app::Role;
use mergecast::config::hash_password;
use sqlx::PgPool;

use crate::support::browser::{Browser, csrf};
use crate::support::fake_github::{FakeGithub, User};
use crate::support::{TestApp, redis_url, test_config_with};

pub const PASSWORD: &str = "correct horse battery staple";
const CLIENT_ID: &str = "Iv1.testclient";
const CLIENT_SECRET: &str = "oauth-client-secret-value";

/// The app (web role) with password and GitHub sign-in against `fake`; the GitHub user 7001
/// (`alice`) is an admin of `admin_of` only (`org-a` is account 501, `org-b` 502, as the tests
/// seed them).
pub async fn app(pool: &PgPool, fake: &FakeGithub, admin_of: &str) -> TestApp {
    app_with(pool, fake, admin_of, &[]).await
}

/// [`app`] with more configuration variables (they win over the ones set here).
pub async fn app_with(
    pool: &PgPool,
    fake: &FakeGithub,
    admin_of: &str,
    extra: &[(&str, String)],
) -> TestApp {
    let mut vars: Vec<(&str, String)> = extra.to_vec();
    vars.extend([
        (
            "ADMIN_PASSWORD_HASH",
            hash_password(PASSWORD).expect("hash"),
        ),
        (
            "SESSION_SECRET",
            "0123456789abcdef0123456789abcdef-test".to_string(),
        ),
        ("GITHUB_CLIENT_ID", CLIENT_ID.to_string()),
        ("GITHUB_CLIENT_SECRET", CLIENT_SECRET.to_string()),
        ("GITHUB_API_URL", fake.url.clone()),
        ("GITHUB_WEB_URL", fake.url.clone()),
    ]);
    let app = TestApp::spawn_with(
        pool.clone(),
        Role::Web,
        test_config_with(&redis_url(), &vars),
    )
    .await;
    let mut o = fake.oauth.lock().expect("oauth");
    o.client_id = CLIENT_ID.into();
    o.client_secret = CLIENT_SECRET.into();
    o.callback_url = app.url("/admin/oauth/callback");
    o.approve_as = Some((7001, "alice".into()));
    drop(o);
    // The orgs the tests seed, under the account ids they store (sign-in compares org ids).
    fake.with(|m| {
        m.orgs
            .extend([("org-a".into(), 501), ("org-b".into(), 502)]);
        m.set_membership(&User::new(7001, "alice"), admin_of, "admin", "active");
    });
    app
}

/// Signs `b` in through the fake GitHub as user 7001 (an org admin, see [`app`]).
pub async fn sign_in_org_admin(b: &mut Browser) {
    let login = b.get("/admin/login").await;
    let token = csrf(&login.body);
    let start = b.post("/admin/login/github", &[("csrf", &token)]).await;
    assert_eq!(start.status, 303, "{}", start.body);
    let back = b.get(&start.location.expect("authorize URL")).await;
    assert_eq!(back.status, 302);
    let done = b.get(&back.location.expect("callback")).await;
    assert_eq!(done.status, 303, "{}", done.body);
}
