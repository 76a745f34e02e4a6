//! Every published GitHub example of an event Mergecast handles
//! (`fixtures/github/examples/<event>/*.json`, the event being the directory) goes through the
//! whole path: signed, delivered over HTTP, queued, and finished by the worker as processed or
//! ignored, as the parser and handlers decide; a ping is answered 200 on the spot. What each
//! event does is tested from the fake GitHub's own model in `tests/events.rs`, and what the
//! parser reads from each example in `tests/payloads.rs`.

mod support;

use std::path::PathBuf;

use sqlx::PgPool;

use support::TestApp;

/// Events Mergecast handles (the others are stored and ignored without a parse).
const HANDLED_EVENTS: &[&str] = &[
    "github_app_authorization",
    "installation",
    "installation_repositories",
    "installation_target",
    "issues",
    "member",
    "membership",
    "organization",
    "ping",
    "pull_request",
    "pull_request_review",
    "team",
];

/// (event, file name, bytes) of every example of a handled event, in a stable order.
fn examples() -> Vec<(String, String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/github/examples");
    let mut out = Vec::new();
    for event in HANDLED_EVENTS {
        let Ok(entries) = std::fs::read_dir(dir.join(event)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|x| x == "json") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                out.push((event.to_string(), name, std::fs::read(&path).expect("read")));
            }
        }
    }
    out.sort();
    out
}

/// Empties every table but the delivery log: GitHub's examples come from different
/// repositories at different times and do not tell one consistent story (two of them give the
/// same repository and number to different pull requests), so each starts from an empty store.
async fn forget_everything_but_deliveries(app: &TestApp) {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' \
         AND tablename NOT IN ('deliveries', '_sqlx_migrations')",
    )
    .fetch_all(&app.pool)
    .await
    .expect("tables");
    sqlx::query(&format!("TRUNCATE {} CASCADE", tables.join(", ")))
        .execute(&app.pool)
        .await
        .expect("truncate");
}

#[sqlx::test]
async fn every_published_example_is_delivered_end_to_end(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let examples = examples();
    assert!(examples.len() > 50, "examples found: {}", examples.len());
    let mut wrong = Vec::new();
    for (event, name, body) in &examples {
        let (status, id) = app.deliver(event, body).await;
        if event == "ping" {
            assert_eq!(status, 200, "{event}/{name}");
            continue;
        }
        assert_eq!(status, 202, "{event}/{name} accepted");
        app.wait_for_status(&id, &["processed", "ignored", "dead", "rejected"])
            .await;
        let (status, error): (String, Option<String>) =
            sqlx::query_as("SELECT status, last_error FROM deliveries WHERE id = $1")
                .bind(&id)
                .fetch_one(&app.pool)
                .await
                .expect("delivery");
        if !matches!(status.as_str(), "processed" | "ignored") {
            wrong.push(format!("{event}/{name}: {status} {error:?}"));
        }
        forget_everything_but_deliveries(&app).await;
    }
    assert!(
        wrong.is_empty(),
        "not processed or ignored:\n{}",
        wrong.join("\n")
    );
    app.stop().await;
}
