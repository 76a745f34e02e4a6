//! The Copilot seat list's wire shape
//! (https://docs.github.com/en/rest/copilot/copilot-user-management#list-all-copilot-seat-assignments-for-an-organization):
//! `{ "total_seats": N, "seats": [...] }`, paginated with `per_page`/`page`. Kept lenient (only
//! what is stored, optional where GitHub documents null) so a new field never fails a sync.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::store::copilot::SeatRecord;

/// One page of the seat list.
#[derive(Debug, Clone, Deserialize)]
pub struct CopilotSeats {
    #[serde(default)]
    pub total_seats: Option<i64>,
    #[serde(default)]
    pub seats: Vec<CopilotSeat>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CopilotSeat {
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    /// A date (`YYYY-MM-DD`) or null.
    #[serde(default)]
    pub pending_cancellation_date: Option<NaiveDate>,
    #[serde(default)]
    pub last_activity_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_activity_editor: Option<String>,
    /// `business`, `enterprise` or `unknown`.
    #[serde(default)]
    pub plan_type: Option<String>,
    pub assignee: Assignee,
    #[serde(default)]
    pub assigning_team: Option<AssigningTeam>,
}

/// The seat holder (a user).
#[derive(Debug, Clone, Deserialize)]
pub struct Assignee {
    pub id: i64,
    pub login: String,
}

/// The team whose membership gave the seat, if any.
#[derive(Debug, Clone, Deserialize)]
pub struct AssigningTeam {
    pub id: i64,
    #[serde(default)]
    pub slug: Option<String>,
}

impl CopilotSeat {
    pub fn record(&self) -> SeatRecord<'_> {
        SeatRecord {
            github_id: self.assignee.id,
            login: &self.assignee.login,
            plan_type: self.plan_type.as_deref(),
            assigned_at: self.created_at,
            updated_at: self.updated_at,
            pending_cancellation_date: self.pending_cancellation_date,
            last_activity_at: self.last_activity_at,
            last_activity_editor: self.last_activity_editor.as_deref(),
            assigning_team_id: self.assigning_team.as_ref().map(|t| t.id),
            assigning_team_slug: self.assigning_team.as_ref().and_then(|t| t.slug.as_deref()),
        }
    }
}
