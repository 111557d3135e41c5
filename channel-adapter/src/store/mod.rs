//! The adapter's durable state: SQLite in WAL mode, one writer, versioned migrations.
//!
//! Everything the adapter knows lives here: registered devices, payments and their states, the
//! journal of every Nodo call (written before the call and completed after it: invariant
//! "durable before effect"), and the outcome outbox. Recovery after a crash reads only these
//! tables.
//!
//! Concurrency: one writer connection behind a mutex (SQLite allows one writer anyway, and a
//! single one avoids `SQLITE_BUSY` storms); other threads read with a small pool of read-only
//! connections, which WAL lets run alongside the writer. Every method is blocking; async code
//! goes through [`Store::call`], which runs the closure on the store's own thread so the
//! runtime's worker threads never wait on the disk. That thread runs every call queued, one
//! after the other, in one group transaction, commits once, and then answers each caller
//! directly. Why one thread rather than tokio's blocking pool: under load a payment makes
//! about a dozen store calls, and on a pool each was a wake-up of a pool thread, a fight for
//! the writer lock and a wait on a condition variable for the group's commit; the context
//! switches cost more CPU than SQLite. The store thread, busy under load, takes its calls from
//! a queue without sleeping between them and wakes each caller once; its calls read through
//! the writer connection. Long reads go through [`Store::read_call`] instead, on the pool, so
//! that they hold up no other call.
//!
//! Durability, and why commits are grouped: on this kind of disk an `fsync` takes milliseconds,
//! so a store that synced every commit (SQLite's `synchronous=FULL`) would serialise the whole
//! adapter behind the disk (a payment makes about ten writes). Instead the writer commits with
//! `synchronous=NORMAL` (in WAL mode each commit survives a crash of the adapter at once), and
//! a write that must survive a power loss before its effect — the journal row of an activation
//! or an outcome about to be sent, a device's outcome about to be acknowledged, a new device —
//! waits until the WAL file has been flushed to the disk *after* its commit ([`Sync::Full`]).
//! One flush covers every commit before it, so concurrent writers share flushes (group commit)
//! and the flush runs outside the writer lock, while the next commits proceed. Writes whose
//! loss on power failure recovery repairs from the journal (a call's answer, a state change
//! after an answer: the call is simply made again with the same key and the Nodo replays its
//! answer) only wait for their commit. With [`Sync::Normal`] nothing waits for the disk: every
//! commit survives a crash of the adapter, but a power loss may take the last ones.
//!
//! On-disk values (payment states, tenders, call results) are fixed strings pinned by tests:
//! changing one needs a migration.

mod closings;
mod device_cache;
mod devices;
pub mod fleet;
mod journal;
mod outbox;
mod payments;

pub use closings::ClosingRecorded;
pub use device_cache::EXTERNAL_CHECK_MS;
pub use devices::{DeviceRecord, NewDevice};
pub use journal::{CallId, CallRecord, CallResult, FinishedCall};
pub use outbox::{OutboxHead, OutboxRecord, OutboxStats};
pub use payments::{
    ActivatedInfo, NewOfflinePayment, NewPayment, OutcomeRecorded, PaymentInsert, PaymentRecord,
    ResolutionRecorded,
};

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Why the store failed. The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite reported an error (disk full, locked, corrupt file…).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer adapter.
    #[error(
        "the database schema is version {found}, newer than this adapter's {supported}: upgrade the adapter"
    )]
    SchemaTooNew {
        /// The file's version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// A stored value is not what this adapter wrote (manual edit, bug).
    #[error("unexpected stored value in {what}: {value:?}")]
    Corrupt {
        /// Table and column.
        what: &'static str,
        /// The value found.
        value: String,
    },
    /// A device name is already registered.
    #[error("a device named {0:?} already exists")]
    DeviceNameTaken(String),
    /// No such device.
    #[error("no device {0}")]
    DeviceNotFound(String),
    /// No such payment.
    #[error("no payment {0}")]
    PaymentNotFound(String),
    /// No such journal entry, or already finished.
    #[error("no open Nodo call {0}")]
    CallNotOpen(i64),
    /// The blocking task was cancelled or panicked.
    #[error("store task failed: {0}")]
    Task(String),
    /// The write-ahead log could not be flushed to the disk.
    #[error("cannot flush the write-ahead log to the disk: {0}")]
    Flush(String),
    /// The transaction this write was grouped into could not be committed: the write is lost.
    #[error("the write could not be committed: {0}")]
    Commit(String),
}

impl StoreError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Sqlite(_) => "STORE_SQLITE",
            StoreError::SchemaTooNew { .. } => "STORE_SCHEMA_TOO_NEW",
            StoreError::Corrupt { .. } => "STORE_CORRUPT",
            StoreError::DeviceNameTaken(_) => "STORE_DEVICE_NAME_TAKEN",
            StoreError::DeviceNotFound(_) => "STORE_DEVICE_NOT_FOUND",
            StoreError::PaymentNotFound(_) => "STORE_PAYMENT_NOT_FOUND",
            StoreError::CallNotOpen(_) => "STORE_CALL_NOT_OPEN",
            StoreError::Task(_) => "STORE_TASK",
            StoreError::Flush(_) => "STORE_FLUSH",
            StoreError::Commit(_) => "STORE_COMMIT",
        }
    }
}

/// The migrations, in order; `user_version` is the number applied. Never edit a released
/// migration: append a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_outbox_worker.sql"),
    include_str!("migrations/0003_closings_resolutions.sql"),
    include_str!("migrations/0004_fleet.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Read connections kept open for reuse.
const MAX_IDLE_READERS: usize = 128;

/// How much durability writes that ask for it get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// Writes that need it wait until the write-ahead log is on the disk: they survive a power
    /// loss.
    Full,
    /// No write waits for the disk: every commit survives a crash of the adapter, but a power
    /// loss or an operating system crash may lose the last ones. For storage whose write cache
    /// survives power loss, or for tests and benchmarks.
    Normal,
}

/// The store's writing operations inside one transaction, so that a caller can make several
/// of them atomically, and without a separate commit each ([`Store::write_tx`], and the
/// Nodo gateway's hooks around a call). Each [`Store`] method of the same name is that one
/// operation alone.
#[derive(Debug, Clone, Copy)]
pub struct Tx<'a> {
    c: &'a Connection,
}

/// How the store's writes were grouped so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// Writes.
    pub writes: u64,
    /// Transactions committed (each holds one or more writes).
    pub commits: u64,
    /// Flushes of the WAL to the disk (each covers every commit before it).
    pub flushes: u64,
}

/// The writer connection and the transaction open on it, if any.
#[derive(Debug)]
struct Writer {
    conn: Connection,
    /// The open group transaction: its number and how many writes it holds.
    open: Option<(u64, usize)>,
    /// The number of the last group transaction begun.
    begun: u64,
}

impl Writer {
    /// Count one more write in the open group transaction, beginning one if none is open; the
    /// group's number and how many writes it held before this one.
    fn join_group(&mut self) -> Result<(u64, usize), StoreError> {
        let (group, ops) = match self.open {
            Some(open) => open,
            None => {
                self.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
                self.begun += 1;
                (self.begun, 0)
            }
        };
        self.open = Some((group, ops + 1));
        Ok((group, ops))
    }
}

/// Group transactions that have ended.
#[derive(Debug, Default)]
struct Ended {
    /// The last group transaction that ended (committed or not).
    last: u64,
    /// The recent ones that failed to commit, with why.
    failed: std::collections::VecDeque<(u64, String)>,
}

/// The most writes grouped in one transaction: a bound on how long the first one waits.
const MAX_GROUP: usize = 128;

/// Flushes of the write-ahead log, shared between writers (group commit).
#[derive(Debug, Default)]
struct Flushes {
    /// Commits up to this number are known to be on the disk.
    flushed: u64,
    /// A flush is running.
    running: bool,
}

/// The WAL flushing machinery, shared with the flusher thread.
#[derive(Debug)]
struct Flush {
    wal_path: PathBuf,
    /// The number of the last group transaction committed.
    committed: AtomicU64,
    /// Flushes of the WAL so far.
    count: AtomicU64,
    state: Mutex<Flushes>,
    cv: Condvar,
    wal: Mutex<Option<File>>,
}

impl Flush {
    /// Wait until commit `n` is on the disk: join the flush running, or run one. A flush
    /// covers every commit made before it started.
    fn flush_up_to(&self, n: u64) -> Result<(), StoreError> {
        let mut st = lock(&self.state);
        loop {
            if st.flushed >= n {
                return Ok(());
            }
            if st.running {
                st = self
                    .cv
                    .wait(st)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            st.running = true;
            let target = self.committed.load(Ordering::Acquire);
            drop(st);
            let result = self.flush_wal();
            self.count.fetch_add(1, Ordering::Relaxed);
            st = lock(&self.state);
            st.running = false;
            if result.is_ok() {
                st.flushed = st.flushed.max(target);
            }
            self.cv.notify_all();
            result?;
        }
    }

    /// `fdatasync` the WAL file. On Linux a flush through any descriptor of a file writes all
    /// of its dirty pages, including those SQLite wrote through its own.
    fn flush_wal(&self) -> Result<(), StoreError> {
        let mut wal = lock(&self.wal);
        if wal.is_none() {
            let f = File::open(&self.wal_path)
                .map_err(|e| StoreError::Flush(format!("{}: {e}", self.wal_path.display())))?;
            *wal = Some(f);
        }
        match wal.as_ref() {
            Some(f) => f.sync_data().map_err(|e| StoreError::Flush(e.to_string())),
            None => Ok(()),
        }
    }
}

/// What the store thread does with a call once its writes are committed (and flushed, if it
/// needs that): hands the call's result to its caller, or the failure that lost its writes.
type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// Calls that may be answered once the WAL is on the disk up to commit `upto`.
struct FlushRequest {
    upto: u64,
    done: Vec<Done>,
}

/// Start a named thread of the store.
fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> Result<(), StoreError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(body)
        .map(|_| ())
        .map_err(|e| StoreError::Task(format!("cannot start the {name} thread: {e}")))
}

/// Runs the flushes that [`Store::call`]s wait for, so that neither a runtime thread nor the
/// store thread waits for the disk, and answers those calls. Ends when the store is dropped.
fn start_flusher(flush: Arc<Flush>) -> Result<std::sync::mpsc::Sender<FlushRequest>, StoreError> {
    let (tx, rx) = std::sync::mpsc::channel::<FlushRequest>();
    spawn("store-flush", move || {
        while let Ok(first) = rx.recv() {
            // One flush for every request queued meanwhile.
            let FlushRequest { mut upto, mut done } = first;
            while let Ok(more) = rx.try_recv() {
                upto = upto.max(more.upto);
                done.extend(more.done);
            }
            let result = flush.flush_up_to(upto).map_err(|e| match e {
                StoreError::Flush(why) => why,
                other => other.to_string(),
            });
            if let Err(why) = &result {
                tracing::error!(error = %why, "cannot flush the WAL");
            }
            for d in done {
                d(result.clone().map_err(StoreError::Flush));
            }
        }
    })?;
    Ok(tx)
}

/// A [`Store::call`] for the store thread: runs the closure, and returns how to answer it.
struct Job {
    store: Arc<Store>,
    run: Box<dyn FnOnce(&Store) -> Done + Send>,
}

/// Starts the store thread, which runs [`Store::call`]s (see [`run_calls`]). Ends when the
/// store is dropped.
fn start_store_thread() -> Result<std::sync::mpsc::Sender<Job>, StoreError> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    spawn("store-calls", move || {
        while let Ok(first) = rx.recv() {
            run_calls(first, &rx);
        }
    })?;
    Ok(tx)
}

/// Run `first` and the calls queued behind it, including those that arrive meanwhile (at
/// most [`MAX_GROUP`]), every call's writes in the one group transaction; commit it, then
/// answer each call: at once, or once the WAL is flushed if one of its writes needs that
/// ([`Sync::Full`]). A call is never answered before its writes are committed: a caller that
/// got its answer can rely on them, as with a commit of its own. The calls that arrive while
/// the group runs join it rather than wait for its commit and then make their own: under
/// load the groups grow, and the commits (the dearest part: every page the group touched
/// is written to the WAL) stay few.
fn run_calls(first: Job, queue: &std::sync::mpsc::Receiver<Job>) {
    // The calls hold the store; the thread does not between groups, so that the store (which
    // holds the sending end of the queue) can be dropped, which ends the thread.
    let store = Arc::clone(&first.store);
    if let Err(e) = store
        .devices
        .check_other_connections(&lock(&store.writer).conn)
    {
        tracing::warn!(error = %e, "cannot check for other processes' writes");
    }
    let mut ran = Vec::new();
    let mut next = Some(first);
    while let Some(job) = next {
        CALL.set(Some(CallWrites::default()));
        let done = (job.run)(&store);
        ran.push((done, CALL.take().unwrap_or_default()));
        next = if ran.len() < MAX_GROUP {
            queue.try_recv().ok()
        } else {
            None
        };
    }
    // A failure is recorded in `ended`, where each call finds it below.
    let _ = store.end_open_group();
    let lost: Vec<Option<String>> = {
        let ended = lock(&store.ended);
        ran.iter()
            .map(|(_, writes)| {
                writes.groups.iter().find_map(|g| {
                    ended
                        .failed
                        .iter()
                        .find(|(failed, _)| failed == g)
                        .map(|(_, why)| why.clone())
                })
            })
            .collect()
    };
    let mut flush = FlushRequest {
        upto: 0,
        done: Vec::new(),
    };
    for ((done, writes), lost) in ran.into_iter().zip(lost) {
        match lost {
            Some(why) => done(Err(StoreError::Commit(why))),
            None if writes.synced && store.sync == Sync::Full => {
                flush.upto = flush
                    .upto
                    .max(writes.groups.iter().copied().max().unwrap_or(0));
                flush.done.push(done);
            }
            None => done(Ok(())),
        }
    }
    if !flush.done.is_empty()
        && let Err(std::sync::mpsc::SendError(request)) = store.flusher.send(flush)
    {
        for done in request.done {
            done(Err(StoreError::Flush("the flusher thread stopped".into())));
        }
    }
    // Every call of the group is answered: the end of a checkpoint delays none of them.
    store.finish_checkpoint();
}

/// What the store thread knows of the call it is running.
#[derive(Debug, Default)]
struct CallWrites {
    /// The group transactions the call wrote in, or read from while they were open: it is
    /// answered only once they are committed, and fails if one of them could not be.
    groups: Vec<u64>,
    /// One of its writes must be on the disk before the call is answered.
    synced: bool,
    /// Inside one of its writes (a savepoint of the open group).
    writing: bool,
}

thread_local! {
    /// Set on the store thread while it runs a [`Store::call`]: the call's writes then join
    /// the open group transaction and leave it open (see [`run_calls`]).
    static CALL: std::cell::RefCell<Option<CallWrites>> = const { std::cell::RefCell::new(None) };
}

/// The store. Share it as `Arc<Store>`.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    sync: Sync,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
    /// Writers that have announced themselves and not yet run (see [`Store::commit`]).
    queued: std::sync::atomic::AtomicUsize,
    ended: Mutex<Ended>,
    ended_cv: Condvar,
    /// Commits made by the writer so far.
    commits: AtomicU64,
    /// Writes (each grouped into some commit) so far.
    writes: AtomicU64,
    /// Wakes the checkpointer.
    checkpoint: std::sync::mpsc::SyncSender<()>,
    /// Raised by the checkpointer: the store thread is to copy the rest of the WAL.
    finish_checkpoint: Arc<std::sync::atomic::AtomicBool>,
    flush: Arc<Flush>,
    /// Asks the flusher thread for a flush.
    flusher: std::sync::mpsc::Sender<FlushRequest>,
    /// Queues calls for the store thread.
    calls: std::sync::mpsc::Sender<Job>,
    /// Devices read to authenticate requests.
    devices: Arc<device_cache::DeviceCache>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-done transaction behind
    // (rusqlite rolls back on drop), so the connection is still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Every statement of the store, prepared once per connection.
    conn.set_prepared_statement_cache_capacity(128);
    // Each write runs in a savepoint (see `Store::commit`), whose undo copies of pages would
    // otherwise go to a temporary file.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

/// Commits between two checkpoints of the WAL into the database file. A checkpoint writes
/// every page changed since the last one to the database file and flushes it; meanwhile the
/// disk makes the WAL flushes that writers wait for wait too, so the smaller each checkpoint,
/// the shorter those waits. Under load (about 1 000 payments/s: a few thousand commits per
/// second) a checkpoint every 2 048 commits took 6 – 7 ms on average and up to 28 ms, growing
/// with the database, and made most of the load benchmark's p99; every 256 commits, with
/// [`CHECKPOINT_CATCH_UP_FRAMES`] at 32, about 2 ms (up to 11), and p99 added fell from
/// 9.6 – 13.3 ms to 6.6 – 6.9 (30 s runs, 2026-11-27; 512: 7.1 – 9.7). (Before the WAL was
/// reused, every 256 commits had been worse: each checkpoint then read an ever longer WAL.) At
/// normal traffic the WAL holds a few megabytes before it is copied.
const CHECKPOINT_EVERY: u64 = 256;

/// The checkpointer copies again while the writers added more than this many frames during
/// its last pass, so that the pass left for the store thread (see [`start_checkpointer`]) is
/// short: it holds up every call. At 256 frames that pass took 7 – 8 ms on average under load
/// (up to 22); at 32, 3 – 4 ms (up to 12), at 16 little less for more background passes.
const CHECKPOINT_CATCH_UP_FRAMES: i64 = 32;

/// Once the WAL holds this many frames (256 MiB of 4 KiB pages) the store thread finishes a
/// checkpoint so that the WAL starts afresh (see [`start_checkpointer`]). That holds up the
/// store thread for a flush of the database file and the next commit for a flush of the WAL's
/// header, 2 to 5 ms on the test machine under load (about every 2 s at 1 000 payments/s):
/// doing it at every checkpoint made the load benchmark's p99 worse (added 11.6 to 22.4 ms
/// against 10.0 to 13.7 at one in four of the checkpoints then made every 2 048 commits, three
/// runs each); a limit four times higher made it rarer but no better. At normal traffic the
/// background copy catches up between two commits and SQLite restarts the WAL by itself, long
/// before this. The unit tests use a small limit to see it happen.
const WAL_RESTART_FRAMES: i64 = if cfg!(test) { 4096 } else { 65_536 };

/// At most this many background passes per checkpoint: writers faster than the copy must not
/// keep the thread going for ever.
const CHECKPOINT_MAX_PASSES: usize = 8;

/// Checkpoints the WAL in two steps so that writers never wait for the copy, and so that the
/// WAL is reused from its start rather than growing for as long as writes continue.
///
/// Why two steps: SQLite starts writing the WAL from its beginning again only when a write
/// transaction begins while every frame in it has been copied into the database file. A
/// checkpoint on another connection copies only the frames committed before it started; under
/// sustained load more are committed meanwhile, so that moment never came and the WAL grew
/// without bound (1.2 GB in 8 seconds of the load benchmark), while each checkpoint, reading
/// an ever longer WAL, took up to 100 ms of a core and stalled the requests behind it. SQLite's
/// blocking modes (FULL, RESTART) would stop the writers for the whole copy instead.
///
/// So this thread, on its own connection, copies the bulk in passes (PASSIVE: it waits for
/// nobody) until a pass finds few new frames; once the WAL holds [`WAL_RESTART_FRAMES`] it
/// then raises `finish`, and the store thread, between two group transactions, copies what is left
/// on the writer connection (see [`Store::finish_checkpoint`]): no commit can come in between,
/// so the WAL is then copied entirely and the next transaction restarts it. Ends when the
/// store is dropped.
fn start_checkpointer(
    path: &Path,
    finish: Arc<std::sync::atomic::AtomicBool>,
) -> Result<std::sync::mpsc::SyncSender<()>, StoreError> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                // Frames in the WAL at the start of the last pass, all copied by it.
                let mut frames = 0;
                for _ in 0..CHECKPOINT_MAX_PASSES {
                    match passive_checkpoint(&conn) {
                        Ok(now) => {
                            // More frames came during the last pass than the store thread
                            // should copy: another pass.
                            let added = now - frames;
                            frames = now;
                            if added <= CHECKPOINT_CATCH_UP_FRAMES {
                                break;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "WAL checkpoint failed");
                            break;
                        }
                    }
                }
                if frames >= WAL_RESTART_FRAMES {
                    finish.store(true, Ordering::Release);
                }
            }
        })
        .map_err(|e| StoreError::Task(format!("cannot start the checkpointer: {e}")))?;
    Ok(tx)
}

/// Copy the WAL's committed frames into the database file without waiting for anyone; the
/// number of frames in the WAL when it started.
fn passive_checkpoint(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))?)
}

impl Store {
    /// Open (creating if needed) the database at `path`, with [`Sync::Full`], and bring its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, Sync::Full)
    }

    /// [`Store::open`] with the given durability.
    pub fn open_with(path: &Path, sync: Sync) -> Result<Store, StoreError> {
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        // WAL: readers never block the writer nor the other way round, and a commit is one
        // append. NORMAL: commits do not wait for the disk; the writes that must do wait for
        // an explicit flush of the WAL (see the module documentation).
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "synchronous", "NORMAL")?;
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        migrate(&mut writer)?;
        let devices = Arc::new(device_cache::DeviceCache::new());
        let hooked = Arc::clone(&devices);
        writer.update_hook(Some(move |_, _: &str, table: &str, rowid: i64| {
            if table == "devices" {
                hooked.changed(u64::try_from(rowid).ok());
            }
        }));
        let finish_checkpoint = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let checkpoint = start_checkpointer(path, Arc::clone(&finish_checkpoint))?;
        let mut wal_path = path.to_owned().into_os_string();
        wal_path.push("-wal");
        let flush = Arc::new(Flush {
            wal_path: PathBuf::from(wal_path),
            committed: AtomicU64::new(0),
            count: AtomicU64::new(0),
            state: Mutex::new(Flushes::default()),
            cv: Condvar::new(),
            wal: Mutex::new(None),
        });
        let flusher = start_flusher(Arc::clone(&flush))?;
        let calls = start_store_thread()?;
        let store = Store {
            path: path.to_owned(),
            sync,
            writer: Mutex::new(Writer {
                conn: writer,
                open: None,
                begun: 0,
            }),
            readers: Mutex::new(Vec::new()),
            queued: std::sync::atomic::AtomicUsize::new(0),
            ended: Mutex::new(Ended::default()),
            ended_cv: Condvar::new(),
            commits: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            checkpoint,
            finish_checkpoint,
            flush,
            flusher,
            calls,
            devices,
        };
        // Whatever migrations wrote is on the disk before anything else happens.
        store.write_synced(|_| Ok(()))?;
        Ok(store)
    }

    /// The durability writes get.
    pub fn sync(&self) -> Sync {
        self.sync
    }

    /// Writes, commits and flushes of the WAL so far (for the metrics: their ratios show the
    /// grouping).
    pub fn write_counts(&self) -> WriteCounts {
        WriteCounts {
            writes: self.writes.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            flushes: self.flush.count.load(Ordering::Relaxed),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.read(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
    }

    /// Make several writes in one transaction; `synced`: return only once they are on the
    /// disk (with [`Sync::Full`]), for writes that must survive a power loss before an effect.
    pub fn write_tx<R>(
        &self,
        synced: bool,
        f: impl FnOnce(&Tx<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let run = |c: &mut Connection| f(&Tx { c });
        if synced {
            self.write_synced(run)
        } else {
            self.write(run)
        }
    }

    /// Run `f` with the writer connection. Its commits survive a crash of the adapter; after
    /// a power loss recovery repairs what they said (see the module documentation).
    fn write<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.commit(f).map(|(r, _)| r)
    }

    /// Run `f` with the writer connection and, with [`Sync::Full`], return only once its
    /// commits are on the disk: for a write that must survive a power loss before its effect.
    /// Inside [`Store::call`] the wait is left to the flusher thread, which answers the call.
    fn write_synced<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let (r, n) = self.commit(f)?;
        if self.sync == Sync::Full {
            let in_call = CALL.with_borrow_mut(|c| c.as_mut().map(|c| c.synced = true).is_some());
            if !in_call {
                self.flush.flush_up_to(n)?;
            }
        }
        Ok(r)
    }

    /// Run `f` in the open group transaction (beginning one if none is open) and return once
    /// that transaction is committed, with its number.
    ///
    /// Why group: a commit writes every page the transaction touched to the WAL; concurrent
    /// writes of the adapter touch the same pages (the payments table and its indexes, the
    /// journal), so committing them together writes each page once. The protocol: a writer
    /// announces itself (`queued`), takes the lock, runs `f` inside a savepoint of the open
    /// transaction, and leaves; the last writer out — nobody else announced — commits, and the
    /// others wait for that commit. A transaction holds at most [`MAX_GROUP`] writes. `f`'s
    /// own transactions are savepoints, so a failing write rolls back alone. On the store
    /// thread see [`Store::commit_in_call`].
    fn commit<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StoreError>,
    ) -> Result<(R, u64), StoreError> {
        if CALL.with_borrow(Option::is_some) {
            return self.commit_in_call(f);
        }
        /// Withdraws the announcement if the writer leaves early (error, panic).
        struct Announced<'a>(&'a std::sync::atomic::AtomicUsize, bool);
        impl Drop for Announced<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    self.0.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
        self.queued.fetch_add(1, Ordering::AcqRel);
        let mut announced = Announced(&self.queued, false);
        let mut w = lock(&self.writer);
        let (group, ops) = w.join_group()?;
        let result = run_in_savepoint(&mut w.conn, f);
        self.writes.fetch_add(1, Ordering::Relaxed);
        announced.1 = true;
        let last = self.queued.fetch_sub(1, Ordering::AcqRel) == 1;
        if last || ops + 1 >= MAX_GROUP {
            self.end_group(&mut w)?;
        } else {
            drop(w);
            let mut ended = lock(&self.ended);
            while ended.last < group {
                ended = self
                    .ended_cv
                    .wait(ended)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if let Some((_, why)) = ended.failed.iter().find(|(g, _)| *g == group) {
                return Err(StoreError::Commit(why.clone()));
            }
        }
        result.map(|r| (r, group))
    }

    /// [`Store::commit`] for a [`Store::call`] on the store thread: the write joins the open
    /// group transaction (beginning one if none is open) and leaves it open; the store thread
    /// commits it once every queued call has run, and answers the calls only then.
    fn commit_in_call<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StoreError>,
    ) -> Result<(R, u64), StoreError> {
        let mut w = lock(&self.writer);
        let (group, ops) = w.join_group()?;
        let writing = |on: bool| {
            CALL.with_borrow_mut(|c| {
                if let Some(c) = c {
                    c.writing = on;
                    if on && !c.groups.contains(&group) {
                        c.groups.push(group);
                    }
                }
            });
        };
        writing(true);
        let result = run_in_savepoint(&mut w.conn, f);
        writing(false);
        self.writes.fetch_add(1, Ordering::Relaxed);
        if ops + 1 >= MAX_GROUP {
            self.end_group(&mut w)?;
        }
        result.map(|r| (r, group))
    }

    /// The last pass of a checkpoint the checkpointer has asked for, if it has (see
    /// [`start_checkpointer`]): on the writer connection, between two group transactions, so
    /// that no commit comes in between and the next transaction starts the WAL afresh.
    fn finish_checkpoint(&self) {
        if !self.finish_checkpoint.load(Ordering::Acquire) {
            return;
        }
        let w = lock(&self.writer);
        // A writer off the store thread has a group open: try again after the next group.
        if w.open.is_some() {
            return;
        }
        self.finish_checkpoint.store(false, Ordering::Release);
        if let Err(e) = passive_checkpoint(&w.conn) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }

    /// Commit the group transaction the store thread's calls left open, if any.
    fn end_open_group(&self) -> Result<(), StoreError> {
        self.end_group(&mut lock(&self.writer))
    }

    /// Commit the open group transaction, if any, and record how it ended for its writers.
    fn end_group(&self, w: &mut Writer) -> Result<(), StoreError> {
        let Some((group, _)) = w.open.take() else {
            return Ok(());
        };
        let committed = w
            .conn
            .prepare_cached("COMMIT")
            .and_then(|mut st| st.execute([]).map(|_| ()));
        if committed.is_err() && !w.conn.is_autocommit() {
            let _ = w.conn.execute_batch("ROLLBACK");
        }
        let mut ended = lock(&self.ended);
        ended.last = group;
        match &committed {
            Ok(()) => {
                self.flush.committed.store(group, Ordering::Release);
                let n = self.commits.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(CHECKPOINT_EVERY) {
                    // Full channel: a checkpoint is already pending, which will do.
                    let _ = self.checkpoint.try_send(());
                }
            }
            Err(e) => {
                // The group's writes are undone: the cache may hold some of them.
                self.devices.changed(None);
                ended.failed.push_back((group, e.to_string()));
                if ended.failed.len() > 64 {
                    ended.failed.pop_front();
                }
            }
        }
        drop(ended);
        self.ended_cv.notify_all();
        committed.map_err(|e| StoreError::Commit(e.to_string()))
    }

    /// Run `f` with a read-only connection from the pool.
    fn read<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        // A call on the store thread reads with the writer connection: it then sees its own
        // writes, which are not committed yet (the pool's connections see only commits), and
        // skips the file locking a read transaction of its own costs. What it reads may be
        // another call's write in the same group: it counts as written in that group, and
        // is answered, like the writers, only if the group commits.
        let in_call = CALL.with_borrow(|c| c.as_ref().is_some_and(|c| !c.writing));
        if in_call {
            let w = lock(&self.writer);
            if let Some((group, _)) = w.open {
                CALL.with_borrow_mut(|c| {
                    if let Some(c) = c
                        && !c.groups.contains(&group)
                    {
                        c.groups.push(group);
                    }
                });
            }
            return f(&w.conn);
        }
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                configure(&c)?;
                c
            }
        };
        let result = f(&conn);
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    /// Run blocking store work from async code, on the store thread (see the module
    /// documentation), so that the runtime's threads never wait for the writer or the disk.
    /// `f`'s writes are committed, and those that must reach the disk ([`Sync::Full`]) flushed,
    /// before the result is returned; neither the store thread nor a runtime thread waits for
    /// the flush meanwhile.
    pub async fn call<R, F>(self: &Arc<Self>, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Store) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job {
            store: Arc::clone(self),
            run: Box::new(move |store: &Store| -> Done {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(store)))
                    .unwrap_or_else(|_| Err(StoreError::Task("a store call panicked".into())));
                Box::new(move |ended: Result<(), StoreError>| {
                    // The caller may have gone (its request was cancelled): nothing to tell.
                    let _ = tx.send(ended.and(result));
                })
            }),
        };
        self.calls
            .send(job)
            .map_err(|_| StoreError::Task("the store thread stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Task("the store thread dropped a call".into()))?
    }

    /// Run store work that only reads from async code, on tokio's blocking pool with a
    /// connection of the read pool, alongside the store thread: for reads that may take long
    /// (scans for listings and metrics), which on the store thread would hold up every other
    /// call meanwhile. `f` sees what is committed.
    pub async fn read_call<R, F>(self: &Arc<Self>, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Store) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// Run `f` inside a savepoint: rolled back alone if it fails (or panics, which becomes an
/// error: a bug, but not one that may take the other writes of the group down with it).
fn run_in_savepoint<R>(
    conn: &mut Connection,
    f: impl FnOnce(&mut Connection) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    let run = |c: &Connection, sql: &str| -> rusqlite::Result<()> {
        c.prepare_cached(sql)?.execute([]).map(|_| ())
    };
    run(conn, "SAVEPOINT group_write")?;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(StoreError::Task("a store write panicked".into())));
    let end = if result.is_ok() {
        run(conn, "RELEASE group_write")
    } else {
        run(conn, "ROLLBACK TO group_write").and_then(|()| run(conn, "RELEASE group_write"))
    };
    match (result, end) {
        (Ok(r), Ok(())) => Ok(r),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(e.into()),
    }
}

/// Apply the migrations the database lacks, each in its own transaction with its version bump.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Helpers to read typed values out of rows, reporting the column on a bad value.
pub(crate) mod col {
    use super::StoreError;

    /// Parse a stored string with `parse`, or report it as corrupt.
    pub fn parse<T, E>(
        what: &'static str,
        value: String,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, StoreError> {
        parse(&value).map_err(|_| StoreError::Corrupt { what, value })
    }

    /// Same, for an optional column.
    pub fn parse_opt<T, E>(
        what: &'static str,
        value: Option<String>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, StoreError> {
        value.map(|v| self::parse(what, v, parse)).transpose()
    }

    /// An amount column.
    pub fn amount(what: &'static str, cents: i64) -> Result<pagopa::Amount, StoreError> {
        u64::try_from(cents)
            .ok()
            .and_then(|c| pagopa::Amount::from_cents(c).ok())
            .ok_or(StoreError::Corrupt {
                what,
                value: cents.to_string(),
            })
    }

    /// An amount as stored.
    pub fn cents(a: pagopa::Amount) -> i64 {
        // Amount::MAX (99 999 999 999) fits in i64 with room to spare.
        a.cents() as i64
    }
}

/// Fresh stores in folders of their own under the system temp dir, for unit tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    use super::Store;

    /// The folder of this test process, `<tmp>/channel-adapter-unit-<pid>`. Made once per
    /// process, after removing the folders of test processes that have ended, so that test
    /// runs leave at most their own behind (a failed test's files stay until the next run,
    /// to be looked at).
    fn root() -> &'static Path {
        static ROOT: OnceLock<PathBuf> = OnceLock::new();
        ROOT.get_or_init(|| {
            let tmp = std::env::temp_dir();
            // Whether a process is alive is read from /proc: elsewhere nothing is removed.
            let alive = |pid: &str| Path::new("/proc").join(pid).exists();
            if Path::new("/proc/self").exists()
                && let Ok(entries) = std::fs::read_dir(&tmp)
            {
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    // Also the per-test folders of earlier builds (`…-<name>-<pid>`).
                    let ours = name.starts_with("channel-adapter-unit-")
                        || name.starts_with("channel-adapter-store-");
                    let pid = name.rsplit('-').next().unwrap_or_default();
                    if ours && pid.parse::<u32>().is_ok() && !alive(pid) {
                        let _ = std::fs::remove_dir_all(entry.path());
                    }
                }
            }
            tmp.join(format!("channel-adapter-unit-{}", std::process::id()))
        })
    }

    /// An empty folder `name` of this test process.
    pub fn temp_dir(name: &str) -> PathBuf {
        let dir = root().join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    /// A store at `adapter.db` in [`temp_dir`]`(name)`.
    pub fn temp_store(name: &str) -> Store {
        Store::open(&temp_dir(name).join("adapter.db")).expect("open store")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db(name: &str) -> PathBuf {
        tests_support::temp_dir(&format!("store-{name}")).join("adapter.db")
    }

    /// Insert a bare device row named `name`: a write for the tests of grouping.
    fn insert_device(c: &Connection, name: &str) -> Result<(), StoreError> {
        c.execute(
            "INSERT INTO devices (name, comune, kind, credential_salt, credential_hash,
                 created_at)
             VALUES (?1, '02438750586', 'kiosk', zeroblob(16), zeroblob(32), 0)",
            [name],
        )?;
        Ok(())
    }

    fn tables(store: &Store) -> Vec<String> {
        store
            .read(|c| {
                let mut st = c.prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                )?;
                let names = st
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(names)
            })
            .expect("tables")
    }

    #[test]
    fn migrates_an_empty_database_and_reopens_idempotently() {
        let path = temp_db("migrate");
        let store = Store::open(&path).expect("open");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        let expected = [
            "closings",
            "device_configs",
            "devices",
            "enrollment_codes",
            "nodo_calls",
            "outcome_outbox",
            "payments",
            "user_comuni",
            "users",
        ];
        assert_eq!(tables(&store), expected);
        let mode: String = store
            .read(|c| Ok(c.pragma_query_value(None, "journal_mode", |r| r.get(0))?))
            .expect("journal mode");
        assert_eq!(mode, "wal");
        drop(store);
        let again = Store::open(&path).expect("reopen");
        assert_eq!(again.schema_version().expect("version"), SCHEMA_VERSION);
        assert_eq!(tables(&again), expected);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let path = temp_db("newer");
        drop(Store::open(&path).expect("open"));
        let conn = Connection::open(&path).expect("raw open");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump");
        drop(conn);
        let err = Store::open(&path).expect_err("too new");
        assert_eq!(err.code(), "STORE_SCHEMA_TOO_NEW");
    }

    #[test]
    fn a_failed_migration_leaves_the_version_alone() {
        let path = temp_db("failed");
        let mut conn = Connection::open(&path).expect("raw open");
        // A table in the way makes migration 1 fail half-way; nothing of it may remain.
        conn.execute_batch("CREATE TABLE payments (x INTEGER);")
            .expect("obstacle");
        assert!(migrate(&mut conn).is_err());
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(v, 0);
        let devices: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'devices'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(devices, 0, "the migration's transaction was rolled back");
    }

    #[test]
    fn synced_writes_share_flushes_and_all_reach_the_disk() {
        let store = Arc::new(Store::open(&temp_db("group")).expect("open"));
        let WriteCounts {
            commits: c0,
            flushes: f0,
            ..
        } = store.write_counts();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0..25 {
                        store
                            .write_synced(|c| insert_device(c, &format!("d-{t}-{i}")))
                            .expect("write");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let WriteCounts {
            commits, flushes, ..
        } = store.write_counts();
        assert!(
            (1..=200).contains(&(commits - c0)),
            "grouped: {}",
            commits - c0
        );
        assert!(flushes > f0, "synced writes flush");
        assert!(
            flushes - f0 <= commits - c0,
            "never more flushes than commits ({} for {})",
            flushes - f0,
            commits - c0
        );
        assert!(
            lock(&store.flush.state).flushed >= store.flush.committed.load(Ordering::Acquire),
            "every commit is flushed"
        );
        let n: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM devices", [], |r| r.get(0))?))
            .expect("count");
        assert_eq!(n, 200);

        // Without flushes.
        let normal = Store::open_with(&temp_db("normal"), Sync::Normal).expect("open");
        let before = normal.write_counts().flushes;
        normal.write_synced(|_| Ok(())).expect("write");
        assert_eq!(
            normal.write_counts().flushes,
            before,
            "Sync::Normal never flushes"
        );
    }

    #[test]
    fn a_failing_write_rolls_back_alone_in_its_group() {
        let store = Arc::new(Store::open(&temp_db("group-fail")).expect("open"));
        let insert = |name: String| move |c: &mut Connection| insert_device(c, &name);
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    let mut failures = 0;
                    for i in 0..20 {
                        // Every write of thread 0 inserts and then fails: none may remain.
                        let r = if t == 0 {
                            store.write(|c| {
                                insert(format!("bad-{i}"))(c)?;
                                Err::<(), _>(StoreError::DeviceNameTaken("x".into()))
                            })
                        } else {
                            store.write(insert(format!("ok-{t}-{i}")))
                        };
                        failures += usize::from(r.is_err());
                    }
                    failures
                })
            })
            .collect();
        let failures: Vec<usize> = threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        assert_eq!(failures, [20, 0, 0, 0, 0, 0]);
        let (good, bad): (i64, i64) = store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FILTER (WHERE name LIKE 'ok-%'),
                            count(*) FILTER (WHERE name LIKE 'bad-%') FROM devices",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?)
            })
            .expect("count");
        assert_eq!((good, bad), (100, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_reused_while_writes_never_stop() {
        let path = temp_db("wal-reuse");
        let store = Arc::new(Store::open_with(&path, Sync::Normal).expect("open"));
        store
            .write(|c| Ok(c.execute_batch("CREATE TABLE t (x INTEGER)")?))
            .expect("table");
        let before = store.write_counts();
        // Two writers back to back: at no moment is the WAL idle, so only the store thread's
        // last pass of each checkpoint lets SQLite start it afresh.
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    // Enough commits for several restarts of the WAL.
                    for i in 0..20_480u64 {
                        store
                            .call(move |s| {
                                s.write(|c| Ok(c.execute("INSERT INTO t VALUES (?1)", [i])?))
                            })
                            .await
                            .expect("write");
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.expect("writer");
        }
        let commits = store.write_counts().commits - before.commits;
        assert!(commits > 4 * WAL_RESTART_FRAMES as u64, "{commits} commits");
        let page: u64 = store
            .read(|c| Ok(c.pragma_query_value(None, "page_size", |r| r.get(0))?))
            .expect("page size");
        let wal = std::fs::metadata(format!("{}-wal", path.display()))
            .expect("wal")
            .len();
        // Each commit appends at least one page; a WAL never started afresh would hold them
        // all. Reused, it holds about WAL_RESTART_FRAMES and a checkpoint interval's.
        assert!(
            wal < commits * page / 2,
            "WAL of {wal} bytes after {commits} commits of pages of {page} bytes"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_share_groups_read_their_own_writes_and_fail_alone() {
        let store = Arc::new(Store::open(&temp_db("calls")).expect("open"));
        let before = store.write_counts();
        let calls: Vec<_> = (0..64)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    store
                        .call(move |s| {
                            let name = format!("call-{i}");
                            if i % 8 == 0 {
                                // Inserts, then fails: rolled back alone.
                                s.write(|c| {
                                    insert_device(c, &name)?;
                                    Err::<(), _>(StoreError::DeviceNameTaken(name.clone()))
                                })?;
                            }
                            s.write_synced(|c| insert_device(c, &name))?;
                            // Before the group is committed, the call sees its own write.
                            s.read(|c| {
                                Ok(c.query_row(
                                    "SELECT count(*) FROM devices WHERE name = ?1",
                                    [&name],
                                    |r| r.get::<_, i64>(0),
                                )?)
                            })
                        })
                        .await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for c in calls {
            answers.push(c.await.expect("task").ok());
        }
        let expected: Vec<Option<i64>> = (0..64).map(|i| (i % 8 != 0).then_some(1)).collect();
        assert_eq!(answers, expected);
        let n: i64 = store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM devices WHERE name LIKE 'call-%'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .expect("count");
        assert_eq!(n, 56, "committed: the calls that succeeded, and only they");
        let after = store.write_counts();
        assert!(after.commits > before.commits && after.commits - before.commits <= 64);
        assert!(after.flushes > before.flushes, "synced writes were flushed");
        assert!(
            lock(&store.flush.state).flushed >= store.flush.committed.load(Ordering::Acquire),
            "every commit is flushed"
        );
    }

    #[tokio::test]
    async fn call_runs_off_the_runtime() {
        let store = Arc::new(Store::open(&temp_db("call")).expect("open"));
        let v = store.call(|s| s.schema_version()).await.expect("call");
        assert_eq!(v, SCHEMA_VERSION);
    }
}
