//! What catch-up reads from GitHub's REST API, as octocrab's models, and their conversion into
//! the domain types the store takes (the same ones webhooks fill, see `events`).
//!
//! octocrab's models are used where they parse GitHub's documented REST payloads: installation
//! repositories, org members and users, pull requests, reviews and hook deliveries. Two lists
//! keep our own types, each for a reason a test below pins:
//! - installations (`GET /app/installations`): `octocrab::models::Installation` has no
//!   `suspended_at`, and catch-up must tell suspended installations apart;
//! - issues (`GET /repos/{owner}/{repo}/issues`): `octocrab::models::issues::Issue` has no `type`
//!   (issue types: a sync would erase what webhooks stored), and its `state_reason` enum rejects
//!   values GitHub adds later, which would fail the whole page.

use octocrab::models::pulls::{PullRequest as RestPullRequest, Review as RestReview};
use octocrab::models::{Author, IssueState};
use serde_json::Value;

use super::events::{GitRef, Label, Milestone, PullRequest, RepositoryStub, Review, User};

pub use octocrab::models::hooks::Delivery;
pub use octocrab::models::{InstallationRepositories, UserProfile};

/// An author (simple user) as our `User` (no name or email: lists do not carry them).
pub fn user(author: &Author) -> User {
    User {
        id: author.id.0 as i64,
        login: author.login.clone(),
        kind: Some(author.r#type.clone()),
        name: author.name.clone(),
        email: author.email.clone(),
    }
}

/// A repository of `GET /installation/repositories` as the stub installation events carry.
pub fn repository(repo: &octocrab::models::Repository) -> RepositoryStub {
    let full_name = repo.full_name.clone().unwrap_or_else(|| {
        let owner = repo.owner.as_ref().map(|o| o.login.as_str()).unwrap_or("");
        format!("{owner}/{}", repo.name)
    });
    RepositoryStub {
        id: repo.id.0 as i64,
        name: repo.name.clone(),
        full_name,
        private: repo.private.unwrap_or(false),
    }
}

/// Why a listed pull request cannot be stored.
#[derive(Debug, thiserror::Error)]
#[error("pull request {id} in the list has no {field}")]
pub struct Incomplete {
    pub id: u64,
    pub field: &'static str,
}

/// A pull request of `GET /repos/{owner}/{repo}/pulls` as the webhook type the store takes.
pub fn pull_request(pr: &RestPullRequest) -> Result<PullRequest, Incomplete> {
    let missing = |field| Incomplete { id: pr.id.0, field };
    fn values<T: serde::Serialize>(items: Option<&Vec<T>>) -> Vec<Value> {
        items
            .into_iter()
            .flatten()
            .filter_map(|item| serde_json::to_value(item).ok())
            .collect()
    }
    Ok(PullRequest {
        id: pr.id.0 as i64,
        number: i32::try_from(pr.number).map_err(|_| missing("number"))?,
        title: pr.title.clone().ok_or_else(|| missing("title"))?,
        state: match pr.state.as_ref().ok_or_else(|| missing("state"))? {
            IssueState::Closed => "closed".into(),
            _ => "open".into(),
        },
        draft: pr.draft.unwrap_or(false),
        locked: pr.locked,
        user: pr.user.as_deref().map(user),
        html_url: pr.html_url.as_ref().map(|u| u.to_string()),
        head: GitRef {
            name: pr.head.ref_field.clone(),
            sha: pr.head.sha.clone(),
        },
        base: GitRef {
            name: pr.base.ref_field.clone(),
            sha: pr.base.sha.clone(),
        },
        merged: pr.merged,
        merged_at: pr.merged_at,
        merged_by: pr.merged_by.as_deref().map(user),
        merge_commit_sha: pr.merge_commit_sha.clone(),
        labels: pr
            .labels
            .iter()
            .flatten()
            .map(|l| Label {
                name: l.name.clone(),
                color: Some(l.color.clone()),
            })
            .collect(),
        assignees: pr.assignees.iter().flatten().map(user).collect(),
        requested_reviewers: values(pr.requested_reviewers.as_ref()),
        requested_teams: values(pr.requested_teams.as_ref()),
        milestone: pr.milestone.as_ref().map(|m| Milestone {
            title: m.title.clone(),
        }),
        auto_merge: pr
            .auto_merge
            .as_ref()
            .and_then(|a| serde_json::to_value(a).ok()),
        additions: pr.additions.and_then(|n| i32::try_from(n).ok()),
        deletions: pr.deletions.and_then(|n| i32::try_from(n).ok()),
        changed_files: pr.changed_files.and_then(|n| i32::try_from(n).ok()),
        created_at: pr.created_at,
        updated_at: pr.updated_at.ok_or_else(|| missing("updated_at"))?,
        closed_at: pr.closed_at,
    })
}

/// A review of `GET /repos/{owner}/{repo}/pulls/{number}/reviews` as the webhook type.
pub fn review(r: &RestReview) -> Review {
    // GitHub's spelling (`APPROVED`, `CHANGES_REQUESTED`): octocrab serializes it back so.
    let state = r
        .state
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Review {
        id: r.id.0 as i64,
        user: r.user.as_ref().map(user),
        body: r.body.clone(),
        commit_id: r.commit_id.clone(),
        state,
        html_url: Some(r.html_url.to_string()),
        submitted_at: r.submitted_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn simple_user(id: i64, login: &str) -> Value {
        let api = format!("https://api.github.com/users/{login}");
        json!({
            "login": login, "id": id, "node_id": "MDQ6VXNlcjE=",
            "avatar_url": "https://github.com/images/error/octocat_happy.gif",
            "gravatar_id": "", "url": api, "html_url": format!("https://github.com/{login}"),
            "followers_url": format!("{api}/followers"),
            "following_url": format!("{api}/following{{/other_user}}"),
            "gists_url": format!("{api}/gists{{/gist_id}}"),
            "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{api}/subscriptions"),
            "organizations_url": format!("{api}/orgs"),
            "repos_url": format!("{api}/repos"),
            "events_url": format!("{api}/events{{/privacy}}"),
            "received_events_url": format!("{api}/received_events"),
            "type": "User", "site_admin": false
        })
    }

    /// An issue as https://docs.github.com/en/rest/issues/issues#list-repository-issues shows it,
    /// with an issue type and a `state_reason` newer than octocrab's enum.
    fn documented_issue(state_reason: &str) -> Value {
        let api = "https://api.github.com/repos/octocat/Hello-World";
        json!({
            "id": 1, "node_id": "MDU6SXNzdWUx", "url": format!("{api}/issues/1347"),
            "repository_url": api, "labels_url": format!("{api}/issues/1347/labels{{/name}}"),
            "comments_url": format!("{api}/issues/1347/comments"),
            "events_url": format!("{api}/issues/1347/events"),
            "html_url": "https://github.com/octocat/Hello-World/issues/1347",
            "number": 1347, "state": "closed", "state_reason": state_reason,
            "title": "Found a bug", "body": null, "user": simple_user(1, "octocat"),
            "labels": [], "assignee": null, "assignees": [], "milestone": null,
            "locked": false, "comments": 0, "closed_at": "2011-04-22T13:33:48Z",
            "created_at": "2011-04-22T13:33:48Z", "updated_at": "2011-04-22T13:33:48Z",
            "author_association": "COLLABORATOR",
            "type": { "id": 410, "node_id": "IT_kwDNAd3NAZo", "name": "Bug",
                      "description": "An unexpected problem", "color": "red" }
        })
    }

    #[test]
    fn issues_keep_our_type() {
        use super::super::events::Issue;
        // octocrab's Issue parses the documented payload but has nowhere to keep its type...
        let octo: octocrab::models::issues::Issue =
            serde_json::from_value(documented_issue("completed")).expect("octocrab parses it");
        let reserialized = serde_json::to_value(&octo).unwrap();
        assert!(
            reserialized.get("type").is_none(),
            "octocrab keeps no `type`"
        );
        // ...and rejects a state_reason it does not know, failing the whole page.
        assert!(
            serde_json::from_value::<octocrab::models::issues::Issue>(documented_issue(
                "resolved_elsewhere"
            ))
            .is_err()
        );
        let ours: Issue = serde_json::from_value(documented_issue("resolved_elsewhere")).unwrap();
        assert_eq!(ours.state_reason.as_deref(), Some("resolved_elsewhere"));
        assert_eq!(ours.issue_type.unwrap()["name"], "Bug");
    }

    #[test]
    fn installations_keep_our_type() {
        use super::super::events::Installation;
        // https://docs.github.com/en/rest/apps/apps#list-installations-for-the-authenticated-app
        let documented = json!({
            "id": 1, "account": simple_user(2, "octo-org"),
            "access_tokens_url": "https://api.github.com/app/installations/1/access_tokens",
            "repositories_url": "https://api.github.com/installation/repositories",
            "html_url": "https://github.com/organizations/github/settings/installations/1",
            "app_id": 1, "target_id": 1, "target_type": "Organization",
            "permissions": { "checks": "write", "metadata": "read", "contents": "read" },
            "events": ["push", "pull_request"], "single_file_name": "config.yaml",
            "repository_selection": "selected",
            "created_at": "2018-02-09T20:51:14Z", "updated_at": "2018-02-09T20:51:14Z",
            "app_slug": "github-actions", "suspended_at": "2018-02-10T20:51:14Z",
            "suspended_by": simple_user(3, "admin")
        });
        let octo: octocrab::models::Installation =
            serde_json::from_value(documented.clone()).expect("octocrab parses it");
        assert!(
            serde_json::to_value(&octo)
                .unwrap()
                .get("suspended_at")
                .is_none(),
            "octocrab keeps no `suspended_at`"
        );
        let ours: Installation = serde_json::from_value(documented).unwrap();
        assert!(ours.suspended_at.is_some());
    }

    #[test]
    fn converts_pull_requests_and_reviews() {
        let api = "https://api.github.com/repos/octocat/Hello-World";
        let pr: RestPullRequest = serde_json::from_value(json!({
            "url": format!("{api}/pulls/1347"), "id": 1, "node_id": "MDExOlB1bGxSZXF1ZXN0MQ==",
            "html_url": "https://github.com/octocat/Hello-World/pull/1347",
            "number": 1347, "state": "closed", "locked": true, "title": "Amazing new feature",
            "user": simple_user(1, "octocat"), "body": null,
            "labels": [{ "id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=",
                         "url": format!("{api}/labels/bug"), "name": "bug",
                         "description": null, "color": "f29513", "default": true }],
            "milestone": null, "active_lock_reason": "too heated",
            "created_at": "2011-01-26T19:01:12Z", "updated_at": "2011-01-26T19:01:13Z",
            "closed_at": "2011-01-26T19:01:12Z", "merged_at": "2011-01-26T19:01:12Z",
            "merge_commit_sha": "e5bd3914e2e596debea16f433f57875b5b90bcd6",
            "assignee": null, "assignees": [simple_user(4, "hubot")],
            "requested_reviewers": [simple_user(5, "other_user")], "requested_teams": [],
            "head": { "label": "octocat:new-topic", "ref": "new-topic",
                      "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e" },
            "base": { "label": "octocat:master", "ref": "master",
                      "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e" },
            "author_association": "OWNER", "auto_merge": null, "draft": false
        }))
        .expect("documented pull request");
        let ours = pull_request(&pr).unwrap();
        assert_eq!(
            (ours.id, ours.number, ours.state.as_str()),
            (1, 1347, "closed")
        );
        assert!(ours.is_merged() && ours.locked && !ours.draft);
        assert_eq!(ours.user.as_ref().unwrap().login, "octocat");
        assert_eq!(ours.user.unwrap().kind.as_deref(), Some("User"));
        assert_eq!(ours.head.name, "new-topic");
        assert_eq!(ours.labels[0].name, "bug");
        assert_eq!(ours.assignees[0].login, "hubot");
        assert_eq!(ours.requested_reviewers[0]["login"], "other_user");

        let rest_review: RestReview = serde_json::from_value(json!({
            "id": 80, "node_id": "MDE3OlB1bGxSZXF1ZXN0UmV2aWV3ODA=",
            "user": simple_user(1, "octocat"), "body": "Here is the body for the review.",
            "state": "CHANGES_REQUESTED",
            "html_url": "https://github.com/octocat/Hello-World/pull/12#pullrequestreview-80",
            "pull_request_url": format!("{api}/pulls/12"),
            "submitted_at": "2019-11-17T17:43:43Z",
            "commit_id": "ecdd80bb57125d7ba9641ffaa4d7d2c19d3f3091",
            "author_association": "COLLABORATOR"
        }))
        .expect("documented review");
        let ours = super::review(&rest_review);
        assert_eq!(
            (
                ours.id,
                ours.state.as_str(),
                ours.user.unwrap().login.as_str()
            ),
            (80, "CHANGES_REQUESTED", "octocat")
        );
    }
}
