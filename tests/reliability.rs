//! What must hold when GitHub misbehaves or our own processes fail: out-of-order and repeated
//! deliveries, failing handlers, dead letters and replay, and a worker killed mid-job.

mod support;

use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use mergecast::app::{Role, Services};
use mergecast::queue::requeue;
use sqlx::PgPool;
use support::fake_github::{InstallationAction, IssueAction, PullAction, ReviewAction, Webhook};
use support::scenario::{HUBOT, INSTALLATION, MONA};
use support::{SECRET, TestApp, redis_url, test_config, wait_until};

/// `hook` with the `updated_at` of its object (`pull_request`, `issue`, `installation`) set to
/// `at`: the model stamps every change "now", and these steps happen within one second.
fn updated(mut hook: Webhook, object: &str, at: DateTime<Utc>) -> Webhook {
    hook.body[object]["updated_at"] =
        serde_json::json!(at.to_rfc3339_opts(SecondsFormat::Secs, true));
    hook
}

#[sqlx::test]
async fn out_of_order_updates_keep_the_newest(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (mut m, repo) = support::org_model();
    let now = Utc::now();
    let hour = chrono::Duration::hours(1);

    // Opened, made a draft, ready again, merged; GitHub delivers the merge first, then the
    // older opened and draft updates.
    let pull = m.add_pull(repo, MONA.github_id).id;
    let opened = updated(
        m.pull_hook(pull, PullAction::Opened),
        "pull_request",
        now - hour * 3,
    );
    let draft = updated(
        m.pull_hook(pull, PullAction::ConvertedToDraft),
        "pull_request",
        now - hour * 2,
    );
    m.pull_hook(pull, PullAction::ReadyForReview); // ready again before the merge, not sent
    let merged = updated(
        m.pull_hook(pull, PullAction::Merged(HUBOT.github_id)),
        "pull_request",
        now - hour,
    );
    app.apply_hook(&merged).await;
    app.apply_hook(&opened).await;
    app.apply_hook(&draft).await;
    let (state, merged, draft): (String, bool, bool) =
        sqlx::query_as("SELECT state, merged, draft FROM pull_requests")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), merged, draft), ("closed", true, false));

    let issue = m.add_issue(repo, MONA.github_id).id;
    let opened = updated(
        m.issue_hook(issue, IssueAction::Opened),
        "issue",
        now - hour * 2,
    );
    let closed = updated(
        m.issue_hook(issue, IssueAction::Closed),
        "issue",
        now - hour,
    );
    app.apply_hook(&closed).await;
    app.apply_hook(&opened).await;
    let state: String = sqlx::query_scalar("SELECT state FROM issues")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, "closed");

    let suspend = updated(
        m.installation_hook(INSTALLATION, InstallationAction::Suspend),
        "installation",
        now - hour * 2,
    );
    let unsuspend = updated(
        m.installation_hook(INSTALLATION, InstallationAction::Unsuspend),
        "installation",
        now - hour,
    );
    app.apply_hook(&unsuspend).await;
    app.apply_hook(&suspend).await; // older updated_at
    let status: String = sqlx::query_scalar("SELECT status FROM installations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "active");
    app.stop().await;
}

#[sqlx::test]
async fn a_redelivery_after_processing_has_no_second_effect(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let body = support::issue_opened_hook().bytes();
    let id = "5d2c4a3b-aaaa-4bbb-8ccc-000000000042";
    assert_eq!(app.deliver_as("issues", &body, id).await, 202);
    app.wait_for_status(id, &["processed"]).await;
    let before: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT updated_at FROM issues")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.deliver_as("issues", &body, id).await, 200);
    assert_eq!(app.queued().await, 0);
    let (attempts, after): (i32, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "SELECT d.attempts, i.updated_at FROM deliveries d, issues i WHERE d.id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((attempts, after), (1, before));
    app.stop().await;
}

const FAIL_ISSUES: &str = r#"
CREATE FUNCTION fail_issue() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'simulated outage'; END $$ LANGUAGE plpgsql;
CREATE TRIGGER fail_issue BEFORE INSERT OR UPDATE ON issues FOR EACH ROW EXECUTE FUNCTION fail_issue();
"#;

#[sqlx::test]
async fn failures_retry_then_die_and_replay_recovers(pool: PgPool) {
    sqlx::raw_sql(FAIL_ISSUES).execute(&pool).await.unwrap();
    let app = TestApp::spawn(pool).await;
    let (status, id) = app
        .deliver("issues", &support::issue_opened_hook().bytes())
        .await;
    assert_eq!(status, 202);
    app.wait_for_status(&id, &["dead"]).await;
    let (attempts, error, body): (i32, String, Option<String>) =
        sqlx::query_as("SELECT attempts, last_error, body FROM deliveries WHERE id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 3, "DELIVERY_MAX_ATTEMPTS=3 in tests");
    assert!(error.contains("simulated outage"), "{error}");
    assert!(body.is_some(), "a dead delivery keeps its body for replay");
    assert_eq!(app.count("SELECT count(*) FROM issues").await, 0);

    // The fix is deployed; the operator replays the dead delivery.
    sqlx::raw_sql("DROP TRIGGER fail_issue ON issues")
        .execute(&app.pool)
        .await
        .unwrap();
    let previous = requeue::requeue_logged(&app.pool, &app.services.queues, &id)
        .await
        .unwrap();
    assert_eq!(previous, "dead");
    app.wait_for_status(&id, &["processed"]).await;
    assert_eq!(app.count("SELECT count(*) FROM issues").await, 1);
    app.stop().await;
}

#[sqlx::test]
async fn github_redelivery_of_a_dead_delivery_is_queued_again(pool: PgPool) {
    sqlx::raw_sql(FAIL_ISSUES).execute(&pool).await.unwrap();
    let app = TestApp::spawn(pool).await;
    let body = support::issue_opened_hook().bytes();
    let id = "7e0d1c2b-bbbb-4ccc-8ddd-000000000007";
    assert_eq!(app.deliver_as("issues", &body, id).await, 202);
    app.wait_for_status(id, &["dead"]).await;
    sqlx::raw_sql("DROP TRIGGER fail_issue ON issues")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.deliver_as("issues", &body, id).await,
        202,
        "a died delivery is queued again"
    );
    app.wait_for_status(id, &["processed"]).await;
    assert_eq!(app.count("SELECT count(*) FROM issues").await, 1);
    app.stop().await;
}

#[sqlx::test]
async fn a_malformed_payload_for_its_event_is_dead_not_retried(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (status, id) = app
        .deliver(
            "pull_request",
            br#"{"action":"opened","installation":{"id":1}}"#,
        )
        .await;
    assert_eq!(status, 202);
    app.wait_for_status(&id, &["dead"]).await;
    let (attempts, error): (i32, String) =
        sqlx::query_as("SELECT attempts, last_error FROM deliveries WHERE id = $1")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 1);
    assert!(error.contains("malformed pull_request payload"), "{error}");
    app.stop().await;
}

/// The URL of this test's own database, for a child process.
async fn database_url(pool: &PgPool) -> String {
    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let base = std::env::var("DATABASE_URL").unwrap();
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{name}")
}

#[sqlx::test]
async fn a_worker_killed_mid_job_leaves_it_to_run_again_once(pool: PgPool) {
    let config = test_config(&redis_url());
    let web = TestApp::spawn_with(pool.clone(), Role::Web, config.clone()).await;
    let (status, id) = web
        .deliver("pull_request", &support::pr_merged_hook().bytes())
        .await;
    assert_eq!(status, 202);

    // Hold a lock the job needs, so the worker is provably in the middle of it when killed.
    let mut lock = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE pull_requests IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mergecast"))
        .args(["serve", "--role", "worker"])
        .env("DATABASE_URL", database_url(&pool).await)
        .env("REDIS_URL", redis_url())
        .env("GITHUB_WEBHOOK_SECRET", SECRET)
        .env("QUEUE_PREFIX", &config.queue_prefix)
        .env("WORKER_HEARTBEAT_SECS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn worker process");

    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&pool)
        .await
        .unwrap();
    wait_until(
        "the worker blocks inside the job",
        Duration::from_secs(30),
        || async {
            sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&db)
        .fetch_one(&pool)
        .await
        .unwrap()
            > 0
        },
    )
    .await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    lock.rollback().await.unwrap();
    assert_eq!(
        web.count("SELECT count(*) FROM pull_requests").await,
        0,
        "the killed run left nothing"
    );

    // A surviving worker notices the dead one's heartbeat stopped and runs the job again.
    let services = Services::with_pool(config, pool.clone()).await.unwrap();
    let worker = TestApp::start(services, Role::Worker).await;
    worker.wait_for_status(&id, &["processed"]).await;
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM deliveries WHERE id = $1")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(attempts, 1);
    assert_eq!(worker.count("SELECT count(*) FROM pull_requests").await, 1);
    assert_eq!(
        worker
            .count("SELECT count(*) FROM merged_pull_requests")
            .await,
        1
    );
    assert_eq!(
        worker.merged_jobs().await,
        1,
        "exactly one PullRequestMerged"
    );
    worker.stop().await;
    web.stop().await;
}

#[sqlx::test]
async fn shutdown_stops_accepting_and_finishes_the_job_in_flight(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let mut lock = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE issues IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let (status, id) = app
        .deliver("issues", &support::issue_opened_hook().bytes())
        .await;
    assert_eq!(status, 202);
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&pool)
        .await
        .unwrap();
    wait_until("the job is in flight", Duration::from_secs(20), || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&db)
        .fetch_one(&pool)
        .await
        .unwrap()
            > 0
    })
    .await;

    app.begin_shutdown();
    let url = app.url("/healthz");
    let client = app.client.clone();
    wait_until(
        "no new connections are accepted",
        Duration::from_secs(10),
        || async { client.get(&url).send().await.is_err() },
    )
    .await;
    assert!(app.is_running(), "the process waits for the job in flight");
    lock.rollback().await.unwrap();
    wait_until(
        "the process exits once the job is done",
        Duration::from_secs(20),
        || async { !app.is_running() },
    )
    .await;
    assert_eq!(app.delivery_status(&id).await.as_deref(), Some("processed"));
    assert_eq!(app.count("SELECT count(*) FROM issues").await, 1);
    app.stop().await;
}

#[sqlx::test]
async fn a_backlog_of_ten_thousand_deliveries_drains(pool: PgPool) {
    // Workers were down (a deploy, an outage) while GitHub kept delivering.
    let config = test_config(&redis_url());
    let services = Services::with_pool(config, pool.clone()).await.unwrap();
    let mut pushes = tokio::task::JoinSet::new();
    for chunk in 0..16 {
        let queues = services.queues.clone();
        pushes.spawn(async move {
            for i in 0..625 {
                let job = mergecast::queue::jobs::DeliveryJob {
                    delivery_id: format!("backlog-{chunk}-{i}"),
                    event: "deployment".into(),
                    action: Some("created".into()),
                    installation_id: Some(1),
                    hook_id: None,
                    received_at: chrono::Utc::now(),
                    headers: serde_json::json!({}),
                    body: r#"{"action":"created","installation":{"id":1}}"#.into(),
                    failures: 0,
                };
                queues.enqueue_delivery(&job).await.unwrap();
            }
        });
    }
    while let Some(done) = pushes.join_next().await {
        done.unwrap();
    }
    let depth = services.queues.delivery_depth().await.unwrap();
    assert_eq!(depth.ready + depth.scheduled, 10_000);
    assert_eq!(depth.ready, 10_000, "all of them are due now");

    // apalis-redis promotes every due job with one Lua `unpack`, which fails beyond ~8,000:
    // the maintenance loop promotes in batches so the workers keep going.
    let worker = TestApp::start(services, Role::Worker).await;
    wait_until(
        "the backlog is being applied",
        Duration::from_secs(60),
        || async {
            worker
                .count("SELECT count(*) FROM deliveries WHERE status = 'ignored'")
                .await
                >= 500
        },
    )
    .await;
    worker.stop().await;
}

/// Jobs stay queued across an upgrade: one written by the release before bodies were
/// compressed (the body in clear, JSON-escaped in the job) is applied like any other.
#[sqlx::test]
async fn a_delivery_queued_by_the_previous_release_is_applied_after_the_upgrade(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (mut m, repo) = support::org_model();
    app.apply_hook(&m.installation_hook(INSTALLATION, InstallationAction::Created))
        .await;
    let issue = m.add_issue(repo, MONA.github_id).id;
    let hook = m.issue_hook(issue, IssueAction::Opened);
    let id = "queued-before-the-upgrade";
    let old = serde_json::json!({
        "delivery_id": id, "event": "issues", "action": "opened",
        "installation_id": INSTALLATION, "hook_id": null, "received_at": Utc::now(),
        "headers": {}, "body": String::from_utf8(hook.bytes()).expect("utf8"), "failures": 0,
    });
    let task =
        apalis_core::task::builder::TaskBuilder::new(serde_json::to_vec(&old).expect("json"))
            .idempotency_key(id)
            .build();
    let mut conn = app.services.queues.connection();
    apalis_redis::queries::push_tasks(&mut conn, app.services.queues.deliveries_config(), &[task])
        .await
        .expect("queued as the previous release queued it");
    app.wait_for_status(id, &["processed"]).await;
    assert_eq!(app.count("SELECT count(*) FROM issues").await, 1);
    app.stop().await;
}

/// A review and the merge of the same pull request applied at the same moment (the review's
/// embedded PR and the merged PR insert the same row): neither fails an attempt on the
/// (repository, number) key, and each PR ends with its review and one merge.
#[sqlx::test]
async fn a_review_and_a_merge_applied_at_once_need_no_retry(pool: PgPool) {
    const PRS: i64 = 300;
    let app = TestApp::spawn(pool).await;
    let (mut m, repo) = support::org_model();
    app.apply_hook(&m.installation_hook(INSTALLATION, InstallationAction::Created))
        .await;
    // PRs numbered 1..=PRS, each with a review, rendered before any is sent.
    let bodies: Vec<(Vec<u8>, Vec<u8>)> = (1..=PRS)
        .map(|_| {
            let pull = m.add_pull(repo, MONA.github_id).id;
            let review = m.add_review(pull, HUBOT.github_id, "APPROVED").id;
            (
                m.review_hook(review, ReviewAction::Submitted).bytes(),
                m.pull_hook(pull, PullAction::Merged(HUBOT.github_id))
                    .bytes(),
            )
        })
        .collect();
    let mut ids = Vec::new();
    for (review, merged) in &bodies {
        let (r, m) = tokio::join!(
            app.deliver("pull_request_review", review),
            app.deliver("pull_request", merged)
        );
        assert_eq!((r.0, m.0), (202, 202));
        ids.extend([r.1, m.1]);
    }
    for id in &ids {
        app.wait_for_status(id, &["processed"]).await;
    }
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE attempts > 1 OR last_error IS NOT NULL")
            .await,
        0,
        "no attempt failed"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM pull_requests WHERE merged")
            .await,
        PRS
    );
    assert_eq!(app.count("SELECT count(*) FROM reviews").await, PRS);
    assert_eq!(
        app.count("SELECT count(*) FROM merged_pull_requests").await,
        PRS
    );
}
