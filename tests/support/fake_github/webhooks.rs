//! Webhooks from the model's own state: each builder changes the model as the event says GitHub
//! changed (a label added, a pull request merged, a member removed...) and renders the delivery
//! body GitHub would send for it, so the REST fake and the webhooks can never disagree.
//!
//! Bodies follow https://docs.github.com/en/webhooks/webhook-events-and-payloads: the event's
//! object(s) in the same shapes the REST API returns (see [`super::json`]), plus the usual
//! top-level `action`, `installation` (`{id, node_id}`; the whole installation on
//! `installation` events), `organization`, `repository` and `sender`, and the extra fields each
//! action documents (`label`, `assignee`, `requested_reviewer`, `changes`, `before`/`after`...).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::json::{
    account_json, head_sha, installation_json, issue_json, issue_type_json, label_json,
    milestone_json, pull_json, repo_json, review_json, simple_user,
};
use super::model::{Collaborator, Invitation, Issue, Model, Pull, Repo, Review, Team, now};
use super::paging::{Ctx, Query};

/// One delivery body and the `X-GitHub-Event` it is sent under.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub event: &'static str,
    pub body: Value,
}

impl Webhook {
    /// The body's `action`, if it has one.
    pub fn action(&self) -> Option<&str> {
        self.body["action"].as_str()
    }

    /// The exact bytes to sign and send.
    pub fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body).expect("serialize webhook")
    }
}

/// `installation` actions: https://docs.github.com/en/webhooks/webhook-events-and-payloads#installation
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallationAction {
    Created,
    NewPermissionsAccepted,
    Suspend,
    Unsuspend,
    Deleted,
}

/// `organization` actions: https://docs.github.com/en/webhooks/webhook-events-and-payloads#organization
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgAction {
    MemberAdded(i64),
    MemberRemoved(i64),
    /// An invitation of an existing GitHub account, by the org's first member.
    MemberInvited(i64),
    Renamed(String),
}

/// `member` actions (repository collaborators):
/// https://docs.github.com/en/webhooks/webhook-events-and-payloads#member
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollaboratorAction {
    /// Added with this permission.
    Added(String),
    /// The permission changed to this one.
    Edited(String),
    Removed,
}

/// `team` actions: https://docs.github.com/en/webhooks/webhook-events-and-payloads#team
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamAction {
    Created,
    /// The description changed to this one.
    Edited(String),
    Deleted,
    /// Access to a repository, with a permission.
    AddedToRepository(i64, String),
    RemovedFromRepository(i64),
}

/// `pull_request` actions: https://docs.github.com/en/webhooks/webhook-events-and-payloads#pull_request
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullAction {
    Opened,
    /// The title changed to this one.
    Edited(String),
    Labeled(String),
    Unlabeled(String),
    Assigned(i64),
    Unassigned(i64),
    Milestoned(String),
    Demilestoned,
    ConvertedToDraft,
    ReadyForReview,
    ReviewRequested(i64),
    ReviewRequestRemoved(i64),
    Locked,
    Unlocked,
    /// Closed without merging.
    Closed,
    /// Merged (GitHub sends `closed` with `merged: true`) by this user.
    Merged(i64),
    Reopened,
    /// A push to the head branch.
    Synchronize,
    AutoMergeEnabled,
    AutoMergeDisabled,
    Enqueued,
    Dequeued,
}

impl PullAction {
    /// The `action` GitHub sends.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Edited(_) => "edited",
            Self::Labeled(_) => "labeled",
            Self::Unlabeled(_) => "unlabeled",
            Self::Assigned(_) => "assigned",
            Self::Unassigned(_) => "unassigned",
            Self::Milestoned(_) => "milestoned",
            Self::Demilestoned => "demilestoned",
            Self::ConvertedToDraft => "converted_to_draft",
            Self::ReadyForReview => "ready_for_review",
            Self::ReviewRequested(_) => "review_requested",
            Self::ReviewRequestRemoved(_) => "review_request_removed",
            Self::Locked => "locked",
            Self::Unlocked => "unlocked",
            Self::Closed | Self::Merged(_) => "closed",
            Self::Reopened => "reopened",
            Self::Synchronize => "synchronize",
            Self::AutoMergeEnabled => "auto_merge_enabled",
            Self::AutoMergeDisabled => "auto_merge_disabled",
            Self::Enqueued => "enqueued",
            Self::Dequeued => "dequeued",
        }
    }
}

/// `pull_request_review` actions:
/// https://docs.github.com/en/webhooks/webhook-events-and-payloads#pull_request_review
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewAction {
    Submitted,
    /// The body changed to this one.
    Edited(String),
    Dismissed,
}

/// `issues` actions: https://docs.github.com/en/webhooks/webhook-events-and-payloads#issues
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueAction {
    Opened,
    /// The title changed to this one.
    Edited(String),
    Labeled(String),
    Unlabeled(String),
    Assigned(i64),
    Unassigned(i64),
    Typed(String),
    Untyped,
    Milestoned(String),
    Demilestoned,
    Pinned,
    Unpinned,
    Locked,
    Unlocked,
    Closed,
    Reopened,
    /// Moved to this repository.
    Transferred(i64),
    Deleted,
}

impl IssueAction {
    /// The `action` GitHub sends.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Edited(_) => "edited",
            Self::Labeled(_) => "labeled",
            Self::Unlabeled(_) => "unlabeled",
            Self::Assigned(_) => "assigned",
            Self::Unassigned(_) => "unassigned",
            Self::Typed(_) => "typed",
            Self::Untyped => "untyped",
            Self::Milestoned(_) => "milestoned",
            Self::Demilestoned => "demilestoned",
            Self::Pinned => "pinned",
            Self::Unpinned => "unpinned",
            Self::Locked => "locked",
            Self::Unlocked => "unlocked",
            Self::Closed => "closed",
            Self::Reopened => "reopened",
            Self::Transferred(_) => "transferred",
            Self::Deleted => "deleted",
        }
    }
}

/// Renders with the fake's base URL, as the REST side does.
fn render<R>(model: &Model, f: impl FnOnce(&Ctx<'_>) -> R) -> R {
    let query = Query::parse(None);
    let cx = Ctx {
        base: &model.api_url,
        link_base: &model.api_url,
        app_id: model.app_id,
        path: "/",
        query: &query,
        now: Utc::now(),
        per_page_max: model.per_page_max,
    };
    f(&cx)
}

fn remove(ids: &mut Vec<i64>, id: i64) {
    ids.retain(|&x| x != id);
}

fn add(ids: &mut Vec<i64>, id: i64) {
    if !ids.contains(&id) {
        ids.push(id);
    }
}

impl Model {
    /// The installation `{id, node_id}` every event of an installed app carries.
    fn installation_ref(id: i64) -> Value {
        json!({ "id": id, "node_id": format!("MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{id}") })
    }

    /// The org `login` as webhooks embed it (GitHub's "organization simple").
    fn org_json(&self, login: &str) -> Value {
        let id = self
            .installations
            .iter()
            .find(|i| i.account_login.eq_ignore_ascii_case(login))
            .map_or(0, |i| i.account_id);
        let api = format!("{}/orgs/{login}", self.api_url);
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

    fn installation_of_org(&self, login: &str) -> i64 {
        self.installations
            .iter()
            .find(|i| i.account_login.eq_ignore_ascii_case(login))
            .unwrap_or_else(|| panic!("no installation on {login}"))
            .id
    }

    fn user_json(&self, id: i64) -> Value {
        render(self, |cx| simple_user(cx, self, id))
    }

    fn repo_by_id(&self, id: i64) -> Repo {
        self.repos
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no repository {id}"))
            .clone()
    }

    /// The org's first member, who stands for "an admin did it" as the sender.
    fn org_admin(&self, org: &str) -> i64 {
        self.members
            .get(org)
            .and_then(|m| m.first().copied())
            .unwrap_or(0)
    }

    /// `action`, `installation`, `organization`, `repository` (when given) and `sender`.
    fn envelope(&self, action: &str, installation: i64, repo: Option<&Repo>, sender: i64) -> Value {
        let org = self
            .installations
            .iter()
            .find(|i| i.id == installation)
            .map(|i| i.account_login.clone())
            .unwrap_or_default();
        let mut body = json!({
            "action": action,
            "installation": Self::installation_ref(installation),
            "organization": self.org_json(&org),
            "sender": self.user_json(sender),
        });
        if let Some(repo) = repo {
            body["repository"] = render(self, |cx| repo_json(cx, self, repo));
        }
        body
    }

    /// The short repository objects installation events list.
    fn repo_stubs(&self, ids: &[i64]) -> Vec<Value> {
        ids.iter()
            .map(|&id| {
                let r = self.repo_by_id(id);
                json!({
                    "id": r.id,
                    "node_id": format!("R_kgDO{}", r.id),
                    "name": r.name,
                    "full_name": format!("{}/{}", r.owner, r.name),
                    "private": r.private,
                })
            })
            .collect()
    }

    /// An `installation` event; the model changes first (suspended, or gone when deleted).
    pub fn installation_hook(&mut self, id: i64, action: InstallationAction) -> Webhook {
        let at = now();
        let name = match action {
            InstallationAction::Created => "created",
            InstallationAction::NewPermissionsAccepted => "new_permissions_accepted",
            InstallationAction::Suspend => "suspend",
            InstallationAction::Unsuspend => "unsuspend",
            InstallationAction::Deleted => "deleted",
        };
        let inst = self.installation(id);
        inst.updated_at = at;
        match action {
            InstallationAction::Suspend => inst.suspended = true,
            InstallationAction::Unsuspend => inst.suspended = false,
            _ => {}
        }
        let inst = inst.clone();
        let sender = self.org_admin(&inst.account_login);
        let mut body = json!({
            "action": name,
            "installation": render(self, |cx| installation_json(cx, &inst)),
            "sender": self.user_json(sender),
        });
        if matches!(
            action,
            InstallationAction::Created | InstallationAction::Deleted
        ) {
            let repos: Vec<i64> = self
                .repos
                .iter()
                .filter(|r| r.installation_id == id)
                .map(|r| r.id)
                .collect();
            body["repositories"] = json!(self.repo_stubs(&repos));
            body["requester"] = Value::Null;
        }
        if action == InstallationAction::Suspend {
            body["installation"]["suspended_by"] = self.user_json(sender);
        }
        if action == InstallationAction::Deleted {
            self.installations.retain(|i| i.id != id);
            self.tokens.retain(|_, t| t.installation_id != id);
        }
        Webhook {
            event: "installation",
            body,
        }
    }

    /// `installation_repositories`: `added` repositories become visible to the installation,
    /// `removed` ones stop being visible.
    pub fn repositories_hook(&mut self, id: i64, added: &[i64], removed: &[i64]) -> Webhook {
        for repo in self.repos.iter_mut() {
            if added.contains(&repo.id) {
                repo.installation_id = id;
            }
            if removed.contains(&repo.id) {
                repo.installation_id = 0;
            }
        }
        let inst = self.installation(id).clone();
        let sender = self.org_admin(&inst.account_login);
        let body = json!({
            "action": if removed.is_empty() { "added" } else { "removed" },
            "installation": render(self, |cx| installation_json(cx, &inst)),
            "repository_selection": "selected",
            "repositories_added": self.repo_stubs(added),
            "repositories_removed": self.repo_stubs(removed),
            "requester": null,
            "sender": self.user_json(sender),
        });
        Webhook {
            event: "installation_repositories",
            body,
        }
    }

    /// `installation_target.renamed`: the installed account's login changed.
    pub fn target_renamed_hook(&mut self, id: i64, login: &str) -> Webhook {
        let from = self.rename_org(id, login);
        let inst = self.installation(id).clone();
        let sender = self.org_admin(login);
        let mut account = account_json(&self.api_url, inst.account_id, login, &inst.account_type);
        account["name"] = json!(login);
        let body = json!({
            "action": "renamed",
            "account": account,
            "changes": { "login": { "from": from } },
            "installation": Self::installation_ref(id),
            "sender": self.user_json(sender),
            "target_type": inst.account_type,
        });
        Webhook {
            event: "installation_target",
            body,
        }
    }

    /// Renames installation `id`'s org everywhere; returns the old login.
    fn rename_org(&mut self, id: i64, login: &str) -> String {
        let inst = self.installation(id);
        let from = std::mem::replace(&mut inst.account_login, login.to_string());
        inst.updated_at = now();
        if let Some(members) = self.members.remove(&from) {
            self.members.insert(login.to_string(), members);
        }
        for repo in self.repos.iter_mut().filter(|r| r.owner == from) {
            repo.owner = login.to_string();
        }
        for team in self.teams.iter_mut().filter(|t| t.org == from) {
            team.org = login.to_string();
        }
        from
    }

    /// `github_app_authorization.revoked`: `user` revoked their authorization of the app.
    pub fn authorization_revoked_hook(&mut self, user: i64) -> Webhook {
        Webhook {
            event: "github_app_authorization",
            body: json!({ "action": "revoked", "sender": self.user_json(user) }),
        }
    }

    /// An `organization` event about `org`.
    pub fn org_hook(&mut self, org: &str, action: OrgAction) -> Webhook {
        let installation = self.installation_of_org(org);
        let admin = self.org_admin(org);
        let membership = |model: &Model, org: &str, user: i64, state: &str| {
            json!({
                "url": format!("{}/orgs/{org}/memberships/{}", model.api_url, model.users[&user].login),
                "state": state,
                "role": "member",
                "organization_url": format!("{}/orgs/{org}", model.api_url),
                "user": model.user_json(user),
            })
        };
        let (name, extra) = match action {
            OrgAction::MemberAdded(user) => {
                let members = self.members.entry(org.to_string()).or_default();
                add(members, user);
                self.invitations
                    .retain(|i| !(i.org == org && i.user_id == user));
                (
                    "member_added",
                    json!({ "membership": membership(self, org, user, "active") }),
                )
            }
            OrgAction::MemberRemoved(user) => {
                self.remove_member(org, user);
                (
                    "member_removed",
                    json!({ "membership": membership(self, org, user, "active") }),
                )
            }
            OrgAction::MemberInvited(user) => {
                let id = self.next_id();
                let invitation = Invitation {
                    id,
                    org: org.to_string(),
                    user_id: user,
                    inviter_id: admin,
                    role: "direct_member".into(),
                    created_at: now(),
                };
                let json = self.invitation_json(&invitation);
                self.invitations.push(invitation);
                (
                    "member_invited",
                    json!({ "invitation": json, "user": self.user_json(user) }),
                )
            }
            OrgAction::Renamed(login) => {
                let from = self.rename_org(installation, &login);
                (
                    "renamed",
                    json!({ "changes": { "login": { "from": from } } }),
                )
            }
        };
        let mut body = self.envelope(name, installation, None, admin);
        merge(&mut body, extra);
        Webhook {
            event: "organization",
            body,
        }
    }

    fn invitation_json(&self, i: &Invitation) -> Value {
        json!({
            "id": i.id,
            "node_id": format!("OI_kwDO{}", i.id),
            "login": self.users.get(&i.user_id).map(|u| u.login.clone()),
            "email": null,
            "role": i.role,
            "created_at": ts(i.created_at),
            "failed_at": null,
            "failed_reason": null,
            "inviter": self.user_json(i.inviter_id),
            "team_count": 0,
            "invitation_teams_url": format!("{}/organizations/invitations/{}/teams", self.api_url, i.id),
            "invitation_source": "member",
        })
    }

    /// A `member` event: `user` as a collaborator of repository `repo`.
    pub fn collaborator_hook(
        &mut self,
        repo: i64,
        user: i64,
        action: CollaboratorAction,
    ) -> Webhook {
        let r = self.repo_by_id(repo);
        let existing = self
            .collaborators
            .iter()
            .position(|c| c.repo_id == repo && c.user_id == user);
        let (name, changes) = match &action {
            CollaboratorAction::Added(permission) => {
                if existing.is_none() {
                    self.collaborators.push(Collaborator {
                        repo_id: repo,
                        user_id: user,
                        permission: permission.clone(),
                    });
                }
                ("added", json!({ "permission": { "to": permission } }))
            }
            CollaboratorAction::Edited(permission) => {
                let i = existing.expect("edit an existing collaborator");
                let old =
                    std::mem::replace(&mut self.collaborators[i].permission, permission.clone());
                (
                    "edited",
                    json!({ "old_permission": { "from": old }, "permission": { "from": old, "to": permission } }),
                )
            }
            CollaboratorAction::Removed => {
                self.collaborators
                    .retain(|c| !(c.repo_id == repo && c.user_id == user));
                ("removed", json!({}))
            }
        };
        let admin = self.org_admin(&r.owner);
        let mut body = self.envelope(name, r.installation_id, Some(&r), admin);
        body["member"] = self.user_json(user);
        body["changes"] = changes;
        Webhook {
            event: "member",
            body,
        }
    }

    /// A new team of `org` (no event: see [`Model::team_hook`] with [`TeamAction::Created`]).
    pub fn add_team(&mut self, org: &str, id: i64, slug: &str) -> &mut Team {
        self.teams.push(Team {
            id,
            org: org.to_string(),
            slug: slug.to_string(),
            name: slug.to_string(),
            description: None,
            privacy: "closed".into(),
            members: Vec::new(),
            repos: Vec::new(),
        });
        self.teams.last_mut().expect("just pushed")
    }

    fn team(&mut self, id: i64) -> &mut Team {
        self.teams
            .iter_mut()
            .find(|t| t.id == id)
            .unwrap_or_else(|| panic!("no team {id}"))
    }

    fn team_json(&self, t: &Team, permission: Option<&str>) -> Value {
        let api = format!("{}/organizations/0/team/{}", self.api_url, t.id);
        let mut team = json!({
            "name": t.name,
            "id": t.id,
            "node_id": format!("T_kwDO{}", t.id),
            "slug": t.slug,
            "description": t.description,
            "privacy": t.privacy,
            "notification_setting": "notifications_enabled",
            "url": api,
            "html_url": format!("https://github.com/orgs/{}/teams/{}", t.org, t.slug),
            "members_url": format!("{api}/members{{/member}}"),
            "repositories_url": format!("{api}/repos"),
            "type": "organization",
            "permission": "pull",
            "parent": null,
        });
        if let Some(permission) = permission {
            team["permission"] = json!(permission);
        }
        team
    }

    /// A `team` event; `Created` expects the team added with [`Model::add_team`].
    pub fn team_hook(&mut self, id: i64, action: TeamAction) -> Webhook {
        let mut repo = None;
        let mut permission = None;
        let mut changes = None;
        let name = match &action {
            TeamAction::Created => "created",
            TeamAction::Edited(description) => {
                let old = self.team(id).description.replace(description.clone());
                changes = Some(json!({ "description": { "from": old } }));
                "edited"
            }
            TeamAction::Deleted => "deleted",
            TeamAction::AddedToRepository(r, p) => {
                let team = self.team(id);
                team.repos.retain(|(x, _)| x != r);
                team.repos.push((*r, p.clone()));
                repo = Some(*r);
                permission = Some(p.clone());
                "added_to_repository"
            }
            TeamAction::RemovedFromRepository(r) => {
                self.team(id).repos.retain(|(x, _)| x != r);
                repo = Some(*r);
                "removed_from_repository"
            }
        };
        let team = self.team(id).clone();
        if action == TeamAction::Deleted {
            self.teams.retain(|t| t.id != id);
        }
        let installation = self.installation_of_org(&team.org);
        let repo = repo.map(|r| self.repo_by_id(r));
        let admin = self.org_admin(&team.org);
        let mut body = self.envelope(name, installation, repo.as_ref(), admin);
        body["team"] = self.team_json(&team, permission.as_deref());
        if let Some(changes) = changes {
            body["changes"] = changes;
        }
        if let Some(repo) = body.get_mut("repository")
            && let Some(permission) = &permission
        {
            let push = matches!(permission.as_str(), "push" | "maintain" | "admin");
            repo["permissions"] = json!({
                "pull": true, "triage": push, "push": push,
                "maintain": permission == "maintain" || permission == "admin",
                "admin": permission == "admin",
            });
        }
        Webhook {
            event: "team",
            body,
        }
    }

    /// A `membership` event: `user` added to (or removed from) team `id`.
    pub fn team_membership_hook(&mut self, id: i64, user: i64, added: bool) -> Webhook {
        let team = self.team(id);
        if added {
            add(&mut team.members, user);
        } else {
            remove(&mut team.members, user);
        }
        let team = team.clone();
        let installation = self.installation_of_org(&team.org);
        let admin = self.org_admin(&team.org);
        let mut body = self.envelope(
            if added { "added" } else { "removed" },
            installation,
            None,
            admin,
        );
        body["scope"] = json!("team");
        body["member"] = self.user_json(user);
        body["team"] = self.team_json(&team, None);
        Webhook {
            event: "membership",
            body,
        }
    }

    fn pull_mut(&mut self, id: i64) -> &mut Pull {
        self.pulls
            .iter_mut()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("no pull request {id}"))
    }

    /// A webhook's pull request: the REST shape plus what only the single-PR shape has.
    fn full_pull_json(&self, p: &Pull) -> Value {
        let repo = self.repo_by_id(p.repo_id);
        render(self, |cx| {
            let mut pull = pull_json(cx, self, &repo, p);
            let repo_json = repo_json(cx, self, &repo);
            pull["head"]["repo"] = repo_json.clone();
            pull["head"]["user"] = pull["user"].clone();
            pull["base"]["repo"] = repo_json;
            pull["base"]["user"] = pull["user"].clone();
            merge(
                &mut pull,
                json!({
                    "merged": p.merged_at.is_some(),
                    "mergeable": if p.state == "open" { Value::Bool(true) } else { Value::Null },
                    "mergeable_state": if p.state == "open" { "clean" } else { "unknown" },
                    "merged_by": p.merged_by.map(|id| simple_user(cx, self, id)),
                    "comments": 0,
                    "review_comments": 0,
                    "maintainer_can_modify": false,
                    "commits": 1 + p.pushes,
                    "additions": 10 * (1 + p.pushes),
                    "deletions": 2,
                    "changed_files": 1,
                }),
            );
            pull
        })
    }

    /// A `pull_request` event; the pull request changes first, as the action says.
    pub fn pull_hook(&mut self, id: i64, action: PullAction) -> Webhook {
        let at = now();
        let before = head_sha(self.pull_mut(id));
        let p = self.pull_mut(id);
        let mut extra = json!({});
        match &action {
            PullAction::Opened | PullAction::Enqueued => {}
            PullAction::Edited(title) => {
                let old = std::mem::replace(&mut p.title, title.clone());
                extra = json!({ "changes": { "title": { "from": old } } });
            }
            PullAction::Labeled(label) => {
                if !p.labels.contains(label) {
                    p.labels.push(label.clone());
                }
            }
            PullAction::Unlabeled(label) => p.labels.retain(|l| l != label),
            PullAction::Assigned(user) => add(&mut p.assignees, *user),
            PullAction::Unassigned(user) => remove(&mut p.assignees, *user),
            PullAction::Milestoned(title) => p.milestone = Some(title.clone()),
            PullAction::Demilestoned => p.milestone = None,
            PullAction::ConvertedToDraft => p.draft = true,
            PullAction::ReadyForReview => p.draft = false,
            PullAction::ReviewRequested(user) => add(&mut p.requested_reviewers, *user),
            PullAction::ReviewRequestRemoved(user) => remove(&mut p.requested_reviewers, *user),
            PullAction::Locked => p.locked = true,
            PullAction::Unlocked => p.locked = false,
            PullAction::Closed => {
                p.close(at);
            }
            PullAction::Merged(by) => {
                p.merged_by = Some(*by);
                p.merge(at);
            }
            PullAction::Reopened => {
                p.state = "open".into();
                p.closed_at = None;
            }
            PullAction::Synchronize => p.pushes += 1,
            PullAction::AutoMergeEnabled => p.auto_merge = true,
            PullAction::AutoMergeDisabled => p.auto_merge = false,
            PullAction::Dequeued => extra = json!({ "reason": "MERGE" }),
        }
        p.updated_at = at;
        let p = p.clone();
        match &action {
            PullAction::Labeled(label) | PullAction::Unlabeled(label) => {
                let api = format!("{}/repos/{}", self.api_url, self.full_name(p.repo_id));
                extra = json!({ "label": label_json(&api, label) });
            }
            PullAction::Assigned(user) | PullAction::Unassigned(user) => {
                extra = json!({ "assignee": self.user_json(*user) });
            }
            PullAction::ReviewRequested(user) | PullAction::ReviewRequestRemoved(user) => {
                extra = json!({ "requested_reviewer": self.user_json(*user) });
            }
            PullAction::Milestoned(title) => {
                let api = format!("{}/repos/{}", self.api_url, self.full_name(p.repo_id));
                extra = json!({ "milestone": milestone_json(&api, title) });
            }
            PullAction::Synchronize => {
                extra = json!({ "before": before, "after": head_sha(&p) });
            }
            _ => {}
        }
        let repo = self.repo_by_id(p.repo_id);
        let sender = match action {
            PullAction::Merged(by) => by,
            _ => p.author_id,
        };
        let mut body = self.envelope(action.name(), repo.installation_id, Some(&repo), sender);
        body["number"] = json!(p.number);
        body["pull_request"] = self.full_pull_json(&p);
        merge(&mut body, extra);
        Webhook {
            event: "pull_request",
            body,
        }
    }

    fn full_name(&self, repo: i64) -> String {
        let r = self.repo_by_id(repo);
        format!("{}/{}", r.owner, r.name)
    }

    /// A `pull_request_review` event about review `id`.
    pub fn review_hook(&mut self, id: i64, action: ReviewAction) -> Webhook {
        let review = self
            .reviews
            .iter_mut()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no review {id}"));
        let mut changes = None;
        match &action {
            ReviewAction::Submitted => {}
            ReviewAction::Edited(_) => changes = Some(json!({ "body": { "from": "" } })),
            ReviewAction::Dismissed => review.state = "DISMISSED".into(),
        }
        let review: Review = review.clone();
        let pull = self
            .pulls
            .iter()
            .find(|p| p.id == review.pull_id)
            .expect("the review's pull request")
            .clone();
        let repo = self.repo_by_id(pull.repo_id);
        let name = match action {
            ReviewAction::Submitted => "submitted",
            ReviewAction::Edited(_) => "edited",
            ReviewAction::Dismissed => "dismissed",
        };
        let sender = review.reviewer_id;
        let mut body = self.envelope(name, repo.installation_id, Some(&repo), sender);
        // Webhooks spell the review state in lower case (the REST API in upper case).
        let mut review_json = render(self, |cx| review_json(cx, self, &repo, &pull, &review));
        review_json["state"] = json!(review.state.to_ascii_lowercase());
        if let ReviewAction::Edited(text) = action {
            review_json["body"] = json!(text);
        }
        body["review"] = review_json;
        body["pull_request"] = self.full_pull_json(&pull);
        if let Some(changes) = changes {
            body["changes"] = changes;
        }
        Webhook {
            event: "pull_request_review",
            body,
        }
    }

    fn issue_mut(&mut self, id: i64) -> &mut Issue {
        self.issues
            .iter_mut()
            .find(|i| i.id == id)
            .unwrap_or_else(|| panic!("no issue {id}"))
    }

    /// An `issues` event; the issue changes first, as the action says (a deleted issue leaves
    /// the model; a transferred one is copied to its new repository under a new id, the
    /// `changes.new_issue`, and the old one stays for what is sent about it later).
    pub fn issue_hook(&mut self, id: i64, action: IssueAction) -> Webhook {
        let at = now();
        let i = self.issue_mut(id);
        let mut changes = None;
        match &action {
            IssueAction::Edited(title) => {
                let old = std::mem::replace(&mut i.title, title.clone());
                changes = Some(json!({ "title": { "from": old } }));
            }
            IssueAction::Labeled(label) => {
                if !i.labels.contains(label) {
                    i.labels.push(label.clone());
                }
            }
            IssueAction::Unlabeled(label) => i.labels.retain(|l| l != label),
            IssueAction::Assigned(user) => add(&mut i.assignees, *user),
            IssueAction::Unassigned(user) => remove(&mut i.assignees, *user),
            IssueAction::Typed(name) => i.issue_type = Some(name.clone()),
            IssueAction::Untyped => i.issue_type = None,
            IssueAction::Milestoned(title) => i.milestone = Some(title.clone()),
            IssueAction::Demilestoned => i.milestone = None,
            IssueAction::Locked => i.locked = true,
            IssueAction::Unlocked => i.locked = false,
            IssueAction::Closed => {
                i.state = "closed".into();
                i.closed_at = Some(at);
            }
            IssueAction::Reopened => {
                i.state = "open".into();
                i.closed_at = None;
            }
            IssueAction::Opened
            | IssueAction::Pinned
            | IssueAction::Unpinned
            | IssueAction::Transferred(_)
            | IssueAction::Deleted => {}
        }
        i.updated_at = at;
        let issue = i.clone();
        let repo = self.repo_by_id(issue.repo_id);
        let render_issue = |model: &Model, repo: &Repo, issue: &Issue| {
            render(model, |cx| issue_json(cx, model, repo, issue))
        };
        let mut body = self.envelope(
            action.name(),
            repo.installation_id,
            Some(&repo),
            issue.author_id,
        );
        body["issue"] = render_issue(self, &repo, &issue);
        let api = format!("{}/repos/{}", self.api_url, self.full_name(repo.id));
        match &action {
            IssueAction::Labeled(label) | IssueAction::Unlabeled(label) => {
                body["label"] = label_json(&api, label);
            }
            IssueAction::Assigned(user) | IssueAction::Unassigned(user) => {
                body["assignee"] = self.user_json(*user);
            }
            IssueAction::Typed(name) => body["type"] = issue_type_json(name),
            IssueAction::Milestoned(title) => body["milestone"] = milestone_json(&api, title),
            IssueAction::Transferred(to) => {
                let to = self.repo_by_id(*to);
                let new_id = self.next_id();
                let number = self.next_number(to.id);
                let mut moved = issue.clone();
                moved.id = new_id;
                moved.repo_id = to.id;
                moved.number = number;
                changes = Some(json!({
                    "new_issue": render_issue(self, &to, &moved),
                    "new_repository": render(self, |cx| repo_json(cx, self, &to)),
                }));
            }
            IssueAction::Deleted => self.issues.retain(|i| i.id != id),
            _ => {}
        }
        if let Some(changes) = changes {
            body["changes"] = changes;
        }
        Webhook {
            event: "issues",
            body,
        }
    }
}

/// Adds `extra`'s fields to `body`.
fn merge(body: &mut Value, extra: Value) {
    if let (Value::Object(body), Value::Object(extra)) = (body, extra) {
        body.extend(extra);
    }
}

fn ts(at: DateTime<Utc>) -> String {
    super::json::ts(at)
}
