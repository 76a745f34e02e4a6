//! An installation's Slack page: the workspace it surveys through (or why none), "Add to
//! Slack" and "Disconnect".

use maud::{Markup, html};

use super::csrf_field;
use super::widgets::{tag, when};
use crate::store::slack_workspaces::{Workspace, WorkspaceStatus};
use crate::web::admin::session::Session;

/// Which workspace the installation's surveys go through now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Its own, added with "Add to Slack".
    Connected,
    /// The deployment's default workspace (`SLACK_BOT_TOKEN`).
    Default,
    /// Its workspace was disconnected: surveys wait.
    Disconnected,
    /// No workspace at all: surveys wait.
    None,
    /// Slack is not configured on this deployment.
    NotConfigured,
    /// Its stored token does not open with the configured keys.
    Unreadable,
}

pub struct SlackPage<'a> {
    pub installation: i64,
    pub org: &'a str,
    pub workspace: Option<&'a Workspace>,
    pub standing: Standing,
    /// The Slack app's OAuth client is configured.
    pub can_add: bool,
    pub notice: Option<&'static str>,
}

/// The fixed text of a notice code (the page never echoes its query string).
pub fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "slack-connected" => "Added to Slack: this org's surveys now go through its workspace.",
        "slack-cancelled" => "Adding to Slack was cancelled on Slack's page; nothing changed.",
        "slack-refused" => {
            "Slack did not accept the sign-in (the code may have expired); try again."
        }
        "slack-scopes" => {
            "Slack granted fewer permissions than surveys need; add it again and allow them all."
        }
        "slack-no-key" => {
            "The workspace's token was not stored: set MERGECAST_ENCRYPTION_KEY first (tokens are only stored sealed)."
        }
        "slack-disconnected" => {
            "Disconnected: surveys of this org wait until it is added to Slack again."
        }
        _ => return None,
    })
}

pub fn page(s: &Session, p: &SlackPage) -> Markup {
    let id = p.installation;
    html! {
        @if let Some(text) = p.notice { p.notice role="status" { (text) } }
        p { (match p.standing {
            Standing::Connected => "Surveys of this org go through its own Slack workspace.",
            Standing::Default => "Surveys of this org go through the deployment's default Slack workspace until it is added to its own.",
            Standing::Disconnected => "This org's Slack workspace is disconnected: its surveys wait until it is added to Slack again.",
            Standing::None => "This org is not in any Slack workspace yet: its surveys wait until it is added to Slack.",
            Standing::NotConfigured => "Slack is not configured on this deployment (see Setup).",
            Standing::Unreadable => "This org's Slack token does not open with the configured encryption keys: its surveys wait.",
        }) }
        @if let Some(w) = p.workspace {
            dl.facts {
                dt { "Workspace" } dd { (w.team_name) " (" code { (w.team_id) } ")" }
                dt { "Status" } dd { (tag(w.status.as_str())) }
                @if w.status == WorkspaceStatus::Disconnected {
                    dt { "Why" } dd { (w.disconnected_reason.as_deref().unwrap_or("—")) }
                }
                dt { "Added by" } dd { (w.connected_by) }
                dt { "Added" } dd { (when(Some(w.connected_at))) }
                dt { "Permissions" } dd { code { (w.scopes) } }
            }
        }
        @if p.can_add {
            form method="post" action=(format!("/admin/installations/{id}/slack")) {
                (csrf_field(s))
                button #add-to-slack type="submit" { @if p.standing == Standing::Connected { "Move to another Slack workspace" } @else { "Add to Slack" } }
            }
        } @else if p.standing != Standing::NotConfigured {
            p.hint { "\"Add to Slack\" needs the Slack app's client id and secret (see Setup)." }
        }
        @if p.standing == Standing::Connected {
            form method="post" action=(format!("/admin/installations/{id}/slack/disconnect")) {
                (csrf_field(s))
                button type="submit" { "Disconnect" }
            }
        }
        p.small { a href=(format!("/admin/installations/{id}/settings")) { "This org's survey settings" } }
    }
}
