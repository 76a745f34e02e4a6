//! Outside collaborators: people surveyed in an org without being its members. They have no
//! `members` row, so this page is where an org's admins map them to Slack and opt them out (or
//! ask them back, which wins in that org over their own earlier "Don't ask me again").

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::pages::{MemberForm, PageQuery, notice, scope};
use super::session::Admin;
use super::{AdminError, csrf_field, page};
use crate::store::surveys;
use crate::web::AppState;

/// `GET /admin/outside`: the outside collaborators of the orgs in the session's scope.
pub async fn list(
    State(state): State<AppState>,
    Admin(s): Admin,
    Query(q): Query<PageQuery>,
) -> Result<Response, AdminError> {
    let people = surveys::outside_people(&state.pool, scope(&s)).await?;
    let body = html! {
        (notice(&q.notice))
        p { "People asked in an org's surveys without being its members (outside collaborators)." }
        @if people.is_empty() { p { "Nobody yet." } } @else {
        div.scroll { table.members {
            thead { tr { th { "Login" } th { "Org" } th { "Slack" } th { "Opted out" } } }
            tbody { @for o in &people {
                @let action = format!("/admin/outside/{}/{}", o.installation_id, o.github_id);
                tr id=(format!("o-{}-{}", o.installation_id, o.github_id)) {
                td { strong { (o.login) } }
                td { (o.installation_id) }
                td { form.inline method="post" action=(action) { (csrf_field(&s))
                    input type="hidden" name="action" value="slack";
                    input type="text" name="slack_user_id" value=(o.slack_user_id.as_deref().unwrap_or("")) placeholder="U0123ABC" size="11" aria-label=(format!("Slack user id of {}", o.login));
                    button type="submit" { "Save" } } }
                td { form method="post" action=(action) { (csrf_field(&s))
                    input type="hidden" name="action" value="toggle_opt_out";
                    button.toggle type="submit" aria-pressed=(o.opted_out) { @if o.opted_out { "opted out" } @else { "no" } } } }
            } } }
        } } }
    };
    Ok(page(&s, "outside", "Outside collaborators", body).into_response())
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
    let found = match form.action.as_str() {
        "toggle_opt_out" => {
            surveys::toggle_outside_opt_out(&state.pool, installation, github_id).await?
        }
        "slack" => {
            let id = form.slack_id()?;
            surveys::map_outside_person(&state.pool, installation, github_id, id).await?
        }
        _ => return Err(AdminError::BadRequest("Unknown action.".into())),
    };
    if !found {
        return Err(AdminError::NotFound);
    }
    tracing::info!(installation, github_id, action = %form.action, "admin: outside collaborator updated");
    Ok(Redirect::to(&format!(
        "/admin/outside?notice=Saved#o-{installation}-{github_id}"
    ))
    .into_response())
}
