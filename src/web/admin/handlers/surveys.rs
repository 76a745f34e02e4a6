//! The surveys pages: the list (keyset on id) and one survey with its participants.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::scope;
use crate::store::surveys;
use crate::web::AppState;
use crate::web::admin::params::PAGE;
use crate::web::admin::session::Admin;
use crate::web::admin::{AdminError, views};

#[derive(Deserialize, Default)]
pub struct SurveysQuery {
    #[serde(default)]
    before: Option<i64>,
}

/// `GET /admin/surveys`: per merged PR, who was asked and who answered (never what).
pub async fn list(
    State(state): State<AppState>,
    Admin(s): Admin,
    Query(q): Query<SurveysQuery>,
) -> Result<Response, AdminError> {
    let mut rows = surveys::admin_list(&state.pool, scope(&s), q.before, PAGE + 1).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let body = views::surveys::list(&rows, more);
    Ok(views::page(&s, "surveys", "Surveys", body).into_response())
}

/// `GET /admin/surveys/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
) -> Result<Response, AdminError> {
    let r = surveys::admin_get(&state.pool, scope(&s), id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let people = surveys::admin_participants(&state.pool, r.id).await?;
    let body = views::surveys::detail(&r, &people);
    Ok(views::page(&s, "surveys", &format!("Survey #{}", r.id), body).into_response())
}
