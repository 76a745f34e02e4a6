//! Webhooks about who and what the app is installed on: `installation`,
//! `installation_repositories`, `installation_target`, `github_app_authorization`,
//! `organization`, `member` (collaborators), `team` and `membership`.

use serde_json::{Value, json};

use super::super::json::{account_json, installation_json};
use super::super::model::{Collaborator, Invitation, Model, Team, now};
use super::{
    CollaboratorAction, InstallationAction, OrgAction, TeamAction, Webhook, add, merge, remove,
    render, ts,
};

impl Model {
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
            maintainers: Vec::new(),
            parent_id: None,
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
        // A nested team names its parent (a simple team), as in the REST list.
        if let Some(parent) = t
            .parent_id
            .and_then(|p| self.teams.iter().find(|x| x.id == p))
        {
            team["parent"] = json!({
                "id": parent.id,
                "node_id": format!("T_kwDO{}", parent.id),
                "name": parent.name,
                "slug": parent.slug,
                "description": parent.description,
                "privacy": parent.privacy,
                "permission": "pull",
            });
        }
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
}
