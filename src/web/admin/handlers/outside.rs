//! Outside collaborators: people surveyed in an org without being its members. They have no
//! `members` row, so this page is where an org's admins map them to Slack and opt them out (or
//! ask them back, which wins in that org over their own earlier "Don't ask me again").

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::{MemberForm, PageQuery, scope};
use crate::store::surveys;
use crate::web::AppState;
use crate::web::admin::params::{self, MemberAction, Notice};
use crate::web::admin::session::Admin;
use crate::web::admin::{AdminError, views};

/// `GET /admin/outside`: the outside collaborators of the orgs in the session's scope.
pub async fn list(
    State(state): State<AppState>,
    Admin(s): Admin,
    Query(q): Query<PageQuery>,
) -> Result<Response, AdminError> {
    let people = surveys::outside_people(&state.pool, scope(&s)).await?;
    let body = views::members::outside(&s, &people, Notice::parse(q.notice.as_deref()));
    Ok(views::page(&s, "outside", "Outside collaborators", body).into_response())
}

/// `POST /admin/outside/{installation}/{github_id}`: map to Slack, or toggle the opt-out.
pub async fn update(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path((installation, github_id)): Path<(i64, i64)>,
    Form(form): Form<MemberForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    if !s.allows(installation) {
        return Err(AdminError::NotFound);
    }
    let action = MemberAction::parse(&form.action)?;
    let found = match action {
        MemberAction::ToggleOptOut => {
            surveys::toggle_outside_opt_out(&state.pool, installation, github_id).await?
        }
        MemberAction::Slack => {
            let id = params::slack_user_id(form.slack_user_id.as_deref())?;
            surveys::map_outside_person(&state.pool, installation, github_id, id).await?
        }
        // Outside collaborators have no membership to (de)activate.
        MemberAction::ToggleActive => {
            return Err(AdminError::BadRequest("Unknown action.".into()));
        }
    };
    if !found {
        return Err(AdminError::NotFound);
    }
    tracing::info!(
        installation,
        github_id,
        action = action.as_str(),
        "admin: outside collaborator updated"
    );
    Ok(Redirect::to(&format!(
        "/admin/outside?notice={}#o-{installation}-{github_id}",
        Notice::Saved.code()
    ))
    .into_response())
}
