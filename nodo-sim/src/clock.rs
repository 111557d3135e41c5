//! Simulated time: milliseconds since the Unix epoch, turned into the Italian local date-times
//! the Nodo writes in receipts.
//!
//! The state machine never reads a clock; the server passes it "now" = wall clock + an offset
//! that `POST /admin/clock/advance` moves forward, so tests can expire tokens without waiting.

use pagopa::{Date, DateTime};

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = u64;

fn signed(t: Millis) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// Offset of Italian time from UTC at `t`, in milliseconds (CET +1 h, CEST +2 h; EU rules).
pub fn rome_offset_ms(t: Millis) -> Millis {
    pagopa::date::rome_offset_ms(signed(t)).unsigned_abs()
}

/// Italian local date-time at `t`, whole seconds, without offset (as the Nodo writes it).
pub fn rome_datetime(t: Millis) -> Option<DateTime> {
    DateTime::rome_from_unix_millis(signed(t)).ok()
}

/// Italian local date at `t`.
pub fn rome_date(t: Millis) -> Option<Date> {
    Date::rome_from_unix_millis(signed(t)).ok()
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
        u64::try_from(d.days_since_epoch()).expect("after 1970") * 86_400_000
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
