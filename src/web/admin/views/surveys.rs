//! The surveys pages: per merged PR, who was asked and who answered (never what they answered).

use maud::{Markup, html};

use super::https_link;
use super::widgets::{tag, when};
use crate::store::surveys::{AdminParticipantRow, AdminSurveyRow};

pub fn list(rows: &[AdminSurveyRow], more: bool) -> Markup {
    html! {
        p.hint { "Individual answers are shown only to the survey's participants, in Slack." }
        @if rows.is_empty() { p { "No surveys yet." } } @else {
        div.scroll { table {
            thead { tr { th { "Pull request" } th { "Merged" } th { "Status" } th.num { "Asked" } th.num { "Answered" } th.num { "Revealed" } th { "Slack errors" } } }
            tbody { @for r in rows { tr {
                td { a href=(format!("/admin/surveys/{}", r.id)) { (r.repository_full_name) "#" (r.number) } div.small { (r.title) } }
                td { (when(r.merged_at)) }
                td { (tag(&r.status)) }
                td.num { (r.asked) } td.num { (r.answered) } td.num { (r.revealed) }
                td.error { @if r.errors > 0 { (r.errors) } @if let Some(e) = &r.last_error { " " (e) } }
            } } }
        } } }
        nav.pager { @if more { @if let Some(last) = rows.last() { a href=(format!("/admin/surveys?before={}", last.id)) { "Older →" } } } }
    }
}

pub fn detail(r: &AdminSurveyRow, people: &[AdminParticipantRow]) -> Markup {
    let yes = |b: bool| if b { "yes" } else { "no" };
    html! {
        p { @if let Some(u) = https_link(r.html_url.as_deref()) { a href=(u) rel="noopener noreferrer" { (r.repository_full_name) "#" (r.number) } } @else { (r.repository_full_name) "#" (r.number) }
            " · " (r.title) }
        p { "Status " (tag(&r.status)) " · merged " (when(r.merged_at)) }
        @if let Some(e) = &r.last_error { p.error { (e) } }
        div.scroll { table {
            thead { tr { th { "Person" } th { "Role" } th { "Asked" } th { "Answered" } th { "Revealed" } th { "Not asked because" } th { "Slack error" } } }
            tbody { @for p in people { tr {
                td { (p.login) } td { (p.role) } td { (yes(p.asked)) } td { (yes(p.answered)) } td { (yes(p.revealed)) }
                td { (p.skip_reason.as_deref().unwrap_or("")) } td.error { (p.last_error.as_deref().unwrap_or("")) }
            } } }
        } }
    }
}
