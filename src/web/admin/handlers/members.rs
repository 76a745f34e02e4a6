//! The members page: search and filter an org's members, and the row actions (toggle active,
//! toggle opt-out, map to Slack).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{MemberForm, installation_in_scope, scope};
use crate::store::installations;
use crate::store::members::{self, AdminMemberFilter};
use crate::web::AppState;
use crate::web::admin::AdminError;
use crate::web::admin::params::{self, MemberAction, Notice, PAGE, nonempty, urlencode};
use crate::web::admin::session::Admin;
use crate::web::admin::views::{self, members::MemberFilters, members::Members};

#[derive(Deserialize, Default)]
pub struct MembersQuery {
    #[serde(default)]
    installation: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    unmapped: Option<String>,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    notice: Option<String>,
}

/// `GET /admin/members`: search, active, Slack mapping, opt-out.
pub async fn list(
    State(state): State<AppState>,
    Admin(s): Admin,
    Query(q): Query<MembersQuery>,
) -> Result<Response, AdminError> {
    // An installation that is not a number is one this session cannot see.
    let installation = nonempty(q.installation.as_deref())
        .map(|v| v.parse::<i64>().map_err(|_| AdminError::NotFound))
        .transpose()?;
    if let Some(id) = installation {
        installation_in_scope(&state.pool, &s, id).await?;
    }
    let search = nonempty(q.q.as_deref());
    let unmapped = q.unmapped.as_deref().is_some_and(|v| !v.is_empty());
    let page_no = params::page_no(q.page);
    let filter = AdminMemberFilter {
        installation,
        search,
        unmapped,
    };
    let mut rows =
        members::admin_list(&state.pool, scope(&s), filter, PAGE + 1, page_no * PAGE).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let orgs = installations::admin_list(&state.pool, scope(&s), PAGE + 1, 0).await?;
    let mut base = format!(
        "/admin/members?installation={}&q={}",
        installation.map(|i| i.to_string()).unwrap_or_default(),
        urlencode(search.unwrap_or(""))
    );
    if unmapped {
        base.push_str("&unmapped=1");
    }
    let body = views::members::members(
        &s,
        &Members {
            rows: &rows,
            orgs: &orgs,
            filters: MemberFilters {
                installation,
                search,
                unmapped,
            },
            base: &base,
            page_no,
            more,
            flash: Notice::parse(q.notice.as_deref()),
        },
    );
    Ok(views::page(&s, "members", "Members", body).into_response())
}

/// `POST /admin/members/{installation}/{github_id}`: toggle active / opt-out, or map Slack.
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
    let pool = &state.pool;
    let found = match action {
        MemberAction::ToggleActive => {
            members::admin_toggle_active(pool, installation, github_id).await?
        }
        MemberAction::ToggleOptOut => {
            members::admin_toggle_opt_out(pool, installation, github_id).await?
        }
        MemberAction::Slack => {
            let id = params::slack_user_id(form.slack_user_id.as_deref())?;
            members::admin_map_slack(pool, installation, github_id, id).await?
        }
    };
    if !found {
        return Err(AdminError::NotFound);
    }
    tracing::info!(
        installation,
        github_id,
        action = action.as_str(),
        "admin: member updated"
    );
    Ok(Redirect::to(&format!(
        "/admin/members?installation={installation}&notice={}#m-{installation}-{github_id}",
        Notice::Saved.code()
    ))
    .into_response())
}
