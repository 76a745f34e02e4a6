//! The people × teams download of one installation (CSV or JSON), streamed: the body is fed
//! chunk by chunk from the database cursor (see `export`), never built whole in memory.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::installation_in_scope;
use crate::export::{self, Format};
use crate::web::AppState;
use crate::web::admin::AdminError;
use crate::web::admin::session::Admin;

/// `GET /admin/installations/{id}/people.csv`.
pub async fn csv(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
) -> Result<Response, AdminError> {
    download(state, admin, id, Format::Csv).await
}

/// `GET /admin/installations/{id}/people.json` (one JSON array).
pub async fn json(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
) -> Result<Response, AdminError> {
    download(state, admin, id, Format::Json).await
}

async fn download(
    state: AppState,
    Admin(s): Admin,
    id: i64,
    format: Format,
) -> Result<Response, AdminError> {
    installation_in_scope(&state.pool, &s, id).await?;
    let (rx, _task) = export::spawn_people(state.pool.clone(), id, format);
    let chunks = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let disposition = format!(
        "attachment; filename=\"mergecast-people-{id}.{}\"",
        format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}
