//! `member`: a collaborator added to, removed from, or changed on a repository.

use sqlx::PgConnection;

use super::{DeliveryContext, Outcome, installation_of, no_installation};
use crate::github::events::MemberEvent;
use crate::store::members;

pub(super) async fn apply(
    conn: &mut PgConnection,
    e: &MemberEvent,
    ctx: DeliveryContext,
) -> Result<Outcome, sqlx::Error> {
    let Some(inst) = installation_of(&e.installation) else {
        return Ok(no_installation());
    };
    let active = match e.action.as_str() {
        "added" | "edited" => true,
        "removed" => false,
        other => return Ok(Outcome::ignored("member", other)),
    };
    // `changes.permission.to` on added; `changes.permission.to` or `old_permission` on edited.
    let permission = e.changes.pointer("/permission/to").and_then(|v| v.as_str());
    members::set_collaborator(
        &mut *conn,
        inst,
        e.repository.id,
        e.member.person(),
        permission,
        active,
        ctx.received_at,
    )
    .await?;
    Ok(Outcome::Applied)
}
