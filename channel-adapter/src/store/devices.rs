//! Registered devices: their placement, credentials (hashed secret or public key) and what
//! their last heartbeat said.

use channel_api::fleet::{CredentialKind, DeviceHealth};
use channel_api::{DeviceInfo, DeviceKind, Timestamp};
use pagopa::{CheckMode, CreditorFiscalCode};
use std::sync::Arc;

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
    /// Where it stands (empty for devices registered by hand before enrollment existed).
    pub location: String,
    /// How it authenticates.
    pub credential: CredentialKind,
    /// Its Ed25519 public key, for [`CredentialKind::KeyPair`].
    pub public_key: Option<[u8; 32]>,
    /// When it enrolled with a code.
    pub enrolled_at: Option<Timestamp>,
    /// The host name it gave at enrollment.
    pub hostname: Option<String>,
    /// The agent version of its last heartbeat (or enrollment).
    pub agent_version: Option<String>,
    /// Its last heartbeat.
    pub last_heartbeat_at: Option<Timestamp>,
    /// The health its last heartbeat reported.
    pub health: Option<DeviceHealth>,
    /// The configuration version it last said it applied.
    pub applied_config_version: Option<u64>,
}

/// The on-disk value of a credential kind (pinned by a test: changing one needs a migration).
pub fn credential_kind_str(k: CredentialKind) -> &'static str {
    match k {
        CredentialKind::Secret => "secret",
        CredentialKind::KeyPair => "key_pair",
    }
}

fn parse_credential_kind(s: &str) -> Result<CredentialKind, ()> {
    match s {
        "secret" => Ok(CredentialKind::Secret),
        "key_pair" => Ok(CredentialKind::KeyPair),
        _ => Err(()),
    }
}

/// A device joining by enrollment (see [`Store::redeem_enrollment_code`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnrolled {
    /// Its Ed25519 public key.
    pub public_key: [u8; 32],
    /// Its host name, as it reported it.
    pub hostname: Option<String>,
    /// Its agent version.
    pub agent_version: Option<String>,
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
            .field("location", &self.location)
            .field("credential_kind", &self.credential)
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

pub(super) const COLUMNS: &str = "id, name, comune, kind, credential_salt, credential_hash, created_at, revoked_at, last_seen_at, \
     location, credential_kind, public_key, enrolled_at, hostname, agent_version, last_heartbeat_at, health_json, applied_config_version";

pub(super) fn from_row(r: &Row<'_>) -> Result<DeviceRecord, StoreError> {
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
        location: r.get(9)?,
        credential: col::parse("devices.credential_kind", r.get(10)?, parse_credential_kind)?,
        public_key: match r.get::<_, Option<Vec<u8>>>(11)? {
            None => None,
            Some(k) => Some(
                k.as_slice()
                    .try_into()
                    .map_err(|_| corrupt("devices.public_key", &k))?,
            ),
        },
        enrolled_at: r
            .get::<_, Option<i64>>(12)?
            .map(Timestamp::from_unix_millis),
        hostname: r.get(13)?,
        agent_version: r.get(14)?,
        last_heartbeat_at: r
            .get::<_, Option<i64>>(15)?
            .map(Timestamp::from_unix_millis),
        health: col::parse_opt("devices.health_json", r.get(16)?, |s| {
            serde_json::from_str::<DeviceHealth>(s)
        })?,
        applied_config_version: r
            .get::<_, Option<i64>>(17)?
            .and_then(|v| u64::try_from(v).ok()),
    })
}

/// Insert an enrolled device inside the caller's transaction; returns its id. Its name is
/// `<kind>-<code id>`, made unique with a numeric suffix if a device already has it.
pub(super) fn insert_enrolled(
    c: &rusqlite::Connection,
    code_id: &str,
    comune: &CreditorFiscalCode,
    kind: DeviceKind,
    location: &str,
    device: &NewEnrolled,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let base = format!("{}-{}", kind.as_str(), code_id.to_ascii_lowercase());
    for n in 0..100u32 {
        let name = if n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let inserted = c
            .prepare_cached(
                "INSERT INTO devices (name, comune, kind, credential_salt, credential_hash, created_at,
                     location, credential_kind, public_key, enrolled_at, hostname, agent_version)
                 VALUES (?1, ?2, ?3, zeroblob(16), zeroblob(32), ?4, ?5, ?9, ?6, ?4, ?7, ?8)
                 ON CONFLICT (name) DO NOTHING",
            )?
            .execute(params![
                name,
                comune.as_str(),
                kind.as_str(),
                now.unix_millis(),
                location,
                &device.public_key[..],
                device.hostname,
                device.agent_version,
                credential_kind_str(CredentialKind::KeyPair)
            ])?;
        if inserted == 1 {
            // Row ids of an AUTOINCREMENT table start at 1.
            return Ok(c.last_insert_rowid() as u64);
        }
    }
    Err(StoreError::DeviceNameTaken(base))
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

    /// Device `id`, to authenticate a request: from memory when it was read recently and has
    /// not changed since (see `store/device_cache.rs`), else from the store thread.
    pub async fn device_for_request(
        self: &Arc<Self>,
        id: u64,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        if let Some(device) = self.devices.get(id) {
            return Ok(Some(device));
        }
        self.call(move |s| {
            let changes = s.devices.changes();
            let device = s.device(id)?;
            if let Some(d) = &device {
                s.devices.remember(d, changes);
            }
            Ok(device)
        })
        .await
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

    /// Devices of `comuni` (every device with `None`), by id.
    pub fn devices_of(
        &self,
        comuni: Option<&[CreditorFiscalCode]>,
    ) -> Result<Vec<DeviceRecord>, StoreError> {
        let all = self.list_devices()?;
        Ok(match comuni {
            None => all,
            Some(cs) => all.into_iter().filter(|d| cs.contains(&d.comune)).collect(),
        })
    }

    /// Record a heartbeat: last contact, agent version and the health reported.
    pub fn record_heartbeat(
        &self,
        id: u64,
        now: Timestamp,
        agent_version: Option<&str>,
        health: Option<&DeviceHealth>,
    ) -> Result<(), StoreError> {
        let health_json =
            health
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::Corrupt {
                    what: "devices.health_json",
                    value: e.to_string(),
                })?;
        let applied = health
            .and_then(|h| h.config_version)
            .and_then(|v| i64::try_from(v).ok());
        self.write(|c| {
            c.prepare_cached(
                "UPDATE devices SET last_seen_at = ?2, last_heartbeat_at = ?2,
                     agent_version = COALESCE(?3, agent_version),
                     health_json = COALESCE(?4, health_json),
                     applied_config_version = COALESCE(?5, applied_config_version)
                 WHERE id = ?1",
            )?
            .execute(params![
                id as i64,
                now.unix_millis(),
                agent_version,
                health_json,
                applied
            ])?;
            Ok(())
        })
    }

    /// Replace the public key of an enrolled, unrevoked device. `false`: no such device (or
    /// revoked, or not a key-pair device).
    pub fn rotate_public_key(&self, id: u64, key: &[u8; 32]) -> Result<bool, StoreError> {
        self.write_synced(|c| {
            let n = c
                .prepare_cached(
                    "UPDATE devices SET public_key = ?2
                     WHERE id = ?1 AND credential_kind = 'key_pair' AND revoked_at IS NULL",
                )?
                .execute(params![id as i64, &key[..]])?;
            Ok(n == 1)
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

    /// A store in a fresh folder named after `test`, with device `kiosk-1` read once for a
    /// request (so cached); its id and the instant used.
    async fn cached_device(test: &str) -> (Arc<Store>, u64, Timestamp) {
        let store = Arc::new(temp_store(test));
        let t = Timestamp::from_unix_millis(1_000);
        let id = store
            .add_device(&new_device("kiosk-1"), &[1; 16], &[2; 32], t)
            .expect("add");
        store.device_for_request(id).await.expect("read");
        assert!(store.devices.get(id).is_some(), "kept");
        (store, id, t)
    }

    #[tokio::test]
    async fn a_device_read_for_a_request_is_kept_until_its_row_changes() {
        let (store, id, t) = cached_device("device-cache").await;
        let first = store.device_for_request(id).await.expect("read");
        assert!(first.expect("device").revoked_at.is_none());

        // A heartbeat's write drops it, and the next request reads the row again.
        store.touch_device(id, t).expect("touch");
        assert!(store.devices.get(id).is_none(), "dropped by the write");
        let seen = store.device_for_request(id).await.expect("read");
        assert_eq!(seen.expect("device").last_seen_at, Some(t));

        // Revoked in this process (admin API, tests): the very next request sees it.
        store.revoke_device("kiosk-1", t).expect("revoke");
        let after = store.device_for_request(id).await.expect("read");
        assert_eq!(after.expect("device").revoked_at, Some(t));
    }

    #[tokio::test]
    async fn another_processs_commit_empties_the_device_cache_but_a_checkpoint_does_not() {
        let (store, id, _) = cached_device("device-cache-other").await;

        // Another process's connection copies the WAL into the database: no change of data.
        let other = rusqlite::Connection::open(store.path()).expect("other connection");
        other
            .execute_batch("PRAGMA wal_checkpoint(PASSIVE)")
            .expect("checkpoint");
        store.call(|_| Ok(())).await.expect("a batch of calls");
        assert!(
            store.devices.get(id).is_some(),
            "a checkpoint changes nothing"
        );

        // It revokes the device (`channel-adapter device revoke` beside the server): the next
        // batch of the store thread notices, well within the bound on the cache's age.
        other
            .execute(
                "UPDATE devices SET revoked_at = 5 WHERE id = ?1",
                [id as i64],
            )
            .expect("revoke");
        store.call(|_| Ok(())).await.expect("a batch of calls");
        assert!(store.devices.get(id).is_none(), "forgotten");
        let after = store.device_for_request(id).await.expect("read");
        assert_eq!(
            after.expect("device").revoked_at,
            Some(Timestamp::from_unix_millis(5))
        );
    }

    #[tokio::test]
    async fn the_device_cache_is_not_used_when_the_store_thread_has_been_idle() {
        let (store, id, _) = cached_device("device-cache-idle").await;
        std::thread::sleep(std::time::Duration::from_millis(
            super::super::EXTERNAL_CHECK_MS + 20,
        ));
        assert!(
            store.devices.get(id).is_none(),
            "no recent check for other processes' writes"
        );
    }

    #[test]
    fn a_row_read_before_a_change_is_not_kept() {
        let store = temp_store("device-cache-race");
        let t = Timestamp::from_unix_millis(1_000);
        let id = store
            .add_device(&new_device("kiosk-1"), &[1; 16], &[2; 32], t)
            .expect("add");
        let device = store.device(id).expect("read").expect("device");
        let changes = store.devices.changes();
        // The row changes between the read and the moment the reader would keep it.
        store.touch_device(id, t).expect("touch");
        store.devices.remember(&device, changes);
        assert!(store.devices.entries_for_tests().is_empty());
        store.devices.remember(&device, store.devices.changes());
        assert_eq!(store.devices.entries_for_tests(), vec![id]);
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
    fn credential_kinds_are_pinned() {
        for (k, v) in [
            (CredentialKind::Secret, "secret"),
            (CredentialKind::KeyPair, "key_pair"),
        ] {
            assert_eq!(credential_kind_str(k), v);
            assert_eq!(parse_credential_kind(v), Ok(k));
        }
    }

    #[test]
    fn heartbeat_health_round_trips() {
        let store = temp_store("devices-health");
        let t = Timestamp::from_unix_millis(1_000);
        let id = store
            .add_device(&new_device("kiosk-3"), &[1; 16], &[2; 32], t)
            .expect("add");
        let health = DeviceHealth {
            queue_depth: 3,
            config_version: Some(7),
            ..DeviceHealth::default()
        };
        store
            .record_heartbeat(
                id,
                Timestamp::from_unix_millis(2_000),
                Some("1.2"),
                Some(&health),
            )
            .expect("heartbeat");
        let rec = store.device(id).expect("read").expect("exists");
        assert_eq!(rec.health, Some(health));
        assert_eq!(rec.applied_config_version, Some(7));
        assert_eq!(rec.agent_version.as_deref(), Some("1.2"));
        assert_eq!(
            rec.last_heartbeat_at,
            Some(Timestamp::from_unix_millis(2_000))
        );
        assert_eq!(rec.credential, CredentialKind::Secret);
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
