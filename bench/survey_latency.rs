//! Survey latency benchmark: time from a merged-PR delivery arriving at `/webhooks/github` to
//! the author's DM reaching the fake Slack, at 100 merges per second for a minute (authors
//! inside their working hours). The whole path is real: HTTP ingest, Redis queue, delivery
//! worker, Postgres, outbox, merged-PR queue, survey job, Slack Web API over loopback.
//!
//! Run: `cargo bench --bench survey_latency` (database `mergecast_bench_survey`, recreated).
//! `BENCH_RATE` (merges/s, default 100) and `BENCH_SECONDS` (default 60) change the load.

mod common;

#[path = "../tests/support/fake_github/mod.rs"]
mod fake_github;
#[path = "../tests/support/fake_slack/mod.rs"]
mod fake_slack;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fake_slack::FakeSlack;
use mergecast::app::{self, Role, Services};
use mergecast::github::signature;
use serde_json::Value;

const AUTHORS: i64 = 50;
const INST: i64 = 41234567;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The PR number a survey DM is about ("... owner/repo #123 was merged ...").
fn number_in(text: &str) -> Option<i64> {
    let after = text.split(" #").nth(1)?;
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[tokio::main]
async fn main() {
    let rate = env_u64("BENCH_RATE", 100);
    let seconds = env_u64("BENCH_SECONDS", 60);
    let database_url = common::recreate_database("mergecast_bench_survey").await;

    let slack = FakeSlack::start("xoxb-bench").await;
    slack.with(|m| {
        for a in 0..AUTHORS {
            m.add_user(
                &format!("UA{a}"),
                &format!("author{a}@example.com"),
                "UTC",
                0,
            );
        }
    });
    let prefix = format!("bench-survey:{}", std::process::id());
    let vars = [
        ("DATABASE_URL", database_url.clone()),
        (
            "REDIS_URL",
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into()),
        ),
        ("GITHUB_WEBHOOK_SECRET", "bench-secret".into()),
        ("QUEUE_PREFIX", prefix.clone()),
        ("SLACK_BOT_TOKEN", "xoxb-bench".into()),
        ("SLACK_SIGNING_SECRET", "bench".into()),
        ("SLACK_API_URL", slack.url.clone()),
        ("SURVEY_WORKING_HOURS", "00:00-24:00".into()),
        ("SURVEY_WORKING_DAYS", "mon,tue,wed,thu,fri,sat,sun".into()),
        ("DATABASE_MAX_CONNECTIONS", "40".into()),
        ("LOG_FORMAT", "text".into()),
    ];
    let config = common::config(&vars);
    let services = Services::connect_as_given(config).await.expect("services");
    sqlx::query("INSERT INTO installations (id, account_login) VALUES ($1, 'octo-org')")
        .bind(INST)
        .execute(&services.pool)
        .await
        .expect("installation");
    for a in 0..AUTHORS {
        sqlx::query("INSERT INTO members (installation_id, github_id, login, email) VALUES ($1, $2, $3, $4)")
            .bind(INST)
            .bind(9_000_000 + a)
            .bind(format!("author{a}"))
            .bind(format!("author{a}@example.com"))
            .execute(&services.pool)
            .await
            .expect("member");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/webhooks/github",
        listener.local_addr().expect("addr")
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(app::run(
        services.clone(),
        Role::All,
        Some(listener),
        stop_rx,
    ));

    // The merged pull request every delivery is a copy of, rendered by the tests' fake GitHub
    // model for the installation set up above (each copy gets its own ids and author below).
    let template: Value = {
        let mut m = fake_github::Model::default();
        m.add_org_installation(INST, "octo-org");
        let repo = m.add_repo(INST, "octo-org", "hello-world").id;
        m.add_member("octo-org", fake_github::User::new(583231, "mona"));
        m.add_user(fake_github::User::new(1000001, "hubot"));
        let pull = m.add_pull(repo, 583231).id;
        m.pull_hook(pull, fake_github::PullAction::Merged(1000001))
            .body
    };
    let total = rate * seconds;
    let sent_at: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let arrived: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();

    // Watch the fake Slack for first DMs (every 2 ms; that is the resolution of the figures).
    let watcher = {
        let (slack_model, arrived) = (slack.model.clone(), arrived.clone());
        tokio::spawn(async move {
            let mut seen = 0;
            loop {
                let now = Instant::now();
                let new: Vec<i64> = {
                    let m = slack_model.lock().unwrap_or_else(|p| p.into_inner());
                    let new = m.messages[seen..]
                        .iter()
                        .filter_map(|msg| number_in(&msg.text))
                        .collect();
                    seen = m.messages.len();
                    new
                };
                {
                    let mut a = arrived.lock().unwrap_or_else(|p| p.into_inner());
                    for n in new {
                        a.entry(n).or_insert(now);
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    println!("sending {total} merged-PR deliveries at {rate}/s for {seconds} s");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let mut refused = 0usize;
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..total as i64 {
        ticker.tick().await;
        let number = 10_000 + i;
        let author = i % AUTHORS;
        let mut body = template.clone();
        body["pull_request"]["id"] = (500_000_000 + i).into();
        body["pull_request"]["number"] = number.into();
        body["pull_request"]["title"] = format!("Bench PR {number}").into();
        body["pull_request"]["user"]["id"] = (9_000_000 + author).into();
        body["pull_request"]["user"]["login"] = format!("author{author}").into();
        body["pull_request"]["user"]["type"] = "User".into();
        let bytes = serde_json::to_vec(&body).expect("encode");
        let (client, url, sent_at) = (client.clone(), url.clone(), sent_at.clone());
        sends.spawn(async move {
            let sig = signature::sign(b"bench-secret", &bytes);
            let started = Instant::now();
            let response = client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-github-event", "pull_request")
                .header("x-github-delivery", uuid::Uuid::new_v4().to_string())
                .header("x-hub-signature-256", sig)
                .body(bytes)
                .send()
                .await;
            sent_at
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(number, started);
            response.map(|r| r.status().as_u16()).unwrap_or(0)
        });
        while let Some(Some(done)) = sends.try_join_next().map(Result::ok) {
            if done != 202 {
                refused += 1;
            }
        }
    }
    while let Some(done) = sends.join_next().await {
        if done.unwrap_or(0) != 202 {
            refused += 1;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while arrived.lock().unwrap_or_else(|p| p.into_inner()).len() < total as usize
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    watcher.abort();
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), server).await;

    let sent = sent_at.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let arrived = arrived.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut latencies: Vec<f64> = sent
        .iter()
        .filter_map(|(n, s)| {
            arrived
                .get(n)
                .map(|a| a.saturating_duration_since(*s).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let dms = slack.with(|m| m.messages.len());
    println!("deliveries refused (non-202): {refused}");
    println!(
        "first DMs received: {} of {total} (messages in fake Slack: {dms})",
        latencies.len()
    );
    println!(
        "merge → first DM latency: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN)
    );

    let mut conn = services.queues.connection();
    common::delete_keys(&mut conn, &prefix).await;
}
