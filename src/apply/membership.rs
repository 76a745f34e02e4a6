//! `membership`: a person added to or removed from a team.

use sqlx::PgConnection;

use super::{DeliveryContext, Outcome, installation_of, no_installation};
use crate::github::events::MembershipEvent;
use crate::store::{installations, teams};

pub(super) async fn apply(
    conn: &mut PgConnection,
    e: &MembershipEvent,
    ctx: DeliveryContext,
) -> Result<Outcome, sqlx::Error> {
    let Some(inst) = installation_of(&e.installation) else {
        return Ok(no_installation());
    };
    let active = match e.action.as_str() {
        "added" => true,
        "removed" => false,
        other => return Ok(Outcome::ignored("membership", other)),
    };
    installations::ensure(&mut *conn, inst, &e.organization.login).await?;
    teams::ensure(&mut *conn, inst, e.team.record()).await?;
    teams::set_member(
        &mut *conn,
        inst,
        e.team.id,
        e.member.person(),
        active,
        // The event names no role; the sync reads it.
        None,
        ctx.received_at,
    )
    .await?;
    Ok(Outcome::Applied)
}
