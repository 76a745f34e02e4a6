//! Catch-up benchmark: first and second sync of an org with 10,000 members, 500 repositories,
//! 300 teams (30 top-level, 270 nested) and 2,000 Copilot seats against the fake GitHub (loopback
//! HTTP, real Postgres and Redis): wall time, API calls, 304 share, rate limit left.
//!
//! Run: `cargo bench --bench sync_catch_up` (uses the database `mergecast_bench_sync`, recreated).
//! Budget (issues 3 and 11): first sync ≤ ceil(members/100) + ceil(repos/100) + 2 per repository
//! (pulls, issues) + 1 per new member + ceil(teams/100) + per team ceil(listed members/100) +
//! ceil(maintainers/100) + ceil(seats/100); the second the same minus member details, ≥ 95% of
//! them 304s; neither spends the rate-limit reserve.

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
const TEAMS: u64 = 300;
/// Teams `0..TOP_TEAMS` are top-level; team `t` above them is nested in `t % TOP_TEAMS`.
const TOP_TEAMS: u64 = 30;
const SEATS: u64 = 2_000;
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
        for t in 0..TEAMS {
            let id = 900_000 + t as i64;
            m.add_team(ORG, id, &format!("team-{t}"));
            if t >= TOP_TEAMS {
                m.set_team_parent(id, Some(900_000 + (t % TOP_TEAMS) as i64));
            }
        }
        // Everyone is on one team; the first member of each team maintains it.
        for i in 0..MEMBERS {
            let team = 900_000 + (i % TEAMS) as i64;
            m.add_team_member(team, 100_000 + i as i64, i < TEAMS);
        }
        for i in 0..SEATS {
            m.add_copilot_seat(ORG, 100_000 + i as i64);
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
    let services = Services::connect_as_given(config).await.expect("services");
    let syncer = services.catch_up().expect("syncer");
    syncer.discover_installations().await.expect("discover");

    // A parent team's list includes its child teams' members (GitHub's rule, kept by the fake).
    let team_lists: u64 = (0..TEAMS)
        .map(|t| {
            let listed = if t < TOP_TEAMS {
                (0..TEAMS).filter(|c| c % TOP_TEAMS == t).count() as u64 * MEMBERS / TEAMS
            } else {
                MEMBERS / TEAMS
            };
            listed.div_ceil(100).max(1) + 1
        })
        .sum();
    let team_budget = TEAMS.div_ceil(100) + team_lists + SEATS.div_ceil(100);
    let budget_second = MEMBERS.div_ceil(100) + REPOS.div_ceil(100) + 2 * REPOS + team_budget;
    let budget_first = budget_second + MEMBERS;
    println!(
        "org: {MEMBERS} members, {REPOS} repositories (2 PRs + 2 issues each), {TEAMS} teams \
         ({TOP_TEAMS} top-level), {SEATS} Copilot seats"
    );
    println!(
        "budget: first ≤ {budget_first} calls, second ≤ {budget_second} calls with ≥ 95% 304s \
         (teams and seats: {team_budget})"
    );
    let reserve = services
        .config
        .github_app
        .as_ref()
        .map_or(0, |g| g.rate_limit_reserve);
    for run in ["first", "second"] {
        github.with(|m| m.clear_requests());
        let started = Instant::now();
        let outcome = syncer
            .sync_installation(InstallationId(INST))
            .await
            .expect("sync");
        let elapsed = started.elapsed();
        let (calls, not_modified, remaining) = github.with(|m| {
            (
                m.api_calls(INST),
                m.count_status(INST, 304),
                m.rate_remaining(INST),
            )
        });
        let (org_calls, org_304) = github.with(|m| {
            let org: Vec<_> = m
                .requests
                .iter()
                .filter(|r| {
                    r.path_and_query.starts_with("/orgs/bench-org/teams")
                        || r.path_and_query.starts_with("/orgs/bench-org/copilot")
                })
                .collect();
            (org.len(), org.iter().filter(|r| r.status == 304).count())
        });
        println!(
            "{run} sync: {:.2} s wall, {calls} API calls, {not_modified} of them 304 ({:.1}%); \
             teams and seats {org_calls} calls, {org_304} 304 ({:.1}%); rate limit left \
             {remaining} (reserve {reserve}); outcome {outcome:?}",
            elapsed.as_secs_f64(),
            100.0 * not_modified as f64 / calls.max(1) as f64,
            100.0 * org_304 as f64 / org_calls.max(1) as f64,
        );
    }
    let active: i64 = sqlx::query_scalar("SELECT count(*) FROM members WHERE active")
        .fetch_one(&services.pool)
        .await
        .expect("count");
    println!("members active after sync: {active}");
    let (memberships, seats): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM team_members WHERE active), (SELECT count(*) FROM copilot_seats WHERE ended_at IS NULL)",
    )
    .fetch_one(&services.pool)
    .await
    .expect("count");
    println!("team memberships after sync: {memberships}, Copilot seats: {seats}");

    // Clean up this run's Redis keys (never FLUSHDB: the server is shared).
    let mut conn = services.queues.connection();
    common::delete_keys(&mut conn, &prefix).await;
}
