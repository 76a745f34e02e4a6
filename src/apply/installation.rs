//! `installation`, `installation_repositories`, `installation_target`, `github_app_authorization`.

use sqlx::PgConnection;

use super::{DeliveryContext, Outcome};
use crate::github::events::{
    AppAuthorizationEvent, InstallationEvent, InstallationRepositoriesEvent,
    InstallationTargetEvent,
};
use crate::github::records::repository_records;
use crate::ids::InstallationId;
use crate::store::installations::{self, InstallationStatus};

pub(super) async fn installation(
    conn: &mut PgConnection,
    e: &InstallationEvent,
    ctx: DeliveryContext,
) -> Result<Outcome, sqlx::Error> {
    let status = match e.action.as_str() {
        "created" | "new_permissions_accepted" | "unsuspend" => InstallationStatus::Active,
        "suspend" => InstallationStatus::Suspended,
        "deleted" => InstallationStatus::Deleted,
        other => return Ok(Outcome::ignored("installation", other)),
    };
    let written = installations::upsert(
        &mut *conn,
        &e.installation.record(),
        status,
        ctx.received_at,
    )
    .await?;
    if e.action == "created" && written {
        let id = InstallationId(e.installation.id);
        installations::set_repositories(
            &mut *conn,
            id,
            &repository_records(&e.repositories),
            true,
            ctx.received_at,
        )
        .await?;
    }
    Ok(Outcome::Applied)
}

pub(super) async fn repositories(
    conn: &mut PgConnection,
    e: &InstallationRepositoriesEvent,
    ctx: DeliveryContext,
) -> Result<Outcome, sqlx::Error> {
    let id = InstallationId(e.installation.id);
    let login = e
        .installation
        .account
        .as_ref()
        .map(|a| a.login.as_str())
        .unwrap_or("");
    installations::ensure(&mut *conn, id, login).await?;
    match e.action.as_str() {
        "added" | "removed" => {
            installations::set_repositories(
                &mut *conn,
                id,
                &repository_records(&e.repositories_added),
                true,
                ctx.received_at,
            )
            .await?;
            installations::set_repositories(
                &mut *conn,
                id,
                &repository_records(&e.repositories_removed),
                false,
                ctx.received_at,
            )
            .await?;
            if let Some(selection) = &e.repository_selection {
                installations::set_repository_selection(&mut *conn, id, selection).await?;
            }
            Ok(Outcome::Applied)
        }
        other => Ok(Outcome::ignored("installation_repositories", other)),
    }
}

pub(super) async fn target(
    conn: &mut PgConnection,
    e: &InstallationTargetEvent,
) -> Result<Outcome, sqlx::Error> {
    if e.action != "renamed" {
        return Ok(Outcome::ignored("installation_target", &e.action));
    }
    let id = InstallationId(e.installation.id);
    installations::ensure(&mut *conn, id, &e.account.login).await?;
    installations::rename_account(&mut *conn, id, &e.account.login).await?;
    Ok(Outcome::Applied)
}

pub(super) async fn app_authorization(
    conn: &mut PgConnection,
    e: &AppAuthorizationEvent,
    ctx: DeliveryContext,
) -> Result<Outcome, sqlx::Error> {
    if e.action != "revoked" {
        return Ok(Outcome::ignored("github_app_authorization", &e.action));
    }
    installations::record_revoked_authorization(
        &mut *conn,
        e.sender.id,
        &e.sender.login,
        ctx.received_at,
    )
    .await?;
    Ok(Outcome::Applied)
}
