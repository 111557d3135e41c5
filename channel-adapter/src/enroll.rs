//! One-time enrollment codes: how a technician with nothing but a fresh device and a code
//! joins it to the fleet.
//!
//! A code reads `IIII-SSSS-SSSS` in Crockford base32 (no I, L, O, U; typed case-insensitively,
//! spaces and dashes ignored, O read as 0 and I/L as 1): the first group is a lookup id (20
//! bits), the other two a 40-bit secret kept only as a salted SHA-256. Guessing is hopeless:
//! a code burns after `enrollment.max_attempts` wrong secrets, and an address that keeps
//! failing is refused for a while ([`Limiter`]), so random ids cannot be swept either. A code
//! expires (default 24 h) and works once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use channel_api::{DeviceKind, ErrorCode, Timestamp};
use pagopa::{CheckMode, CreditorFiscalCode};

use crate::ambient::{Random, RandomError};
use crate::auth::hash_secret;
use crate::store::fleet::{NewEnrolled, NewEnrollmentCode, Redeemed};
use crate::store::{DeviceRecord, Store, StoreError};

/// Crockford's base32 alphabet.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ID_LEN: usize = 4;
const SECRET_LEN: usize = 8;

/// A parsed code: its lookup id and secret, normalized.
#[derive(Clone, PartialEq, Eq)]
pub struct Code {
    /// The lookup id.
    pub id: String,
    secret: String,
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Code({}-****-****)", self.id)
    }
}

impl Code {
    /// Read a code as typed; `None` if it cannot be one.
    pub fn parse(typed: &str) -> Option<Code> {
        let mut chars = String::with_capacity(ID_LEN + SECRET_LEN);
        for c in typed.chars() {
            let c = match c.to_ascii_uppercase() {
                ' ' | '-' | '\t' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
                _ => return None,
            };
            chars.push(c);
        }
        if chars.len() != ID_LEN + SECRET_LEN {
            return None;
        }
        let (id, secret) = chars.split_at(ID_LEN);
        Some(Code {
            id: id.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// As printed: `IIII-SSSS-SSSS`.
    pub fn display(&self) -> String {
        format!("{}-{}-{}", self.id, &self.secret[..4], &self.secret[4..])
    }

    fn secret_matches(&self, salt: &[u8; 16], hash: &[u8; 32]) -> bool {
        let h = hash_secret(salt, self.secret.as_bytes());
        h.iter().zip(hash).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

fn random_base32(rng: &dyn Random, n: usize) -> Result<String, RandomError> {
    let mut buf = vec![0u8; n];
    rng.fill(&mut buf)?;
    // 256 is a multiple of 32: taking the low five bits is uniform.
    Ok(buf
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect())
}

/// Why a code could not be created. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// The comune's fiscal code is malformed or fails its check digit.
    #[error("invalid comune fiscal code: {0}")]
    InvalidComune(#[from] pagopa::FiscalCodeError),
    /// The location is empty, too long or has control characters.
    #[error("invalid location: 1 to 200 printable characters")]
    InvalidLocation,
    /// The lifetime is zero or longer than 30 days.
    #[error("invalid lifetime: more than 0 and at most 30 days")]
    InvalidTtl,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No randomness.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl CodeError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CodeError::InvalidComune(_) => "ENROLL_INVALID_COMUNE",
            CodeError::InvalidLocation => "ENROLL_INVALID_LOCATION",
            CodeError::InvalidTtl => "ENROLL_INVALID_TTL",
            CodeError::Store(e) => e.code(),
            CodeError::Random(e) => e.code(),
        }
    }
}

/// A code just created: shown once (only its hash is stored).
#[derive(Debug, Clone)]
pub struct IssuedCode {
    /// The code to give the technician.
    pub code: Code,
    /// The comune.
    pub comune: CreditorFiscalCode,
    /// The location.
    pub location: String,
    /// Kiosk or counter.
    pub kind: DeviceKind,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// What a code is for.
#[derive(Debug, Clone)]
pub struct CodeRequest<'a> {
    /// The comune's fiscal code, as typed.
    pub comune: &'a str,
    /// Where the device will stand.
    pub location: &'a str,
    /// Kiosk or counter.
    pub kind: DeviceKind,
    /// How long it works.
    pub ttl: Duration,
    /// Who asks (a user name, or `cli`).
    pub created_by: &'a str,
}

/// The longest a code may live.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Create a code. Comuni have real fiscal codes, so the check digit is enforced.
pub fn create_code(
    store: &Store,
    rng: &dyn Random,
    req: &CodeRequest<'_>,
    now: Timestamp,
) -> Result<IssuedCode, CodeError> {
    let comune = CreditorFiscalCode::parse(req.comune.trim(), CheckMode::Strict)?;
    let location = req.location.trim();
    if location.is_empty()
        || location.chars().count() > 200
        || location.chars().any(char::is_control)
    {
        return Err(CodeError::InvalidLocation);
    }
    if req.ttl.is_zero() || req.ttl > MAX_TTL {
        return Err(CodeError::InvalidTtl);
    }
    let expires_at = Timestamp::from_unix_millis(
        now.unix_millis()
            .saturating_add(i64::try_from(req.ttl.as_millis()).unwrap_or(i64::MAX)),
    );
    loop {
        let code = Code {
            id: random_base32(rng, ID_LEN)?,
            secret: random_base32(rng, SECRET_LEN)?,
        };
        let mut salt = [0u8; 16];
        rng.fill(&mut salt)?;
        let new = NewEnrollmentCode {
            id: code.id.clone(),
            salt,
            hash: hash_secret(&salt, code.secret.as_bytes()),
            comune,
            location: location.to_owned(),
            kind: req.kind,
            created_by: req.created_by.to_owned(),
            expires_at,
        };
        // A taken id (one in a million per code stored) is simply drawn again.
        if store.add_enrollment_code(&new, now)? {
            return Ok(IssuedCode {
                code,
                comune,
                location: location.to_owned(),
                kind: req.kind,
                expires_at,
            });
        }
    }
}

/// Why an enrollment was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrollError {
    /// Not a code, no such code, or a wrong secret (not told apart, on purpose).
    #[error("invalid enrollment code")]
    Invalid,
    /// The code expired.
    #[error("enrollment code expired")]
    Expired,
    /// The code was used, or burnt by wrong attempts.
    #[error("enrollment code already used or blocked")]
    Used,
    /// Not an Ed25519 public key.
    #[error("public_key: expected 32 bytes in base64url")]
    BadKey,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EnrollError {
    /// The API error code.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            EnrollError::Invalid => ErrorCode::EnrollmentCodeInvalid,
            EnrollError::Expired => ErrorCode::EnrollmentCodeExpired,
            EnrollError::Used => ErrorCode::EnrollmentCodeUsed,
            EnrollError::BadKey => ErrorCode::InvalidRequest,
            EnrollError::Store(_) => ErrorCode::InternalError,
        }
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            EnrollError::Store(e) => e.code(),
            other => other.error_code().as_str(),
        }
    }
}

/// Redeem a typed code for a device with `public_key` (base64url).
pub fn redeem(
    store: &Store,
    typed: &str,
    public_key: &str,
    hostname: Option<&str>,
    agent_version: Option<&str>,
    max_attempts: u32,
    now: Timestamp,
) -> Result<DeviceRecord, EnrollError> {
    let code = Code::parse(typed).ok_or(EnrollError::Invalid)?;
    let public_key = crate::auth::parse_public_key(public_key).ok_or(EnrollError::BadKey)?;
    let clean = |s: Option<&str>| {
        s.map(|s| {
            s.trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect::<String>()
        })
        .filter(|s| !s.is_empty())
    };
    let device = NewEnrolled {
        public_key,
        hostname: clean(hostname),
        agent_version: clean(agent_version),
    };
    let outcome = store.redeem_enrollment_code(
        &code.id,
        |salt, hash| code.secret_matches(salt, hash),
        &device,
        max_attempts,
        now,
    )?;
    match outcome {
        Redeemed::Enrolled(d) => Ok(*d),
        Redeemed::Unknown | Redeemed::WrongSecret { .. } => Err(EnrollError::Invalid),
        Redeemed::Used => Err(EnrollError::Used),
        Redeemed::Expired => Err(EnrollError::Expired),
    }
}

/// The SHA-256 fingerprint of the first certificate in the PEM file `path` (the adapter's own),
/// as uppercase hex pairs with colons like `openssl x509 -fingerprint -sha256`: what the
/// technician passes to `provision enroll --fingerprint`.
pub fn certificate_fingerprint(path: &std::path::Path) -> Result<String, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use sha2::Digest as _;
    let cert = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .next()
        .ok_or_else(|| format!("{}: no certificate", path.display()))?
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let digest = sha2::Sha256::digest(cert.as_ref());
    Ok(digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}

/// Counts failed enrollments per client address: at `max_failures` within `window` the
/// address is refused until the window passes. Kept in memory: a restart forgives, which is
/// fine since each code also burns on its own.
#[derive(Debug)]
pub struct Limiter {
    max_failures: u32,
    window_ms: i64,
    failures: Mutex<HashMap<Option<IpAddr>, (i64, u32)>>,
}

impl Limiter {
    /// A limiter allowing `max_failures` per `window`.
    pub fn new(max_failures: u32, window: Duration) -> Limiter {
        Limiter {
            max_failures,
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Option<IpAddr>, (i64, u32)>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `addr` may try now. `None`: the address is unknown (shared bucket).
    pub fn allowed(&self, addr: Option<IpAddr>, now: Timestamp) -> bool {
        let mut map = self.lock();
        let now = now.unix_millis();
        map.retain(|_, (since, _)| now.saturating_sub(*since) < self.window_ms);
        map.get(&addr).is_none_or(|(_, n)| *n < self.max_failures)
    }

    /// Count a failure of `addr`.
    pub fn failed(&self, addr: Option<IpAddr>, now: Timestamp) {
        let mut map = self.lock();
        let entry = map.entry(addr).or_insert((now.unix_millis(), 0));
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_typed() {
        let c = Code::parse("ab12-cdef-gh34").expect("valid");
        assert_eq!(c.display(), "AB12-CDEF-GH34");
        assert_eq!(Code::parse(" AB12 CDEF GH34 ").as_ref(), Some(&c));
        let confusable = Code::parse("o0il-0000-0000").expect("valid");
        assert_eq!(confusable.id, "0011");
        for bad in [
            "",
            "AB12-CDEF-GH3",
            "AB12-CDEF-GH345",
            "AB12-CDEF-GH3U",
            "ÀB12CDEFGH34",
        ] {
            assert_eq!(Code::parse(bad), None, "{bad}");
        }
        assert!(!format!("{c:?}").contains("CDEF"));
    }

    #[test]
    fn random_codes_use_the_alphabet() {
        let s = random_base32(&crate::ambient::OsRandom, 64).expect("random");
        assert!(s.bytes().all(|b| ALPHABET.contains(&b)));
    }

    #[test]
    fn limiter_blocks_after_failures_until_the_window_passes() {
        let l = Limiter::new(2, Duration::from_secs(60));
        let a = Some(IpAddr::from([10, 0, 0, 1]));
        let b = Some(IpAddr::from([10, 0, 0, 2]));
        let t = Timestamp::from_unix_millis(0);
        assert!(l.allowed(a, t));
        l.failed(a, t);
        l.failed(a, t);
        assert!(!l.allowed(a, t));
        assert!(l.allowed(b, t));
        assert!(l.allowed(a, Timestamp::from_unix_millis(60_000)));
    }
}
