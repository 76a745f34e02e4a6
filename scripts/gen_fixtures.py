#!/usr/bin/env python3
"""Generate synthesized GitHub webhook payload fixtures for Mergecast.

Writes one JSON body per handled (event, action) into fixtures/github/, named
`<event>.<action>.json` (the X-GitHub-Event header value is the part of the file
name before the first dot).  These bodies are invented, not captured from GitHub:
made-up ids, logins and timestamps telling one consistent story for the
end-to-end tests, modelled on the payload shapes GitHub documents at
https://docs.github.com/en/webhooks/webhook-events-and-payloads.  GitHub's own
published examples live in fixtures/github/examples/ (see fixtures/README.md),
and the parser is tested against those; the pairs marked "lacking" there are
the ones only this script covers.

All ids, logins, timestamps and shas are deterministic, so re-running the
script reproduces the same bytes.  Python 3.11, standard library only.

    python3 scripts/gen_fixtures.py            # write + validate
    python3 scripts/gen_fixtures.py --check    # validate the existing files only
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "github"

API = "https://api.github.com"
WEB = "https://github.com"

# --------------------------------------------------------------------------------------------
# Shared ids (mirrored in fixtures/github/README.md)
# --------------------------------------------------------------------------------------------
APP_ID = 123456
APP_SLUG = "mergecast"
APP_CLIENT_ID = "Iv23liMrgcst8kQ4a2Xz"
INSTALLATION_ID = 41234567
HOOK_ID = 512345678

ORG_LOGIN = "octo-org"
ORG_OLD_LOGIN = "octo-org-old"
ORG_ID = 9919
ORG_NODE_ID = "MDEyOk9yZ2FuaXphdGlvbjk5MTk="

REPO_NAME, REPO_ID = "hello-world", 1296269
INFRA_NAME, INFRA_ID = "infra", 1296270

PR_NUMBER, PR_ID = 42, 279147437
PR_TITLE = "Add retry to the webhook worker"
HEAD_REF, BASE_REF = "feature/retry", "main"

ISSUE_NUMBER, ISSUE_ID = 7, 1347
ISSUE_TITLE = "Webhook deliveries time out"
TRANSFERRED_ISSUE_NUMBER, TRANSFERRED_ISSUE_ID = 15, 1348

REVIEW_ID = 80
TEAM_ID, TEAM_SLUG, TEAM_NAME = 2001, "platform", "platform"
MILESTONE_ID, MILESTONE_NUMBER = 5021, 1
INVITATION_ID = 54001
ISSUE_TYPE_ID = 411


def legacy_node_id(kind: str, ident: int) -> str:
    """GitHub's legacy global node id: base64("0<len(kind)>:<kind><id>")."""
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


def sha(seed: str) -> str:
    """A deterministic, realistic-looking 40-hex commit sha."""
    return hashlib.sha1(seed.encode()).hexdigest()


def ts(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def at(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=timezone.utc)


# --------------------------------------------------------------------------------------------
# Users, organization
# --------------------------------------------------------------------------------------------
USERS = {
    # login: (id, type)
    "mona": (583231, "User"),
    "hubot": (1000001, "User"),
    "octocat": (1000002, "User"),
    "newbie": (1000003, "User"),
    "dependabot[bot]": (49699333, "Bot"),
}


def user(login: str) -> dict:
    """A full `simple-user` object, as GitHub embeds users in webhook payloads."""
    if login == ORG_LOGIN:
        ident, kind, node = ORG_ID, "Organization", ORG_NODE_ID
    else:
        ident, kind = USERS[login]
        node = legacy_node_id(kind, ident)
    path = login.replace("[", "%5B").replace("]", "%5D")
    if kind == "Bot":
        avatar = "https://avatars.githubusercontent.com/in/29110?v=4"
        html = f"{WEB}/apps/{login.removesuffix('[bot]')}"
    else:
        avatar = f"https://avatars.githubusercontent.com/u/{ident}?v=4"
        html = f"{WEB}/{login}"
    base = f"{API}/users/{path}"
    return {
        "login": login,
        "id": ident,
        "node_id": node,
        "avatar_url": avatar,
        "gravatar_id": "",
        "url": base,
        "html_url": html,
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": kind,
        "user_view_type": "public",
        "site_admin": False,
    }


def org() -> dict:
    """`organization` as sent in webhook payloads (organization-simple)."""
    base = f"{API}/orgs/{ORG_LOGIN}"
    return {
        "login": ORG_LOGIN,
        "id": ORG_ID,
        "node_id": ORG_NODE_ID,
        "url": base,
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events",
        "hooks_url": f"{base}/hooks",
        "issues_url": f"{base}/issues",
        "members_url": f"{base}/members{{/member}}",
        "public_members_url": f"{base}/public_members{{/member}}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{ORG_ID}?v=4",
        "description": "Tools and services for the Octo platform.",
    }


def org_account_full() -> dict:
    """The organization `account` object of an installation_target event."""
    base = f"{API}/orgs/{ORG_LOGIN}"
    return {
        "login": ORG_LOGIN,
        "id": ORG_ID,
        "node_id": ORG_NODE_ID,
        "url": base,
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events",
        "hooks_url": f"{base}/hooks",
        "issues_url": f"{base}/issues",
        "members_url": f"{base}/members{{/member}}",
        "public_members_url": f"{base}/public_members{{/member}}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{ORG_ID}?v=4",
        "description": None,
        "name": "Octo Org",
        "website_url": None,
        "html_url": f"{WEB}/{ORG_LOGIN}",
        "has_organization_projects": True,
        "has_repository_projects": True,
        "public_repos": 14,
        "public_gists": 0,
        "followers": 42,
        "following": 0,
        "is_verified": False,
        "archived_at": None,
        "type": "Organization",
        "created_at": "2010-03-15T17:42:09Z",
        "updated_at": ts(at(2, 9, 30)),
    }


def installation_ref() -> dict:
    return {"id": INSTALLATION_ID, "node_id": legacy_node_id("IntegrationInstallation", INSTALLATION_ID)}


# --------------------------------------------------------------------------------------------
# Repositories
# --------------------------------------------------------------------------------------------
REPO_META = {
    REPO_NAME: {
        "id": REPO_ID,
        "private": False,
        "description": "Hello World service: webhook intake and delivery workers.",
        "homepage": "https://octo-org.github.io/hello-world",
        "language": "Rust",
        "size": 1842,
        "stars": 37,
        "forks": 4,
        "open_issues": 8,
        "topics": ["rust", "service", "webhooks"],
        "created_at": "2011-01-26T19:01:12Z",
        "has_discussions": False,
        "custom_properties": {"team": "platform", "tier": "1"},
    },
    INFRA_NAME: {
        "id": INFRA_ID,
        "private": True,
        "description": "Infrastructure as code for the Octo platform.",
        "homepage": None,
        "language": "HCL",
        "size": 6210,
        "stars": 5,
        "forks": 0,
        "open_issues": 3,
        "topics": ["infrastructure", "terraform"],
        "created_at": "2011-01-26T19:14:43Z",
        "has_discussions": False,
        "custom_properties": {"team": "platform", "tier": "2"},
    },
}

MIT = {
    "key": "mit",
    "name": "MIT License",
    "spdx_id": "MIT",
    "url": f"{API}/licenses/mit",
    "node_id": "MDc6TGljZW5zZTEz",
}


def repo_stub(name: str) -> dict:
    """The short repository form used by installation payloads."""
    meta = REPO_META[name]
    return {
        "id": meta["id"],
        "node_id": legacy_node_id("Repository", meta["id"]),
        "name": name,
        "full_name": f"{ORG_LOGIN}/{name}",
        "private": meta["private"],
    }


def repo(
    name: str = REPO_NAME,
    *,
    pushed_at: datetime,
    updated_at: datetime | None = None,
    open_issues: int | None = None,
    merge_settings: bool = False,
    permissions: dict | None = None,
) -> dict:
    """A full repository object (~80 fields), as in `repository` of a webhook payload.

    `merge_settings` adds the merge-button settings GitHub includes in the `head.repo` /
    `base.repo` of pull request objects; `permissions` is added for team events.
    """
    meta = REPO_META[name]
    full = f"{ORG_LOGIN}/{name}"
    base = f"{API}/repos/{full}"
    updated = updated_at or (pushed_at - timedelta(hours=20, minutes=17))
    issues = meta["open_issues"] if open_issues is None else open_issues
    r = {
        "id": meta["id"],
        "node_id": legacy_node_id("Repository", meta["id"]),
        "name": name,
        "full_name": full,
        "private": meta["private"],
        "owner": user(ORG_LOGIN),
        "html_url": f"{WEB}/{full}",
        "description": meta["description"],
        "fork": False,
        "url": base,
        "forks_url": f"{base}/forks",
        "keys_url": f"{base}/keys{{/key_id}}",
        "collaborators_url": f"{base}/collaborators{{/collaborator}}",
        "teams_url": f"{base}/teams",
        "hooks_url": f"{base}/hooks",
        "issue_events_url": f"{base}/issues/events{{/number}}",
        "events_url": f"{base}/events",
        "assignees_url": f"{base}/assignees{{/user}}",
        "branches_url": f"{base}/branches{{/branch}}",
        "tags_url": f"{base}/tags",
        "blobs_url": f"{base}/git/blobs{{/sha}}",
        "git_tags_url": f"{base}/git/tags{{/sha}}",
        "git_refs_url": f"{base}/git/refs{{/sha}}",
        "trees_url": f"{base}/git/trees{{/sha}}",
        "statuses_url": f"{base}/statuses/{{sha}}",
        "languages_url": f"{base}/languages",
        "stargazers_url": f"{base}/stargazers",
        "contributors_url": f"{base}/contributors",
        "subscribers_url": f"{base}/subscribers",
        "subscription_url": f"{base}/subscription",
        "commits_url": f"{base}/commits{{/sha}}",
        "git_commits_url": f"{base}/git/commits{{/sha}}",
        "comments_url": f"{base}/comments{{/number}}",
        "issue_comment_url": f"{base}/issues/comments{{/number}}",
        "contents_url": f"{base}/contents/{{+path}}",
        "compare_url": f"{base}/compare/{{base}}...{{head}}",
        "merges_url": f"{base}/merges",
        "archive_url": f"{base}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{base}/downloads",
        "issues_url": f"{base}/issues{{/number}}",
        "pulls_url": f"{base}/pulls{{/number}}",
        "milestones_url": f"{base}/milestones{{/number}}",
        "notifications_url": f"{base}/notifications{{?since,all,participating}}",
        "labels_url": f"{base}/labels{{/name}}",
        "releases_url": f"{base}/releases{{/id}}",
        "deployments_url": f"{base}/deployments",
        "created_at": meta["created_at"],
        "updated_at": ts(updated),
        "pushed_at": ts(pushed_at),
        "git_url": f"git://github.com/{full}.git",
        "ssh_url": f"git@github.com:{full}.git",
        "clone_url": f"{WEB}/{full}.git",
        "svn_url": f"{WEB}/{full}",
        "homepage": meta["homepage"],
        "size": meta["size"],
        "stargazers_count": meta["stars"],
        "watchers_count": meta["stars"],
        "language": meta["language"],
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": False,
        "has_pages": False,
        "has_discussions": meta["has_discussions"],
        "forks_count": meta["forks"],
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": issues,
        "license": dict(MIT),
        "allow_forking": not meta["private"],
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": list(meta["topics"]),
        "visibility": "private" if meta["private"] else "public",
        "forks": meta["forks"],
        "open_issues": issues,
        "watchers": meta["stars"],
        "default_branch": "main",
    }
    if permissions is not None:
        r["permissions"] = dict(permissions)
    if merge_settings:
        r.update(
            {
                "allow_squash_merge": True,
                "allow_merge_commit": False,
                "allow_rebase_merge": True,
                "allow_auto_merge": True,
                "delete_branch_on_merge": True,
                "allow_update_branch": True,
                "use_squash_pr_title_as_default": True,
                "squash_merge_commit_message": "PR_BODY",
                "squash_merge_commit_title": "PR_TITLE",
                "merge_commit_message": "PR_TITLE",
                "merge_commit_title": "MERGE_MESSAGE",
            }
        )
    if not merge_settings:
        # Top-level `repository` objects carry custom properties; the `head.repo` / `base.repo`
        # copies inside a pull request do not.
        r["custom_properties"] = dict(meta["custom_properties"])
    return r


# --------------------------------------------------------------------------------------------
# Labels, milestone, team, issue type
# --------------------------------------------------------------------------------------------
LABELS = {
    # name: (id, color, default, description)
    "bug": (208045946, "d73a4a", True, "Something isn't working"),
    "enhancement": (208045947, "a2eeef", True, "New feature or request"),
    "needs-triage": (208045948, "fbca04", False, "Waiting for a maintainer to triage"),
}


def label(name: str, repo_name: str = REPO_NAME, ident: int | None = None) -> dict:
    lid, color, default, description = LABELS[name]
    lid = ident or lid
    return {
        "id": lid,
        "node_id": legacy_node_id("Label", lid),
        "url": f"{API}/repos/{ORG_LOGIN}/{repo_name}/labels/{name}",
        "name": name,
        "color": color,
        "default": default,
        "description": description,
    }


def milestone(*, open_issues: int, closed_issues: int, updated_at: datetime) -> dict:
    base = f"{API}/repos/{ORG_LOGIN}/{REPO_NAME}/milestones/{MILESTONE_NUMBER}"
    return {
        "url": base,
        "html_url": f"{WEB}/{ORG_LOGIN}/{REPO_NAME}/milestone/{MILESTONE_NUMBER}",
        "labels_url": f"{base}/labels",
        "id": MILESTONE_ID,
        "node_id": legacy_node_id("Milestone", MILESTONE_ID),
        "number": MILESTONE_NUMBER,
        "title": "v1.0",
        "description": "First stable release of the delivery pipeline.",
        "creator": user("mona"),
        "open_issues": open_issues,
        "closed_issues": closed_issues,
        "state": "open",
        "created_at": "2026-10-28T14:00:00Z",
        "updated_at": ts(updated_at),
        "due_on": "2026-12-15T08:00:00Z",
        "closed_at": None,
    }


def team(*, description: str = "Platform engineering: delivery pipeline and infrastructure.",
         privacy: str = "closed") -> dict:
    """A full team object (webhook `team`)."""
    base = f"{API}/organizations/{ORG_ID}/team/{TEAM_ID}"
    return {
        "name": TEAM_NAME,
        "id": TEAM_ID,
        "node_id": legacy_node_id("Team", TEAM_ID),
        "slug": TEAM_SLUG,
        "description": description,
        "privacy": privacy,
        "notification_setting": "notifications_enabled",
        "url": base,
        "html_url": f"{WEB}/orgs/{ORG_LOGIN}/teams/{TEAM_SLUG}",
        "members_url": f"{base}/members{{/member}}",
        "repositories_url": f"{base}/repos",
        "type": "organization",
        "organization_id": ORG_ID,
        "permission": "pull",
        "parent": None,
    }


ISSUE_TYPE_BUG = {
    "id": ISSUE_TYPE_ID,
    "node_id": "IT_kwDOAAAmv84AAAGb",
    "name": "Bug",
    "description": "An unexpected problem or behavior",
    "color": "red",
    "created_at": "2025-03-12T09:20:31Z",
    "updated_at": "2025-03-12T09:20:31Z",
    "is_enabled": True,
}


# --------------------------------------------------------------------------------------------
# Pull request #42
# --------------------------------------------------------------------------------------------
HEAD_SHA_1 = sha("hello-world feature/retry commit 3")
HEAD_SHA_2 = sha("hello-world feature/retry commit 4")
BASE_SHA = sha("hello-world main 2026-11-19")
TEST_MERGE_SHA_1 = sha("hello-world pull/42/merge 1")
TEST_MERGE_SHA_2 = sha("hello-world pull/42/merge 2")
SQUASH_SHA = sha("hello-world main squash #42")

PR_BODY = (
    "The webhook worker gave up on the first failed POST, so a single 502 from a "
    "subscriber dropped the delivery.\r\n\r\n"
    "This adds bounded retries with exponential backoff and full jitter:\r\n\r\n"
    "- up to 5 attempts per delivery (`WORKER_MAX_ATTEMPTS`)\r\n"
    "- backoff starts at 500 ms and is capped at 30 s\r\n"
    "- 4xx responses other than 408/429 are not retried\r\n"
    "- a new `webhook_delivery_retries_total` counter\r\n\r\n"
    "## Testing\r\n\r\n"
    "Unit tests for the backoff schedule, plus an integration test against a "
    "flaky test server."
)
PR_BODY_BEFORE_EDIT = (
    "The webhook worker gave up on the first failed POST. This adds retries with "
    "exponential backoff.\r\n\r\nWIP: tests to follow."
)
PR_OPENED_AT = at(20, 10, 0)


def team_simple() -> dict:
    t = team()
    return {k: t[k] for k in (
        "name", "id", "node_id", "slug", "description", "privacy", "notification_setting",
        "url", "html_url", "members_url", "repositories_url", "type", "organization_id",
        "permission", "parent",
    )}


# The evolving state of PR #42; each pull_request fixture applies overrides to this.
PR_DEFAULTS = dict(
    state="open",
    locked=False,
    active_lock_reason=None,
    draft=False,
    labels=["needs-triage"],
    assignees=["mona"],
    requested_reviewers=["hubot"],
    requested_teams=True,
    milestone=None,
    head_sha=HEAD_SHA_1,
    merge_commit_sha=TEST_MERGE_SHA_1,
    closed_at=None,
    merged_at=None,
    merged=False,
    merged_by=None,
    auto_merge=None,
    mergeable=True,
    rebaseable=True,
    mergeable_state="blocked",
    comments=0,
    review_comments=0,
    commits=3,
    additions=87,
    deletions=12,
    changed_files=4,
    pushed_at=at(20, 9, 58, 12),
    open_issues=8,
    body=PR_BODY,
    title=PR_TITLE,
)


def pull_request(updated_at: datetime, *, review_shape: bool = False, **overrides) -> dict:
    """The full pull request object for PR #42 at one point of its history.

    `review_shape` gives the form used inside pull_request_review events, which GitHub sends
    without the merge/statistics fields (merged, mergeable, comments, commits, additions, ...).
    """
    unknown = set(overrides) - set(PR_DEFAULTS)
    if unknown:
        raise KeyError(f"unknown pull request fields: {sorted(unknown)}")
    s = {**PR_DEFAULTS, **overrides}
    full = f"{ORG_LOGIN}/{REPO_NAME}"
    api = f"{API}/repos/{full}"
    html = f"{WEB}/{full}/pull/{PR_NUMBER}"
    head_sha = s["head_sha"]
    assignees = [user(a) for a in s["assignees"]]
    repo_kwargs = dict(pushed_at=s["pushed_at"], open_issues=s["open_issues"], merge_settings=True)
    pr = {
        "url": f"{api}/pulls/{PR_NUMBER}",
        "id": PR_ID,
        "node_id": legacy_node_id("PullRequest", PR_ID),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{api}/issues/{PR_NUMBER}",
        "number": PR_NUMBER,
        "state": s["state"],
        "locked": s["locked"],
        "title": s["title"],
        "user": user("mona"),
        "body": s["body"],
        "created_at": ts(PR_OPENED_AT),
        "updated_at": ts(updated_at),
        "closed_at": ts(s["closed_at"]) if s["closed_at"] else None,
        "merged_at": ts(s["merged_at"]) if s["merged_at"] else None,
        "merge_commit_sha": s["merge_commit_sha"],
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "requested_reviewers": [user(r) for r in s["requested_reviewers"]],
        "requested_teams": [team_simple()] if s["requested_teams"] else [],
        "labels": [label(n) for n in s["labels"]],
        "milestone": s["milestone"],
        "draft": s["draft"],
        "commits_url": f"{api}/pulls/{PR_NUMBER}/commits",
        "review_comments_url": f"{api}/pulls/{PR_NUMBER}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{PR_NUMBER}/comments",
        "statuses_url": f"{api}/statuses/{head_sha}",
        "head": {
            "label": f"{ORG_LOGIN}:{HEAD_REF}",
            "ref": HEAD_REF,
            "sha": head_sha,
            "user": user(ORG_LOGIN),
            "repo": repo(REPO_NAME, **repo_kwargs),
        },
        "base": {
            "label": f"{ORG_LOGIN}:{BASE_REF}",
            "ref": BASE_REF,
            "sha": BASE_SHA,
            "user": user(ORG_LOGIN),
            "repo": repo(REPO_NAME, **repo_kwargs),
        },
        "_links": {
            "self": {"href": f"{api}/pulls/{PR_NUMBER}"},
            "html": {"href": html},
            "issue": {"href": f"{api}/issues/{PR_NUMBER}"},
            "comments": {"href": f"{api}/issues/{PR_NUMBER}/comments"},
            "review_comments": {"href": f"{api}/pulls/{PR_NUMBER}/comments"},
            "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
            "commits": {"href": f"{api}/pulls/{PR_NUMBER}/commits"},
            "statuses": {"href": f"{api}/statuses/{head_sha}"},
        },
        "author_association": "MEMBER",
        "auto_merge": s["auto_merge"],
        "active_lock_reason": s["active_lock_reason"],
    }
    if review_shape:
        return pr
    pr.update(
        {
            "merged": s["merged"],
            "mergeable": s["mergeable"],
            "rebaseable": s["rebaseable"],
            "mergeable_state": s["mergeable_state"],
            "merged_by": user(s["merged_by"]) if s["merged_by"] else None,
            "comments": s["comments"],
            "review_comments": s["review_comments"],
            "maintainer_can_modify": False,
            "commits": s["commits"],
            "additions": s["additions"],
            "deletions": s["deletions"],
            "changed_files": s["changed_files"],
        }
    )
    return pr


def review(*, state: str, body: str, updated_at: datetime) -> dict:
    full = f"{ORG_LOGIN}/{REPO_NAME}"
    html = f"{WEB}/{full}/pull/{PR_NUMBER}#pullrequestreview-{REVIEW_ID}"
    pr_api = f"{API}/repos/{full}/pulls/{PR_NUMBER}"
    return {
        "id": REVIEW_ID,
        "node_id": legacy_node_id("PullRequestReview", REVIEW_ID),
        "user": user("hubot"),
        "body": body,
        "commit_id": HEAD_SHA_1,
        "submitted_at": ts(REVIEW_SUBMITTED_AT),
        "state": state,
        "html_url": html,
        "pull_request_url": pr_api,
        "author_association": "MEMBER",
        "_links": {"html": {"href": html}, "pull_request": {"href": pr_api}},
        "updated_at": ts(updated_at),
    }


REVIEW_SUBMITTED_AT = at(20, 11, 0)
REVIEW_BODY = "Looks good. The backoff caps are sensible; left two small nits inline."
REVIEW_BODY_EDITED = (
    "Looks good. The backoff caps are sensible; left two small nits inline, "
    "neither blocking."
)


def envelope(action: str | None, body: dict, *, sender: str | None, installation: bool = True,
             organization: bool = True) -> dict:
    """Adds the common trailer GitHub puts on payloads: organization, sender, installation."""
    out = {"action": action} if action is not None else {}
    out.update(body)
    if organization:
        out["organization"] = org()
    if sender is not None:
        out["sender"] = user(sender)
    if installation:
        out["installation"] = installation_ref()
    return out


def pr_event(action: str, when: datetime, sender: str, *, extra_before: dict | None = None,
             extra_after: dict | None = None, **state) -> dict:
    pr = pull_request(when, **state)
    s = {**PR_DEFAULTS, **state}
    body = {"number": PR_NUMBER}
    body.update(extra_before or {})
    body["pull_request"] = pr
    body.update(extra_after or {})
    body["repository"] = repo(REPO_NAME, pushed_at=s["pushed_at"], open_issues=s["open_issues"])
    return envelope(action, body, sender=sender)


def build_pull_request_events() -> dict[str, dict]:
    f: dict[str, dict] = {}
    m = lambda minute, second=0: at(20, 10, minute, second)  # noqa: E731
    h11 = lambda minute, second=0: at(20, 11, minute, second)  # noqa: E731

    after_label = dict(labels=["needs-triage", "enhancement"])
    labeled_state = dict(labels=["enhancement"])
    assigned_state = dict(labeled_state, assignees=["mona", "octocat"])
    unassigned_state = dict(labeled_state, assignees=["octocat"])
    ms = milestone(open_issues=4, closed_issues=9, updated_at=m(18))

    f["opened"] = pr_event(
        "opened", PR_OPENED_AT, "mona",
        merge_commit_sha=None, mergeable=None, rebaseable=None, mergeable_state="unknown",
    )
    f["edited"] = pr_event(
        "edited", m(3), "mona",
        extra_before={"changes": {"title": {"from": "Add retries to webhook worker"},
                                  "body": {"from": PR_BODY_BEFORE_EDIT}}},
    )
    f["labeled"] = pr_event("labeled", m(6), "mona", extra_after={"label": label("enhancement")},
                            **after_label)
    f["unlabeled"] = pr_event("unlabeled", m(9), "mona",
                              extra_after={"label": label("needs-triage")}, **labeled_state)
    f["assigned"] = pr_event("assigned", m(12), "mona", extra_after={"assignee": user("octocat")},
                             **assigned_state)
    f["unassigned"] = pr_event("unassigned", m(15), "mona", extra_after={"assignee": user("mona")},
                               **unassigned_state)
    f["milestoned"] = pr_event("milestoned", m(18), "mona", extra_after={"milestone": ms},
                               milestone=ms, **unassigned_state)
    ms_removed = milestone(open_issues=3, closed_issues=9, updated_at=m(21))
    f["demilestoned"] = pr_event("demilestoned", m(21), "mona",
                                 extra_after={"milestone": ms_removed}, **unassigned_state)
    f["converted_to_draft"] = pr_event("converted_to_draft", m(24), "mona", draft=True,
                                       mergeable_state="draft", **unassigned_state)
    f["ready_for_review"] = pr_event("ready_for_review", m(27), "mona", **unassigned_state)
    f["review_requested"] = pr_event(
        "review_requested", m(30), "mona", extra_after={"requested_reviewer": user("octocat")},
        requested_reviewers=["hubot", "octocat"], comments=1, **unassigned_state,
    )
    f["review_request_removed"] = pr_event(
        "review_request_removed", m(33), "mona",
        extra_after={"requested_reviewer": user("octocat")}, comments=1, **unassigned_state,
    )
    f["locked"] = pr_event("locked", m(36), "hubot", locked=True,
                           active_lock_reason="too heated", comments=1, **unassigned_state)
    f["unlocked"] = pr_event("unlocked", m(39), "hubot", comments=1, **unassigned_state)
    f["closed_unmerged"] = pr_event("closed", m(42), "mona", state="closed", closed_at=m(42),
                                    comments=1, open_issues=7, **unassigned_state)
    f["reopened"] = pr_event("reopened", m(45), "mona", comments=1, **unassigned_state)

    # Review #80 is submitted at 11:00 (see pull_request_review fixtures): hubot's and the
    # team's review requests are satisfied, and the approval carries two inline comments.
    after_review = dict(unassigned_state, requested_reviewers=[], requested_teams=False,
                        comments=1, review_comments=2)
    synced = dict(after_review, head_sha=HEAD_SHA_2, commits=4, additions=96, deletions=14,
                  changed_files=5, pushed_at=h11(4, 58))
    f["synchronize"] = pr_event(
        "synchronize", h11(5), "mona",
        extra_before={"before": HEAD_SHA_1, "after": HEAD_SHA_2},
        mergeable=None, rebaseable=None, mergeable_state="unknown", **synced,
    )
    # hubot re-approves at 11:08 (review 81, not a fixture), so the PR is mergeable.
    ready = dict(synced, merge_commit_sha=TEST_MERGE_SHA_2, mergeable_state="clean")
    auto_merge = {
        "enabled_by": user("mona"),
        "merge_method": "squash",
        "commit_title": f"{PR_TITLE} (#{PR_NUMBER})",
        "commit_message": PR_BODY.replace("\r\n", "\n"),
    }
    f["auto_merge_enabled"] = pr_event("auto_merge_enabled", h11(10), "mona",
                                       auto_merge=auto_merge, **ready)
    f["auto_merge_disabled"] = pr_event(
        "auto_merge_disabled", h11(12), "mona",
        extra_after={"reason": "Auto-merge was disabled by mona"}, **ready,
    )
    f["enqueued"] = pr_event("enqueued", h11(14), "hubot", **ready)
    f["dequeued"] = pr_event("dequeued", h11(19, 58), "hubot", extra_after={"reason": "MERGE"},
                             **ready)
    merged_at = h11(20)
    f["closed_merged"] = pr_event(
        "closed", merged_at, "hubot",
        **dict(ready, state="closed", closed_at=merged_at, merged_at=merged_at, merged=True,
               merged_by="hubot", merge_commit_sha=SQUASH_SHA, mergeable=None, rebaseable=None,
               mergeable_state="unknown", pushed_at=h11(20, 1), open_issues=7),
    )
    return f


def build_pull_request_review_events() -> dict[str, dict]:
    f: dict[str, dict] = {}
    base_state = dict(labels=["enhancement"], assignees=["octocat"], requested_reviewers=[],
                      requested_teams=False, comments=1, review_comments=2)

    def ev(action, when, sender, rv, *, changes=None, **state):
        body = {}
        if changes is not None:
            body["changes"] = changes
        body["review"] = rv
        s = {**PR_DEFAULTS, **base_state, **state}
        body["pull_request"] = pull_request(when, review_shape=True, **{**base_state, **state})
        body["repository"] = repo(REPO_NAME, pushed_at=s["pushed_at"], open_issues=s["open_issues"])
        return envelope(action, body, sender=sender)

    f["submitted"] = ev("submitted", REVIEW_SUBMITTED_AT, "hubot",
                        review(state="approved", body=REVIEW_BODY, updated_at=REVIEW_SUBMITTED_AT))
    edited_at = at(20, 11, 2)
    f["edited"] = ev("edited", edited_at, "hubot",
                     review(state="approved", body=REVIEW_BODY_EDITED, updated_at=edited_at),
                     changes={"body": {"from": REVIEW_BODY}})
    # octocat dismisses the approval after mona pushed a new commit at 11:05 (synchronize).
    dismissed_at = at(20, 11, 6)
    f["dismissed"] = ev("dismissed", dismissed_at, "octocat",
                        review(state="dismissed", body=REVIEW_BODY_EDITED, updated_at=dismissed_at),
                        head_sha=HEAD_SHA_2, pushed_at=at(20, 11, 4, 58))
    return f


# --------------------------------------------------------------------------------------------
# Issue #7
# --------------------------------------------------------------------------------------------
ISSUE_OPENED_AT = at(19, 9, 0)
ISSUE_BODY = (
    "Since Tuesday roughly 3% of deliveries to slow subscribers fail with a timeout "
    "after 10 s, and they are never retried.\r\n\r\n"
    "### Steps to reproduce\r\n\r\n"
    "1. Point a subscription at an endpoint that sleeps 12 s\r\n"
    "2. Trigger any event\r\n"
    "3. The delivery is marked failed and dropped\r\n\r\n"
    "### Expected\r\n\r\nThe worker retries with backoff.\r\n\r\n"
    "Logs from `worker-3`: `delivery 8c1f... timed out after 10000ms`"
)
ISSUE_BODY_BEFORE_EDIT = "Deliveries to slow subscribers time out after 10 s and are dropped."

ISSUE_DEFAULTS = dict(
    state="open",
    state_reason=None,
    locked=False,
    active_lock_reason=None,
    labels=["needs-triage"],
    assignees=["mona"],
    milestone=None,
    type=None,
    comments=0,
    closed_at=None,
    reactions=None,
    body=ISSUE_BODY,
    title=ISSUE_TITLE,
)


def reactions(url: str, plus_one: int = 0, eyes: int = 0) -> dict:
    return {
        "url": url,
        "total_count": plus_one + eyes,
        "+1": plus_one,
        "-1": 0,
        "laugh": 0,
        "hooray": 0,
        "confused": 0,
        "heart": 0,
        "rocket": 0,
        "eyes": eyes,
    }


def issue(updated_at: datetime, *, repo_name: str = REPO_NAME, number: int = ISSUE_NUMBER,
          ident: int = ISSUE_ID, created_at: datetime = ISSUE_OPENED_AT,
          label_objects: list | None = None, **overrides) -> dict:
    unknown = set(overrides) - set(ISSUE_DEFAULTS)
    if unknown:
        raise KeyError(f"unknown issue fields: {sorted(unknown)}")
    s = {**ISSUE_DEFAULTS, **overrides}
    api = f"{API}/repos/{ORG_LOGIN}/{repo_name}"
    url = f"{api}/issues/{number}"
    assignees = [user(a) for a in s["assignees"]]
    plus_one, eyes = s["reactions"] or (0, 0)
    return {
        "url": url,
        "repository_url": api,
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": f"{WEB}/{ORG_LOGIN}/{repo_name}/issues/{number}",
        "id": ident,
        "node_id": legacy_node_id("Issue", ident),
        "number": number,
        "title": s["title"],
        "user": user("mona"),
        "labels": label_objects if label_objects is not None else [label(n) for n in s["labels"]],
        "state": s["state"],
        "locked": s["locked"],
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "milestone": s["milestone"],
        "comments": s["comments"],
        "created_at": ts(created_at),
        "updated_at": ts(updated_at),
        "closed_at": ts(s["closed_at"]) if s["closed_at"] else None,
        "author_association": "MEMBER",
        "type": s["type"],
        "active_lock_reason": s["active_lock_reason"],
        "sub_issues_summary": {"total": 0, "completed": 0, "percent_completed": 0},
        "issue_dependencies_summary": {
            "blocked_by": 0,
            "blocking": 0,
            "total_blocked_by": 0,
            "total_blocking": 0,
        },
        "body": s["body"],
        "reactions": reactions(f"{url}/reactions", plus_one, eyes),
        "timeline_url": f"{url}/timeline",
        "performed_via_github_app": None,
        "state_reason": s["state_reason"],
    }


def build_issues_events() -> dict[str, dict]:
    f: dict[str, dict] = {}
    m = lambda minute: at(19, 9, minute)  # noqa: E731
    repo_pushed = at(18, 16, 5, 41)

    def ev(action, when, sender, *, before=None, after=None, open_issues=8, **state):
        body = dict(before or {})
        body["issue"] = issue(when, **state)
        body.update(after or {})
        body["repository"] = repo(REPO_NAME, pushed_at=repo_pushed, open_issues=open_issues)
        return envelope(action, body, sender=sender)

    reacted = dict(reactions=(2, 1))
    f["opened"] = ev("opened", ISSUE_OPENED_AT, "mona")
    f["edited"] = ev("edited", m(3), "mona",
                     after={"changes": {"title": {"from": "Webhook deliveries timeout"},
                                        "body": {"from": ISSUE_BODY_BEFORE_EDIT}}},
                     **reacted)
    f["labeled"] = ev("labeled", m(6), "mona", after={"label": label("bug")},
                      labels=["needs-triage", "bug"], **reacted)
    s = dict(reacted, labels=["bug"])
    f["unlabeled"] = ev("unlabeled", m(9), "mona", after={"label": label("needs-triage")}, **s)
    f["assigned"] = ev("assigned", m(12), "mona", after={"assignee": user("octocat")},
                       **dict(s, assignees=["mona", "octocat"]))
    s = dict(s, assignees=["octocat"], comments=1)
    f["unassigned"] = ev("unassigned", m(15), "mona", after={"assignee": user("mona")}, **s)
    f["typed"] = ev("typed", m(18), "mona", after={"type": ISSUE_TYPE_BUG},
                    **dict(s, type=ISSUE_TYPE_BUG))
    f["untyped"] = ev("untyped", m(21), "mona", after={"type": ISSUE_TYPE_BUG}, **s)
    ms = milestone(open_issues=4, closed_issues=9, updated_at=m(24))
    f["milestoned"] = ev("milestoned", m(24), "mona", after={"milestone": ms},
                         **dict(s, milestone=ms))
    ms_removed = milestone(open_issues=3, closed_issues=9, updated_at=m(27))
    f["demilestoned"] = ev("demilestoned", m(27), "mona", after={"milestone": ms_removed}, **s)
    s = dict(s, comments=3)
    f["pinned"] = ev("pinned", m(30), "mona", **s)
    f["unpinned"] = ev("unpinned", m(33), "mona", **s)
    f["locked"] = ev("locked", m(36), "hubot",
                     **dict(s, locked=True, active_lock_reason="too heated"))
    f["unlocked"] = ev("unlocked", m(39), "hubot", **s)
    f["closed"] = ev("closed", m(42), "octocat", open_issues=7,
                     **dict(s, state="closed", state_reason="completed", closed_at=m(42)))
    s = dict(s, state_reason="reopened", comments=4)
    f["reopened"] = ev("reopened", m(45), "mona", **s)

    transfer_at = m(50)
    new_issue = issue(
        transfer_at, repo_name=INFRA_NAME, number=TRANSFERRED_ISSUE_NUMBER,
        ident=TRANSFERRED_ISSUE_ID, created_at=transfer_at,
        label_objects=[label("bug", INFRA_NAME, ident=208045960)],
        **dict(s, state_reason=None, reactions=None),
    )
    new_repo = repo(INFRA_NAME, pushed_at=at(19, 8, 12, 3), open_issues=4)
    f["transferred"] = ev("transferred", transfer_at, "mona",
                          before={"changes": {"new_issue": new_issue, "new_repository": new_repo}},
                          **s)
    # Alternative ending: the issue (open, reopened, labelled bug, assigned to octocat) is
    # deleted by an org owner instead of being transferred.
    f["deleted"] = ev("deleted", m(55), "mona", open_issues=7, **s)
    return f


# --------------------------------------------------------------------------------------------
# Installation / app events
# --------------------------------------------------------------------------------------------
INSTALLED_AT = at(1, 8, 0)
BASE_PERMISSIONS = {
    "checks": "write",
    "contents": "read",
    "issues": "write",
    "members": "read",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
}
BASE_EVENTS = [
    "issues",
    "member",
    "membership",
    "organization",
    "pull_request",
    "pull_request_review",
    "team",
]


def installation(updated_at: datetime, *, new_permissions: bool = False,
                 suspended: datetime | None = None) -> dict:
    perms = dict(BASE_PERMISSIONS)
    events = list(BASE_EVENTS)
    if new_permissions:
        perms["merge_queues"] = "read"
        events = sorted(events + ["merge_group"])
    return {
        "id": INSTALLATION_ID,
        "client_id": APP_CLIENT_ID,
        "account": user(ORG_LOGIN),
        "repository_selection": "selected",
        "access_tokens_url": f"{API}/app/installations/{INSTALLATION_ID}/access_tokens",
        "repositories_url": f"{API}/installation/repositories",
        "html_url": f"{WEB}/organizations/{ORG_LOGIN}/settings/installations/{INSTALLATION_ID}",
        "app_id": APP_ID,
        "app_slug": APP_SLUG,
        "target_id": ORG_ID,
        "target_type": "Organization",
        "permissions": dict(sorted(perms.items())),
        "events": events,
        "created_at": ts(INSTALLED_AT),
        "updated_at": ts(updated_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": user("mona") if suspended else None,
        "suspended_at": ts(suspended) if suspended else None,
    }


def build_installation_events() -> dict[str, dict]:
    f: dict[str, dict] = {}
    both = [repo_stub(REPO_NAME), repo_stub(INFRA_NAME)]

    def ev(action, inst, *, requester=False):
        body = {"action": action, "installation": inst, "repositories": both}
        if requester:
            body["requester"] = None
        body["sender"] = user("mona")
        return body

    f["created"] = ev("created", installation(INSTALLED_AT), requester=True)
    f["new_permissions_accepted"] = ev("new_permissions_accepted",
                                       installation(at(10, 14, 30), new_permissions=True))
    suspended_at = at(25, 17, 45)
    f["suspend"] = ev("suspend", installation(suspended_at, new_permissions=True,
                                              suspended=suspended_at))
    f["unsuspend"] = ev("unsuspend", installation(at(26, 9, 15), new_permissions=True))
    f["deleted"] = ev("deleted", installation(at(30, 12, 0), new_permissions=True))
    return f


def build_installation_repositories_events() -> dict[str, dict]:
    f: dict[str, dict] = {}
    # infra is removed on Nov 3 and added back on Nov 4 at octocat's request.
    f["removed"] = {
        "action": "removed",
        "installation": installation(at(3, 15, 20)),
        "repository_selection": "selected",
        "repositories_added": [],
        "repositories_removed": [repo_stub(INFRA_NAME)],
        "requester": None,
        "sender": user("mona"),
    }
    f["added"] = {
        "action": "added",
        "installation": installation(at(4, 10, 5)),
        "repository_selection": "selected",
        "repositories_added": [repo_stub(INFRA_NAME)],
        "repositories_removed": [],
        "requester": user("octocat"),
        "sender": user("mona"),
    }
    return f


def build_installation_target_events() -> dict[str, dict]:
    return {
        "renamed": {
            "action": "renamed",
            "account": org_account_full(),
            "changes": {"login": {"from": ORG_OLD_LOGIN}},
            "installation": installation_ref(),
            "sender": user("mona"),
            "target_type": "Organization",
        }
    }


def build_github_app_authorization_events() -> dict[str, dict]:
    # GitHub documents this payload as just `action` and `sender`.
    return {"revoked": {"action": "revoked", "sender": user("octocat")}}


def build_ping() -> dict:
    return {
        "zen": "Design for failure.",
        "hook_id": HOOK_ID,
        "hook": {
            "type": "App",
            "id": HOOK_ID,
            "name": "web",
            "active": True,
            "events": list(BASE_EVENTS),
            "config": {
                "content_type": "json",
                "insecure_ssl": "0",
                "url": "https://mergecast.example.com/webhooks/github",
            },
            "updated_at": "2026-10-30T16:12:45Z",
            "created_at": "2026-10-30T16:12:45Z",
            "app_id": APP_ID,
            "deliveries_url": f"{API}/app/hook/deliveries",
        },
    }


# --------------------------------------------------------------------------------------------
# Organization, member, membership, team events
# --------------------------------------------------------------------------------------------
def membership(login: str, role: str = "member") -> dict:
    return {
        "url": f"{API}/orgs/{ORG_LOGIN}/memberships/{login}",
        "state": "active",
        "role": role,
        "organization_url": f"{API}/orgs/{ORG_LOGIN}",
        "user": user(login),
    }


def build_organization_events() -> dict[str, dict]:
    f: dict[str, dict] = {}
    f["member_added"] = envelope("member_added", {"membership": membership("octocat")},
                                 sender="mona", organization=True)
    invite_created = at(6, 13, 37, 5)
    f["member_invited"] = envelope(
        "member_invited",
        {
            "invitation": {
                "id": INVITATION_ID,
                "node_id": legacy_node_id("OrganizationInvitation", INVITATION_ID),
                "login": "newbie",
                "email": None,
                "role": "direct_member",
                "created_at": ts(invite_created),
                "failed_at": None,
                "failed_reason": None,
                "inviter": user("mona"),
                "team_count": 1,
                "invitation_teams_url":
                    f"{API}/organizations/{ORG_ID}/invitations/{INVITATION_ID}/teams",
                "invitation_source": "member",
            },
            "user": user("newbie"),
        },
        sender="mona",
    )
    f["member_removed"] = envelope("member_removed", {"membership": membership("hubot")},
                                   sender="mona")
    f["renamed"] = envelope("renamed", {"changes": {"login": {"from": ORG_OLD_LOGIN}}},
                            sender="mona")
    return f


def build_member_events() -> dict[str, dict]:
    f: dict[str, dict] = {}
    pushed = at(18, 16, 5, 41)

    def ev(action, changes=None):
        body = {"member": user("octocat")}
        if changes is not None:
            body["changes"] = changes
        body["repository"] = repo(REPO_NAME, pushed_at=pushed)
        return envelope(action, body, sender="mona")

    f["added"] = ev("added", {"permission": {"to": "write"}})
    f["edited"] = ev("edited", {"old_permission": {"from": "read"},
                                "permission": {"from": "read", "to": "write"}})
    f["removed"] = ev("removed")
    return f


def build_membership_events() -> dict[str, dict]:
    f: dict[str, dict] = {}
    for action in ("added", "removed"):
        f[action] = envelope(
            action,
            {"scope": "team", "member": user("octocat"), "team": team()},
            sender="mona",
        )
        # GitHub's order: action, scope, member, sender, team, organization, installation.
        body = f[action]
        f[action] = {k: body[k] for k in
                     ("action", "scope", "member", "sender", "team", "organization", "installation")}
    return f


TEAM_REPO_PERMISSIONS = {"admin": False, "maintain": False, "push": True, "triage": True,
                         "pull": True}


def build_team_events() -> dict[str, dict]:
    f: dict[str, dict] = {}
    pushed = at(18, 16, 5, 41)
    f["created"] = envelope("created", {"team": team()}, sender="mona")
    f["edited"] = envelope(
        "edited",
        {"changes": {"description": {"from": "Platform team"}, "privacy": {"from": "secret"}},
         "team": team()},
        sender="mona",
    )
    f["deleted"] = envelope("deleted", {"team": team()}, sender="mona")
    for action in ("added_to_repository", "removed_from_repository"):
        f[action] = envelope(
            action,
            {"team": team(),
             "repository": repo(REPO_NAME, pushed_at=pushed, permissions=TEAM_REPO_PERMISSIONS)},
            sender="mona",
        )
    return f


# --------------------------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------------------------
NOTES = {
    "github_app_authorization.revoked": "octocat revoked their user authorization of the app; body is only `action` + `sender` (no installation), as documented",
    "installation.created": "mona installs the app on octo-org, selected repos hello-world + infra (`repositories`), `requester: null`",
    "installation.deleted": "mona uninstalls the app (2026-11-30)",
    "installation.new_permissions_accepted": "mona accepts the new `merge_queues: read` permission / `merge_group` event",
    "installation.suspend": "mona suspends the installation; `suspended_by` mona, `suspended_at` 2026-11-25T17:45:00Z",
    "installation.unsuspend": "installation unsuspended; `suspended_by`/`suspended_at` null again",
    "installation_repositories.added": "infra added back; `requester` octocat, sender mona",
    "installation_repositories.removed": "infra removed from the selection; `requester: null`",
    "installation_target.renamed": "org account renamed from octo-org-old; `target_type` Organization",
    "issues.assigned": "`assignee` octocat; assignees now [mona, octocat]",
    "issues.closed": "closed by octocat, `state_reason` completed",
    "issues.deleted": "issue as at deletion: open (state_reason reopened), labels [bug], assignees [octocat]",
    "issues.demilestoned": "`milestone` v1.0 removed; issue.milestone null",
    "issues.edited": "`changes.title.from` / `changes.body.from`",
    "issues.labeled": "`label` bug (id 208045946); issue labels [needs-triage, bug]",
    "issues.locked": "locked by hubot, `active_lock_reason` too heated",
    "issues.milestoned": "`milestone` v1.0 (id 5021, number 1)",
    "issues.opened": "mona opens #7 with label needs-triage, assignee mona",
    "issues.pinned": "",
    "issues.reopened": "`state_reason` reopened",
    "issues.transferred": "moved to octo-org/infra as #15 (id 1348): `changes.new_issue`, `changes.new_repository`",
    "issues.typed": "`type` Bug (id 411)",
    "issues.unassigned": "`assignee` mona; assignees now [octocat]",
    "issues.unlabeled": "`label` needs-triage; labels now [bug]",
    "issues.unlocked": "",
    "issues.unpinned": "",
    "issues.untyped": "`type` Bug removed; issue.type null",
    "member.added": "octocat added as collaborator on hello-world, `changes.permission.to` write",
    "member.edited": "octocat's permission changed, `changes.old_permission.from` read (+ `changes.permission` read -> write)",
    "member.removed": "octocat removed as collaborator",
    "membership.added": "octocat added to team platform, `scope` team",
    "membership.removed": "octocat removed from team platform, `scope` team",
    "organization.member_added": "octocat joins octo-org (`membership` role member, state active)",
    "organization.member_invited": "mona invites newbie (id 1000003): `invitation` + `user`",
    "organization.member_removed": "hubot removed from octo-org",
    "organization.renamed": "`changes.login.from` octo-org-old",
    "ping": "App hook ping: `zen`, `hook_id`, `hook` (type App); no action, sender or installation",
    "pull_request.assigned": "`assignee` octocat; assignees now [mona, octocat]",
    "pull_request.auto_merge_disabled": "`reason` set; auto_merge null",
    "pull_request.auto_merge_enabled": "auto_merge {enabled_by mona, merge_method squash}",
    "pull_request.closed_merged": "action `closed`; merged true, merged_by hubot, merged_at 2026-11-20T11:20:00Z, squash merge_commit_sha",
    "pull_request.closed_unmerged": "action `closed`; merged false, merged_at null (closed by mona, reopened later)",
    "pull_request.converted_to_draft": "draft true, mergeable_state draft",
    "pull_request.demilestoned": "`milestone` v1.0 removed",
    "pull_request.dequeued": "`reason` MERGE (leaves the merge queue because it is being merged)",
    "pull_request.edited": "`changes.title.from` / `changes.body.from`",
    "pull_request.enqueued": "hubot adds the PR to the merge queue",
    "pull_request.labeled": "`label` enhancement; labels [needs-triage, enhancement]",
    "pull_request.locked": "locked by hubot, `active_lock_reason` too heated",
    "pull_request.milestoned": "`milestone` v1.0 (id 5021)",
    "pull_request.opened": "mona opens #42: label needs-triage, assignee mona, requested reviewer hubot + team platform; mergeable null",
    "pull_request.ready_for_review": "draft false again",
    "pull_request.reopened": "",
    "pull_request.review_request_removed": "`requested_reviewer` octocat",
    "pull_request.review_requested": "`requested_reviewer` octocat; requested_reviewers [hubot, octocat]",
    "pull_request.synchronize": "`before` / `after` = old / new head sha; mergeable recomputing (null)",
    "pull_request.unassigned": "`assignee` mona; assignees now [octocat]",
    "pull_request.unlabeled": "`label` needs-triage; labels now [enhancement]",
    "pull_request.unlocked": "",
    "pull_request_review.dismissed": "review 80 state dismissed (dismissed by octocat after the 11:05 push)",
    "pull_request_review.edited": "review 80 state approved, `changes.body.from`",
    "pull_request_review.submitted": "review 80 by hubot, state approved, submitted_at 2026-11-20T11:00:00Z",
    "team.added_to_repository": "platform gets write on hello-world (`repository.permissions`)",
    "team.created": "",
    "team.deleted": "",
    "team.edited": "`changes.description.from`, `changes.privacy.from` secret",
    "team.removed_from_repository": "",
}


def readme(files: dict[str, dict]) -> str:
    def when(name: str) -> str:
        body = files[name]
        for key in ("pull_request", "issue"):
            if key in body:
                return body[key]["updated_at"]
        return ""

    rows = []
    for name in sorted(files):
        stem = name.removesuffix(".json")
        event, _, rest = stem.partition(".")
        action = files[name].get("action", "")
        rows.append(f"| `{name}` | `{event}` | {f'`{action}`' if action else '-'} "
                    f"| {when(name)} | {NOTES.get(stem, '')} |")
    table = "\n".join(rows)
    pr_order = ", ".join(f"`{a}`" for a in PR_TIMELINE)
    issue_order = ", ".join(f"`{a}`" for a in ISSUE_TIMELINE)
    return f"""# GitHub webhook fixtures

Synthesized request bodies of GitHub App webhook deliveries, one file per handled (event,
action): invented, not captured from GitHub (GitHub's published examples are in `examples/`,
see `../README.md`), shaped like GitHub's documented payloads
(<https://docs.github.com/en/webhooks/webhook-events-and-payloads>) with whole objects:
full `repository` (owner, `*_url` templates, timestamps, visibility, default_branch, ...),
`organization`, `sender`, user objects (including `user_view_type`), pull requests with full
`head`/`base` repos, issues with reactions / sub_issues_summary, teams, installations.

**Generated - do not edit by hand.** Change `scripts/gen_fixtures.py` and run

    python3 scripts/gen_fixtures.py          # regenerate + validate
    python3 scripts/gen_fixtures.py --check  # validate only

Each file is exactly the body (no headers), UTF-8 JSON written with `json.dumps(obj, indent=2)`
plus a trailing newline. Sign and send the file's bytes unchanged.

## Headers to send with a file

| header | value |
| --- | --- |
| `X-GitHub-Event` | the file name before the first dot: `pull_request.closed_merged.json` -> `pull_request`, `ping.json` -> `ping` |
| `X-GitHub-Delivery` | a fresh UUID per delivery (GitHub's delivery GUID) |
| `X-Hub-Signature-256` | `sha256=` + hex HMAC-SHA256 of the exact file bytes, keyed with the webhook secret |
| `Content-Type` | `application/json` |
| `User-Agent` | `GitHub-Hookshot/<hex>` (e.g. `GitHub-Hookshot/a1b2c3d`) |
| `X-GitHub-Hook-ID` | `{HOOK_ID}` (the App's hook, see `ping.json`) |
| `X-GitHub-Hook-Installation-Target-Type` | `integration` |
| `X-GitHub-Hook-Installation-Target-ID` | `{APP_ID}` (the app id) |

The action is never a header: it is the body's `action` field. Both `closed_*` files have
`"action": "closed"`; the suffix only tells the merged and unmerged variants apart.

## Shared ids

| what | value |
| --- | --- |
| app | id `{APP_ID}`, slug `{APP_SLUG}`, client_id `{APP_CLIENT_ID}` |
| installation | id `{INSTALLATION_ID}`, node_id `{legacy_node_id("IntegrationInstallation", INSTALLATION_ID)}`; account octo-org, `repository_selection` selected, created 2026-11-01T08:00:00Z |
| organization | login `{ORG_LOGIN}` (renamed from `{ORG_OLD_LOGIN}`), id `{ORG_ID}`, node_id `{ORG_NODE_ID}` |
| repository | `{ORG_LOGIN}/{REPO_NAME}`, id `{REPO_ID}`, node_id `{legacy_node_id("Repository", REPO_ID)}`, private false, visibility public, default_branch `main` |
| second repository | `{ORG_LOGIN}/{INFRA_NAME}`, id `{INFRA_ID}`, node_id `{legacy_node_id("Repository", INFRA_ID)}`, private true |
| user mona | id `583231`, node_id `{legacy_node_id("User", 583231)}`: PR and issue author, org member (the admin/sender of org, team and installation changes) |
| user hubot | id `1000001`: reviewer; locks, enqueues and merges the PR; removed from the org in `organization.member_removed` |
| user octocat | id `1000002`: second reviewer / assignee; subject of `member`, `membership`, `organization.member_added` |
| user newbie | id `1000003`: invited in `organization.member_invited` |
| user dependabot[bot] | id `49699333`, type `Bot`, node_id `{legacy_node_id("Bot", 49699333)}`: defined in the generator (`user("dependabot[bot]")`), not used by the current fixtures |
| pull request | number `{PR_NUMBER}`, id `{PR_ID}`, node_id `{legacy_node_id("PullRequest", PR_ID)}`, title "{PR_TITLE}", author mona, head `{HEAD_REF}`, base `{BASE_REF}`, created 2026-11-20T10:00:00Z |
| PR head shas | `{HEAD_SHA_1}` until `synchronize`, then `{HEAD_SHA_2}`; base `{BASE_SHA}` |
| PR merge commit | `{SQUASH_SHA}` (closed_merged; merged_by hubot, merged_at 2026-11-20T11:20:00Z) |
| review | id `{REVIEW_ID}` by hubot, submitted_at 2026-11-20T11:00:00Z, commit_id = first head sha; state approved (submitted, edited), dismissed (dismissed) |
| issue | number `{ISSUE_NUMBER}`, id `{ISSUE_ID}`, node_id `{legacy_node_id("Issue", ISSUE_ID)}`, title "{ISSUE_TITLE}", author mona, created 2026-11-19T09:00:00Z |
| transferred issue | `{ORG_LOGIN}/{INFRA_NAME}#{TRANSFERRED_ISSUE_NUMBER}`, id `{TRANSFERRED_ISSUE_ID}` |
| labels | bug `208045946` (d73a4a), enhancement `208045947` (a2eeef), needs-triage `208045948` (fbca04) |
| milestone | v1.0, id `{MILESTONE_ID}`, number `{MILESTONE_NUMBER}` |
| issue type | Bug, id `{ISSUE_TYPE_ID}` |
| team | `{TEAM_NAME}`, id `{TEAM_ID}`, slug `{TEAM_SLUG}`, privacy closed, permission pull, parent null |
| org invitation | id `{INVITATION_ID}` (newbie, role direct_member) |
| webhook hook | id `{HOOK_ID}` (`ping.json`) |

## Timelines

`updated_at` of the pull request strictly increases in this order (2026-11-20, 10:00 to
11:20, a few minutes apart): {pr_order}. The `pull_request_review` fixtures sit at 11:00
(submitted), 11:02 (edited) and 11:06 (dismissed, after the 11:05 `synchronize`); hubot
re-approves at 11:08 (review 81, no fixture).

`updated_at` of issue #7 strictly increases in this order (2026-11-19, 09:00 to 09:55):
{issue_order}. `transferred` and `deleted` are alternative endings of the issue's life.

Labels, assignees and requested reviewers carry over from one fixture to the next (e.g. the
PR keeps label `enhancement` and assignee octocat after `unlabeled` / `unassigned`).
Installation and org fixtures are dated 2026-11-01 to 2026-11-30; all fixtures use the
post-rename login `octo-org`.

Replaying the whole directory with `mergecast replay` sends `installation.*` first, which
includes `installation.deleted` and `installation.suspend`; send single files when order
matters.

## Files

| file | X-GitHub-Event | action | PR / issue updated_at | notes |
| --- | --- | --- | --- | --- |
{table}
"""


# --------------------------------------------------------------------------------------------
# Assembly, writing, validation
# --------------------------------------------------------------------------------------------
def all_fixtures() -> dict[str, dict]:
    files: dict[str, dict] = {}

    def add(event: str, by_action: dict[str, dict]):
        for action, payload in by_action.items():
            files[f"{event}.{action}.json"] = payload

    add("installation", build_installation_events())
    add("installation_repositories", build_installation_repositories_events())
    add("installation_target", build_installation_target_events())
    add("github_app_authorization", build_github_app_authorization_events())
    add("organization", build_organization_events())
    add("member", build_member_events())
    add("membership", build_membership_events())
    add("team", build_team_events())
    add("pull_request", build_pull_request_events())
    add("pull_request_review", build_pull_request_review_events())
    add("issues", build_issues_events())
    files["ping.json"] = build_ping()
    return files


# Order in which each event's fixtures happen (used to check updated_at is monotonic).
PR_TIMELINE = [
    "opened", "edited", "labeled", "unlabeled", "assigned", "unassigned", "milestoned",
    "demilestoned", "converted_to_draft", "ready_for_review", "review_requested",
    "review_request_removed", "locked", "unlocked", "closed_unmerged", "reopened",
    "synchronize", "auto_merge_enabled", "auto_merge_disabled", "enqueued", "dequeued",
    "closed_merged",
]
ISSUE_TIMELINE = [
    "opened", "edited", "labeled", "unlabeled", "assigned", "unassigned", "typed", "untyped",
    "milestoned", "demilestoned", "pinned", "unpinned", "locked", "unlocked", "closed",
    "reopened", "transferred", "deleted",
]


def validate(directory: Path, expected: set[str] | None = None) -> list[str]:
    errors: list[str] = []
    loaded: dict[str, dict] = {}
    paths = sorted(directory.glob("*.json"))
    for p in paths:
        try:
            obj = json.loads(p.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            errors.append(f"{p.name}: not valid JSON: {e}")
            continue
        if not isinstance(obj, dict):
            errors.append(f"{p.name}: not a JSON object")
            continue
        event = p.name.split(".", 1)[0]
        if event != "ping" and not isinstance(obj.get("action"), str):
            errors.append(f"{p.name}: missing string 'action'")
        if event != "ping" and event != "github_app_authorization":
            inst = obj.get("installation") or {}
            if inst.get("id") != INSTALLATION_ID:
                errors.append(f"{p.name}: installation.id is not {INSTALLATION_ID}")
        loaded[p.name] = obj
    if expected is not None:
        missing = expected - set(loaded)
        extra = set(loaded) - expected
        errors += [f"missing fixture {n}" for n in sorted(missing)]
        errors += [f"unexpected file (not generated by this script) {n}" for n in sorted(extra)]

    def check_timeline(event, order, key):
        prev = None
        for action in order:
            name = f"{event}.{action}.json"
            if name not in loaded:
                continue
            obj = loaded[name][key]
            if obj["number"] != (PR_NUMBER if key == "pull_request" else ISSUE_NUMBER):
                errors.append(f"{name}: wrong number")
            if obj["id"] != (PR_ID if key == "pull_request" else ISSUE_ID):
                errors.append(f"{name}: wrong id")
            if prev and obj["updated_at"] <= prev[1]:
                errors.append(f"{name}: updated_at {obj['updated_at']} not after {prev[0]}")
            prev = (name, obj["updated_at"])

    check_timeline("pull_request", PR_TIMELINE, "pull_request")
    check_timeline("issues", ISSUE_TIMELINE, "issue")

    merged = loaded.get("pull_request.closed_merged.json", {}).get("pull_request")
    if merged and not (merged["merged"] is True and merged["merged_at"] and merged["state"] == "closed"
                       and merged["merged_by"]["login"] == "hubot" and merged["merge_commit_sha"]):
        errors.append("pull_request.closed_merged.json: not a merged, closed PR merged by hubot")
    unmerged = loaded.get("pull_request.closed_unmerged.json", {}).get("pull_request")
    if unmerged and not (unmerged["merged"] is False and unmerged["merged_at"] is None
                         and unmerged["state"] == "closed"):
        errors.append("pull_request.closed_unmerged.json: not a closed, unmerged PR")
    return errors


def write_all() -> list[Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    files = all_fixtures()
    written = []
    for name, payload in sorted(files.items()):
        path = OUT / name
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    (OUT / "README.md").write_text(readme(files), encoding="utf-8")
    return written


def main(argv: list[str]) -> int:
    expected = set(all_fixtures())
    if "--check" not in argv:
        write_all()
    errors = validate(OUT, expected)
    paths = sorted(OUT.glob("*.json"))
    total = 0
    for p in paths:
        size = p.stat().st_size
        total += size
        print(f"{size:>8}  {p.relative_to(ROOT)}")
    print(f"{len(paths)} fixture files, {total} bytes")
    for e in errors:
        print(f"ERROR: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
