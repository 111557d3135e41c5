//! The fleet's tables: one-time enrollment codes, published device configuration, and the
//! users (administrators, operators) of the admin API with the comuni they serve.
//!
//! Each multi-step change (redeeming a code, publishing a configuration) is one write, so it
//! commits whole or not at all; a wrong code secret still commits its attempt counter.

use channel_api::{DeviceKind, Timestamp};
use pagopa::{CheckMode, CreditorFiscalCode};
use rusqlite::{OptionalExtension, params};

pub use super::devices::NewEnrolled;

use super::devices::insert_enrolled;
use super::{DeviceRecord, Store, StoreError, col};

/// A code to store (its secret already hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnrollmentCode {
    /// The lookup id (the first group).
    pub id: String,
    /// The secret's salt.
    pub salt: [u8; 16],
    /// SHA-256 of salt and secret.
    pub hash: [u8; 32],
    /// The comune the device will belong to.
    pub comune: CreditorFiscalCode,
    /// Where it will stand.
    pub location: String,
    /// Kiosk or counter.
    pub kind: DeviceKind,
    /// Who created it (a user name, or `cli`).
    pub created_by: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// What redeeming a code came to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Redeemed {
    /// The device is registered.
    Enrolled(Box<DeviceRecord>),
    /// No code with this id.
    Unknown,
    /// Wrong secret (counted; `burnt`: that was the last attempt allowed).
    WrongSecret {
        /// Whether the code is now unusable.
        burnt: bool,
    },
    /// Right secret, but the code was used or burnt before.
    Used,
    /// Right secret, but past its expiry.
    Expired,
}

/// Who a configuration is published for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigScope {
    /// Every device of a comune.
    Comune(CreditorFiscalCode),
    /// One device (overlaid on its comune's).
    Device(u64),
}

/// A published configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedConfig {
    /// Its version.
    pub version: u64,
    /// `channel_api::fleet::DeviceSettings` as JSON.
    pub settings_json: String,
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Manage: enrollment codes, revocation, configuration (within scope).
    Admin,
    /// Read only (within scope).
    Operator,
}

impl Role {
    /// The on-disk and wire value (pinned by a test).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
        }
    }

    /// The role of an on-disk value.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

/// A user of the admin API.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Its id (in its token).
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The comuni it serves; `None`: all.
    pub comuni: Option<Vec<CreditorFiscalCode>>,
    /// The token's salt.
    pub token_salt: [u8; 16],
    /// SHA-256 of salt and token secret.
    pub token_hash: [u8; 32],
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("comuni", &self.comuni)
            .field("token", &format_args!("***"))
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

impl UserRecord {
    /// Whether the user serves `comune`.
    pub fn serves(&self, comune: &CreditorFiscalCode) -> bool {
        self.comuni.as_ref().is_none_or(|cs| cs.contains(comune))
    }
}

const USER_COLUMNS: &str =
    "id, name, role, all_comuni, token_salt, token_hash, created_at, revoked_at";

fn user_from_row(
    c: &rusqlite::Connection,
    r: &rusqlite::Row<'_>,
) -> Result<UserRecord, StoreError> {
    let id: i64 = r.get(0)?;
    let salt: Vec<u8> = r.get(4)?;
    let hash: Vec<u8> = r.get(5)?;
    let corrupt = |what, v: &[u8]| StoreError::Corrupt {
        what,
        value: crate::ambient::hex(v),
    };
    let all: i64 = r.get(3)?;
    let comuni = if all == 1 {
        None
    } else {
        let mut st =
            c.prepare_cached("SELECT comune FROM user_comuni WHERE user_id = ?1 ORDER BY comune")?;
        let mut rows = st.query([id])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(col::parse("user_comuni.comune", row.get(0)?, |s| {
                CreditorFiscalCode::parse(s, CheckMode::Lenient)
            })?);
        }
        Some(out)
    };
    Ok(UserRecord {
        id: id as u64,
        name: r.get(1)?,
        role: col::parse("users.role", r.get(2)?, |s| Role::parse(s).ok_or(()))?,
        comuni,
        token_salt: salt
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("users.token_salt", &salt))?,
        token_hash: hash
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("users.token_hash", &hash))?,
        created_at: Timestamp::from_unix_millis(r.get(6)?),
        revoked_at: r.get::<_, Option<i64>>(7)?.map(Timestamp::from_unix_millis),
    })
}

impl Store {
    /// Store a new code. `false`: its id is taken (the caller draws another).
    pub fn add_enrollment_code(
        &self,
        code: &NewEnrollmentCode,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.write_synced(|c| {
            let n = c
                .prepare_cached(
                    "INSERT INTO enrollment_codes (id, secret_salt, secret_hash, comune, location,
                         kind, created_by, created_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (id) DO NOTHING",
                )?
                .execute(params![
                    code.id,
                    &code.salt[..],
                    &code.hash[..],
                    code.comune.as_str(),
                    code.location,
                    code.kind.as_str(),
                    code.created_by,
                    now.unix_millis(),
                    code.expires_at.unix_millis()
                ])?;
            Ok(n == 1)
        })
    }

    /// Redeem code `id`: `secret_ok` checks the presented secret against the stored salt and
    /// hash. A wrong secret is counted and, at `max_attempts`, burns the code; the right one
    /// on a live code registers the device and uses the code up, in the same transaction.
    pub fn redeem_enrollment_code(
        &self,
        id: &str,
        secret_ok: impl FnOnce(&[u8; 16], &[u8; 32]) -> bool,
        device: &NewEnrolled,
        max_attempts: u32,
        now: Timestamp,
    ) -> Result<Redeemed, StoreError> {
        self.write_synced(|c| {
            type Row = (Vec<u8>, Vec<u8>, String, String, String, i64, i64, bool);
            let row: Option<Row> = c
                .prepare_cached(
                    "SELECT secret_salt, secret_hash, comune, location, kind, expires_at,
                         failed_attempts, used_at IS NOT NULL OR burnt_at IS NOT NULL
                     FROM enrollment_codes WHERE id = ?1",
                )?
                .query_row([id], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                })
                .optional()?;
            let Some((salt, hash, comune, location, kind, expires_at, failed, ended)) = row else {
                return Ok(Redeemed::Unknown);
            };
            let salt: [u8; 16] = salt
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt {
                    what: "enrollment_codes.secret_salt",
                    value: crate::ambient::hex(&salt),
                })?;
            let hash: [u8; 32] = hash
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt {
                    what: "enrollment_codes.secret_hash",
                    value: crate::ambient::hex(&hash),
                })?;
            if !secret_ok(&salt, &hash) {
                if ended {
                    return Ok(Redeemed::WrongSecret { burnt: true });
                }
                let failed = failed.saturating_add(1);
                let burnt = failed >= i64::from(max_attempts);
                c.prepare_cached(
                    "UPDATE enrollment_codes SET failed_attempts = ?2,
                         burnt_at = CASE WHEN ?3 THEN ?4 ELSE burnt_at END
                     WHERE id = ?1",
                )?
                .execute(params![id, failed, burnt, now.unix_millis()])?;
                return Ok(Redeemed::WrongSecret { burnt });
            }
            if ended {
                return Ok(Redeemed::Used);
            }
            if now.unix_millis() >= expires_at {
                return Ok(Redeemed::Expired);
            }
            let comune = col::parse("enrollment_codes.comune", comune, |s| {
                CreditorFiscalCode::parse(s, CheckMode::Lenient)
            })?;
            let kind = col::parse("enrollment_codes.kind", kind, |s| {
                DeviceKind::parse(s).ok_or(())
            })?;
            let device_id = insert_enrolled(c, id, &comune, kind, &location, device, now)?;
            c.prepare_cached(
                "UPDATE enrollment_codes SET used_at = ?2, device_id = ?3 WHERE id = ?1",
            )?
            .execute(params![id, now.unix_millis(), device_id as i64])?;
            let record = c
                .prepare_cached(&format!(
                    "SELECT {} FROM devices WHERE id = ?1",
                    super::devices::COLUMNS
                ))?
                .query_row([device_id as i64], |r| Ok(super::devices::from_row(r)))??;
            Ok(Redeemed::Enrolled(Box::new(record)))
        })
    }

    /// Publish settings for `scope`, replacing what was published for it; returns the new
    /// version, one more than any version published so far.
    pub fn publish_config(
        &self,
        scope: ConfigScope,
        settings_json: &str,
        published_by: &str,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.write_synced(|c| {
            let (comune, device) = match scope {
                ConfigScope::Comune(cf) => (Some(cf.as_str().to_owned()), None),
                ConfigScope::Device(id) => {
                    let exists: Option<i64> = c
                        .prepare_cached("SELECT id FROM devices WHERE id = ?1")?
                        .query_row([id as i64], |r| r.get(0))
                        .optional()?;
                    if exists.is_none() {
                        return Err(StoreError::DeviceNotFound(id.to_string()));
                    }
                    (None, Some(id as i64))
                }
            };
            let version: i64 = c
                .prepare_cached("SELECT COALESCE(MAX(version), 0) + 1 FROM device_configs")?
                .query_row([], |r| r.get(0))?;
            c.prepare_cached("DELETE FROM device_configs WHERE comune IS ?1 AND device_id IS ?2")?
                .execute(params![comune, device])?;
            c.prepare_cached(
                "INSERT INTO device_configs (comune, device_id, version, settings_json,
                     published_by, published_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                comune,
                device,
                version,
                settings_json,
                published_by,
                now.unix_millis()
            ])?;
            Ok(version as u64)
        })
    }

    /// What is published for a comune and for one of its devices.
    pub fn configs_for(
        &self,
        comune: &CreditorFiscalCode,
        device_id: u64,
    ) -> Result<(Option<PublishedConfig>, Option<PublishedConfig>), StoreError> {
        self.read(|c| {
            let get = |sql: &str, p: &dyn rusqlite::ToSql| {
                c.prepare_cached(sql)?
                    .query_row([p], |r| {
                        Ok(PublishedConfig {
                            version: r.get::<_, i64>(0)? as u64,
                            settings_json: r.get(1)?,
                        })
                    })
                    .optional()
            };
            let of_comune = get(
                "SELECT version, settings_json FROM device_configs WHERE comune = ?1",
                &comune.as_str(),
            )?;
            let of_device = get(
                "SELECT version, settings_json FROM device_configs WHERE device_id = ?1",
                &(device_id as i64),
            )?;
            Ok((of_comune, of_device))
        })
    }

    /// Register a user with its token's salt and hash; `comuni: None` for all comuni. `None`:
    /// the name is taken.
    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        comuni: Option<&[CreditorFiscalCode]>,
        salt: &[u8; 16],
        hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<Option<u64>, StoreError> {
        self.write_synced(|c| {
            let n = c
                .prepare_cached(
                    "INSERT INTO users (name, role, all_comuni, token_salt, token_hash, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO NOTHING",
                )?
                .execute(params![
                    name,
                    role.as_str(),
                    comuni.is_none(),
                    &salt[..],
                    &hash[..],
                    now.unix_millis()
                ])?;
            if n == 0 {
                return Ok(None);
            }
            let id = c.last_insert_rowid();
            for cf in comuni.unwrap_or_default() {
                c.prepare_cached(
                    "INSERT OR IGNORE INTO user_comuni (user_id, comune) VALUES (?1, ?2)",
                )?
                .execute(params![id, cf.as_str()])?;
            }
            Ok(Some(id as u64))
        })
    }

    /// One user by id.
    pub fn user(&self, id: u64) -> Result<Option<UserRecord>, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
                .query_row([id], |r| Ok(user_from_row(c, r)))
                .optional()?
                .transpose()
        })
    }

    /// Every user, by id.
    pub fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))?;
            let mut rows = st.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(user_from_row(c, r)?);
            }
            Ok(out)
        })
    }

    /// Revoke a user by id or name (revoking twice keeps the first time); `None`: no such user.
    pub fn revoke_user(
        &self,
        id_or_name: &str,
        now: Timestamp,
    ) -> Result<Option<UserRecord>, StoreError> {
        self.write_synced(|c| {
            let id: Option<i64> = c
                .query_row(
                    "SELECT id FROM users WHERE name = ?1 OR CAST(id AS TEXT) = ?1",
                    [id_or_name],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = id else { return Ok(None) };
            c.prepare_cached(
                "UPDATE users SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            )?
            .execute(params![id, now.unix_millis()])?;
            c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
                .query_row([id], |r| Ok(user_from_row(c, r)))?
                .map(Some)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests_support::temp_store;

    fn roma() -> CreditorFiscalCode {
        CreditorFiscalCode::parse("02438750586", CheckMode::Strict).expect("valid")
    }

    #[test]
    fn roles_are_pinned() {
        for (r, v) in [(Role::Admin, "admin"), (Role::Operator, "operator")] {
            assert_eq!(r.as_str(), v);
            assert_eq!(Role::parse(v), Some(r));
        }
    }

    #[test]
    fn code_is_single_use_and_burns_after_wrong_attempts() {
        let store = temp_store("fleet-codes");
        let t = Timestamp::from_unix_millis(1_000);
        let code = |id: &str| NewEnrollmentCode {
            id: id.into(),
            salt: [1; 16],
            hash: [2; 32],
            comune: roma(),
            location: "Anagrafe".into(),
            kind: DeviceKind::Kiosk,
            created_by: "cli".into(),
            expires_at: Timestamp::from_unix_millis(10_000),
        };
        assert!(store.add_enrollment_code(&code("ABCD"), t).expect("add"));
        assert!(!store.add_enrollment_code(&code("ABCD"), t).expect("add"));
        let dev = NewEnrolled {
            public_key: [9; 32],
            hostname: Some("kiosk".into()),
            agent_version: None,
        };
        let first = store
            .redeem_enrollment_code("ABCD", |_, _| true, &dev, 5, t)
            .expect("redeem");
        let Redeemed::Enrolled(rec) = first else {
            panic!("enrolled: {first:?}")
        };
        assert_eq!(rec.name, "kiosk-abcd");
        assert_eq!(rec.public_key, Some([9; 32]));
        assert_eq!(rec.location, "Anagrafe");
        assert_eq!(
            store
                .redeem_enrollment_code("ABCD", |_, _| true, &dev, 5, t)
                .expect("again"),
            Redeemed::Used
        );
        assert!(store.add_enrollment_code(&code("WXYZ"), t).expect("add"));
        for i in 1..=3 {
            assert_eq!(
                store
                    .redeem_enrollment_code("WXYZ", |_, _| false, &dev, 3, t)
                    .expect("wrong"),
                Redeemed::WrongSecret { burnt: i == 3 }
            );
        }
        assert_eq!(
            store
                .redeem_enrollment_code("WXYZ", |_, _| true, &dev, 3, t)
                .expect("burnt"),
            Redeemed::Used
        );
        assert!(store.add_enrollment_code(&code("EXPD"), t).expect("add"));
        assert_eq!(
            store
                .redeem_enrollment_code(
                    "EXPD",
                    |_, _| true,
                    &dev,
                    3,
                    Timestamp::from_unix_millis(10_000)
                )
                .expect("expired"),
            Redeemed::Expired
        );
        assert_eq!(
            store
                .redeem_enrollment_code("NONE", |_, _| true, &dev, 3, t)
                .expect("unknown"),
            Redeemed::Unknown
        );
    }

    #[test]
    fn config_versions_grow_across_scopes() {
        let store = temp_store("fleet-config");
        let t = Timestamp::from_unix_millis(1_000);
        let id = store
            .add_device(
                &crate::store::NewDevice {
                    name: "k".into(),
                    comune: roma(),
                    kind: DeviceKind::Kiosk,
                },
                &[1; 16],
                &[2; 32],
                t,
            )
            .expect("device");
        let v1 = store
            .publish_config(ConfigScope::Comune(roma()), "{}", "a", t)
            .expect("publish");
        let v2 = store
            .publish_config(ConfigScope::Device(id), "{\"printer_width\":32}", "a", t)
            .expect("publish");
        let v3 = store
            .publish_config(
                ConfigScope::Comune(roma()),
                "{\"languages\":[\"it\"]}",
                "a",
                t,
            )
            .expect("publish");
        assert!(v1 < v2 && v2 < v3);
        let (c, d) = store.configs_for(&roma(), id).expect("read");
        assert_eq!(c.map(|c| c.version), Some(v3));
        assert_eq!(d.map(|d| d.version), Some(v2));
        assert_eq!(
            store
                .publish_config(ConfigScope::Device(999), "{}", "a", t)
                .expect_err("no device")
                .code(),
            "STORE_DEVICE_NOT_FOUND"
        );
    }

    #[test]
    fn users_with_scopes() {
        let store = temp_store("fleet-users");
        let t = Timestamp::from_unix_millis(1_000);
        let id = store
            .add_user(
                "ada",
                Role::Operator,
                Some(&[roma()]),
                &[1; 16],
                &[2; 32],
                t,
            )
            .expect("add")
            .expect("new name");
        let u = store.user(id).expect("read").expect("exists");
        assert_eq!(u.comuni, Some(vec![roma()]));
        assert!(u.serves(&roma()));
        let all = store
            .add_user("root", Role::Admin, None, &[1; 16], &[2; 32], t)
            .expect("add")
            .expect("new name");
        assert_eq!(store.user(all).expect("read").expect("exists").comuni, None);
        assert_eq!(store.list_users().expect("list").len(), 2);
        let r = store
            .revoke_user("ada", t)
            .expect("revoke")
            .expect("exists");
        assert_eq!(r.revoked_at, Some(t));
        assert!(store.revoke_user("nobody", t).expect("revoke").is_none());
    }
}
