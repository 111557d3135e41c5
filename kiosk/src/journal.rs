//! The journal: an append-only, hash-chained log in SQLite, the agent's only durable memory.
//!
//! Every step of a payment is written here before its side effect and after its result
//! (invariant "durable before effect"); recovery at start-up reads nothing else. SQLite runs in
//! WAL mode with `synchronous=FULL`, so a row is on disk when [`Journal::append`] returns, even
//! across a power cut.
//!
//! Each row carries `hash = SHA-256(prev_hash ‖ seq ‖ at ‖ kind ‖ body)`, and a one-row `head`
//! table, updated in the same transaction, holds the last sequence number and hash. Deleting or
//! editing any row breaks the chain or the head, and [`Journal::verify`] says where: a gap in
//! the sequence, a hash that does not match the row's content, a link to a wrong predecessor, or
//! a head that names a row that is not the last. (Someone able to rewrite the whole file and its
//! head consistently is out of reach of any local check; the adapter's copy of the payments is
//! the external witness.)
//!
//! The journal stores opaque `kind` + JSON `body` pairs; what they mean is [`crate::record`]'s.

use std::path::Path;

use channel_api::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// Why the journal failed. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// SQLite failed (disk full, permissions, a locked or damaged file).
    #[error("journal database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The chain is broken at `seq`: rows were deleted, edited or reordered.
    #[error("journal chain broken at entry {seq}: {what}")]
    Broken {
        /// The first entry that does not check out.
        seq: u64,
        /// What is wrong.
        what: String,
    },
    /// A row's body is not what the agent wrote (unknown kind, malformed JSON).
    #[error("journal entry {seq} is unreadable: {reason}")]
    Unreadable {
        /// The entry.
        seq: u64,
        /// Why.
        reason: String,
    },
}

impl JournalError {
    /// Stable machine-readable code: `JOURNAL_SQLITE`, `JOURNAL_BROKEN`, `JOURNAL_UNREADABLE`.
    pub fn code(&self) -> &'static str {
        match self {
            JournalError::Sqlite(_) => "JOURNAL_SQLITE",
            JournalError::Broken { .. } => "JOURNAL_BROKEN",
            JournalError::Unreadable { .. } => "JOURNAL_UNREADABLE",
        }
    }
}

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When it was written (the agent's clock).
    pub at: Timestamp,
    /// What kind of entry (`flow.scanned`, `intent.charge`…).
    pub kind: String,
    /// The JSON body.
    pub body: String,
}

/// What [`Journal::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked.
    pub entries: u64,
    /// The hash of the last entry (hex), the chain's fingerprint.
    pub head: String,
}

const GENESIS: [u8; 32] = [0; 32];

/// The journal: one writer. Not `Sync`; the agent keeps it on one thread.
#[derive(Debug)]
pub struct Journal {
    conn: Connection,
    last_seq: u64,
    last_hash: [u8; 32],
}

fn hash_entry(prev: &[u8; 32], seq: u64, at: Timestamp, kind: &str, body: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(at.unix_millis().to_be_bytes());
    // Lengths first, so that no two (kind, body) pairs hash the same bytes.
    h.update((kind.len() as u64).to_be_bytes());
    h.update(kind.as_bytes());
    h.update((body.len() as u64).to_be_bytes());
    h.update(body.as_bytes());
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn to_array(seq: u64, v: Vec<u8>) -> Result<[u8; 32], JournalError> {
    v.try_into().map_err(|_| JournalError::Broken {
        seq,
        what: "a hash is not 32 bytes".into(),
    })
}

impl Journal {
    /// Open (or create) the journal at `path`: WAL, `synchronous=FULL`, schema created.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let conn = Connection::open(path)?;
        Journal::init(conn)
    }

    /// A journal in memory, for tests.
    pub fn in_memory() -> Result<Journal, JournalError> {
        Journal::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Journal, JournalError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS entries (
                 seq INTEGER PRIMARY KEY,
                 at_ms INTEGER NOT NULL,
                 kind TEXT NOT NULL,
                 body TEXT NOT NULL,
                 prev_hash BLOB NOT NULL,
                 hash BLOB NOT NULL
             );
             CREATE TABLE IF NOT EXISTS head (
                 id INTEGER PRIMARY KEY CHECK (id = 1),
                 seq INTEGER NOT NULL,
                 hash BLOB NOT NULL
             );",
        )?;
        let head: Option<(i64, Vec<u8>)> = conn
            .query_row("SELECT seq, hash FROM head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (last_seq, last_hash) = match head {
            Some((seq, hash)) => {
                let seq = u64::try_from(seq).unwrap_or(0);
                (seq, to_array(seq, hash)?)
            }
            None => (0, GENESIS),
        };
        Ok(Journal {
            conn,
            last_seq,
            last_hash,
        })
    }

    /// The setting SQLite actually applied for `synchronous` (2 is FULL).
    pub fn synchronous(&self) -> Result<i64, JournalError> {
        Ok(self
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))?)
    }

    /// The number of entries written.
    pub fn len(&self) -> u64 {
        self.last_seq
    }

    /// The hash of the last entry (hex): the chain's fingerprint now.
    pub fn head(&self) -> String {
        hex(&self.last_hash)
    }

    /// Whether nothing was ever written.
    pub fn is_empty(&self) -> bool {
        self.last_seq == 0
    }

    /// Append an entry; it is on disk when this returns. Returns its sequence number.
    pub fn append(&mut self, at: Timestamp, kind: &str, body: &str) -> Result<u64, JournalError> {
        let seq = self.last_seq + 1;
        let hash = hash_entry(&self.last_hash, seq, at, kind, body);
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO entries (seq, at_ms, kind, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![seq as i64, at.unix_millis(), kind, body, &self.last_hash[..], &hash[..]],
        )?;
        tx.execute(
            "INSERT INTO head (id, seq, hash) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            params![seq as i64, &hash[..]],
        )?;
        tx.commit()?;
        self.last_seq = seq;
        self.last_hash = hash;
        Ok(seq)
    }

    /// Every entry, in order.
    pub fn entries(&self) -> Result<Vec<Entry>, JournalError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, at_ms, kind, body FROM entries ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok(Entry {
                seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                at: Timestamp::from_unix_millis(r.get(1)?),
                kind: r.get(2)?,
                body: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Check the whole chain and the head. See the module documentation.
    pub fn verify(&self) -> Result<Verified, JournalError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, at_ms, kind, body, prev_hash, hash FROM entries ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        let mut expected_seq = 1u64;
        let mut prev = GENESIS;
        while let Some(r) = rows.next()? {
            let seq = u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0);
            if seq != expected_seq {
                return Err(JournalError::Broken {
                    seq: expected_seq,
                    what: format!("entry {expected_seq} is missing (next is {seq})"),
                });
            }
            let at = Timestamp::from_unix_millis(r.get(1)?);
            let kind: String = r.get(2)?;
            let body: String = r.get(3)?;
            let stored_prev = to_array(seq, r.get(4)?)?;
            let stored = to_array(seq, r.get(5)?)?;
            if stored_prev != prev {
                return Err(JournalError::Broken {
                    seq,
                    what: "it does not follow the previous entry".into(),
                });
            }
            if hash_entry(&prev, seq, at, &kind, &body) != stored {
                return Err(JournalError::Broken {
                    seq,
                    what: "its content does not match its hash (edited)".into(),
                });
            }
            prev = stored;
            expected_seq += 1;
        }
        let entries = expected_seq - 1;
        let head: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row("SELECT seq, hash FROM head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        match head {
            None if entries == 0 => {}
            None => {
                return Err(JournalError::Broken {
                    seq: entries,
                    what: "the head record is missing".into(),
                });
            }
            Some((seq, hash)) => {
                if u64::try_from(seq).ok() != Some(entries) || hash != prev {
                    return Err(JournalError::Broken {
                        seq: entries + 1,
                        what: format!(
                            "the head names entry {seq}, the chain ends at {entries}: entries were removed from the end"
                        ),
                    });
                }
            }
        }
        Ok(Verified {
            entries,
            head: hex(&prev),
        })
    }

    /// The raw connection, for tests that tamper with the file.
    #[doc(hidden)]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(ms)
    }

    fn journal_with(n: u64) -> Journal {
        let mut j = Journal::in_memory().expect("open");
        for i in 0..n {
            j.append(t(i as i64), "test.step", &format!("{{\"i\":{i}}}"))
                .expect("append");
        }
        j
    }

    #[test]
    fn appends_chain_and_verify() {
        let j = journal_with(5);
        let v = j.verify().expect("intact");
        assert_eq!(v.entries, 5);
        assert_eq!(v.head.len(), 64);
        let entries = j.entries().expect("read");
        assert_eq!(entries.len(), 5);
        assert_eq!(entries[2].body, "{\"i\":2}");
        assert_eq!(entries[4].seq, 5);
    }

    #[test]
    fn durable_settings_are_applied() {
        let dir = std::env::temp_dir().join(format!("kiosk-journal-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("j.db");
        let _ = std::fs::remove_file(&path);
        let mut j = Journal::open(&path).expect("open");
        assert_eq!(j.synchronous().expect("pragma"), 2, "synchronous=FULL");
        let mode: String = j
            .connection()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(mode, "wal");
        j.append(t(1), "a", "{}").expect("append");
        drop(j);
        let mut j = Journal::open(&path).expect("reopen");
        assert_eq!(j.len(), 1);
        j.append(t(2), "b", "{}")
            .expect("append after reopen continues the chain");
        assert_eq!(j.verify().expect("intact").entries, 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_edited_entry_is_detected() {
        let j = journal_with(4);
        j.connection()
            .execute("UPDATE entries SET body = '{\"i\":99}' WHERE seq = 2", [])
            .expect("tamper");
        match j.verify() {
            Err(JournalError::Broken { seq, what }) => {
                assert_eq!(seq, 2);
                assert!(what.contains("edited"), "{what}");
            }
            other => panic!("tampering not detected: {other:?}"),
        }
    }

    #[test]
    fn a_deleted_entry_is_detected() {
        let j = journal_with(4);
        j.connection()
            .execute("DELETE FROM entries WHERE seq = 3", [])
            .expect("delete");
        match j.verify() {
            Err(e @ JournalError::Broken { seq: 3, .. }) => assert_eq!(e.code(), "JOURNAL_BROKEN"),
            other => panic!("deletion not detected: {other:?}"),
        }
    }

    #[test]
    fn renumbering_after_a_deletion_is_detected() {
        let j = journal_with(4);
        let c = j.connection();
        c.execute("DELETE FROM entries WHERE seq = 2", [])
            .expect("delete");
        c.execute("UPDATE entries SET seq = seq - 1 WHERE seq > 2", [])
            .expect("renumber");
        assert!(matches!(
            j.verify(),
            Err(JournalError::Broken { seq: 2, .. })
        ));
    }

    #[test]
    fn a_truncated_tail_is_detected() {
        let j = journal_with(4);
        j.connection()
            .execute("DELETE FROM entries WHERE seq = 4", [])
            .expect("delete");
        assert!(matches!(
            j.verify(),
            Err(JournalError::Broken { seq: 4, .. })
        ));
    }
}
