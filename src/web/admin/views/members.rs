//! The members and outside-collaborators pages: who is asked in each org, their Slack mapping
//! and opt-out, with a form per row to change them.

use maud::{Markup, html};

use super::widgets::pager;
use super::{csrf_field, notice};
use crate::store::installations::AdminInstallationRow;
use crate::store::members::AdminMemberRow;
use crate::store::surveys::OutsidePerson;
use crate::web::admin::params::Notice;
use crate::web::admin::session::Session;

/// The member list's filters as the form shows them back.
pub struct MemberFilters<'a> {
    pub installation: Option<i64>,
    pub search: Option<&'a str>,
    pub unmapped: bool,
}

/// What the members page shows.
pub struct Members<'a> {
    pub rows: &'a [AdminMemberRow],
    pub orgs: &'a [AdminInstallationRow],
    pub filters: MemberFilters<'a>,
    /// The list's URL with its filters, for the pager.
    pub base: &'a str,
    pub page_no: i64,
    pub more: bool,
    pub flash: Option<Notice>,
}

pub fn members(s: &Session, list: &Members<'_>) -> Markup {
    let f = &list.filters;
    html! {
        (notice(list.flash))
        form.filters method="get" action="/admin/members" {
            label { "Org " select name="installation" {
                option value="" { "all" }
                @for o in list.orgs { option value=(o.id) selected[f.installation == Some(o.id)] { (o.account_login) } } } }
            label { "Search " input type="search" name="q" value=(f.search.unwrap_or("")) placeholder="login or name"; }
            label.check { input type="checkbox" name="unmapped" value="1" checked[f.unmapped]; " without Slack" }
            button type="submit" { "Filter" }
        }
        @if list.rows.is_empty() { p { "No members match." } } @else {
        div.scroll { table.members {
            thead { tr { th { "Login" } th { "Org" } th { "Active" } th { "Slack" } th { "Opted out" } } }
            tbody { @for m in list.rows {
                @let action = format!("/admin/members/{}/{}", m.installation_id, m.github_id);
                tr id=(format!("m-{}-{}", m.installation_id, m.github_id)) {
                td { strong { (m.login) } @if let Some(n) = &m.name { div.small { (n) } } }
                td { (m.account_login) }
                td { form method="post" action=(action) { (csrf_field(s))
                    input type="hidden" name="action" value="toggle_active";
                    button.toggle type="submit" name="go" value="1" aria-pressed=(m.active) { @if m.active { "active" } @else { "inactive" } } } }
                td { form.inline method="post" action=(action) { (csrf_field(s))
                    input type="hidden" name="action" value="slack";
                    input type="text" name="slack_user_id" value=(m.slack_user_id.as_deref().unwrap_or("")) placeholder="U0123ABC" size="11" aria-label=(format!("Slack user id of {}", m.login));
                    button type="submit" { "Save" } }
                    @if let Some(src) = &m.slack_mapping_source { div.small { "mapped: " (src) } }
                    @if m.slack_user_id.is_none() { @if let Some(r) = &m.slack_unmapped_reason { div.small.error { "unmapped: " (r) } } } }
                td { form method="post" action=(action) { (csrf_field(s))
                    input type="hidden" name="action" value="toggle_opt_out";
                    button.toggle type="submit" aria-pressed=(m.opted_out) { @if m.opted_out { "opted out" } @else { "no" } } } }
            } } }
        } } }
        (pager(list.base, list.page_no, list.more))
    }
}

pub fn outside(s: &Session, people: &[OutsidePerson], flash: Option<Notice>) -> Markup {
    html! {
        (notice(flash))
        p { "People asked in an org's surveys without being its members (outside collaborators)." }
        @if people.is_empty() { p { "Nobody yet." } } @else {
        div.scroll { table.members {
            thead { tr { th { "Login" } th { "Org" } th { "Slack" } th { "Opted out" } } }
            tbody { @for o in people {
                @let action = format!("/admin/outside/{}/{}", o.installation_id, o.github_id);
                tr id=(format!("o-{}-{}", o.installation_id, o.github_id)) {
                td { strong { (o.login) } }
                td { (o.installation_id) }
                td { form.inline method="post" action=(action) { (csrf_field(s))
                    input type="hidden" name="action" value="slack";
                    input type="text" name="slack_user_id" value=(o.slack_user_id.as_deref().unwrap_or("")) placeholder="U0123ABC" size="11" aria-label=(format!("Slack user id of {}", o.login));
                    button type="submit" { "Save" } } }
                td { form method="post" action=(action) { (csrf_field(s))
                    input type="hidden" name="action" value="toggle_opt_out";
                    button.toggle type="submit" aria-pressed=(o.opted_out) { @if o.opted_out { "opted out" } @else { "no" } } } }
            } } }
        } } }
    }
}
