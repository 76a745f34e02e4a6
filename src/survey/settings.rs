//! The survey settings of one org (installation): whether it is surveyed at all, its working
//! hours and days, the reminder and expiry delays, the repositories and labels it excludes, the
//! logins it treats as bots, and where and from which weekday its weekly board is posted.
//!
//! **Defaults.** The process-wide environment (`SurveyConfig`: `SURVEY_WORKING_HOURS`,
//! `SURVEY_WORKING_DAYS`, `SURVEY_REMIND_AFTER_SECS`, `SURVEY_TTL_SECS`, `SURVEY_BOT_LOGINS`,
//! `SURVEY_EXCLUDED_REPOSITORIES`, `SURVEY_EXCLUDED_LABELS`, and `SLACK_LEADERBOARD_CHANNEL`) is
//! only the default of an installation that has no settings yet: its row is created from it the
//! first time its settings are read (by the survey flow or the admin page), and from then on the
//! row counts; a later change of the environment does not rewrite saved settings. Repositories
//! named in `SURVEY_EXCLUDED_REPOSITORIES` become the installation's stored repositories of that
//! name (by id); names it does not have are not carried over. The board's default day is Monday,
//! which is what the board did before it had a day: post last week's board as soon as all its
//! surveys have closed. `SURVEY_DEFAULT_TIMEZONE` stays process-wide.
//!
//! **Saving** validates the whole form first ([`validate`], every error naming its field), then
//! stores it only if nobody saved since the form was loaded (optimistic `version`), writing one
//! audit row per changed field in the same transaction ([`save`]).

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Weekday;
use thiserror::Error;

use super::{SurveyContext, SurveyError};
use crate::config::SurveyConfig;
use crate::slack::client::SlackClient;
use crate::store::org_settings::{
    self as store, Actor, ExcludedRepository, FieldChange, SaveOutcome, SettingsRecord,
};

/// Day names as forms and the environment spell them, Monday = 0.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// Most labels or bot logins one org may list.
pub const MAX_ENTRIES: usize = 100;
/// GitHub caps label names at 50 characters.
pub const MAX_LABEL_CHARS: usize = 50;
/// GitHub logins are at most 39 characters; `[bot]` may follow.
pub const MAX_LOGIN_CHARS: usize = 39;
/// Bounds of the reminder delay.
pub const REMIND_MIN: Duration = Duration::from_secs(60);
pub const REMIND_MAX: Duration = Duration::from_secs(30 * 86_400);
/// Bounds of the expiry delay.
pub const TTL_MIN: Duration = Duration::from_secs(60);
pub const TTL_MAX: Duration = Duration::from_secs(90 * 86_400);

/// The board's channel: its id, and its name when it was picked from the workspace's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    pub name: Option<String>,
}

impl Channel {
    /// `#name (C0123)`, or the id alone.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("#{name} ({})", self.id),
            None => self.id.clone(),
        }
    }
}

/// One org's survey settings, typed and valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSettings {
    /// Off: no new survey starts for this org (each merge is recorded as skipped, saying so).
    pub survey_enabled: bool,
    /// Local working hours of recipients, minutes since midnight: [start, end).
    pub working_hours: (u32, u32),
    /// Working days, Monday = 0, ascending, at least one.
    pub working_days: Vec<u32>,
    pub remind_after: Duration,
    pub ttl: Duration,
    pub excluded_repositories: Vec<ExcludedRepository>,
    /// Lower case.
    pub excluded_labels: Vec<String>,
    /// Lower case; never surveyed besides `type: Bot` and `…[bot]` logins.
    pub bot_logins: Vec<String>,
    pub leaderboard_channel: Option<Channel>,
    /// Last week's board is posted from this weekday (UTC) on.
    pub leaderboard_day: Weekday,
}

impl OrgSettings {
    /// Whether pull requests of repository `id` are not surveyed.
    pub fn excludes_repository(&self, id: i64) -> bool {
        self.excluded_repositories.iter().any(|r| r.id == id)
    }

    /// The first of `labels` (lower case) this org excludes.
    pub fn excluded_label<'a>(&self, labels: &'a [String]) -> Option<&'a String> {
        labels.iter().find(|l| self.excluded_labels.contains(l))
    }

    fn to_record(&self) -> SettingsRecord {
        SettingsRecord {
            survey_enabled: self.survey_enabled,
            work_start_minute: self.working_hours.0 as i32,
            work_end_minute: self.working_hours.1 as i32,
            working_days: self.working_days.iter().map(|d| *d as i16).collect(),
            remind_after_secs: self.remind_after.as_secs() as i64,
            ttl_secs: self.ttl.as_secs() as i64,
            excluded_repositories: self.excluded_repositories.clone(),
            excluded_labels: self.excluded_labels.clone(),
            bot_logins: self.bot_logins.clone(),
            leaderboard_channel_id: self.leaderboard_channel.as_ref().map(|c| c.id.clone()),
            leaderboard_channel_name: self
                .leaderboard_channel
                .as_ref()
                .and_then(|c| c.name.clone()),
            leaderboard_day: self.leaderboard_day.num_days_from_monday() as i16,
        }
    }

    fn from_record(r: SettingsRecord) -> Self {
        let minute = |m: i32| u32::try_from(m).unwrap_or(0).min(1440);
        Self {
            survey_enabled: r.survey_enabled,
            working_hours: (minute(r.work_start_minute), minute(r.work_end_minute)),
            working_days: r
                .working_days
                .iter()
                .filter_map(|d| u32::try_from(*d).ok().filter(|d| *d < 7))
                .collect(),
            remind_after: Duration::from_secs(u64::try_from(r.remind_after_secs).unwrap_or(1)),
            ttl: Duration::from_secs(u64::try_from(r.ttl_secs).unwrap_or(1)),
            excluded_repositories: r.excluded_repositories,
            excluded_labels: r.excluded_labels,
            bot_logins: r.bot_logins,
            leaderboard_channel: r.leaderboard_channel_id.map(|id| Channel {
                id,
                name: r.leaderboard_channel_name,
            }),
            leaderboard_day: weekday(u32::try_from(r.leaderboard_day).unwrap_or(0)),
        }
    }
}

/// Monday = 0 … Sunday = 6 (anything else is Monday).
fn weekday(n: u32) -> Weekday {
    match n {
        1 => Weekday::Tue,
        2 => Weekday::Wed,
        3 => Weekday::Thu,
        4 => Weekday::Fri,
        5 => Weekday::Sat,
        6 => Weekday::Sun,
        _ => Weekday::Mon,
    }
}

/// What a new installation starts with: the environment's values.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub settings: OrgSettings,
    /// `SURVEY_EXCLUDED_REPOSITORIES` (`owner/repo`, lower case), resolved to the installation's
    /// repositories when its row is created.
    pub excluded_repository_names: Vec<String>,
}

impl Defaults {
    /// From the process's `SurveyConfig` and `SLACK_LEADERBOARD_CHANNEL`.
    pub fn from_config(config: &SurveyConfig, leaderboard_channel: Option<&str>) -> Self {
        Self {
            settings: OrgSettings {
                survey_enabled: true,
                working_hours: config.working_hours,
                working_days: config.working_days.clone(),
                remind_after: config.remind_after,
                ttl: config.ttl,
                excluded_repositories: Vec::new(),
                excluded_labels: config.excluded_labels.clone(),
                bot_logins: config.bot_logins.clone(),
                leaderboard_channel: leaderboard_channel.map(|id| Channel {
                    id: id.to_owned(),
                    name: None,
                }),
                leaderboard_day: Weekday::Mon,
            },
            excluded_repository_names: config.excluded_repositories.clone(),
        }
    }
}

/// An org's settings with what the admin page shows about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub settings: OrgSettings,
    /// What a save must name (0 when nothing could be stored: an unknown installation).
    pub version: i64,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `None` while they are still the defaults.
    pub updated_by: Option<Actor>,
}

/// `installation`'s settings, its row created from `defaults` when it has none yet.
pub async fn load(
    pool: &sqlx::PgPool,
    defaults: &Defaults,
    installation: i64,
) -> Result<Loaded, sqlx::Error> {
    let mut stored = store::get(pool, installation).await?;
    if stored.is_none() {
        store::create_if_missing(
            pool,
            installation,
            &defaults.settings.to_record(),
            &defaults.excluded_repository_names,
        )
        .await?;
        stored = store::get(pool, installation).await?;
    }
    Ok(match stored {
        Some(s) => Loaded {
            settings: OrgSettings::from_record(s.settings),
            version: s.version,
            updated_at: Some(s.updated_at),
            updated_by: s.updated_by,
        },
        None => Loaded {
            settings: defaults.settings.clone(),
            version: 0,
            updated_at: None,
            updated_by: None,
        },
    })
}

impl SurveyContext {
    /// The defaults of a new installation, from this process's configuration.
    pub fn settings_defaults(&self) -> Defaults {
        Defaults::from_config(&self.config, self.leaderboard_channel.as_deref())
    }

    /// The settings the survey flow follows for `installation`.
    pub async fn org_settings(&self, installation: i64) -> Result<OrgSettings, SurveyError> {
        Ok(load(&self.pool, &self.settings_defaults(), installation)
            .await?
            .settings)
    }
}

/// A save that was refused or failed.
#[derive(Debug, Error)]
pub enum SaveError {
    #[error("someone else saved these settings since you opened them; reload to see their change")]
    Stale,
    #[error("these settings cannot be saved: the installation is not known")]
    Missing,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// What a successful save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Stored; this many fields changed (one audit row each).
    Changed(usize),
    /// Nothing differed: nothing written.
    Unchanged,
}

/// Stores `settings` for `installation` if it is still at `version`, auditing each change
/// under `actor`.
pub async fn save(
    pool: &sqlx::PgPool,
    installation: i64,
    version: i64,
    settings: &OrgSettings,
    actor: &Actor,
) -> Result<Saved, SaveError> {
    match store::save(
        pool,
        installation,
        version,
        &settings.to_record(),
        actor,
        diff,
    )
    .await?
    {
        SaveOutcome::Saved { changes, .. } => Ok(Saved::Changed(changes)),
        SaveOutcome::Unchanged => Ok(Saved::Unchanged),
        SaveOutcome::Stale { .. } => Err(SaveError::Stale),
        SaveOutcome::Missing => Err(SaveError::Missing),
    }
}

/// How the audit log shows one field's value.
type Show = fn(&OrgSettings) -> String;

/// The fields that differ between `old` and `new`, each with both values as the page shows them.
pub fn diff(old: &SettingsRecord, new: &SettingsRecord) -> Vec<FieldChange> {
    let (old, new) = (
        OrgSettings::from_record(old.clone()),
        OrgSettings::from_record(new.clone()),
    );
    let fields: [(&'static str, Show); 10] = [
        ("survey", |s| on_off(s.survey_enabled).to_owned()),
        ("working hours", |s| format_hours(s.working_hours)),
        ("working days", |s| format_days(&s.working_days)),
        ("reminder after", |s| format_duration(s.remind_after)),
        ("closes after", |s| format_duration(s.ttl)),
        ("excluded repositories", |s| {
            join(s.excluded_repositories.iter().map(|r| r.name.as_str()))
        }),
        ("excluded labels", |s| join(s.excluded_labels.iter())),
        ("bot logins", |s| join(s.bot_logins.iter())),
        ("leaderboard channel", |s| {
            s.leaderboard_channel
                .as_ref()
                .map(Channel::label)
                .unwrap_or_else(|| "none".into())
        }),
        ("leaderboard day", |s| {
            DAYS[s.leaderboard_day.num_days_from_monday() as usize].to_owned()
        }),
    ];
    let mut changes: Vec<FieldChange> = fields
        .iter()
        .filter_map(|(field, show)| {
            let (a, b) = (show(&old), show(&new));
            (a != b).then_some(FieldChange {
                field,
                old: a,
                new: b,
            })
        })
        .collect();
    // The board's channel changes with its id only: its name being learnt (a channel from
    // `SLACK_LEADERBOARD_CHANNEL` is known by id until picked from the list) is no change.
    let channel_id = |s: &OrgSettings| s.leaderboard_channel.as_ref().map(|c| c.id.clone());
    if channel_id(&old) == channel_id(&new) {
        changes.retain(|c| c.field != "leaderboard channel");
    }
    // Same names, other ids (a repository recreated under its old name) still count.
    let ids = |s: &OrgSettings| -> Vec<i64> {
        let mut ids: Vec<i64> = s.excluded_repositories.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids
    };
    if ids(&old) != ids(&new) && !changes.iter().any(|c| c.field == "excluded repositories") {
        changes.push(FieldChange {
            field: "excluded repositories",
            old: format!("{:?}", ids(&old)),
            new: format!("{:?}", ids(&new)),
        });
    }
    changes
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn join<S: AsRef<str>>(items: impl Iterator<Item = S>) -> String {
    let items: Vec<S> = items.collect();
    let all: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    if all.is_empty() {
        "none".into()
    } else {
        all.join(", ")
    }
}

/// `09:00-18:00`.
pub fn format_hours((start, end): (u32, u32)) -> String {
    format!(
        "{:02}:{:02}-{:02}:{:02}",
        start / 60,
        start % 60,
        end / 60,
        end % 60
    )
}

/// `mon,tue,wed`.
pub fn format_days(days: &[u32]) -> String {
    days.iter()
        .filter_map(|d| DAYS.get(*d as usize).copied())
        .collect::<Vec<_>>()
        .join(",")
}

/// The largest whole unit: `3d`, `24h`, `90m`, `45s`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs >= size && secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// The form as typed, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsInput {
    pub survey_enabled: bool,
    /// `HH:MM-HH:MM`.
    pub working_hours: String,
    /// Day names (`mon`…`sun`).
    pub working_days: Vec<String>,
    /// A duration: `24h`, `90m`, `3d`, `45s` (a bare number is hours).
    pub remind_after: String,
    pub ttl: String,
    /// Repository ids, as text.
    pub excluded_repositories: Vec<String>,
    /// Comma- or line-separated.
    pub excluded_labels: String,
    pub bot_logins: String,
    /// A channel id, or empty for none.
    pub leaderboard_channel: String,
    /// A day name.
    pub leaderboard_day: String,
}

impl SettingsInput {
    /// The form filled in with `s`, as the page first shows it.
    pub fn from_settings(s: &OrgSettings) -> Self {
        Self {
            survey_enabled: s.survey_enabled,
            working_hours: format_hours(s.working_hours),
            working_days: s
                .working_days
                .iter()
                .filter_map(|d| DAYS.get(*d as usize).map(|n| (*n).to_owned()))
                .collect(),
            remind_after: format_duration(s.remind_after),
            ttl: format_duration(s.ttl),
            excluded_repositories: s
                .excluded_repositories
                .iter()
                .map(|r| r.id.to_string())
                .collect(),
            excluded_labels: s.excluded_labels.join(", "),
            bot_logins: s.bot_logins.join(", "),
            leaderboard_channel: s
                .leaderboard_channel
                .as_ref()
                .map(|c| c.id.clone())
                .unwrap_or_default(),
            leaderboard_day: DAYS[s.leaderboard_day.num_days_from_monday() as usize].to_owned(),
        }
    }
}

/// The workspace's channels, as far as they could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelChoices {
    /// Read from Slack: the board's channel must be one of these.
    Known(Vec<Channel>),
    /// Slack is not connected or did not answer (the reason is shown): only the current channel
    /// can be kept, or none chosen.
    Unknown {
        current: Option<Channel>,
        reason: String,
    },
}

/// The workspace's channels through `slack` (whichever client the caller hands in), or why
/// they cannot be listed; `current` is what the form keeps then.
pub async fn channel_choices(
    slack: Option<&SlackClient>,
    current: Option<&Channel>,
) -> ChannelChoices {
    let reason = match slack {
        None => "Slack is not connected".to_owned(),
        Some(client) => match client.channels().await {
            Ok(list) => {
                return ChannelChoices::Known(
                    list.into_iter()
                        .map(|c| Channel {
                            id: c.id,
                            name: Some(c.name),
                        })
                        .collect(),
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "settings: cannot list the workspace's channels");
                format!("Slack did not list the channels ({})", e.code())
            }
        },
    };
    ChannelChoices::Unknown {
        current: current.cloned(),
        reason,
    }
}

/// What a form may choose from.
#[derive(Debug, Clone)]
pub struct Choices<'a> {
    /// The org's repositories: (id, `owner/repo`).
    pub repositories: &'a [(i64, String)],
    pub channels: &'a ChannelChoices,
}

/// A field the form got wrong; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SettingsError {
    #[error("working hours: expected HH:MM-HH:MM with the start before the end, e.g. 09:00-18:00")]
    WorkingHours,
    #[error("working days: choose at least one day")]
    NoWorkingDay,
    #[error("working days: {0:?} is not a day (mon … sun)")]
    UnknownDay(String),
    #[error("{field}: expected a duration like 90m, 24h or 3d")]
    Duration { field: &'static str },
    #[error("{field}: must be from {min} to {max}")]
    DurationBounds {
        field: &'static str,
        min: String,
        max: String,
    },
    #[error("reminder after: must be shorter than closes after")]
    ReminderNotBeforeExpiry,
    #[error("excluded repositories: {0:?} is not one of this org's repositories")]
    UnknownRepository(String),
    #[error("{field}: {value:?} is not a valid {what}")]
    BadEntry {
        field: &'static str,
        what: &'static str,
        value: String,
    },
    #[error("{field}: at most {max} entries", max = MAX_ENTRIES)]
    TooMany { field: &'static str },
    #[error("leaderboard channel: {0:?} is not one of the workspace's channels")]
    UnknownChannel(String),
    #[error(
        "leaderboard channel: the workspace's channels could not be read, so only the current channel can be kept"
    )]
    ChannelsUnreadable,
    #[error("leaderboard day: expected a day (mon … sun)")]
    LeaderboardDay,
}

impl SettingsError {
    /// The form field the error is about (the input's name).
    pub fn field(&self) -> &'static str {
        match self {
            SettingsError::WorkingHours => "working_hours",
            SettingsError::NoWorkingDay | SettingsError::UnknownDay(_) => "working_days",
            SettingsError::Duration { field } | SettingsError::DurationBounds { field, .. } => {
                if *field == "reminder after" {
                    "remind_after"
                } else {
                    "ttl"
                }
            }
            SettingsError::ReminderNotBeforeExpiry => "remind_after",
            SettingsError::UnknownRepository(_) => "excluded_repositories",
            SettingsError::BadEntry { field, .. } | SettingsError::TooMany { field } => {
                if *field == "excluded labels" {
                    "excluded_labels"
                } else {
                    "bot_logins"
                }
            }
            SettingsError::UnknownChannel(_) | SettingsError::ChannelsUnreadable => {
                "leaderboard_channel"
            }
            SettingsError::LeaderboardDay => "leaderboard_day",
        }
    }
}

/// Checks the whole form; every field's error at once, or the typed settings.
pub fn validate(
    input: &SettingsInput,
    choices: &Choices<'_>,
) -> Result<OrgSettings, Vec<SettingsError>> {
    let mut errors = Vec::new();
    let working_hours = parse_hours(&input.working_hours).unwrap_or_else(|| {
        errors.push(SettingsError::WorkingHours);
        (0, 0)
    });

    let mut days = BTreeSet::new();
    for raw in &input.working_days {
        let name = raw.trim().to_ascii_lowercase();
        match DAYS.iter().position(|d| *d == name) {
            Some(i) => {
                days.insert(i as u32);
            }
            None => errors.push(SettingsError::UnknownDay(raw.clone())),
        }
    }
    if days.is_empty() && input.working_days.iter().all(|d| d.trim().is_empty()) {
        errors.push(SettingsError::NoWorkingDay);
    }

    let remind_after = delay(
        &input.remind_after,
        "reminder after",
        REMIND_MIN,
        REMIND_MAX,
        &mut errors,
    );
    let ttl = delay(&input.ttl, "closes after", TTL_MIN, TTL_MAX, &mut errors);
    if let (Some(r), Some(t)) = (remind_after, ttl)
        && r >= t
    {
        errors.push(SettingsError::ReminderNotBeforeExpiry);
    }

    let mut excluded_repositories: Vec<ExcludedRepository> = Vec::new();
    for raw in &input.excluded_repositories {
        let found = raw
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|id| choices.repositories.iter().find(|(rid, _)| *rid == id));
        match found {
            Some((id, name)) if !excluded_repositories.iter().any(|r| r.id == *id) => {
                excluded_repositories.push(ExcludedRepository {
                    id: *id,
                    name: name.clone(),
                });
            }
            Some(_) => {}
            None => errors.push(SettingsError::UnknownRepository(raw.clone())),
        }
    }
    excluded_repositories.sort_by(|a, b| {
        (a.name.to_ascii_lowercase(), a.id).cmp(&(b.name.to_ascii_lowercase(), b.id))
    });

    let excluded_labels = entries(
        &input.excluded_labels,
        "excluded labels",
        "label",
        valid_label,
        &mut errors,
    );
    let bot_logins = entries(
        &input.bot_logins,
        "bot logins",
        "GitHub login",
        valid_login,
        &mut errors,
    );

    let wanted = input.leaderboard_channel.trim();
    let leaderboard_channel = if wanted.is_empty() {
        None
    } else {
        match choices.channels {
            ChannelChoices::Known(channels) => match channels.iter().find(|c| c.id == wanted) {
                Some(c) => Some(c.clone()),
                None => {
                    errors.push(SettingsError::UnknownChannel(wanted.to_owned()));
                    None
                }
            },
            ChannelChoices::Unknown { current, .. } => match current {
                Some(c) if c.id == wanted => Some(c.clone()),
                _ => {
                    errors.push(SettingsError::ChannelsUnreadable);
                    None
                }
            },
        }
    };

    let day = input.leaderboard_day.trim().to_ascii_lowercase();
    let leaderboard_day = match DAYS.iter().position(|d| *d == day) {
        Some(i) => weekday(i as u32),
        None => {
            errors.push(SettingsError::LeaderboardDay);
            Weekday::Mon
        }
    };

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(OrgSettings {
        survey_enabled: input.survey_enabled,
        working_hours,
        working_days: days.into_iter().collect(),
        remind_after: remind_after.unwrap_or(REMIND_MIN),
        ttl: ttl.unwrap_or(TTL_MIN),
        excluded_repositories,
        excluded_labels,
        bot_logins,
        leaderboard_channel,
        leaderboard_day,
    })
}

/// `HH:MM-HH:MM` as minutes since midnight, start before end (`24:00` may end the day).
pub fn parse_hours(raw: &str) -> Option<(u32, u32)> {
    let time = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        if h.is_empty() || m.len() != 2 {
            return None;
        }
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
    };
    let (a, b) = raw.split_once('-')?;
    let (start, end) = (time(a)?, time(b)?);
    (start < end).then_some((start, end))
}

/// `90m`, `24h`, `3d`, `45s`; a bare number is hours.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim().to_ascii_lowercase();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let n: u64 = number.parse().ok()?;
    let size = match unit.trim() {
        "" | "h" => 3600,
        "s" => 1,
        "m" => 60,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(size).map(Duration::from_secs)
}

fn delay(
    raw: &str,
    field: &'static str,
    min: Duration,
    max: Duration,
    errors: &mut Vec<SettingsError>,
) -> Option<Duration> {
    let Some(d) = parse_duration(raw) else {
        errors.push(SettingsError::Duration { field });
        return None;
    };
    if d < min || d > max {
        errors.push(SettingsError::DurationBounds {
            field,
            min: format_duration(min),
            max: format_duration(max),
        });
        return None;
    }
    Some(d)
}

/// A comma- or line-separated list: trimmed, lower case, deduplicated (first kept), each entry
/// checked by `valid`, at most [`MAX_ENTRIES`].
fn entries(
    raw: &str,
    field: &'static str,
    what: &'static str,
    valid: fn(&str) -> bool,
    errors: &mut Vec<SettingsError>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for entry in raw
        .split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let entry = entry.to_lowercase();
        if !valid(&entry) {
            errors.push(SettingsError::BadEntry {
                field,
                what,
                value: entry,
            });
        } else if !out.contains(&entry) {
            out.push(entry);
        }
    }
    if out.len() > MAX_ENTRIES {
        errors.push(SettingsError::TooMany { field });
    }
    out
}

/// A label name: at most 50 characters, no control characters.
fn valid_label(label: &str) -> bool {
    label.chars().count() <= MAX_LABEL_CHARS && !label.chars().any(char::is_control)
}

/// A GitHub login (letters, digits, single hyphens inside), optionally ending in `[bot]`.
fn valid_login(login: &str) -> bool {
    let name = login.strip_suffix("[bot]").unwrap_or(login);
    !name.is_empty()
        && name.len() <= MAX_LOGIN_CHARS
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repos() -> Vec<(i64, String)> {
        vec![(11, "acme/api".into()), (12, "acme/web".into())]
    }

    fn channels() -> ChannelChoices {
        ChannelChoices::Known(vec![Channel {
            id: "C1".into(),
            name: Some("general".into()),
        }])
    }

    fn input() -> SettingsInput {
        SettingsInput {
            survey_enabled: true,
            working_hours: "09:00-18:00".into(),
            working_days: vec!["mon".into(), "tue".into()],
            remind_after: "24h".into(),
            ttl: "3d".into(),
            excluded_repositories: vec!["12".into()],
            excluded_labels: " Chore, chore\nDocs ".into(),
            bot_logins: "Dependabot, renovate[bot], renovate[bot]".into(),
            leaderboard_channel: "C1".into(),
            leaderboard_day: "fri".into(),
        }
    }

    fn check(i: &SettingsInput) -> Result<OrgSettings, Vec<SettingsError>> {
        let (repos, channels) = (repos(), channels());
        validate(
            i,
            &Choices {
                repositories: &repos,
                channels: &channels,
            },
        )
    }

    #[test]
    fn a_good_form_is_typed_trimmed_and_deduplicated() {
        let s = check(&input()).expect("valid");
        assert_eq!(s.working_hours, (540, 1080));
        assert_eq!(s.working_days, vec![0, 1]);
        assert_eq!(s.remind_after, Duration::from_secs(86_400));
        assert_eq!(s.ttl, Duration::from_secs(3 * 86_400));
        assert_eq!(
            s.excluded_repositories,
            vec![ExcludedRepository {
                id: 12,
                name: "acme/web".into()
            }]
        );
        assert_eq!(s.excluded_labels, vec!["chore", "docs"]);
        assert_eq!(s.bot_logins, vec!["dependabot", "renovate[bot]"]);
        assert_eq!(
            s.leaderboard_channel.map(|c| c.label()).as_deref(),
            Some("#general (C1)")
        );
        assert_eq!(s.leaderboard_day, Weekday::Fri);
        // What the page shows is read back as the same settings.
        let again = check(&SettingsInput::from_settings(&check(&input()).unwrap())).unwrap();
        assert_eq!(again, check(&input()).unwrap());
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = SettingsInput {
            survey_enabled: false,
            working_hours: "18:00-09:00".into(),
            working_days: vec![],
            remind_after: "soon".into(),
            ttl: "200d".into(),
            excluded_repositories: vec!["99".into()],
            excluded_labels: "ok".into(),
            bot_logins: "not a login".into(),
            leaderboard_channel: "C404".into(),
            leaderboard_day: "someday".into(),
        };
        let errors = check(&bad).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(SettingsError::field).collect();
        assert_eq!(
            fields,
            vec![
                "working_hours",
                "working_days",
                "remind_after",
                "ttl",
                "excluded_repositories",
                "bot_logins",
                "leaderboard_channel",
                "leaderboard_day"
            ]
        );
        assert!(errors[0].to_string().starts_with("working hours:"));
        assert!(
            errors[3].to_string().contains("from 1m to 90d"),
            "{}",
            errors[3]
        );
    }

    #[test]
    fn hours_and_delays() {
        assert_eq!(parse_hours("00:00-24:00"), Some((0, 1440)));
        assert_eq!(parse_hours("9:30-17:00"), Some((570, 1020)));
        for bad in ["09:00-09:00", "25:00-26:00", "09:00", "09:0-10:00", "x-y"] {
            assert_eq!(parse_hours(bad), None, "{bad}");
        }
        assert_eq!(parse_duration("90m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1w"), None);
        assert_eq!(format_duration(Duration::from_secs(5400)), "90m");
        assert_eq!(format_duration(Duration::from_secs(259_200)), "3d");
        let mut late = input();
        late.remind_after = "3d".into();
        assert_eq!(
            check(&late).unwrap_err(),
            vec![SettingsError::ReminderNotBeforeExpiry]
        );
    }

    #[test]
    fn lists_are_limited() {
        let mut long = input();
        long.excluded_labels = (0..=MAX_ENTRIES)
            .map(|i| format!("l{i}"))
            .collect::<Vec<_>>()
            .join(",");
        long.bot_logins = "-bad".into();
        let errors = check(&long).unwrap_err();
        assert!(errors.contains(&SettingsError::TooMany {
            field: "excluded labels"
        }));
        assert_eq!(errors.len(), 2, "{errors:?}");
        let mut label = input();
        label.excluded_labels = "x".repeat(MAX_LABEL_CHARS + 1);
        assert_eq!(check(&label).unwrap_err()[0].field(), "excluded_labels");
    }

    #[test]
    fn without_the_channel_list_only_the_current_channel_is_kept() {
        let current = Channel {
            id: "C9".into(),
            name: None,
        };
        let channels = ChannelChoices::Unknown {
            current: Some(current.clone()),
            reason: "Slack is not connected".into(),
        };
        let repos = repos();
        let choices = Choices {
            repositories: &repos,
            channels: &channels,
        };
        let mut keep = input();
        keep.leaderboard_channel = "C9".into();
        assert_eq!(
            validate(&keep, &choices).unwrap().leaderboard_channel,
            Some(current)
        );
        keep.leaderboard_channel = String::new();
        assert_eq!(validate(&keep, &choices).unwrap().leaderboard_channel, None);
        keep.leaderboard_channel = "C1".into();
        assert_eq!(
            validate(&keep, &choices).unwrap_err(),
            vec![SettingsError::ChannelsUnreadable]
        );
    }

    #[test]
    fn the_diff_names_each_changed_field_once() {
        let old = check(&input()).unwrap();
        let mut new_input = input();
        new_input.working_hours = "08:00-16:00".into();
        new_input.survey_enabled = false;
        let new = check(&new_input).unwrap();
        let changes = diff(&old.to_record(), &new.to_record());
        assert_eq!(
            changes,
            vec![
                FieldChange {
                    field: "survey",
                    old: "on".into(),
                    new: "off".into()
                },
                FieldChange {
                    field: "working hours",
                    old: "09:00-18:00".into(),
                    new: "08:00-16:00".into()
                },
            ]
        );
        assert!(diff(&old.to_record(), &old.to_record()).is_empty());
        let mut unnamed = old.clone();
        if let Some(c) = unnamed.leaderboard_channel.as_mut() {
            c.name = None;
        }
        assert!(diff(&unnamed.to_record(), &old.to_record()).is_empty());
    }

    #[test]
    fn defaults_come_from_the_environment() {
        let config = crate::config::Config::from_lookup(|k| {
            match k {
                "DATABASE_URL" => Some("postgres://x/y"),
                "REDIS_URL" => Some("redis://x/"),
                "GITHUB_WEBHOOK_SECRET" => Some("s"),
                "SURVEY_WORKING_HOURS" => Some("08:00-17:00"),
                "SURVEY_EXCLUDED_REPOSITORIES" => Some("Acme/Api"),
                _ => None,
            }
            .map(str::to_owned)
        })
        .expect("config");
        let d = Defaults::from_config(&config.survey, Some("CBOARD"));
        assert!(d.settings.survey_enabled);
        assert_eq!(d.settings.working_hours, (480, 1020));
        assert_eq!(d.settings.working_days, vec![0, 1, 2, 3, 4]);
        assert_eq!(d.settings.bot_logins, vec!["dependabot", "renovate"]);
        assert_eq!(d.excluded_repository_names, vec!["acme/api"]);
        assert_eq!(d.settings.leaderboard_day, Weekday::Mon);
        assert_eq!(
            d.settings.leaderboard_channel.map(|c| c.id).as_deref(),
            Some("CBOARD")
        );
    }
}
