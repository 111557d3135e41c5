//! Time and randomness, injected.
//!
//! The core logic never reads the system clock or the OS random source directly: it asks a
//! [`Clock`] and a [`Random`] handed in by the composition root. Production uses
//! [`SystemClock`] and [`OsRandom`]; tests pass fixed or stepping values, so token expiry,
//! identifiers and credentials are reproducible.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use channel_api::Timestamp;

/// Tells the time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp::from_unix_millis(ms)
    }
}

/// The OS random source failed (it practically never does, but it is outside input).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the random source failed: {0}")]
pub struct RandomError(pub String);

impl RandomError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        "RANDOM_UNAVAILABLE"
    }
}

/// Produces unpredictable bytes (credentials, identifiers, idempotency keys).
pub trait Random: Send + Sync + fmt::Debug {
    /// Fill `buf`.
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// The operating system's random source.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|e| RandomError(e.to_string()))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

/// Bytes from lower- or upper-case hex; `None` if malformed.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// A new identifier of 32 lower-case hex digits for a row looked up by it (a payment): the
/// instant `now` in milliseconds (12 digits), then 10 random bytes (20 digits).
///
/// Why the instant first: identifiers issued one after the other sort one after the other, so
/// the indexes keyed by them (the payment's own, the journal's and the outbox's by payment)
/// grow at their end, where one page takes the inserts of many payments. Random keys put each
/// insert on another page of each index: once an index is larger than what the page cache and
/// one checkpoint interval cover, every payment rewrites pages of its own in the WAL and again
/// at the checkpoint (the reason UUIDv7 exists). 80 random bits keep identifiers unguessable;
/// the instant they show is the payment's creation, which the API shows anyway.
pub fn ordered_id(now: Timestamp, rng: &dyn Random) -> Result<String, RandomError> {
    let mut buf = [0u8; 16];
    let ms = u64::try_from(now.unix_millis()).unwrap_or(0);
    buf[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    rng.fill(&mut buf[6..])?;
    Ok(hex(&buf))
}

const ALNUM: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` random characters among `[0-9A-Za-z]`, uniformly (rejection sampling: no modulo bias).
pub fn random_alnum(rng: &dyn Random, n: usize) -> Result<String, RandomError> {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 32];
    while out.len() < n {
        rng.fill(&mut buf)?;
        for b in buf {
            // 248 = 4 × 62: values above are discarded so every character is equally likely.
            if b < 248 && out.len() < n {
                out.push(char::from(ALNUM[usize::from(b % 62)]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Counter(std::sync::atomic::AtomicU8);

    impl Random for Counter {
        fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
            for b in buf {
                *b = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        }
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&bytes), "0001abff");
        assert_eq!(unhex("0001ABff"), Some(bytes.to_vec()));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn alnum_is_alnum_and_skips_biased_bytes() {
        let rng = Counter(std::sync::atomic::AtomicU8::new(240));
        let s = random_alnum(&rng, 10).expect("random");
        assert_eq!(s.len(), 10);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        // 240..=247 map to 240 % 62 = 54 ('s') onwards; 248..=255 are skipped; 0 is '0'.
        assert_eq!(&s[..9], "stuvwxyz0");
    }

    #[test]
    fn ordered_ids_sort_by_time_and_differ_within_a_millisecond() {
        let at = |ms| Timestamp::from_unix_millis(ms);
        let a = ordered_id(at(1_764_230_400_000), &OsRandom).expect("os random");
        let b = ordered_id(at(1_764_230_400_000), &OsRandom).expect("os random");
        let c = ordered_id(at(1_764_230_400_001), &OsRandom).expect("os random");
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(&a[..12], "019ac4538800", "the instant, big-endian");
        assert_eq!(&a[..12], &b[..12]);
        assert_ne!(a, b, "80 random bits apart");
        assert!(a < c && b < c, "a later instant sorts after");
    }

    #[test]
    fn system_clock_is_after_2025() {
        assert!(SystemClock.now().unix_millis() > 1_735_689_600_000);
    }
}
