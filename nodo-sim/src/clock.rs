//! Simulated time: milliseconds since the Unix epoch, turned into the Italian local date-times
//! the Nodo writes in receipts.
//!
//! The state machine never reads a clock; the server passes it "now" = wall clock + an offset
//! that `POST /admin/clock/advance` moves forward, so tests can expire tokens without waiting.

use pagopa::{Date, DateTime};

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = u64;

const DAY_MS: u64 = 86_400_000;

/// The UTC calendar date of `t` (`None` only beyond year 9999).
fn utc_date(t: Millis) -> Option<Date> {
    Date::from_days_since_epoch(i64::try_from(t / DAY_MS).ok()?).ok()
}

/// Milliseconds of 01:00 UTC on the last Sunday of `month` (3 or 10) of `year`: when Italy
/// switches between CET and CEST.
fn last_sunday_1am_utc(year: u16, month: u8) -> Option<Millis> {
    let last_day = Date::new(year, month, 31).ok()?;
    // ISO weekday: Sunday = 7, so `% 7` is the number of days back to Sunday.
    let days = last_day.days_since_epoch() - i64::from(last_day.weekday() % 7);
    Some(u64::try_from(days).ok()? * DAY_MS + 3_600_000)
}

/// Offset of Italian time from UTC at `t`, in milliseconds (CET +1 h, CEST +2 h; EU rules).
pub fn rome_offset_ms(t: Millis) -> Millis {
    let summer = utc_date(t).and_then(|d| {
        let start = last_sunday_1am_utc(d.year(), 3)?;
        let end = last_sunday_1am_utc(d.year(), 10)?;
        Some((start..end).contains(&t))
    });
    if summer == Some(true) {
        7_200_000
    } else {
        3_600_000
    }
}

/// Italian local date-time at `t`, whole seconds, without offset (as the Nodo writes it).
pub fn rome_datetime(t: Millis) -> Option<DateTime> {
    let local = t + rome_offset_ms(t);
    let secs = (local % DAY_MS) / 1000;
    let h = u8::try_from(secs / 3600).ok()?;
    let m = u8::try_from(secs / 60 % 60).ok()?;
    let s = u8::try_from(secs % 60).ok()?;
    DateTime::new(utc_date(local)?, h, m, s).ok()
}

/// Italian local date at `t`.
pub fn rome_date(t: Millis) -> Option<Date> {
    utc_date(t + rome_offset_ms(t))
}

/// The wall clock, in milliseconds since the epoch.
pub fn wall_clock() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Millis {
        // "YYYY-MM-DDThh:mm:ss" UTC.
        let d = Date::parse(&s[..10]).expect("date");
        let h: u64 = s[11..13].parse().expect("h");
        let m: u64 = s[14..16].parse().expect("m");
        let sec: u64 = s[17..19].parse().expect("s");
        u64::try_from(d.days_since_epoch()).expect("after 1970") * DAY_MS
            + (h * 3600 + m * 60 + sec) * 1000
    }

    fn local(s: &str) -> String {
        rome_datetime(at(s)).expect("representable").to_string()
    }

    #[test]
    fn italian_time_follows_summer_time() {
        // 2025: CEST from 30 March 01:00 UTC to 26 October 01:00 UTC.
        assert_eq!(local("2025-01-15T12:00:00"), "2025-01-15T13:00:00");
        assert_eq!(local("2025-03-30T00:59:59"), "2025-03-30T01:59:59");
        assert_eq!(local("2025-03-30T01:00:00"), "2025-03-30T03:00:00");
        assert_eq!(local("2025-07-01T22:30:00"), "2025-07-02T00:30:00");
        assert_eq!(local("2025-10-26T00:59:59"), "2025-10-26T02:59:59");
        assert_eq!(local("2025-10-26T01:00:00"), "2025-10-26T02:00:00");
        assert_eq!(
            rome_date(at("2025-12-31T23:30:00"))
                .map(|d| d.to_string())
                .as_deref(),
            Some("2026-01-01")
        );
    }

    #[test]
    fn wall_clock_is_after_2024() {
        assert!(wall_clock() > at("2024-01-01T00:00:00"));
    }
}
