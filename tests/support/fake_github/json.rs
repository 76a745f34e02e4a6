//! GitHub's JSON shapes for what the model holds, with the fields GitHub documents: the simple
//! and public user, installation, repository, pull request, review, commit, label, issue and hook
//! delivery (https://docs.github.com/rest). Webhook payloads embed the same shapes.

use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::GHOST_ID;
use super::model::{Commit, HookDelivery, Installation, Issue, Model, Pull, Repo, Review, User};
use super::paging::Ctx;

pub(super) fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(super) fn ts_opt(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |at| Value::String(ts(at)))
}

/// A stable commit-like SHA for `seed`.
pub(super) fn fake_sha(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))[..40].to_string()
}

pub(super) fn permissions() -> Value {
    json!({
        "issues": "read",
        "members": "read",
        "metadata": "read",
        "pull_requests": "read",
    })
}

pub(super) fn installation_json(cx: &Ctx<'_>, i: &Installation) -> Value {
    let account = json!({
        "login": i.account_login,
        "id": i.account_id,
        "node_id": format!("O_kgDO{}", i.account_id),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{}?v=4", i.account_id),
        "type": i.account_type,
        "site_admin": false,
    });
    json!({
        "id": i.id,
        "account": account,
        "repository_selection": "all",
        "access_tokens_url": format!("{}/app/installations/{}/access_tokens", cx.base, i.id),
        "repositories_url": format!("{}/installation/repositories", cx.base),
        "html_url": format!(
            "https://github.com/organizations/{}/settings/installations/{}",
            i.account_login, i.id
        ),
        "app_id": cx.app_id,
        "app_slug": "mergecast",
        "target_id": i.account_id,
        "target_type": i.account_type,
        "permissions": permissions(),
        "events": ["issues", "member", "organization", "pull_request", "pull_request_review"],
        "created_at": ts(i.updated_at),
        "updated_at": ts(i.updated_at),
        "single_file_name": null,
        "suspended_by": null,
        "suspended_at": if i.suspended { Value::String(ts(i.updated_at)) } else { Value::Null },
    })
}

pub(super) fn ghost() -> User {
    User::new(GHOST_ID, "ghost")
}

/// GitHub's "simple user" (every user or organization embedded in another object, and the items
/// of `/orgs/{org}/members`), with all the fields it documents:
/// https://docs.github.com/en/rest/orgs/members#list-organization-members
pub(super) fn user_core(cx: &Ctx<'_>, u: &User) -> Value {
    account_json(cx.base, u.id, &u.login, &u.kind)
}

/// The simple-user shape for any account (user, bot or organization) under API base `base`.
pub(super) fn account_json(base: &str, id: i64, login: &str, kind: &str) -> Value {
    let api = format!("{base}/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_kgDO{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

/// The simple user GitHub embeds in lists; unknown ids come back as `ghost`, like deleted
/// accounts do.
pub(super) fn simple_user(cx: &Ctx<'_>, model: &Model, id: i64) -> Value {
    match model.users.get(&id) {
        Some(user) => user_core(cx, user),
        None => user_core(cx, &ghost()),
    }
}

/// GitHub's "public user" (`GET /users/{username}`, and `GET /user` without the `user` scope):
/// https://docs.github.com/en/rest/users/users#get-a-user
pub(super) fn full_user(cx: &Ctx<'_>, u: &User) -> Value {
    profile_json(cx.base, u)
}

pub(super) fn profile_json(base: &str, u: &User) -> Value {
    let mut user = account_json(base, u.id, &u.login, &u.kind);
    let extra = json!({
        "name": u.name,
        "company": null,
        "blog": "",
        "location": null,
        "email": u.email,
        "hireable": null,
        "bio": null,
        "twitter_username": null,
        "public_repos": 0,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": "2015-03-14T09:26:53Z",
        "updated_at": "2024-01-02T03:04:05Z",
    });
    if let (Value::Object(user), Value::Object(extra)) = (&mut user, extra) {
        user.extend(extra);
    }
    user
}

pub(super) fn repo_json(cx: &Ctx<'_>, model: &Model, r: &Repo) -> Value {
    let full_name = format!("{}/{}", r.owner, r.name);
    let (owner_id, owner_type) = model
        .installations
        .iter()
        .find(|i| i.account_login.eq_ignore_ascii_case(&r.owner))
        .map(|i| (i.account_id, i.account_type.clone()))
        .or_else(|| {
            model
                .users
                .values()
                .find(|u| u.login.eq_ignore_ascii_case(&r.owner))
                .map(|u| (u.id, u.kind.clone()))
        })
        .unwrap_or((0, "Organization".into()));
    json!({
        "id": r.id,
        "node_id": format!("R_kgDO{}", r.id),
        "name": r.name,
        "full_name": full_name,
        "private": r.private,
        "owner": account_json(cx.base, owner_id, &r.owner, &owner_type),
        "html_url": format!("https://github.com/{full_name}"),
        "url": format!("{}/repos/{full_name}", cx.base),
        "description": null,
        "fork": false,
        "archived": false,
        "visibility": if r.private { "private" } else { "public" },
        "default_branch": "main",
    })
}

pub(super) fn pull_json(cx: &Ctx<'_>, model: &Model, repo: &Repo, p: &Pull) -> Value {
    let full_name = format!("{}/{}", repo.owner, repo.name);
    let api = format!("{}/repos/{full_name}", cx.base);
    let head_ref = format!("feature-{}", p.number);
    let head = json!({
        "label": format!("{}:{head_ref}", repo.owner),
        "ref": head_ref,
        "sha": head_sha(p),
    });
    let base = json!({
        "label": format!("{}:main", repo.owner),
        "ref": "main",
        "sha": fake_sha(&format!("base:{}", p.id)),
    });
    json!({
        "url": format!("{api}/pulls/{}", p.number),
        "id": p.id,
        "node_id": format!("PR_kwDO{}", p.id),
        "html_url": format!("https://github.com/{full_name}/pull/{}", p.number),
        "issue_url": format!("{api}/issues/{}", p.number),
        "number": p.number,
        "state": p.state,
        "locked": p.locked,
        "title": p.title,
        "user": simple_user(cx, model, p.author_id),
        "body": null,
        "created_at": ts(p.created_at),
        "updated_at": ts(p.updated_at),
        "closed_at": ts_opt(p.closed_at),
        "merged_at": ts_opt(p.merged_at),
        "merge_commit_sha": p.merged_at.map(|_| fake_sha(&format!("merge:{}", p.id))),
        "assignee": p.assignees.first().map(|&id| simple_user(cx, model, id)),
        "assignees": users(cx, model, &p.assignees),
        "requested_reviewers": users(cx, model, &p.requested_reviewers),
        "requested_teams": [],
        "labels": p.labels.iter().map(|l| label_json(&api, l)).collect::<Vec<_>>(),
        "milestone": p.milestone.as_ref().map(|title| milestone_json(&api, title)),
        "draft": p.draft,
        "head": head,
        "base": base,
        "author_association": "MEMBER",
        "auto_merge": p.auto_merge.then(|| json!({
            "enabled_by": simple_user(cx, model, p.author_id),
            "merge_method": "squash",
            "commit_title": null,
            "commit_message": null,
        })),
        "active_lock_reason": p.locked.then_some("resolved"),
    })
}

pub(super) fn review_json(
    cx: &Ctx<'_>,
    model: &Model,
    repo: &Repo,
    pull: &Pull,
    r: &Review,
) -> Value {
    let full_name = format!("{}/{}", repo.owner, repo.name);
    json!({
        "id": r.id,
        "node_id": format!("PRR_kwDO{}", r.id),
        "user": simple_user(cx, model, r.reviewer_id),
        "body": "",
        "state": r.state,
        "html_url": format!(
            "https://github.com/{full_name}/pull/{}#pullrequestreview-{}",
            pull.number, r.id
        ),
        "pull_request_url": format!("{}/repos/{full_name}/pulls/{}", cx.base, pull.number),
        "author_association": "MEMBER",
        "submitted_at": ts(r.submitted_at),
        "commit_id": head_sha(pull),
    })
}

pub(super) fn commit_json(cx: &Ctx<'_>, model: &Model, repo: &Repo, c: &Commit) -> Value {
    let full_name = format!("{}/{}", repo.owner, repo.name);
    let git_author = json!({ "name": c.author_name, "email": c.author_email, "date": ts(c.date) });
    let author = c
        .author_id
        .map(|id| simple_user(cx, model, id))
        .unwrap_or(Value::Null);
    json!({
        "sha": c.sha,
        "node_id": format!("C_kwDO{}", &c.sha[..12.min(c.sha.len())]),
        "url": format!("{}/repos/{full_name}/commits/{}", cx.base, c.sha),
        "html_url": format!("https://github.com/{full_name}/commit/{}", c.sha),
        "commit": {
            "author": git_author,
            "committer": git_author,
            "message": "work",
            "tree": { "sha": fake_sha(&format!("tree:{}", c.sha)), "url": "" },
            "comment_count": 0,
        },
        "author": author,
        "committer": author,
        "parents": [],
    })
}

/// The head commit of a pull request's branch: a new one after each push.
pub(super) fn head_sha(p: &Pull) -> String {
    if p.pushes == 0 {
        fake_sha(&format!("head:{}", p.id))
    } else {
        fake_sha(&format!("head:{}:{}", p.id, p.pushes))
    }
}

/// Simple users for `ids`, in order.
pub(super) fn users(cx: &Ctx<'_>, model: &Model, ids: &[i64]) -> Vec<Value> {
    ids.iter().map(|&id| simple_user(cx, model, id)).collect()
}

/// A milestone as issues and pull requests embed it:
/// https://docs.github.com/en/rest/issues/milestones#get-a-milestone
pub(super) fn milestone_json(repo_api: &str, title: &str) -> Value {
    let number =
        i64::from_str_radix(&hex::encode(Sha256::digest(title.as_bytes()))[..4], 16).unwrap_or(1);
    json!({
        "url": format!("{repo_api}/milestones/{number}"),
        "id": number,
        "number": number,
        "title": title,
        "description": null,
        "state": "open",
        "open_issues": 1,
        "closed_issues": 0,
        "due_on": null,
    })
}

/// An issue type as issues embed it (`type`):
/// https://docs.github.com/en/rest/orgs/issue-types
pub(super) fn issue_type_json(name: &str) -> Value {
    let id =
        i64::from_str_radix(&hex::encode(Sha256::digest(name.as_bytes()))[..6], 16).unwrap_or(1);
    json!({
        "id": id,
        "node_id": format!("IT_kwDO{id}"),
        "name": name,
        "description": null,
        "color": "gray",
        "is_enabled": true,
    })
}

pub(super) fn label_json(repo_api: &str, name: &str) -> Value {
    let digest = hex::encode(Sha256::digest(name.as_bytes()));
    json!({
        "id": i64::from_str_radix(&digest[..12], 16).unwrap_or(1),
        "node_id": format!("LA_kwDO{}", &digest[..12]),
        "url": format!("{repo_api}/labels/{}", name.replace(' ', "%20")),
        "name": name,
        "color": &digest[..6],
        "default": false,
        "description": null,
    })
}

pub(super) fn issue_json(cx: &Ctx<'_>, model: &Model, repo: &Repo, i: &Issue) -> Value {
    let full_name = format!("{}/{}", repo.owner, repo.name);
    let api = format!("{}/repos/{full_name}", cx.base);
    let kind = if i.is_pull_request { "pull" } else { "issues" };
    let state_reason = (i.state == "closed" && !i.is_pull_request).then_some("completed");
    let mut issue = json!({
        "url": format!("{api}/issues/{}", i.number),
        "repository_url": api,
        "labels_url": format!("{api}/issues/{}/labels{{/name}}", i.number),
        "comments_url": format!("{api}/issues/{}/comments", i.number),
        "events_url": format!("{api}/issues/{}/events", i.number),
        "id": i.id,
        "node_id": format!("I_kwDO{}", i.id),
        "number": i.number,
        "title": i.title,
        "user": simple_user(cx, model, i.author_id),
        "labels": i.labels.iter().map(|l| label_json(&api, l)).collect::<Vec<_>>(),
        "state": i.state,
        "state_reason": state_reason,
        "locked": i.locked,
        "assignee": i.assignees.first().map(|&id| simple_user(cx, model, id)),
        "assignees": users(cx, model, &i.assignees),
        "milestone": i.milestone.as_ref().map(|title| milestone_json(&api, title)),
        "type": i.issue_type.as_ref().map(|name| issue_type_json(name)),
        "comments": 0,
        "created_at": ts(i.created_at),
        "updated_at": ts(i.updated_at),
        "closed_at": ts_opt(i.closed_at),
        "author_association": "MEMBER",
        "body": null,
        "html_url": format!("https://github.com/{full_name}/{kind}/{}", i.number),
    });
    if i.is_pull_request {
        let merged_at = model
            .pulls
            .iter()
            .find(|p| p.repo_id == repo.id && p.number == i.number)
            .and_then(|p| p.merged_at);
        issue["pull_request"] = json!({
            "url": format!("{api}/pulls/{}", i.number),
            "html_url": format!("https://github.com/{full_name}/pull/{}", i.number),
            "diff_url": format!("https://github.com/{full_name}/pull/{}.diff", i.number),
            "patch_url": format!("https://github.com/{full_name}/pull/{}.patch", i.number),
            "merged_at": ts_opt(merged_at),
        });
    }
    issue
}

pub(super) fn delivery_json(d: &HookDelivery) -> Value {
    let status = match d.status_code {
        0 => "timed out",
        200..=299 => "OK",
        code => StatusCode::from_u16(code)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Invalid HTTP Response"),
    };
    json!({
        "id": d.id,
        "guid": d.guid,
        "delivered_at": ts(d.delivered_at),
        "redelivery": d.redelivery,
        "duration": 0.27,
        "status": status,
        "status_code": d.status_code,
        "event": d.event,
        "action": d.action,
        "installation_id": d.installation_id,
        "repository_id": null,
        "throttled_at": null,
    })
}

/// An org membership (`org-membership`), as both membership endpoints answer it
/// (https://docs.github.com/en/rest/orgs/members#get-organization-membership-for-a-user).
pub(super) fn membership_json(
    base: &str,
    org: (&str, i64),
    user: (i64, &str),
    role: &str,
    state: &str,
) -> Value {
    let ((org, org_id), (user_id, login)) = (org, user);
    let org_api = format!("{base}/orgs/{org}");
    json!({
        "url": format!("{org_api}/memberships/{login}"),
        "state": state,
        "role": role,
        "organization_url": org_api,
        "organization": org_json(base, org, org_id),
        "user": account_json(base, user_id, login, "User"),
    })
}

/// An organization as GitHub embeds it ("organization simple") under API base `base`.
pub(super) fn org_json(base: &str, login: &str, id: i64) -> Value {
    let api = format!("{base}/orgs/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": format!("O_kgDO{id}"),
        "url": api,
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events"),
        "hooks_url": format!("{api}/hooks"),
        "issues_url": format!("{api}/issues"),
        "members_url": format!("{api}/members{{/member}}"),
        "public_members_url": format!("{api}/public_members{{/member}}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "description": null,
    })
}
