//! The admin pages under `/admin`: server-rendered HTML (maud), embedded CSS, no JavaScript
//! needed. Every query is scoped by the session's installations (the operator sees all); another
//! org's objects answer 404, and secrets are never rendered.

pub mod charts;
pub mod login;
pub mod outside;
pub mod pages;
pub mod queries;
pub mod session;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use thiserror::Error;

use crate::config::AdminConfig;
use crate::github::client::{GithubApi, GithubClient};
use crate::queue::catch_up::CatchUp;

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
}

impl AdminContext {
    pub fn new(
        config: AdminConfig,
        prefix: &str,
        syncer: Option<CatchUp>,
        github_api: GithubApi,
        github: Option<GithubClient>,
    ) -> Self {
        Self {
            config,
            prefix: prefix.to_owned(),
            syncer,
            github_api,
            github,
        }
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
            AdminError::Database(_) | AdminError::Redis(_) => {
                tracing::error!(error = %self, "admin: request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong; see the server log.".to_owned(),
                )
            }
        };
        let body = bare_page(
            "Error",
            html! { main { h1 { (status.as_u16()) } p { (message) } p { a href="/admin" { "Back" } } } },
        );
        (status, body).into_response()
    }
}

/// The admin routes (mounted by `web::router`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(pages::overview))
        .route("/admin/", get(pages::overview))
        .route("/admin/assets/admin.css", get(css))
        .route("/admin/login", get(login::page).post(login::password))
        .route("/admin/login/github", post(login::github_start))
        .route("/admin/oauth/callback", get(login::github_callback))
        .route("/admin/logout", post(login::logout))
        .route("/admin/installations", get(pages::installations))
        .route("/admin/installations/{id}/sync", post(pages::sync_now))
        .route("/admin/members", get(pages::members))
        .route("/admin/outside", get(outside::list))
        .route(
            "/admin/outside/{installation}/{github_id}",
            post(outside::update),
        )
        .route(
            "/admin/members/{installation}/{github_id}",
            post(pages::member_update),
        )
        .route("/admin/deliveries", get(pages::deliveries))
        .route("/admin/deliveries/{id}", get(pages::delivery))
        .route("/admin/deliveries/{id}/replay", post(pages::replay))
        .route("/admin/deliveries/{id}/redeliver", post(pages::redeliver))
        .route("/admin/surveys", get(pages::surveys))
        .route("/admin/surveys/{id}", get(pages::survey))
        .route("/admin/stats", get(pages::stats))
        .route("/admin/stats.csv", get(pages::stats_csv))
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

/// A page without navigation (sign-in, errors).
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) " · Mergecast admin" }
                link rel="stylesheet" href="/admin/assets/admin.css";
            }
            body { (body) }
        }
    }
}

/// A page with the navigation bar and the sign-out button.
pub fn page(session: &session::Session, active: &str, title: &str, body: Markup) -> Markup {
    let links = [
        ("overview", "/admin", "Overview"),
        ("installations", "/admin/installations", "Installations"),
        ("members", "/admin/members", "Members"),
        ("outside", "/admin/outside", "Outside collaborators"),
        ("deliveries", "/admin/deliveries", "Deliveries"),
        ("surveys", "/admin/surveys", "Surveys"),
        ("stats", "/admin/stats", "Stats"),
    ];
    bare_page(
        title,
        html! {
            header.top {
                strong.brand { "Mergecast" }
                nav {
                    @for (key, href, label) in links {
                        a href=(href) class=[(key == active).then_some("active")] { (label) }
                    }
                }
                form.signout method="post" action="/admin/logout" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    span.who {
                        @if session.is_operator() { "operator" } @else { (session.login.as_deref().unwrap_or("")) }
                    }
                    button type="submit" { "Sign out" }
                }
            }
            main {
                h1 { (title) }
                (body)
            }
        },
    )
}

/// A hidden CSRF field for a form.
pub fn csrf_field(session: &session::Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}
