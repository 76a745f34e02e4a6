//! The admin pages' axum handlers, one file per page. Each is thin: read the input (into typed
//! values, see `params`), check the session's scope, call `store` or the domain, render a view.
//! What they share (forms, scope checks) is here.

pub mod deliveries;
pub mod installations;
pub mod login;
pub mod members;
pub mod oauth;
pub mod org_data;
pub mod outside;
pub mod overview;
pub mod people;
pub mod settings;
pub mod setup;
pub mod slack;
pub mod stats;
pub mod surveys;
pub mod team_stats;

use serde::Deserialize;
use sqlx::PgPool;

use super::session::Session;
use super::{AdminError, params};
use crate::store::installations as installation_rows;

/// The installations the session sees, as every scoped query takes it (`None` = all).
pub(crate) fn scope(s: &Session) -> Option<&[i64]> {
    s.scope.as_deref()
}

/// `?page=` and the `?notice=` (with a cooldown's `?wait=`) shown after a redirect.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    pub page: Option<i64>,
    #[serde(default)]
    pub notice: Option<String>,
    /// Read as an integer by `Notice::parse_waiting`; anything else is ignored.
    #[serde(default)]
    pub wait: Option<String>,
}

impl PageQuery {
    /// The notice to show, if any.
    pub fn notice(&self) -> Option<params::Notice> {
        params::Notice::parse_waiting(self.notice.as_deref(), self.wait.as_deref())
    }
}

/// A form that carries only its CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// The member and outside-collaborator row forms.
#[derive(Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    pub csrf: String,
    /// A `params::MemberAction`, read by the handler (so an unknown one is a 400).
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub slack_user_id: Option<String>,
}

/// 404 unless `id` is a known installation this session may see.
pub(crate) async fn installation_in_scope(
    pool: &PgPool,
    s: &Session,
    id: i64,
) -> Result<(), AdminError> {
    if s.allows(id) && installation_rows::exists(pool, id).await? {
        Ok(())
    } else {
        Err(AdminError::NotFound)
    }
}
