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
//!
//! Enrolled devices hold an Ed25519 key pair instead (see [`channel_api::fleet`]): each request
//! carries `Authorization: Signature <id>.<unix ms>.<base64url signature>`, checked here with
//! the stored public key. Users of the admin API get tokens of the same form as device
//! credentials with their own prefix (`cu1.`), so a device credential is never a user token.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use channel_api::fleet::{CredentialKind, MAX_CLOCK_SKEW_MS, signing_input};
use channel_api::{ErrorCode, Timestamp};
use ring::signature::{ED25519, UnparsedPublicKey};
use sha2::{Digest, Sha256};

use crate::ambient::{Random, RandomError, hex, unhex};
use crate::store::DeviceRecord;

const PREFIX: &str = "ca1";
/// The prefix of admin API user tokens.
pub const USER_PREFIX: &str = "cu1";
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
        self.token(PREFIX, device_id)
    }

    /// The token of user `user_id`.
    pub fn user_token(&self, user_id: u64) -> String {
        self.token(USER_PREFIX, user_id)
    }

    fn token(&self, prefix: &str, id: u64) -> String {
        format!("{prefix}.{id}.{}", hex(&self.secret))
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
    parse_token(PREFIX, s)
}

/// A user token from an `Authorization: Bearer cu1.…` header value.
pub fn parse_user_header(value: &str) -> Option<Presented> {
    let token = value
        .strip_prefix(channel_api::auth::SCHEME)?
        .strip_prefix(' ')?;
    parse_token(USER_PREFIX, token.trim())
}

/// Split `<prefix>.<id>.<hex>`.
fn parse_token(prefix: &str, s: &str) -> Option<Presented> {
    let mut parts = s.split('.');
    let (Some(p), Some(id), Some(secret), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if p != prefix {
        return None;
    }
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
    /// A signed request whose signature does not verify (or names no key-pair device).
    #[error("invalid signature")]
    SignatureInvalid,
    /// A signed request whose instant is too far from the adapter's clock.
    #[error("request instant outside the allowed clock skew")]
    ClockSkew,
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
            AuthError::SignatureInvalid => ErrorCode::SignatureInvalid,
            AuthError::ClockSkew => ErrorCode::ClockSkew,
        }
    }
}

/// Whether `presented` matches the stored salt and hash (constant-time).
pub fn secret_matches(presented: &Presented, salt: &[u8; 16], hash: &[u8; 32]) -> bool {
    constant_time_eq(&hash_secret(salt, &presented.secret), hash)
}

/// Check a presented credential against the device's stored record.
pub fn check(presented: &Presented, device: Option<&DeviceRecord>) -> Result<(), AuthError> {
    let Some(device) = device else {
        return Err(AuthError::Invalid);
    };
    // An enrolled device signs; its stored bearer hash is all zeros and must never match.
    if device.credential != CredentialKind::Secret {
        return Err(AuthError::Invalid);
    }
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

/// base64url without padding, as the contract writes keys and signatures.
pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decode base64url without padding; `None` if malformed.
pub fn unbase64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim()).ok()
}

/// An Ed25519 public key as the contract carries it (32 bytes, base64url); `None` if it is not
/// one.
pub fn parse_public_key(s: &str) -> Option<[u8; 32]> {
    unbase64url(s)?.as_slice().try_into().ok()
}

/// A signed request's `Authorization` value, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPresented {
    /// The device it claims to be.
    pub device_id: u64,
    /// The instant it was signed at, unix milliseconds.
    pub unix_ms: i64,
    /// The signature.
    pub signature: Vec<u8>,
}

/// Read `Signature <id>.<unix ms>.<base64url>`. `None`: not a signed request's header.
pub fn parse_signature_header(value: &str) -> Option<SignedPresented> {
    let rest = value
        .strip_prefix(channel_api::fleet::SIGNATURE_SCHEME)?
        .strip_prefix(' ')?
        .trim();
    let mut parts = rest.split('.');
    let (Some(id), Some(ms), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(id) || !digits(ms) {
        return None;
    }
    let signature = unbase64url(sig).filter(|s| s.len() == 64)?;
    Some(SignedPresented {
        device_id: id.parse().ok()?,
        unix_ms: ms.parse().ok()?,
        signature,
    })
}

/// Check a signed request: the signature over [`signing_input`] with the device's key, then
/// revocation (told only to a holder of the key), then the instant against `now`.
pub fn check_signature(
    presented: &SignedPresented,
    device: Option<&DeviceRecord>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<(), AuthError> {
    let Some(key) = device.and_then(|d| d.public_key) else {
        return Err(AuthError::SignatureInvalid);
    };
    let message = signing_input(method, path_and_query, presented.unix_ms, body);
    UnparsedPublicKey::new(&ED25519, &key)
        .verify(&message, &presented.signature)
        .map_err(|_| AuthError::SignatureInvalid)?;
    if device.is_some_and(|d| d.revoked_at.is_some()) {
        return Err(AuthError::Revoked);
    }
    if presented.unix_ms.abs_diff(now.unix_millis()) > MAX_CLOCK_SKEW_MS.unsigned_abs() {
        return Err(AuthError::ClockSkew);
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
            location: String::new(),
            credential: CredentialKind::Secret,
            public_key: None,
            enrolled_at: None,
            hostname: None,
            agent_version: None,
            last_heartbeat_at: None,
            health: None,
            applied_config_version: None,
        }
    }

    #[test]
    fn signatures_verify_with_the_device_key_only_within_the_window() {
        use ring::signature::{Ed25519KeyPair, KeyPair as _};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("keygen");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key");
        let issued = issue(&OsRandom).expect("issue");
        let mut device = record(&issued, false);
        device.credential = CredentialKind::KeyPair;
        device.public_key = Some(pair.public_key().as_ref().try_into().expect("32 bytes"));
        let now = Timestamp::from_unix_millis(1_700_000_000_000);
        let sign = |ms: i64, body: &[u8]| {
            let sig = pair.sign(&signing_input("POST", "/v1/heartbeat", ms, body));
            let header = format!("Signature 7.{ms}.{}", base64url(sig.as_ref()));
            parse_signature_header(&header).expect("well-formed")
        };
        let ok = sign(now.unix_millis(), b"{}");
        assert_eq!(ok.device_id, 7);
        let check_at = |p: &SignedPresented, d: &DeviceRecord, body: &[u8]| {
            check_signature(p, Some(d), "POST", "/v1/heartbeat", body, now)
        };
        assert_eq!(check_at(&ok, &device, b"{}"), Ok(()));
        assert_eq!(
            check_at(&ok, &device, b"{ }"),
            Err(AuthError::SignatureInvalid),
            "the body is signed"
        );
        assert_eq!(
            check_signature(&ok, Some(&device), "POST", "/v1/verify", b"{}", now),
            Err(AuthError::SignatureInvalid),
            "the path is signed"
        );
        let old = sign(now.unix_millis() - MAX_CLOCK_SKEW_MS - 1, b"{}");
        assert_eq!(check_at(&old, &device, b"{}"), Err(AuthError::ClockSkew));
        let mut revoked = device.clone();
        revoked.revoked_at = Some(now);
        assert_eq!(check_at(&ok, &revoked, b"{}"), Err(AuthError::Revoked));
        let mut bearer = device.clone();
        bearer.public_key = None;
        assert_eq!(
            check_at(&ok, &bearer, b"{}"),
            Err(AuthError::SignatureInvalid)
        );
        // A key-pair device never authenticates with a bearer secret.
        let presented = parse_credential(&issued.credential(7)).expect("well-formed");
        assert_eq!(check(&presented, Some(&device)), Err(AuthError::Invalid));
        for bad in [
            "Signature 7.1.".to_owned(),
            "Signature x.1.".to_owned() + &base64url(&[0; 64]),
            "Signature 7.1.".to_owned() + &base64url(&[0; 63]),
            "Bearer 7.1.".to_owned() + &base64url(&[0; 64]),
        ] {
            assert_eq!(parse_signature_header(&bad), None, "{bad}");
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
