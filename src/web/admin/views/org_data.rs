//! The org's data page: what the download holds, and "Delete now" with its confirmation.

use maud::{Markup, html};

use super::csrf_field;
use super::widgets::{tag, when};
use crate::export;
use crate::store::installations::{InstallationRow, InstallationStatus};
use crate::store::org_data::{Export, ORG_TABLES};
use crate::web::admin::params::urlencode;
use crate::web::admin::session::Session;

pub fn page(s: &Session, inst: &InstallationRow, grace_days: u64, refused: Option<&str>) -> Markup {
    let id = inst.id;
    html! {
        dl.facts {
            dt { "Org" } dd { (inst.account_login) }
            dt { "Status" } dd { (tag(inst.status.as_str())) }
            @if let Some(at) = inst.suspended_at { dt { "Suspended" } dd { (when(Some(at))) } }
            @if let Some(at) = inst.deleted_at { dt { "Deleted" } dd { (when(Some(at))) } }
        }
        @if inst.status == InstallationStatus::Suspended {
            p.hint { "Suspended on GitHub: nothing is synced, asked, reminded, revealed or posted for this org until it is unsuspended. Open surveys wait; nothing is closed or lost." }
        }
        @if inst.status == InstallationStatus::Deleted {
            p.hint { "Deleted: all work for this org has stopped. Its data is deleted " (grace_days) " days after the deletion (or now, if asked below)." }
        }
        h2 { "Download the org's data" }
        p {
            a href=(format!("/admin/installations/{id}/data.json")) download { "Everything, as one JSON document" }
        }
        p { "Or one table at a time as CSV:" }
        ul {
            @for t in export::exported_tables() {
                li { a href=(format!("/admin/installations/{id}/data.csv?table={}", urlencode(t.name))) download { (t.name) ".csv" } }
            }
        }
        p.small {
            "Not in the download: "
            @for (i, t) in ORG_TABLES.iter().filter(|t| matches!(t.export, Export::No(_))).enumerate() {
                @if i > 0 { "; " }
                @if let Export::No(why) = t.export { (t.name) " (" (why) ")" }
            }
            ". Webhook bodies are not in the deliveries table's download."
        }
        h2 { "Delete the org's data now" }
        p {
            "Everything Mergecast holds about " strong { (inst.account_login) } " (members, teams, pull requests, reviews, issues, surveys and answers, deliveries, sync state, sessions, Slack tokens) is deleted now, without the "
            (grace_days) "-day grace period. All work for the org stops at once, and it cannot be undone. "
            "Mergecast stays installed on GitHub until an org owner uninstalls it, but nothing it sends is kept."
        }
        @if let Some(message) = refused { p.error role="alert" { (message) } }
        form method="post" action=(format!("/admin/installations/{id}/delete")) {
            (csrf_field(s))
            label { "Type the org's login, " strong { (inst.account_login) } ", to confirm: "
                input type="text" name="confirm" autocomplete="off" required; }
            " "
            button type="submit" { "Delete now" }
        }
    }
}

/// After "Delete now".
pub fn deletion_started(login: &str) -> Markup {
    html! {
        p.notice role="status" {
            "All work for " (login) " has stopped and its data is being deleted now. "
            "Sessions of its admins end when it is gone."
        }
        p { a href="/admin/installations" { "Back to the installations" } }
    }
}
