//! The people × teams export: which rows it holds (active memberships and seats only), that its
//! CSV and JSON parse back to the same rows, that the admin download is scoped to the org admin's
//! installation, and that `mergecast export people --output` writes the file.

mod support;

#[path = "support/admin_client.rs"]
mod admin_client;

use futures::TryStreamExt;
use mergecast::export::{self, Format};
use mergecast::store::people::{self, COLUMNS, PersonTeamRow};
use sqlx::PgPool;
use support::browser::Browser;
use support::fake_github::FakeGithub;

/// Org A (installation 1): alice on two teams (and on a deleted one), bob on none, carol with a
/// seat, dave whose only membership ended, erin whose seat ended, frank no longer a member.
/// Org B (installation 2): zed.
async fn seed(pool: &PgPool) {
    for sql in [
        "INSERT INTO installations (id, account_login, account_type, account_id) VALUES
         (1, 'org-a', 'Organization', 501), (2, 'org-b', 'Organization', 502)",
        "INSERT INTO members (installation_id, github_id, login, name, email, role, state, active) VALUES
         (1, 101, 'alice', 'Alice \"Al\" Anders, Jr.', 'alice@example.com', 'admin', 'active', true),
         (1, 102, 'bob', NULL, NULL, 'member', 'active', true),
         (1, 103, 'carol', 'Carol', NULL, 'member', 'active', true),
         (1, 104, 'dave', 'Dave', NULL, 'member', 'active', true),
         (1, 105, 'erin', 'Erin', NULL, 'member', 'active', true),
         (1, 106, 'frank', 'Frank', NULL, 'member', 'inactive', false),
         (2, 201, 'zed', 'Zed', NULL, 'member', 'active', true)",
        "INSERT INTO teams (id, installation_id, slug, name, parent_id, deleted_at) VALUES
         (10, 1, 'core', 'Core', NULL, NULL), (11, 1, 'web', 'Web, UI', 10, NULL),
         (12, 1, 'gone', 'Gone', NULL, now()), (20, 2, 'b-team', 'B', NULL, NULL)",
        "INSERT INTO team_members (team_id, github_id, installation_id, login, active, role, joined_at, left_at) VALUES
         (10, 101, 1, 'alice', true, 'maintainer', '2026-01-02T03:04:05Z', NULL),
         (11, 101, 1, 'alice', true, 'member', NULL, NULL),
         (12, 101, 1, 'alice', true, 'member', NULL, NULL),
         (10, 104, 1, 'dave', false, 'member', '2025-01-01T00:00:00Z', '2026-06-01T00:00:00Z'),
         (10, 106, 1, 'frank', true, 'member', NULL, NULL),
         (20, 201, 2, 'zed', true, 'member', NULL, NULL)",
        "INSERT INTO copilot_seats (installation_id, github_id, login, plan_type, assigned_at,
                                    pending_cancellation_date, last_activity_at, last_activity_editor,
                                    assigning_team_id, assigning_team_slug, observed_at, ended_at) VALUES
         (1, 103, 'carol', 'business', '2026-03-01T00:00:00Z', '2026-12-31', '2026-11-30T12:00:00Z',
          'vscode/1.95.0/copilot/1.240.0', 10, 'core', now(), NULL),
         (1, 105, 'erin', 'business', '2026-03-01T00:00:00Z', NULL, NULL, NULL, NULL, NULL, now(), now())",
    ] {
        sqlx::query(sql).execute(pool).await.expect(sql);
    }
}

async fn rows(pool: &PgPool, installation: i64) -> Vec<PersonTeamRow> {
    people::people_teams(pool, installation)
        .try_collect()
        .await
        .expect("rows")
}

fn pairs(rows: &[PersonTeamRow]) -> Vec<(&str, Option<&str>)> {
    rows.iter()
        .map(|r| (r.login.as_str(), r.team_slug.as_deref()))
        .collect()
}

#[sqlx::test]
async fn one_row_per_active_member_and_current_team(pool: PgPool) {
    seed(&pool).await;
    let rows = rows(&pool, 1).await;
    assert_eq!(
        pairs(&rows),
        vec![
            ("alice", Some("core")),
            ("alice", Some("web")),
            ("bob", None),
            ("carol", None),
            ("dave", None),
            ("erin", None),
        ]
    );
    let web = &rows[1];
    assert_eq!(web.parent_team_slug.as_deref(), Some("core"));
    assert_eq!(web.team_name.as_deref(), Some("Web, UI"));
    assert_eq!(rows[0].team_role.as_deref(), Some("maintainer"));
    assert_eq!(
        rows[0].team_joined_at.map(|t| t.to_rfc3339()),
        Some("2026-01-02T03:04:05+00:00".into())
    );
    assert!(rows.iter().all(|r| r.org == "org-a" && r.member_active));
    let carol = &rows[3];
    assert_eq!(carol.copilot_plan_type.as_deref(), Some("business"));
    assert_eq!(carol.copilot_assigning_team.as_deref(), Some("core"));
    assert_eq!(
        carol.copilot_last_activity_editor.as_deref(),
        Some("vscode/1.95.0/copilot/1.240.0")
    );
    assert_eq!(
        carol
            .copilot_pending_cancellation_date
            .map(|d| d.to_string()),
        Some("2026-12-31".into())
    );
    // dave's membership ended; erin's seat ended.
    assert!(rows[4].team_id.is_none());
    assert!(rows[5].copilot_plan_type.is_none() && rows[5].copilot_assigned_at.is_none());
    assert_eq!(
        pairs(&self::rows(&pool, 2).await),
        vec![("zed", Some("b-team"))]
    );
}

/// The whole export of installation 1 as text.
async fn exported(pool: &PgPool, format: Format) -> String {
    let (mut rx, task) = export::spawn_people(pool.clone(), 1, format);
    let mut out = Vec::new();
    while let Some(chunk) = rx.recv().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    assert_eq!(task.await.expect("task"), Some(6));
    String::from_utf8(out).expect("utf8")
}

fn parse_csv(text: &str) -> Vec<PersonTeamRow> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, COLUMNS);
    reader
        .deserialize()
        .collect::<Result<_, _>>()
        .expect("csv rows")
}

#[sqlx::test]
async fn csv_and_json_round_trip(pool: PgPool) {
    seed(&pool).await;
    let expected = rows(&pool, 1).await;
    let csv = exported(&pool, Format::Csv).await;
    assert!(csv.contains("\"Alice \"\"Al\"\" Anders, Jr.\""), "{csv}");
    assert_eq!(parse_csv(&csv), expected);
    let json = exported(&pool, Format::Json).await;
    let back: Vec<PersonTeamRow> = serde_json::from_str(&json).expect("json array");
    assert_eq!(back, expected);
    let raw: Vec<serde_json::Value> = serde_json::from_str(&json).expect("json");
    let keys: Vec<&str> = raw[0]
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut columns = COLUMNS.to_vec();
    columns.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, columns);
}

#[sqlx::test]
async fn the_admin_download_is_scoped_and_typed(pool: PgPool) {
    seed(&pool).await;
    let fake = FakeGithub::start(support::APP_ID).await;
    let app = admin_client::app(&pool, &fake, "org-a").await;

    let mut admin = Browser::new(&app);
    admin_client::sign_in_org_admin(&mut admin).await;
    let csv = admin.get("/admin/installations/1/people.csv").await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(
        csv.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    assert!(
        csv.headers
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("attachment;"))
    );
    assert_eq!(parse_csv(&csv.body), rows(&pool, 1).await);
    let json = admin.get("/admin/installations/1/people.json").await;
    assert_eq!(json.status, 200);
    assert_eq!(
        json.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let back: Vec<PersonTeamRow> = serde_json::from_str(&json.body).expect("json");
    assert_eq!(back.len(), 6);
    for path in [
        "/admin/installations/2/people.csv",
        "/admin/installations/2/people.json",
        "/admin/installations/999/people.csv",
    ] {
        let other = admin.get(path).await;
        assert_eq!(other.status, 404, "{path}");
        assert!(!other.body.contains("zed"));
    }
    assert!(
        admin
            .get("/admin/installations")
            .await
            .body
            .contains("/admin/installations/1/people.csv")
    );

    let mut operator = Browser::new(&app);
    operator.sign_in_operator(admin_client::PASSWORD).await;
    let b = operator.get("/admin/installations/2/people.csv").await;
    assert_eq!(b.status, 200);
    assert_eq!(pairs(&parse_csv(&b.body)), vec![("zed", Some("b-team"))]);

    let anonymous = Browser::new(&app)
        .get("/admin/installations/1/people.csv")
        .await;
    assert_ne!(anonymous.status, 200);
    assert!(!anonymous.body.contains("alice"));
    app.stop().await;
}

/// The URL of the test's own database (the pool's database on the configured server).
fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let server = base.rsplit_once('/').map(|(s, _)| s).unwrap_or(&base);
    let options = pool.connect_options();
    let db = options.get_database().expect("database name");
    format!("{server}/{db}")
}

#[sqlx::test]
async fn the_cli_writes_to_output(pool: PgPool) {
    seed(&pool).await;
    let dir = std::env::temp_dir().join(format!("mergecast-export-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("people.json");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mergecast"))
        .args([
            "export",
            "people",
            "--installation",
            "1",
            "--format",
            "json",
        ])
        .arg("--output")
        .arg(&file)
        .env("DATABASE_URL", database_url(&pool))
        .output()
        .await
        .expect("run mergecast");
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty(), "nothing on stdout with --output");
    let back: Vec<PersonTeamRow> =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("file")).expect("json");
    assert_eq!(back, rows(&pool, 1).await);

    let stdout = tokio::process::Command::new(env!("CARGO_BIN_EXE_mergecast"))
        .args(["export", "people", "--installation", "1"])
        .env("DATABASE_URL", database_url(&pool))
        .output()
        .await
        .expect("run mergecast");
    assert!(stdout.status.success(), "{stdout:?}");
    let text = String::from_utf8(stdout.stdout).expect("utf8");
    assert_eq!(parse_csv(&text), rows(&pool, 1).await);

    let missing = tokio::process::Command::new(env!("CARGO_BIN_EXE_mergecast"))
        .args(["export", "people", "--installation", "999"])
        .env("DATABASE_URL", database_url(&pool))
        .output()
        .await
        .expect("run mergecast");
    assert_eq!(missing.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
