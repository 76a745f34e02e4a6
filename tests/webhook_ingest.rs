//! The webhook endpoint: status codes, dedupe, and durability when Redis goes away.

mod support;

use std::time::Duration;

use mergecast::app::Role;
use mergecast::github::signature;
use sqlx::PgPool;
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
    let metrics = app
        .client
        .get(app.metrics_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
