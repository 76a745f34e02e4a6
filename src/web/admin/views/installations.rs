//! The installations page: every installation in scope with its last sync and "Sync now".

use maud::{Markup, html};

use super::notice;
use super::widgets::{installation_table, pager};
use crate::store::installations::AdminInstallationRow;
use crate::web::admin::params::Notice;
use crate::web::admin::session::Session;

pub fn installations(
    s: &Session,
    rows: &[AdminInstallationRow],
    page_no: i64,
    more: bool,
    can_sync: bool,
    flash: Option<Notice>,
) -> Markup {
    html! {
        (notice(flash))
        @if !can_sync { p.hint { "The GitHub App identity is not configured: \"Sync now\" is unavailable." } }
        (installation_table(s, rows, true))
        (pager("/admin/installations", page_no, more))
    }
}
