//! The sign-in pages: the password and "Sign in with GitHub" forms, "not configured", and
//! "you administer no installed org".

use maud::{Markup, html};

use super::bare_page;
use crate::config::AdminConfig;

/// The sign-in forms; `csrf` is the token of the page's double-submit cookie.
pub fn form(config: &AdminConfig, csrf: &str, message: Option<&str>) -> Markup {
    bare_page(
        "Sign in",
        html! {
            main.signin {
                h1 { "Mergecast admin" }
                @if let Some(m) = message { p.error role="alert" { (m) } }
                @if config.password_hash.is_some() {
                    form method="post" action="/admin/login" {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="password" { "Operator password" }
                        input #password type="password" name="password" autocomplete="current-password" required;
                        button type="submit" { "Sign in" }
                    }
                }
                @if config.oauth.is_some() {
                    form method="post" action="/admin/login/github" {
                        input type="hidden" name="csrf" value=(csrf);
                        button.github type="submit" { "Sign in with GitHub" }
                    }
                    p.hint { "Org admins see the installations of the orgs they administer." }
                }
            }
        },
    )
}

pub fn not_configured() -> Markup {
    bare_page(
        "Sign in",
        html! { main.signin { h1 { "Mergecast admin" }
        p { "Sign-in is not configured. Set " code { "ADMIN_PASSWORD_HASH" } " (see "
            code { "mergecast admin hash-password" } ") or " code { "GITHUB_CLIENT_ID" } " and "
            code { "GITHUB_CLIENT_SECRET" } ", and " code { "SESSION_SECRET" } "." } } },
    )
}

pub fn not_an_admin(login: &str) -> Markup {
    bare_page(
        "Sign in",
        html! { main.signin { h1 { "Mergecast admin" }
        p { "Signed in to GitHub as " strong { (login) } ", but you are not an admin of any organization where Mergecast is installed." }
        p { a href="/admin/login" { "Back" } } } },
    )
}
