//! The admin pages under `/admin`: server-rendered HTML (maud), embedded CSS, no JavaScript
//! needed. Every query is scoped by the session's installations (the operator sees all); another
//! org's objects answer 404, and secrets are never rendered.
//!
//! `handlers` read the request and call `store` (all SQL lives there) or the domain; `views`
//! render; `params` turns input into typed values; `session` and `throttle` guard sign-in;
//! `headers` adds the security headers to every response; `membership` decides who administers
//! an installation. This file holds what they share: the
//! context, the error type and the router.

pub mod csrf;
pub mod handlers;
pub mod headers;
pub mod membership;
pub mod params;
pub mod session;
pub mod throttle;
pub mod views;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use thiserror::Error;

use std::sync::Arc;

use crate::config::layered::Reload;
use crate::config::{AdminConfig, Config};
use crate::github::client::{GithubApi, GithubClient};
use crate::queue::catch_up::CatchUp;
use crate::survey::SurveyContext;

use super::AppState;

/// What the admin handlers need beyond the shared state.
#[derive(Clone, Debug)]
pub struct AdminContext {
    pub config: AdminConfig,
    /// Prefix of our Redis keys (login rate limits).
    pub prefix: String,
    /// Present when the GitHub App identity is configured ("Sync now").
    pub syncer: Option<CatchUp>,
    /// The process's GitHub client: OAuth sign-in (needs no App identity).
    pub github_api: GithubApi,
    /// Present when the GitHub App identity is configured ("Ask GitHub to redeliver").
    pub github: Option<GithubClient>,
    /// The `Content-Security-Policy` of every admin response (see `headers`).
    pub csp: HeaderValue,
    /// The whole configuration this process runs with (the setup page shows its state).
    pub app_config: Arc<Config>,
    /// Present when the process can reload its configuration (`app::serve`): the setup page
    /// then stores what it is given and has it applied at once.
    pub reload: Option<Reload>,
    /// The survey flow's context: the settings page's defaults (the environment) and the Slack
    /// client it lists the workspace's channels with.
    pub survey: SurveyContext,
    /// `DELETION_GRACE_DAYS`, as the org's data page states it.
    pub deletion_grace_days: u64,
}

impl AdminContext {
    pub fn new(
        app_config: Arc<Config>,
        syncer: Option<CatchUp>,
        github_api: GithubApi,
        github: Option<GithubClient>,
        reload: Option<Reload>,
        survey: SurveyContext,
    ) -> Self {
        let mut elsewhere = vec![github_api.web_url()];
        if let Some(slack) = &app_config.slack {
            elsewhere.push(&slack.web_url);
        }
        let csp = headers::content_security_policy(&elsewhere);
        Self {
            csp,
            config: app_config.admin.clone(),
            prefix: app_config.queue_prefix.clone(),
            syncer,
            github_api,
            github,
            app_config,
            reload,
            survey,
            deletion_grace_days: 30,
        }
    }

    /// States `DELETION_GRACE_DAYS` on the org's data page.
    pub fn with_deletion_grace(mut self, grace: std::time::Duration) -> Self {
        self.deletion_grace_days = grace.as_secs() / 86_400;
        self
    }
}

/// What can go wrong in an admin request; the page says little, the log says more.
#[derive(Debug, Error)]
pub enum AdminError {
    #[error("not found")]
    NotFound,
    #[error("the form has expired; reload the page and try again")]
    Csrf,
    #[error("too many sign-in attempts; wait a few minutes")]
    Throttled,
    #[error("{0}")]
    BadRequest(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("sign-in with GitHub failed: {0}")]
    OAuth(String),
    /// GitHub did not answer a session's membership re-check: no access until it does.
    #[error("cannot confirm org memberships with GitHub: {0}")]
    MembershipCheck(String),
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            AdminError::NotFound => (StatusCode::NOT_FOUND, "Not found.".to_owned()),
            AdminError::Csrf => (StatusCode::FORBIDDEN, self.to_string()),
            AdminError::Throttled => (StatusCode::TOO_MANY_REQUESTS, self.to_string()),
            AdminError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            AdminError::OAuth(_) => {
                tracing::warn!(error = %self, "admin: GitHub sign-in failed");
                (
                    StatusCode::BAD_GATEWAY,
                    "Sign-in with GitHub failed; try again.".to_owned(),
                )
            }
            AdminError::MembershipCheck(_) => {
                tracing::warn!(error = %self, "admin: membership re-check failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "GitHub could not confirm just now that you still administer your \
                     organizations, so nothing is shown. Try again in a few minutes."
                        .to_owned(),
                )
            }
            AdminError::Database(_) | AdminError::Redis(_) => {
                tracing::error!(error = %self, "admin: request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong; see the server log.".to_owned(),
                )
            }
        };
        (status, views::error_page(status.as_u16(), &message)).into_response()
    }
}

/// The admin routes (mounted by `web::router`).
pub fn router(state: AppState) -> Router<AppState> {
    use handlers::{
        deliveries, installations, login, members, oauth, org_data, outside, overview, people,
        settings, setup, slack, stats, surveys, team_stats,
    };
    Router::new()
        .route("/", get(setup::root))
        .route("/admin/setup", get(setup::page))
        .route("/admin/setup/password", post(setup::password))
        .route("/admin/setup/github", post(setup::github))
        .route("/admin/setup/github/registered", get(setup::registered))
        .route("/admin/setup/slack", post(setup::slack))
        .route("/admin", get(overview::overview))
        .route("/admin/", get(overview::overview))
        .route("/admin/assets/admin.css", get(css))
        .route("/admin/login", get(login::page).post(login::password))
        .route("/admin/login/github", post(oauth::start))
        .route("/admin/oauth/callback", get(oauth::callback))
        .route("/admin/logout", post(login::logout))
        .route("/admin/installations", get(installations::list))
        .route(
            "/admin/installations/{id}/sync",
            post(installations::sync_now),
        )
        .route(
            "/admin/installations/{id}/settings",
            get(settings::page).post(settings::save),
        )
        .route(
            "/admin/installations/{id}/slack",
            get(slack::page).post(slack::add),
        )
        .route(
            "/admin/installations/{id}/slack/disconnect",
            post(slack::disconnect),
        )
        .route("/admin/slack/oauth/callback", get(slack::callback))
        .route("/admin/installations/{id}/data", get(org_data::page))
        .route("/admin/installations/{id}/data.json", get(org_data::json))
        .route("/admin/installations/{id}/data.csv", get(org_data::csv))
        .route("/admin/installations/{id}/delete", post(org_data::delete))
        .route("/admin/installations/{id}/people.csv", get(people::csv))
        .route("/admin/installations/{id}/people.json", get(people::json))
        .route(
            "/admin/installations/{id}/teams/stats",
            get(team_stats::page),
        )
        .route(
            "/admin/installations/{id}/teams/stats.csv",
            get(team_stats::csv),
        )
        .route("/admin/members", get(members::list))
        .route("/admin/outside", get(outside::list))
        .route(
            "/admin/outside/{installation}/{github_id}",
            post(outside::update),
        )
        .route(
            "/admin/members/{installation}/{github_id}",
            post(members::update),
        )
        .route("/admin/deliveries", get(deliveries::list))
        .route("/admin/deliveries/{id}", get(deliveries::detail))
        .route("/admin/deliveries/{id}/replay", post(deliveries::replay))
        .route(
            "/admin/deliveries/{id}/redeliver",
            post(deliveries::redeliver),
        )
        .route("/admin/surveys", get(surveys::list))
        .route("/admin/surveys/{id}", get(surveys::detail))
        .route("/admin/stats", get(stats::page))
        .route("/admin/stats.csv", get(stats::csv))
        .route_layer(axum::middleware::from_fn_with_state(state, headers::add))
}

const CSS: &str = include_str!("admin.css");

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
}
