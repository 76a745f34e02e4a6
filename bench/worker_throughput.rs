//! Worker throughput: how many queued `pull_request` deliveries the worker role applies per
//! second (claim the delivery-log row, upsert the pull request, mark it processed, commit).
//!
//!     cargo bench --bench worker_throughput
//!
//! For each worker concurrency in `BENCH_CONCURRENCY` it recreates the `mergecast_bench`
//! database, connects `Services` on a fresh Redis prefix, enqueues `BENCH_JOBS` deliveries
//! (the ~24 KB `bench/pr-24k.json` body, each with its own delivery id and its own pull request
//! id/number: different PRs, as in production), then starts `app::run(.., Role::Worker, ..)`
//! and times until `SELECT count(*) FROM deliveries WHERE status = 'processed'` reaches the
//! number enqueued (polled every 50 ms on a separate connection). Afterwards it checks every
//! delivery ended `processed` and every PR landed, shuts the worker down and deletes its Redis
//! keys (only those under its prefix).
//!
//! Three ways to fill the queue (`BENCH_MODE`):
//!   prefill      enqueue all N, then start the worker and time it: the plain measurement.
//!                apalis-redis 1.0 files every pushed job in the queue's *scheduled* zset
//!                (run_at = now) and its fetch script moves all due ones to the ready list with
//!                one `RPUSH key unpack(ids)`, which Redis's Lua refuses beyond ~8,000 values
//!                ("too many results to unpack"). So before starting the worker this mode moves
//!                the backlog to the ready list itself, 1,000 ids per script call, as a fixed
//!                fetch would; the worker then runs its normal fetch path.
//!   prefill-raw  the same without that step: shows the wedge (with N >= ~8,000 nothing is ever
//!                fetched; the run fails after BENCH_STALL_SECS without progress).
//!   live         start the worker first, then enqueue N (32 pushes in flight) while it works,
//!                as when the web role feeds it; timed from the first push. Each 50 ms fetch
//!                only finds the jobs pushed since the previous one, so the limit is not hit.
//!
//! Environment (all optional):
//!   BENCH_MODE=prefill          prefill, prefill-raw or live (comma-separated: one run each)
//!   BENCH_JOBS=20000            deliveries per run
//!   BENCH_CONCURRENCY=8,32,64   WORKER_CONCURRENCY values, one run each
//!   BENCH_DB_CONNS=20           DATABASE_MAX_CONNECTIONS (the app's default is 20)
//!   BENCH_PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres   (to drop/create the db)
//!   BENCH_DB=mergecast_bench    REDIS_URL=redis://127.0.0.1:6379/
//!   BENCH_STALL_SECS=30         give up when nothing is applied for this long
//!   BENCH_SETUP_SQL=...         experiment: SQL run on the fresh database after migrations, e.g.
//!                               "ALTER TABLE deliveries ALTER COLUMN body SET COMPRESSION lz4"
//!   RUST_LOG=warn               show Mergecast's own logs (worker errors) on stderr

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use mergecast::app::{self, Role, Services};
use mergecast::config::{Config, LogFormat};
use mergecast::queue::jobs::DeliveryJob;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

const INSTALLATION_ID: i64 = 41234567;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn main() {
    // `cargo bench` passes `--bench` (and any filter); nothing here takes arguments.
    if std::env::var_os("RUST_LOG").is_some() {
        mergecast::telemetry::init(LogFormat::Text);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(run_all()) {
        eprintln!("worker_throughput: {e}");
        std::process::exit(1);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Prefill,
    PrefillRaw,
    Live,
}

impl Mode {
    fn parse(s: &str) -> Result<Self, BoxError> {
        Ok(match s.trim() {
            "prefill" => Mode::Prefill,
            "prefill-raw" => Mode::PrefillRaw,
            "live" => Mode::Live,
            other => return Err(format!("unknown BENCH_MODE {other}").into()),
        })
    }
    fn name(self) -> &'static str {
        match self {
            Mode::Prefill => "prefill",
            Mode::PrefillRaw => "prefill-raw",
            Mode::Live => "live",
        }
    }
}

struct Settings {
    admin_url: String,
    db: String,
    database_url: String,
    redis_url: String,
    template: Value,
    jobs: usize,
    db_conns: u32,
    stall: Duration,
    setup_sql: Option<String>,
}

struct RunResult {
    mode: Mode,
    concurrency: usize,
    enqueue: Duration,
    elapsed: Option<Duration>,
    first: Option<Duration>,
    steady_rate: f64,
    note: String,
}

async fn run_all() -> Result<(), BoxError> {
    let modes: Vec<Mode> = env_or("BENCH_MODE", "prefill")
        .split(',')
        .map(Mode::parse)
        .collect::<Result<_, _>>()?;
    let concurrencies: Vec<usize> = env_or("BENCH_CONCURRENCY", "8,32,64")
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let admin_url = env_or(
        "BENCH_PG_ADMIN_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    );
    let db = env_or("BENCH_DB", "mergecast_bench");
    let database_url = format!(
        "{}/{db}",
        admin_url.rsplit_once('/').ok_or("bad admin url")?.0
    );
    let settings = Settings {
        jobs: env_or("BENCH_JOBS", "20000").parse()?,
        db_conns: env_or("BENCH_DB_CONNS", "20").parse()?,
        stall: Duration::from_secs(env_or("BENCH_STALL_SECS", "30").parse()?),
        setup_sql: std::env::var("BENCH_SETUP_SQL")
            .ok()
            .filter(|v| !v.trim().is_empty()),
        redis_url: env_or("REDIS_URL", "redis://127.0.0.1:6379/"),
        template: load_body()?,
        admin_url,
        db,
        database_url,
    };
    let body_len = serde_json::to_string(&settings.template)?.len();
    println!(
        "worker_throughput: {} pull_request deliveries of ~{body_len} bytes per run, \
         DATABASE_MAX_CONNECTIONS={}, modes {:?}, WORKER_CONCURRENCY {concurrencies:?}{}",
        settings.jobs,
        settings.db_conns,
        modes.iter().map(|m| m.name()).collect::<Vec<_>>(),
        settings
            .setup_sql
            .as_ref()
            .map_or(String::new(), |sql| format!(", BENCH_SETUP_SQL={sql:?}"))
    );

    let mut results = Vec::new();
    let mut failed = false;
    for &mode in &modes {
        for &concurrency in &concurrencies {
            let r = run_one(&settings, mode, concurrency).await?;
            failed |= r.elapsed.is_none();
            results.push(r);
        }
    }

    println!();
    println!(
        "| mode | WORKER_CONCURRENCY | DB conns | jobs | enqueue s | first applied ms | total s | events/s (all) | events/s (10%-90%) | note |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in &results {
        let total = r
            .elapsed
            .map_or("-".into(), |e| format!("{:.2}", e.as_secs_f64()));
        let rate = r.elapsed.map_or("-".into(), |e| {
            format!("{:.0}", settings.jobs as f64 / e.as_secs_f64())
        });
        let first = r
            .first
            .map_or("-".into(), |f| format!("{:.0}", f.as_secs_f64() * 1e3));
        let steady = if r.steady_rate.is_finite() {
            format!("{:.0}", r.steady_rate)
        } else {
            "-".into()
        };
        println!(
            "| {} | {} | {} | {} | {:.2} | {first} | {total} | {rate} | {steady} | {} |",
            r.mode.name(),
            r.concurrency,
            settings.db_conns,
            settings.jobs,
            r.enqueue.as_secs_f64(),
            r.note,
        );
    }
    if failed {
        return Err("at least one run did not finish (see above)".into());
    }
    Ok(())
}

/// `bench/pr-24k.json` (written by bench/make_body.py), else GitHub's `pull_request.opened`
/// example.
/// `used_memory` of `INFO memory`.
async fn used_memory(services: &Services) -> Result<i64, BoxError> {
    let mut conn = services.queues.connection();
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "no used_memory in INFO memory".into())
}

fn load_body() -> Result<Value, BoxError> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let bench_body = root.join("bench/pr-24k.json");
    let path = if bench_body.exists() {
        bench_body
    } else {
        root.join("fixtures/github/examples/pull_request/opened.json")
    };
    Ok(serde_json::from_slice(&std::fs::read(&path)?)?)
}

/// Delivery `i`: its own delivery id and its own pull request (id, number, urls).
fn job_for(template: &Value, run: &str, i: usize) -> Result<DeliveryJob, serde_json::Error> {
    let mut payload = template.clone();
    let number = i as i64 + 1;
    payload["number"] = json!(number);
    let pr = &mut payload["pull_request"];
    pr["id"] = json!(9_000_000_000_i64 + number);
    pr["number"] = json!(number);
    pr["node_id"] = json!(format!("PR_bench{number}"));
    pr["html_url"] = json!(format!(
        "https://github.com/octo-org/octo-repo/pull/{number}"
    ));
    let body = serde_json::to_string(&payload)?;
    let delivery_id = format!("{run}-{i}");
    Ok(DeliveryJob {
        headers: json!({
            "x-github-event": "pull_request",
            "x-github-delivery": delivery_id,
            "x-github-hook-id": "512345678",
            "user-agent": "GitHub-Hookshot/bench",
            "content-type": "application/json",
            "content-length": body.len().to_string(),
        }),
        delivery_id,
        event: "pull_request".into(),
        action: payload["action"].as_str().map(str::to_owned),
        installation_id: Some(INSTALLATION_ID),
        hook_id: Some(512345678),
        received_at: Utc::now(),
        body,
        failures: 0,
    })
}

async fn run_one(s: &Settings, mode: Mode, concurrency: usize) -> Result<RunResult, BoxError> {
    // Fresh database per run.
    let mut admin = PgConnection::connect(&s.admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", s.db))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {}", s.db))
        .execute(&mut admin)
        .await?;
    admin.close().await?;

    let stamp = Utc::now().format("%Y%m%d%H%M%S");
    let prefix = format!(
        "bench:worker:{stamp}:{}:{}:c{concurrency}",
        std::process::id(),
        mode.name()
    );
    let vars = [
        ("DATABASE_URL", s.database_url.clone()),
        ("REDIS_URL", s.redis_url.clone()),
        ("GITHUB_WEBHOOK_SECRET", "bench-secret".to_owned()),
        ("QUEUE_PREFIX", prefix.clone()),
        ("WORKER_CONCURRENCY", concurrency.to_string()),
        ("DATABASE_MAX_CONNECTIONS", s.db_conns.to_string()),
    ];
    let config =
        Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))?;
    let services = Services::connect_as_given(config).await?;
    if let Some(sql) = &s.setup_sql {
        println!("  BENCH_SETUP_SQL: {sql}");
        sqlx::raw_sql(sql).execute(&services.pool).await?;
    }

    let result = measure(s, &services, mode, concurrency, &prefix).await;

    let left = delete_redis_keys(&s.redis_url, &prefix).await?;
    if left > 0 {
        eprintln!("  warning: {left} redis keys left under {prefix}");
    }
    services.pool.close().await;
    result
}

/// Pushes every job, 32 in flight; job bodies are built on the fly, not all held at once.
async fn enqueue_all(
    services: &Services,
    template: Arc<Value>,
    run: &str,
    jobs: usize,
) -> Result<Duration, BoxError> {
    let t = Instant::now();
    let queues = services.queues.clone();
    futures::stream::iter(0..jobs)
        .map(|i| {
            let queues = queues.clone();
            let job = job_for(&template, run, i);
            async move {
                queues.enqueue_delivery(&job?).await?;
                Ok::<(), BoxError>(())
            }
        })
        .buffer_unordered(32)
        .try_for_each(|()| async { Ok(()) })
        .await?;
    Ok(t.elapsed())
}

/// Moves every due job from the scheduled zset to the ready list, 1,000 per call: what
/// apalis-redis's fetch does in one unbounded `unpack` (see the module comment).
async fn promote_scheduled(services: &Services) -> Result<usize, BoxError> {
    let script = redis::Script::new(
        r#"
        local ids = redis.call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[1], 'LIMIT', 0, 1000)
        if #ids == 0 then return 0 end
        redis.call('RPUSH', KEYS[2], unpack(ids))
        redis.call('ZREM', KEYS[1], unpack(ids))
        return #ids
        "#,
    );
    let config = services.queues.deliveries_config();
    let mut conn = services.queues.connection();
    let mut moved = 0;
    loop {
        let n: usize = script
            .key(config.scheduled_jobs_set())
            .key(config.active_jobs_list())
            .arg(Utc::now().timestamp() + 1)
            .invoke_async(&mut conn)
            .await?;
        if n == 0 {
            return Ok(moved);
        }
        moved += n;
    }
}

async fn measure(
    s: &Settings,
    services: &Services,
    mode: Mode,
    concurrency: usize,
    prefix: &str,
) -> Result<RunResult, BoxError> {
    println!(
        "\n== {} WORKER_CONCURRENCY={concurrency} DATABASE_MAX_CONNECTIONS={} prefix={prefix}",
        mode.name(),
        s.db_conns
    );
    let run = format!(
        "bench-{}-c{concurrency}-{}",
        mode.name(),
        Utc::now().timestamp_millis()
    );
    let template = Arc::new(s.template.clone());
    let jobs = s.jobs;

    let mut enqueue = Duration::ZERO;
    if mode != Mode::Live {
        let before = used_memory(services).await?;
        enqueue = enqueue_all(services, template.clone(), &run, jobs).await?;
        let after = used_memory(services).await?;
        let depth = services.queues.delivery_depth().await?;
        println!(
            "  enqueued {jobs} in {:.2}s; queue depth ready={} scheduled={}",
            enqueue.as_secs_f64(),
            depth.ready,
            depth.scheduled
        );
        // Redis is shared: this holds only while nothing else writes to it (a quiet machine).
        println!(
            "  redis used_memory {before} -> {after} bytes: {:.0} bytes per queued delivery",
            (after as f64 - before as f64) / jobs as f64
        );
        if (depth.ready + depth.scheduled) as usize != jobs {
            return Err(format!("expected {jobs} queued jobs, found {depth:?}").into());
        }
        if mode == Mode::Prefill {
            let moved = promote_scheduled(services).await?;
            println!(
                "  moved {moved} jobs from the scheduled set to the ready list (1,000 per call)"
            );
        }
    }

    // Poll on our own connection so the workers' pool is not shared with the stopwatch.
    let mut poll = PgConnection::connect(&s.database_url).await?;
    let (watch_stop, watch_rx) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(watch_builds(watch_rx));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let start = Instant::now();
    let worker = tokio::spawn(app::run(services.clone(), Role::Worker, None, rx));
    let feeder = (mode == Mode::Live).then(|| {
        let services = services.clone();
        let template = template.clone();
        let run = run.clone();
        tokio::spawn(async move { enqueue_all(&services, template, &run, jobs).await })
    });

    let mut first = None;
    let (mut t10, mut t90) = (None, None);
    let mut last_report = Instant::now();
    let mut last_progress = (0i64, Instant::now());
    let target = jobs as i64;
    let mut note = String::new();
    let elapsed = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (done,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM deliveries WHERE status = 'processed'")
                .fetch_one(&mut poll)
                .await?;
        let now = Instant::now();
        if done > 0 && first.is_none() {
            first = Some(now - start);
        }
        if t10.is_none() && done * 10 >= target {
            t10 = Some((now - start, done));
        }
        if t90.is_none() && done * 10 >= target * 9 {
            t90 = Some((now - start, done));
        }
        if done >= target {
            break Some(now - start);
        }
        if done > last_progress.0 {
            last_progress = (done, now);
        } else if now - last_progress.1 > s.stall {
            let rows: Vec<(String, i64)> =
                sqlx::query_as("SELECT status, count(*) FROM deliveries GROUP BY status")
                    .fetch_all(&mut poll)
                    .await?;
            let depth = services.queues.delivery_depth().await?;
            note = format!(
                "STALLED: nothing applied for {}s at {done}/{target}; delivery statuses {rows:?}; queue {depth:?}",
                s.stall.as_secs()
            );
            println!("  {note}");
            break None;
        }
        if now - last_report >= Duration::from_secs(5) {
            println!(
                "  {:>6.1}s processed {done:>6} ({:.0}/s so far)",
                (now - start).as_secs_f64(),
                done as f64 / (now - start).as_secs_f64()
            );
            last_report = now;
        }
    };
    let _ = watch_stop.send(true);
    let builds = watcher.await.unwrap_or_default();
    if !builds.is_empty() {
        let seen = format!("DISTURBED: {} ran during the run", builds.join(", "));
        println!("  {seen}");
        note = if note.is_empty() {
            seen
        } else {
            format!("{note}; {seen}")
        };
    }
    if let Some(feeder) = feeder {
        enqueue = feeder.await??;
        println!(
            "  enqueue (concurrent with the worker) took {:.2}s",
            enqueue.as_secs_f64()
        );
    }
    let _ = tx.send(true);
    match tokio::time::timeout(Duration::from_secs(30), worker).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => eprintln!("  worker stopped with an error: {e}"),
        Ok(Err(e)) => eprintln!("  worker task failed: {e}"),
        Err(_) => eprintln!("  worker did not stop within 30 s"),
    }

    if let Some(elapsed) = elapsed {
        // Everything applied exactly once, nothing failed.
        let statuses: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, count(*) FROM deliveries GROUP BY status ORDER BY 1")
                .fetch_all(&mut poll)
                .await?;
        let (prs,): (i64,) = sqlx::query_as("SELECT count(*) FROM pull_requests")
            .fetch_one(&mut poll)
            .await?;
        println!("  deliveries by status {statuses:?}; pull_requests rows {prs}");
        if statuses != vec![("processed".to_owned(), target)] || prs != target {
            return Err("not every delivery was processed exactly once".into());
        }
        let steady_rate = match (t10, t90) {
            (Some((a, na)), Some((b, nb))) if b > a => (nb - na) as f64 / (b - a).as_secs_f64(),
            _ => f64::NAN,
        };
        println!(
            "  {jobs} applied in {:.2}s: {:.0} events/s overall, {:.0} events/s between 10% and 90%; first applied after {:.0} ms",
            elapsed.as_secs_f64(),
            jobs as f64 / elapsed.as_secs_f64(),
            steady_rate,
            first.unwrap_or(elapsed).as_secs_f64() * 1e3
        );
        Ok(RunResult {
            mode,
            concurrency,
            enqueue,
            elapsed: Some(elapsed),
            first,
            steady_rate,
            note,
        })
    } else {
        Ok(RunResult {
            mode,
            concurrency,
            enqueue,
            elapsed: None,
            first,
            steady_rate: f64::NAN,
            note,
        })
    }
}

/// Compilers seen running (sampled every 250 ms) until `stop`: on a 2-core machine a concurrent
/// `cargo build` takes a core away, so such a run's figure is not comparable.
/// Our own ancestors (e.g. the `cargo bench` that started us) do not count.
async fn watch_builds(mut stop: tokio::sync::watch::Receiver<bool>) -> Vec<String> {
    const BUILDERS: &[&str] = &["cargo", "rustc", "clippy-driver", "cc", "ld", "rust-lld"];
    let ancestors = ancestors();
    let mut seen: Vec<String> = Vec::new();
    loop {
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let pid = entry.file_name().to_string_lossy().parse::<u32>().ok();
                if pid.is_none_or(|p| ancestors.contains(&p)) {
                    continue;
                }
                let Ok(comm) = std::fs::read_to_string(entry.path().join("comm")) else {
                    continue;
                };
                let comm = comm.trim();
                if BUILDERS.contains(&comm) && !seen.iter().any(|s| s == comm) {
                    seen.push(comm.to_owned());
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = stop.wait_for(|s| *s) => return seen,
        }
    }
}

/// Pids of this process's parent, grandparent, ... (from /proc/<pid>/stat).
fn ancestors() -> Vec<u32> {
    let mut out = Vec::new();
    let mut pid = std::process::id();
    while pid > 1 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            break;
        };
        // The command name (field 2) may hold spaces; the parent pid follows its ')'.
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
        else {
            break;
        };
        out.push(ppid);
        pid = ppid;
    }
    out
}

/// Deletes every key under `prefix:` and our entries in apalis's global queue registry; returns
/// how many keys are left under the prefix.
async fn delete_redis_keys(redis_url: &str, prefix: &str) -> Result<usize, redis::RedisError> {
    let client = redis::Client::open(redis_url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    mergecast::queue::purge::purge_prefix(&mut conn, &format!("{prefix}:")).await
}
