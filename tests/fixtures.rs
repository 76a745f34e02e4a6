//! Every GitHub webhook fixture in `fixtures/github` (real payload shapes) goes through the whole
//! path: signed, delivered over HTTP, queued, applied, and ends `processed`. The behaviour of each
//! event is tested from the fake GitHub's own model in `tests/events.rs`.

mod support;

use sqlx::PgPool;

use support::TestApp;

#[sqlx::test]
async fn every_fixture_is_processed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for name in support::fixture_names() {
        if name.starts_with("ping") {
            assert_eq!(app.deliver_fixture(&name).await.0, 200);
            continue;
        }
        let id = app.deliver_and_apply(&name).await;
        let status = app.delivery_status(&id).await.unwrap();
        assert_eq!(status, "processed", "fixture {name}");
    }
    app.stop().await;
}
