//! The team stats page of one installation and its CSV download (aggregates only; the rules
//! that withhold figures live with the SQL in `store::team_stats`).

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::store::{installations, team_stats};
use crate::web::AppState;
use crate::web::admin::params::parse_time;
use crate::web::admin::session::{Admin, Session};
use crate::web::admin::{AdminError, views};

#[derive(Deserialize, Default)]
pub struct WeekQuery {
    /// `YYYY-MM-DD` of the week's Monday; the latest week with data by default.
    #[serde(default)]
    week: Option<String>,
}

/// The installation's org login and its team stats; 404 outside the session's scope.
async fn load(
    state: &AppState,
    s: &Session,
    id: i64,
) -> Result<(String, team_stats::TeamStats), AdminError> {
    let installation = match installations::get(&state.pool, id).await? {
        Some(i) if s.allows(id) => i,
        _ => return Err(AdminError::NotFound),
    };
    let mut conn = state.pool.acquire().await?;
    let stats = team_stats::team_stats(&mut conn, id).await?;
    Ok((installation.account_login, stats))
}

/// `GET /admin/installations/{id}/teams/stats?week=YYYY-MM-DD`.
pub async fn page(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
    Query(q): Query<WeekQuery>,
) -> Result<Response, AdminError> {
    let (org, stats) = load(&state, &s, id).await?;
    let week = match parse_time(q.week.as_deref())? {
        Some(w) => Some(
            stats
                .weeks
                .iter()
                .copied()
                .find(|x| *x == w)
                .ok_or(AdminError::NotFound)?,
        ),
        None => stats.weeks.last().copied(),
    };
    let body = views::team_stats::page(id, &org, &stats, week);
    Ok(views::page(&s, "installations", "Team stats", body).into_response())
}

/// `GET /admin/installations/{id}/teams/stats.csv`: every week and team.
pub async fn csv(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
) -> Result<Response, AdminError> {
    let (_, stats) = load(&state, &s, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"mergecast-team-stats-{id}.csv\""),
            ),
        ],
        views::team_stats::csv(&stats),
    )
        .into_response())
}
