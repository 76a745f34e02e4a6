//! The org's data page of one installation: download everything (one JSON document, or one
//! CSV per table, streamed from a cursor by `export`), and "Delete now" (the org's login typed
//! exactly; then all work for it stops at once and its purge runs without the grace period,
//! see `queue::org_data`). Operator, or that org's admins only; another org's page is a 404.

use axum::Form;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;

use super::installation_in_scope;
use crate::export::{self, OrgData};
use crate::ids::InstallationId;
use crate::queue::org_data as purge;
use crate::store::installations;
use crate::store::org_data::{self, Requester};
use crate::web::AppState;
use crate::web::admin::session::{Admin, Session};
use crate::web::admin::{AdminError, views};

/// What the page says about the installation.
async fn facts(
    state: &AppState,
    s: &Session,
    id: i64,
) -> Result<installations::InstallationRow, AdminError> {
    installation_in_scope(&state.pool, s, id).await?;
    installations::get(&state.pool, id)
        .await?
        .ok_or(AdminError::NotFound)
}

/// `GET /admin/installations/{id}/data`.
pub async fn page(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
) -> Result<Response, AdminError> {
    let inst = facts(&state, &s, id).await?;
    let body = views::org_data::page(&s, &inst, state.admin.deletion_grace_days, None);
    Ok(views::page(&s, "installations", "The org's data", body).into_response())
}

/// `GET /admin/installations/{id}/data.json`: every exported table in one JSON document.
pub async fn json(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
) -> Result<Response, AdminError> {
    facts(&state, &s, id).await?;
    Ok(download(&state, id, OrgData::Json))
}

#[derive(Deserialize)]
pub struct TableQuery {
    #[serde(default)]
    pub table: String,
}

/// `GET /admin/installations/{id}/data.csv?table=NAME`: one table as CSV.
pub async fn csv(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
    Query(q): Query<TableQuery>,
) -> Result<Response, AdminError> {
    facts(&state, &s, id).await?;
    let table = export::exported_tables()
        .find(|t| t.name == q.table)
        .ok_or_else(|| AdminError::BadRequest("No such table in the download.".into()))?;
    Ok(download(&state, id, OrgData::Csv(table)))
}

fn download(state: &AppState, id: i64, what: OrgData) -> Response {
    let (rx, _task) = export::spawn_org_data(state.pool.clone(), id, what);
    let chunks = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let disposition = format!("attachment; filename=\"{}\"", what.file_name(id));
    (
        [
            (header::CONTENT_TYPE, what.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    pub csrf: String,
    /// The org's login, typed.
    #[serde(default)]
    pub confirm: String,
}

/// `POST /admin/installations/{id}/delete`: deletion now, when the org's login is typed exactly.
pub async fn delete(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
    Form(form): Form<DeleteForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    let inst = facts(&state, &s, id).await?;
    if form.confirm != inst.account_login || inst.account_login.is_empty() {
        let body = views::org_data::page(
            &s,
            &inst,
            state.admin.deletion_grace_days,
            Some("The name typed is not the org's login; nothing was deleted."),
        );
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            views::page(&s, "installations", "The org's data", body),
        )
            .into_response());
    }
    let by = match (s.is_operator(), s.github_user_id) {
        (true, _) => Requester::Operator,
        (false, Some(user)) => Requester::Github(user),
        (false, None) => return Err(AdminError::NotFound),
    };
    org_data::request_deletion(&state.pool, id, by, Utc::now()).await?;
    let installation = InstallationId(id);
    purge::forget_redis(&state.queues, installation).await?;
    tracing::info!(installation = id, requested_by = ?by, "admin: deletion of the org's data requested");
    // Deleted now, in the background (a worker's periodic purge takes it up otherwise).
    let (pool, queues) = (state.pool.clone(), state.queues.clone());
    tokio::spawn(async move {
        match purge::purge_one(&pool, &queues, installation).await {
            Ok(outcome) => tracing::info!(installation = id, ?outcome, "admin: purge"),
            Err(e) => {
                tracing::warn!(installation = id, error = %e, "admin: purge failed; the periodic purge retries")
            }
        }
    });
    let body = views::org_data::deletion_started(&inst.account_login);
    Ok(views::page(&s, "installations", "Deletion started", body).into_response())
}
