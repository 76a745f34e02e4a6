//! The delivery log pages: the filtered list, and one delivery with its headers (secrets never
//! shown), payload, attempts and the replay / redeliver buttons.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::widgets::{delivery_table, tag, when};
use super::{csrf_field, notice};
use crate::store::deliveries::{AdminDeliveryRow, Status, StoredDelivery};
use crate::web::admin::params::Notice;
use crate::web::admin::params::urlencode;
use crate::web::admin::session::Session;

/// The list's filters as typed (shown back in the form).
pub struct DeliveryFilters<'a> {
    pub event: Option<&'a str>,
    pub action: Option<&'a str>,
    pub status: Option<Status>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
}

impl DeliveryFilters<'_> {
    /// The list's URL with these filters, starting after the `before` cursor.
    pub fn next_url(&self, before: &str) -> String {
        format!(
            "/admin/deliveries?event={}&action={}&status={}&from={}&to={}&before={}",
            urlencode(self.event.unwrap_or("")),
            urlencode(self.action.unwrap_or("")),
            urlencode(self.status.map(Status::as_str).unwrap_or("")),
            urlencode(self.from.unwrap_or("")),
            urlencode(self.to.unwrap_or("")),
            urlencode(before)
        )
    }
}

pub fn list(f: &DeliveryFilters<'_>, rows: &[AdminDeliveryRow], next: Option<&str>) -> Markup {
    html! {
        form.filters method="get" action="/admin/deliveries" {
            label { "Event " input type="text" name="event" value=(f.event.unwrap_or("")) placeholder="pull_request" size="14"; }
            label { "Action " input type="text" name="action" value=(f.action.unwrap_or("")) placeholder="closed" size="10"; }
            label { "Status " select name="status" {
                option value="" { "any" }
                @for st in Status::ALL { option value=(st.as_str()) selected[f.status == Some(st)] { (st.as_str()) } } } }
            label { "From (UTC) " input type="datetime-local" name="from" value=(f.from.unwrap_or("")); }
            label { "To (UTC) " input type="datetime-local" name="to" value=(f.to.unwrap_or("")); }
            button type="submit" { "Filter" }
        }
        @if rows.is_empty() { p { "No deliveries match." } } @else { (delivery_table(rows.iter())) }
        nav.pager { @if let Some(next) = next { a href=(next) { "Older →" } } }
    }
}

/// What the detail page shows besides the stored delivery.
pub struct Detail<'a> {
    pub delivery: &'a StoredDelivery,
    /// The stored status, read.
    pub status: Status,
    /// Headers safe to show.
    pub headers: &'a [(String, String)],
    /// The body, pretty-printed when it is JSON; `None` once pruned.
    pub payload: Option<&'a str>,
    /// When GitHub was last asked to redeliver it: (hook delivery id, when).
    pub redelivery: Option<(i64, DateTime<Utc>)>,
    pub replayable: bool,
    pub can_redeliver: bool,
    pub flash: Option<Notice>,
}

pub fn detail(s: &Session, v: &Detail<'_>) -> Markup {
    let d = v.delivery;
    html! {
        (notice(v.flash))
        dl.facts {
            dt { "Delivery" } dd { code { (d.id) } }
            dt { "Event" } dd { (d.event) @if let Some(a) = &d.action { "." (a) } }
            dt { "Status" } dd { (tag(v.status.as_str())) }
            dt { "Installation" } dd { (d.installation_id.map(|i| i.to_string()).unwrap_or_else(|| "—".into())) }
            dt { "Received" } dd { (when(Some(d.received_at))) }
            dt { "Processed" } dd { (when(d.processed_at)) }
            dt { "Attempts" } dd { (d.attempts) }
            dt { "Last error" } dd.error { (d.last_error.as_deref().unwrap_or("—")) }
            dt { "Redelivery" } dd { @match &v.redelivery {
                Some((hook, at)) => { "requested " (when(Some(*at))) " (hook delivery " (hook) ")" }
                None => { "never requested" } } }
        }
        div.actions {
            @if v.replayable {
                form method="post" action=(format!("/admin/deliveries/{}/replay", urlencode(&d.id))) { (csrf_field(s)) button type="submit" { "Replay" } }
            }
            @if v.can_redeliver {
                form method="post" action=(format!("/admin/deliveries/{}/redeliver", urlencode(&d.id))) { (csrf_field(s)) button type="submit" { "Ask GitHub to redeliver" } }
            }
        }
        h2 { "Headers" }
        div.scroll { table { tbody { @for (k, v) in v.headers { tr { th { (k) } td { code { (v) } } } } } } }
        h2 { "Payload" }
        @match v.payload { Some(p) => { pre.payload { (p) } } None => { p { "Pruned after the retention period." } } }
    }
}
