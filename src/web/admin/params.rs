//! Reading the admin pages' input, in one place: query-string and form values become typed
//! values (times, enums, cursors) or a clear 400, and the one `urlencode` every link uses.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::AdminError;
use crate::store::deliveries::Status;
use crate::survey::settings::SettingsInput;

/// Rows per page of every admin list.
pub const PAGE: i64 = 50;

/// Everything but RFC 3986's unreserved characters is escaped (safe in a path and a query).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes `s` for a URL path segment or query value.
pub fn urlencode(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

/// The line shown after a redirect. The query string carries only its code (`?notice=saved`)
/// and, for a cooldown, the seconds to wait as an integer (`&wait=240`); the text is fixed in the
/// view, so a crafted link cannot put words on an admin page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Saved,
    SyncStarted,
    /// "Sync now" while a sync of the installation runs.
    SyncRunning,
    /// "Sync now" within the cooldown: seconds until the next may run (unknown when `None`).
    SyncCooldown(Option<u64>),
    QueuedAgain,
    RedeliveryRequested,
    /// The delivery was not failed or dead: nothing to redeliver.
    RedeliveryNotNeeded,
    /// A redelivery budget is spent: seconds until the next request may be made.
    RedeliveryCooldown(Option<u64>),
    /// GitHub does not list the delivery among its recent ones.
    RedeliveryNotListed,
    /// GitHub refused or failed the request.
    RedeliveryFailed,
}

/// The longest wait a link may name (longer is shown as this).
const MAX_WAIT_SECS: u64 = 60 * 60;

impl Notice {
    /// The code in the redirect's query string.
    pub fn code(self) -> &'static str {
        match self {
            Notice::Saved => "saved",
            Notice::SyncStarted => "sync_started",
            Notice::SyncRunning => "sync_running",
            Notice::SyncCooldown(_) => "sync_cooldown",
            Notice::QueuedAgain => "queued_again",
            Notice::RedeliveryRequested => "redelivery_requested",
            Notice::RedeliveryNotNeeded => "redelivery_not_needed",
            Notice::RedeliveryCooldown(_) => "redelivery_cooldown",
            Notice::RedeliveryNotListed => "redelivery_not_listed",
            Notice::RedeliveryFailed => "redelivery_failed",
        }
    }

    /// The redirect's query string: `notice=code`, and `&wait=secs` for a cooldown.
    pub fn query(self) -> String {
        match self {
            Notice::SyncCooldown(Some(wait)) | Notice::RedeliveryCooldown(Some(wait)) => {
                format!("notice={}&wait={wait}", self.code())
            }
            _ => format!("notice={}", self.code()),
        }
    }

    /// A cooldown notice for a wait of `wait` (whole seconds, rounded up).
    pub fn waiting(make: fn(Option<u64>) -> Notice, wait: std::time::Duration) -> Self {
        let secs = wait.as_millis().div_ceil(1000);
        make(Some(u64::try_from(secs).unwrap_or(MAX_WAIT_SECS)))
    }

    /// The notice a `?notice=` code names; an unknown one shows nothing.
    pub fn parse(raw: Option<&str>) -> Option<Self> {
        Self::parse_waiting(raw, None)
    }

    /// [`Notice::parse`] with the `?wait=` of a cooldown, read as an integer (anything else is
    /// no wait; a long one is capped).
    pub fn parse_waiting(raw: Option<&str>, wait: Option<&str>) -> Option<Self> {
        let wait = wait
            .and_then(|w| w.parse::<u64>().ok())
            .map(|w| w.min(MAX_WAIT_SECS));
        Some(match raw? {
            "saved" => Notice::Saved,
            "sync_started" => Notice::SyncStarted,
            "sync_running" => Notice::SyncRunning,
            "sync_cooldown" => Notice::SyncCooldown(wait),
            "queued_again" => Notice::QueuedAgain,
            "redelivery_requested" => Notice::RedeliveryRequested,
            "redelivery_not_needed" => Notice::RedeliveryNotNeeded,
            "redelivery_cooldown" => Notice::RedeliveryCooldown(wait),
            "redelivery_not_listed" => Notice::RedeliveryNotListed,
            "redelivery_failed" => Notice::RedeliveryFailed,
            _ => return None,
        })
    }
}

/// "in 4 min" / "in 30 s" for a wait in seconds; "later" when unknown.
pub fn wait_in_words(wait: Option<u64>) -> String {
    match wait {
        Some(secs) if secs < 60 => format!("in {} s", secs.max(1)),
        Some(secs) => format!("in {} min", secs.div_ceil(60)),
        None => "later".to_owned(),
    }
}

/// The trimmed value, or `None` when absent or blank (an empty form field means "any").
pub fn nonempty(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// Accepts `2026-11-22`, `2026-11-22T10:30` (the browser's datetime-local) or RFC 3339.
pub fn parse_time(raw: Option<&str>) -> Result<Option<DateTime<Utc>>, AdminError> {
    let Some(raw) = nonempty(raw) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M") {
        return Ok(Some(t.and_utc()));
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()));
    }
    Err(AdminError::BadRequest(format!(
        "Cannot read the time {raw:?}."
    )))
}

/// A delivery status filter: blank is "any", an unknown status is refused.
pub fn delivery_status(raw: Option<&str>) -> Result<Option<Status>, AdminError> {
    nonempty(raw)
        .map(|v| {
            Status::parse(v)
                .ok_or_else(|| AdminError::BadRequest(format!("Unknown delivery status {v:?}.")))
        })
        .transpose()
}

/// The delivery list's keyset cursor, `received_at|id`.
pub fn delivery_cursor(raw: Option<&str>) -> Result<Option<(DateTime<Utc>, String)>, AdminError> {
    let Some(cursor) = nonempty(raw) else {
        return Ok(None);
    };
    let bad = || AdminError::BadRequest("Bad page cursor.".into());
    let (at, id) = cursor.split_once('|').ok_or_else(bad)?;
    let at = parse_time(Some(at))?.ok_or_else(bad)?;
    Ok(Some((at, id.to_owned())))
}

/// Writes the delivery list's keyset cursor read by [`delivery_cursor`].
pub fn write_delivery_cursor(at: DateTime<Utc>, id: &str) -> String {
    format!("{}|{id}", at.to_rfc3339())
}

/// A page number (`?page=`), never negative.
pub fn page_no(raw: Option<i64>) -> i64 {
    raw.unwrap_or(0).max(0)
}

/// What a member (or outside collaborator) form asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberAction {
    ToggleActive,
    ToggleOptOut,
    /// Map to (or, blank, unmap from) a Slack user.
    Slack,
}

impl MemberAction {
    pub fn parse(raw: &str) -> Result<Self, AdminError> {
        match raw {
            "toggle_active" => Ok(Self::ToggleActive),
            "toggle_opt_out" => Ok(Self::ToggleOptOut),
            "slack" => Ok(Self::Slack),
            _ => Err(AdminError::BadRequest("Unknown action.".into())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ToggleActive => "toggle_active",
            Self::ToggleOptOut => "toggle_opt_out",
            Self::Slack => "slack",
        }
    }
}

/// The Slack user id typed in (`None` when cleared), refused unless it looks like one.
pub fn slack_user_id(raw: Option<&str>) -> Result<Option<&str>, AdminError> {
    match nonempty(raw) {
        Some(id) if !valid_slack_id(id) => Err(AdminError::BadRequest(
            "A Slack user id looks like U0123ABCD.".into(),
        )),
        other => Ok(other),
    }
}

/// Slack user ids look like `U0123ABCD` (or `W...` on Enterprise Grid).
fn valid_slack_id(id: &str) -> bool {
    (id.starts_with('U') || id.starts_with('W'))
        && (3..=20).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The settings form as posted: its CSRF token, the version it was edited from, and the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsForm {
    pub csrf: String,
    pub version: i64,
    pub input: SettingsInput,
}

/// Reads the settings form (repeated `working_days` and `excluded_repositories` fields, so it
/// comes as pairs); a missing or unreadable `version` is a 400.
pub fn settings_form(pairs: &[(String, String)]) -> Result<SettingsForm, AdminError> {
    let one = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let all = |name: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let version = one("version")
        .trim()
        .parse::<i64>()
        .map_err(|_| AdminError::BadRequest("The form has no version; reload the page.".into()))?;
    Ok(SettingsForm {
        csrf: one("csrf"),
        version,
        input: SettingsInput {
            survey_enabled: pairs
                .iter()
                .any(|(k, v)| k == "survey_enabled" && v == "on"),
            working_hours: one("working_hours"),
            working_days: all("working_days"),
            remind_after: one("remind_after"),
            ttl: one("ttl"),
            excluded_repositories: all("excluded_repositories"),
            excluded_labels: one("excluded_labels"),
            bot_logins: one("bot_logins"),
            leaderboard_channel: one("leaderboard_channel"),
            leaderboard_day: one("leaderboard_day"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencode_escapes_all_but_unreserved() {
        assert_eq!(urlencode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(urlencode("a b/c|d+é"), "a%20b%2Fc%7Cd%2B%C3%A9");
    }

    #[test]
    fn times_in_three_shapes() {
        let day = parse_time(Some("2026-11-22")).ok().flatten();
        let local = parse_time(Some("2026-11-22T00:00")).ok().flatten();
        let rfc = parse_time(Some("2026-11-22T00:00:00Z")).ok().flatten();
        assert!(day.is_some() && day == local && local == rfc);
        assert!(matches!(parse_time(Some(" ")), Ok(None)));
        assert!(parse_time(Some("yesterday")).is_err());
    }

    #[test]
    fn unknown_status_and_action_are_refused() {
        assert!(matches!(
            delivery_status(Some("dead")),
            Ok(Some(Status::Dead))
        ));
        assert!(matches!(delivery_status(Some("")), Ok(None)));
        assert!(matches!(
            delivery_status(Some("deadish")),
            Err(AdminError::BadRequest(_))
        ));
        assert!(MemberAction::parse("drop_table").is_err());
        assert_eq!(
            MemberAction::parse("slack").map(MemberAction::as_str).ok(),
            Some("slack")
        );
    }

    #[test]
    fn a_wait_is_an_integer_or_nothing() {
        assert_eq!(
            Notice::parse_waiting(Some("sync_cooldown"), Some("240")),
            Some(Notice::SyncCooldown(Some(240)))
        );
        assert_eq!(
            Notice::parse_waiting(Some("sync_cooldown"), Some("4 min; call 555")),
            Some(Notice::SyncCooldown(None))
        );
        assert_eq!(
            Notice::parse_waiting(Some("redelivery_cooldown"), Some("999999999")),
            Some(Notice::RedeliveryCooldown(Some(MAX_WAIT_SECS)))
        );
        let n = Notice::waiting(
            Notice::SyncCooldown,
            std::time::Duration::from_millis(239_001),
        );
        assert_eq!(n.query(), "notice=sync_cooldown&wait=240");
        assert_eq!(wait_in_words(Some(240)), "in 4 min");
        assert_eq!(wait_in_words(Some(181)), "in 4 min");
        assert_eq!(wait_in_words(Some(0)), "in 1 s");
        assert_eq!(wait_in_words(None), "later");
    }

    #[test]
    fn cursor_round_trips() {
        let at = parse_time(Some("2026-11-22T10:30")).ok().flatten();
        let at = at.unwrap_or_default();
        let raw = write_delivery_cursor(at, "dlv-1");
        assert!(
            matches!(delivery_cursor(Some(&raw)), Ok(Some((t, id))) if t == at && id == "dlv-1")
        );
        assert!(delivery_cursor(Some("nonsense")).is_err());
    }

    #[test]
    fn the_settings_form_keeps_repeated_fields() {
        let pairs: Vec<(String, String)> = [
            ("csrf", "t"),
            ("version", "3"),
            ("survey_enabled", "on"),
            ("working_days", "mon"),
            ("working_days", "fri"),
            ("excluded_repositories", "7"),
            ("leaderboard_day", "tue"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let form = settings_form(&pairs).expect("form");
        assert_eq!(form.version, 3);
        assert!(form.input.survey_enabled);
        assert_eq!(form.input.working_days, vec!["mon", "fri"]);
        assert_eq!(form.input.excluded_repositories, vec!["7"]);
        assert!(settings_form(&pairs[..1]).is_err());
    }

    #[test]
    fn slack_ids() {
        assert!(matches!(
            slack_user_id(Some(" U0BOB123 ")),
            Ok(Some("U0BOB123"))
        ));
        assert!(matches!(slack_user_id(Some("")), Ok(None)));
        assert!(slack_user_id(Some("<script>")).is_err());
    }
}
