//! The stats page and its CSV download: weekly aggregates of the surveys in scope.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::scope;
use crate::store::admin_stats;
use crate::web::AppState;
use crate::web::admin::session::Admin;
use crate::web::admin::{AdminError, views};

/// `GET /admin/stats`: weekly aggregates (each with enough people behind it).
pub async fn page(State(state): State<AppState>, Admin(s): Admin) -> Result<Response, AdminError> {
    let weeks = admin_stats::weekly_stats(&state.pool, scope(&s)).await?;
    let body = views::stats::page(&weeks);
    Ok(views::page(&s, "stats", "Stats", body).into_response())
}

/// `GET /admin/stats.csv`: the weekly aggregates (no individual answers).
pub async fn csv(State(state): State<AppState>, Admin(s): Admin) -> Result<Response, AdminError> {
    let weeks = admin_stats::weekly_stats(&state.pool, scope(&s)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"mergecast-survey-stats.csv\"",
            ),
        ],
        views::stats::csv(&weeks),
    )
        .into_response())
}
