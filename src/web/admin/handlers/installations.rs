//! The installations page and "Sync now" (a catch-up started in the background, so this request
//! never waits on GitHub; one at a time per installation, and at most one per cooldown: see
//! `queue::catch_up::CatchUp::sync_now`).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::{CsrfForm, PageQuery, installation_in_scope, scope};
use crate::ids::InstallationId;
use crate::queue::catch_up::SyncNow;
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
    let body = views::installations::installations(&s, &rows, page_no, more, can_sync, q.notice());
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
    let Some(syncer) = state.admin.syncer.as_ref() else {
        return Err(AdminError::BadRequest(
            "The GitHub App identity is not configured.".into(),
        ));
    };
    let notice = match syncer.sync_now(InstallationId(id)).await? {
        SyncNow::Started => Notice::SyncStarted,
        SyncNow::Running => Notice::SyncRunning,
        SyncNow::Cooldown(wait) => Notice::waiting(Notice::SyncCooldown, wait),
    };
    Ok(Redirect::to(&format!("/admin/installations?{}", notice.query())).into_response())
}
