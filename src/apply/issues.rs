//! `issues`, every action: an order-guarded upsert of the issue, plus the few facts an action
//! carries beyond the issue object (deleted, transferred, pinned).

use sqlx::PgConnection;

use super::{DeliveryContext, Outcome, installation_of, no_installation};
use crate::github::events::IssuesEvent;
use crate::store::issues;

pub(super) async fn apply(
    conn: &mut PgConnection,
    e: &IssuesEvent,
    ctx: DeliveryContext,
) -> Result<Outcome, sqlx::Error> {
    let Some(inst) = installation_of(&e.installation) else {
        return Ok(no_installation());
    };
    if e.issue.pull_request.is_some() {
        return Ok(Outcome::Ignored("issue is a pull request".into()));
    }
    issues::upsert(&mut *conn, inst, e.repository.record(), &e.issue.record()).await?;
    match e.action.as_str() {
        "deleted" => issues::mark_gone(&mut *conn, e.issue.id, Some(ctx.received_at), None).await?,
        "transferred" => {
            let to = e
                .changes
                .as_ref()
                .and_then(|c| c.new_repository.as_ref())
                .map(|r| r.full_name.as_str());
            issues::mark_gone(&mut *conn, e.issue.id, None, Some(to.unwrap_or("unknown"))).await?
        }
        "pinned" => issues::set_pinned(&mut *conn, e.issue.id, true).await?,
        "unpinned" => issues::set_pinned(&mut *conn, e.issue.id, false).await?,
        _ => {}
    }
    Ok(Outcome::Applied)
}
