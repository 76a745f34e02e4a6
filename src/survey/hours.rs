//! Working hours: DMs wait until the recipient's local working hours, in their own time zone
//! (the IANA zone Slack reports, e.g. `America/New_York`), evaluated for the very day and
//! instant in question, so daylight-saving changes move the hours with the clock.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// Someone's clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// An IANA zone: offsets follow its rules (DST) on every date.
    Iana(Tz),
    /// Only a fixed offset is known (seconds east of UTC), as a last resort.
    Fixed(i32),
}

impl Zone {
    /// The zone from Slack's `tz` name, else its `tz_offset`, else `default`
    /// (`SURVEY_DEFAULT_TIMEZONE`).
    pub fn from_slack(tz: Option<&str>, offset: Option<i32>, default: Tz) -> Self {
        match (tz.and_then(|name| name.parse::<Tz>().ok()), offset) {
            (Some(tz), _) => Zone::Iana(tz),
            (None, Some(offset)) => Zone::Fixed(offset),
            (None, None) => Zone::Iana(default),
        }
    }

    /// The local wall-clock time at `instant`.
    fn local(&self, instant: DateTime<Utc>) -> chrono::NaiveDateTime {
        match self {
            Zone::Iana(tz) => instant.with_timezone(tz).naive_local(),
            Zone::Fixed(secs) => instant.naive_utc() + Duration::seconds(i64::from(*secs)),
        }
    }

    /// The instant a local wall-clock time happens; a time skipped by a DST change counts as
    /// the first instant after the gap, an ambiguous one as its first occurrence.
    fn instant(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let local = date.and_time(time);
        match self {
            Zone::Iana(tz) => {
                let mut probe = local;
                for _ in 0..=4 {
                    if let Some(at) = tz.from_local_datetime(&probe).earliest() {
                        return at.with_timezone(&Utc);
                    }
                    probe += Duration::minutes(30);
                }
                Utc.from_utc_datetime(&local)
            }
            Zone::Fixed(secs) => {
                Utc.from_utc_datetime(&(local - Duration::seconds(i64::from(*secs))))
            }
        }
    }
}

/// The first instant at or after `now` inside working hours in `zone`. `hours` are minutes
/// since local midnight [start, end); `days` Monday = 0.
pub fn next_working_instant(
    now: DateTime<Utc>,
    zone: Zone,
    hours: (u32, u32),
    days: &[u32],
) -> DateTime<Utc> {
    if days.is_empty() {
        return now;
    }
    let local = zone.local(now);
    let minute_of_day = local.hour() * 60 + local.minute();
    let weekday = local.weekday().num_days_from_monday();
    if days.contains(&weekday) && minute_of_day >= hours.0 && minute_of_day < hours.1 {
        return now;
    }
    // Today's start if still ahead and a working day, else the next working day's start.
    let start_time = NaiveTime::from_num_seconds_from_midnight_opt(hours.0.min(1439) * 60, 0)
        .unwrap_or(NaiveTime::MIN);
    for day in 0..8 {
        let date = local.date() + Duration::days(day);
        let start = zone.instant(date, start_time);
        if days.contains(&date.weekday().num_days_from_monday()) && start > now {
            return start;
        }
    }
    now
}

/// The instant `duration` of working-day time after `start` in `zone`: the clock runs only on
/// working days (local dates), so a weekend does not count; the result is then moved into
/// working hours. A 24-hour reminder for an ask on Friday afternoon comes on Monday afternoon,
/// not on Saturday; a 72-hour survey asked on Monday morning closes on Thursday morning.
pub fn after_working_time(
    start: DateTime<Utc>,
    duration: Duration,
    zone: Zone,
    hours: (u32, u32),
    days: &[u32],
) -> DateTime<Utc> {
    if days.is_empty() {
        return start + duration;
    }
    let mut at = start;
    let mut left = duration;
    // Each step ends a local day; a year of days is more than any configured delay needs.
    for _ in 0..400 {
        let today = zone.local(at).date();
        let midnight = zone.instant(today + Duration::days(1), NaiveTime::MIN);
        if days.contains(&today.weekday().num_days_from_monday()) {
            let span = left.min(midnight - at);
            at += span;
            left -= span;
            if left <= Duration::zero() {
                break;
            }
        }
        at = midnight.max(at);
    }
    next_working_instant(at, zone, hours, days)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOURS: (u32, u32) = (9 * 60, 18 * 60);
    const WEEKDAYS: &[u32] = &[0, 1, 2, 3, 4];

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn inside_hours_is_now() {
        // Wednesday 10:00 UTC, recipient in UTC+1 (11:00 local).
        let now = utc(2026, 11, 18, 10, 0);
        assert_eq!(
            next_working_instant(now, Zone::Fixed(3600), HOURS, WEEKDAYS),
            now
        );
    }

    #[test]
    fn evening_waits_for_next_morning_in_their_zone() {
        // Wednesday 20:00 UTC; New York is at 15:00 (inside), Tokyo at 05:00 Thursday.
        let now = utc(2026, 11, 18, 20, 0);
        let ny = Zone::from_slack(Some("America/New_York"), None, Tz::UTC);
        assert_eq!(next_working_instant(now, ny, HOURS, WEEKDAYS), now);
        let tokyo = Zone::from_slack(Some("Asia/Tokyo"), None, Tz::UTC);
        assert_eq!(
            next_working_instant(now, tokyo, HOURS, WEEKDAYS),
            utc(2026, 11, 19, 0, 0) // 09:00 JST
        );
    }

    #[test]
    fn weekend_waits_for_monday() {
        let saturday = utc(2026, 11, 21, 12, 0);
        assert_eq!(
            next_working_instant(
                saturday,
                Zone::from_slack(None, None, Tz::UTC),
                HOURS,
                WEEKDAYS
            ),
            utc(2026, 11, 23, 9, 0)
        );
    }

    /// New York leaves daylight saving on Sunday 2026-11-01. An offset captured in October
    /// (UTC-4) would put Monday's 09:00 at 13:00 UTC (08:00 local, an hour early); the zone
    /// name gets it right, and the evening's end too.
    #[test]
    fn daylight_saving_moves_the_hours_with_the_clock() {
        let ny = Zone::from_slack(Some("America/New_York"), Some(-4 * 3600), Tz::UTC);
        // Friday 2026-10-30 19:00 EDT (23:00 UTC): next start is Monday 09:00 EST = 14:00 UTC.
        let friday_evening = utc(2026, 10, 30, 23, 0);
        assert_eq!(
            next_working_instant(friday_evening, ny, HOURS, WEEKDAYS),
            utc(2026, 11, 2, 14, 0)
        );
        let stale = Zone::Fixed(-4 * 3600);
        assert_eq!(
            next_working_instant(friday_evening, stale, HOURS, WEEKDAYS),
            utc(2026, 11, 2, 13, 0),
            "a captured offset is an hour early after the change"
        );
        // Monday 2026-11-02 22:30 UTC is 17:30 EST: still inside; 23:30 UTC is 18:30: outside.
        assert_eq!(
            next_working_instant(utc(2026, 11, 2, 22, 30), ny, HOURS, WEEKDAYS),
            utc(2026, 11, 2, 22, 30)
        );
        assert_eq!(
            next_working_instant(utc(2026, 11, 2, 23, 30), ny, HOURS, WEEKDAYS),
            utc(2026, 11, 3, 14, 0)
        );
        // In spring (2026-03-08) the clock jumps forward: 09:00 EDT is 13:00 UTC on Monday 9th.
        assert_eq!(
            next_working_instant(utc(2026, 3, 7, 12, 0), ny, HOURS, WEEKDAYS),
            utc(2026, 3, 9, 13, 0)
        );
    }

    #[test]
    fn no_zone_at_all_means_the_configured_default() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let zone = Zone::from_slack(None, None, berlin);
        assert_eq!(zone, Zone::Iana(berlin));
        // Saturday noon UTC: Monday 09:00 in Berlin is 08:00 UTC.
        assert_eq!(
            next_working_instant(utc(2026, 11, 21, 12, 0), zone, HOURS, WEEKDAYS),
            utc(2026, 11, 23, 8, 0)
        );
        // A name Slack sends wins over the default; an offset alone is kept as it is.
        assert_eq!(
            Zone::from_slack(None, Some(3600), berlin),
            Zone::Fixed(3600)
        );
    }

    #[test]
    fn reminders_and_expiry_count_working_days_only() {
        let berlin = Zone::from_slack(Some("Europe/Berlin"), None, Tz::UTC);
        // Asked Friday 2026-11-20 16:00 CET (15:00 UTC): 24 h later is Saturday; counting
        // working days only, it is Monday 16:00 CET.
        let friday = utc(2026, 11, 20, 15, 0);
        assert_eq!(
            after_working_time(friday, Duration::hours(24), berlin, HOURS, WEEKDAYS),
            utc(2026, 11, 23, 15, 0)
        );
        // Asked Monday 09:00 CET, 72 h: Thursday 09:00 CET (not Monday evening after a weekend).
        let monday = utc(2026, 11, 23, 8, 0);
        assert_eq!(
            after_working_time(monday, Duration::hours(72), berlin, HOURS, WEEKDAYS),
            utc(2026, 11, 26, 8, 0)
        );
        // A deadline landing at night moves to the next morning's start.
        let evening = utc(2026, 11, 23, 16, 30); // 17:30 CET
        assert_eq!(
            after_working_time(evening, Duration::hours(1), berlin, HOURS, WEEKDAYS),
            utc(2026, 11, 24, 8, 0)
        );
    }

    #[test]
    fn a_start_inside_a_dst_gap_is_the_first_instant_after_it() {
        // Working hours starting 02:00 on the day New York skips 02:00-03:00 (2026-03-08).
        let ny = Zone::from_slack(Some("America/New_York"), None, Tz::UTC);
        let all_days = &[0, 1, 2, 3, 4, 5, 6];
        let at = next_working_instant(utc(2026, 3, 8, 5, 0), ny, (120, 180), all_days);
        assert_eq!(at, utc(2026, 3, 8, 7, 0)); // 03:00 EDT
    }
}
