//! The settings page of one installation: the survey settings form (the values as loaded, or as
//! typed when a save was refused, with each field's errors beside it) and the audit log, newest
//! first.

use maud::{Markup, html};

use super::widgets::when;
use super::{csrf_field, notice};
use crate::store::org_settings::AuditEntry;
use crate::survey::settings::{self, ChannelChoices, DAYS, Loaded, SettingsError, SettingsInput};
use crate::web::admin::params::Notice;
use crate::web::admin::session::Session;

/// What the page shows.
pub struct SettingsPage<'a> {
    pub installation: i64,
    pub org: &'a str,
    /// The form's values (as loaded, or as typed).
    pub input: &'a SettingsInput,
    /// The version the form saves over.
    pub version: i64,
    pub loaded: &'a Loaded,
    /// The org's repositories: (id, `owner/repo`, still active).
    pub repositories: &'a [(i64, String, bool)],
    pub channels: &'a ChannelChoices,
    pub errors: &'a [SettingsError],
    /// A refusal that is about no one field (another save came first).
    pub problem: Option<&'a str>,
    pub audit: &'a [AuditEntry],
    pub flash: Option<Notice>,
}

/// The messages about `field`.
fn errors_of(errors: &[SettingsError], field: &str) -> Markup {
    html! {
        @for e in errors.iter().filter(|e| e.field() == field) {
            div.error id=(format!("{field}-error")) { (e.to_string()) }
        }
    }
}

pub fn page(s: &Session, p: &SettingsPage<'_>) -> Markup {
    let i = p.input;
    let day_label = |d: &str| match d {
        "mon" => "Monday",
        "tue" => "Tuesday",
        "wed" => "Wednesday",
        "thu" => "Thursday",
        "fri" => "Friday",
        "sat" => "Saturday",
        _ => "Sunday",
    };
    html! {
        (notice(p.flash))
        @if let Some(problem) = p.problem { p.error role="alert" { (problem) } }
        @if !p.errors.is_empty() {
            div.error role="alert" {
                p { "Nothing was saved. Please correct:" }
                ul { @for e in p.errors { li { (e.to_string()) } } }
            }
        }
        p.hint {
            @match (&p.loaded.updated_by, p.loaded.updated_at) {
                (Some(by), Some(at)) => { "Last saved by " (by.to_string()) ", " (when(Some(at))) "." }
                _ => { "These are the defaults this installation started with (the server's environment); saving makes them its own." }
            }
        }
        form.settings method="post" action=(format!("/admin/installations/{}/settings", p.installation)) {
            (csrf_field(s))
            input type="hidden" name="version" value=(p.version);
            fieldset {
                legend { "Surveys" }
                label.check { input type="checkbox" name="survey_enabled" value="on" checked[i.survey_enabled];
                    " Survey merged pull requests of " (p.org) }
                p.small { "Off: no new survey starts (each merge is recorded as skipped); open surveys finish." }
            }
            fieldset {
                legend { "When people are asked" }
                label { "Working hours (their own time zone) "
                    input type="text" name="working_hours" value=(i.working_hours) placeholder="09:00-18:00" size="12"; }
                (errors_of(p.errors, "working_hours"))
                div.days { "Working days: "
                    @for d in DAYS {
                        label.check { input type="checkbox" name="working_days" value=(d) checked[i.working_days.iter().any(|w| w == d)]; " " (d) }
                    }
                }
                (errors_of(p.errors, "working_days"))
                label { "Reminder after (working time) "
                    input type="text" name="remind_after" value=(i.remind_after) placeholder="24h" size="6"; }
                (errors_of(p.errors, "remind_after"))
                label { "Closes after (working time) "
                    input type="text" name="ttl" value=(i.ttl) placeholder="3d" size="6"; }
                (errors_of(p.errors, "ttl"))
                p.small { "Durations: 90m, 24h, 3d." }
            }
            fieldset {
                legend { "Not surveyed" }
                div { "Excluded repositories:" }
                @if p.repositories.is_empty() { p.small { "No repositories stored yet (they arrive with the installation and each sync)." } }
                ul.repos {
                    @for (id, name, active) in p.repositories {
                        @let checked = i.excluded_repositories.iter().any(|r| r.trim() == id.to_string());
                        @if *active || checked {
                            li { label.check { input type="checkbox" name="excluded_repositories" value=(id) checked[checked];
                                " " (name) @if !active { " (removed from the installation)" } } }
                        }
                    }
                }
                (errors_of(p.errors, "excluded_repositories"))
                label { "Excluded labels (comma-separated) "
                    textarea name="excluded_labels" rows="2" cols="40" { (i.excluded_labels) } }
                (errors_of(p.errors, "excluded_labels"))
                label { "Bot logins (comma-separated; GitHub bot accounts and …[bot] logins are always skipped) "
                    textarea name="bot_logins" rows="2" cols="40" { (i.bot_logins) } }
                (errors_of(p.errors, "bot_logins"))
            }
            fieldset {
                legend { "Weekly leaderboard" }
                label { "Channel "
                    select name="leaderboard_channel" {
                        option value="" selected[i.leaderboard_channel.trim().is_empty()] { "none (no board)" }
                        @match p.channels {
                            ChannelChoices::Known(list) => {
                                @for c in list {
                                    option value=(c.id) selected[i.leaderboard_channel.trim() == c.id] { (c.label()) }
                                }
                                @if let Some(current) = &p.loaded.settings.leaderboard_channel {
                                    @if !list.iter().any(|c| c.id == current.id) {
                                        option value=(current.id) selected[i.leaderboard_channel.trim() == current.id] {
                                            (current.label()) " — not among the workspace's channels" }
                                    }
                                }
                            }
                            ChannelChoices::Unknown { current, .. } => {
                                @if let Some(current) = current {
                                    option value=(current.id) selected[i.leaderboard_channel.trim() == current.id] { (current.label()) }
                                }
                            }
                        }
                    }
                }
                @if let ChannelChoices::Unknown { reason, .. } = p.channels {
                    p.small.channels-unknown { (reason) ": only the current channel can be kept." }
                }
                (errors_of(p.errors, "leaderboard_channel"))
                label { "Posted from (UTC, once last week's surveys have all closed) "
                    select name="leaderboard_day" {
                        @for d in DAYS { option value=(d) selected[i.leaderboard_day.trim() == d] { (day_label(d)) } }
                    }
                }
                (errors_of(p.errors, "leaderboard_day"))
            }
            button type="submit" { "Save settings" }
        }
        h2 { "Changes" }
        @if p.audit.is_empty() { p { "No changes yet." } } @else {
            div.scroll { table.audit {
                thead { tr { th { "When" } th { "Who" } th { "Setting" } th { "Was" } th { "Now" } } }
                tbody { @for a in p.audit { tr {
                    td { (when(Some(a.changed_at))) }
                    td { (a.actor.to_string()) }
                    td { (a.field) }
                    td { (a.old_value) }
                    td { (a.new_value) }
                } } }
            } }
        }
        p.small { "Defaults for new installations come from the server's SURVEY_* and SLACK_LEADERBOARD_CHANNEL settings; "
            "changing those later does not change saved settings. Working hours: " (settings::format_hours(p.loaded.settings.working_hours)) "." }
    }
}
