//! The org owns its data: the table list covers the schema; a deleted installation's rows are
//! purged after the grace period (in batches, resumably) and nothing of another org is touched;
//! all work for a deleted org stops at once and a suspended org's waits; the admin page's
//! download round-trips and streams; "Delete now" needs the org's login typed exactly; and
//! "Delete my answers" in Slack deletes that person's answers only.

mod support;

#[path = "support/admin_client.rs"]
mod admin_client;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use mergecast::export::{self, OrgData};
use mergecast::ids::InstallationId;
use mergecast::queue::org_data::{self as purge, PurgeOutcome};
use mergecast::store::installations::InstallationStatus;
use mergecast::store::org_data::{self, ORG_TABLES, Requester};
use serde_json::Value;
use sqlx::PgPool;
use support::TestApp;
use support::browser::{Browser, csrf};
use support::fake_github::{FakeGithub, InstallationAction};
use support::scenario::github::{PrRef, ReviewState};
use support::scenario::views::Answer;
use support::scenario::{HUBOT, INSTALLATION, MONA, ORG, OTHER_INSTALLATION, Scenario};

const DAY: Duration = Duration::from_secs(86_400);

/// One row (or two) of installation `id` in every table of `ORG_TABLES`; `k` keeps the ids of
/// two orgs apart. A member's name has a comma, quotes, a newline and non-ASCII text.
async fn seed(pool: &PgPool, id: i64, login: &str, account_id: i64, k: i64) {
    let repo = k * 100 + 1;
    let team = k * 100 + 2;
    let pr = k * 100 + 3;
    let review = k * 100 + 4;
    let issue = k * 100 + 5;
    let survey = k * 100 + 6;
    let (author, reviewer) = (k * 1000 + 1, k * 1000 + 2);
    let statements = [
        format!(
            r#"INSERT INTO installations (id, account_login, account_type, account_id, permissions, events)
               VALUES ({id}, '{login}', 'Organization', {account_id}, '{{"members": "read"}}', '["pull_request"]')"#
        ),
        format!(
            "INSERT INTO repositories (id, installation_id, full_name, name) VALUES ({repo}, {id}, '{login}/repo', 'repo')"
        ),
        format!(
            r#"INSERT INTO members (installation_id, github_id, login, name, email, role) VALUES
               ({id}, {author}, 'author{k}', 'Zoë "Z" O''Neil, Jr.' || chr(10) || 'second line', 'author{k}@example.com', 'admin'),
               ({id}, {reviewer}, 'reviewer{k}', NULL, NULL, 'member')"#
        ),
        format!(
            "INSERT INTO teams (id, installation_id, slug, name) VALUES ({team}, {id}, 'core', 'Core, \"the\" team')"
        ),
        format!(
            "INSERT INTO team_members (team_id, github_id, installation_id, login, role) VALUES ({team}, {author}, {id}, 'author{k}', 'maintainer')"
        ),
        format!(
            "INSERT INTO team_repositories (team_id, repository_id, installation_id, permission) VALUES ({team}, {repo}, {id}, 'push')"
        ),
        format!(
            "INSERT INTO copilot_seats (installation_id, github_id, login, plan_type, observed_at) VALUES ({id}, {author}, 'author{k}', 'business', now())"
        ),
        format!(
            "INSERT INTO org_settings (installation_id, survey_enabled, work_start_minute, work_end_minute, working_days, remind_after_secs, ttl_secs, leaderboard_day) VALUES ({id}, true, 540, 1080, '{{0,1,2,3,4}}', 3600, 7200, 0)"
        ),
        format!(
            "INSERT INTO org_settings_audit (installation_id, actor_kind, field, old_value, new_value) VALUES ({id}, 'operator', 'survey_enabled', 'true', 'false')"
        ),
        format!(
            r#"INSERT INTO pull_requests (id, installation_id, repository_id, repository_full_name, number, title, state,
                   author_id, author_login, merged, merged_at, labels, gh_updated_at)
               VALUES ({pr}, {id}, {repo}, '{login}/repo', 1, 'Fix, "it"', 'closed', {author}, 'author{k}', true, now(),
                       '["ai", "ok"]', now())"#
        ),
        format!(
            "INSERT INTO reviews (id, pull_request_id, installation_id, reviewer_id, reviewer_login, state, body) VALUES ({review}, {pr}, {id}, {reviewer}, 'reviewer{k}', 'approved', 'LGTM')"
        ),
        format!(
            r#"INSERT INTO issues (id, installation_id, repository_id, repository_full_name, number, title, state, gh_updated_at)
               VALUES ({issue}, {id}, {repo}, '{login}/repo', 2, 'Bug', 'open', now())"#
        ),
        format!(
            "INSERT INTO merged_pull_requests (pull_request_id, installation_id, repository_id, number, source, enqueued_at) VALUES ({pr}, {id}, {repo}, 1, 'webhook', now())"
        ),
        format!(
            "INSERT INTO repository_collaborators (repository_id, github_id, installation_id, login, permission) VALUES ({repo}, {reviewer}, {id}, 'reviewer{k}', 'write')"
        ),
        format!(
            "INSERT INTO outside_people (installation_id, github_id, login, slack_user_id) VALUES ({id}, {}, 'outsider{k}', 'UOUT{k}')",
            k * 1000 + 3
        ),
        format!(
            "INSERT INTO github_etags (installation_id, url, etag, item_ids) VALUES ({id}, 'https://api.github.com/orgs/{login}/members', 'W/\"x\"', '{{{author},{reviewer}}}')"
        ),
        format!(
            "INSERT INTO sync_watermarks (repository_id, kind, installation_id, watermark) VALUES ({repo}, 'pulls', {id}, now())"
        ),
        format!(
            "INSERT INTO sync_runs (installation_id, started_at, finished_at, status, created) VALUES ({id}, now(), now(), 'success', 3)"
        ),
        format!(
            r#"INSERT INTO deliveries (id, event, action, installation_id, status, received_at, headers, body)
               VALUES ('delivery-{k}', 'issues', 'opened', {id}, 'processed', now(), '{{"user-agent": "GitHub-Hookshot/x"}}', '{{"raw": "payload of {login}"}}')"#
        ),
        format!(
            "INSERT INTO redelivery_requests (guid, hook_delivery_id, event) VALUES ('delivery-{k}', {k}, 'issues')"
        ),
        format!(
            r#"INSERT INTO surveys (id, installation_id, pull_request_id, repository_id, repository_full_name, number, title,
                   author_github_id, author_login, merged_at, status, remind_at, closes_at)
               VALUES ({survey}, {id}, {pr}, {repo}, '{login}/repo', 1, 'Fix, "it"', {author}, 'author{k}', now(),
                       'revealed', now(), now() + interval '3 days')"#
        ),
        format!(
            r#"INSERT INTO survey_participants (survey_id, github_id, login, role, slack_user_id, answer, quality, answered_at, asked_at)
               VALUES ({survey}, {author}, 'author{k}', 'author', 'UA{k}', 'a_lot', NULL, now(), now()),
                      ({survey}, {reviewer}, 'reviewer{k}', 'reviewer', 'UR{k}', 'yes', 2, now(), now())"#
        ),
        format!(
            r#"INSERT INTO slack_messages (key, survey_id, github_id, kind, state, channel, ts) VALUES
               ('ask:{survey}:{author}', {survey}, {author}, 'ask', 'sent', 'D{k}', '1.{k}'),
               ('leaderboard:{id}:2026-11-23', NULL, NULL, 'leaderboard', 'sent', 'CBOARD', '2.{k}')"#
        ),
        format!(
            "INSERT INTO slack_interactions (id, survey_id, slack_user_id, action, outcome) VALUES ('UA{k}:1.0:ai_a_lot', {survey}, 'UA{k}', 'ai_a_lot', 'Recorded')"
        ),
        format!(
            r#"INSERT INTO admin_sessions (id_hash, kind, login, github_user_id, installation_ids, csrf_token, expires_at)
               VALUES ('session-{k}', 'github', 'admin{k}', {}, ARRAY[{id}]::bigint[], 'csrf', now() + interval '1 day')"#,
            k * 1000 + 9
        ),
        format!(
            "INSERT INTO sealed_secrets (installation_id, name, sealed, key_id) VALUES ({id}, 'slack_bot_token', '\\x0102'::bytea, 'k1')"
        ),
        format!(
            "INSERT INTO slack_workspaces (installation_id, team_id, team_name, bot_user_id, scopes, status, connected_by)
             VALUES ({id}, 'T{k}', 'Workspace {k}', 'UBOT{k}', 'chat:write,im:write,users:read,users:read.email', 'connected', 'operator')"
        ),
        format!(
            "INSERT INTO slack_oauth_states (state_hash, installation_id, session_id_hash, expires_at)
             VALUES ('state-{k}', {id}, 'session-{k}', now() + interval '10 minutes')"
        ),
    ];
    for sql in &statements {
        sqlx::query(sql).execute(pool).await.expect(sql);
    }
}

async fn counts(pool: &PgPool, id: i64) -> BTreeMap<&'static str, i64> {
    org_data::row_counts(pool, id)
        .await
        .expect("count rows")
        .into_iter()
        .collect()
}

fn assert_all_tables_hold_rows(counts: &BTreeMap<&'static str, i64>) {
    let empty: Vec<&&str> = counts
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(t, _)| t)
        .collect();
    assert!(
        empty.is_empty(),
        "the seed has no row in {empty:?}: add one there (a new org table needs one)"
    );
}

async fn token_keys_exist(app: &TestApp, id: i64) -> bool {
    let mut conn = app.services.queues.connection();
    let keys = purge::installation_keys(app.services.queues.prefix(), InstallationId(id));
    let n: i64 = redis::cmd("EXISTS")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .expect("redis");
    n == 1
}

async fn set_redis_keys(app: &TestApp, id: i64) {
    let mut conn = app.services.queues.connection();
    for key in purge::installation_keys(app.services.queues.prefix(), InstallationId(id)) {
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg("x")
            .arg("EX")
            .arg(600)
            .query_async(&mut conn)
            .await
            .expect("redis");
    }
}

#[sqlx::test]
async fn the_table_lists_cover_the_schema(pool: PgPool) {
    let schema = org_data::schema_tables(&pool).await.expect("schema");
    let problems = org_data::coverage_problems(&schema);
    assert!(problems.is_empty(), "{problems:#?}");

    // A table added without a place in the lists fails, as does one called global that holds
    // an installation's rows.
    sqlx::query("CREATE TABLE widgets (installation_id BIGINT NOT NULL, name TEXT)")
        .execute(&pool)
        .await
        .expect("create");
    sqlx::query("CREATE TABLE survey_notes (survey_id BIGINT REFERENCES surveys (id))")
        .execute(&pool)
        .await
        .expect("create");
    let schema = org_data::schema_tables(&pool).await.expect("schema");
    let problems = org_data::coverage_problems(&schema).join("\n");
    assert!(problems.contains("table widgets is in none"), "{problems}");
    assert!(
        problems.contains("table survey_notes is in none"),
        "{problems}"
    );
    let mut global = schema.clone();
    global.retain(|t| t.name != "widgets" && t.name != "survey_notes");
    let mut opt_outs = global
        .iter()
        .find(|t| t.name == "person_opt_outs")
        .cloned()
        .expect("person_opt_outs");
    opt_outs.columns.push("installation_id".into());
    global.retain(|t| t.name != "person_opt_outs");
    global.push(opt_outs);
    let problems = org_data::coverage_problems(&global).join("\n");
    assert!(
        problems.contains("person_opt_outs is listed as global but has column installation_id"),
        "{problems}"
    );
}

/// An org with rows in every table is deleted on GitHub: work stops at once, nothing goes during
/// the grace period, and after it no row of the org is left anywhere, while the other org's rows
/// and Redis keys are untouched. A delivery arriving afterwards leaves nothing either.
#[sqlx::test]
async fn a_deleted_org_is_purged_after_the_grace_period(pool: PgPool) {
    seed(&pool, INSTALLATION, ORG, 9001, 1).await;
    seed(&pool, OTHER_INSTALLATION, "other-org", 9002, 2).await;
    let before_a = counts(&pool, INSTALLATION).await;
    let before_b = counts(&pool, OTHER_INSTALLATION).await;
    assert_all_tables_hold_rows(&before_a);
    assert_all_tables_hold_rows(&before_b);

    let app = TestApp::spawn(pool.clone()).await;
    set_redis_keys(&app, INSTALLATION).await;
    set_redis_keys(&app, OTHER_INSTALLATION).await;
    let (mut model, _) = support::org_model();
    app.apply_hook(&model.installation_hook(INSTALLATION, InstallationAction::Deleted))
        .await;
    let inst = mergecast::store::installations::get(&pool, INSTALLATION)
        .await
        .expect("read")
        .expect("installation");
    assert_eq!(inst.status, InstallationStatus::Deleted);
    assert!(
        !token_keys_exist(&app, INSTALLATION).await,
        "tokens dropped at once"
    );
    assert!(token_keys_exist(&app, OTHER_INSTALLATION).await);

    // A delivery for it now is logged as ignored, with the reason, and applies nothing.
    let issues_before = counts(&pool, INSTALLATION).await["issues"];
    let late = app.apply_hook(&support::issue_opened_hook()).await;
    let stored = mergecast::store::deliveries::get(&pool, &late)
        .await
        .expect("read")
        .expect("logged");
    assert_eq!(stored.status, "ignored");
    assert!(
        stored
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("was deleted")),
        "{:?}",
        stored.last_error
    );
    assert_eq!(counts(&pool, INSTALLATION).await["issues"], issues_before);

    // Nothing goes within the grace period ...
    let queues = &app.services.queues;
    let grace = 30 * DAY;
    let early = Utc::now() + chrono::Duration::days(29);
    let none = purge::purge_due(&pool, queues, early, grace)
        .await
        .expect("purge");
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(counts(&pool, OTHER_INSTALLATION).await, before_b);

    // ... and everything after it.
    let later = Utc::now() + chrono::Duration::days(31);
    let done = purge::purge_due(&pool, queues, later, grace)
        .await
        .expect("purge");
    assert_eq!(done.len(), 1, "{done:?}");
    assert!(
        matches!(&done[0], (InstallationId(INSTALLATION), PurgeOutcome::Purged(r)) if r.total() > 0)
    );
    let after = counts(&pool, INSTALLATION).await;
    assert!(after.values().all(|n| *n == 0), "{after:?}");
    assert_eq!(counts(&pool, OTHER_INSTALLATION).await, before_b);
    let tomb = org_data::tombstone_of(&pool, INSTALLATION)
        .await
        .expect("read")
        .expect("the tombstone stays");
    assert_eq!(tomb.status, InstallationStatus::Deleted);
    assert_eq!(tomb.account_login, "");
    assert_eq!(
        (tomb.account_id, tomb.account_type, tomb.suspended_by),
        (None, None, None)
    );
    assert_eq!(tomb.permissions, serde_json::json!({}));
    assert!(tomb.deleted_at.is_some() && tomb.purged_at.is_some());
    assert!(
        !mergecast::store::installations::exists(&pool, INSTALLATION)
            .await
            .expect("exists")
    );
    assert!(!token_keys_exist(&app, INSTALLATION).await);
    assert!(token_keys_exist(&app, OTHER_INSTALLATION).await);

    // A purge run again finds nothing due; a delivery arriving now is not even logged.
    assert!(
        purge::purge_due(&pool, queues, later, grace)
            .await
            .expect("purge")
            .is_empty()
    );
    let hook = support::issue_opened_hook();
    let late = mergecast::queue::jobs::DeliveryJob {
        delivery_id: "late-after-purge".into(),
        event: hook.event.into(),
        action: Some("opened".into()),
        installation_id: Some(INSTALLATION),
        hook_id: None,
        received_at: Utc::now(),
        headers: serde_json::json!({}),
        body: String::from_utf8(hook.bytes()).expect("utf8"),
        failures: 0,
    };
    mergecast::queue::delivery_worker::process(&app.services.worker_state(), late)
        .await
        .expect("process");
    assert!(
        mergecast::store::deliveries::get(&pool, "late-after-purge")
            .await
            .expect("read")
            .is_none()
    );
    let after = counts(&pool, INSTALLATION).await;
    assert!(after.values().all(|n| *n == 0), "{after:?}");
    app.stop().await;
}

/// A purge stopped half way (a crash) is finished by the next one, batch by batch.
#[sqlx::test]
async fn a_purge_resumes_where_it_stopped(pool: PgPool) {
    seed(&pool, 1, "org-a", 501, 1).await;
    seed(&pool, 2, "org-b", 502, 2).await;
    let before_b = counts(&pool, 2).await;
    assert!(
        org_data::request_deletion(&pool, 1, Requester::Operator, Utc::now())
            .await
            .expect("request")
    );
    assert!(org_data::start_purge(&pool, 1).await.expect("start"));
    // A crash in the middle of the third table: the first two emptied, one batch of the third.
    for table in &ORG_TABLES[..2] {
        while org_data::delete_batch(&pool, table, 1, 1)
            .await
            .expect("a batch")
            > 0
        {}
    }
    assert_eq!(
        org_data::delete_batch(&pool, &ORG_TABLES[2], 1, 1)
            .await
            .expect("one batch"),
        1
    );
    assert!(
        counts(&pool, 1).await[ORG_TABLES[2].name] > 0,
        "left half done"
    );
    let report = org_data::purge(&pool, 1, 1)
        .await
        .expect("purge")
        .expect("deleted");
    assert!(report.statements > report.total(), "one row per statement");
    let after = counts(&pool, 1).await;
    assert!(after.values().all(|n| *n == 0), "{after:?}");
    assert_eq!(counts(&pool, 2).await, before_b);
    let audit = org_data::deletion_requests(&pool, 1).await.expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].requested_by_kind, "operator");
    assert!(audit[0].purged_at.is_some());
}

/// The JSON document of installation `id`, through the export module.
async fn exported(pool: &PgPool, id: i64, what: OrgData) -> (String, u64) {
    let (mut rx, task) = export::spawn_org_data(pool.clone(), id, what);
    let mut out = Vec::new();
    while let Some(chunk) = rx.recv().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    let rows = task.await.expect("task").expect("finished");
    (String::from_utf8(out).expect("utf8"), rows)
}

/// The download parses back to what the database holds: every exported table with the org's
/// rows (and only them), the members' and answers' values exact, CSV cells equal to the JSON.
#[sqlx::test]
async fn the_download_round_trips(pool: PgPool) {
    seed(&pool, 1, "org-a", 501, 1).await;
    seed(&pool, 2, "org-b", 502, 2).await;
    let (json, rows) = exported(&pool, 1, OrgData::Json).await;
    let doc: Value = serde_json::from_str(&json).expect("one JSON document");
    assert_eq!(doc["format"], export::ORG_DATA_FORMAT);
    assert_eq!(doc["installation_id"], 1);
    let tables = doc["tables"].as_object().expect("tables");
    let db = counts(&pool, 1).await;
    let mut total = 0;
    for t in export::exported_tables() {
        let exported = tables[t.name].as_array().expect("array").len() as i64;
        assert_eq!(exported, db[t.name], "{}", t.name);
        total += exported as u64;
    }
    assert_eq!(total, rows);
    for left_out in [
        "sealed_secrets",
        "admin_sessions",
        "github_etags",
        "slack_oauth_states",
    ] {
        assert!(!tables.contains_key(left_out), "{left_out}");
        assert!(doc["not_exported"][left_out].is_string(), "{left_out}");
    }
    assert!(!json.contains("org-b"), "nothing of the other org");
    assert!(!json.contains("payload of"), "no webhook bodies");

    use futures::TryStreamExt;
    let people: Vec<mergecast::store::people::PersonTeamRow> =
        mergecast::store::people::people_teams(&pool, 1)
            .try_collect()
            .await
            .expect("people");
    let exported_members = tables["members"].as_array().expect("members");
    for p in &people {
        let e = exported_members
            .iter()
            .find(|e| e["github_id"] == p.member_id)
            .expect("member exported");
        assert_eq!(e["login"], p.login.as_str());
        assert_eq!(e["name"].as_str(), p.name.as_deref());
        assert_eq!(e["email"].as_str(), p.email.as_deref());
    }
    assert!(
        people
            .iter()
            .any(|p| p.name.as_deref().is_some_and(|n| n.contains('\n')))
    );
    let answers = org_data::answers_of(&pool, 1, 1001).await.expect("answers");
    let participants = tables["survey_participants"].as_array().expect("answers");
    assert_eq!(
        participants
            .iter()
            .find(|p| p["github_id"] == 1001)
            .map(|p| p["answer"].clone()),
        Some(Value::from(answers[0].1.clone()))
    );
    assert_eq!(tables["installations"][0]["account_login"], "org-a");
    assert_eq!(
        tables["pull_requests"][0]["labels"],
        serde_json::json!(["ai", "ok"])
    );

    // Each table's CSV holds the same rows as the JSON, cell by cell.
    for t in export::exported_tables() {
        let (csv, n) = exported(&pool, 1, OrgData::Csv(t)).await;
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(str::to_owned)
            .collect();
        let records: Vec<csv::StringRecord> = reader
            .records()
            .collect::<Result<_, _>>()
            .expect("csv rows");
        let json_rows = tables[t.name].as_array().expect("rows");
        assert_eq!(records.len(), json_rows.len(), "{}", t.name);
        assert_eq!(n as usize, records.len());
        for (record, row) in records.iter().zip(json_rows) {
            let object = row.as_object().expect("object");
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            let mut sorted_header: Vec<&String> = header.iter().collect();
            sorted_header.sort();
            assert_eq!(keys, sorted_header, "{}", t.name);
            for (column, cell) in header.iter().zip(record.iter()) {
                assert_eq!(
                    cell,
                    export::csv_cell(object.get(column)),
                    "{}.{column}",
                    t.name
                );
            }
        }
    }
}

/// 10,000 members: the download is handed on in chunks of about `export::CHUNK` while the
/// reader reads, never built whole (the producer waits for the reader: a few chunks at most are
/// in flight).
#[sqlx::test]
async fn the_download_streams_a_large_org(pool: PgPool) {
    seed(&pool, 1, "org-a", 501, 1).await;
    sqlx::query(
        "INSERT INTO members (installation_id, github_id, login, name, email)
         SELECT 1, 100000 + g, 'member' || g, 'Member ' || g, 'member' || g || '@example.com'
         FROM generate_series(1, 10000) g",
    )
    .execute(&pool)
    .await
    .expect("members");
    let (mut rx, task) = export::spawn_org_data(pool.clone(), 1, OrgData::Json);
    let first = rx.recv().await.expect("a chunk").expect("ok");
    // The reader has taken one chunk: the producer is held back, not finished.
    tokio::time::timeout(Duration::from_millis(300), async {
        while !task.is_finished() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect_err("the export waits for its reader");
    let mut chunks = vec![first.len()];
    let mut text = first.to_vec();
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk.expect("ok");
        chunks.push(chunk.len());
        text.extend_from_slice(&chunk);
    }
    assert!(task.await.expect("task").is_some());
    let biggest = chunks.iter().max().copied().unwrap_or(0);
    assert!(chunks.len() > 20, "{} chunks", chunks.len());
    assert!(
        biggest < export::CHUNK + 4096,
        "chunks stay small: {biggest}"
    );
    let doc: Value = serde_json::from_slice(&text).expect("json");
    assert_eq!(
        doc["tables"]["members"].as_array().map(Vec::len),
        Some(10_002)
    );
}

async fn admin_app(pool: &PgPool, admin_of: &str) -> (TestApp, FakeGithub) {
    let fake = FakeGithub::start(support::APP_ID).await;
    let app = admin_client::app(pool, &fake, admin_of).await;
    (app, fake)
}

/// The admin page: the org's admin downloads JSON and CSV of their org only, "Delete now" is
/// refused unless the login is typed exactly, and then deletes the org's data at once, audited.
#[sqlx::test]
async fn the_admin_page_downloads_and_deletes(pool: PgPool) {
    seed(&pool, 1, "org-a", 501, 1).await;
    seed(&pool, 2, "org-b", 502, 2).await;
    let before_b = counts(&pool, 2).await;
    let (app, _fake) = admin_app(&pool, "org-a").await;
    let mut admin = Browser::new(&app);
    admin_client::sign_in_org_admin(&mut admin).await;

    let list = admin.get("/admin/installations").await;
    assert!(list.body.contains("/admin/installations/1/data"), "linked");
    let page = admin.get("/admin/installations/1/data").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let json = admin.get("/admin/installations/1/data.json").await;
    assert_eq!(json.status, 200);
    assert_eq!(
        json.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let doc: Value = serde_json::from_str(&json.body).expect("json");
    assert_eq!(doc["tables"]["members"].as_array().map(Vec::len), Some(2));
    let csv = admin
        .get("/admin/installations/1/data.csv?table=members")
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.body.starts_with("installation_id,github_id,login,"),
        "{}",
        csv.body
    );
    assert!(
        csv.body
            .contains("\"Zoë \"\"Z\"\" O'Neil, Jr.\nsecond line\""),
        "{}",
        csv.body
    );
    assert_eq!(
        admin
            .get("/admin/installations/1/data.csv?table=sealed_secrets")
            .await
            .status,
        400
    );
    for path in [
        "/admin/installations/2/data",
        "/admin/installations/2/data.json",
        "/admin/installations/2/data.csv?table=members",
    ] {
        assert_eq!(admin.get(path).await.status, 404, "{path}");
    }
    let token = csrf(&page.body);
    assert_eq!(
        admin
            .post(
                "/admin/installations/2/delete",
                &[("csrf", &token), ("confirm", "org-b")]
            )
            .await
            .status,
        404
    );
    // No CSRF token, or a wrong or differently written name: refused, nothing deleted.
    assert_eq!(
        admin
            .post("/admin/installations/1/delete", &[("confirm", "org-a")])
            .await
            .status,
        403
    );
    for wrong in ["org-b", "ORG-A", "org-a ", ""] {
        let refused = admin
            .post(
                "/admin/installations/1/delete",
                &[("csrf", &token), ("confirm", wrong)],
            )
            .await;
        assert_eq!(refused.status, 422, "{wrong:?}");
        assert!(refused.body.contains("nothing was deleted"));
    }
    let still = counts(&pool, 1).await;
    assert_all_tables_hold_rows(&still);
    assert!(
        org_data::deletion_requests(&pool, 1)
            .await
            .expect("audit")
            .is_empty()
    );

    let done = admin
        .post(
            "/admin/installations/1/delete",
            &[("csrf", &token), ("confirm", "org-a")],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("has stopped"));
    assert!(matches!(
        org_data::gate(&pool, 1).await.expect("gate"),
        org_data::Gate::Deleted { .. }
    ));
    support::wait_until(
        "the org's data is gone",
        Duration::from_secs(20),
        || async { counts(&pool, 1).await.values().all(|n| *n == 0) },
    )
    .await;
    assert_eq!(counts(&pool, 2).await, before_b);
    let audit = org_data::deletion_requests(&pool, 1).await.expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].requested_by_kind, "github");
    assert_eq!(audit[0].requested_by_github_id, Some(7001));
    // The admin's session was of that org: it is gone with it.
    assert_ne!(admin.get("/admin/installations/1/data").await.status, 200);
    let mut operator = Browser::new(&app);
    operator.sign_in_operator(admin_client::PASSWORD).await;
    assert_eq!(
        operator.get("/admin/installations/1/data").await.status,
        404
    );
    assert_eq!(
        operator.get("/admin/installations/2/data").await.status,
        200
    );
    app.stop().await;
}

async fn reviewed_and_merged(s: &Scenario) -> PrRef {
    let pr = s.open_pr(MONA).await;
    s.review(pr, HUBOT, ReviewState::Approved).await;
    s.merge(pr).await;
    s.slack().dm(MONA).wait_count(1).await;
    s.slack().dm(HUBOT).wait_count(1).await;
    pr
}

/// Suspended: a click is not applied and nothing is sent; expiry waits (nothing is closed); after
/// `unsuspend` everything resumes. Deleted: clicks are not applied, no survey starts, nothing is
/// sent.
#[sqlx::test]
async fn suspended_work_waits_and_deleted_work_stops(pool: PgPool) {
    let s = Scenario::new(pool).await;
    let pr = reviewed_and_merged(&s).await;
    s.installation_event(InstallationAction::Suspend).await;
    let calls = s.slack().all_calls();
    s.slack().dm(MONA).click("A lot").await;
    let clicks = s.clicks_handled(1).await;
    assert_eq!(clicks[0].outcome.as_deref(), Some("Paused"));
    assert_eq!(s.survey(pr).await.answer(MONA), None);
    let report = s.tick_in(24 * 30).await;
    assert_eq!(report.closed, 0, "a suspended org's survey waits");
    assert_eq!(s.slack().all_calls(), calls, "nothing sent while suspended");

    s.installation_event(InstallationAction::Unsuspend).await;
    s.slack().dm(MONA).click("A lot").await;
    s.survey_until(pr, "the answer counts after unsuspend", |v| {
        v.answer(MONA) == Some(Answer::ALot)
    })
    .await;

    s.installation_event(InstallationAction::Deleted).await;
    let calls = s.slack().all_calls();
    s.slack().dm(HUBOT).click("Yes").await;
    let clicks = s.clicks_handled(3).await;
    assert_eq!(clicks[2].outcome.as_deref(), Some("Stopped"));
    assert_eq!(s.survey(pr).await.answer(HUBOT), None);
    // A merge recorded before the deletion starts no survey now.
    let job = mergecast::store::merged::PullRequestMerged {
        installation_id: INSTALLATION,
        pull_request_id: 424242,
        repository_id: s.repo,
        number: 99,
        merged_at: Some(Utc::now()),
    };
    mergecast::survey::start::on_merged(&s.app.services.survey_context(), &job, Utc::now())
        .await
        .expect("on merged");
    assert!(
        mergecast::store::surveys::by_pull_request(s.pool(), 424242)
            .await
            .expect("read")
            .is_none()
    );
    s.tick_in(24 * 30).await;
    assert_eq!(
        s.slack().all_calls(),
        calls,
        "nothing sent for a deleted org"
    );
    s.stop().await;
}

/// "Delete my answers": deletes the clicker's own answers, guesses and ratings in that org and
/// nobody else's, says how many in Slack, once per click (a retried job repeats nothing), a
/// second click finds nothing left, and no reveal is sent again.
#[sqlx::test]
async fn delete_my_answers_deletes_only_mine(pool: PgPool) {
    let s = Scenario::new(pool).await;
    let pr = reviewed_and_merged(&s).await;
    s.slack().dm(MONA).click("A lot").await;
    s.slack().dm(HUBOT).click("Yes").await;
    s.slack().dm(HUBOT).click("Good").await;
    let survey = s
        .survey_until(pr, "revealed", |v| {
            v.answer(MONA) == Some(Answer::ALot)
                && v.answer(HUBOT).is_some()
                && v.quality(HUBOT) == Some(2)
                && v.participant(MONA).is_some_and(|p| p.revealed_at.is_some())
                && v.participant(HUBOT)
                    .is_some_and(|p| p.revealed_at.is_some())
        })
        .await;
    let reveals = s.slack().dm(HUBOT).count_with("reveal");

    s.slack().dm(HUBOT).click("Delete my answers").await;
    s.slack()
        .dm(HUBOT)
        .wait_with("Deleted 1 answer or guess and 1 quality rating", 1)
        .await;
    let after = s.survey(pr).await;
    assert_eq!(after.answer(HUBOT), None);
    assert_eq!(after.quality(HUBOT), None);
    assert_eq!(
        after.answer(MONA),
        Some(Answer::ALot),
        "mona's answer stays"
    );
    assert!(
        after
            .participant(HUBOT)
            .is_some_and(|p| p.revealed_at.is_some()),
        "the reveal stays sent"
    );
    let hubot_clicks: Vec<_> = s
        .interactions()
        .await
        .into_iter()
        .filter(|i| i.slack_user_id.as_deref() == HUBOT.slack_id && i.action != "delete_my_answers")
        .collect();
    assert!(
        hubot_clicks.is_empty(),
        "the clicks that named the answers are gone"
    );

    // The same click again (Slack's retry of the payload, or a job run twice): nothing new.
    let click = s
        .interactions()
        .await
        .into_iter()
        .find(|i| i.action == "delete_my_answers")
        .expect("the delete click");
    let ctx = s.app.services.survey_context();
    let retried = mergecast::slack::interactions::Click {
        id: click.id.clone(),
        slack_user_id: HUBOT.slack_id.expect("on Slack").into(),
        action: mergecast::slack::interactions::Action::DeleteMyAnswers,
        survey_id: survey.id(),
        channel: None,
        message_ts: None,
        team_id: None,
    };
    let outcome = mergecast::survey::answer::on_click(&ctx, &retried)
        .await
        .expect("retry");
    assert_eq!(
        outcome,
        mergecast::survey::answer::ClickOutcome::AnswersDeleted(2)
    );
    assert_eq!(s.slack().dm(HUBOT).count_with("Deleted 1 answer"), 1);

    // A second click: nothing left, and it says so.
    s.slack().dm(HUBOT).click("Delete my answers").await;
    s.slack()
        .dm(HUBOT)
        .wait_with("Nothing left to delete", 1)
        .await;
    s.tick_in(24 * 30).await;
    assert_eq!(
        s.slack().dm(HUBOT).count_with("reveal"),
        reveals,
        "no reveal again"
    );
    assert_eq!(s.survey(pr).await.answer(MONA), Some(Answer::ALot));
    s.slack().assert_nothing_sent_twice();
    s.stop().await;
}

/// Catch-up and redelivery skip a suspended org (and a deleted one): no sync runs, and a failed
/// delivery of it is not asked for again, while another installation's is.
#[sqlx::test]
async fn catch_up_and_redelivery_skip_a_suspended_or_deleted_org(pool: PgPool) {
    let s = Scenario::new(pool).await;
    let catch_up = s.app.services.catch_up().expect("GitHub App configured");
    for action in [InstallationAction::Suspend, InstallationAction::Deleted] {
        s.installation_event(action).await;
        let outcome = catch_up
            .sync_installation(InstallationId(INSTALLATION))
            .await
            .expect("sync");
        assert!(
            matches!(outcome, mergecast::sync::SyncOutcome::Skipped(_)),
            "{outcome:?}"
        );
        let (ours, other) = s.github(|m| {
            let ours = m.add_hook_delivery("issues", Some("opened"), 500);
            ours.installation_id = Some(INSTALLATION);
            let ours = ours.id;
            let other = m.add_hook_delivery("issues", Some("opened"), 500);
            other.installation_id = Some(OTHER_INSTALLATION);
            (ours, other.id)
        });
        catch_up.redeliver_failed().await.expect("redelivery");
        let asked = s.github(|m| m.redelivery_requests.clone());
        assert!(asked.contains(&other), "{asked:?}");
        assert!(!asked.contains(&ours), "{action:?}: {asked:?}");
    }
    s.stop().await;
}

/// `mergecast export org` writes what the admin download holds; CSV needs a table it exports.
#[sqlx::test]
async fn the_cli_exports_the_org(pool: PgPool) {
    seed(&pool, 1, "org-a", 501, 1).await;
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let server = base.rsplit_once('/').map(|(s, _)| s).unwrap_or(&base);
    let url = format!(
        "{server}/{}",
        pool.connect_options().get_database().expect("database")
    );
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mergecast"))
            .args(args)
            .env("DATABASE_URL", &url)
            .output()
            .expect("run mergecast")
    };
    let csv = run(&[
        "export",
        "org",
        "--installation",
        "1",
        "--format",
        "csv",
        "--table",
        "members",
    ]);
    assert!(csv.status.success(), "{csv:?}");
    let members = mergecast::store::org_data::org_table("members").expect("members");
    let (expected, _) = exported(&pool, 1, OrgData::Csv(members)).await;
    assert_eq!(String::from_utf8(csv.stdout).expect("utf8"), expected);
    let json = run(&["export", "org", "--installation", "1"]);
    assert!(json.status.success(), "{json:?}");
    let doc: Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(doc["tables"]["members"].as_array().map(Vec::len), Some(2));
    for bad in [
        &["export", "org", "--installation", "1", "--format", "csv"][..],
        &[
            "export",
            "org",
            "--installation",
            "1",
            "--format",
            "csv",
            "--table",
            "sealed_secrets",
        ],
        &["export", "org", "--installation", "999"],
    ] {
        assert_eq!(run(bad).status.code(), Some(2), "{bad:?}");
    }
}
