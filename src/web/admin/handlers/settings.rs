//! The settings page of one installation: its survey settings as a form (GET), saved with CSRF,
//! validation and an optimistic version (POST), and its audit log. The operator and that org's
//! admins only; another org's admin gets 404, as everywhere.
//!
//! The board's channel is picked from the channels of the org's own workspace (or the default
//! one); when Slack is not connected or does not answer, the form keeps the current channel and
//! says why.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::PageQuery;
use crate::store::installations;
use crate::store::org_settings::{self, Actor};
use crate::survey::settings::{
    self, ChannelChoices, Choices, Loaded, SaveError, SettingsError, SettingsInput,
};
use crate::web::AppState;
use crate::web::admin::params::{self, Notice};
use crate::web::admin::session::{Admin, Session};
use crate::web::admin::views::settings::{SettingsPage, page as render};
use crate::web::admin::{AdminError, views};

/// Audit rows shown on the page.
const AUDIT_ROWS: i64 = 200;

/// What both the form and its re-render need.
struct Context {
    org: String,
    loaded: Loaded,
    repositories: Vec<(i64, String, bool)>,
    channels: ChannelChoices,
}

/// The installation (404 outside the session's scope), its settings, repositories and the
/// workspace's channels.
async fn context(state: &AppState, s: &Session, id: i64) -> Result<Context, AdminError> {
    let installation = match installations::get(&state.pool, id).await? {
        Some(i) if s.allows(id) => i,
        _ => return Err(AdminError::NotFound),
    };
    let survey = &state.admin.survey;
    let loaded = settings::load(&state.pool, &survey.settings_defaults(), id).await?;
    let repositories = installations::repositories(&state.pool, id)
        .await?
        .into_iter()
        .map(|r| (r.id, r.full_name, r.active))
        .collect();
    // The org's own workspace (or the default one); a lookup that fails lists nothing.
    let slack = survey.slack_for(id).await.unwrap_or_else(|e| {
        tracing::warn!(installation = id, error = %e, "settings: no Slack client");
        None
    });
    let channels =
        settings::channel_choices(slack.as_ref(), loaded.settings.leaderboard_channel.as_ref())
            .await;
    Ok(Context {
        org: installation.account_login,
        loaded,
        repositories,
        channels,
    })
}

/// What one rendering of the form shows besides the context.
struct Shown<'a> {
    input: &'a SettingsInput,
    version: i64,
    errors: &'a [SettingsError],
    problem: Option<&'a str>,
    flash: Option<Notice>,
}

/// Renders the page, audit log included.
async fn show(
    state: &AppState,
    s: &Session,
    id: i64,
    c: &Context,
    shown: Shown<'_>,
) -> Result<maud::Markup, AdminError> {
    let audit = org_settings::audit(&state.pool, id, AUDIT_ROWS).await?;
    let body = render(
        s,
        &SettingsPage {
            installation: id,
            org: &c.org,
            input: shown.input,
            version: shown.version,
            loaded: &c.loaded,
            repositories: &c.repositories,
            channels: &c.channels,
            errors: shown.errors,
            problem: shown.problem,
            audit: &audit,
            flash: shown.flash,
        },
    );
    Ok(views::page(
        s,
        "installations",
        &format!("Settings · {}", c.org),
        body,
    ))
}

/// `GET /admin/installations/{id}/settings`.
pub async fn page(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AdminError> {
    let c = context(&state, &s, id).await?;
    let input = SettingsInput::from_settings(&c.loaded.settings);
    let shown = Shown {
        input: &input,
        version: c.loaded.version,
        errors: &[],
        problem: None,
        flash: q.notice(),
    };
    Ok(show(&state, &s, id, &c, shown).await?.into_response())
}

/// `POST /admin/installations/{id}/settings`: validates, then saves unless someone saved first;
/// errors re-render the form with the values as typed.
pub async fn save(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AdminError> {
    let form = params::settings_form(&pairs)?;
    s.check_csrf(&form.csrf)?;
    let c = context(&state, &s, id).await?;
    let repositories: Vec<(i64, String)> = c
        .repositories
        .iter()
        .map(|(id, name, _)| (*id, name.clone()))
        .collect();
    let checked = settings::validate(
        &form.input,
        &Choices {
            repositories: &repositories,
            channels: &c.channels,
        },
    );
    let mut shown = Shown {
        input: &form.input,
        version: form.version,
        errors: &[],
        problem: None,
        flash: None,
    };
    let valid = match checked {
        Ok(valid) => valid,
        Err(errors) => {
            shown.errors = &errors;
            let html = show(&state, &s, id, &c, shown).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
        }
    };
    let actor = match (&s.login, s.is_operator()) {
        (Some(login), false) => Actor::Github(login.clone()),
        _ => Actor::Operator,
    };
    match settings::save(&state.pool, id, form.version, &valid, &actor).await {
        Ok(saved) => {
            tracing::info!(installation = id, ?saved, actor = %actor, "admin: settings saved");
            Ok(Redirect::to(&format!(
                "/admin/installations/{id}/settings?notice={}",
                Notice::Saved.code()
            ))
            .into_response())
        }
        Err(SaveError::Stale) => {
            let message = SaveError::Stale.to_string();
            shown.problem = Some(&message);
            let html = show(&state, &s, id, &c, shown).await?;
            Ok((StatusCode::CONFLICT, html).into_response())
        }
        Err(SaveError::Missing) => Err(AdminError::NotFound),
        Err(SaveError::Database(e)) => Err(e.into()),
    }
}
