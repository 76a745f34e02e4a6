//! Flood benchmark (security issue 12, item 6): can a flood of large webhook bodies run up the
//! server's memory or starve GitHub's own deliveries?
//!
//! Starts the release binary (`mergecast serve --role web`, a separate process so that its RSS
//! is its own) against the local Postgres (database `mergecast_bench_flood`, recreated) and
//! Redis (a unique key prefix, deleted afterwards). Then, for `BENCH_SECONDS`:
//! - `BENCH_CONNS` connections each send 24 MiB bodies with a well-formed but wrong signature,
//!   one request after another (the expensive attack: such a body must be read to be refused);
//! - `BENCH_CONNS` more send 24 MiB bodies with no signature at all (refused on headers);
//! - one side client sends small deliveries signed with the right secret, one after another,
//!   and counts how many are answered 2xx.
//!
//! Every request is accounted for: it ends with a status or with one named failure (reset,
//! closed, timed out, ...). The server's VmRSS/VmHWM is sampled from `/proc/<pid>/status`.
//!
//! Run: `cargo bench --bench flood`. Settings: `BENCH_SECONDS` (20), `BENCH_CONNS` (64),
//! `BENCH_BODY_MIB` (24), `REDIS_URL`, `BENCH_POSTGRES`.

mod common;
#[path = "../tests/support/raw_http.rs"]
mod raw_http;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mergecast::github::signature;
use raw_http::{Answer, Conn, Failure, Framing, post_head};
use tokio::sync::Mutex;

const SECRET: &str = "bench-secret";
const PIECE: usize = 64 * 1024;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How requests of one kind ended: by status, or by failure.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, u64>,
    failures: BTreeMap<Failure, u64>,
    started: u64,
    latencies_ms: Vec<f64>,
}

impl Tally {
    fn record(&mut self, result: &Result<Answer, Failure>, took: Duration) {
        match result {
            Ok(a) => *self.statuses.entry(a.status).or_default() += 1,
            Err(f) => *self.failures.entry(*f).or_default() += 1,
        }
        self.latencies_ms.push(took.as_secs_f64() * 1000.0);
    }

    fn ended(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.failures.values().sum::<u64>()
    }

    fn summary(&self) -> String {
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        let failures: Vec<String> = self
            .failures
            .iter()
            .map(|(f, n)| format!("{f:?}: {n}"))
            .collect();
        format!(
            "started {}, ended {} (statuses {{{}}}, failures {{{}}})",
            self.started,
            self.ended(),
            statuses.join(", "),
            failures.join(", ")
        )
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `VmRSS` and `VmHWM` of `pid`, in KiB.
fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr")
}

/// The server process; stopped with SIGTERM when dropped.
struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// One flood connection: requests one after another until `stop`.
async fn flood(
    addr: SocketAddr,
    headers: Vec<(&'static str, String)>,
    body_len: usize,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) {
    let piece = Bytes::from(vec![b'x'; PIECE]);
    while !stop.load(Ordering::Relaxed) {
        let mut headers = headers.clone();
        headers.push(("x-github-delivery", uuid::Uuid::new_v4().to_string()));
        let head = post_head(addr, "/webhooks/github", &headers);
        tally.lock().await.started += 1;
        let t = Instant::now();
        let result = match Conn::open(addr, &head).await {
            Ok(conn) => {
                conn.stream(
                    piece.clone(),
                    body_len / PIECE,
                    Framing::Plain,
                    Duration::from_secs(30),
                )
                .await
            }
            Err(f) => Err(f),
        };
        tally.lock().await.record(&result, t.elapsed());
    }
}

/// The side client: GitHub's signed small deliveries, one after another until `stop`.
async fn signed_deliveries(
    addr: SocketAddr,
    body: Bytes,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) {
    let sig = signature::sign(SECRET.as_bytes(), &body);
    while !stop.load(Ordering::Relaxed) {
        let headers = [
            ("content-type", "application/json".to_owned()),
            ("x-github-event", "pull_request".to_owned()),
            ("x-github-delivery", uuid::Uuid::new_v4().to_string()),
            ("x-hub-signature-256", sig.clone()),
            ("content-length", body.len().to_string()),
        ];
        let head = post_head(addr, "/webhooks/github", &headers);
        tally.lock().await.started += 1;
        let t = Instant::now();
        let result = match Conn::open(addr, &head).await {
            Ok(conn) => {
                conn.stream(body.clone(), 1, Framing::Plain, Duration::from_secs(30))
                    .await
            }
            Err(f) => Err(f),
        };
        tally.lock().await.record(&result, t.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn metric_lines(client: &reqwest::Client, metrics: SocketAddr) -> Vec<String> {
    let Ok(r) = client.get(format!("http://{metrics}/metrics")).send().await else {
        return Vec::new();
    };
    r.text()
        .await
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.starts_with("mergecast_webhook_deliveries_total")
                || l.starts_with("mergecast_signature_failures_total")
                || l.starts_with("mergecast_webhook_bodies_reading")
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::main]
async fn main() {
    let seconds = env_u64("BENCH_SECONDS", 20);
    let conns = env_u64("BENCH_CONNS", 64);
    let body_len = (env_u64("BENCH_BODY_MIB", 24) * 1024 * 1024) as usize;
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let database_url = common::recreate_database("mergecast_bench_flood").await;
    let prefix = format!(
        "bench-flood:{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp()
    );
    let (addr, metrics_addr) = (free_port(), free_port());
    let log_path = std::env::temp_dir().join(format!("mergecast-flood-{}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).expect("server log file");
    let child = Command::new(env!("CARGO_BIN_EXE_mergecast"))
        .args(["serve", "--role", "web"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &database_url)
        .env("REDIS_URL", &redis_url)
        .env("GITHUB_WEBHOOK_SECRET", SECRET)
        .env("QUEUE_PREFIX", &prefix)
        .env("BIND_ADDR", addr.to_string())
        .env("METRICS_ADDR", metrics_addr.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start the release binary");
    let server = Server { child };
    let pid = server.child.id();
    let client = reqwest::Client::new();
    let up = Instant::now();
    loop {
        let ok = client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            break;
        }
        assert!(
            up.elapsed() < Duration::from_secs(30),
            "server did not come up; log: {}",
            log_path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (rss_before, _) = memory_kib(pid).unwrap_or_default();
    let machine = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "flood: server pid {pid} on {addr}, prefix {prefix}, {machine} cores, {seconds} s, \
         {conns}+{conns} connections, {} MiB bodies; RSS before {} MiB",
        body_len / (1024 * 1024),
        rss_before / 1024
    );

    let stop = Arc::new(AtomicBool::new(false));
    let peak_rss = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak_rss) = (stop.clone(), peak_rss.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some((rss, _)) = memory_kib(pid) {
                    peak_rss.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let wrong = Arc::new(Mutex::new(Tally::default()));
    let unsigned = Arc::new(Mutex::new(Tally::default()));
    let signed = Arc::new(Mutex::new(Tally::default()));
    let base = vec![
        ("content-type", "application/json".to_owned()),
        ("x-github-event", "pull_request".to_owned()),
        ("content-length", body_len.to_string()),
    ];
    let mut wrong_headers = base.clone();
    wrong_headers.push((
        "x-hub-signature-256",
        signature::sign(b"not-the-secret", b"anything"),
    ));
    let mut workers = Vec::new();
    for _ in 0..conns {
        workers.push(tokio::spawn(flood(
            addr,
            wrong_headers.clone(),
            body_len,
            stop.clone(),
            wrong.clone(),
        )));
        workers.push(tokio::spawn(flood(
            addr,
            base.clone(),
            body_len,
            stop.clone(),
            unsigned.clone(),
        )));
    }
    let small = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/pr-24k.json"))
        .unwrap_or_else(|_| br#"{"action":"opened","number":1}"#.to_vec());
    let small_len = small.len();
    workers.push(tokio::spawn(signed_deliveries(
        addr,
        Bytes::from(small),
        stop.clone(),
        signed.clone(),
    )));

    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    // Requests under way finish (each within its 30 s answer deadline): all are counted.
    for w in workers {
        let _ = w.await;
    }
    let _ = sampler.await;
    let (rss_after, hwm) = memory_kib(pid).unwrap_or_default();
    let counters = metric_lines(&client, metrics_addr).await;
    drop(server);
    if let Ok(client) = redis::Client::open(redis_url.as_str())
        && let Ok(mut conn) = redis::aio::ConnectionManager::new(client).await
    {
        common::delete_keys(&mut conn, &prefix).await;
    }

    let peak = peak_rss.load(Ordering::Relaxed).max(hwm);
    println!(
        "flood: server peak RSS (VmHWM) {} MiB, sampled VmRSS max {} MiB, at end {} MiB",
        hwm / 1024,
        peak_rss.load(Ordering::Relaxed) / 1024,
        rss_after / 1024
    );
    println!("flood: wrong signature: {}", wrong.lock().await.summary());
    println!(
        "flood: unsigned:        {}",
        unsigned.lock().await.summary()
    );
    let signed = signed.lock().await;
    let ok = signed
        .statuses
        .iter()
        .filter(|(s, _)| (200..300).contains(*s))
        .map(|(_, n)| n)
        .sum::<u64>();
    let mut lat = signed.latencies_ms.clone();
    lat.sort_by(f64::total_cmp);
    println!(
        "flood: signed ({small_len} B): {ok}/{} answered 2xx; {}; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        signed.started,
        signed.summary(),
        percentile(&lat, 50.0),
        percentile(&lat, 99.0),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    for line in &counters {
        println!("flood: server {line}");
    }
    let all_counted = [&*wrong.lock().await, &*unsigned.lock().await, &*signed]
        .iter()
        .all(|t| t.started == t.ended());
    let met = peak <= 150 * 1024 && ok == signed.started && all_counted;
    println!(
        "flood: target (peak RSS <= 150 MiB, every signed delivery 2xx, every request counted): {}",
        if met { "met" } else { "NOT met" }
    );
    if !met {
        std::process::exit(1);
    }
}
