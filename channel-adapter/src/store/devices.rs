//! Registered devices and their hashed credentials.

use channel_api::{DeviceInfo, DeviceKind, Timestamp};
use pagopa::{CheckMode, CreditorFiscalCode};
use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError, col};

/// A device to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    /// A unique, human-chosen name (`roma-anagrafe-kiosk-1`).
    pub name: String,
    /// The comune the device belongs to.
    pub comune: CreditorFiscalCode,
    /// Kiosk or counter.
    pub kind: DeviceKind,
}

/// A registered device.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The store's identifier.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its comune.
    pub comune: CreditorFiscalCode,
    /// Its kind.
    pub kind: DeviceKind,
    /// The credential's salt.
    pub credential_salt: [u8; 16],
    /// SHA-256 of salt and credential secret.
    pub credential_hash: [u8; 32],
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// Its last authenticated request.
    pub last_seen_at: Option<Timestamp>,
}

impl std::fmt::Debug for DeviceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("comune", &self.comune)
            .field("kind", &self.kind)
            .field("credential", &format_args!("***"))
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

impl DeviceRecord {
    /// The device as the API shows it.
    pub fn info(&self) -> DeviceInfo {
        DeviceInfo {
            id: self.id,
            name: self.name.clone(),
            kind: self.kind,
            comune: self.comune,
        }
    }
}

const COLUMNS: &str = "id, name, comune, kind, credential_salt, credential_hash, created_at, revoked_at, last_seen_at";

fn from_row(r: &Row<'_>) -> Result<DeviceRecord, StoreError> {
    let id: i64 = r.get(0)?;
    let salt: Vec<u8> = r.get(4)?;
    let hash: Vec<u8> = r.get(5)?;
    let corrupt = |what, v: &[u8]| StoreError::Corrupt {
        what,
        value: crate::ambient::hex(v),
    };
    Ok(DeviceRecord {
        id: u64::try_from(id).map_err(|_| StoreError::Corrupt {
            what: "devices.id",
            value: id.to_string(),
        })?,
        name: r.get(1)?,
        comune: col::parse("devices.comune", r.get(2)?, |s| {
            CreditorFiscalCode::parse(s, CheckMode::Lenient)
        })?,
        kind: col::parse("devices.kind", r.get(3)?, |s| {
            DeviceKind::parse(s).ok_or(())
        })?,
        credential_salt: salt
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("devices.credential_salt", &salt))?,
        credential_hash: hash
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("devices.credential_hash", &hash))?,
        created_at: Timestamp::from_unix_millis(r.get(6)?),
        revoked_at: r.get::<_, Option<i64>>(7)?.map(Timestamp::from_unix_millis),
        last_seen_at: r.get::<_, Option<i64>>(8)?.map(Timestamp::from_unix_millis),
    })
}

impl Store {
    /// Register a device with its credential's salt and hash; returns its id.
    pub fn add_device(
        &self,
        device: &NewDevice,
        salt: &[u8; 16],
        hash: &[u8; 32],
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.write_synced(|c| {
            let inserted = c.prepare_cached("INSERT INTO devices (name, comune, kind, credential_salt, credential_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO NOTHING")?.execute(params![
                    device.name,
                    device.comune.as_str(),
                    device.kind.as_str(),
                    &salt[..],
                    &hash[..],
                    now.unix_millis()
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::DeviceNameTaken(device.name.clone()));
            }
            let id = c.last_insert_rowid();
            // Row ids of an AUTOINCREMENT table start at 1.
            Ok(id as u64)
        })
    }

    /// Every device, by id.
    pub fn list_devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare(&format!("SELECT {COLUMNS} FROM devices ORDER BY id"))?;
            let mut rows = st.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(from_row(r)?);
            }
            Ok(out)
        })
    }

    /// One device by id.
    pub fn device(&self, id: u64) -> Result<Option<DeviceRecord>, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {COLUMNS} FROM devices WHERE id = ?1"))?
                .query_row([id], |r| Ok(from_row(r)))
                .optional()?
                .transpose()
        })
    }

    /// Revoke a device, by id or by name. Revoking twice keeps the first time.
    pub fn revoke_device(
        &self,
        id_or_name: &str,
        now: Timestamp,
    ) -> Result<DeviceRecord, StoreError> {
        self.write_synced(|c| {
            // Atomic: every write runs in its own savepoint (see `Store::commit`).
            let tx = &*c;
            let id: Option<i64> = tx
                .query_row(
                    "SELECT id FROM devices WHERE name = ?1 OR CAST(id AS TEXT) = ?1",
                    [id_or_name],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = id else {
                return Err(StoreError::DeviceNotFound(id_or_name.to_owned()));
            };
            tx.prepare_cached(
                "UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            )?
            .execute(params![id, now.unix_millis()])?;
            let record = tx
                .prepare_cached(&format!("SELECT {COLUMNS} FROM devices WHERE id = ?1"))?
                .query_row([id], |r| Ok(from_row(r)))??;
            Ok(record)
        })
    }

    /// Record that the device was seen (heartbeat).
    pub fn touch_device(&self, id: u64, now: Timestamp) -> Result<(), StoreError> {
        self.write(|c| {
            c.prepare_cached("UPDATE devices SET last_seen_at = ?2 WHERE id = ?1")?
                .execute(params![id as i64, now.unix_millis()])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests_support::temp_store;

    fn new_device(name: &str) -> NewDevice {
        NewDevice {
            name: name.into(),
            comune: CreditorFiscalCode::parse("02438750586", CheckMode::Strict).expect("valid"),
            kind: DeviceKind::Kiosk,
        }
    }

    #[test]
    fn add_list_revoke() {
        let store = temp_store("devices");
        let t = Timestamp::from_unix_millis(1_000);
        let id = store
            .add_device(&new_device("kiosk-1"), &[1; 16], &[2; 32], t)
            .expect("add");
        let err = store
            .add_device(&new_device("kiosk-1"), &[1; 16], &[2; 32], t)
            .expect_err("duplicate");
        assert_eq!(err.code(), "STORE_DEVICE_NAME_TAKEN");
        let list = store.list_devices().expect("list");
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id, id);
        assert_eq!(list[0].credential_hash, [2; 32]);
        assert_eq!(list[0].revoked_at, None);

        let revoked = store
            .revoke_device("kiosk-1", Timestamp::from_unix_millis(2_000))
            .expect("revoke");
        assert_eq!(revoked.revoked_at, Some(Timestamp::from_unix_millis(2_000)));
        let again = store
            .revoke_device(&id.to_string(), Timestamp::from_unix_millis(3_000))
            .expect("revoke by id");
        assert_eq!(again.revoked_at, Some(Timestamp::from_unix_millis(2_000)));
        assert_eq!(
            store
                .revoke_device("nobody", t)
                .expect_err("missing")
                .code(),
            "STORE_DEVICE_NOT_FOUND"
        );
    }

    #[test]
    fn debug_hides_the_credential() {
        let store = temp_store("devices-debug");
        let t = Timestamp::from_unix_millis(1_000);
        let id = store
            .add_device(&new_device("kiosk-2"), &[0xAB; 16], &[0xCD; 32], t)
            .expect("add");
        let rec = store.device(id).expect("read").expect("exists");
        let dbg = format!("{rec:?}");
        assert!(
            !dbg.contains("171") && !dbg.to_lowercase().contains("abab"),
            "{dbg}"
        );
    }
}
