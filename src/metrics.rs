//! Process metrics in Prometheus text format, kept by hand: a handful of counters and one
//! histogram do not justify a metrics framework on the hot path.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Event names we label by; anything else is counted as `other` so labels stay bounded.
const KNOWN_EVENTS: &[&str] = &[
    "ping",
    "installation",
    "installation_repositories",
    "installation_target",
    "github_app_authorization",
    "organization",
    "member",
    "membership",
    "team",
    "pull_request",
    "pull_request_review",
    "issues",
];

/// Upper bounds (seconds) of the job latency histogram: receipt to applied.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The admission pools webhook bodies are read in (see `web::webhook_body`); a gauge each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyPool {
    /// `Content-Length` at most 1 MiB.
    Small,
    /// Larger, or chunked (no `Content-Length`).
    Large,
}

impl BodyPool {
    pub const ALL: [BodyPool; 2] = [BodyPool::Small, BodyPool::Large];

    fn label(self) -> &'static str {
        match self {
            BodyPool::Small => "small",
            BodyPool::Large => "large",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Default)]
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    sum: f64,
}

/// Counters shared by the web and worker sides of one process.
#[derive(Default)]
pub struct Metrics {
    received: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    processed: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    signature_failures: AtomicU64,
    bodies_reading: [AtomicU64; 2],
    latency: Mutex<Histogram>,
    work: Mutex<Histogram>,
}

fn event_label(event: &str) -> &'static str {
    KNOWN_EVENTS
        .iter()
        .find(|e| **e == event)
        .copied()
        .unwrap_or("other")
}

impl Metrics {
    /// Counts a webhook request by how the endpoint answered it.
    pub fn delivery_received(&self, event: &str, outcome: &'static str) {
        if let Ok(mut m) = self.received.lock() {
            *m.entry((event_label(event), outcome)).or_default() += 1;
        }
    }

    pub fn signature_failure(&self) {
        self.signature_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A webhook body started being read in `pool` (it holds one of the pool's slots).
    pub fn body_read_started(&self, pool: BodyPool) {
        self.bodies_reading[pool.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The body read started by [`Metrics::body_read_started`] ended, however it ended.
    pub fn body_read_ended(&self, pool: BodyPool) {
        self.bodies_reading[pool.index()].fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts a worker run and observes latency from receipt and the run's own duration.
    pub fn delivery_processed(
        &self,
        event: &str,
        outcome: &'static str,
        received_at: DateTime<Utc>,
        run: Duration,
    ) {
        if let Ok(mut m) = self.processed.lock() {
            *m.entry((event_label(event), outcome)).or_default() += 1;
        }
        let since_receipt = (Utc::now() - received_at)
            .num_microseconds()
            .unwrap_or(0)
            .max(0) as f64
            / 1e6;
        observe(&self.latency, since_receipt);
        observe(&self.work, run.as_secs_f64());
    }

    /// Renders everything; queue depths are read by the caller at scrape time.
    pub fn render(&self, queue_depths: &[(&str, u64, u64)]) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP mergecast_webhook_deliveries_total Webhook requests by event and response.\n",
        );
        out.push_str("# TYPE mergecast_webhook_deliveries_total counter\n");
        if let Ok(m) = self.received.lock() {
            for ((event, outcome), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "mergecast_webhook_deliveries_total{{event=\"{event}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP mergecast_deliveries_processed_total Worker runs by event and outcome.\n",
        );
        out.push_str("# TYPE mergecast_deliveries_processed_total counter\n");
        if let Ok(m) = self.processed.lock() {
            for ((event, outcome), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "mergecast_deliveries_processed_total{{event=\"{event}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP mergecast_signature_failures_total Webhook requests refused for a missing or wrong signature.\n");
        out.push_str("# TYPE mergecast_signature_failures_total counter\n");
        let _ = writeln!(
            out,
            "mergecast_signature_failures_total {}",
            self.signature_failures.load(Ordering::Relaxed)
        );
        out.push_str("# HELP mergecast_webhook_bodies_reading Webhook bodies being read now, by admission pool.\n");
        out.push_str("# TYPE mergecast_webhook_bodies_reading gauge\n");
        for pool in BodyPool::ALL {
            let _ = writeln!(
                out,
                "mergecast_webhook_bodies_reading{{pool=\"{}\"}} {}",
                pool.label(),
                self.bodies_reading[pool.index()].load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP mergecast_queue_depth Jobs waiting, by queue and state.\n");
        out.push_str("# TYPE mergecast_queue_depth gauge\n");
        for (queue, ready, scheduled) in queue_depths {
            let _ = writeln!(
                out,
                "mergecast_queue_depth{{queue=\"{queue}\",state=\"ready\"}} {ready}"
            );
            let _ = writeln!(
                out,
                "mergecast_queue_depth{{queue=\"{queue}\",state=\"scheduled\"}} {scheduled}"
            );
        }
        render_histogram(
            &mut out,
            "mergecast_delivery_latency_seconds",
            "From webhook receipt to applied.",
            &self.latency,
        );
        render_histogram(
            &mut out,
            "mergecast_job_duration_seconds",
            "Time one worker run of a delivery takes.",
            &self.work,
        );
        out
    }
}

fn observe(h: &Mutex<Histogram>, value: f64) {
    if let Ok(mut h) = h.lock() {
        if h.buckets.is_empty() {
            h.buckets = vec![0; LATENCY_BUCKETS.len()];
        }
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if value <= *bound {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum += value;
    }
}

fn render_histogram(out: &mut String, name: &str, help: &str, h: &Mutex<Histogram>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    if let Ok(h) = h.lock() {
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            let n = h.buckets.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}",
            h.count, h.sum, h.count
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_bounded_labels() {
        let m = Metrics::default();
        m.delivery_received("pull_request", "accepted");
        m.delivery_received("something_new", "accepted");
        m.signature_failure();
        m.body_read_started(BodyPool::Large);
        m.body_read_started(BodyPool::Large);
        m.body_read_ended(BodyPool::Large);
        m.delivery_processed("issues", "processed", Utc::now(), Duration::from_millis(3));
        let text = m.render(&[("deliveries", 4, 1)]);
        assert!(text.contains(
            "mergecast_webhook_deliveries_total{event=\"pull_request\",outcome=\"accepted\"} 1"
        ));
        assert!(text.contains("event=\"other\""));
        assert!(text.contains("mergecast_signature_failures_total 1"));
        assert!(text.contains("mergecast_webhook_bodies_reading{pool=\"small\"} 0"));
        assert!(text.contains("mergecast_webhook_bodies_reading{pool=\"large\"} 1"));
        assert!(text.contains("mergecast_queue_depth{queue=\"deliveries\",state=\"ready\"} 4"));
        assert!(text.contains("mergecast_delivery_latency_seconds_count 1"));
    }
}
