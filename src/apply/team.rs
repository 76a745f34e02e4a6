//! `team`: teams created, edited, deleted, and given or denied repository access.

use sqlx::PgConnection;

use super::{DeliveryContext, Outcome, installation_of, no_installation};
use crate::github::events::TeamEvent;
use crate::store::{installations, teams};

pub(super) async fn apply(
    conn: &mut PgConnection,
    e: &TeamEvent,
    ctx: DeliveryContext,
) -> Result<Outcome, sqlx::Error> {
    let Some(inst) = installation_of(&e.installation) else {
        return Ok(no_installation());
    };
    installations::ensure(&mut *conn, inst, &e.organization.login).await?;
    match e.action.as_str() {
        "created" | "edited" => {
            teams::upsert(&mut *conn, inst, e.team.record(), false, ctx.received_at).await?;
        }
        "deleted" => {
            teams::upsert(&mut *conn, inst, e.team.record(), true, ctx.received_at).await?;
        }
        "added_to_repository" | "removed_from_repository" => {
            let Some(repo) = &e.repository else {
                return Ok(Outcome::Ignored(format!(
                    "team.{} names no repository",
                    e.action
                )));
            };
            teams::ensure(&mut *conn, inst, e.team.record()).await?;
            let active = e.action == "added_to_repository";
            teams::set_repository(
                &mut *conn,
                inst,
                e.team.id,
                repo.id,
                e.team.permission.as_deref(),
                active,
                ctx.received_at,
            )
            .await?;
        }
        other => return Ok(Outcome::ignored("team", other)),
    }
    Ok(Outcome::Applied)
}
