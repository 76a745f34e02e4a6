//! The admin pages' HTML (maud), one file per page plus the shared layout and widgets. Views
//! only render what handlers give them: no SQL, no session look-ups, no parsing of input.

pub mod charts;
pub mod deliveries;
pub mod installations;
pub mod login;
pub mod members;
pub mod org_data;
pub mod overview;
pub mod settings;
pub mod setup;
pub mod slack;
pub mod stats;
pub mod surveys;
pub mod team_stats;
pub mod widgets;

use maud::{DOCTYPE, Markup, html};

use super::params::{Notice, wait_in_words};
use super::session::Session;
use crate::sync::manual_redelivery;

/// A page without navigation (sign-in, errors).
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · Mergecast admin" }
                link rel="stylesheet" href="/admin/assets/admin.css";
            }
            body { (body) }
        }
    }
}

/// A page with the navigation bar and the sign-out button.
pub fn page(session: &Session, active: &str, title: &str, body: Markup) -> Markup {
    let links = [
        ("overview", "/admin", "Overview"),
        ("installations", "/admin/installations", "Installations"),
        ("members", "/admin/members", "Members"),
        ("outside", "/admin/outside", "Outside collaborators"),
        ("deliveries", "/admin/deliveries", "Deliveries"),
        ("surveys", "/admin/surveys", "Surveys"),
        ("stats", "/admin/stats", "Stats"),
    ];
    let setup = session
        .is_operator()
        .then_some(("setup", "/admin/setup", "Setup"));
    let links = links.into_iter().chain(setup);
    bare_page(
        title,
        html! {
            header.top {
                strong.brand { "Mergecast" }
                nav {
                    @for (key, href, label) in links {
                        a href=(href) class=[(key == active).then_some("active")] { (label) }
                    }
                }
                form.signout method="post" action="/admin/logout" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    span.who {
                        @if session.is_operator() { "operator" } @else { (session.login.as_deref().unwrap_or("")) }
                    }
                    button type="submit" { "Sign out" }
                }
            }
            main {
                h1 { (title) }
                (body)
            }
        },
    )
}

/// The error page: the status code, a short message and a way back.
pub fn error_page(status: u16, message: &str) -> Markup {
    bare_page(
        "Error",
        html! { main { h1 { (status) } p { (message) } p { a href="/admin" { "Back" } } } },
    )
}

/// A hidden CSRF field for a form.
pub fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// The "Saved" / "Sync started" line after a redirect, if any (fixed text per code; a cooldown's
/// wait is an integer).
pub fn notice(n: Option<Notice>) -> Markup {
    let text = |n: Notice| match n {
        Notice::Saved => "Saved.".to_owned(),
        Notice::SyncStarted => "Sync started.".to_owned(),
        Notice::SyncRunning => "A sync of this installation is already running.".to_owned(),
        Notice::SyncCooldown(wait) => format!(
            "A sync ran recently; the next may run {}.",
            wait_in_words(wait)
        ),
        Notice::QueuedAgain => "Queued again.".to_owned(),
        Notice::RedeliveryRequested => "Asked GitHub to redeliver.".to_owned(),
        Notice::RedeliveryNotNeeded => {
            "Only failed or dead deliveries are redelivered; GitHub was not asked.".to_owned()
        }
        Notice::RedeliveryCooldown(wait) => format!(
            "Redelivery requests are limited (one per delivery every {} minutes, {} per installation a minute); the next may be made {}.",
            manual_redelivery::DELIVERY_WINDOW.as_secs() / 60,
            manual_redelivery::PER_INSTALLATION,
            wait_in_words(wait)
        ),
        Notice::RedeliveryNotListed => {
            "GitHub does not list this delivery among its recent ones (it keeps three days)."
                .to_owned()
        }
        Notice::RedeliveryFailed => {
            "GitHub did not accept the redelivery request; see the server log.".to_owned()
        }
    };
    html! { @if let Some(n) = n { p.notice role="status" { (text(n)) } } }
}

/// `url` when it is an `https://` link, the only kind the pages make clickable (a link taken
/// from stored data could otherwise be `javascript:` or plain http).
pub fn https_link(url: Option<&str>) -> Option<&str> {
    url.filter(|u| u.starts_with("https://"))
}
