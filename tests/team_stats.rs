//! The team stats page: figures of a team of three are right, a team of two is withheld, a
//! child team one person smaller than its parent is withheld with its parent (differencing), and
//! the page and its CSV are scoped to the org admin's installation.

mod support;

#[path = "support/admin_client.rs"]
mod admin_client;

use mergecast::store::team_stats::{self, TeamStats, TeamWeek};
use sqlx::PgPool;
use support::browser::Browser;
use support::fake_github::FakeGithub;

/// Org A (installation 1), people 1..=8, this week:
/// - `alpha` {1,2,3}: one merged PR each, all surveyed; authors answered none / a little / a
///   lot; four reviewer guesses by alpha members, three right; ratings 2, 3, 2, 3.
/// - `beta` {4,5,6,7} and its child `beta-sub` {4,5,6}: one merged PR each (differ by one).
/// - `duo` {7,8}: a team of two.
/// - Copilot: 1, 2 and 4..=7 active; 3 last active 40 days ago; 8 has none.
///
/// Org B (installation 2): `b-team` {21,22,23} with one merged PR each.
async fn seed(pool: &PgPool) {
    let statements = [
        "INSERT INTO installations (id, account_login, account_type, account_id) VALUES
         (1, 'org-a', 'Organization', 501), (2, 'org-b', 'Organization', 502)",
        "INSERT INTO members (installation_id, github_id, login)
         SELECT 1, g, 'p' || g FROM generate_series(1, 8) g
         UNION ALL SELECT 2, g, 'q' || g FROM generate_series(21, 23) g",
        "INSERT INTO teams (id, installation_id, slug, name, parent_id) VALUES
         (10, 1, 'alpha', 'Alpha', NULL), (11, 1, 'beta', 'Beta', NULL),
         (12, 1, 'beta-sub', 'Beta sub', 11), (13, 1, 'duo', 'Duo', NULL),
         (20, 2, 'b-team', 'B team', NULL)",
        "INSERT INTO team_members (team_id, github_id, installation_id, login, role)
         SELECT t, g, i, 'p' || g, 'member' FROM (VALUES
           (10, 1, 1), (10, 2, 1), (10, 3, 1),
           (11, 4, 1), (11, 5, 1), (11, 6, 1), (11, 7, 1),
           (12, 4, 1), (12, 5, 1), (12, 6, 1),
           (13, 7, 1), (13, 8, 1),
           (20, 21, 2), (20, 22, 2), (20, 23, 2)) v(t, g, i)",
        // An ended membership does not count: 8 left alpha long ago.
        "INSERT INTO team_members (team_id, github_id, installation_id, login, active, left_at)
         VALUES (10, 8, 1, 'p8', false, now() - interval '300 days')",
        "INSERT INTO pull_requests (id, installation_id, repository_id, repository_full_name, number,
                                    title, state, author_id, merged, merged_at, gh_updated_at)
         SELECT 1000 + g, CASE WHEN g > 20 THEN 2 ELSE 1 END, 1, 'o/r', g, 'PR', 'closed', g, true, now(), now()
         FROM (SELECT generate_series(1, 8) UNION ALL SELECT generate_series(21, 23)) s(g)",
        "INSERT INTO surveys (id, installation_id, pull_request_id, repository_id, repository_full_name,
                              number, title, author_github_id, author_login, merged_at, status,
                              remind_at, closes_at)
         SELECT g, 1, 1000 + g, 1, 'o/r', g, 'PR', g, 'p' || g, now(), 'revealed', now(), now()
         FROM generate_series(1, 3) g",
        "INSERT INTO survey_participants (survey_id, github_id, login, role, asked_at, answer, quality, answered_at)
         VALUES (1, 1, 'p1', 'author', now(), 'none', NULL, now()),
                (2, 2, 'p2', 'author', now(), 'a_little', NULL, now()),
                (3, 3, 'p3', 'author', now(), 'a_lot', NULL, now()),
                (1, 2, 'p2', 'reviewer', now(), 'no', 2, now()),
                (1, 3, 'p3', 'reviewer', now(), 'yes', 3, now()),
                (2, 1, 'p1', 'reviewer', now(), 'yes', 2, now()),
                (3, 1, 'p1', 'reviewer', now(), 'yes', 3, now())",
        "INSERT INTO copilot_seats (installation_id, github_id, login, plan_type, last_activity_at, observed_at)
         SELECT 1, g, 'p' || g, 'business',
                CASE WHEN g = 3 THEN now() - interval '40 days' ELSE now() - interval '1 day' END, now()
         FROM generate_series(1, 7) g",
    ];
    for sql in statements {
        sqlx::query(sql).execute(pool).await.expect(sql);
    }
}

async fn stats(pool: &PgPool, installation: i64) -> TeamStats {
    let mut conn = pool.acquire().await.expect("connection");
    team_stats::team_stats(&mut conn, installation)
        .await
        .expect("team stats")
}

fn week_of<'a>(stats: &'a TeamStats, slug: &str) -> &'a TeamWeek {
    let team = stats
        .teams
        .iter()
        .position(|t| t.slug == slug)
        .expect("team");
    stats
        .cells
        .iter()
        .find(|c| c.team == team)
        .expect("this week")
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[sqlx::test]
async fn a_team_of_three_has_its_figures(pool: PgPool) {
    seed(&pool).await;
    let stats = stats(&pool, 1).await;
    assert_eq!(stats.weeks.len(), 1);
    let alpha = week_of(&stats, "alpha");
    assert_eq!(alpha.prs_merged, Some(3));
    assert_eq!(alpha.answers, Some(7));
    for share in [alpha.ai_none, alpha.ai_a_little, alpha.ai_a_lot] {
        assert!(close(share, 1.0 / 3.0), "{alpha:?}");
    }
    assert!(close(alpha.ai_share, 2.0 / 3.0));
    assert!(close(alpha.guess_accuracy, 0.75));
    assert!(close(alpha.quality, 2.5));
    let line = &stats.teams[alpha.team];
    assert_eq!(line.members, 3);
    assert!(close(line.copilot_active, 2.0 / 3.0), "{line:?}");
}

#[sqlx::test]
async fn small_teams_and_differences_are_withheld(pool: PgPool) {
    seed(&pool).await;
    let stats = stats(&pool, 1).await;
    // duo: two people.
    let duo = week_of(&stats, "duo");
    assert_eq!(duo.prs_merged, None);
    // beta (4 people) and beta-sub (3 people) differ by one: subtracting would tell person 7.
    for slug in ["beta", "beta-sub"] {
        let team = week_of(&stats, slug);
        assert_eq!(team.prs_merged, None, "{slug}");
        assert_eq!(stats.teams[team.team].copilot_active, None, "{slug}");
    }
    // No survey answers behind beta: withheld, never 0.
    assert_eq!(week_of(&stats, "beta").ai_share, None);
    assert_eq!(stats.teams[week_of(&stats, "beta").team].members, 4);
}

#[sqlx::test]
async fn the_page_and_csv_are_scoped_to_the_org(pool: PgPool) {
    seed(&pool).await;
    let fake = FakeGithub::start(support::APP_ID).await;
    let app = admin_client::app(&pool, &fake, "org-a").await;
    let mut admin = Browser::new(&app);
    admin_client::sign_in_org_admin(&mut admin).await;

    let page = admin.get("/admin/installations/1/teams/stats").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("alpha") && page.body.contains("<svg"));
    assert!(page.body.contains("withheld"));
    for login in ["p1", "p2", "p3"] {
        assert!(!page.body.contains(&format!(">{login}<")), "{login}");
    }
    let csv = admin.get("/admin/installations/1/teams/stats.csv").await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let alpha = rows.iter().find(|r| &r[1] == "alpha").expect("alpha row");
    assert_eq!(&alpha[5], "3");
    assert_eq!(&alpha[11], "0.7500");
    let beta = rows.iter().find(|r| &r[1] == "beta").expect("beta row");
    assert_eq!(&beta[5], "", "withheld is an empty cell");

    for path in [
        "/admin/installations/2/teams/stats",
        "/admin/installations/2/teams/stats.csv",
        "/admin/installations/3/teams/stats",
    ] {
        let other = admin.get(path).await;
        assert_eq!(other.status, 404, "{path}");
        assert!(!other.body.contains("b-team"));
    }
    let mut operator = Browser::new(&app);
    operator.sign_in_operator(admin_client::PASSWORD).await;
    let b = operator.get("/admin/installations/2/teams/stats.csv").await;
    assert_eq!(b.status, 200);
    assert!(b.body.contains("b-team"));
    app.stop().await;
}
