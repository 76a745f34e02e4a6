//! Applying one verified delivery to Postgres: one file per event, each a plain function over a
//! transaction. Idempotent (upserts keyed by GitHub ids) and order-safe (older never overwrites
//! newer); unknown events and actions come back as `Outcome::Ignored`, never as errors.

mod installation;
mod issues;
mod member;
mod membership;
mod organization;
mod pull_request;
mod pull_request_review;
mod team;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::github::events::{Event, InstallationRef};
use crate::ids::InstallationId;

/// Facts about the delivery that handlers need besides its payload.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryContext {
    /// When GitHub's POST reached us: the ordering key for facts GitHub gives no timestamp for.
    pub received_at: DateTime<Utc>,
}

/// What applying a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Ignored(String),
}

impl Outcome {
    fn ignored(event: &str, action: &str) -> Self {
        Outcome::Ignored(format!("{event}.{action} is not handled"))
    }
}

/// Applies `event` inside the caller's transaction.
pub async fn apply(
    conn: &mut PgConnection,
    event: &Event,
    ctx: DeliveryContext,
) -> Result<Outcome, sqlx::Error> {
    match event {
        Event::Ping => Ok(Outcome::Ignored("ping".into())),
        Event::Installation(e) => installation::installation(conn, e, ctx).await,
        Event::InstallationRepositories(e) => installation::repositories(conn, e, ctx).await,
        Event::InstallationTarget(e) => installation::target(conn, e).await,
        Event::AppAuthorization(e) => installation::app_authorization(conn, e, ctx).await,
        Event::Organization(e) => organization::apply(conn, e, ctx).await,
        Event::Member(e) => member::apply(conn, e, ctx).await,
        Event::Membership(e) => membership::apply(conn, e, ctx).await,
        Event::Team(e) => team::apply(conn, e, ctx).await,
        Event::PullRequest(e) => pull_request::apply(conn, e).await,
        Event::PullRequestReview(e) => pull_request_review::apply(conn, e, ctx).await,
        Event::Issues(e) => issues::apply(conn, e, ctx).await,
        Event::Other { event } => Ok(Outcome::Ignored(format!("event {event} is not handled"))),
    }
}

/// Events sent to the app always name the installation; without one there is nothing to attach to.
fn installation_of(r: &Option<InstallationRef>) -> Option<InstallationId> {
    r.as_ref().map(|i| InstallationId(i.id))
}

fn no_installation() -> Outcome {
    Outcome::Ignored("payload names no installation".into())
}
