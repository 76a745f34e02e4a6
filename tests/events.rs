//! Every handled event, delivered signed through HTTP, queued in Redis, applied by the worker:
//! the database ends up as GitHub's payloads say.

mod support;

use sqlx::PgPool;
use std::time::Duration;

use support::{TestApp, wait_until};

const INSTALLATION: i64 = 41234567;
const PR_ID: i64 = 279147437;
const ISSUE_ID: i64 = 1347;
const OCTOCAT: i64 = 1000002;
const HUBOT: i64 = 1000001;
const TEAM: i64 = 2001;

async fn installation_status(app: &TestApp) -> (String, String) {
    sqlx::query_as("SELECT status, account_login FROM installations WHERE id = $1")
        .bind(INSTALLATION)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn installation_lifecycle(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.deliver_and_apply("installation.created").await;
    assert_eq!(
        installation_status(&app).await,
        ("active".into(), "octo-org".into())
    );
    assert_eq!(
        app.count("SELECT count(*) FROM repositories WHERE active")
            .await,
        2
    );

    app.deliver_and_apply("installation.new_permissions_accepted")
        .await;
    app.deliver_and_apply("installation.suspend").await;
    let suspended: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT suspended_at FROM installations")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(installation_status(&app).await.0, "suspended");
    assert!(suspended.is_some());

    app.deliver_and_apply("installation.unsuspend").await;
    assert_eq!(installation_status(&app).await.0, "active");

    app.deliver_and_apply("installation_repositories.removed")
        .await;
    app.deliver_and_apply("installation_repositories.added")
        .await;
    assert!(app.count("SELECT count(*) FROM repositories").await >= 2);

    app.deliver_and_apply("installation_target.renamed").await;
    app.deliver_and_apply("github_app_authorization.revoked")
        .await;
    assert_eq!(
        app.count("SELECT count(*) FROM revoked_authorizations")
            .await,
        1
    );

    app.deliver_and_apply("installation.deleted").await;
    assert_eq!(installation_status(&app).await.0, "deleted");
    // A late, older event cannot resurrect a deleted installation.
    app.deliver_and_apply("installation.unsuspend").await;
    assert_eq!(installation_status(&app).await.0, "deleted");
    app.stop().await;
}

#[sqlx::test]
async fn repositories_added_and_removed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.deliver_and_apply("installation_repositories.added")
        .await;
    let added: Vec<(i64, bool)> = sqlx::query_as("SELECT id, active FROM repositories ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(!added.is_empty() && added.iter().all(|(_, a)| *a));
    app.deliver_and_apply("installation_repositories.removed")
        .await;
    assert!(
        app.count("SELECT count(*) FROM repositories WHERE NOT active AND removed_at IS NOT NULL")
            .await
            >= 1
    );
    app.stop().await;
}

#[sqlx::test]
async fn org_members_join_leave_and_are_never_deleted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.deliver_and_apply("organization.member_added").await;
    let (login, active): (String, bool) =
        sqlx::query_as("SELECT login, active FROM members WHERE github_id = $1")
            .bind(OCTOCAT)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((login.as_str(), active), ("octocat", true));

    app.deliver_and_apply("organization.member_removed").await;
    let (active, since): (bool, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT active, inactive_since FROM members WHERE github_id = $1")
            .bind(HUBOT)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        !active && since.is_some(),
        "removed member is kept, inactive, with a timestamp"
    );

    app.deliver_and_apply("organization.member_invited").await;
    assert_eq!(
        app.count("SELECT count(*) FROM members WHERE state = 'invited' AND NOT active")
            .await,
        1
    );

    app.deliver_and_apply("organization.renamed").await;
    assert_eq!(app.count("SELECT count(*) FROM members").await, 3);
    app.stop().await;
}

#[sqlx::test]
async fn repository_collaborators(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.deliver_and_apply("member.added").await;
    app.deliver_and_apply("member.edited").await;
    assert_eq!(
        app.count("SELECT count(*) FROM repository_collaborators WHERE active")
            .await,
        1
    );
    app.deliver_and_apply("member.removed").await;
    assert_eq!(
        app.count("SELECT count(*) FROM repository_collaborators WHERE NOT active")
            .await,
        1
    );
    app.stop().await;
}

#[sqlx::test]
async fn teams_membership_and_repositories(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.deliver_and_apply("team.created").await;
    app.deliver_and_apply("team.edited").await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM teams WHERE id = {TEAM} AND deleted_at IS NULL"
        ))
        .await,
        1
    );
    app.deliver_and_apply("membership.added").await;
    assert_eq!(
        app.count("SELECT count(*) FROM team_members WHERE active")
            .await,
        1
    );
    app.deliver_and_apply("membership.removed").await;
    assert_eq!(
        app.count("SELECT count(*) FROM team_members WHERE NOT active")
            .await,
        1
    );
    app.deliver_and_apply("team.added_to_repository").await;
    assert_eq!(
        app.count("SELECT count(*) FROM team_repositories WHERE active")
            .await,
        1
    );
    app.deliver_and_apply("team.removed_from_repository").await;
    assert_eq!(
        app.count("SELECT count(*) FROM team_repositories WHERE NOT active")
            .await,
        1
    );
    app.deliver_and_apply("team.deleted").await;
    assert_eq!(
        app.count("SELECT count(*) FROM teams WHERE deleted_at IS NOT NULL")
            .await,
        1
    );
    app.stop().await;
}

const PR_ACTIONS: &[&str] = &[
    "opened",
    "edited",
    "labeled",
    "unlabeled",
    "assigned",
    "unassigned",
    "milestoned",
    "demilestoned",
    "converted_to_draft",
    "ready_for_review",
    "review_requested",
    "review_request_removed",
    "locked",
    "unlocked",
    "closed_unmerged",
    "reopened",
    "synchronize",
    "auto_merge_enabled",
    "auto_merge_disabled",
    "enqueued",
    "dequeued",
    "closed_merged",
];

#[sqlx::test]
async fn pull_request_every_action_then_merge_emits_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for action in PR_ACTIONS {
        let id = app
            .deliver_and_apply(&format!("pull_request.{action}"))
            .await;
        assert_eq!(
            app.delivery_status(&id).await.as_deref(),
            Some("processed"),
            "{action}"
        );
        if *action == "labeled" {
            let labels: serde_json::Value = sqlx::query_scalar("SELECT labels FROM pull_requests")
                .fetch_one(&app.pool)
                .await
                .unwrap();
            assert!(
                !labels.as_array().unwrap().is_empty(),
                "labeled PR has labels"
            );
        }
        if *action == "converted_to_draft" {
            assert_eq!(
                app.count("SELECT count(*) FROM pull_requests WHERE draft")
                    .await,
                1
            );
        }
        if *action == "closed_unmerged" {
            assert_eq!(
                app.count(
                    "SELECT count(*) FROM pull_requests WHERE state = 'closed' AND NOT merged"
                )
                .await,
                1
            );
            assert_eq!(
                app.count("SELECT count(*) FROM merged_pull_requests").await,
                0
            );
        }
    }
    let (state, merged, number): (String, bool, i32) =
        sqlx::query_as("SELECT state, merged, number FROM pull_requests WHERE id = $1")
            .bind(PR_ID)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), merged, number), ("closed", true, 42));
    // The outbox relay runs right after the applying transaction commits: wait for it.
    wait_until("the merge relayed", Duration::from_secs(20), || async {
        app.count("SELECT count(*) FROM merged_pull_requests WHERE enqueued_at IS NOT NULL")
            .await
            == 1
    })
    .await;
    assert_eq!(app.merged_jobs().await, 1);

    // GitHub redelivers the merge (same id) and also sends it again as a new delivery.
    app.deliver_and_apply("pull_request.closed_merged").await;
    assert_eq!(
        app.count("SELECT count(*) FROM merged_pull_requests").await,
        1
    );
    assert_eq!(
        app.merged_jobs().await,
        1,
        "PullRequestMerged is emitted once per PR"
    );
    app.stop().await;
}

#[sqlx::test]
async fn reviews_submitted_edited_dismissed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.deliver_and_apply("pull_request_review.submitted").await;
    let (state, login): (String, String) =
        sqlx::query_as("SELECT state, reviewer_login FROM reviews WHERE id = 80")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), login.as_str()), ("approved", "hubot"));
    assert_eq!(
        app.count("SELECT count(*) FROM pull_requests").await,
        1,
        "review creates its PR if unseen"
    );
    app.deliver_and_apply("pull_request_review.dismissed").await;
    // An edit delivered after the dismissal does not undo it.
    app.deliver_and_apply("pull_request_review.edited").await;
    let state: String = sqlx::query_scalar("SELECT state FROM reviews WHERE id = 80")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, "dismissed");
    app.stop().await;
}

const ISSUE_ACTIONS: &[&str] = &[
    "opened",
    "edited",
    "labeled",
    "unlabeled",
    "assigned",
    "unassigned",
    "typed",
    "untyped",
    "milestoned",
    "demilestoned",
    "pinned",
    "unpinned",
    "locked",
    "unlocked",
    "closed",
    "reopened",
    "transferred",
    "deleted",
];

#[sqlx::test]
async fn issues_every_action(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for action in ISSUE_ACTIONS {
        let id = app.deliver_and_apply(&format!("issues.{action}")).await;
        assert_eq!(
            app.delivery_status(&id).await.as_deref(),
            Some("processed"),
            "{action}"
        );
        match *action {
            "labeled" => assert_eq!(
                app.count("SELECT count(*) FROM issues WHERE labels ? 'bug'")
                    .await,
                1
            ),
            "assigned" => assert_eq!(
                app.count("SELECT count(*) FROM issues WHERE assignees ? 'octocat'")
                    .await,
                1
            ),
            "pinned" => assert_eq!(
                app.count("SELECT count(*) FROM issues WHERE pinned").await,
                1
            ),
            "closed" => assert_eq!(
                app.count("SELECT count(*) FROM issues WHERE state = 'closed'")
                    .await,
                1
            ),
            "transferred" => assert_eq!(
                app.count("SELECT count(*) FROM issues WHERE transferred_to = 'octo-org/infra'")
                    .await,
                1
            ),
            _ => {}
        }
    }
    let deleted: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT deleted_at FROM issues WHERE id = $1")
            .bind(ISSUE_ID)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(deleted.is_some(), "deleted issues are kept and marked");
    app.stop().await;
}

#[sqlx::test]
async fn unknown_events_and_actions_are_recorded_not_failed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (status, id) = app
        .deliver(
            "deployment_status",
            br#"{"action":"created","installation":{"id":1}}"#,
        )
        .await;
    assert_eq!(status, 202);
    app.wait_for_status(&id, &["ignored"]).await;

    let (status, id) = app.deliver("team", br#"{"action":"renamed_in_the_future","installation":{"id":1},"team":{"id":1,"slug":"a","name":"a"},"organization":{"id":1,"login":"o"}}"#).await;
    assert_eq!(status, 202);
    app.wait_for_status(&id, &["ignored"]).await;

    // A known event with an action added by GitHub later still updates the PR it carries.
    let body = String::from_utf8(support::fixture("pull_request.opened"))
        .unwrap()
        .replacen(
            "\"action\": \"opened\"",
            "\"action\": \"some_future_action\"",
            1,
        );
    let (status, id) = app.deliver("pull_request", body.as_bytes()).await;
    assert_eq!(status, 202);
    app.wait_for_status(&id, &["processed"]).await;
    assert_eq!(app.count("SELECT count(*) FROM pull_requests").await, 1);
    app.stop().await;
}

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
