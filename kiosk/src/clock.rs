//! Time: the injected clock, and Italian local time for receipts and daily closings.
//!
//! The flow never reads a clock; the composition root reads this one and passes the instant
//! in, so tests drive time by hand ([`ManualClock`]). Receipts and cash closings speak Italian
//! local time, but the agent must not depend on the host's time-zone database (kiosk images
//! are minimal, and a misconfigured zone would move money between days), so the
//! Europe/Rome rule is computed here: CET (UTC+1), CEST (UTC+2) from 01:00 UTC on the last
//! Sunday of March to 01:00 UTC on the last Sunday of October.

use std::sync::atomic::{AtomicI64, Ordering};

use channel_api::Timestamp;
use pagopa::Date;

/// A source of the current instant.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp::from_unix_millis(ms)
    }
}

/// A clock moved by hand, for tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock(AtomicI64::new(at.unix_millis()))
    }

    /// Move it forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.0.load(Ordering::SeqCst))
    }
}

const MS_PER_DAY: i64 = 86_400_000;

/// The offset of Italian local time from UTC at `t`, in milliseconds.
pub fn rome_offset_ms(t: Timestamp) -> i64 {
    pagopa::date::rome_offset_ms(t.unix_millis())
}

/// The Italian calendar day of `t`.
pub fn local_day(t: Timestamp) -> Option<Date> {
    Date::rome_from_unix_millis(t.unix_millis()).ok()
}

/// `DD/MM/YYYY HH:MM` in Italian local time, as printed on receipts.
pub fn local_display(t: Timestamp) -> String {
    let local = t.add_millis(rome_offset_ms(t));
    let Ok(day) = local.utc_date() else {
        return t.to_string();
    };
    let minutes = local.unix_millis().rem_euclid(MS_PER_DAY) / 60_000;
    format!(
        "{:02}/{:02}/{} {:02}:{:02}",
        day.day(),
        day.month(),
        day.year(),
        minutes / 60,
        minutes % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).expect("instant")
    }

    #[test]
    fn rome_switches_at_the_eu_rule() {
        // 2025: CEST from 30 March 01:00 UTC to 26 October 01:00 UTC.
        assert_eq!(rome_offset_ms(at("2025-03-30T00:59:59Z")), 3_600_000);
        assert_eq!(rome_offset_ms(at("2025-03-30T01:00:00Z")), 7_200_000);
        assert_eq!(rome_offset_ms(at("2025-10-26T00:59:59Z")), 7_200_000);
        assert_eq!(rome_offset_ms(at("2025-10-26T01:00:00Z")), 3_600_000);
        assert_eq!(rome_offset_ms(at("2025-01-15T12:00:00Z")), 3_600_000);
    }

    #[test]
    fn the_local_day_starts_at_local_midnight() {
        let late = at("2025-06-30T22:30:00Z");
        assert_eq!(
            local_day(late).map(|d| d.to_string()),
            Some("2025-07-01".into())
        );
        assert_eq!(local_display(late), "01/07/2025 00:30");
        let winter = at("2025-12-31T22:59:00Z");
        assert_eq!(local_display(winter), "31/12/2025 23:59");
    }

    #[test]
    fn the_manual_clock_moves_only_by_hand() {
        let c = ManualClock::new(Timestamp::from_unix_millis(1000));
        c.advance(500);
        assert_eq!(c.now().unix_millis(), 1500);
    }
}
