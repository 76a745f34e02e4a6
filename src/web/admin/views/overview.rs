//! The overview page: is it working? Postgres, Redis, queue depths, the last day's deliveries,
//! recent failures and each installation's catch-up.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::widgets::{delivery_table, installation_table, tag, when};
use crate::queue::QueueDepth;
use crate::store::deliveries::{AdminDeliveryRow, StatusCount};
use crate::store::installations::AdminInstallationRow;
use crate::web::admin::session::Session;

/// What the overview shows.
pub struct Overview<'a> {
    pub postgres: bool,
    pub redis: bool,
    pub deliveries: Option<QueueDepth>,
    pub merged: Option<QueueDepth>,
    pub oldest_job: Option<DateTime<Utc>>,
    pub by_status: &'a [StatusCount],
    pub failures: &'a [AdminDeliveryRow],
    pub installations: &'a [AdminInstallationRow],
}

pub fn overview(s: &Session, o: &Overview<'_>) -> Markup {
    let ok = |b: bool| if b { "ok" } else { "unavailable" };
    html! {
        section.cards {
            div.card class=(if o.postgres { "good" } else { "bad" }) { h2 { "Postgres" } p.big { (ok(o.postgres)) } }
            div.card class=(if o.redis { "good" } else { "bad" }) { h2 { "Redis" } p.big { (ok(o.redis)) } }
            div.card {
                h2 { "Delivery queue" }
                @if let Some(d) = &o.deliveries {
                    p.big { (d.ready + d.scheduled) " waiting" }
                    p { (d.ready) " ready · " (d.scheduled) " scheduled (new or retrying)" }
                } @else { p { "unknown" } }
                p { "oldest job: " (when(o.oldest_job)) }
            }
            div.card {
                h2 { "Survey queue" }
                @if let Some(d) = &o.merged { p.big { (d.ready + d.scheduled) " waiting" } p { (d.ready) " ready · " (d.scheduled) " scheduled" } } @else { p { "unknown" } }
            }
        }
        h2 { "Deliveries, last 24 hours" }
        @if o.by_status.is_empty() { p { "None." } } @else {
            table { thead { tr { th { "Status" } th.num { "Count" } } }
                tbody { @for c in o.by_status { tr {
                    td { a href=(format!("/admin/deliveries?status={}", c.status.as_str())) { (tag(c.status.as_str())) } }
                    td.num { (c.count) } } } } }
        }
        h2 { "Failures" }
        @if o.failures.is_empty() { p { "No failed or dead deliveries." } } @else {
            (delivery_table(o.failures.iter()))
        }
        h2 { "Catch-up per installation" }
        (installation_table(s, o.installations, false))
    }
}
