//! The devices recently read to authenticate a request, kept in memory so that a request of a
//! known device costs no trip to the store thread.
//!
//! Why: every device request is authenticated by reading the device's row (its credential,
//! key, revocation). Under load that was three of the twelve store calls of a payment, each a
//! wake-up of the store thread and of the request's task, on the path of every request.
//!
//! A cached row must never outlive a change of the row, above all a revocation:
//! - writes of this process go through the writer connection, whose update hook drops the
//!   changed device's entry as the write is made (before its commit: a request that finds no
//!   entry reads the row on the store thread, which sees the write);
//! - a read that raced with a write is not kept: every change counts in `changes`, and a row
//!   read when the count was different is not remembered;
//! - a group transaction that fails to commit may have dropped or changed rows the cache
//!   holds: everything is forgotten;
//! - other processes (the `channel-adapter device revoke` command, run beside the server)
//!   write through their own connections: the store thread asks SQLite whether another
//!   connection committed (`PRAGMA data_version`) before each batch of calls, and forgets
//!   everything if one did. An entry is used only if that check ran in the last
//!   [`EXTERNAL_CHECK_MS`]: a change made by another process takes effect within that time,
//!   and an idle adapter (no check for longer) reads the row afresh.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use rusqlite::Connection;

use super::{DeviceRecord, StoreError, lock};

/// How recent the check for other processes' commits must be for the cache to be used.
pub const EXTERNAL_CHECK_MS: u64 = 50;

/// See the module documentation.
#[derive(Debug)]
pub(super) struct DeviceCache {
    entries: Mutex<HashMap<u64, DeviceRecord>>,
    /// Changes to devices seen so far (a row, or everything).
    changes: AtomicU64,
    /// The writer connection's `data_version` at the last check; `i64::MIN` before the first.
    data_version: AtomicI64,
    /// When the last check for other connections' commits ran, in ms since `epoch`, plus one
    /// (zero: never).
    checked: AtomicU64,
    epoch: Instant,
}

impl DeviceCache {
    pub(super) fn new() -> DeviceCache {
        DeviceCache {
            entries: Mutex::new(HashMap::new()),
            changes: AtomicU64::new(0),
            data_version: AtomicI64::new(i64::MIN),
            checked: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Device `id`, if cached and the check for other processes' commits is recent.
    pub(super) fn get(&self, id: u64) -> Option<DeviceRecord> {
        let checked = self.checked.load(Ordering::Acquire);
        if checked == 0 || self.now_ms().saturating_sub(checked - 1) > EXTERNAL_CHECK_MS {
            return None;
        }
        lock(&self.entries).get(&id).cloned()
    }

    /// The count of changes, to pass to [`DeviceCache::remember`] for a row read after it.
    pub(super) fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// Keep `device`, read when the count of changes was `changes`, unless something changed
    /// since.
    pub(super) fn remember(&self, device: &DeviceRecord, changes: u64) {
        let mut entries = lock(&self.entries);
        // Under the lock: a change counted after this comparison drops the entry after it.
        if self.changes.load(Ordering::Acquire) == changes {
            entries.insert(device.id, device.clone());
        }
    }

    /// Device `id` changed (`None`: possibly every device).
    pub(super) fn changed(&self, id: Option<u64>) {
        self.changes.fetch_add(1, Ordering::AcqRel);
        let mut entries = lock(&self.entries);
        match id {
            Some(id) => {
                entries.remove(&id);
            }
            None => entries.clear(),
        }
    }

    /// Forget everything if another connection committed since the last check (`conn`: the
    /// writer connection, the only one of this process that writes).
    pub(super) fn check_other_connections(&self, conn: &Connection) -> Result<(), StoreError> {
        let version: i64 = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        let before = self.data_version.swap(version, Ordering::AcqRel);
        if before != version && before != i64::MIN {
            self.changed(None);
        }
        self.checked.store(self.now_ms() + 1, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
impl DeviceCache {
    /// The ids held, in order.
    pub(super) fn entries_for_tests(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = lock(&self.entries).keys().copied().collect();
        ids.sort_unstable();
        ids
    }
}
