//! Calendar dates and date-times as they appear on the wire.
//!
//! pagoPA messages carry `xsd:date` (`2021-10-01`: applicationDate, transferDate, dueDate,
//! dataRegolamento) and `xsd:dateTime` (`2021-10-01T17:48:22`: paymentDateTime, dataOraFlusso).
//! This crate reads no clock, so these are plain validated values: the caller supplies "now".
//! A small own type keeps the crate free of a date library; arithmetic is limited to adding days,
//! which settlement calendars (D+1, D+2) need.

use std::fmt;

/// Why a date or date-time is invalid. The codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateError {
    /// Not `YYYY-MM-DD` / `YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`.
    #[error("data non valida: atteso il formato AAAA-MM-GG")]
    Malformed,
    /// Well-formed but not a real day or time (31 April, 25:00…).
    #[error("data o ora inesistente")]
    OutOfRange,
}

impl DateError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DateError::Malformed => "DATE_MALFORMED",
            DateError::OutOfRange => "DATE_OUT_OF_RANGE",
        }
    }
}

/// A day of the proleptic Gregorian calendar, years 1..=9999.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

fn is_leap(y: u16) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u16, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |a, &d| a * 10 + u32::from(d - b'0')))
}

impl Date {
    /// A date from its parts.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Date, DateError> {
        if !(1..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
        {
            return Err(DateError::OutOfRange);
        }
        Ok(Date { year, month, day })
    }

    /// Parse `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Date, DateError> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(DateError::Malformed);
        }
        let y = digits(&b[0..4]).ok_or(DateError::Malformed)?;
        let m = digits(&b[5..7]).ok_or(DateError::Malformed)?;
        let d = digits(&b[8..10]).ok_or(DateError::Malformed)?;
        // The values are bounded by their digit counts, so the narrowing is exact.
        Date::new(y as u16, m as u8, d as u8)
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }
    /// The month, 1..=12.
    pub fn month(self) -> u8 {
        self.month
    }
    /// The day of the month, 1..=31.
    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days since 1970-01-01, if within years 1..=9999.
    pub fn from_days_since_epoch(days: i64) -> Result<Date, DateError> {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        let year = u16::try_from(y).map_err(|_| DateError::OutOfRange)?;
        Date::new(year, m as u8, d as u8)
    }

    /// This date moved by `days` (may be negative).
    pub fn add_days(self, days: i64) -> Result<Date, DateError> {
        Date::from_days_since_epoch(self.days_since_epoch() + days)
    }

    /// ISO weekday, Monday = 1 … Sunday = 7.
    pub fn weekday(self) -> u8 {
        // 1970-01-01 was a Thursday (4).
        ((self.days_since_epoch() + 3).rem_euclid(7) + 1) as u8
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({self})")
    }
}

impl std::str::FromStr for Date {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Date::parse(s)
    }
}

/// Time-zone designator of an `xsd:dateTime`, kept so that a parsed value re-serializes as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Offset {
    /// `Z`
    Utc,
    /// `+hh:mm` / `-hh:mm`, in minutes east of UTC.
    Minutes(i16),
}

/// An `xsd:dateTime`: a local date and time, optionally with fractional seconds and an offset.
/// pagoPA usually sends local Italian time without an offset (`2021-10-01T17:48:22`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    date: Date,
    hour: u8,
    minute: u8,
    second: u8,
    /// Fraction of a second as written: value and number of digits (0 = none written).
    frac: u32,
    frac_digits: u8,
    offset: Option<Offset>,
}

impl DateTime {
    /// A whole-second local date-time without offset.
    pub fn new(date: Date, hour: u8, minute: u8, second: u8) -> Result<DateTime, DateError> {
        if hour > 23 || minute > 59 || second > 59 {
            return Err(DateError::OutOfRange);
        }
        Ok(DateTime {
            date,
            hour,
            minute,
            second,
            frac: 0,
            frac_digits: 0,
            offset: None,
        })
    }

    /// Parse `YYYY-MM-DDThh:mm:ss`, optionally followed by `.f…` (1–9 digits) and `Z` or `±hh:mm`.
    pub fn parse(s: &str) -> Result<DateTime, DateError> {
        let b = s.as_bytes();
        if b.len() < 19 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
            return Err(DateError::Malformed);
        }
        let date = Date::parse(s.get(..10).ok_or(DateError::Malformed)?)?;
        let h = digits(&b[11..13]).ok_or(DateError::Malformed)?;
        let mi = digits(&b[14..16]).ok_or(DateError::Malformed)?;
        let se = digits(&b[17..19]).ok_or(DateError::Malformed)?;
        let mut dt = DateTime::new(date, h as u8, mi as u8, se as u8)?;
        let mut rest = &b[19..];
        if let Some((&b'.', tail)) = rest.split_first() {
            let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 || n > 9 {
                return Err(DateError::Malformed);
            }
            dt.frac = digits(&tail[..n]).ok_or(DateError::Malformed)?;
            dt.frac_digits = n as u8;
            rest = &tail[n..];
        }
        dt.offset = match rest {
            [] => None,
            [b'Z'] => Some(Offset::Utc),
            [sign @ (b'+' | b'-'), hh @ .., b':', m1, m2] if hh.len() == 2 => {
                let oh = digits(hh).ok_or(DateError::Malformed)?;
                let om = digits(&[*m1, *m2]).ok_or(DateError::Malformed)?;
                if oh > 14 || om > 59 {
                    return Err(DateError::OutOfRange);
                }
                let mins = (oh * 60 + om) as i16;
                Some(Offset::Minutes(if *sign == b'-' { -mins } else { mins }))
            }
            _ => return Err(DateError::Malformed),
        };
        Ok(dt)
    }

    /// The calendar date.
    pub fn date(self) -> Date {
        self.date
    }
    /// Hour, minute, second.
    pub fn hms(self) -> (u8, u8, u8) {
        (self.hour, self.minute, self.second)
    }
    /// The offset, if one was written.
    pub fn offset(self) -> Option<Offset> {
        self.offset
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}T{:02}:{:02}:{:02}",
            self.date, self.hour, self.minute, self.second
        )?;
        if self.frac_digits > 0 {
            write!(
                f,
                ".{:0width$}",
                self.frac,
                width = usize::from(self.frac_digits)
            )?;
        }
        match self.offset {
            None => Ok(()),
            Some(Offset::Utc) => f.write_str("Z"),
            Some(Offset::Minutes(m)) => {
                let sign = if m < 0 { '-' } else { '+' };
                let m = m.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
            }
        }
    }
}

impl fmt::Debug for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DateTime({self})")
    }
}

impl std::str::FromStr for DateTime {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DateTime::parse(s)
    }
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// 01:00 UTC on the last Sunday of `month` (March or October, both 31 days long) of `year`, in
/// Unix milliseconds: when Italy switches between CET and CEST (EU rule).
fn eu_switch_ms(year: u16, month: u8) -> Option<i64> {
    let last = Date::new(year, month, 31).ok()?;
    // ISO weekday: Monday 1 … Sunday 7, so `% 7` is the number of days back to the Sunday.
    let days = last.days_since_epoch() - i64::from(last.weekday() % 7);
    Some(days * DAY_MS + HOUR_MS)
}

/// The offset of Italian civil time (Europe/Rome) from UTC at the instant `unix_ms`, in
/// milliseconds: one hour (CET), two (CEST) from 01:00 UTC on the last Sunday of March to
/// 01:00 UTC on the last Sunday of October.
///
/// pagoPA's dates are Italian: the PSP's accounting day (`applicationDate`), the Nodo's
/// receipt times, what a receipt prints. The caller supplies the instant; nothing here reads
/// a clock.
pub fn rome_offset_ms(unix_ms: i64) -> i64 {
    let summer = Date::from_days_since_epoch(unix_ms.div_euclid(DAY_MS))
        .ok()
        .and_then(|d| {
            Some((eu_switch_ms(d.year(), 3)?..eu_switch_ms(d.year(), 10)?).contains(&unix_ms))
        });
    if summer == Some(true) {
        2 * HOUR_MS
    } else {
        HOUR_MS
    }
}

impl Date {
    /// The Italian calendar day of the instant `unix_ms` (milliseconds since 1970-01-01 UTC).
    pub fn rome_from_unix_millis(unix_ms: i64) -> Result<Date, DateError> {
        let local = unix_ms.saturating_add(rome_offset_ms(unix_ms));
        Date::from_days_since_epoch(local.div_euclid(DAY_MS))
    }
}

impl DateTime {
    /// The Italian local date-time of the instant `unix_ms`, in whole seconds and without an
    /// offset, as the Nodo writes it (`2026-11-27T10:45:12`).
    pub fn rome_from_unix_millis(unix_ms: i64) -> Result<DateTime, DateError> {
        let local = unix_ms.saturating_add(rome_offset_ms(unix_ms));
        let date = Date::from_days_since_epoch(local.div_euclid(DAY_MS))?;
        let secs = local.rem_euclid(DAY_MS) / 1000;
        // The remainder bounds each part, so the narrowing is exact.
        DateTime::new(
            date,
            (secs / 3600) as u8,
            (secs / 60 % 60) as u8,
            (secs % 60) as u8,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_validate_and_print() {
        let d = Date::parse("2024-02-29").expect("leap day");
        assert_eq!((d.year(), d.month(), d.day()), (2024, 2, 29));
        assert_eq!(d.to_string(), "2024-02-29");
        assert_eq!(Date::parse("2023-02-29"), Err(DateError::OutOfRange));
        assert_eq!(Date::parse("1900-02-29"), Err(DateError::OutOfRange));
        assert!(Date::parse("2000-02-29").is_ok());
        assert_eq!(Date::parse("2024-04-31"), Err(DateError::OutOfRange));
        assert_eq!(Date::parse("2024-13-01"), Err(DateError::OutOfRange));
        assert_eq!(Date::parse("0000-01-01"), Err(DateError::OutOfRange));
        for bad in [
            "",
            "2024-1-01",
            "2024/01/01",
            "20240101",
            "2024-01-0a",
            "2024-01-011",
        ] {
            assert_eq!(Date::parse(bad), Err(DateError::Malformed), "{bad}");
        }
    }

    #[test]
    fn day_arithmetic() {
        let d = Date::parse("2026-12-31").expect("date");
        assert_eq!(d.add_days(1).expect("next").to_string(), "2027-01-01");
        assert_eq!(d.add_days(-365).expect("prev").to_string(), "2025-12-31");
        assert_eq!(
            Date::parse("1970-01-01").expect("epoch").days_since_epoch(),
            0
        );
        assert_eq!(Date::parse("2026-11-27").expect("d").weekday(), 5); // a Friday
        for days in [-719_162_i64, -1, 0, 1, 59, 60, 10_957, 2_932_896] {
            let d = Date::from_days_since_epoch(days).expect("in range");
            assert_eq!(d.days_since_epoch(), days);
        }
        assert!(Date::from_days_since_epoch(2_932_897).is_err());
    }

    #[test]
    fn date_times_round_trip_as_written() {
        for s in [
            "2021-10-01T17:48:22",
            "2021-10-01T17:48:22.5",
            "2021-10-01T17:48:22.123456789",
            "2021-10-01T17:48:22Z",
            "2021-10-01T17:48:22.000+01:00",
            "2021-10-01T00:00:00-05:30",
        ] {
            assert_eq!(DateTime::parse(s).expect(s).to_string(), s);
        }
        for bad in [
            "2021-10-01",
            "2021-10-01 17:48:22",
            "2021-10-01T17:48",
            "2021-10-01T17:48:22.",
            "2021-10-01T17:48:22+1:00",
            "2021-10-01T17:48:22X",
        ] {
            assert_eq!(DateTime::parse(bad), Err(DateError::Malformed), "{bad}");
        }
        assert_eq!(
            DateTime::parse("2021-10-01T24:00:00"),
            Err(DateError::OutOfRange)
        );
    }

    #[test]
    fn italian_civil_time_follows_the_eu_rule() {
        let ms = |s: &str| {
            let dt = DateTime::parse(s).expect("instant");
            let (h, m, sec) = dt.hms();
            dt.date().days_since_epoch() * DAY_MS
                + i64::from(h) * HOUR_MS
                + i64::from(m) * 60_000
                + i64::from(sec) * 1000
        };
        let local = |s: &str| {
            DateTime::rome_from_unix_millis(ms(s))
                .expect("local")
                .to_string()
        };
        // Winter: UTC+1; the day changes at 23:00 UTC.
        assert_eq!(local("2026-11-27T09:45:12"), "2026-11-27T10:45:12");
        assert_eq!(local("2026-12-31T23:30:00"), "2027-01-01T00:30:00");
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(local("2026-03-29T00:59:59"), "2026-03-29T01:59:59");
        assert_eq!(local("2026-03-29T01:00:00"), "2026-03-29T03:00:00");
        assert_eq!(local("2026-10-25T00:59:59"), "2026-10-25T02:59:59");
        assert_eq!(local("2026-10-25T01:00:00"), "2026-10-25T02:00:00");
        assert_eq!(local("2026-07-14T22:30:00"), "2026-07-15T00:30:00");
        assert_eq!(
            Date::rome_from_unix_millis(ms("2026-07-14T22:30:00"))
                .expect("day")
                .to_string(),
            "2026-07-15"
        );
        assert_eq!(rome_offset_ms(ms("2026-07-14T12:00:00")), 2 * HOUR_MS);
        assert_eq!(rome_offset_ms(ms("2026-01-14T12:00:00")), HOUR_MS);
        assert_eq!(rome_offset_ms(-1), HOUR_MS);
    }
}
