//! The setup page: the first form (setup code and operator password), then every step with its
//! state and the form that completes it, and the page that carries the manifest to GitHub.

use maud::{Markup, html};

use super::{bare_page, page as admin_page};
use crate::web::admin::session::Session;

/// A step's state, with what the operator should know.
#[derive(Debug, Clone)]
pub enum StepState {
    Done(String),
    Missing(String),
    /// Configured, but not working: the reason.
    Failing(String),
}

/// The form a step offers.
#[derive(Debug, Clone)]
pub enum StepForm {
    None,
    RegisterApp {
        public_url: String,
        /// `PUBLIC_URL` comes from the environment: shown, not editable.
        public_url_fixed: bool,
        web_url: String,
    },
    Install {
        link: Option<String>,
        installations: Vec<(i64, String)>,
    },
    SlackApp {
        public_url: String,
    },
    PerOrg {
        installations: Vec<(i64, String)>,
    },
}

#[derive(Debug, Clone)]
pub struct Step {
    pub title: &'static str,
    pub state: StepState,
    /// Where the step's values come from (environment or this page).
    pub note: Option<&'static str>,
    pub form: StepForm,
}

/// The fixed text of a notice code (the page never echoes its query string).
pub fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "app-registered" => {
            "The GitHub App is registered and its credentials are stored (sealed). Install it on an org next."
        }
        "slack-saved" => "The Slack app's credentials are stored (sealed).",
        _ => return None,
    })
}

/// Shown while no key can sign the form's cookie: no form at all.
pub fn needs_key() -> Markup {
    bare_page(
        "Set up Mergecast",
        html! { main.signin {
            h1 { "Set up Mergecast" }
            p.error role="alert" { "Mergecast needs an encryption key before it can store anything secret." }
            p { "Run " code { "mergecast secrets generate-key" } ", set the printed key as "
                code { "MERGECAST_ENCRYPTION_KEY" } " and restart (" code { "scripts/run.sh" }
                " does this for you on first start)." }
        } },
    )
}

/// The first form: the one-time code from the log and the operator's password.
pub fn first(csrf: &str, key_missing: bool, error: Option<&str>) -> Markup {
    bare_page(
        "Set up Mergecast",
        html! { main.signin {
            h1 { "Set up Mergecast" }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            @if key_missing {
                p.error { "No encryption key is set (MERGECAST_ENCRYPTION_KEY): the GitHub App's and Slack's secrets cannot be stored until one is." }
            }
            p { "Enter the one-time setup code printed in the server log at start, and choose the operator's password." }
            form method="post" action="/admin/setup/password" {
                input type="hidden" name="csrf" value=(csrf);
                label for="code" { "Setup code" }
                input #code type="text" name="code" autocomplete="off" required placeholder="XXXX-XXXX-XXXX";
                label for="password" { "Operator password (at least 12 characters)" }
                input #password type="password" name="password" autocomplete="new-password" required minlength="12";
                label for="confirm" { "Password again" }
                input #confirm type="password" name="confirm" autocomplete="new-password" required minlength="12";
                button type="submit" { "Set password" }
            }
        } },
    )
}

fn state_badge(state: &StepState) -> Markup {
    let (class, label, text) = match state {
        StepState::Done(t) => ("ok", "Done", t),
        StepState::Missing(t) => ("warn", "Missing", t),
        StepState::Failing(t) => ("bad", "Failing", t),
    };
    html! { p { span class=(format!("badge {class}")) data-state=(label.to_ascii_lowercase()) { (label) } " " (text) } }
}

fn step_form(session: &Session, form: &StepForm) -> Markup {
    match form {
        StepForm::None => html! {},
        StepForm::RegisterApp {
            public_url,
            public_url_fixed,
            web_url,
        } => html! {
            form method="post" action="/admin/setup/github" {
                input type="hidden" name="csrf" value=(session.csrf);
                label for="public_url" { "Public URL of this deployment (GitHub sends webhooks here)" }
                @if *public_url_fixed {
                    input #public_url type="url" name="public_url" value=(public_url) readonly;
                } @else {
                    input #public_url type="url" name="public_url" value=(public_url) required placeholder="https://mergecast.example.com";
                }
                label for="org" { "Owner: an organization login (empty: your personal account)" }
                input #org type="text" name="org" autocomplete="off";
                button type="submit" { "Register the GitHub App" }
                p.hint { "You confirm on " (web_url) "; GitHub then sends you back here." }
            }
        },
        StepForm::Install {
            link,
            installations,
        } => html! {
            @if let Some(link) = link {
                p { a #install-app href=(link) { "Install the app on an org" } }
            }
            @if !installations.is_empty() {
                ul { @for (id, login) in installations {
                    li { a href=(format!("/admin/installations#installation-{id}")) { (login) } }
                } }
            }
        },
        StepForm::SlackApp { public_url } => html! {
            p.hint { "Create a Slack app; its OAuth redirect URL is " code { (public_url) "/admin/slack/oauth/callback" }
                ", its interactivity URL " code { (public_url) "/slack/interactions" } " and its event URL "
                code { (public_url) "/slack/events" } " (bot events " code { "app_uninstalled" } " and " code { "tokens_revoked" } "); its bot scopes "
                code { "chat:write, im:write, users:read, users:read.email" } "." }
            form method="post" action="/admin/setup/slack" {
                input type="hidden" name="csrf" value=(session.csrf);
                label for="client_id" { "Client ID" }
                input #client_id type="text" name="client_id" autocomplete="off" required;
                label for="client_secret" { "Client Secret" }
                input #client_secret type="password" name="client_secret" autocomplete="off" required;
                label for="signing_secret" { "Signing Secret" }
                input #signing_secret type="password" name="signing_secret" autocomplete="off" required;
                button type="submit" { "Save the Slack app" }
            }
        },
        StepForm::PerOrg { installations } => html! {
            ul { @for (id, login) in installations {
                li { (login) ": "
                    a href=(format!("/admin/installations/{id}/slack")) { "Slack" } " · "
                    a href=(format!("/admin/installations/{id}/settings")) { "Settings" } }
            } }
        },
    }
}

/// Every step with its state.
pub fn page(session: &Session, steps: &[Step], notice: Option<&str>) -> Markup {
    admin_page(
        session,
        "setup",
        "Setup",
        html! {
            h1 { "Setup" }
            @if let Some(n) = notice { p.notice role="status" { (n) } }
            ol.steps {
                @for step in steps {
                    li.step {
                        h2 { (step.title) }
                        (state_badge(&step.state))
                        @if let Some(note) = step.note { p.hint { "Values " (note) "." } }
                        (step_form(session, &step.form))
                    }
                }
            }
        },
    )
}

/// The page whose form carries the manifest to GitHub (a button: the page runs no script).
pub fn post_manifest(action: &str, manifest: &str) -> Markup {
    bare_page(
        "Register the GitHub App",
        html! { main.signin {
            h1 { "Register the GitHub App" }
            p { "GitHub will show the app's name and permissions; confirm there, and it sends you back here." }
            form #manifest-form method="post" action=(action) {
                input type="hidden" name="manifest" value=(manifest);
                button type="submit" { "Continue to GitHub" }
            }
        } },
    )
}
