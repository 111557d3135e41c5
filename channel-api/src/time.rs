//! Instants on the wire.
//!
//! Devices and the adapter exchange instants (token expiry, when money was taken offline, server
//! time for clock-skew checks). They travel as RFC 3339 UTC text with milliseconds
//! (`2025-03-01T09:30:00.250Z`), readable in logs and by any client, and are held as a count of
//! milliseconds since the Unix epoch, which orders, subtracts and stores in SQLite trivially.
//! No clock is read here: `now` always comes from the caller.

use std::fmt;

use pagopa::Date;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a text is not an RFC 3339 instant. The codes are stable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampError {
    /// Not `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`.
    Malformed,
    /// Well-formed but not a real instant (31 April, 25:00…), or outside years 1..=9999.
    OutOfRange,
}

impl TimestampError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TimestampError::Malformed => "TIMESTAMP_MALFORMED",
            TimestampError::OutOfRange => "TIMESTAMP_OUT_OF_RANGE",
        }
    }
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimestampError::Malformed => {
                "invalid instant: expected RFC 3339, e.g. 2025-03-01T09:30:00Z"
            }
            TimestampError::OutOfRange => "instant out of range",
        })
    }
}

impl std::error::Error for TimestampError {}

const MS_PER_DAY: i64 = 86_400_000;

/// An instant: milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `ms` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// This instant moved by `ms` milliseconds (saturating).
    pub const fn add_millis(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self` (negative if `earlier` is later).
    pub const fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The UTC calendar day of this instant.
    pub fn utc_date(self) -> Result<Date, TimestampError> {
        Date::from_days_since_epoch(self.0.div_euclid(MS_PER_DAY))
            .map_err(|_| TimestampError::OutOfRange)
    }

    /// Parse RFC 3339 (`2025-03-01T09:30:00Z`, `2025-03-01T10:30:00.250+01:00`). Fractions
    /// beyond milliseconds are truncated; a lowercase `t`/`z` and a space separator are accepted.
    pub fn parse(s: &str) -> Result<Timestamp, TimestampError> {
        use TimestampError::{Malformed, OutOfRange};
        let b = s.as_bytes();
        if !s.is_ascii() || b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') {
            return Err(Malformed);
        }
        let date = Date::parse(&s[..10]).map_err(|e| match e.code() {
            "DATE_OUT_OF_RANGE" => OutOfRange,
            _ => Malformed,
        })?;
        if b[13] != b':' || b[16] != b':' {
            return Err(Malformed);
        }
        let hour = two_digits(&b[11..13])?;
        let minute = two_digits(&b[14..16])?;
        let second = two_digits(&b[17..19])?;
        // 60 is a leap second; it is folded into the next one, as most systems do.
        if hour > 23 || minute > 59 || second > 60 {
            return Err(OutOfRange);
        }
        let mut rest = &b[19..];
        let mut millis = 0i64;
        if let [b'.', tail @ ..] = rest {
            let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return Err(Malformed);
            }
            for (i, d) in tail[..n].iter().enumerate().take(3) {
                millis += i64::from(d - b'0') * [100, 10, 1][i];
            }
            rest = &tail[n..];
        }
        let offset_minutes = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let h = two_digits(&[*h1, *h2])?;
                let m = two_digits(&[*m1, *m2])?;
                if h > 23 || m > 59 {
                    return Err(OutOfRange);
                }
                let v = i64::from(h) * 60 + i64::from(m);
                if *sign == b'-' { -v } else { v }
            }
            _ => return Err(Malformed),
        };
        let secs = date.days_since_epoch() * 86_400
            + i64::from(hour) * 3600
            + i64::from(minute) * 60
            + i64::from(second)
            - offset_minutes * 60;
        Ok(Timestamp(secs * 1000 + millis))
    }
}

fn two_digits(b: &[u8]) -> Result<u8, TimestampError> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9'] => Ok((a - b'0') * 10 + (c - b'0')),
        _ => Err(TimestampError::Malformed),
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with milliseconds: `2025-03-01T09:30:00.250Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = self.0.div_euclid(MS_PER_DAY);
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY);
        let Ok(date) = Date::from_days_since_epoch(day) else {
            // Outside years 1..=9999: no RFC 3339 form exists; say what it is instead.
            return write!(f, "@{}ms", self.0);
        };
        let secs = ms_of_day / 1000;
        write!(
            f,
            "{date}T{:02}:{:02}:{:02}.{:03}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            ms_of_day % 1000
        )
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, TimestampError> {
        Timestamp::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::wire::parse_str(d, "an RFC 3339 instant", Timestamp::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_millis() {
        assert_eq!(
            Timestamp::from_unix_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(1_740_821_400_250).to_string(),
            "2025-03-01T09:30:00.250Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(-1).to_string(),
            "1969-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn parses_offsets_and_fractions() {
        let t = Timestamp::from_unix_millis(1_740_821_400_250);
        for s in [
            "2025-03-01T09:30:00.250Z",
            "2025-03-01T10:30:00.250+01:00",
            "2025-03-01T08:30:00.250999-01:00",
            "2025-03-01 09:30:00.25z",
        ] {
            assert_eq!(Timestamp::parse(s), Ok(t), "{s}");
        }
        assert_eq!(
            Timestamp::parse("2025-03-01T09:30:00Z").map(|t| t.unix_millis()),
            Ok(1_740_821_400_000)
        );
    }

    #[test]
    fn rejects_bad_text_with_a_typed_error() {
        for s in [
            "",
            "2025-03-01",
            "2025-03-01T09:30:00",
            "2025-03-01T09:30:00+0100",
            "2025-03-01T09:30:00.Z",
            "2025-03-01T9:30:00Z",
            "2025-03-01T09:30:00Zjunk",
            "२०२५-03-01T09:30:00Z",
        ] {
            assert_eq!(Timestamp::parse(s), Err(TimestampError::Malformed), "{s:?}");
        }
        for s in ["2025-02-30T09:30:00Z", "2025-03-01T24:00:00Z"] {
            assert_eq!(
                Timestamp::parse(s),
                Err(TimestampError::OutOfRange),
                "{s:?}"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for ms in [
            0,
            1,
            999,
            86_399_999,
            1_740_821_400_250,
            253_402_300_799_999,
        ] {
            let t = Timestamp::from_unix_millis(ms);
            assert_eq!(Timestamp::parse(&t.to_string()), Ok(t));
        }
    }

    #[test]
    fn utc_date_is_the_calendar_day() {
        let t = Timestamp::parse("2025-03-01T23:59:59.999Z").expect("valid");
        assert_eq!(t.utc_date().map(|d| d.to_string()), Ok("2025-03-01".into()));
        assert_eq!(
            t.add_millis(1).utc_date().map(|d| d.to_string()),
            Ok("2025-03-02".into())
        );
    }
}
