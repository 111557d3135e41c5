//! The people of the fleet view and the admin API: administrators (manage) and operators
//! (read), each scoped to the comuni they serve. Tokens follow the device credentials' scheme
//! (256 random bits, stored as a salted SHA-256, see [`crate::auth`]) with their own prefix.

use channel_api::Timestamp;
use pagopa::{CheckMode, CreditorFiscalCode};

use crate::ambient::{Random, RandomError};
use crate::auth::{self, Presented};
use crate::store::fleet::{Role, UserRecord};
use crate::store::{Store, StoreError};

/// Why a user command failed. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// The name is empty, too long or has control characters.
    #[error("invalid user name: 1 to 100 printable characters")]
    InvalidName,
    /// Neither comuni nor all comuni were given.
    #[error("give the comuni the user serves (--comune) or --all-comuni")]
    NoScope,
    /// A comune's fiscal code is malformed or fails its check digit.
    #[error("invalid comune fiscal code: {0}")]
    InvalidComune(#[from] pagopa::FiscalCodeError),
    /// The name is taken.
    #[error("a user named {0:?} already exists")]
    NameTaken(String),
    /// No such user.
    #[error("no user {0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No randomness for the token.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl UserError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            UserError::InvalidName => "USER_INVALID_NAME",
            UserError::NoScope => "USER_NO_SCOPE",
            UserError::InvalidComune(_) => "USER_INVALID_COMUNE",
            UserError::NameTaken(_) => "USER_NAME_TAKEN",
            UserError::NotFound(_) => "USER_NOT_FOUND",
            UserError::Store(e) => e.code(),
            UserError::Random(e) => e.code(),
        }
    }
}

/// A new user and its token, shown now and never again.
#[derive(Debug)]
pub struct Added {
    /// The user.
    pub user: UserRecord,
    /// `Authorization: Bearer <token>`.
    pub token: String,
}

/// Add a user serving `comuni`, or every comune with `all_comuni`.
pub fn add(
    store: &Store,
    name: &str,
    role: Role,
    comuni: &[String],
    all_comuni: bool,
    rng: &dyn Random,
    now: Timestamp,
) -> Result<Added, UserError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(UserError::InvalidName);
    }
    let scope = if all_comuni {
        None
    } else {
        if comuni.is_empty() {
            return Err(UserError::NoScope);
        }
        Some(
            comuni
                .iter()
                .map(|c| CreditorFiscalCode::parse(c.trim(), CheckMode::Strict))
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    let secret = auth::issue(rng)?;
    let id = store
        .add_user(
            name,
            role,
            scope.as_deref(),
            &secret.salt,
            &secret.hash,
            now,
        )?
        .ok_or_else(|| UserError::NameTaken(name.to_owned()))?;
    let user = store
        .user(id)?
        .ok_or_else(|| UserError::NotFound(id.to_string()))?;
    Ok(Added {
        token: secret.user_token(id),
        user,
    })
}

/// Every user.
pub fn list(store: &Store) -> Result<Vec<UserRecord>, UserError> {
    Ok(store.list_users()?)
}

/// Revoke a user by id or name; its token stops working at once.
pub fn revoke(store: &Store, id_or_name: &str, now: Timestamp) -> Result<UserRecord, UserError> {
    store
        .revoke_user(id_or_name.trim(), now)?
        .ok_or_else(|| UserError::NotFound(id_or_name.trim().to_owned()))
}

/// The user a presented token belongs to, if it is valid and not revoked.
pub fn check(presented: &Presented, user: Option<UserRecord>) -> Option<UserRecord> {
    let user = user?;
    (auth::secret_matches(presented, &user.token_salt, &user.token_hash)
        && user.revoked_at.is_none())
    .then_some(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ambient::OsRandom;
    use crate::store::tests_support::temp_store;

    #[test]
    fn token_checks_until_revoked() {
        let store = temp_store("users");
        let t = Timestamp::from_unix_millis(1);
        let added = add(
            &store,
            "ada",
            Role::Operator,
            &["02438750586".into()],
            false,
            &OsRandom,
            t,
        )
        .expect("add");
        assert!(added.token.starts_with("cu1."));
        let p = auth::parse_user_header(&format!("Bearer {}", added.token)).expect("parses");
        let found = store.user(p.device_id).expect("read");
        assert_eq!(check(&p, found).map(|u| u.name), Some("ada".to_owned()));
        assert_eq!(
            add(&store, "ada", Role::Admin, &[], true, &OsRandom, t)
                .expect_err("taken")
                .code(),
            "USER_NAME_TAKEN"
        );
        assert_eq!(
            add(&store, "bob", Role::Admin, &[], false, &OsRandom, t)
                .expect_err("no scope")
                .code(),
            "USER_NO_SCOPE"
        );
        revoke(&store, "ada", t).expect("revoke");
        assert!(check(&p, store.user(p.device_id).expect("read")).is_none());
        // A device credential is not a user token.
        assert!(auth::parse_user_header("Bearer ca1.1.".to_owned().as_str()).is_none());
    }
}
