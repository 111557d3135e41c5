//! Device credentials: issued once, stored only as a salted hash, checked on every request.
//!
//! A credential reads `ca1.<device id>.<64 hex digits>`: the version tag lets the format change
//! later, the device id finds the row without scanning, and the 64 hex digits are 256 random
//! bits. Only `SHA-256(salt ‖ secret)` is stored, with a random 16-byte salt per credential.
//!
//! Why SHA-256 and not argon2: a slow, memory-hard hash protects *low-entropy* secrets (PINs,
//! passwords) against guessing after a database leak. A 256-bit random token cannot be guessed
//! whatever the hash, so a slow hash would only cost CPU on every request. Argon2 is the right
//! tool for operator PINs, not here. The comparison is constant-time all the same.

use std::fmt;

use channel_api::{ErrorCode, Timestamp};
use sha2::{Digest, Sha256};

use crate::ambient::{Random, RandomError, hex, unhex};
use crate::store::DeviceRecord;

const PREFIX: &str = "ca1";
const SECRET_BYTES: usize = 32;

/// A freshly issued secret: its credential is shown once to the operator, never stored.
///
/// The salt and hash go into the device's row first; the credential names the row's id, so it
/// is formed after the insert with [`IssuedSecret::credential`].
#[derive(Clone)]
pub struct IssuedSecret {
    secret: [u8; SECRET_BYTES],
    /// The salt to store.
    pub salt: [u8; 16],
    /// The hash to store.
    pub hash: [u8; 32],
}

impl IssuedSecret {
    /// The credential to configure on device `device_id`.
    pub fn credential(&self, device_id: u64) -> String {
        format!("{PREFIX}.{device_id}.{}", hex(&self.secret))
    }
}

impl fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IssuedSecret(***)")
    }
}

/// The hash stored for `secret` with `salt`.
pub fn hash_secret(salt: &[u8; 16], secret: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(secret);
    h.finalize().into()
}

/// A new random secret and salt.
pub fn issue(rng: &dyn Random) -> Result<IssuedSecret, RandomError> {
    let mut secret = [0u8; SECRET_BYTES];
    let mut salt = [0u8; 16];
    rng.fill(&mut secret)?;
    rng.fill(&mut salt)?;
    Ok(IssuedSecret {
        secret,
        salt,
        hash: hash_secret(&salt, &secret),
    })
}

/// A credential as presented, split into its parts.
#[derive(Clone, PartialEq, Eq)]
pub struct Presented {
    /// The device it claims to be.
    pub device_id: u64,
    secret: Vec<u8>,
}

impl fmt::Debug for Presented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Presented(device {}, ***)", self.device_id)
    }
}

/// Read the `Authorization` header value. `None`: not a well-formed credential of ours.
pub fn parse_header(value: &str) -> Option<Presented> {
    let token = value
        .strip_prefix(channel_api::auth::SCHEME)?
        .strip_prefix(' ')?;
    parse_credential(token.trim())
}

/// Split `ca1.<id>.<hex>`.
pub fn parse_credential(s: &str) -> Option<Presented> {
    let mut parts = s.split('.');
    let (Some(PREFIX), Some(id), Some(secret), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secret = unhex(secret).filter(|s| s.len() == SECRET_BYTES)?;
    Some(Presented {
        device_id: id.parse().ok()?,
        secret,
    })
}

/// Compare without an early exit, so timing reveals nothing about where bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a request is refused. Each maps to an [`ErrorCode`]. The codes are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("no credential")]
    Missing,
    /// Malformed, unknown device, or wrong secret (not told apart, on purpose).
    #[error("invalid credential")]
    Invalid,
    /// The device was revoked.
    #[error("device revoked")]
    Revoked,
}

impl AuthError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// The API error code.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            AuthError::Missing => ErrorCode::MissingCredential,
            AuthError::Invalid => ErrorCode::InvalidCredential,
            AuthError::Revoked => ErrorCode::DeviceRevoked,
        }
    }
}

/// Check a presented credential against the device's stored record.
pub fn check(presented: &Presented, device: Option<&DeviceRecord>) -> Result<(), AuthError> {
    let Some(device) = device else {
        return Err(AuthError::Invalid);
    };
    let hash = hash_secret(&device.credential_salt, &presented.secret);
    if !constant_time_eq(&hash, &device.credential_hash) {
        return Err(AuthError::Invalid);
    }
    // Revocation is told only to a holder of the right secret: nobody else learns the device
    // exists.
    if device.revoked_at.is_some() {
        return Err(AuthError::Revoked);
    }
    Ok(())
}

/// What an authenticated request knows about its device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedDevice {
    /// The device.
    pub device: DeviceRecord,
    /// When the request was authenticated.
    pub at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ambient::OsRandom;
    use channel_api::DeviceKind;
    use pagopa::{CheckMode, CreditorFiscalCode};

    fn record(issued: &IssuedSecret, revoked: bool) -> DeviceRecord {
        DeviceRecord {
            id: 7,
            name: "k".into(),
            comune: CreditorFiscalCode::parse("02438750586", CheckMode::Strict).expect("valid"),
            kind: DeviceKind::Kiosk,
            credential_salt: issued.salt,
            credential_hash: issued.hash,
            created_at: Timestamp::from_unix_millis(0),
            revoked_at: revoked.then(|| Timestamp::from_unix_millis(1)),
            last_seen_at: None,
        }
    }

    #[test]
    fn issued_credential_checks_and_others_do_not() {
        let issued = issue(&OsRandom).expect("issue");
        let credential = issued.credential(7);
        assert!(credential.starts_with("ca1.7."));
        assert_eq!(credential.len(), "ca1.7.".len() + 64);
        let presented = parse_credential(&credential).expect("well-formed");
        assert_eq!(presented.device_id, 7);
        assert_eq!(check(&presented, Some(&record(&issued, false))), Ok(()));
        assert_eq!(
            check(&presented, Some(&record(&issued, true))),
            Err(AuthError::Revoked)
        );
        assert_eq!(check(&presented, None), Err(AuthError::Invalid));
        let other = issue(&OsRandom).expect("issue");
        let wrong = parse_credential(&other.credential(7)).expect("well-formed");
        assert_eq!(
            check(&wrong, Some(&record(&issued, false))),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            check(&wrong, Some(&record(&issued, true))),
            Err(AuthError::Invalid),
            "revocation is not revealed to a wrong secret"
        );
    }

    #[test]
    fn header_parsing_is_strict() {
        let credential = issue(&OsRandom).expect("issue").credential(12);
        let header = format!("Bearer {credential}");
        assert_eq!(parse_header(&header).map(|p| p.device_id), Some(12));
        for bad in [
            credential.clone(),
            format!("Basic {credential}"),
            "Bearer ".to_owned(),
            "Bearer ca1.12.abc".to_owned(),
            "Bearer ca2.12.".to_owned() + &"0".repeat(64),
            "Bearer ca1..".to_owned() + &"0".repeat(64),
            "Bearer ca1.x.".to_owned() + &"0".repeat(64),
            "Bearer ca1.1.".to_owned() + &"0".repeat(64) + ".x",
            "Bearer ca1.99999999999999999999.".to_owned() + &"0".repeat(64),
        ] {
            assert_eq!(parse_header(&bad), None, "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let issued = issue(&OsRandom).expect("issue");
        let credential = issued.credential(3);
        let secret_part = &credential[6..20];
        assert!(!format!("{issued:?}").contains(secret_part));
        let p = parse_credential(&credential).expect("valid");
        assert!(!format!("{p:?}").contains(secret_part));
    }
}
