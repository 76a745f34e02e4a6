//! The org endpoints for teams and Copilot seats, as GitHub documents them, with the builders
//! tests arrange them through:
//! - `GET /orgs/{org}/teams`: https://docs.github.com/en/rest/teams/teams#list-teams
//! - `GET /orgs/{org}/teams/{team_slug}/members`:
//!   https://docs.github.com/en/rest/teams/members#list-team-members
//! - `GET /orgs/{org}/copilot/billing/seats`:
//!   https://docs.github.com/en/rest/copilot/copilot-user-management#list-all-copilot-seat-assignments-for-an-organization
//!
//! All take an installation token, paginate with `Link` (paging.rs) and get the server's ETag
//! handling (http.rs). The org must be the installation's own account (404 otherwise: the fake
//! is strict where the docs are silent).

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::http::Reply;
use super::json::{simple_user, ts, ts_opt};
use super::model::{CopilotSeat, Model, Team, now};
use super::paging::{Ctx, with_link};

/// The seat list's default page size (its docs: "Default: 50").
const SEATS_DEFAULT_PER_PAGE: usize = 50;

/// Org endpoints under `/orgs/{org}/`.
pub(super) enum OrgRoute {
    Teams(String),
    TeamMembers(String, String),
    CopilotSeats(String),
}

impl OrgRoute {
    /// `org` and the segments after it, for a GET.
    pub(super) fn parse(org: &str, rest: &[&str]) -> Option<Self> {
        let org = org.to_string();
        Some(match rest {
            ["teams"] => Self::Teams(org),
            ["teams", slug, "members"] => Self::TeamMembers(org, slug.to_string()),
            ["copilot", "billing", "seats"] => Self::CopilotSeats(org),
            _ => return None,
        })
    }

    pub(super) fn run(&self, model: &Model, cx: &Ctx<'_>, installation_id: i64) -> Reply {
        let org = match self {
            Self::Teams(org) | Self::TeamMembers(org, _) | Self::CopilotSeats(org) => org,
        };
        let Some(account) = model
            .installations
            .iter()
            .find(|i| i.id == installation_id && i.account_login.eq_ignore_ascii_case(org))
        else {
            return Reply::not_found();
        };
        let org = account.account_login.as_str();
        match self {
            Self::Teams(_) => {
                let items = org_teams(model, org)
                    .map(|t| team_json(cx, model, account.account_id, t))
                    .collect();
                cx.page_reply(items)
            }
            Self::TeamMembers(_, slug) => {
                let Some(team) = org_teams(model, org).find(|t| t.slug.eq_ignore_ascii_case(slug))
                else {
                    return Reply::not_found();
                };
                // "Can be one of: member, maintainer, all. Default: all"; anything else is
                // refused (the docs are silent on how: strict).
                let role = cx.param("role").unwrap_or_else(|| "all".into());
                let keep: fn(&Team, i64) -> bool = match role.as_str() {
                    "all" => |_, _| true,
                    "maintainer" => |t, id| t.maintainers.contains(&id),
                    "member" => |t, id| !t.maintainers.contains(&id),
                    _ => {
                        return Reply::error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
                    }
                };
                // "Team members will include the members of child teams."
                let items = with_descendants(model, team)
                    .into_iter()
                    .filter(|&id| keep(team, id))
                    .map(|id| simple_user(cx, model, id))
                    .collect();
                cx.page_reply(items)
            }
            Self::CopilotSeats(_) => {
                // 403 without the "GitHub Copilot Business" permission, 404 without a plan.
                if !account.copilot_permission {
                    return Reply::error(
                        StatusCode::FORBIDDEN,
                        "Resource not accessible by integration",
                    );
                }
                let Some(seats) = model
                    .copilot
                    .iter()
                    .find(|(o, _)| o.eq_ignore_ascii_case(org))
                    .map(|(_, seats)| seats)
                else {
                    return Reply::not_found();
                };
                let items = seats
                    .iter()
                    .map(|s| seat_json(cx, model, account.account_id, s))
                    .collect();
                let per_page = cx.per_page_or(SEATS_DEFAULT_PER_PAGE);
                let (page, link) = cx.paginate_by(items, per_page);
                let body = json!({ "total_seats": seats.len(), "seats": page });
                with_link(Reply::ok(&body), link)
            }
        }
    }
}

fn org_teams<'m>(model: &'m Model, org: &'m str) -> impl Iterator<Item = &'m Team> {
    model
        .teams
        .iter()
        .filter(move |t| t.org.eq_ignore_ascii_case(org))
}

/// A team's members followed by those of its child teams (depth first), each once.
fn with_descendants(model: &Model, team: &Team) -> Vec<i64> {
    let mut ids: Vec<i64> = Vec::new();
    let mut stack = vec![team];
    while let Some(t) = stack.pop() {
        for &id in &t.members {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        stack.extend(model.teams.iter().filter(|c| c.parent_id == Some(t.id)));
    }
    ids
}

/// GitHub's "team simple" (a nested team's `parent`, a seat's `assigning_team` base).
fn team_simple(cx: &Ctx<'_>, org_id: i64, t: &Team) -> Value {
    let api = format!("{}/organizations/{org_id}/team/{}", cx.base, t.id);
    json!({
        "id": t.id,
        "node_id": format!("T_kwDO{}", t.id),
        "url": api,
        "members_url": format!("{api}/members{{/member}}"),
        "name": t.name,
        "description": t.description,
        "permission": "pull",
        "privacy": t.privacy,
        "notification_setting": "notifications_enabled",
        "html_url": format!("https://github.com/orgs/{}/teams/{}", t.org, t.slug),
        "repositories_url": format!("{api}/repos"),
        "slug": t.slug,
    })
}

/// GitHub's "team" as `GET /orgs/{org}/teams` lists it: the simple team plus `parent`.
fn team_json(cx: &Ctx<'_>, model: &Model, org_id: i64, t: &Team) -> Value {
    let mut team = team_simple(cx, org_id, t);
    let parent = t
        .parent_id
        .and_then(|p| model.teams.iter().find(|x| x.id == p))
        .map_or(Value::Null, |p| team_simple(cx, org_id, p));
    team["parent"] = parent;
    team
}

/// One seat, with the fields the seat list documents.
fn seat_json(cx: &Ctx<'_>, model: &Model, org_id: i64, s: &CopilotSeat) -> Value {
    let team = s
        .assigning_team_id
        .and_then(|id| model.teams.iter().find(|t| t.id == id))
        .map_or(Value::Null, |t| team_json(cx, model, org_id, t));
    json!({
        "created_at": ts(s.created_at),
        "updated_at": ts(s.updated_at),
        "pending_cancellation_date": s.pending_cancellation_date.map(|d| d.to_string()),
        "last_activity_at": ts_opt(s.last_activity_at),
        "last_activity_editor": s.last_activity_editor,
        "last_authenticated_at": ts_opt(s.last_activity_at),
        "plan_type": s.plan_type,
        "assignee": simple_user(cx, model, s.user_id),
        "assigning_team": team,
    })
}

impl Model {
    fn team_mut(&mut self, id: i64) -> &mut Team {
        self.teams
            .iter_mut()
            .find(|t| t.id == id)
            .unwrap_or_else(|| panic!("no team {id}"))
    }

    /// Nests team `id` under `parent` (no event).
    pub fn set_team_parent(&mut self, id: i64, parent: Option<i64>) {
        self.team_mut(id).parent_id = parent;
    }

    /// Puts `user` on team `id` (no event), as a maintainer or a member.
    pub fn add_team_member(&mut self, id: i64, user: i64, maintainer: bool) {
        let team = self.team_mut(id);
        if !team.members.contains(&user) {
            team.members.push(user);
        }
        team.maintainers.retain(|&m| m != user);
        if maintainer {
            team.maintainers.push(user);
        }
    }

    /// Takes `user` off team `id` (no event).
    pub fn remove_team_member(&mut self, id: i64, user: i64) {
        let team = self.team_mut(id);
        team.members.retain(|&m| m != user);
        team.maintainers.retain(|&m| m != user);
    }

    /// Deletes team `id` (no event); its children move up to its parent, as GitHub does.
    pub fn delete_team(&mut self, id: i64) {
        let parent = self.team_mut(id).parent_id;
        self.teams.retain(|t| t.id != id);
        for child in self.teams.iter_mut().filter(|t| t.parent_id == Some(id)) {
            child.parent_id = parent;
        }
    }

    /// Assigns `org`'s Copilot seat to `user` now (the org gets a plan if it had none).
    pub fn add_copilot_seat(&mut self, org: &str, user: i64) -> &mut CopilotSeat {
        let at = now();
        let seats = self.copilot.entry(org.to_string()).or_default();
        seats.retain(|s| s.user_id != user);
        seats.push(CopilotSeat {
            user_id: user,
            plan_type: "business".into(),
            created_at: at,
            updated_at: at,
            pending_cancellation_date: None,
            last_activity_at: None,
            last_activity_editor: None,
            assigning_team_id: None,
        });
        seats.last_mut().expect("just pushed")
    }

    /// Takes `user`'s Copilot seat in `org` away.
    pub fn remove_copilot_seat(&mut self, org: &str, user: i64) {
        if let Some(seats) = self.copilot.get_mut(org) {
            seats.retain(|s| s.user_id != user);
        }
    }

    /// `org` has no Copilot plan any more: the seat list answers 404.
    pub fn remove_copilot_plan(&mut self, org: &str) {
        self.copilot.remove(org);
    }
}
