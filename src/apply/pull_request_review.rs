//! `pull_request_review`: submitted, edited, dismissed.

use sqlx::PgConnection;

use super::{DeliveryContext, Outcome, installation_of, no_installation};
use crate::github::events::PullRequestReviewEvent;
use crate::store::pulls;

pub(super) async fn apply(
    conn: &mut PgConnection,
    e: &PullRequestReviewEvent,
    ctx: DeliveryContext,
) -> Result<Outcome, sqlx::Error> {
    let Some(inst) = installation_of(&e.installation) else {
        return Ok(no_installation());
    };
    let dismissed_at = match e.action.as_str() {
        "submitted" | "edited" => None,
        "dismissed" => Some(ctx.received_at),
        other => return Ok(Outcome::ignored("pull_request_review", other)),
    };
    pulls::insert_if_absent(
        &mut *conn,
        inst,
        e.repository.record(),
        &e.pull_request.record(),
    )
    .await?;
    pulls::upsert_review(
        &mut *conn,
        inst,
        e.pull_request.id,
        &e.review.record(),
        dismissed_at,
    )
    .await?;
    Ok(Outcome::Applied)
}
