//! Every secret the process knows stays out of its output: a full flow (install, catch-up with
//! installation tokens, a reviewed and merged PR, both Slack answers and the reveal, refused
//! webhooks and clicks, the operator's and an org admin's sign-in, every admin page and the
//! metrics) runs with the app's own log setup at `trace` for every crate, and the log, each page,
//! each error body and `/metrics` are searched for each secret.
//!
//! This binary holds one test: it installs the process-wide subscriber.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use mergecast::config::{LogFormat, hash_password};
use mergecast::github::signature;
use mergecast::store::surveys::SurveyStatus;
use sqlx::PgPool;
use support::browser::{Browser, csrf};
use support::fake_github::{User, private_key_pem};
use support::scenario::github::ReviewState;
use support::scenario::{HUBOT, MONA, ORG, SLACK_SIGNING_SECRET, SLACK_TOKEN, Scenario};
use tracing_subscriber::EnvFilter;

const PASSWORD: &str = "operator passphrase 3c9e1f";
const SESSION_SECRET: &str = "session-secret-5d1f8a2b7c4e9f30a6b1";
const CLIENT_ID: &str = "Iv1.secretstest";
const CLIENT_SECRET: &str = "oauth-client-secret-8e2d4c6a";

/// What the process writes through tracing, kept for the search.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

/// Everything a person could read: the log, pages, error bodies, metrics.
#[derive(Default)]
struct Output(Vec<(String, String)>);

impl Output {
    fn add(&mut self, what: impl Into<String>, text: impl Into<String>) {
        self.0.push((what.into(), text.into()));
    }

    /// Fails naming where `secret` (called `name`) appeared.
    fn assert_absent(&self, name: &str, secret: &str) {
        assert!(secret.len() >= 8, "{name} is too short to search for");
        for (what, text) in &self.0 {
            if let Some(at) = text.find(secret) {
                let from = text[..at]
                    .char_indices()
                    .rev()
                    .nth(200)
                    .map_or(0, |(i, _)| i);
                panic!(
                    "{name} appears in {what}: …{}…",
                    &text[from..(at + secret.len()).min(text.len())]
                );
            }
        }
    }
}

#[sqlx::test]
async fn no_secret_reaches_a_log_line_a_page_an_error_or_a_metric(pool: PgPool) {
    let log = Captured::default();
    let writer = log.clone();
    assert!(
        mergecast::telemetry::install(LogFormat::Text, EnvFilter::new("trace"), false, move || {
            writer.clone()
        }),
        "the only subscriber in this binary"
    );
    let hash = hash_password(PASSWORD).expect("hash");
    let s = Scenario::builder(pool)
        .env("ADMIN_PASSWORD_HASH", hash.clone())
        .env("SESSION_SECRET", SESSION_SECRET)
        .env("GITHUB_CLIENT_ID", CLIENT_ID)
        .env("GITHUB_CLIENT_SECRET", CLIENT_SECRET)
        .start()
        .await;
    {
        let mut o = s.github.oauth.lock().expect("oauth");
        o.client_id = CLIENT_ID.into();
        o.client_secret = CLIENT_SECRET.into();
        o.callback_url = s.app.url("/admin/oauth/callback");
        o.approve_as = Some((MONA.github_id, MONA.login.into()));
    }
    s.github.with(|m| {
        m.set_membership(
            &User::new(MONA.github_id, MONA.login),
            ORG,
            "admin",
            "active",
        )
    });
    let mut out = Output::default();

    // The survey flow, end to end: installation tokens, Slack DMs, answers, the reveal.
    let pr = s.open_pr(MONA).await;
    s.review(pr, HUBOT, ReviewState::Approved).await;
    s.merge(pr).await;
    s.slack().dm(MONA).wait_count(1).await;
    s.slack().dm(HUBOT).wait_count(1).await;
    s.slack().dm(MONA).click("A lot").await;
    s.slack().dm(HUBOT).click("Yes").await;
    s.survey_until(pr, "revealed", |v| v.status() == SurveyStatus::Revealed)
        .await;

    // Refusals: a webhook signed with the wrong secret, a click with a bad Slack signature.
    let body = br#"{"action":"opened"}"#;
    let refused = reqwest::Client::new()
        .post(s.app.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "issues")
        .header("x-github-delivery", "0b1e4f2a-0000-4000-8000-000000000001")
        .header(
            "x-hub-signature-256",
            signature::sign(b"not-the-secret", body),
        )
        .body(body.to_vec())
        .send()
        .await
        .expect("webhook");
    assert_eq!(refused.status(), 401);
    out.add("a refused webhook", refused.text().await.expect("body"));
    let click = reqwest::Client::new()
        .post(s.app.url("/slack/interactions"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", chrono::Utc::now().timestamp())
        .header("x-slack-signature", "v0=00")
        .body("payload=%7B%7D")
        .send()
        .await
        .expect("click");
    assert_eq!(click.status(), 401);
    out.add("a refused click", click.text().await.expect("body"));

    // The operator reads every page, including each delivery's headers and payload.
    let mut operator = Browser::new(&s.app);
    let wrong = operator.get("/admin/login").await;
    let wrong = operator
        .post(
            "/admin/login",
            &[("csrf", &csrf(&wrong.body)), ("password", "wrong password")],
        )
        .await;
    out.add("a failed sign-in", wrong.body);
    operator.sign_in_operator(PASSWORD).await;
    let mut paths: Vec<String> = [
        "/admin",
        "/admin/installations",
        "/admin/members",
        "/admin/outside",
        "/admin/deliveries",
        "/admin/surveys",
        "/admin/stats",
        "/admin/stats.csv",
        "/admin/deliveries/no-such-delivery",
        "/admin/surveys?status=nonsense",
    ]
    .map(String::from)
    .to_vec();
    for list in ["/admin/deliveries", "/admin/surveys"] {
        let page = operator.get(list).await.body;
        paths.extend(links_under(&page, &format!("{list}/")));
    }
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("/admin/deliveries/")
                && p != "/admin/deliveries/no-such-delivery"),
        "delivery pages are searched too"
    );
    for path in &paths {
        let page = operator.get(path).await;
        out.add(format!("{path} ({})", page.status), page.body);
    }

    // An org admin signs in with GitHub (a user token, the client secret).
    let mut admin = Browser::new(&s.app);
    let login = admin.get("/admin/login").await;
    let start = admin
        .post("/admin/login/github", &[("csrf", &csrf(&login.body))])
        .await;
    let authorize = start.location.expect("authorize URL");
    let back = admin.get(&authorize).await;
    let done = admin.get(&back.location.expect("callback")).await;
    assert_eq!(done.status, 303, "{}", done.body);
    out.add("the org admin's overview", admin.get("/admin").await.body);

    let metrics = reqwest::get(s.app.metrics_url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    out.add("/metrics", metrics);

    // What the process knew: configured secrets, and every token GitHub minted for it.
    let mut secrets: Vec<(String, String)> = vec![
        ("the webhook secret".into(), support::SECRET.into()),
        ("the old webhook secret".into(), "old-secret".into()),
        ("the operator password".into(), PASSWORD.into()),
        ("the password hash".into(), hash.clone()),
        (
            "the password hash's digest".into(),
            hash.rsplit('$').next().unwrap_or_default().into(),
        ),
        ("the session secret".into(), SESSION_SECRET.into()),
        ("the OAuth client secret".into(), CLIENT_SECRET.into()),
        ("the Slack bot token".into(), SLACK_TOKEN.into()),
        (
            "the Slack signing secret".into(),
            SLACK_SIGNING_SECRET.into(),
        ),
    ];
    for (i, line) in private_key_pem()
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 40)
        .enumerate()
    {
        secrets.push((format!("private key line {i}"), line.to_owned()));
    }
    let installation_tokens: Vec<String> = s.github(|m| m.tokens.keys().cloned().collect());
    assert!(!installation_tokens.is_empty(), "catch-up minted tokens");
    for token in installation_tokens {
        secrets.push(("an installation token".into(), token));
    }
    let user_tokens = s.github.oauth.lock().expect("oauth").issued.clone();
    assert_eq!(user_tokens.len(), 1, "the org admin's sign-in");
    for token in user_tokens {
        secrets.push(("a user token".into(), token));
    }
    for (name, value) in operator.cookies.iter().chain(admin.cookies.iter()) {
        if value.len() >= 16 {
            secrets.push((format!("the {name} cookie"), value.clone()));
        }
    }
    s.stop().await;

    let log = log.text();
    assert!(
        log.contains("TRACE") && log.contains("DEBUG"),
        "the log is at trace level"
    );
    out.add("the log", log);
    for (name, secret) in &secrets {
        out.assert_absent(name, secret);
    }
}

/// The `href`s in `html` that start with `prefix`.
fn links_under(html: &str, prefix: &str) -> Vec<String> {
    let marker = format!("href=\"{prefix}");
    html.match_indices(&marker)
        .filter_map(|(at, _)| {
            let rest = &html[at + "href=\"".len()..];
            rest.split('"')
                .next()
                .map(|link| link.replace("&amp;", "&"))
        })
        .filter(|link| !link.contains('?'))
        .collect()
}
