//! Every handled event, rendered by the fake GitHub from its model, signed, delivered through
//! HTTP, queued in Redis and applied by the worker: the database ends up as GitHub says.

mod support;

use mergecast::store::deliveries::Status;
use mergecast::store::installations::InstallationStatus;
use serde_json::json;
use sqlx::PgPool;
use support::fake_github::{
    CollaboratorAction, InstallationAction, IssueAction, PullAction, ReviewAction, TeamAction,
    Webhook,
};
use support::scenario::github::ReviewState;
use support::scenario::{HUBOT, INSTALLATION, MONA, OCTOCAT, ORG, OUTSIDER, Scenario};

const TEAM: i64 = 2001;

/// Only the webhooks: no Slack, no catch-up, not installed yet.
async fn events_only(pool: PgPool) -> Scenario {
    Scenario::builder(pool)
        .without_slack()
        .without_catch_up()
        .not_installed()
        .start()
        .await
}

#[sqlx::test]
async fn installation_lifecycle(pool: PgPool) {
    let s = events_only(pool).await;
    s.github(|m| m.add_repo(INSTALLATION, ORG, "docs").id);
    s.installation_event(InstallationAction::Created).await;
    let inst = s.installation().await;
    assert_eq!(
        (inst.status, inst.account_login.as_str()),
        (InstallationStatus::Active, ORG)
    );
    assert_eq!(
        s.repositories().await.iter().filter(|r| r.active).count(),
        2
    );

    s.installation_event(InstallationAction::NewPermissionsAccepted)
        .await;
    s.installation_event(InstallationAction::Suspend).await;
    let inst = s.installation().await;
    assert_eq!(inst.status, InstallationStatus::Suspended);
    assert!(inst.suspended_at.is_some());

    let unsuspend = s.installation_event(InstallationAction::Unsuspend).await;
    assert_eq!(s.installation().await.status, InstallationStatus::Active);

    s.remove_repo(s.repo).await;
    s.add_repo("infra").await;
    assert!(s.repositories().await.len() >= 2);

    s.rename_installation_target("octo-org-renamed").await;
    s.revoke_authorization(OCTOCAT).await;
    assert!(s.revoked_at(OCTOCAT).await.is_some());

    s.installation_event(InstallationAction::Deleted).await;
    assert_eq!(s.installation().await.status, InstallationStatus::Deleted);
    // A late, older event cannot resurrect a deleted installation.
    s.send_again(&unsuspend).await;
    assert_eq!(s.installation().await.status, InstallationStatus::Deleted);
    s.stop().await;
}

#[sqlx::test]
async fn repositories_added_and_removed(pool: PgPool) {
    let s = events_only(pool).await;
    let (infra, _) = s.add_repo("infra").await;
    let added = s.repositories().await;
    assert!(!added.is_empty() && added.iter().all(|r| r.active));
    s.remove_repo(infra).await;
    let removed = s.repositories().await;
    assert!(
        removed
            .iter()
            .any(|r| r.id == infra && !r.active && r.removed_at.is_some())
    );
    s.stop().await;
}

#[sqlx::test]
async fn org_members_join_leave_and_are_never_deleted(pool: PgPool) {
    let s = events_only(pool).await;
    s.add_member(OCTOCAT).await;
    let octocat = s.member(OCTOCAT).await.expect("octocat stored");
    assert_eq!((octocat.login.as_str(), octocat.active), ("octocat", true));

    s.remove_member(HUBOT).await;
    let hubot = s.member(HUBOT).await.expect("hubot kept");
    assert!(
        !hubot.active && hubot.inactive_since.is_some(),
        "removed member is kept, inactive, with a timestamp"
    );

    s.invite(OUTSIDER).await;
    let invited: Vec<_> = s
        .members()
        .await
        .into_iter()
        .filter(|m| m.state == "invited" && !m.active)
        .collect();
    assert_eq!(invited.len(), 1);

    s.org_event(support::fake_github::OrgAction::Renamed(
        "octo-org-renamed".into(),
    ))
    .await;
    assert_eq!(s.members().await.len(), 3);
    s.stop().await;
}

#[sqlx::test]
async fn repository_collaborators(pool: PgPool) {
    let s = events_only(pool).await;
    let repo = s.repo;
    s.collaborator(repo, OUTSIDER, CollaboratorAction::Added("write".into()))
        .await;
    s.collaborator(repo, OUTSIDER, CollaboratorAction::Edited("admin".into()))
        .await;
    let active = |all: Vec<mergecast::store::members::Collaborator>, active: bool| {
        all.iter().filter(|c| c.active == active).count()
    };
    assert_eq!(active(s.collaborators(repo).await, true), 1);
    s.collaborator(repo, OUTSIDER, CollaboratorAction::Removed)
        .await;
    assert_eq!(active(s.collaborators(repo).await, false), 1);
    s.stop().await;
}

#[sqlx::test]
async fn teams_membership_and_repositories(pool: PgPool) {
    let s = events_only(pool).await;
    s.create_team(TEAM, "justice-league").await;
    s.team_event(TEAM, TeamAction::Edited("Saves the day".into()))
        .await;
    let team = s.team(TEAM).await.expect("team stored");
    assert!(team.deleted_at.is_none());

    s.team_membership(TEAM, OCTOCAT, true).await;
    let members = s.team_members(TEAM).await;
    assert_eq!(members.iter().filter(|m| m.active).count(), 1);
    s.team_membership(TEAM, OCTOCAT, false).await;
    let members = s.team_members(TEAM).await;
    assert_eq!(members.iter().filter(|m| !m.active).count(), 1);

    s.team_event(TEAM, TeamAction::AddedToRepository(s.repo, "push".into()))
        .await;
    let repos = s.team_repositories(TEAM).await;
    assert_eq!(repos.iter().filter(|r| r.active).count(), 1);
    s.team_event(TEAM, TeamAction::RemovedFromRepository(s.repo))
        .await;
    let repos = s.team_repositories(TEAM).await;
    assert_eq!(repos.iter().filter(|r| !r.active).count(), 1);

    s.team_event(TEAM, TeamAction::Deleted).await;
    assert!(s.team(TEAM).await.expect("kept").deleted_at.is_some());
    s.stop().await;
}

#[sqlx::test]
async fn pull_request_every_action_then_merge_emits_once(pool: PgPool) {
    let s = events_only(pool).await;
    let pr = s.open_pr(MONA).await;
    let actions = [
        PullAction::Edited("A better title".into()),
        PullAction::Labeled("bug".into()),
        PullAction::Unlabeled("bug".into()),
        PullAction::Assigned(OCTOCAT.github_id),
        PullAction::Unassigned(OCTOCAT.github_id),
        PullAction::Milestoned("v1.0".into()),
        PullAction::Demilestoned,
        PullAction::ConvertedToDraft,
        PullAction::ReadyForReview,
        PullAction::ReviewRequested(HUBOT.github_id),
        PullAction::ReviewRequestRemoved(HUBOT.github_id),
        PullAction::Locked,
        PullAction::Unlocked,
        PullAction::Closed,
        PullAction::Reopened,
        PullAction::Synchronize,
        PullAction::AutoMergeEnabled,
        PullAction::AutoMergeDisabled,
        PullAction::Enqueued,
        PullAction::Dequeued,
    ];
    for action in actions {
        let delivery = s.pr_event(pr, action.clone()).await;
        assert_eq!(delivery.status, Status::Processed, "{action:?}");
        let stored = s.pr(pr).await;
        match action {
            PullAction::Labeled(_) => {
                assert!(!stored.labels.is_empty(), "labeled PR has labels")
            }
            PullAction::ConvertedToDraft => assert!(stored.draft),
            PullAction::Closed => {
                assert_eq!((stored.state.as_str(), stored.merged), ("closed", false));
                assert!(s.merged().await.is_empty());
            }
            _ => {}
        }
    }
    let merge = s.merge(pr).await;
    assert_eq!(merge.status, Status::Processed);
    let stored = s.pr(pr).await;
    assert_eq!(
        (stored.state.as_str(), stored.merged, stored.number),
        ("closed", true, pr.number)
    );
    // The outbox relay runs right after the applying transaction commits: wait for it.
    s.wait_merges_relayed(1).await;
    assert_eq!(s.merged_jobs().await, 1);

    // GitHub sends the merge again as a new delivery.
    s.send_again(&merge).await;
    assert_eq!(s.merged().await.len(), 1);
    assert_eq!(
        s.merged_jobs().await,
        1,
        "PullRequestMerged is emitted once per PR"
    );
    s.stop().await;
}

#[sqlx::test]
async fn reviews_submitted_edited_dismissed(pool: PgPool) {
    let s = events_only(pool).await;
    // A pull request the app has not heard of: the review brings it.
    let pr = s.github(|m| {
        let pull = m.add_pull(s.repo, MONA.github_id);
        support::scenario::github::PrRef {
            id: pull.id,
            number: pull.number,
            repo: pull.repo_id,
        }
    });
    let review = s.review(pr, HUBOT, ReviewState::Approved).await;
    let stored = s.stored_review(review).await;
    assert_eq!(
        (stored.state.as_str(), stored.reviewer_login.as_deref()),
        ("approved", Some("hubot"))
    );
    assert_eq!(s.pr(pr).await.id, pr.id, "review creates its PR if unseen");

    // An edit made before the dismissal and delivered after it does not undo it.
    let edit = s.github(|m| m.review_hook(review.id, ReviewAction::Edited("LGTM!".into())));
    s.review_event(review, ReviewAction::Dismissed).await;
    s.send(edit).await;
    assert_eq!(s.stored_review(review).await.state, "dismissed");
    s.stop().await;
}

#[sqlx::test]
async fn issues_every_action(pool: PgPool) {
    let s = events_only(pool).await;
    let infra = s.github(|m| m.add_repo(INSTALLATION, ORG, "infra").id);
    let issue = s.open_issue(MONA).await;
    let actions = [
        IssueAction::Edited("A sharper title".into()),
        IssueAction::Labeled("bug".into()),
        IssueAction::Unlabeled("bug".into()),
        IssueAction::Assigned(OCTOCAT.github_id),
        IssueAction::Unassigned(OCTOCAT.github_id),
        IssueAction::Typed("Bug".into()),
        IssueAction::Untyped,
        IssueAction::Milestoned("v1.0".into()),
        IssueAction::Demilestoned,
        IssueAction::Pinned,
        IssueAction::Unpinned,
        IssueAction::Locked,
        IssueAction::Unlocked,
        IssueAction::Closed,
        IssueAction::Reopened,
        IssueAction::Transferred(infra),
        IssueAction::Deleted,
    ];
    for action in actions {
        let delivery = s.issue_event(issue, action.clone()).await;
        assert_eq!(delivery.status, Status::Processed, "{action:?}");
        let stored = s.issue(issue).await;
        match action {
            IssueAction::Labeled(_) => assert!(stored.labels.contains(&"bug".to_string())),
            IssueAction::Assigned(_) => {
                assert!(stored.assignees.contains(&"octocat".to_string()))
            }
            IssueAction::Pinned => assert!(stored.pinned),
            IssueAction::Closed => assert_eq!(stored.state, "closed"),
            IssueAction::Transferred(_) => {
                assert_eq!(stored.transferred_to.as_deref(), Some("octo-org/infra"))
            }
            _ => {}
        }
    }
    assert!(
        s.issue(issue).await.deleted_at.is_some(),
        "deleted issues are kept and marked"
    );
    s.stop().await;
}

#[sqlx::test]
async fn unknown_events_and_actions_are_recorded_not_failed(pool: PgPool) {
    let s = events_only(pool).await;
    let unknown = Webhook {
        event: "deployment_status",
        body: json!({ "action": "created", "installation": { "id": 1 } }),
    };
    assert_eq!(s.send(unknown).await.status, Status::Ignored);

    s.github(|m| {
        m.add_team(ORG, TEAM, "justice-league");
    });
    let mut future_team = s.github(|m| m.team_hook(TEAM, TeamAction::Created));
    future_team.body["action"] = json!("renamed_in_the_future");
    assert_eq!(s.send(future_team).await.status, Status::Ignored);

    // A known event with an action added by GitHub later still updates the PR it carries.
    let (pr, mut future_pr) = s.github(|m| {
        let id = m.add_pull(s.repo, MONA.github_id).id;
        (id, m.pull_hook(id, PullAction::Opened))
    });
    future_pr.body["action"] = json!("some_future_action");
    assert_eq!(s.send(future_pr).await.status, Status::Processed);
    assert!(
        mergecast::store::pulls::get(s.pool(), pr)
            .await
            .unwrap()
            .is_some()
    );
    s.stop().await;
}
