//! `organization`: members joining, leaving, being invited; the org being renamed.

use sqlx::PgConnection;

use super::{DeliveryContext, Outcome, installation_of, no_installation};
use crate::github::events::OrganizationEvent;
use crate::store::installations;
use crate::store::members::{self, MembershipState};

pub(super) async fn apply(
    conn: &mut PgConnection,
    e: &OrganizationEvent,
    ctx: DeliveryContext,
) -> Result<Outcome, sqlx::Error> {
    let Some(inst) = installation_of(&e.installation) else {
        return Ok(no_installation());
    };
    let state = match e.action.as_str() {
        "member_added" => MembershipState::Active,
        "member_removed" => MembershipState::Inactive,
        "member_invited" => MembershipState::Invited,
        "renamed" => {
            installations::ensure(&mut *conn, inst, &e.organization.login).await?;
            installations::rename_account(&mut *conn, inst, &e.organization.login).await?;
            return Ok(Outcome::Applied);
        }
        other => return Ok(Outcome::ignored("organization", other)),
    };
    let membership = e.membership.as_ref();
    let Some(user) = membership.and_then(|m| m.user.as_ref()).or(e.user.as_ref()) else {
        // An invitation by email names no GitHub account yet.
        return Ok(Outcome::Ignored(format!(
            "organization.{} names no user",
            e.action
        )));
    };
    installations::ensure(&mut *conn, inst, &e.organization.login).await?;
    let role = membership.and_then(|m| m.role.as_deref());
    members::set_membership(
        &mut *conn,
        inst,
        user.person(),
        role,
        state,
        ctx.received_at,
    )
    .await?;
    Ok(Outcome::Applied)
}
