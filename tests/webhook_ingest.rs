//! The webhook endpoint: status codes, dedupe, and durability when Redis goes away.

mod support;

use std::time::Duration;

use bytes::Bytes;
use mergecast::app::Role;
use mergecast::github::signature;
use sqlx::PgPool;
use support::raw_http::{Conn, Framing, post_head};
use support::{SECRET, TestApp, proxy::Proxy, redis_url, test_config, wait_until};

const BODY: &[u8] =
    br#"{"action":"edited","installation":{"id":41234567},"zen":"Keep it logically awesome."}"#;

struct Req {
    content_type: Option<&'static str>,
    event: Option<&'static str>,
    delivery: Option<&'static str>,
    signature: Option<String>,
    body: Vec<u8>,
}

impl Req {
    fn good(body: &[u8]) -> Self {
        Self {
            content_type: Some("application/json"),
            event: Some("issues"),
            delivery: Some("9f3b1e2c-0000-4000-8000-000000000001"),
            signature: Some(signature::sign(SECRET.as_bytes(), body)),
            body: body.to_vec(),
        }
    }

    async fn send(self, app: &TestApp) -> u16 {
        let mut r = app.client.post(app.url("/webhooks/github"));
        if let Some(v) = self.content_type {
            r = r.header("content-type", v);
        }
        if let Some(v) = self.event {
            r = r.header("x-github-event", v);
        }
        if let Some(v) = self.delivery {
            r = r.header("x-github-delivery", v);
        }
        if let Some(v) = self.signature {
            r = r.header("x-hub-signature-256", v);
        }
        r.body(self.body)
            .send()
            .await
            .expect("send")
            .status()
            .as_u16()
    }
}

#[sqlx::test]
async fn bad_input_matrix_is_refused_and_queues_nothing(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Role::Web, test_config(&redis_url())).await;
    let signed = |body: &[u8]| signature::sign(SECRET.as_bytes(), body);

    let cases: Vec<(&str, Req, u16)> = vec![
        (
            "no signature",
            Req {
                signature: None,
                ..Req::good(BODY)
            },
            401,
        ),
        (
            "wrong signature",
            Req {
                signature: Some(signature::sign(b"wrong", BODY)),
                ..Req::good(BODY)
            },
            401,
        ),
        (
            "sha1 only",
            Req {
                signature: Some("sha1=0123".into()),
                ..Req::good(BODY)
            },
            401,
        ),
        (
            "truncated body",
            Req {
                body: BODY[..BODY.len() - 5].to_vec(),
                ..Req::good(BODY)
            },
            401,
        ),
        (
            "wrong content type",
            Req {
                content_type: Some("application/x-www-form-urlencoded"),
                ..Req::good(BODY)
            },
            415,
        ),
        (
            "no content type",
            Req {
                content_type: None,
                ..Req::good(BODY)
            },
            415,
        ),
        (
            "missing event",
            Req {
                event: None,
                ..Req::good(BODY)
            },
            400,
        ),
        (
            "missing delivery",
            Req {
                delivery: None,
                ..Req::good(BODY)
            },
            400,
        ),
        (
            "invalid utf-8, signed",
            Req {
                signature: Some(signed(b"{\"a\":\"\xff\xfe\"}")),
                ..Req::good(b"{\"a\":\"\xff\xfe\"}")
            },
            400,
        ),
        (
            "json array, signed",
            Req {
                signature: Some(signed(b"[1,2,3]")),
                ..Req::good(b"[1,2,3]")
            },
            400,
        ),
        (
            "truncated json, signed",
            Req {
                signature: Some(signed(b"{\"action\":")),
                ..Req::good(b"{\"action\":")
            },
            400,
        ),
    ];
    for (name, req, expected) in cases {
        assert_eq!(req.send(&app).await, expected, "{name}");
    }
    // 30 MB: over GitHub's 25 MB cap.
    let mut huge = b"{\"pad\":\"".to_vec();
    huge.resize(30 * 1024 * 1024, b'a');
    huge.extend_from_slice(b"\"}");
    let big = Req {
        signature: Some(signed(&huge)),
        ..Req::good(&huge)
    };
    assert_eq!(big.send(&app).await, 413, "30 MB body");

    assert_eq!(app.queued().await, 0, "nothing may be queued");
    // Malformed-but-signed bodies are logged as rejected (off the request path); unsigned ones never.
    wait_until(
        "rejected deliveries logged",
        Duration::from_secs(5),
        || async { app.count("SELECT count(*) FROM deliveries").await == 1 },
    )
    .await;
    let (status, reason): (String, String) =
        sqlx::query_as("SELECT status, last_error FROM deliveries")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "rejected");
    assert!(!reason.is_empty());
    let metrics = metrics_text(&app).await;
    assert!(
        metrics.contains("mergecast_signature_failures_total 4"),
        "{metrics}"
    );
    app.stop().await;
}

#[sqlx::test]
async fn ping_answers_200_and_queues_nothing(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Role::Web, test_config(&redis_url())).await;
    let (status, _) = app
        .deliver("ping", br#"{"zen":"Design for failure.","hook_id":1}"#)
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.queued().await, 0);
    app.stop().await;
}

#[sqlx::test]
async fn a_redelivery_is_acknowledged_but_queued_once(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Role::Web, test_config(&redis_url())).await;
    let id = "d6f7a8b0-1111-4222-8333-444455556666";
    assert_eq!(app.deliver_as("issues", BODY, id).await, 202);
    assert_eq!(app.deliver_as("issues", BODY, id).await, 200);
    assert_eq!(app.deliver_as("issues", BODY, id).await, 200);
    assert_eq!(app.queued().await, 1);
    // A different delivery of the same body is a new delivery.
    assert_eq!(app.deliver("issues", BODY).await.0, 202);
    assert_eq!(app.queued().await, 2);
    app.stop().await;
}

/// Concurrent requests share Redis script calls (`queue::delivery_batch`); each is still told
/// whether its own delivery was new, including when copies of one id land in the same call.
#[sqlx::test]
async fn concurrent_deliveries_and_their_copies_are_each_answered_right(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Role::Web, test_config(&redis_url())).await;
    let ids: Vec<String> = (0..60).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let a = &app;
    // Every id three times, all at once: one 202 and two 200s per id, whatever the grouping.
    let sends = ids
        .iter()
        .flat_map(|id| [id, id, id])
        .map(|id| async move { (id.clone(), a.deliver_as("issues", BODY, id).await) });
    let answers = futures::future::join_all(sends).await;
    for id in &ids {
        let mut statuses: Vec<u16> = answers
            .iter()
            .filter(|(i, _)| i == id)
            .map(|(_, s)| *s)
            .collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 200, 202], "delivery {id}");
    }
    assert_eq!(app.queued().await, 60, "each id queued once");
    app.stop().await;
}

#[sqlx::test]
async fn rotated_secrets_both_verify(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Role::Web, test_config(&redis_url())).await;
    let old = Req {
        signature: Some(signature::sign(b"old-secret", BODY)),
        ..Req::good(BODY)
    };
    assert_eq!(old.send(&app).await, 202);
    app.stop().await;
}

#[sqlx::test]
async fn redis_down_answers_503_and_loses_nothing(pool: PgPool) {
    let upstream = redis_url()
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|_| "127.0.0.1:6379".parse().unwrap());
    let proxy = Proxy::start(upstream).await;
    let config = test_config(&proxy.url());
    let app = TestApp::spawn_with(pool, Role::All, config).await;

    proxy.cut().await;
    let id = "0b8e9f10-2222-4333-8444-555566667777";
    assert_eq!(
        app.deliver_as("issues", BODY, id).await,
        503,
        "no 2xx without a durable job"
    );
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);

    proxy.restore().await;
    // GitHub retries (or the catch-up redelivers) with the same id: now it is queued and applied.
    wait_until("redis back", Duration::from_secs(10), || async {
        app.deliver_as("issues", BODY, id).await == 202
    })
    .await;
    app.wait_for_status(id, &["processed", "ignored", "dead"])
        .await;
    assert_eq!(app.count("SELECT count(*) FROM deliveries").await, 1);
    app.stop().await;
    proxy.cut().await;
}

/// `/metrics` is not public: the main address answers 404 for it (health checks stay there),
/// and only the metrics address serves it, as Prometheus text and nothing else.
#[sqlx::test]
async fn metrics_are_served_only_on_their_own_address(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Role::Web, test_config(&redis_url())).await;
    let get = |url: String| {
        let client = app.client.clone();
        async move { client.get(url).send().await.expect("request") }
    };
    assert_ne!(app.addr, app.metrics_addr);
    assert_eq!(get(app.url("/metrics")).await.status(), 404);
    assert_eq!(get(app.url("/healthz")).await.status(), 200);
    assert_eq!(get(app.url("/readyz")).await.status(), 200);
    let ping = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/github/examples/ping/payload.json"
    ))
    .expect("GitHub's ping example");
    let (status, _) = app.deliver("ping", &ping).await;
    assert_eq!(status, 200);
    let metrics = get(app.metrics_url("/metrics")).await;
    assert_eq!(metrics.status(), 200);
    let content_type = metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let body = metrics.text().await.unwrap();
    assert!(
        body.contains("# TYPE mergecast_webhook_deliveries_total counter"),
        "{body}"
    );
    assert!(
        body.contains("mergecast_webhook_deliveries_total{"),
        "{body}"
    );
    for path in ["/healthz", "/admin", "/webhooks/github"] {
        assert_eq!(get(app.metrics_url(path)).await.status(), 404, "{path}");
    }
    app.stop().await;
}

/// Headers of a delivery whose signature is well-formed but signs nothing in particular (the
/// body is not known yet when the headers go out): it passes every check made on headers.
fn well_formed(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("x-github-event", "issues".to_owned()),
        ("x-github-delivery", uuid::Uuid::new_v4().to_string()),
        ("x-hub-signature-256", format!("sha256={}", "ab".repeat(32))),
    ];
    for (name, value) in extra {
        headers.retain(|(n, _)| n != name);
        headers.push((name, value.clone()));
    }
    headers
}

/// The answer to a request whose body never comes: only the headers are sent.
async fn answer_to_headers_alone(app: &TestApp, headers: &[(&str, String)]) -> u16 {
    let mut conn = Conn::open(app.addr, &post_head(app.addr, "/webhooks/github", headers))
        .await
        .expect("connect");
    // Far below the 8 s body deadline: the answer must not wait for the body.
    conn.answer(Duration::from_secs(2))
        .await
        .expect("answered before the body")
        .status
}

/// The metrics listener's whole page.
async fn metrics_text(app: &TestApp) -> String {
    app.client
        .get(app.metrics_url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

async fn gauge(app: &TestApp, pool: &str) -> Option<u64> {
    let text = metrics_text(app).await;
    let name = format!("mergecast_webhook_bodies_reading{{pool=\"{pool}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(name.as_str()))
        .and_then(|v| v.parse().ok())
}

#[sqlx::test]
async fn refusals_on_headers_do_not_wait_for_the_body(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Role::Web, test_config(&redis_url())).await;
    let length = |n: u64| ("content-length", n.to_string());
    type Headers = Vec<(&'static str, String)>;
    let cases: Vec<(&str, Headers, u16)> = vec![
        (
            "no signature",
            well_formed(&[length(1000)])
                .into_iter()
                .filter(|(n, _)| *n != "x-hub-signature-256")
                .collect(),
            401,
        ),
        (
            "malformed signature",
            well_formed(&[length(1000), ("x-hub-signature-256", "sha256=00".into())]),
            401,
        ),
        (
            "sha1 only",
            well_formed(&[length(1000), ("x-hub-signature-256", "sha1=0123".into())]),
            401,
        ),
        (
            "wrong content type",
            well_formed(&[length(1000), ("content-type", "text/plain".into())]),
            415,
        ),
        (
            "bad delivery id",
            well_formed(&[length(1000), ("x-github-delivery", "../etc".into())]),
            400,
        ),
        (
            "over 25 MiB",
            well_formed(&[length(25 * 1024 * 1024 + 1)]),
            413,
        ),
        ("1 GiB", well_formed(&[length(1 << 30)]), 413),
        (
            "unparsable length",
            well_formed(&[("content-length", "ten".into())]),
            400,
        ),
    ];
    for (name, headers, expected) in cases {
        assert_eq!(
            answer_to_headers_alone(&app, &headers).await,
            expected,
            "{name}"
        );
    }
    assert_eq!(gauge(&app, "large").await, Some(0), "no body was read");
    assert_eq!(app.queued().await, 0);
    app.stop().await;
}

#[sqlx::test]
async fn a_chunked_body_over_the_cap_is_refused_while_streaming(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Role::Web, test_config(&redis_url())).await;
    let headers = well_formed(&[("transfer-encoding", "chunked".into())]);
    let conn = Conn::open(app.addr, &post_head(app.addr, "/webhooks/github", &headers))
        .await
        .expect("connect");
    // 27 MiB in 64 KiB frames, no Content-Length anywhere.
    let answer = conn
        .stream(
            Bytes::from(vec![b' '; 64 * 1024]),
            27 * 16,
            Framing::Chunked,
            Duration::from_secs(20),
        )
        .await
        .expect("an answer");
    assert_eq!(answer.status, 413);
    wait_until("the slot is given back", Duration::from_secs(5), || async {
        gauge(&app, "large").await == Some(0)
    })
    .await;
    app.stop().await;
}

#[sqlx::test]
async fn a_full_large_pool_answers_503_while_small_deliveries_flow(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Role::Web, test_config(&redis_url())).await;
    let large = || well_formed(&[("content-length", (2 * 1024 * 1024).to_string())]);
    // Two slow uploads hold both large slots: a first kilobyte, then nothing.
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut conn = Conn::open(app.addr, &post_head(app.addr, "/webhooks/github", &large()))
            .await
            .expect("connect");
        conn.write(&[b' '; 1024]).await.expect("first bytes");
        holders.push(conn);
    }
    wait_until("both large slots taken", Duration::from_secs(5), || async {
        gauge(&app, "large").await == Some(2)
    })
    .await;

    // A third large body (and a chunked one) waits for a slot, then is told to come back.
    for headers in [
        large(),
        well_formed(&[("transfer-encoding", "chunked".into())]),
    ] {
        let mut conn = Conn::open(app.addr, &post_head(app.addr, "/webhooks/github", &headers))
            .await
            .expect("connect");
        let answer = conn.answer(Duration::from_secs(5)).await.expect("answer");
        assert_eq!(answer.status, 503);
        assert_eq!(answer.header("retry-after"), Some("5"));
    }
    // Meanwhile GitHub's small signed deliveries are read in their own pool and accepted.
    for _ in 0..5 {
        assert_eq!(app.deliver("issues", BODY).await.0, 202);
    }
    assert_eq!(app.queued().await, 5);

    // A holder that goes away gives its slot back.
    drop(holders);
    wait_until("large slots given back", Duration::from_secs(5), || async {
        gauge(&app, "large").await == Some(0)
    })
    .await;
    let metrics = metrics_text(&app).await;
    assert!(
        metrics.contains("mergecast_webhook_deliveries_total{event=\"issues\",outcome=\"busy\"} 2"),
        "{metrics}"
    );
    app.stop().await;
}

/// A body whose signature is well-formed but wrong is read (it must be, to know), then dropped:
/// 401, nothing queued, and the answer does not depend on the body being valid JSON.
#[sqlx::test]
async fn a_large_body_with_a_wrong_signature_is_refused_after_streaming(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Role::Web, test_config(&redis_url())).await;
    let piece = Bytes::from(vec![b'x'; 64 * 1024]);
    let length = 24 * 1024 * 1024;
    let headers = well_formed(&[("content-length", length.to_string())]);
    let conn = Conn::open(app.addr, &post_head(app.addr, "/webhooks/github", &headers))
        .await
        .expect("connect");
    let answer = conn
        .stream(
            piece,
            length / (64 * 1024),
            Framing::Plain,
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(answer.map(|a| a.status), Ok(401));
    assert_eq!(app.queued().await, 0);
    app.stop().await;
}
