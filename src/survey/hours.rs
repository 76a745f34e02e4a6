//! Working hours: DMs wait until the recipient's local working hours (their Slack time zone).

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};

/// The first instant at or after `now` inside working hours for someone `tz_offset` seconds
/// from UTC. `hours` are minutes since local midnight [start, end); `days` Monday = 0.
pub fn next_working_instant(
    now: DateTime<Utc>,
    tz_offset: i32,
    hours: (u32, u32),
    days: &[u32],
) -> DateTime<Utc> {
    if days.is_empty() {
        return now;
    }
    let offset = Duration::seconds(tz_offset as i64);
    let local = now + offset;
    let minute_of_day = local.hour() * 60 + local.minute();
    let weekday = local.weekday().num_days_from_monday();
    if days.contains(&weekday) && minute_of_day >= hours.0 && minute_of_day < hours.1 {
        return now;
    }
    // Today's start if still ahead and a working day, else the next working day's start.
    let midnight = local
        - Duration::seconds(local.num_seconds_from_midnight() as i64)
        - Duration::nanoseconds(local.nanosecond() as i64);
    for day in 0..8 {
        let candidate_day = midnight + Duration::days(day);
        let wd = candidate_day.weekday().num_days_from_monday();
        let start = candidate_day + Duration::minutes(hours.0 as i64);
        if days.contains(&wd) && start > local {
            return start - offset;
        }
    }
    now
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const HOURS: (u32, u32) = (9 * 60, 18 * 60);
    const WEEKDAYS: &[u32] = &[0, 1, 2, 3, 4];

    #[test]
    fn inside_hours_is_now() {
        // Wednesday 10:00 UTC, recipient in UTC+1 (11:00 local).
        let now = Utc.with_ymd_and_hms(2026, 11, 18, 10, 0, 0).unwrap();
        assert_eq!(next_working_instant(now, 3600, HOURS, WEEKDAYS), now);
    }

    #[test]
    fn evening_waits_for_next_morning_in_their_zone() {
        // Wednesday 20:00 UTC; recipient in UTC-5 is at 15:00 (inside), UTC+9 is at 05:00 Thursday.
        let now = Utc.with_ymd_and_hms(2026, 11, 18, 20, 0, 0).unwrap();
        assert_eq!(next_working_instant(now, -5 * 3600, HOURS, WEEKDAYS), now);
        let tokyo = next_working_instant(now, 9 * 3600, HOURS, WEEKDAYS);
        assert_eq!(tokyo, Utc.with_ymd_and_hms(2026, 11, 19, 0, 0, 0).unwrap()); // 09:00 JST
    }

    #[test]
    fn weekend_waits_for_monday() {
        let saturday = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        let monday9 = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        assert_eq!(next_working_instant(saturday, 0, HOURS, WEEKDAYS), monday9);
    }
}
