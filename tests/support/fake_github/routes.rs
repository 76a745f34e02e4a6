//! The endpoints the fake serves (https://docs.github.com/rest), parsed from the path and run
//! against the model: app installations and tokens, hook deliveries and redeliveries,
//! installation repositories, org members and memberships, users, pull requests with their reviews and commits,
//! and issues.

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::http::{Caller, Reply};
use super::json::{
    commit_json, delivery_json, full_user, installation_json, issue_json, membership_json,
    permissions, pull_json, repo_json, review_json, simple_user, ts,
};
use super::model::{HookDelivery, Issue, Model, Pull, Repo, Review, Token};
use super::paging::{Ctx, with_link};
use super::teams::OrgRoute;

/// The endpoints the fake serves.
pub(super) enum Route {
    /// `GET /app`: the authenticated app (https://docs.github.com/en/rest/apps/apps#get-the-authenticated-app).
    App,
    MintToken(i64),
    Installations,
    HookDeliveries,
    Redeliver(i64),
    InstallationRepos,
    OrgMembers(OrgRef),
    /// `GET /orgs/{org}/memberships/{username}`.
    OrgMembership(String, String),
    User(String),
    Pulls(RepoRef),
    Reviews(RepoRef, i32),
    PullCommits(RepoRef, i32),
    Issues(RepoRef),
    /// Teams and Copilot seats (teams.rs).
    Org(OrgRoute),
}

/// An organization as a path names it: `/orgs/{login}` or GitHub's own `/organizations/{id}`.
pub(super) enum OrgRef {
    Login(String),
    Id(i64),
}

/// A repository as a path names it: `/repos/{owner}/{name}` or GitHub's `/repositories/{id}`.
pub(super) enum RepoRef {
    Name(String, String),
    Id(i64),
}

impl Route {
    pub(super) fn parse(method: &Method, path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let get = *method == Method::GET;
        let post = *method == Method::POST;
        Some(match segments.as_slice() {
            ["app", "installations", id, "access_tokens"] if post => {
                Self::MintToken(id.parse().ok()?)
            }
            ["app"] if get => Self::App,
            ["app", "installations"] if get => Self::Installations,
            ["app", "hook", "deliveries"] if get => Self::HookDeliveries,
            ["app", "hook", "deliveries", id, "attempts"] if post => {
                Self::Redeliver(id.parse().ok()?)
            }
            ["installation", "repositories"] if get => Self::InstallationRepos,
            ["orgs", org, "members"] if get => Self::OrgMembers(OrgRef::Login(org.to_string())),
            ["orgs", org, "memberships", username] if get => {
                Self::OrgMembership(org.to_string(), username.to_string())
            }
            ["organizations", id, "members"] if get => {
                Self::OrgMembers(OrgRef::Id(id.parse().ok()?))
            }
            ["orgs", org, rest @ ..] if get => Self::Org(OrgRoute::parse(org, rest)?),
            ["users", login] if get => Self::User(login.to_string()),
            ["repos", owner, name, rest @ ..] if get => {
                Self::repo_route(RepoRef::Name(owner.to_string(), name.to_string()), rest)?
            }
            ["repositories", id, rest @ ..] if get => {
                Self::repo_route(RepoRef::Id(id.parse().ok()?), rest)?
            }
            _ => return None,
        })
    }

    pub(super) fn repo_route(repo: RepoRef, rest: &[&str]) -> Option<Self> {
        Some(match rest {
            ["pulls"] => Self::Pulls(repo),
            ["pulls", number, "reviews"] => Self::Reviews(repo, number.parse().ok()?),
            ["pulls", number, "commits"] => Self::PullCommits(repo, number.parse().ok()?),
            ["issues"] => Self::Issues(repo),
            _ => return None,
        })
    }

    /// App endpoints take the app's JWT; everything else an installation token.
    pub(super) fn takes_jwt(&self) -> bool {
        matches!(
            self,
            Self::App
                | Self::MintToken(_)
                | Self::Installations
                | Self::HookDeliveries
                | Self::Redeliver(_)
        )
    }
}

impl Route {
    pub(super) fn run(&self, model: &mut Model, cx: &Ctx<'_>, caller: Caller) -> Reply {
        let installation_id = match caller {
            Caller::App => 0,
            Caller::Installation(id) => id,
        };
        match self {
            Self::App => Reply::json(
                StatusCode::OK,
                &json!({
                    "id": model.app_id,
                    "slug": model.app_slug,
                    "name": "Mergecast",
                    "owner": { "login": model.app_owner, "type": "Organization" },
                    "html_url": format!("{}/apps/{}", model.api_url, model.app_slug),
                    "permissions": {"metadata": "read", "members": "read", "pull_requests": "read", "issues": "read"},
                    "events": ["issues", "member", "membership", "organization", "pull_request", "pull_request_review", "team"],
                    "installations_count": model.installations.len(),
                }),
            ),
            Self::MintToken(id) => mint_token(model, cx, *id),
            Self::Installations => {
                let mut installations = model.installations.clone();
                installations.sort_by_key(|i| i.id);
                let items = installations
                    .iter()
                    .map(|i| installation_json(cx, i))
                    .collect();
                cx.page_reply(items)
            }
            Self::HookDeliveries => hook_deliveries(model, cx),
            Self::Redeliver(id) => {
                if !model.hook_deliveries.iter().any(|d| d.id == *id) {
                    return Reply::not_found();
                }
                model.redelivery_requests.push(*id);
                Reply::json(StatusCode::ACCEPTED, &json!({}))
            }
            Self::InstallationRepos => {
                let items: Vec<Value> = model
                    .repos
                    .iter()
                    .filter(|r| r.installation_id == installation_id)
                    .map(|r| repo_json(cx, model, r))
                    .collect();
                let total = items.len();
                let (page, link) = cx.paginate(items);
                let body = json!({
                    "total_count": total,
                    "repository_selection": "all",
                    "repositories": page,
                });
                with_link(Reply::ok(&body), link)
            }
            Self::OrgMembers(org) => {
                let account = match org {
                    OrgRef::Login(login) => model
                        .installations
                        .iter()
                        .find(|i| i.account_login.eq_ignore_ascii_case(login)),
                    OrgRef::Id(id) => model.installations.iter().find(|i| i.account_id == *id),
                };
                let login = match (org, account) {
                    (OrgRef::Login(login), _) => login.as_str(),
                    (OrgRef::Id(_), Some(account)) => account.account_login.as_str(),
                    (OrgRef::Id(_), None) => return Reply::not_found(),
                };
                let Some(members) = model
                    .members
                    .iter()
                    .find(|(org, _)| org.eq_ignore_ascii_case(login))
                    .map(|(_, ids)| ids)
                else {
                    return Reply::not_found();
                };
                let path = match account {
                    Some(account) if model.github_link_paths => {
                        format!("/organizations/{}/members", account.account_id)
                    }
                    _ => cx.path.to_string(),
                };
                let cx = &Ctx { path: &path, ..*cx };
                let items = members
                    .iter()
                    .map(|&id| simple_user(cx, model, id))
                    .collect();
                cx.page_reply(items)
            }
            Self::OrgMembership(org, username) => {
                org_membership(model, cx, installation_id, org, username)
            }
            Self::User(login) => match model
                .users
                .values()
                .find(|u| u.login.eq_ignore_ascii_case(login))
            {
                Some(user) => Reply::ok(&full_user(cx, user)),
                None => Reply::not_found(),
            },
            Self::Pulls(repo) => match model.repo(installation_id, repo) {
                Some(repo) => {
                    let path = repo_link_path(model, cx, repo, "pulls");
                    pulls(model, &Ctx { path: &path, ..*cx }, repo)
                }
                None => Reply::not_found(),
            },
            Self::Reviews(repo, number) => {
                let Some((repo, pull)) = model.pull(installation_id, repo, *number) else {
                    return Reply::not_found();
                };
                let path = repo_link_path(model, cx, repo, &format!("pulls/{number}/reviews"));
                let cx = &Ctx { path: &path, ..*cx };
                let mut reviews: Vec<&Review> = model
                    .reviews
                    .iter()
                    .filter(|r| r.pull_id == pull.id)
                    .collect();
                reviews.sort_by_key(|r| (r.submitted_at, r.id));
                let items = reviews
                    .iter()
                    .map(|r| review_json(cx, model, repo, pull, r))
                    .collect();
                cx.page_reply(items)
            }
            // https://docs.github.com/en/rest/pulls/pulls#list-commits-on-a-pull-request:
            // oldest first, paginated, "a maximum of 250 commits"; `author` is the GitHub
            // account linked to the commit's email, or null.
            Self::PullCommits(repo, number) => {
                let Some((repo, pull)) = model.pull(installation_id, repo, *number) else {
                    return Reply::not_found();
                };
                let path = repo_link_path(model, cx, repo, &format!("pulls/{number}/commits"));
                let cx = &Ctx { path: &path, ..*cx };
                let items = model
                    .commits
                    .iter()
                    .filter(|c| c.pull_id == pull.id)
                    .take(250)
                    .map(|c| commit_json(cx, model, repo, c))
                    .collect();
                cx.page_reply(items)
            }
            Self::Issues(repo) => match model.repo(installation_id, repo) {
                Some(repo) => {
                    let path = repo_link_path(model, cx, repo, "issues");
                    issues(model, &Ctx { path: &path, ..*cx }, repo)
                }
                None => Reply::not_found(),
            },
            Self::Org(route) => route.run(model, cx, installation_id),
        }
    }
}

/// https://docs.github.com/en/rest/orgs/members#get-organization-membership-for-a-user: with
/// an installation token of that org (another org's token: 403, as for any resource the
/// installation cannot reach); 404 when the user is not a member.
pub(super) fn org_membership(
    model: &Model,
    cx: &Ctx<'_>,
    installation_id: i64,
    org: &str,
    username: &str,
) -> Reply {
    let Some(org_id) = model.org_id(org) else {
        return Reply::not_found();
    };
    let ours = model
        .installations
        .iter()
        .any(|i| i.id == installation_id && i.account_id == org_id);
    if !ours {
        return Reply::error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        );
    }
    let Some(user) = model
        .users
        .values()
        .find(|u| u.login.eq_ignore_ascii_case(username))
    else {
        return Reply::not_found();
    };
    match model.memberships.get(&(user.id, org_id)) {
        Some((role, state)) => Reply::ok(&membership_json(
            cx.base,
            (org, org_id),
            (user.id, &user.login),
            role,
            state,
        )),
        None => Reply::not_found(),
    }
}

/// The path `Link`s point at: the one requested, or GitHub's id-based one.
pub(super) fn repo_link_path(model: &Model, cx: &Ctx<'_>, repo: &Repo, rest: &str) -> String {
    if model.github_link_paths {
        format!("/repositories/{}/{rest}", repo.id)
    } else {
        cx.path.to_string()
    }
}

pub(super) fn mint_token(model: &mut Model, cx: &Ctx<'_>, id: i64) -> Reply {
    let Some(installation) = model.installations.iter().find(|i| i.id == id) else {
        return Reply::not_found();
    };
    if installation.suspended {
        return Reply::error(
            StatusCode::FORBIDDEN,
            "This installation has been suspended",
        );
    }
    let token = format!("ghs_{}", uuid::Uuid::new_v4().simple());
    let expires_at = cx.now + model.token_ttl;
    model.tokens.insert(
        token.clone(),
        Token {
            installation_id: id,
            expires_at,
        },
    );
    *model.mints.entry(id).or_default() += 1;
    Reply::json(
        StatusCode::CREATED,
        &json!({
            "token": token,
            "expires_at": ts(expires_at),
            "permissions": permissions(),
            "repository_selection": "all",
        }),
    )
}

pub(super) fn hook_deliveries(model: &Model, cx: &Ctx<'_>) -> Reply {
    let mut deliveries: Vec<&HookDelivery> = model.hook_deliveries.iter().collect();
    deliveries.sort_by(|a, b| b.delivered_at.cmp(&a.delivered_at).then(b.id.cmp(&a.id)));
    // The cursor names the last delivery already returned; the next page starts after it, so
    // deliveries arriving meanwhile (at the top) do not shift the pages.
    let start = match cx.param("cursor") {
        None => 0,
        Some(cursor) => {
            let after = cursor
                .strip_prefix("v1_")
                .and_then(|id| id.parse::<i64>().ok());
            match after.and_then(|id| deliveries.iter().position(|d| d.id == id)) {
                Some(position) => position + 1,
                None => {
                    return Reply::error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid cursor");
                }
            }
        }
    };
    let per_page = cx.per_page();
    let page: Vec<&HookDelivery> = deliveries
        .iter()
        .skip(start)
        .take(per_page)
        .copied()
        .collect();
    let items: Vec<Value> = page.iter().map(|d| delivery_json(d)).collect();
    let link = match page.last() {
        Some(last) if start + per_page < deliveries.len() => Some(format!(
            "<{}>; rel=\"next\"",
            cx.url_with("cursor", &format!("v1_{}", last.id))
        )),
        _ => None,
    };
    with_link(Reply::ok(&Value::Array(items)), link)
}

pub(super) fn pulls(model: &Model, cx: &Ctx<'_>, repo: &Repo) -> Reply {
    let state = cx.param("state").unwrap_or_else(|| "open".into());
    let mut pulls: Vec<&Pull> = model
        .pulls
        .iter()
        .filter(|p| p.repo_id == repo.id && (state == "all" || p.state == state))
        .collect();
    let sort = cx.param("sort");
    let by_updated = sort.as_deref() == Some("updated");
    // GitHub: `desc` by default when sorting by creation, `asc` for any other sort.
    let desc = cx.descending(matches!(sort.as_deref(), None | Some("created")));
    pulls.sort_by_key(|p| {
        let at = if by_updated {
            p.updated_at
        } else {
            p.created_at
        };
        (at, p.number)
    });
    if desc {
        pulls.reverse();
    }
    let items = pulls
        .iter()
        .map(|p| pull_json(cx, model, repo, p))
        .collect();
    cx.page_reply(items)
}

pub(super) fn issues(model: &Model, cx: &Ctx<'_>, repo: &Repo) -> Reply {
    let since = match cx.param("since") {
        None => None,
        Some(text) => match DateTime::parse_from_rfc3339(&text) {
            Ok(at) => Some(at.with_timezone(&Utc).timestamp()),
            Err(_) => return Reply::error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed"),
        },
    };
    let state = cx.param("state").unwrap_or_else(|| "open".into());
    let labels: Vec<String> = cx
        .param("labels")
        .map(|l| l.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    // Every pull request is also an issue; an explicit `Issue` with its number wins.
    let mut rows: Vec<Issue> = model
        .issues
        .iter()
        .filter(|i| i.repo_id == repo.id)
        .cloned()
        .collect();
    for pull in model.pulls.iter().filter(|p| p.repo_id == repo.id) {
        if !rows.iter().any(|i| i.number == pull.number) {
            rows.push(Issue::of_pull(pull));
        }
    }
    rows.retain(|i| {
        (state == "all" || i.state == state)
            && since.is_none_or(|since| i.updated_at.timestamp() >= since)
            && labels.iter().all(|l| i.labels.contains(l))
    });
    let by_updated = cx.param("sort").as_deref() == Some("updated");
    rows.sort_by_key(|i| {
        let at = if by_updated {
            i.updated_at
        } else {
            i.created_at
        };
        (at, i.number)
    });
    if cx.descending(true) {
        rows.reverse();
    }
    let items = rows
        .iter()
        .map(|i| issue_json(cx, model, repo, i))
        .collect();
    cx.page_reply(items)
}
