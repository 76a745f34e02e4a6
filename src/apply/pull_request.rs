//! `pull_request`, every action: the payload always carries the whole PR as of the event, so
//! every action is the same order-guarded upsert. Seeing it merged records the merge once.

use sqlx::PgConnection;

use super::{Outcome, installation_of, no_installation};
use crate::github::events::PullRequestEvent;
use crate::store::{merged, pulls};

pub(super) async fn apply(
    conn: &mut PgConnection,
    e: &PullRequestEvent,
) -> Result<Outcome, sqlx::Error> {
    let Some(inst) = installation_of(&e.installation) else {
        return Ok(no_installation());
    };
    let pr = &e.pull_request;
    pulls::upsert(&mut *conn, inst, e.repository.record(), &pr.record()).await?;
    if pr.is_merged() {
        merged::record(
            &mut *conn,
            inst,
            pr.id,
            e.repository.id,
            pr.number,
            pr.merged_at,
            "webhook",
        )
        .await?;
    }
    Ok(Outcome::Applied)
}
