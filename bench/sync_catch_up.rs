//! Catch-up benchmark: first and second sync of an org with 10,000 members and 500 repositories
//! against the fake GitHub (loopback HTTP, real Postgres and Redis): wall time and API calls.
//!
//! Run: `cargo bench --bench sync_catch_up` (uses the database `mergecast_bench`, recreated).
//! Budget (issue): first sync ≤ ceil(members/100) + ceil(repos/100) + 2 per repository (pulls,
//! issues) + 1 per new member; the second the same minus member details, ≥ 95% of them 304s.

mod common;

#[path = "../tests/support/fake_github/mod.rs"]
mod fake_github;

use std::time::Instant;

use fake_github::{FakeGithub, User};
use mergecast::app::Services;
use mergecast::ids::InstallationId;

const INST: i64 = 77;
const ORG: &str = "bench-org";
const MEMBERS: u64 = 10_000;
const REPOS: u64 = 500;
const APP_ID: i64 = 123456;

#[tokio::main]
async fn main() {
    let database_url = common::recreate_database("mergecast_bench_sync").await;

    let github = FakeGithub::start(APP_ID).await;
    github.with(|m| {
        m.add_org_installation(INST, ORG);
        // GitHub grants large orgs up to 12,500 requests/hour (15,000 on Enterprise Cloud);
        // the first sync of 10,000 members needs ~11,100, so use the Enterprise Cloud budget.
        m.set_rate_remaining(INST, 15_000, 3600);
        if let Some(rate) = m.rate.get_mut(&INST) {
            rate.limit = 15_000;
        }
        for i in 0..MEMBERS {
            let mut u = User::new(100_000 + i as i64, &format!("member{i}"));
            u.name = Some(format!("Member {i}"));
            u.email = Some(format!("member{i}@example.com"));
            m.add_member(ORG, u);
        }
        for r in 0..REPOS {
            let repo = m.add_repo(INST, ORG, &format!("repo{r}")).id;
            for _ in 0..2 {
                m.add_pull(repo, 100_000);
                m.add_issue(repo, 100_001);
            }
        }
    });

    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/keys/test-app.pem"
    );
    let prefix = format!("bench-sync:{}", std::process::id());
    let vars = [
        ("DATABASE_URL", database_url.clone()),
        (
            "REDIS_URL",
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into()),
        ),
        ("GITHUB_WEBHOOK_SECRET", "bench".into()),
        ("QUEUE_PREFIX", prefix.clone()),
        ("GITHUB_APP_ID", APP_ID.to_string()),
        ("GITHUB_PRIVATE_KEY_PATH", key.into()),
        ("GITHUB_API_URL", github.url.clone()),
        ("DATABASE_MAX_CONNECTIONS", "10".into()),
    ];
    let config = common::config(&vars);
    let services = Services::connect(config).await.expect("services");
    let syncer = services.catch_up().expect("syncer");
    syncer.discover_installations().await.expect("discover");

    let budget_second = MEMBERS.div_ceil(100) + REPOS.div_ceil(100) + 2 * REPOS;
    let budget_first = budget_second + MEMBERS;
    println!("org: {MEMBERS} members, {REPOS} repositories (2 PRs + 2 issues each)");
    println!(
        "budget: first ≤ {budget_first} calls, second ≤ {budget_second} calls with ≥ 95% 304s"
    );
    for run in ["first", "second"] {
        github.with(|m| m.clear_requests());
        let started = Instant::now();
        let outcome = syncer
            .sync_installation(InstallationId(INST))
            .await
            .expect("sync");
        let elapsed = started.elapsed();
        let (calls, not_modified) = github.with(|m| (m.api_calls(INST), m.count_status(INST, 304)));
        println!(
            "{run} sync: {:.2} s wall, {calls} API calls, {not_modified} of them 304 ({:.1}%), outcome {outcome:?}",
            elapsed.as_secs_f64(),
            100.0 * not_modified as f64 / calls.max(1) as f64
        );
    }
    let active: i64 = sqlx::query_scalar("SELECT count(*) FROM members WHERE active")
        .fetch_one(&services.pool)
        .await
        .expect("count");
    println!("members active after sync: {active}");

    // Clean up this run's Redis keys (never FLUSHDB: the server is shared).
    let mut conn = services.queues.connection();
    common::delete_keys(&mut conn, &prefix).await;
}
