//! The webhook parser against GitHub's own published payload examples.
//!
//! `fixtures/github/examples/<event>/<action>[.<variant>].json` are copied byte for byte from
//! octokit/webhooks (source, commit and licence in `fixtures/README.md`). Every file goes through
//! `Event::parse` exactly as the delivery worker calls it (the `X-GitHub-Event` name is the
//! directory), and the typed result is compared field by field with the same JSON read as an
//! untyped `serde_json::Value`, so a test can only pass if the parser read what GitHub sent.
//! `HANDLED_CASES` names every (event, action) Mergecast handles (checked against the parser and
//! the handlers); each must have a real example here or be listed in the README as lacking one.
//! Last, every example of a handled event is delivered end to end (signed over HTTP, queued,
//! applied) and must end processed or ignored.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use mergecast::apply::{self, DeliveryContext, Outcome};
use mergecast::github::events::{Envelope, Event, Label, User};
use serde_json::Value;
use sqlx::PgPool;
use support::TestApp;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One published example: its event (the directory), its file stem and its bytes.
struct Example {
    event: String,
    /// File name without `.json`: `closed`, `opened.with-organization`, ...
    stem: String,
    body: Vec<u8>,
    json: Value,
}

impl Example {
    fn name(&self) -> String {
        format!("{}/{}.json", self.event, self.stem)
    }

    /// The action the file name claims: the stem up to its first dot (none for `ping`).
    fn file_action(&self) -> Option<&str> {
        (self.event != "ping").then(|| self.stem.split('.').next().unwrap_or(&self.stem))
    }

    /// The handled case this example covers, named as in `HANDLED_CASES`:
    /// `event.action`, `ping`, and `pull_request.closed_merged` / `closed_unmerged`.
    fn case(&self) -> String {
        match self.file_action() {
            None => self.event.clone(),
            Some("closed") if self.event == "pull_request" => {
                let merged = self.json["pull_request"]["merged"] == Value::Bool(true);
                let suffix = if merged { "merged" } else { "unmerged" };
                format!("pull_request.closed_{suffix}")
            }
            Some(action) => format!("{}.{action}", self.event),
        }
    }
}

fn examples() -> Vec<Example> {
    let dir = root().join("fixtures/github/examples");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fixtures/github/examples exists") {
        let event_dir = entry.expect("readable directory entry").path();
        if !event_dir.is_dir() {
            continue;
        }
        let event = file_name(&event_dir);
        for file in std::fs::read_dir(&event_dir).expect("readable event directory") {
            let path = file.expect("readable directory entry").path();
            let stem = file_name(&path)
                .strip_suffix(".json")
                .unwrap_or_else(|| panic!("{} is not a .json file", path.display()))
                .to_owned();
            let body = std::fs::read(&path).expect("readable example");
            let json = serde_json::from_slice(&body).expect("example is JSON");
            out.push(Example {
                event: event.clone(),
                stem,
                body,
                json,
            });
        }
    }
    out.sort_by_key(Example::name);
    assert!(out.len() > 50, "only {} examples found", out.len());
    out
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

/// The events Mergecast types; every other event must parse as `Event::Other`.
const HANDLED_EVENTS: &[&str] = &[
    "github_app_authorization",
    "installation",
    "installation_repositories",
    "installation_target",
    "issues",
    "member",
    "membership",
    "organization",
    "ping",
    "pull_request",
    "pull_request_review",
    "team",
];

// --- reading the untyped JSON -----------------------------------------------------------------

fn str_at<'a>(j: &'a Value, pointer: &str) -> Option<&'a str> {
    j.pointer(pointer).and_then(Value::as_str)
}

fn i64_at(j: &Value, pointer: &str) -> Option<i64> {
    j.pointer(pointer).and_then(Value::as_i64)
}

fn bool_at(j: &Value, pointer: &str) -> Option<bool> {
    j.pointer(pointer).and_then(Value::as_bool)
}

fn time_at(j: &Value, pointer: &str) -> Option<DateTime<Utc>> {
    str_at(j, pointer).map(|s| {
        DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("{pointer} = {s:?} is not RFC 3339: {e}"))
            .with_timezone(&Utc)
    })
}

fn array_at<'a>(j: &'a Value, pointer: &str) -> &'a [Value] {
    j.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn strings_at(j: &Value, pointer: &str, key: &str) -> Vec<String> {
    array_at(j, pointer)
        .iter()
        .map(|v| v[key].as_str().expect("a string").to_owned())
        .collect()
}

fn ids_at(j: &Value, pointer: &str) -> Vec<i64> {
    array_at(j, pointer)
        .iter()
        .map(|v| v["id"].as_i64().expect("an integer id"))
        .collect()
}

fn logins(users: &[User]) -> Vec<String> {
    users.iter().map(|u| u.login.clone()).collect()
}

fn label_names(labels: &[Label]) -> Vec<String> {
    labels.iter().map(|l| l.name.clone()).collect()
}

fn user_eq(name: &str, what: &str, typed: Option<&User>, j: &Value, pointer: &str) {
    let want = j.pointer(pointer).filter(|v| !v.is_null());
    assert_eq!(
        typed.map(|u| (u.id, u.login.as_str())),
        want.map(|u| (
            u["id"].as_i64().expect("user id"),
            u["login"].as_str().expect("user login")
        )),
        "{name}: {what}"
    );
}

// --- the per-event checks ---------------------------------------------------------------------

/// Parses `ex` like the worker does and checks the typed value against the JSON. Returns the
/// parse error instead of panicking so that one run lists every example that fails to parse.
fn check(ex: &Example) -> Result<(), String> {
    let name = ex.name();
    let j = &ex.json;

    // The web handler reads the envelope before queueing the delivery.
    let envelope = Envelope::parse(&ex.body).map_err(|e| format!("{name}: envelope: {e}"))?;
    assert_eq!(
        envelope.action.as_deref(),
        str_at(j, "/action"),
        "{name}: envelope action"
    );
    assert_eq!(
        envelope.installation.map(|i| i.id),
        i64_at(j, "/installation/id"),
        "{name}: envelope installation"
    );
    assert_eq!(
        str_at(j, "/action"),
        ex.file_action(),
        "{name}: the file name names the body's action"
    );

    let event = Event::parse(&ex.event, &ex.body).map_err(|e| format!("{name}: {e}"))?;
    let action = ex.file_action().unwrap_or_default();
    match event {
        Event::Ping => {
            assert_eq!(ex.event, "ping", "{name}");
            assert!(
                j.get("zen").is_some() && j.get("action").is_none(),
                "{name}"
            );
        }
        Event::Installation(e) => {
            assert_eq!(ex.event, "installation", "{name}");
            assert_eq!(e.action, action, "{name}");
            let inst = &e.installation;
            assert_eq!(Some(inst.id), i64_at(j, "/installation/id"), "{name}");
            let account = inst.account.as_ref().expect("installation account");
            assert_eq!(
                (Some(account.id), Some(account.login.as_str())),
                (
                    i64_at(j, "/installation/account/id"),
                    str_at(j, "/installation/account/login")
                ),
                "{name}: account"
            );
            assert_eq!(
                inst.repository_selection.as_deref(),
                str_at(j, "/installation/repository_selection"),
                "{name}"
            );
            assert_eq!(
                inst.target_type.as_deref(),
                str_at(j, "/installation/target_type"),
                "{name}"
            );
            assert_eq!(
                &inst.permissions, &j["installation"]["permissions"],
                "{name}"
            );
            assert_eq!(&inst.events, &j["installation"]["events"], "{name}");
            assert_eq!(
                inst.suspended_at,
                time_at(j, "/installation/suspended_at"),
                "{name}"
            );
            assert_eq!(
                inst.suspended_by.as_ref().map(|a| a.login.as_str()),
                str_at(j, "/installation/suspended_by/login"),
                "{name}"
            );
            let repos: Vec<_> = e
                .repositories
                .iter()
                .map(|r| (r.id, r.full_name.clone(), r.private))
                .collect();
            let want: Vec<_> = array_at(j, "/repositories")
                .iter()
                .map(|r| {
                    (
                        r["id"].as_i64().expect("repo id"),
                        r["full_name"].as_str().expect("full_name").to_owned(),
                        r["private"].as_bool().expect("private"),
                    )
                })
                .collect();
            assert_eq!(repos, want, "{name}: repositories");
            user_eq(&name, "sender", e.sender.as_ref(), j, "/sender");
        }
        Event::InstallationRepositories(e) => {
            assert_eq!(ex.event, "installation_repositories", "{name}");
            assert_eq!(e.action, action, "{name}");
            assert_eq!(
                Some(e.installation.id),
                i64_at(j, "/installation/id"),
                "{name}"
            );
            assert_eq!(
                e.repository_selection.as_deref(),
                str_at(j, "/repository_selection"),
                "{name}"
            );
            let added: Vec<i64> = e.repositories_added.iter().map(|r| r.id).collect();
            let removed: Vec<i64> = e.repositories_removed.iter().map(|r| r.id).collect();
            assert_eq!(added, ids_at(j, "/repositories_added"), "{name}");
            assert_eq!(removed, ids_at(j, "/repositories_removed"), "{name}");
            assert!(
                !added.is_empty() || !removed.is_empty(),
                "{name}: no change"
            );
        }
        Event::InstallationTarget(e) => {
            assert_eq!(ex.event, "installation_target", "{name}");
            assert_eq!(e.action, action, "{name}");
            assert_eq!(
                Some(e.installation.id),
                i64_at(j, "/installation/id"),
                "{name}"
            );
            assert_eq!(
                (Some(e.account.id), Some(e.account.login.as_str())),
                (i64_at(j, "/account/id"), str_at(j, "/account/login")),
                "{name}"
            );
            assert_eq!(
                e.target_type.as_deref(),
                str_at(j, "/target_type"),
                "{name}"
            );
        }
        Event::AppAuthorization(e) => {
            assert_eq!(ex.event, "github_app_authorization", "{name}");
            assert_eq!(e.action, action, "{name}");
            user_eq(&name, "sender", Some(&e.sender), j, "/sender");
        }
        Event::Organization(e) => {
            assert_eq!(ex.event, "organization", "{name}");
            assert_eq!(e.action, action, "{name}");
            assert_eq!(
                e.installation.map(|i| i.id),
                i64_at(j, "/installation/id"),
                "{name}"
            );
            assert_eq!(
                (Some(e.organization.id), Some(e.organization.login.as_str())),
                (
                    i64_at(j, "/organization/id"),
                    str_at(j, "/organization/login")
                ),
                "{name}"
            );
            let membership = e.membership.as_ref();
            user_eq(
                &name,
                "membership.user",
                membership.and_then(|m| m.user.as_ref()),
                j,
                "/membership/user",
            );
            assert_eq!(
                membership.and_then(|m| m.role.as_deref()),
                str_at(j, "/membership/role"),
                "{name}"
            );
            assert_eq!(
                membership.and_then(|m| m.state.as_deref()),
                str_at(j, "/membership/state"),
                "{name}"
            );
            user_eq(&name, "user", e.user.as_ref(), j, "/user");
            assert_eq!(
                e.invitation.as_ref(),
                j.get("invitation").filter(|v| !v.is_null()),
                "{name}"
            );
        }
        Event::Member(e) => {
            assert_eq!(ex.event, "member", "{name}");
            assert_eq!(e.action, action, "{name}");
            assert_eq!(
                e.installation.map(|i| i.id),
                i64_at(j, "/installation/id"),
                "{name}"
            );
            user_eq(&name, "member", Some(&e.member), j, "/member");
            assert_eq!(
                (Some(e.repository.id), Some(e.repository.full_name.as_str())),
                (
                    i64_at(j, "/repository/id"),
                    str_at(j, "/repository/full_name")
                ),
                "{name}"
            );
            assert_eq!(
                &e.changes,
                j.get("changes").unwrap_or(&Value::Null),
                "{name}"
            );
        }
        Event::Membership(e) => {
            assert_eq!(ex.event, "membership", "{name}");
            assert_eq!(e.action, action, "{name}");
            assert_eq!(
                e.installation.map(|i| i.id),
                i64_at(j, "/installation/id"),
                "{name}"
            );
            user_eq(&name, "member", Some(&e.member), j, "/member");
            assert_eq!(Some(e.team.id), i64_at(j, "/team/id"), "{name}");
            assert_eq!(
                Some(e.team.name.as_str()),
                str_at(j, "/team/name"),
                "{name}"
            );
            assert_eq!(e.team.slug, str_at(j, "/team/slug").unwrap_or(""), "{name}");
            assert_eq!(
                e.team.deleted,
                bool_at(j, "/team/deleted"),
                "{name}: team.deleted"
            );
            assert_eq!(
                Some(e.organization.login.as_str()),
                str_at(j, "/organization/login"),
                "{name}"
            );
        }
        Event::Team(e) => {
            assert_eq!(ex.event, "team", "{name}");
            assert_eq!(e.action, action, "{name}");
            assert_eq!(
                e.installation.map(|i| i.id),
                i64_at(j, "/installation/id"),
                "{name}"
            );
            assert_eq!(
                (
                    Some(e.team.id),
                    Some(e.team.slug.as_str()),
                    Some(e.team.name.as_str())
                ),
                (
                    i64_at(j, "/team/id"),
                    str_at(j, "/team/slug"),
                    str_at(j, "/team/name")
                ),
                "{name}"
            );
            assert_eq!(
                e.team.permission.as_deref(),
                str_at(j, "/team/permission"),
                "{name}"
            );
            assert_eq!(
                e.team.privacy.as_deref(),
                str_at(j, "/team/privacy"),
                "{name}"
            );
            assert_eq!(
                e.team.parent.as_ref().map(|p| p.id),
                i64_at(j, "/team/parent/id"),
                "{name}"
            );
            assert_eq!(
                Some(e.organization.login.as_str()),
                str_at(j, "/organization/login"),
                "{name}"
            );
            assert_eq!(
                e.repository.as_ref().map(|r| r.id),
                i64_at(j, "/repository/id"),
                "{name}"
            );
        }
        Event::PullRequest(e) => {
            assert_eq!(ex.event, "pull_request", "{name}");
            assert_eq!(e.action, action, "{name}");
            assert_eq!(
                e.installation.map(|i| i.id),
                i64_at(j, "/installation/id"),
                "{name}"
            );
            assert_eq!(
                (Some(e.repository.id), Some(e.repository.full_name.as_str())),
                (
                    i64_at(j, "/repository/id"),
                    str_at(j, "/repository/full_name")
                ),
                "{name}"
            );
            pull_request_eq(&name, &e.pull_request, &j["pull_request"]);
            assert_eq!(
                Some(i64::from(e.pull_request.number)),
                i64_at(j, "/number"),
                "{name}: top-level number"
            );
        }
        Event::PullRequestReview(e) => {
            assert_eq!(ex.event, "pull_request_review", "{name}");
            assert_eq!(e.action, action, "{name}");
            assert_eq!(
                e.installation.map(|i| i.id),
                i64_at(j, "/installation/id"),
                "{name}"
            );
            let r = &e.review;
            assert_eq!(Some(r.id), i64_at(j, "/review/id"), "{name}");
            user_eq(&name, "review.user", r.user.as_ref(), j, "/review/user");
            assert_eq!(Some(r.state.as_str()), str_at(j, "/review/state"), "{name}");
            assert_eq!(
                r.commit_id.as_deref(),
                str_at(j, "/review/commit_id"),
                "{name}"
            );
            assert_eq!(r.body.as_deref(), str_at(j, "/review/body"), "{name}");
            assert_eq!(r.submitted_at, time_at(j, "/review/submitted_at"), "{name}");
            pull_request_eq(&name, &e.pull_request, &j["pull_request"]);
            assert_eq!(Some(e.repository.id), i64_at(j, "/repository/id"), "{name}");
        }
        Event::Issues(e) => {
            assert_eq!(ex.event, "issues", "{name}");
            assert_eq!(e.action, action, "{name}");
            assert_eq!(
                e.installation.map(|i| i.id),
                i64_at(j, "/installation/id"),
                "{name}"
            );
            let i = &e.issue;
            let ji = &j["issue"];
            assert_eq!(
                (
                    Some(i.id),
                    Some(i64::from(i.number)),
                    Some(i.title.as_str())
                ),
                (
                    i64_at(ji, "/id"),
                    i64_at(ji, "/number"),
                    str_at(ji, "/title")
                ),
                "{name}"
            );
            // `state` and `locked` are not required by GitHub's schema (the pinned examples omit
            // them): empty / false then.
            assert_eq!(i.state, str_at(ji, "/state").unwrap_or(""), "{name}");
            assert_eq!(
                i.state_reason.as_deref(),
                str_at(ji, "/state_reason"),
                "{name}"
            );
            assert_eq!(i.locked, bool_at(ji, "/locked").unwrap_or(false), "{name}");
            user_eq(&name, "issue.user", i.user.as_ref(), ji, "/user");
            assert_eq!(label_names(&i.labels), strings_at(ji, "/labels", "name"));
            assert_eq!(
                logins(&i.assignees),
                strings_at(ji, "/assignees", "login"),
                "{name}"
            );
            assert_eq!(
                i.milestone.as_ref().map(|m| m.title.as_str()),
                str_at(ji, "/milestone/title"),
                "{name}"
            );
            assert_eq!(Some(i.updated_at), time_at(ji, "/updated_at"), "{name}");
            assert_eq!(i.closed_at, time_at(ji, "/closed_at"), "{name}");
            assert_eq!(
                i.pull_request.is_some(),
                ji.get("pull_request").is_some_and(|v| !v.is_null()),
                "{name}"
            );
            assert_eq!(
                (Some(e.repository.id), Some(e.repository.full_name.as_str())),
                (
                    i64_at(j, "/repository/id"),
                    str_at(j, "/repository/full_name")
                ),
                "{name}"
            );
            let new_repo = e
                .changes
                .as_ref()
                .and_then(|c| c.new_repository.as_ref())
                .map(|r| r.full_name.as_str());
            assert_eq!(
                new_repo,
                str_at(j, "/changes/new_repository/full_name"),
                "{name}: transferred to"
            );
        }
        Event::Other { event } => {
            assert_eq!(event, ex.event, "{name}");
            assert!(
                !HANDLED_EVENTS.contains(&event.as_str()),
                "{name}: a handled event parsed as Other"
            );
        }
    }
    Ok(())
}

fn pull_request_eq(name: &str, pr: &mergecast::github::events::PullRequest, j: &Value) {
    assert_eq!(
        (
            Some(pr.id),
            Some(i64::from(pr.number)),
            Some(pr.title.as_str())
        ),
        (i64_at(j, "/id"), i64_at(j, "/number"), str_at(j, "/title")),
        "{name}: pull request"
    );
    assert_eq!(Some(pr.state.as_str()), str_at(j, "/state"), "{name}");
    assert_eq!(Some(pr.draft), bool_at(j, "/draft"), "{name}: draft");
    assert_eq!(Some(pr.locked), bool_at(j, "/locked"), "{name}: locked");
    user_eq(name, "pull_request.user", pr.user.as_ref(), j, "/user");
    assert_eq!(pr.html_url.as_deref(), str_at(j, "/html_url"), "{name}");
    assert_eq!(
        (pr.head.name.as_str(), pr.head.sha.as_str()),
        (
            str_at(j, "/head/ref").expect("head.ref"),
            str_at(j, "/head/sha").expect("head.sha")
        ),
        "{name}: head"
    );
    assert_eq!(
        (pr.base.name.as_str(), pr.base.sha.as_str()),
        (
            str_at(j, "/base/ref").expect("base.ref"),
            str_at(j, "/base/sha").expect("base.sha")
        ),
        "{name}: base"
    );
    assert_eq!(pr.merged, bool_at(j, "/merged"), "{name}: merged");
    assert_eq!(pr.merged_at, time_at(j, "/merged_at"), "{name}: merged_at");
    assert_eq!(
        pr.is_merged(),
        bool_at(j, "/merged") == Some(true) || time_at(j, "/merged_at").is_some(),
        "{name}: is_merged"
    );
    user_eq(name, "merged_by", pr.merged_by.as_ref(), j, "/merged_by");
    assert_eq!(
        pr.merge_commit_sha.as_deref(),
        str_at(j, "/merge_commit_sha"),
        "{name}"
    );
    assert_eq!(
        label_names(&pr.labels),
        strings_at(j, "/labels", "name"),
        "{name}: labels"
    );
    assert_eq!(
        logins(&pr.assignees),
        strings_at(j, "/assignees", "login"),
        "{name}: assignees"
    );
    assert_eq!(
        pr.requested_reviewers.as_slice(),
        array_at(j, "/requested_reviewers"),
        "{name}: requested_reviewers"
    );
    assert_eq!(
        pr.requested_teams.as_slice(),
        array_at(j, "/requested_teams"),
        "{name}: requested_teams"
    );
    assert_eq!(
        pr.milestone.as_ref().map(|m| m.title.as_str()),
        str_at(j, "/milestone/title"),
        "{name}: milestone"
    );
    assert_eq!(
        pr.auto_merge.as_ref(),
        j.get("auto_merge").filter(|v| !v.is_null()),
        "{name}: auto_merge"
    );
    assert_eq!(
        pr.additions.map(i64::from),
        i64_at(j, "/additions"),
        "{name}"
    );
    assert_eq!(
        pr.changed_files.map(i64::from),
        i64_at(j, "/changed_files"),
        "{name}"
    );
    assert_eq!(pr.created_at, time_at(j, "/created_at"), "{name}");
    assert_eq!(Some(pr.updated_at), time_at(j, "/updated_at"), "{name}");
    assert_eq!(pr.closed_at, time_at(j, "/closed_at"), "{name}");
}

#[test]
fn every_published_example_parses_to_what_it_says() {
    let failures: Vec<String> = examples().iter().filter_map(|ex| check(ex).err()).collect();
    assert!(
        failures.is_empty(),
        "{} examples do not parse:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// --- which pairs are handled, and which have examples -----------------------------------------

/// The handled cases, one per (event, action) Mergecast handles: `event.action`, `ping`, and
/// `pull_request.closed_merged` / `closed_unmerged` (both action `closed`, told apart by
/// `pull_request.merged`). `handlers_handle_exactly_the_listed_pairs` checks this list against
/// the handlers' own answer, `the_parser_types_exactly_the_handled_events` against the parser,
/// and `every_handled_pair_has_an_example_or_is_listed_as_lacking` against `fixtures/README.md`.
const HANDLED_CASES: &[&str] = &[
    "github_app_authorization.revoked",
    "installation.created",
    "installation.deleted",
    "installation.new_permissions_accepted",
    "installation.suspend",
    "installation.unsuspend",
    "installation_repositories.added",
    "installation_repositories.removed",
    "installation_target.renamed",
    "issues.assigned",
    "issues.closed",
    "issues.deleted",
    "issues.demilestoned",
    "issues.edited",
    "issues.labeled",
    "issues.locked",
    "issues.milestoned",
    "issues.opened",
    "issues.pinned",
    "issues.reopened",
    "issues.transferred",
    "issues.typed",
    "issues.unassigned",
    "issues.unlabeled",
    "issues.unlocked",
    "issues.unpinned",
    "issues.untyped",
    "member.added",
    "member.edited",
    "member.removed",
    "membership.added",
    "membership.removed",
    "organization.member_added",
    "organization.member_invited",
    "organization.member_removed",
    "organization.renamed",
    "ping",
    "pull_request.assigned",
    "pull_request.auto_merge_disabled",
    "pull_request.auto_merge_enabled",
    "pull_request.closed_merged",
    "pull_request.closed_unmerged",
    "pull_request.converted_to_draft",
    "pull_request.demilestoned",
    "pull_request.dequeued",
    "pull_request.edited",
    "pull_request.enqueued",
    "pull_request.labeled",
    "pull_request.locked",
    "pull_request.milestoned",
    "pull_request.opened",
    "pull_request.ready_for_review",
    "pull_request.reopened",
    "pull_request.review_request_removed",
    "pull_request.review_requested",
    "pull_request.synchronize",
    "pull_request.unassigned",
    "pull_request.unlabeled",
    "pull_request.unlocked",
    "pull_request_review.dismissed",
    "pull_request_review.edited",
    "pull_request_review.submitted",
    "team.added_to_repository",
    "team.created",
    "team.deleted",
    "team.edited",
    "team.removed_from_repository",
];

fn handled_cases() -> BTreeSet<String> {
    let cases: BTreeSet<String> = HANDLED_CASES.iter().map(|c| c.to_string()).collect();
    assert_eq!(
        cases.len(),
        HANDLED_CASES.len(),
        "HANDLED_CASES has duplicates"
    );
    cases
}

/// `pull_request.closed_merged` -> (`pull_request`, `closed`); `ping` -> (`ping`, ``).
fn split_case(case: &str) -> (&str, &str) {
    let (event, action) = case.split_once('.').unwrap_or((case, ""));
    let action = action
        .strip_suffix("_unmerged")
        .or_else(|| action.strip_suffix("_merged"))
        .unwrap_or(action);
    (event, action)
}

/// The rows of the markdown table under the `## <heading>` of `fixtures/README.md` whose title
/// starts with `heading`, as (first cell, second cell).
fn readme_rows(heading: &str) -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(root().join("fixtures/README.md")).expect("fixtures/README.md");
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("fixtures/README.md has no section {heading:?}"));
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 2, "two cells in {l:?}");
            (cells[0].trim_matches('`').to_owned(), cells[1].to_owned())
        })
        .collect()
}

/// The `backticked` names in a table cell.
fn ticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_handled_pair_has_an_example_or_is_listed_as_lacking() {
    let handled = handled_cases();
    let mut covered: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unhandled: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ex in examples() {
        let target = if HANDLED_EVENTS.contains(&ex.event.as_str()) {
            &mut covered
        } else {
            &mut unhandled
        };
        target.entry(ex.case()).or_default().push(ex.name());
    }

    // Every example of a handled event covers a handled case (no typo in a file name).
    for case in covered.keys() {
        assert!(
            handled.contains(case),
            "{case} has an example but is not a handled case"
        );
    }

    // The README's table has one row per handled case, saying exactly which files cover it.
    let rows = readme_rows("Coverage");
    let listed: Vec<&str> = rows.iter().map(|(case, _)| case.as_str()).collect();
    let handled_list: Vec<&str> = handled.iter().map(String::as_str).collect();
    assert_eq!(listed, handled_list, "fixtures/README.md coverage rows");
    let mut lacking = Vec::new();
    for (case, cell) in &rows {
        let files = covered.get(case).cloned().unwrap_or_default();
        if cell.contains("**lacking**") {
            assert!(
                files.is_empty(),
                "{case} is listed as lacking but has {files:?}"
            );
            lacking.push(case.as_str());
        } else {
            assert!(
                !files.is_empty(),
                "{case}: no example, and the README does not say lacking"
            );
            assert_eq!(ticked(cell), files, "{case}: files listed in the README");
        }
    }
    assert!(
        lacking.len() < handled.len() / 2,
        "most pairs should have examples: {lacking:?}"
    );

    // Examples of events Mergecast does not handle are listed too.
    let rows = readme_rows("Examples of events Mergecast does not handle");
    let listed: BTreeMap<String, Vec<String>> = rows
        .into_iter()
        .map(|(case, cell)| (case, ticked(&cell)))
        .collect();
    assert_eq!(
        listed, unhandled,
        "fixtures/README.md: not-handled examples"
    );

    // And every file has its source path.
    let files: Vec<String> = readme_rows("Files").into_iter().map(|(f, _)| f).collect();
    let names: Vec<String> = examples().iter().map(Example::name).collect();
    assert_eq!(
        files, names,
        "fixtures/README.md: files and their source paths"
    );
}

/// Every event name GitHub documents webhooks for (octokit/webhooks `payload-schemas`, at the
/// commit the examples come from).
const GITHUB_EVENTS: &[&str] = &[
    "branch_protection_configuration",
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "code_scanning_alert",
    "commit_comment",
    "create",
    "custom_property",
    "custom_property_values",
    "delete",
    "dependabot_alert",
    "deploy_key",
    "deployment",
    "deployment_protection_rule",
    "deployment_review",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "fork",
    "github_app_authorization",
    "gollum",
    "installation",
    "installation_repositories",
    "installation_target",
    "issue_comment",
    "issues",
    "label",
    "marketplace_purchase",
    "member",
    "membership",
    "merge_group",
    "meta",
    "milestone",
    "org_block",
    "organization",
    "package",
    "page_build",
    "ping",
    "project",
    "project_card",
    "project_column",
    "projects_v2_item",
    "public",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_review_thread",
    "push",
    "registry_package",
    "release",
    "repository",
    "repository_dispatch",
    "repository_import",
    "repository_vulnerability_alert",
    "secret_scanning_alert",
    "secret_scanning_alert_location",
    "security_advisory",
    "sponsorship",
    "star",
    "status",
    "team",
    "team_add",
    "watch",
    "workflow_dispatch",
    "workflow_job",
    "workflow_run",
];

#[test]
fn the_parser_types_exactly_the_handled_events() {
    // An event the parser types fails on an empty object (its fields are missing) or is a ping;
    // any other event is `Other` whatever the body.
    let typed: BTreeSet<&str> = GITHUB_EVENTS
        .iter()
        .copied()
        .filter(|e| !matches!(Event::parse(e, b"{}"), Ok(Event::Other { .. })))
        .collect();
    let handled: BTreeSet<&str> = HANDLED_EVENTS.iter().copied().collect();
    assert_eq!(typed, handled);
    let with_fixtures: BTreeSet<String> = handled_cases()
        .iter()
        .map(|c| split_case(c).0.to_owned())
        .collect();
    assert_eq!(
        with_fixtures,
        handled.iter().map(|e| e.to_string()).collect(),
        "every typed event has handled cases"
    );
}

/// An action no handler knows: stands for one GitHub adds later.
const FUTURE_ACTION: &str = "some_action_github_adds_later";

#[test]
fn an_event_mergecast_does_not_handle_parses_as_other() {
    let body =
        std::fs::read(root().join("fixtures/github/examples/merge_group/checks_requested.json"))
            .expect("merge_group example");
    assert!(matches!(
        Event::parse("merge_group", &body),
        Ok(Event::Other { event }) if event == "merge_group"
    ));
    let envelope = Envelope::parse(&body).expect("envelope");
    assert_eq!(envelope.action.as_deref(), Some("checks_requested"));
}

#[test]
fn an_action_github_adds_later_still_parses() {
    for ex in examples() {
        if !HANDLED_EVENTS.contains(&ex.event.as_str()) || ex.event == "ping" {
            continue;
        }
        let mut json = ex.json.clone();
        json["action"] = Value::from(FUTURE_ACTION);
        let body = serde_json::to_vec(&json).expect("serialize");
        let event = Event::parse(&ex.event, &body)
            .unwrap_or_else(|e| panic!("{}: with a new action: {e}", ex.name()));
        let action = match &event {
            Event::Installation(e) => &e.action,
            Event::InstallationRepositories(e) => &e.action,
            Event::InstallationTarget(e) => &e.action,
            Event::AppAuthorization(e) => &e.action,
            Event::Organization(e) => &e.action,
            Event::Member(e) => &e.action,
            Event::Membership(e) => &e.action,
            Event::Team(e) => &e.action,
            Event::PullRequest(e) => &e.action,
            Event::PullRequestReview(e) => &e.action,
            Event::Issues(e) => &e.action,
            Event::Ping | Event::Other { .. } => panic!("{}: parsed as {event:?}", ex.name()),
        };
        assert_eq!(action, FUTURE_ACTION, "{}", ex.name());
    }
}

// --- what the handlers do with them (Postgres) ------------------------------------------------

/// The actions GitHub documents per handled event (octokit/webhooks `payload-schemas`, same
/// commit). `issues.typed` / `untyped` are missing there but handled, so they come from
/// `HANDLED_CASES`.
const GITHUB_ACTIONS: &[(&str, &[&str])] = &[
    ("github_app_authorization", &["revoked"]),
    (
        "installation",
        &[
            "created",
            "deleted",
            "new_permissions_accepted",
            "suspend",
            "unsuspend",
        ],
    ),
    ("installation_repositories", &["added", "removed"]),
    ("installation_target", &["renamed"]),
    (
        "issues",
        &[
            "assigned",
            "closed",
            "deleted",
            "demilestoned",
            "edited",
            "labeled",
            "locked",
            "milestoned",
            "opened",
            "pinned",
            "reopened",
            "transferred",
            "unassigned",
            "unlabeled",
            "unlocked",
            "unpinned",
        ],
    ),
    ("member", &["added", "edited", "removed"]),
    ("membership", &["added", "removed"]),
    (
        "organization",
        &[
            "deleted",
            "member_added",
            "member_invited",
            "member_removed",
            "renamed",
        ],
    ),
    (
        "pull_request",
        &[
            "assigned",
            "auto_merge_disabled",
            "auto_merge_enabled",
            "closed",
            "converted_to_draft",
            "demilestoned",
            "dequeued",
            "edited",
            "enqueued",
            "labeled",
            "locked",
            "milestoned",
            "opened",
            "ready_for_review",
            "reopened",
            "review_request_removed",
            "review_requested",
            "synchronize",
            "unassigned",
            "unlabeled",
            "unlocked",
        ],
    ),
    ("pull_request_review", &["dismissed", "edited", "submitted"]),
    (
        "team",
        &[
            "added_to_repository",
            "created",
            "deleted",
            "edited",
            "removed_from_repository",
        ],
    ),
];

/// Applies `body` as `event` in a transaction that is rolled back, after making sure the
/// installation it names exists (as it does in production by the time such events arrive).
async fn apply_and_roll_back(pool: &PgPool, event: &str, json: &Value) -> Outcome {
    let body = serde_json::to_vec(json).expect("serialize");
    let parsed = Event::parse(event, &body).unwrap_or_else(|e| panic!("{event}: {e}"));
    let mut tx = pool.begin().await.expect("begin");
    if let Some(id) = i64_at(json, "/installation/id") {
        mergecast::store::installations::ensure(
            &mut *tx,
            mergecast::ids::InstallationId(id),
            "octo-org",
        )
        .await
        .expect("ensure installation");
    }
    let ctx = DeliveryContext {
        received_at: Utc::now(),
    };
    let outcome = apply::apply(&mut tx, &parsed, ctx)
        .await
        .unwrap_or_else(|e| panic!("{event}.{}: {e}", str_at(json, "/action").unwrap_or("-")));
    tx.rollback().await.expect("rollback");
    outcome
}

/// A body for a handled event GitHub publishes no example of (`installation_target`), with the
/// fields its documentation lists.
fn without_example(event: &str) -> Option<Value> {
    (event == "installation_target").then(|| {
        serde_json::json!({
            "action": "renamed",
            "account": { "id": 9919, "login": "octo-org", "type": "Organization" },
            "changes": { "login": { "from": "octo-org-old" } },
            "installation": { "id": 41234567 },
            "sender": { "id": 583231, "login": "mona", "type": "User" },
            "target_type": "Organization",
        })
    })
}

/// Installation-less bodies (repository webhook examples) get one, as App deliveries have.
fn with_installation(json: &Value) -> Value {
    let mut json = json.clone();
    if json.get("installation").is_none_or(Value::is_null) {
        json["installation"] = serde_json::json!({ "id": 1 });
    }
    json
}

/// The handlers' own answer to "which actions do you handle" must be `HANDLED_CASES`, so a newly handled action shows up in `every_handled_pair_has_an_example...`.
/// Also: every published example of a handled pair applies, and an action GitHub adds later is
/// ignored by handlers with a fixed list of actions and stored by the `pull_request` / `issues`
/// upserts (whose payload always carries the whole object).
#[sqlx::test]
async fn handlers_handle_exactly_the_listed_pairs(pool: PgPool) {
    let handled = handled_cases();
    let examples = examples();
    for (event, documented) in GITHUB_ACTIONS {
        let declared: BTreeSet<&str> = handled
            .iter()
            .map(|c| split_case(c))
            .filter(|(e, _)| e == event)
            .map(|(_, a)| a)
            .collect();
        // A real example of the event when there is one, else a minimal body of its own.
        let base = examples
            .iter()
            .find(|ex| ex.event == *event)
            .map(|ex| with_installation(&ex.json))
            .unwrap_or_else(|| {
                without_example(event).unwrap_or_else(|| panic!("{event}: no body to apply"))
            });
        let not_handled =
            |action: &str| Outcome::Ignored(format!("{event}.{action} is not handled"));

        let mut applied = BTreeSet::new();
        for action in documented.iter().copied().chain(declared.iter().copied()) {
            let mut json = base.clone();
            json["action"] = Value::from(action);
            if apply_and_roll_back(&pool, event, &json).await != not_handled(action) {
                applied.insert(action);
            }
        }
        assert_eq!(
            applied, declared,
            "{event}: handled actions vs HANDLED_CASES"
        );

        let mut json = base.clone();
        json["action"] = Value::from(FUTURE_ACTION);
        let outcome = apply_and_roll_back(&pool, event, &json).await;
        if matches!(*event, "pull_request" | "issues") {
            assert_eq!(outcome, Outcome::Applied, "{event}.{FUTURE_ACTION}");
        } else {
            assert_eq!(
                outcome,
                not_handled(FUTURE_ACTION),
                "{event}.{FUTURE_ACTION}"
            );
        }
    }

    for ex in &examples {
        if !HANDLED_EVENTS.contains(&ex.event.as_str()) || ex.event == "ping" {
            continue;
        }
        let outcome = apply_and_roll_back(&pool, &ex.event, &with_installation(&ex.json)).await;
        // Issue events on a pull request are the one documented skip (the PR has its own events).
        let expected = if ex.event == "issues" && !ex.json["issue"]["pull_request"].is_null() {
            Outcome::Ignored("issue is a pull request".into())
        } else {
            Outcome::Applied
        };
        assert_eq!(outcome, expected, "{}", ex.name());
    }
}

/// Empties every table but the delivery log: GitHub's examples come from different
/// repositories at different times and do not tell one consistent story (two of them give the
/// same repository and number to different pull requests), so each starts from an empty store.
async fn forget_everything_but_deliveries(app: &TestApp) {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' \
         AND tablename NOT IN ('deliveries', '_sqlx_migrations')",
    )
    .fetch_all(&app.pool)
    .await
    .expect("tables");
    sqlx::query(&format!("TRUNCATE {} CASCADE", tables.join(", ")))
        .execute(&app.pool)
        .await
        .expect("truncate");
}

#[sqlx::test]
async fn every_published_example_is_delivered_end_to_end(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mut wrong = Vec::new();
    let handled = examples()
        .into_iter()
        .filter(|ex| HANDLED_EVENTS.contains(&ex.event.as_str()));
    for ex in handled {
        let (event, name) = (&ex.event, ex.name());
        let (status, id) = app.deliver(event, &ex.body).await;
        if event == "ping" {
            assert_eq!(status, 200, "{name}");
            continue;
        }
        assert_eq!(status, 202, "{name} accepted");
        app.wait_for_status(&id, &["processed", "ignored", "dead", "rejected"])
            .await;
        let (status, error): (String, Option<String>) =
            sqlx::query_as("SELECT status, last_error FROM deliveries WHERE id = $1")
                .bind(&id)
                .fetch_one(&app.pool)
                .await
                .expect("delivery");
        if !matches!(status.as_str(), "processed" | "ignored") {
            wrong.push(format!("{name}: {status} {error:?}"));
        }
        forget_everything_but_deliveries(&app).await;
    }
    assert!(
        wrong.is_empty(),
        "not processed or ignored:\n{}",
        wrong.join("\n")
    );
    app.stop().await;
}
