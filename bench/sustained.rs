//! Sustained end-to-end benchmark (issue 14, items 3 and 4): the highest delivery rate one
//! machine holds, web and workers and Postgres and Redis together, with a realistic mix.
//!
//! For each topology in `BENCH_TOPOLOGIES` (`serve`: one `mergecast serve` process with both
//! roles, what `scripts/run.sh` runs; `W+K`: W `--role web` and K `--role worker` processes) and
//! each rate in `BENCH_RATES` it:
//! 1. recreates the database `mergecast_bench_sustained`, starts the release binary's processes
//!    on a fresh Redis key prefix, sends a signed `installation.created` and waits for it;
//! 2. offers deliveries open-loop at the rate (a schedule, not a closed loop: a slow server does
//!    not slow the offer) for `BENCH_WARMUP_SECS` + `BENCH_STEP_SECS`, round-robin over the web
//!    processes: 40 % `pull_request` (the 24 KB `bench/pr-24k.json`, a new PR each), 25 %
//!    `pull_request_review` (a PR sent before), 20 % `issues`, 15 % `membership`, built from the
//!    payloads in `fixtures/github/examples`, plus `BENCH_DUP_PCT` (10) % duplicates: a delivery
//!    sent before, same id and body, as GitHub's retries are;
//! 3. samples the backlog (ready + scheduled jobs) and the CPU of every process once a second;
//! 4. waits for the backlog to empty, then reads from Postgres, for the deliveries received in
//!    the measured window, receipt → applied (`processed_at - received_at`) p50 and p99, and
//!    checks that every effect exists exactly once (one delivery-log row per id, one pull
//!    request, review, issue and team membership per unique delivery): duplicates and several
//!    processes must neither lose nor double anything.
//!
//! A rate is *held* when the offer kept its schedule, every request was answered 2xx, the
//! backlog at the end of the window is under a second of work and p99 ≤ 1 s.
//!
//! Redis: point `REDIS_URL` at one with AOF (`appendfsync everysec`) as production runs it; the
//! bench deletes only its own prefix. Writes `BENCH_OUT` (default `bench/results/sustained-<ts>`):
//! `results.csv`, `table.md` and `chart.svg`.
//!
//! Run: `BENCH_TOPOLOGIES=1+1,2+2 BENCH_RATES=500,1000,1500,2000 cargo bench --bench sustained`.
//! Settings: BENCH_STEP_SECS (60), BENCH_WARMUP_SECS (5), BENCH_DUP_PCT (10),
//! BENCH_WORKER_CONCURRENCY and BENCH_DB_CONNS (per process; the app's defaults 64 and 20),
//! BENCH_TOKIO_THREADS (per process, as `TOKIO_WORKER_THREADS`; default one per core),
//! MERGECAST_BIN (the binary to start; default the one cargo built for this bench, which the
//! bench profile builds without LTO: point it at `target/release/mergecast` to time what ships),
//! BENCH_DRAIN_SECS (180), BENCH_MAX_INFLIGHT (512),
//! REDIS_URL, BENCH_POSTGRES.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mergecast::github::signature;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

const SECRET: &str = "bench-secret";
const INSTALLATION: i64 = 957387;
const DB: &str = "mergecast_bench_sustained";
/// Placeholders put into the payload templates, replaced per delivery.
const PR_ID: &str = "900000000000001";
const PR_NUMBER: &str = "900000000000002";
const REVIEW_ID: &str = "900000000000003";
const ISSUE_ID: &str = "900000000000004";
const ISSUE_NUMBER: &str = "900000000000005";
const MEMBER_ID: &str = "900000000000006";

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Http = Client<HttpConnector, Full<Bytes>>;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Topology {
    /// One process, both roles.
    Serve,
    Split {
        web: usize,
        workers: usize,
    },
}

impl Topology {
    fn parse(s: &str) -> Result<Self, BoxError> {
        if s == "serve" {
            return Ok(Topology::Serve);
        }
        let (w, k) = s.split_once('+').ok_or("topology is serve or W+K")?;
        Ok(Topology::Split {
            web: w.parse()?,
            workers: k.parse()?,
        })
    }

    fn label(self) -> String {
        match self {
            Topology::Serve => "serve (1 process)".into(),
            Topology::Split { web, workers } => format!("{web} web + {workers} worker"),
        }
    }
}

/// The four payload templates, serialized once with placeholders.
struct Templates {
    pull_request: String,
    review: String,
    issue: String,
    membership: String,
}

fn fixture(path: &str) -> Result<Value, BoxError> {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/{path}"))?;
    Ok(serde_json::from_str(&text)?)
}

fn installation_ref() -> Value {
    json!({"id": INSTALLATION, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uOTU3Mzg3"})
}

fn placeholder(n: &str) -> Value {
    Value::from(n.parse::<i64>().unwrap_or_default())
}

impl Templates {
    fn load() -> Result<Self, BoxError> {
        let mut pr = fixture("bench/pr-24k.json")?;
        pr["installation"] = installation_ref();
        pr["pull_request"]["id"] = placeholder(PR_ID);
        pr["pull_request"]["number"] = placeholder(PR_NUMBER);
        pr["number"] = placeholder(PR_NUMBER);

        let mut review = fixture("fixtures/github/examples/pull_request_review/submitted.json")?;
        review["installation"] = installation_ref();
        review["review"]["id"] = placeholder(REVIEW_ID);
        review["pull_request"]["id"] = placeholder(PR_ID);
        review["pull_request"]["number"] = placeholder(PR_NUMBER);

        let mut issue = fixture("fixtures/github/examples/issues/opened.json")?;
        issue["installation"] = installation_ref();
        issue["issue"]["id"] = placeholder(ISSUE_ID);
        issue["issue"]["number"] = placeholder(ISSUE_NUMBER);

        let mut membership = fixture("fixtures/github/examples/membership/added.json")?;
        membership["installation"] = installation_ref();
        membership["member"]["id"] = placeholder(MEMBER_ID);
        membership["member"]["login"] = Value::from(format!("m{MEMBER_ID}"));

        Ok(Self {
            pull_request: serde_json::to_string(&pr)?,
            review: serde_json::to_string(&review)?,
            issue: serde_json::to_string(&issue)?,
            membership: serde_json::to_string(&membership)?,
        })
    }
}

fn installation_created() -> Result<Vec<u8>, BoxError> {
    let mut v = fixture("fixtures/github/examples/installation/created.json")?;
    v["installation"]["id"] = Value::from(INSTALLATION);
    v["installation"]["account"]["login"] = Value::from("Octocoders");
    v["installation"]["account"]["type"] = Value::from("Organization");
    v["installation"]["target_type"] = Value::from("Organization");
    Ok(serde_json::to_vec(&v)?)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    PullRequest,
    Review,
    Issue,
    Membership,
}

impl Kind {
    fn event(self) -> &'static str {
        match self {
            Kind::PullRequest => "pull_request",
            Kind::Review => "pull_request_review",
            Kind::Issue => "issues",
            Kind::Membership => "membership",
        }
    }

    /// 40 / 25 / 20 / 15 by the delivery's sequence number.
    fn of(seq: u64) -> Self {
        match seq % 20 {
            0..=7 => Kind::PullRequest,
            8..=12 => Kind::Review,
            13..=16 => Kind::Issue,
            _ => Kind::Membership,
        }
    }
}

/// One signed request, ready to send (again).
struct Delivery {
    id: String,
    event: &'static str,
    body: Bytes,
    signature: String,
}

/// Builds the unique deliveries of one step.
struct Generator {
    templates: Arc<Templates>,
    run: String,
    seq: u64,
    last_pr: u64,
}

impl Generator {
    fn next(&mut self) -> (Kind, Delivery) {
        let seq = self.seq;
        self.seq += 1;
        let kind = Kind::of(seq);
        let n = 10_000_000 + seq;
        let body = match kind {
            Kind::PullRequest => {
                self.last_pr = n;
                self.templates
                    .pull_request
                    .replace(PR_ID, &n.to_string())
                    .replace(PR_NUMBER, &(seq + 1).to_string())
            }
            Kind::Review => {
                // Reviews of a PR sent earlier (or, for the very first ones, of one not sent:
                // the review then creates it, as a review that arrives first does).
                let pr = if self.last_pr == 0 { n } else { self.last_pr };
                self.templates
                    .review
                    .replace(REVIEW_ID, &n.to_string())
                    .replace(PR_ID, &pr.to_string())
                    .replace(PR_NUMBER, &(pr - 10_000_000 + 1).to_string())
            }
            Kind::Issue => self
                .templates
                .issue
                .replace(ISSUE_ID, &n.to_string())
                .replace(ISSUE_NUMBER, &(seq + 1).to_string()),
            Kind::Membership => self.templates.membership.replace(MEMBER_ID, &n.to_string()),
        };
        let signature = signature::sign(SECRET.as_bytes(), body.as_bytes());
        (
            kind,
            Delivery {
                id: format!("{}-{seq:08}", self.run),
                event: kind.event(),
                body: Bytes::from(body),
                signature,
            },
        )
    }
}

/// Answers of one step, by status (0: no answer).
#[derive(Default)]
struct Answers {
    statuses: BTreeMap<u16, u64>,
    latencies_us: Vec<u64>,
}

async fn send(http: &Http, addr: SocketAddr, d: &Delivery) -> u16 {
    let request = axum::http::Request::post(format!("http://{addr}/webhooks/github"))
        .header("content-type", "application/json")
        .header("user-agent", "GitHub-Hookshot/bench")
        .header("x-github-event", d.event)
        .header("x-github-delivery", &d.id)
        .header("x-hub-signature-256", &d.signature)
        .body(Full::new(d.body.clone()));
    let Ok(request) = request else { return 0 };
    match tokio::time::timeout(Duration::from_secs(30), http.request(request)).await {
        Ok(Ok(response)) => {
            let status = response.status().as_u16();
            // Read the (tiny) body so the connection goes back to the pool.
            let _ = http_body_util::BodyExt::collect(response.into_body()).await;
            status
        }
        _ => 0,
    }
}

/// The processes of one step; SIGTERM to each when dropped.
struct Processes {
    children: Vec<Child>,
    web: Vec<SocketAddr>,
}

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &self.children {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
        }
        for child in &mut self.children {
            let _ = child.wait();
        }
    }
}

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr")
}

fn start(
    topology: Topology,
    database_url: &str,
    prefix: &str,
    s: &Settings,
    log_dir: &std::path::Path,
) -> Result<Processes, BoxError> {
    let roles: Vec<&str> = match topology {
        Topology::Serve => vec!["all"],
        Topology::Split { web, workers } => std::iter::repeat_n("web", web)
            .chain(std::iter::repeat_n("worker", workers))
            .collect(),
    };
    let mut processes = Processes {
        children: Vec::new(),
        web: Vec::new(),
    };
    for (i, role) in roles.iter().enumerate() {
        let (addr, metrics) = (free_port(), free_port());
        let log = std::fs::File::create(log_dir.join(format!("{role}-{i}.log")))?;
        let mut cmd = Command::new(
            std::env::var("MERGECAST_BIN").unwrap_or(env!("CARGO_BIN_EXE_mergecast").to_owned()),
        );
        cmd.args(["serve", "--role", role])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("REDIS_URL", &s.redis_url)
            .env("GITHUB_WEBHOOK_SECRET", SECRET)
            .env("QUEUE_PREFIX", prefix)
            .env("BIND_ADDR", addr.to_string())
            .env("METRICS_ADDR", metrics.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(c) = s.concurrency {
            cmd.env("WORKER_CONCURRENCY", c.to_string());
        }
        if let Some(n) = s.db_conns {
            cmd.env("DATABASE_MAX_CONNECTIONS", n.to_string());
        }
        if let Some(n) = s.tokio_threads {
            cmd.env("TOKIO_WORKER_THREADS", n.to_string());
        }
        processes.children.push(cmd.spawn()?);
        if *role != "worker" {
            processes.web.push(addr);
        }
        // Let the first process run the migrations alone.
        if i == 0 {
            wait_healthy(if *role == "worker" { metrics } else { addr })?;
        }
    }
    Ok(processes)
}

/// Waits (blocking: only between steps) until `/healthz` on `addr` answers other than 5xx.
fn wait_healthy(addr: SocketAddr) -> Result<(), BoxError> {
    {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(addr) {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let req = format!(
                    "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    addr
                );
                if s.write_all(req.as_bytes()).is_ok() {
                    let mut buf = [0u8; 16];
                    if s.read(&mut buf).is_ok_and(|n| n >= 12) && &buf[9..10] != b"5" {
                        return Ok(());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("{addr} did not come up within 60 s").into())
    }
}

/// CPU ticks (user + system) of a process, from /proc/<pid>/stat.
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// Pids whose command name is `comm`.
fn pids_named(comm: &str) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == comm) {
                out.push(pid);
            }
        }
    }
    out
}

/// (busy, total) ticks of the whole machine, from /proc/stat.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next() else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// CPU by group of processes over a window, in % of one core.
struct CpuSnapshot {
    at: Instant,
    groups: Vec<(&'static str, u64)>,
    machine: (u64, u64),
}

fn cpu_snapshot(mergecast: &[u32]) -> CpuSnapshot {
    let sum = |pids: &[u32]| pids.iter().map(|p| cpu_ticks(*p)).sum::<u64>();
    CpuSnapshot {
        at: Instant::now(),
        groups: vec![
            ("mergecast", sum(mergecast)),
            ("postgres", sum(&pids_named("postgres"))),
            ("redis", sum(&pids_named("redis-server"))),
            ("load generator", cpu_ticks(std::process::id())),
        ],
        machine: machine_ticks(),
    }
}

fn cpu_between(a: &CpuSnapshot, b: &CpuSnapshot) -> (Vec<(&'static str, f64)>, f64) {
    // USER_HZ is 100 on Linux.
    let secs = b.at.duration_since(a.at).as_secs_f64().max(0.001);
    let groups = a
        .groups
        .iter()
        .zip(&b.groups)
        .map(|((name, x), (_, y))| (*name, y.saturating_sub(*x) as f64 / secs))
        .collect();
    let busy = b.machine.0.saturating_sub(a.machine.0) as f64;
    let total = b.machine.1.saturating_sub(a.machine.1).max(1) as f64;
    (groups, 100.0 * busy / total)
}

async fn backlog(conn: &mut redis::aio::MultiplexedConnection, prefix: &str) -> u64 {
    let queue = format!("{prefix}:deliveries");
    let r: Result<(u64, u64), _> = redis::pipe()
        .cmd("LLEN")
        .arg(format!("{queue}:active"))
        .cmd("ZCARD")
        .arg(format!("{queue}:scheduled"))
        .query_async(conn)
        .await;
    r.map(|(a, s)| a + s).unwrap_or(u64::MAX)
}

/// What one (topology, rate) step measured.
#[derive(Clone, Debug, Default)]
struct StepResult {
    topology: String,
    rate: u64,
    offered: u64,
    sent_per_sec: f64,
    late_sends: u64,
    non_2xx: u64,
    http_p50_ms: f64,
    http_p99_ms: f64,
    applied_p50_ms: f64,
    applied_p99_ms: f64,
    applied_max_ms: f64,
    backlog_end: u64,
    backlog_max: u64,
    drain_secs: f64,
    effects_ok: bool,
    effects_note: String,
    cpu: Vec<(&'static str, f64)>,
    machine_busy_pct: f64,
}

impl StepResult {
    fn held(&self) -> bool {
        self.late_sends == 0
            && self.non_2xx == 0
            && self.effects_ok
            && self.backlog_end <= self.rate
            && self.applied_p99_ms <= 1000.0
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64
}

struct Settings {
    redis_url: String,
    step: Duration,
    warmup: Duration,
    dup_pct: u64,
    concurrency: Option<usize>,
    db_conns: Option<u32>,
    tokio_threads: Option<usize>,
    drain: Duration,
    max_inflight: usize,
    out: std::path::PathBuf,
}

async fn run_step(
    s: &Settings,
    topology: Topology,
    rate: u64,
    templates: Arc<Templates>,
) -> Result<StepResult, BoxError> {
    let database_url = common::recreate_database(DB).await;
    let run = format!("s{}-{}", std::process::id(), Utc::now().timestamp_millis());
    let prefix = format!("bench-sustained:{run}");
    let log_dir = s.out.join(format!(
        "logs-{}-{rate}",
        topology.label().replace(' ', "_")
    ));
    std::fs::create_dir_all(&log_dir)?;
    let procs = start(topology, &database_url, &prefix, s, &log_dir)?;
    for addr in &procs.web {
        wait_healthy(*addr)?;
    }
    let pids: Vec<u32> = procs.children.iter().map(Child::id).collect();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&database_url)
        .await?;
    let redis = redis::Client::open(s.redis_url.as_str())?;
    let mut rconn = redis.get_multiplexed_async_connection().await?;
    let http: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(s.max_inflight)
        .build_http();

    // The installation first, as GitHub sends it.
    let body = installation_created()?;
    let install = Delivery {
        id: format!("{run}-installation"),
        event: "installation",
        signature: signature::sign(SECRET.as_bytes(), &body),
        body: Bytes::from(body),
    };
    let status = send(&http, procs.web[0], &install).await;
    if status != 202 {
        return Err(format!("installation.created answered {status}").into());
    }
    wait_for(
        &pool,
        "installation applied",
        Duration::from_secs(30),
        || "SELECT count(*) FROM installations".to_owned(),
        1,
    )
    .await?;

    // The offer: open loop, every 2 ms as many as the schedule says are due.
    let semaphore = Arc::new(Semaphore::new(s.max_inflight));
    let answers = Arc::new(Mutex::new(Answers::default()));
    let late = Arc::new(AtomicU64::new(0));
    let mut generator = Generator {
        templates,
        run: run.clone(),
        seq: 0,
        last_pr: 0,
    };
    let mut sent_by_kind: BTreeMap<Kind, u64> = BTreeMap::new();
    let mut recent: Vec<Arc<Delivery>> = Vec::new();
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let total = s.warmup + s.step;
    let due_total = (total.as_secs_f64() * rate as f64) as u64;
    let started = Instant::now();
    let mut window_start: Option<(DateTime<Utc>, CpuSnapshot)> = None;
    let mut offered = 0u64;
    let mut measured_offered = 0u64;
    let mut next_sample = Duration::ZERO;
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut tasks = tokio::task::JoinSet::new();
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    while offered < due_total {
        tick.tick().await;
        let elapsed = started.elapsed();
        if window_start.is_none() && elapsed >= s.warmup {
            window_start = Some((Utc::now(), cpu_snapshot(&pids)));
        }
        if elapsed >= next_sample {
            samples.push((elapsed.as_secs_f64(), backlog(&mut rconn, &prefix).await));
            next_sample += Duration::from_secs(1);
        }
        let due = ((elapsed.as_secs_f64() * rate as f64) as u64).min(due_total);
        while offered < due {
            offered += 1;
            if window_start.is_some() {
                measured_offered += 1;
            }
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let duplicate = !recent.is_empty() && rng % 100 < s.dup_pct;
            let delivery = if duplicate {
                recent[(rng >> 8) as usize % recent.len()].clone()
            } else {
                let (kind, d) = generator.next();
                *sent_by_kind.entry(kind).or_default() += 1;
                let d = Arc::new(d);
                if recent.len() < 256 {
                    recent.push(d.clone());
                } else {
                    let i = (rng >> 16) as usize % recent.len();
                    recent[i] = d.clone();
                }
                d
            };
            let Ok(permit) = semaphore.clone().try_acquire_owned() else {
                // Every slot busy: the server is not keeping up with the offer.
                late.fetch_add(1, Ordering::Relaxed);
                let permit = semaphore.clone().acquire_owned().await?;
                spawn_send(
                    &mut tasks, &http, &procs.web, offered, delivery, permit, &answers,
                );
                continue;
            };
            spawn_send(
                &mut tasks, &http, &procs.web, offered, delivery, permit, &answers,
            );
        }
        while tasks.try_join_next().is_some() {}
    }
    let send_secs = started.elapsed().as_secs_f64();
    let (window_from, cpu_from) = window_start.ok_or("no measured window")?;
    let window_to = Utc::now();
    let cpu_to = cpu_snapshot(&pids);
    let backlog_end = backlog(&mut rconn, &prefix).await;
    samples.push((started.elapsed().as_secs_f64(), backlog_end));
    while tasks.join_next().await.is_some() {}

    // Drain, then read what happened.
    let unique: u64 = sent_by_kind.values().sum();
    let drain_started = Instant::now();
    wait_for(
        &pool,
        "backlog applied",
        s.drain,
        || "SELECT count(*) FROM deliveries WHERE status IN ('processed','ignored')".to_owned(),
        unique as i64 + 1,
    )
    .await?;
    let drain_secs = drain_started.elapsed().as_secs_f64();
    let (p50, p99, max): (Option<f64>, Option<f64>, Option<f64>) = sqlx::query_as(
        r#"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms),
                  percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), max(ms)
           FROM (SELECT (extract(epoch FROM processed_at - received_at) * 1000)::float8 AS ms
                 FROM deliveries WHERE received_at >= $1 AND received_at < $2 AND id <> $3) d"#,
    )
    .bind(window_from)
    .bind(window_to)
    .bind(&install.id)
    .fetch_one(&pool)
    .await?;
    let (effects_ok, effects_note) = check_effects(&pool, &sent_by_kind, unique).await?;
    let cpu = cpu_between(&cpu_from, &cpu_to);

    let answers = std::mem::take(&mut *answers.lock().map_err(|_| "answers poisoned")?);
    let mut lat = answers.latencies_us;
    lat.sort_unstable();
    let non_2xx = answers
        .statuses
        .iter()
        .filter(|(s, _)| !(200..300).contains(*s))
        .map(|(_, n)| n)
        .sum();
    drop(procs);
    let mut conn = redis.get_multiplexed_async_connection().await?;
    mergecast::queue::purge::purge_prefix(&mut conn, &format!("{prefix}:")).await?;
    let mut raw = String::new();
    for (t, b) in &samples {
        let _ = writeln!(raw, "{t:.1},{b}");
    }
    std::fs::write(log_dir.join("backlog.csv"), raw)?;
    std::fs::write(
        log_dir.join("statuses.txt"),
        format!("{:?}\n", answers.statuses),
    )?;
    let mut label = topology.label();
    if let Some(c) = s.concurrency {
        label.push_str(&format!(", WORKER_CONCURRENCY={c}"));
    }
    if let Some(n) = s.db_conns {
        label.push_str(&format!(", DATABASE_MAX_CONNECTIONS={n}"));
    }
    if let Some(n) = s.tokio_threads {
        label.push_str(&format!(", TOKIO_WORKER_THREADS={n}"));
    }
    Ok(StepResult {
        topology: label,
        rate,
        offered: measured_offered,
        sent_per_sec: offered as f64 / send_secs,
        late_sends: late.load(Ordering::Relaxed),
        non_2xx,
        http_p50_ms: percentile(&lat, 50.0) / 1000.0,
        http_p99_ms: percentile(&lat, 99.0) / 1000.0,
        applied_p50_ms: p50.unwrap_or(f64::NAN),
        applied_p99_ms: p99.unwrap_or(f64::NAN),
        applied_max_ms: max.unwrap_or(f64::NAN),
        backlog_end,
        backlog_max: samples.iter().map(|(_, b)| *b).max().unwrap_or(0),
        drain_secs,
        effects_ok,
        effects_note,
        cpu: cpu.0,
        machine_busy_pct: cpu.1,
    })
}

fn spawn_send(
    tasks: &mut tokio::task::JoinSet<()>,
    http: &Http,
    web: &[SocketAddr],
    n: u64,
    delivery: Arc<Delivery>,
    permit: tokio::sync::OwnedSemaphorePermit,
    answers: &Arc<Mutex<Answers>>,
) {
    let http = http.clone();
    let addr = web[n as usize % web.len()];
    let answers = answers.clone();
    tasks.spawn(async move {
        let t = Instant::now();
        let status = send(&http, addr, &delivery).await;
        let us = t.elapsed().as_micros() as u64;
        drop(permit);
        if let Ok(mut a) = answers.lock() {
            *a.statuses.entry(status).or_default() += 1;
            a.latencies_us.push(us);
        }
    });
}

/// Polls `sql` (a count) until it reaches `want`.
async fn wait_for(
    pool: &sqlx::PgPool,
    what: &str,
    deadline: Duration,
    sql: impl Fn() -> String,
    want: i64,
) -> Result<(), BoxError> {
    let until = Instant::now() + deadline;
    loop {
        let (n,): (i64,) = sqlx::query_as(&sql()).fetch_one(pool).await?;
        if n >= want {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(format!("{what}: {n} of {want} after {deadline:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every unique delivery left exactly one row and one effect; duplicates none.
async fn check_effects(
    pool: &sqlx::PgPool,
    sent: &BTreeMap<Kind, u64>,
    unique: u64,
) -> Result<(bool, String), BoxError> {
    let count = |sql: &'static str| async move {
        sqlx::query_as::<_, (i64,)>(sql)
            .fetch_one(pool)
            .await
            .map(|(n,)| n as u64)
    };
    let deliveries = count("SELECT count(*) FROM deliveries").await?;
    let bad = count("SELECT count(*) FROM deliveries WHERE status NOT IN ('processed')").await?;
    let prs = count("SELECT count(*) FROM pull_requests").await?;
    let reviews = count("SELECT count(*) FROM reviews").await?;
    let issues = count("SELECT count(*) FROM issues").await?;
    let members = count("SELECT count(*) FROM team_members").await?;
    let get = |k: Kind| sent.get(&k).copied().unwrap_or(0);
    let checks = [
        ("deliveries", deliveries, unique + 1),
        ("not processed", bad, 0),
        ("pull_requests", prs, get(Kind::PullRequest).max(1)),
        ("reviews", reviews, get(Kind::Review)),
        ("issues", issues, get(Kind::Issue)),
        ("team_members", members, get(Kind::Membership)),
    ];
    let wrong: Vec<String> = checks
        .iter()
        .filter(|(_, got, want)| got != want)
        .map(|(what, got, want)| format!("{what} {got} (want {want})"))
        .collect();
    Ok(if wrong.is_empty() {
        (true, format!("{deliveries} deliveries, each effect once"))
    } else {
        (false, wrong.join(", "))
    })
}

/// One step as (column, value) pairs: the table's and the CSV's columns.
fn columns(r: &StepResult) -> Vec<(&'static str, String)> {
    let mut c = vec![
        ("processes", r.topology.clone()),
        ("offered/s", r.rate.to_string()),
        ("in the window", r.offered.to_string()),
        ("sent/s", format!("{:.0}", r.sent_per_sec)),
        ("held", if r.held() { "yes" } else { "no" }.to_owned()),
        ("applied p50 ms", format!("{:.0}", r.applied_p50_ms)),
        ("applied p99 ms", format!("{:.0}", r.applied_p99_ms)),
        ("applied max ms", format!("{:.0}", r.applied_max_ms)),
        ("backlog end", r.backlog_end.to_string()),
        ("backlog max", r.backlog_max.to_string()),
        ("HTTP p50 ms", format!("{:.1}", r.http_p50_ms)),
        ("HTTP p99 ms", format!("{:.1}", r.http_p99_ms)),
        ("non-2xx", r.non_2xx.to_string()),
        ("late sends", r.late_sends.to_string()),
        ("drain s", format!("{:.1}", r.drain_secs)),
        ("effects", r.effects_note.replace(',', ";")),
    ];
    for (name, pct) in &r.cpu {
        c.push((name, format!("{pct:.0}")));
    }
    c.push(("machine busy %", format!("{:.0}", r.machine_busy_pct)));
    c
}

fn table(results: &[StepResult]) -> String {
    let Some(first) = results.first() else {
        return String::new();
    };
    let heads: Vec<&str> = columns(first).iter().map(|(h, _)| *h).collect();
    let mut t = format!(
        "CPU columns: % of one core over the measured window.\n\n| {} |\n|{}\n",
        heads.join(" | "),
        "---|".repeat(heads.len())
    );
    for r in results {
        let values: Vec<String> = columns(r).into_iter().map(|(_, v)| v).collect();
        let _ = writeln!(t, "| {} |", values.join(" | "));
    }
    t
}

fn csv(results: &[StepResult]) -> String {
    let mut t = String::new();
    for (i, r) in results.iter().enumerate() {
        let c = columns(r);
        if i == 0 {
            let heads: Vec<&str> = c.iter().map(|(h, _)| *h).collect();
            let _ = writeln!(t, "{}", heads.join(","));
        }
        let values: Vec<String> = c.into_iter().map(|(_, v)| v).collect();
        let _ = writeln!(t, "{}", values.join(","));
    }
    t
}

/// Rate → receipt→applied p50/p99 (log scale) per topology, and the 1 s line.
fn chart(results: &[StepResult], title: &str) -> String {
    let (w, h, left, right, top, bottom) = (760.0, 420.0, 70.0, 200.0, 40.0, 50.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let max_rate = results.iter().map(|r| r.rate).max().unwrap_or(1) as f64 * 1.05;
    let (lo, hi) = (1.0f64.log10(), 100_000.0f64.log10());
    let x = |r: f64| left + pw * r / max_rate;
    let y = |ms: f64| {
        let v = ms.clamp(1.0, 100_000.0).log10();
        top + ph * (1.0 - (v - lo) / (hi - lo))
    };
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="22" font-size="14">{title}</text>
"#
    );
    for ms in [1.0, 10.0, 100.0, 1000.0, 10_000.0, 100_000.0] {
        let yy = y(ms);
        let label = if ms >= 1000.0 {
            format!("{} s", ms / 1000.0)
        } else {
            format!("{ms} ms")
        };
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="{}"/><text x="{}" y="{:.1}" text-anchor="end">{label}</text>"##,
            left + pw,
            if ms == 1000.0 { "#d33" } else { "#ddd" },
            left - 6.0,
            yy + 4.0
        );
    }
    let mut rates: Vec<u64> = results.iter().map(|r| r.rate).collect();
    rates.sort_unstable();
    rates.dedup();
    for r in &rates {
        let xx = x(*r as f64);
        let _ = writeln!(
            svg,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{top}" y2="{}" stroke="#eee"/><text x="{xx:.1}" y="{}" text-anchor="middle">{r}</text>"##,
            top + ph,
            top + ph + 16.0
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="{}" text-anchor="middle">offered deliveries/s (60 s each; 10 % duplicates)</text>
<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">receipt → applied (log)</text>"##,
        left + pw / 2.0,
        h - 10.0,
        top + ph / 2.0,
        top + ph / 2.0
    );
    let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"];
    let mut topologies: Vec<&str> = Vec::new();
    for r in results {
        if !topologies.contains(&r.topology.as_str()) {
            topologies.push(&r.topology);
        }
    }
    for (i, t) in topologies.iter().enumerate() {
        let c = colors[i % colors.len()];
        let series: Vec<&StepResult> = results.iter().filter(|r| r.topology == *t).collect();
        for (p, dash, label) in [(0usize, "", "p50"), (1, "6,4", "p99")] {
            let points: Vec<String> = series
                .iter()
                .map(|r| {
                    let v = if p == 0 {
                        r.applied_p50_ms
                    } else {
                        r.applied_p99_ms
                    };
                    format!("{:.1},{:.1}", x(r.rate as f64), y(v))
                })
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{c}" stroke-width="2" stroke-dasharray="{dash}" points="{}"/>"#,
                points.join(" ")
            );
            for pt in &points {
                let (px, py) = pt.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(svg, r#"<circle cx="{px}" cy="{py}" r="3" fill="{c}"/>"#);
            }
            let ly = top + 20.0 + (i * 2 + p) as f64 * 18.0;
            let _ = writeln!(
                svg,
                r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{c}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{}" y="{}">{t} {label}</text>"#,
                left + pw + 10.0,
                left + pw + 34.0,
                left + pw + 40.0,
                ly + 4.0
            );
        }
    }
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="{}" fill="#d33">p99 goal: 1 s</text>"##,
        left + pw + 10.0,
        y(1000.0) + 4.0
    );
    svg.push_str("</svg>\n");
    svg
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let topologies: Vec<Topology> = env_or("BENCH_TOPOLOGIES", "1+1")
        .split(',')
        .map(Topology::parse)
        .collect::<Result<_, _>>()?;
    let rates: Vec<u64> = env_or("BENCH_RATES", "500,1000,1500,2000")
        .split(',')
        .map(|r| r.trim().parse())
        .collect::<Result<_, _>>()?;
    let out = std::path::PathBuf::from(env_or(
        "BENCH_OUT",
        &format!(
            "{}/bench/results/sustained-{}",
            env!("CARGO_MANIFEST_DIR"),
            Utc::now().format("%Y%m%d-%H%M%S")
        ),
    ));
    std::fs::create_dir_all(&out)?;
    let s = Settings {
        redis_url: env_or("REDIS_URL", "redis://127.0.0.1:6379/"),
        step: Duration::from_secs(env_num("BENCH_STEP_SECS", 60)),
        warmup: Duration::from_secs(env_num("BENCH_WARMUP_SECS", 5)),
        dup_pct: env_num("BENCH_DUP_PCT", 10),
        concurrency: std::env::var("BENCH_WORKER_CONCURRENCY")
            .ok()
            .and_then(|v| v.parse().ok()),
        db_conns: std::env::var("BENCH_DB_CONNS")
            .ok()
            .and_then(|v| v.parse().ok()),
        tokio_threads: std::env::var("BENCH_TOKIO_THREADS")
            .ok()
            .and_then(|v| v.parse().ok()),
        drain: Duration::from_secs(env_num("BENCH_DRAIN_SECS", 180)),
        max_inflight: env_num("BENCH_MAX_INFLIGHT", 512),
        out: out.clone(),
    };
    let templates = Arc::new(Templates::load()?);
    let mut redis = redis::Client::open(s.redis_url.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let mut config_get = async |name: &str| -> String {
        let pair: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query_async(&mut redis)
            .await
            .unwrap_or_default();
        pair.get(1).cloned().unwrap_or_else(|| "?".into())
    };
    let appendonly = config_get("appendonly").await;
    let aof = config_get("appendfsync").await;
    let redis_mode = format!("appendonly {appendonly} appendfsync {aof}");
    println!(
        "sustained: topologies {:?}, rates {rates:?}, {} s each (+{} s warm-up), {} % duplicates, Redis {} ({redis_mode}); output {}",
        topologies.iter().map(|t| t.label()).collect::<Vec<_>>(),
        s.step.as_secs(),
        s.warmup.as_secs(),
        s.dup_pct,
        s.redis_url,
        out.display()
    );
    let mut results = Vec::new();
    for topology in &topologies {
        for rate in &rates {
            let r = run_step(&s, *topology, *rate, templates.clone()).await?;
            println!(
                "{} @ {}/s: held {}, applied p50 {:.0} ms p99 {:.0} ms, backlog end {} max {}, non-2xx {}, late {}, {}",
                r.topology,
                r.rate,
                r.held(),
                r.applied_p50_ms,
                r.applied_p99_ms,
                r.backlog_end,
                r.backlog_max,
                r.non_2xx,
                r.late_sends,
                r.effects_note
            );
            results.push(r);
            std::fs::write(out.join("results.csv"), csv(&results))?;
        }
    }
    let md = table(&results);
    std::fs::write(out.join("table.md"), &md)?;
    std::fs::write(
        out.join("chart.svg"),
        chart(
            &results,
            &format!("Sustained end to end, one 2-core machine, Redis {redis_mode}"),
        ),
    )?;
    println!("\n{md}");
    Ok(())
}
