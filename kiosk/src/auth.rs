//! Staff login: operators with a PIN, sessions on loopback.
//!
//! A PIN has four to twelve digits: a few thousand guesses cover most of them, so the stored
//! form must be slow to test. It is an Argon2id PHC string (`kiosk hash-pin` makes one), never
//! the PIN. Online guessing is slowed as well: after [`MAX_FAILURES`] wrong PINs an operator is
//! locked out for [`LOCKOUT`]. Sessions are random 128-bit tokens held in memory only (a restart
//! logs everyone out, which is the safe default on a shared counter PC).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};

use crate::config::Operator;
use crate::core::OperatorView;

/// Wrong PINs before a lockout.
pub const MAX_FAILURES: u32 = 5;
/// How long a lockout lasts.
pub const LOCKOUT: Duration = Duration::from_secs(60);

/// Why a login or a hash failed. The codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Unknown operator or wrong PIN (not told apart, on purpose).
    #[error("unknown operator or wrong PIN")]
    Invalid,
    /// Too many wrong PINs: wait.
    #[error("too many wrong PINs: try again in {0} s")]
    Locked(u64),
    /// A PIN must be 4 to 12 digits.
    #[error("a PIN is 4 to 12 digits")]
    PinFormat,
    /// No randomness or a hashing failure.
    #[error("cannot hash the PIN: {0}")]
    Hash(String),
}

impl AuthError {
    /// Stable machine-readable code: `LOGIN_INVALID`, `LOGIN_LOCKED`, `PIN_FORMAT`,
    /// `PIN_HASH`.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Invalid => "LOGIN_INVALID",
            AuthError::Locked(_) => "LOGIN_LOCKED",
            AuthError::PinFormat => "PIN_FORMAT",
            AuthError::Hash(_) => "PIN_HASH",
        }
    }
}

fn check_format(pin: &str) -> Result<(), AuthError> {
    if (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(AuthError::PinFormat)
    }
}

/// The Argon2id PHC string of `pin`, with a random salt.
pub fn hash_pin(pin: &str) -> Result<String, AuthError> {
    check_format(pin)?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Whether `pin` matches the PHC string `hash`. A malformed hash matches nothing.
pub fn verify_pin(hash: &str, pin: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(pin.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, OperatorView>,
    failures: HashMap<String, (u32, Instant)>,
}

/// The open sessions.
#[derive(Debug, Default)]
pub struct Sessions(Mutex<State>);

fn token() -> Result<String, AuthError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Check `pin` for `id` (slow: call off the async runtime) and open a session.
    pub fn login(
        &self,
        operators: &[Operator],
        id: &str,
        pin: &str,
    ) -> Result<(String, OperatorView), AuthError> {
        let failures = self.lock().failures.get(id).copied();
        if let Some((n, since)) = failures
            && n >= MAX_FAILURES
            && since.elapsed() < LOCKOUT
        {
            return Err(AuthError::Locked(
                (LOCKOUT - since.elapsed()).as_secs().max(1),
            ));
        }
        let op = operators.iter().find(|o| o.id == id);
        // An unknown operator costs the same time as a wrong PIN.
        let ok = match op {
            Some(o) => verify_pin(&o.pin_hash, pin),
            None => {
                let _ = verify_pin(
                    "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                    pin,
                );
                false
            }
        };
        let mut st = self.lock();
        match (ok, op) {
            (true, Some(o)) => {
                st.failures.remove(id);
                let view = OperatorView {
                    id: o.id.clone(),
                    name: o.name.clone(),
                };
                let t = token()?;
                st.sessions.insert(t.clone(), view.clone());
                Ok((t, view))
            }
            _ => {
                let entry = st
                    .failures
                    .entry(id.to_owned())
                    .or_insert((0, Instant::now()));
                if entry.0 >= MAX_FAILURES {
                    *entry = (0, Instant::now());
                }
                entry.0 += 1;
                entry.1 = Instant::now();
                Err(AuthError::Invalid)
            }
        }
    }

    /// The operator of a session.
    pub fn check(&self, token: &str) -> Option<OperatorView> {
        self.lock().sessions.get(token).cloned()
    }

    /// Close a session; the operator it belonged to.
    pub fn logout(&self, token: &str) -> Option<OperatorView> {
        self.lock().sessions.remove(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operators() -> Vec<Operator> {
        vec![Operator {
            id: "mrossi".into(),
            name: "Mario Rossi".into(),
            pin_hash: hash_pin("2468").expect("hash"),
        }]
    }

    #[test]
    fn a_pin_is_stored_as_argon2id_and_verified() {
        let h = hash_pin("1234").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("1234"));
        assert!(verify_pin(&h, "1234"));
        assert!(!verify_pin(&h, "1235"));
        assert!(!verify_pin("not a hash", "1234"));
        assert_ne!(hash_pin("1234").expect("hash"), h, "salted");
        assert_eq!(hash_pin("12a4"), Err(AuthError::PinFormat));
        assert_eq!(hash_pin("123"), Err(AuthError::PinFormat));
    }

    #[test]
    fn login_opens_a_session_and_wrong_pins_lock_out() {
        let ops = operators();
        let s = Sessions::default();
        let (token, view) = s.login(&ops, "mrossi", "2468").expect("login");
        assert_eq!(view.name, "Mario Rossi");
        assert_eq!(s.check(&token), Some(view.clone()));
        assert_eq!(s.logout(&token), Some(view));
        assert_eq!(s.check(&token), None);
        assert_eq!(
            s.login(&ops, "nobody", "2468").map(|_| ()),
            Err(AuthError::Invalid)
        );
        for _ in 0..MAX_FAILURES {
            assert_eq!(
                s.login(&ops, "mrossi", "0000").map(|_| ()),
                Err(AuthError::Invalid)
            );
        }
        match s.login(&ops, "mrossi", "2468") {
            Err(e @ AuthError::Locked(_)) => assert_eq!(e.code(), "LOGIN_LOCKED"),
            other => panic!("not locked: {other:?}"),
        }
    }
}
