//! The installations page and "Sync now" (a catch-up started in the background, so this request
//! never waits on GitHub).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::{CsrfForm, PageQuery, installation_in_scope, scope};
use crate::ids::InstallationId;
use crate::store::installations;
use crate::web::AppState;
use crate::web::admin::params::{self, Notice, PAGE};
use crate::web::admin::session::Admin;
use crate::web::admin::{AdminError, views};

/// `GET /admin/installations`.
pub async fn list(
    State(state): State<AppState>,
    Admin(s): Admin,
    Query(q): Query<PageQuery>,
) -> Result<Response, AdminError> {
    let page_no = params::page_no(q.page);
    let mut rows =
        installations::admin_list(&state.pool, scope(&s), PAGE + 1, page_no * PAGE).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let can_sync = state.admin.syncer.is_some();
    let body = views::installations::installations(
        &s,
        &rows,
        page_no,
        more,
        can_sync,
        Notice::parse(q.notice.as_deref()),
    );
    Ok(views::page(&s, "installations", "Installations", body).into_response())
}

/// `POST /admin/installations/{id}/sync`: starts a catch-up in the background.
pub async fn sync_now(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    installation_in_scope(&state.pool, &s, id).await?;
    let Some(syncer) = state.admin.syncer.clone() else {
        return Err(AdminError::BadRequest(
            "The GitHub App identity is not configured.".into(),
        ));
    };
    tokio::spawn(async move {
        match syncer.sync_installation(InstallationId(id)).await {
            Ok(outcome) => tracing::info!(installation = id, ?outcome, "admin: sync now"),
            Err(e) => tracing::warn!(installation = id, error = %e, "admin: sync now failed"),
        }
    });
    Ok(Redirect::to(&format!(
        "/admin/installations?notice={}",
        Notice::SyncStarted.code()
    ))
    .into_response())
}
