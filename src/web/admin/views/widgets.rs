//! Pieces more than one admin page shows: times, pagers, status tags, and the delivery and
//! installation tables (the overview shows both, their own pages show them in full).

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::csrf_field;
use crate::store::copilot::CopilotStatus;
use crate::store::deliveries::AdminDeliveryRow;
use crate::store::installations::AdminInstallationRow;
use crate::web::admin::params::urlencode;
use crate::web::admin::session::Session;

/// A time as the pages show it (UTC, to the minute), or "—".
pub fn when(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

/// A status as a coloured tag (the CSS class is the status itself).
pub fn tag(status: &str) -> Markup {
    html! { span class=(format!("tag {status}")) { (status) } }
}

/// "← Newer" / "More →" links of an offset-paged list at `base`.
pub fn pager(base: &str, page_no: i64, more: bool) -> Markup {
    let sep = if base.contains('?') { '&' } else { '?' };
    html! {
        nav.pager {
            @if page_no > 0 { a href=(format!("{base}{sep}page={}", page_no - 1)) { "← Newer" } }
            @if more { a href=(format!("{base}{sep}page={}", page_no + 1)) { "More →" } }
        }
    }
}

/// Deliveries, each linking to its detail page.
pub fn delivery_table<'a>(rows: impl Iterator<Item = &'a AdminDeliveryRow>) -> Markup {
    html! {
        div.scroll { table {
            thead { tr { th { "Received" } th { "Event" } th { "Status" } th.num { "Attempts" } th { "Error" } } }
            tbody { @for d in rows { tr {
                td { a href=(format!("/admin/deliveries/{}", urlencode(&d.id))) { (when(Some(d.received_at))) } }
                td { (d.event) @if let Some(a) = &d.action { "." (a) } }
                td { (tag(d.status.as_str())) }
                td.num { (d.attempts) }
                td.error { (d.last_error.as_deref().unwrap_or("")) }
            } } }
        } }
    }
}

/// Copilot seats held, or why the last sync could not read them.
fn copilot(i: &AdminInstallationRow) -> Markup {
    html! {
        @match i.copilot_status {
            None => { "—" }
            Some(CopilotStatus::Available) => { (i.copilot_seats) " seats" }
            Some(status) => {
                span.copilot-unavailable { (status.to_string()) }
                @if let Some(reason) = &i.copilot_reason { div.error { (reason) } }
            }
        }
    }
}

/// Installations with their last sync; `actions` adds the "Sync now" buttons.
pub fn installation_table(s: &Session, rows: &[AdminInstallationRow], actions: bool) -> Markup {
    html! {
        @if rows.is_empty() { p { "No installations." } } @else {
        div.scroll { table {
            thead { tr { th { "Org" } th { "Status" } th.num { "Repos" } th.num { "Members" } th { "Last sync" } th { "Result" } th { "Figures" } th { "Copilot" } th { "Teams" }
                @if actions { th {} } } }
            tbody { @for i in rows { tr {
                td { a href=(format!("/admin/members?installation={}", i.id)) { (i.account_login) } }
                td { (tag(&i.status)) }
                td.num { (i.repositories) } td.num { (i.members) }
                td { (when(i.run_started)) }
                td { @if let Some(st) = &i.run_status { (tag(st)) } @else { "never" }
                     @if let Some(e) = &i.run_error { div.error { (e) } } }
                td.small { @if i.run_status.is_some() {
                    (i.created.unwrap_or(0)) " new · " (i.updated.unwrap_or(0)) " updated · "
                    (i.deactivated.unwrap_or(0)) " deactivated · " (i.api_calls.unwrap_or(0)) " calls ("
                    (i.not_modified.unwrap_or(0)) " cached)" } }
                td.small { (copilot(i)) }
                td.small {
                    a href=(format!("/admin/installations/{}/settings", i.id)) { "Settings" } br;
                    a href=(format!("/admin/installations/{}/slack", i.id)) { "Slack" } br;
                    a href=(format!("/admin/installations/{}/teams/stats", i.id)) { "Team stats" } br;
                    "People × teams: "
                    a href=(format!("/admin/installations/{}/people.csv", i.id)) download { "CSV" } " · "
                    a href=(format!("/admin/installations/{}/people.json", i.id)) download { "JSON" } br;
                    a href=(format!("/admin/installations/{}/data", i.id)) { "The org's data (download, delete)" }
                }
                @if actions { td { form method="post" action=(format!("/admin/installations/{}/sync", i.id)) {
                    (csrf_field(s)) button type="submit" { "Sync now" } } } }
            } } }
        } } }
    }
}
