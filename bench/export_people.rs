//! People × teams export benchmark: an org of 10,000 members and 300 teams (each member on 1–3
//! teams, half of them with a Copilot seat), written straight in SQL, then the release binary's
//! `mergecast export people` run as a child process per format: wall time and peak RSS.
//!
//! Run: `cargo bench --bench export_people` (database `mergecast_bench_export`, recreated).
//! Targets (issue 11): ≤ 5 s and ≤ 100 MB per export. Peak RSS is the kernel's `VmHWM` via
//! `/usr/bin/time -f %M` when installed, else `/proc/<pid>/status` polled every 2 ms.
//! `BENCH_MEMBERS` and `BENCH_TEAMS` change the size.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

const INST: i64 = 88;

fn env_i64(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The org, in a few set-based statements.
async fn seed(pool: &sqlx::PgPool, members: i64, teams: i64) {
    let statements = [
        "INSERT INTO installations (id, account_login, account_type) VALUES ($1, 'bench-org', 'Organization')",
        "INSERT INTO members (installation_id, github_id, login, name, email, role)
         SELECT $1, 100000 + g, 'member' || g, 'Member ' || g || ', Jr.', 'member' || g || '@example.com',
                CASE WHEN g % 50 = 0 THEN 'admin' ELSE 'member' END
         FROM generate_series(0, $2 - 1) g",
        // Teams 0..99 are top-level; the rest have one of them as parent.
        "INSERT INTO teams (id, installation_id, slug, name, parent_id)
         SELECT 5000 + t, $1, 'team-' || t, 'Team \"' || t || '\"',
                CASE WHEN t >= 100 THEN 5000 + t % 100 END
         FROM generate_series(0, $3 - 1) t",
        // Member g is on 1 + g % 3 distinct teams.
        "INSERT INTO team_members (team_id, github_id, installation_id, login, role, joined_at, observed_at)
         SELECT 5000 + (g * 7 + k * 101) % $3, 100000 + g, $1, 'member' || g,
                CASE WHEN k = 0 AND g % 10 = 0 THEN 'maintainer' ELSE 'member' END,
                now() - make_interval(days => (g % 700)::int), now()
         FROM generate_series(0, $2 - 1) g, generate_series(0, 2) k WHERE k <= g % 3",
        "INSERT INTO copilot_seats (installation_id, github_id, login, plan_type, assigned_at,
                                    last_activity_at, last_activity_editor, assigning_team_id,
                                    assigning_team_slug, observed_at)
         SELECT $1, 100000 + g, 'member' || g, 'business', now() - interval '90 days',
                now() - make_interval(hours => (g % 2000)::int), 'vscode/1.95.0/copilot/1.240.0',
                5000 + (g * 7) % $3, 'team-' || (g * 7) % $3, now()
         FROM generate_series(0, $2 - 1) g WHERE g % 2 = 0",
    ];
    // The three numbers are ours (not input), so they are written into the SQL.
    for sql in statements {
        let sql = sql
            .replace("$1", &INST.to_string())
            .replace("$2", &members.to_string())
            .replace("$3", &teams.to_string());
        sqlx::raw_sql(&sql).execute(pool).await.expect(&sql);
    }
    sqlx::query("ANALYZE").execute(pool).await.expect("analyze");
}

/// Peak RSS (kB) of `pid` from `/proc`, 0 once it is gone.
fn vm_hwm_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs one export; returns (wall seconds, peak RSS in MiB, output bytes).
fn run(database_url: &str, format: &str, output: &std::path::Path) -> (f64, f64, u64) {
    let binary = env!("CARGO_BIN_EXE_mergecast");
    let args = [
        "export".to_owned(),
        "people".to_owned(),
        "--installation".to_owned(),
        INST.to_string(),
        "--format".to_owned(),
        format.to_owned(),
        "--output".to_owned(),
        output.display().to_string(),
    ];
    let time = std::path::Path::new("/usr/bin/time");
    let report = output.with_extension("time");
    let mut cmd = if time.exists() {
        let mut c = std::process::Command::new(time);
        c.arg("-f").arg("%M").arg("-o").arg(&report).arg(binary);
        c
    } else {
        std::process::Command::new(binary)
    };
    cmd.args(&args)
        .env("DATABASE_URL", database_url)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn mergecast");
    let mut polled = 0;
    let status = loop {
        polled = polled.max(vm_hwm_kb(child.id()));
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = started.elapsed().as_secs_f64();
    assert!(status.success(), "export failed: {status}");
    let kb = if time.exists() {
        std::fs::read_to_string(&report)
            .ok()
            .and_then(|s| s.trim().lines().last().and_then(|l| l.trim().parse().ok()))
            .unwrap_or(polled)
    } else {
        polled
    };
    let bytes = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
    (wall, kb as f64 / 1024.0, bytes)
}

#[tokio::main]
async fn main() {
    let members = env_i64("BENCH_MEMBERS", 10_000);
    let teams = env_i64("BENCH_TEAMS", 300);
    let database_url = common::recreate_database("mergecast_bench_export").await;
    let pool = mergecast::store::connect(&database_url, 2)
        .await
        .expect("postgres");
    mergecast::store::migrate(&pool).await.expect("migrate");
    seed(&pool, members, teams).await;
    let rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM members m LEFT JOIN team_members tm
           ON tm.installation_id = m.installation_id AND tm.github_id = m.github_id WHERE m.installation_id = $1",
    )
    .bind(INST)
    .fetch_one(&pool)
    .await
    .expect("count");
    println!("org: {members} members, {teams} teams, {rows} member × team rows, half with seats");
    println!("targets: ≤ 5 s wall, ≤ 100 MB peak RSS per export");
    let dir = std::env::temp_dir().join(format!("mergecast-bench-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    for format in ["csv", "json"] {
        for i in 1..=3 {
            let out = dir.join(format!("people-{i}.{format}"));
            let (wall, mib, bytes) = run(&database_url, format, &out);
            println!(
                "{format} run {i}: {wall:.2} s wall, peak RSS {mib:.1} MiB, {:.1} MiB written",
                bytes as f64 / 1024.0 / 1024.0
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    pool.close().await;
}
