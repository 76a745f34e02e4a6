//! Catch-up of who is on which team and who holds a Copilot seat.
//!
//! Teams come from `GET /orgs/{org}/teams` (nested teams name their `parent`); each team's
//! members from `GET /orgs/{org}/teams/{team_slug}/members` twice, `role=all` (who is on it) and
//! `role=maintainer` (who of them maintains it): two lists, both conditional, so an unchanged
//! team costs two free 304s, where asking each member's role would cost one request per member.
//! People no longer listed leave the team (row kept, `left_at`); teams no longer listed are
//! marked deleted. Every write is as of the run's start, so a webhook observed later wins.
//!
//! Copilot seats (`GET /orgs/{org}/copilot/billing/seats`) need the "GitHub Copilot Business"
//! permission and a Copilot plan; a refusal (403, 404, 422) is recorded on the installation as
//! "not available" with GitHub's reason, once per run and without retrying.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::{ListKind, Run, Stop, SyncError};
use crate::github::client::GithubError;
use crate::github::copilot::CopilotSeats;
use crate::github::events::{Team, User};
use crate::store::copilot::{self, CopilotStatus};
use crate::store::records::Person;
use crate::store::teams::{self, KnownMember, TeamRole};

/// Memberships known before the run: team id -> member id -> what is stored.
type KnownTeams = HashMap<i64, HashMap<i64, KnownMember>>;

/// The ids of a page of team members, their logins kept for those that need writing.
pub(super) fn team_members_page(
    body: Value,
    logins: &mut HashMap<i64, String>,
) -> Result<Vec<i64>, Stop> {
    let page: Vec<User> = serde_json::from_value(body)?;
    let mut ids = Vec::with_capacity(page.len());
    for user in page {
        ids.push(user.id);
        logins.insert(user.id, user.login);
    }
    Ok(ids)
}

impl Run<'_> {
    pub(super) async fn teams_page(&mut self, body: Value) -> Result<Vec<i64>, Stop> {
        let page: Vec<Team> = serde_json::from_value(body)?;
        for team in &page {
            teams::upsert(
                &self.syncer.pool,
                self.installation,
                team.record(),
                false,
                self.started,
            )
            .await?;
        }
        Ok(page.iter().map(|t| t.id).collect())
    }

    pub(super) async fn teams(&mut self, org: &str) -> Result<(), Stop> {
        let pool = self.syncer.pool.clone();
        let first = self
            .syncer
            .client
            .url(&format!("/orgs/{org}/teams?per_page=100"));
        let listed = self.walk_list(first, ListKind::Teams).await?;
        let deleted =
            teams::mark_deleted_unless_listed(&pool, self.installation, &listed, self.started)
                .await?;
        self.counters.deactivated += deleted as i32;

        let mut known: KnownTeams = HashMap::new();
        for row in teams::known_members(&pool, self.installation).await? {
            known
                .entry(row.team_id)
                .or_default()
                .insert(row.github_id, row);
        }
        for (team_id, slug) in teams::current(&pool, self.installation).await? {
            self.check_pause()?;
            let url = |role: &str| {
                self.syncer.client.url(&format!(
                    "/orgs/{org}/teams/{slug}/members?role={role}&per_page=100"
                ))
            };
            let (all_url, maintainers_url) = (url("all"), url("maintainer"));
            let mut logins = HashMap::new();
            let all = self
                .walk_list(all_url, ListKind::TeamMembers(&mut logins))
                .await?;
            let maintainers: HashSet<i64> = self
                .walk_list(maintainers_url, ListKind::TeamMembers(&mut logins))
                .await?
                .into_iter()
                .collect();
            let empty = HashMap::new();
            let before = known.get(&team_id).unwrap_or(&empty);
            self.reconcile_team(team_id, &all, &maintainers, before, &logins)
                .await?;
        }
        Ok(())
    }

    /// Writes only what differs from what is stored: joins, role changes, departures.
    async fn reconcile_team(
        &mut self,
        team_id: i64,
        all: &[i64],
        maintainers: &HashSet<i64>,
        before: &HashMap<i64, KnownMember>,
        logins: &HashMap<i64, String>,
    ) -> Result<(), Stop> {
        let pool = &self.syncer.pool;
        for &id in all {
            let role = if maintainers.contains(&id) {
                TeamRole::Maintainer
            } else {
                TeamRole::Member
            };
            let stored = before.get(&id);
            if stored.is_some_and(|m| m.active && m.role == Some(role)) {
                continue;
            }
            // A fresh page names everyone; a 304 page only ids, known from the stored row.
            let Some(login) = logins
                .get(&id)
                .map(String::as_str)
                .or(stored.map(|m| m.login.as_str()))
            else {
                tracing::warn!(
                    installation = self.installation.0,
                    team_id,
                    id,
                    "team member without a login"
                );
                continue;
            };
            let person = Person {
                id,
                login,
                kind: None,
                name: None,
                email: None,
            };
            teams::set_member(
                pool,
                self.installation,
                team_id,
                person,
                true,
                Some(role),
                self.started,
            )
            .await?;
            if stored.is_some_and(|m| m.active) {
                self.counters.updated += 1;
            } else {
                self.counters.created += 1;
            }
        }
        let listed: HashSet<i64> = all.iter().copied().collect();
        let gone: Vec<i64> = before
            .values()
            .filter(|m| m.active && !listed.contains(&m.github_id))
            .map(|m| m.github_id)
            .collect();
        if !gone.is_empty() {
            let ended = teams::end_members(pool, team_id, &gone, self.started).await?;
            self.counters.deactivated += ended as i32;
        }
        Ok(())
    }

    pub(super) async fn copilot_seats_page(&mut self, body: Value) -> Result<Vec<i64>, Stop> {
        let page: CopilotSeats = serde_json::from_value(body)?;
        for seat in &page.seats {
            copilot::upsert_seat(
                &self.syncer.pool,
                self.installation,
                &seat.record(),
                self.started,
            )
            .await?;
        }
        Ok(page.seats.iter().map(|s| s.assignee.id).collect())
    }

    pub(super) async fn copilot_seats(&mut self, org: &str) -> Result<(), Stop> {
        let pool = self.syncer.pool.clone();
        let first = self
            .syncer
            .client
            .url(&format!("/orgs/{org}/copilot/billing/seats?per_page=100"));
        match self.walk_list(first, ListKind::CopilotSeats).await {
            Ok(listed) => {
                let ended =
                    copilot::end_unless_listed(&pool, self.installation, &listed, self.started)
                        .await?;
                self.counters.deactivated += ended as i32;
                copilot::set_status(
                    &pool,
                    self.installation,
                    CopilotStatus::Available,
                    None,
                    self.started,
                )
                .await?;
                Ok(())
            }
            Err(Stop::Failed(SyncError::Github(GithubError::Status {
                status, message, ..
            }))) if matches!(status, 403 | 404 | 422) => {
                let kind = match status {
                    403 => CopilotStatus::NoPermission,
                    404 => CopilotStatus::NoPlan,
                    _ => CopilotStatus::Unavailable,
                };
                let reason = format!("GitHub answered {status}: {message}");
                tracing::info!(installation = self.installation.0, %reason, "Copilot seats not available");
                copilot::set_status(&pool, self.installation, kind, Some(&reason), self.started)
                    .await?;
                Ok(())
            }
            Err(other) => Err(other),
        }
    }
}
