//! Offline compaction of the LMDB environments, and the lock that keeps it safe.
//!
//! A running master cannot shrink its live files: every thread has them memory-mapped. LMDB
//! reuses freed pages, so the files stop growing, but the space of deleted samples stays
//! allocated. Compaction therefore runs when nothing has the environments open:
//!
//! - `commander db compact` runs it at once, refusing while anything else uses the store;
//! - the console's Compact button (`POST /api/v1/data/compact`) measures what would be won
//!   and files a request ([`REQUEST_FILE`]); the master compacts before it opens the store at
//!   its next start and records the outcome ([`LAST_FILE`]) for the Data page.
//!
//! Compacting one environment: open it, write a compacted copy (`mdb_env_copy2` with
//!   `MDB_CP_COMPACT`) to `data.mdb.compacting`, `fsync` it, close the environment, rename the
//!   copy over `data.mdb` and `fsync` the directory. A crash at any point leaves either the
//!   old or the new complete file; a failure leaves the old file and removes the copy.
//!
//! [`StoreLock`] (`store.lock` in the `data` environment's directory, `flock`): the master
//! and every `commander` command that opens the store hold it shared for as long as they
//! use it; compaction holds it exclusive. So a compaction never rewrites a file that another
//! process has mapped, and nothing opens the store halfway through a compaction.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Instant;

use heed::CompactionOption;
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::lmdb::{map_size, max_dbs, open_env};
use super::schema::EnvKind;

/// The lock file, in the `data` environment's directory.
pub const LOCK_FILE: &str = "store.lock";
/// A pending request to compact at the next start, in the `data` environment's directory.
pub const REQUEST_FILE: &str = "compact-on-start.json";
/// The outcome of the last compaction, in the `data` environment's directory.
pub const LAST_FILE: &str = "compaction-last.json";
/// LMDB's data file inside an environment directory.
const DATA_FILE: &str = "data.mdb";
/// The copy being written.
const COPY_FILE: &str = "data.mdb.compacting";

/// How the store lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Using the store (master, `token create`, `node list`, ...): many at once.
    Shared,
    /// Compacting: alone.
    Exclusive,
}

/// A held `flock` on [`LOCK_FILE`]; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct StoreLock {
    file: File,
    path: PathBuf,
    mode: LockMode,
}

/// Why the store lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone holds the lock in a conflicting mode.
    #[error(
        "{path} is locked: {}",
        match .wanted {
            LockMode::Exclusive => "the master or another commander command is using the store; stop it first (or use the console's Compact, which runs at the next start)",
            LockMode::Shared => "a compaction (commander db compact, or the master's start-up compaction) is running; try again when it ends",
        }
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// The mode that was asked for.
        wanted: LockMode,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl StoreLock {
    /// Takes the lock of the store whose `data` environment is `data_env_dir` (created if
    /// missing), without waiting.
    pub fn acquire(data_env_dir: &Path, mode: LockMode) -> Result<Self, LockError> {
        let path = data_env_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(data_env_dir).map_err(io)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        let lock = Self { file, path, mode };
        lock.try_mode(mode)?;
        Ok(lock)
    }

    /// Moves to `mode` without waiting (exclusive to shared always succeeds). Linux may drop
    /// the old lock when a conversion fails, so a failed upgrade takes the shared lock again.
    pub fn set(&mut self, mode: LockMode) -> Result<(), LockError> {
        match self.try_mode(mode) {
            Ok(()) => {
                self.mode = mode;
                Ok(())
            }
            Err(e) => {
                if self.mode == LockMode::Shared
                    && mode == LockMode::Exclusive
                    && let Err(again) = self.try_mode(LockMode::Shared)
                {
                    tracing::warn!("lost the shared store lock: {again}");
                }
                Err(e)
            }
        }
    }

    fn try_mode(&self, mode: LockMode) -> Result<(), LockError> {
        let taken = match mode {
            LockMode::Shared => self.file.try_lock_shared(),
            LockMode::Exclusive => self.file.try_lock(),
        };
        taken.map_err(|e| match e {
            TryLockError::WouldBlock => LockError::Busy {
                path: self.path.clone(),
                wanted: mode,
            },
            TryLockError::Error(source) => LockError::Io {
                path: self.path.clone(),
                source,
            },
        })
    }

    /// The mode held.
    pub fn mode(&self) -> LockMode {
        self.mode
    }
}

/// A request to compact at the next start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionRequest {
    /// When it was made, Unix ms.
    pub requested_at_ms: u64,
    /// Who made it (console user name).
    pub requested_by: String,
}

/// What compacting one environment did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvCompaction {
    /// `data` or `performance`.
    pub env: String,
    /// Size of `data.mdb` before, bytes.
    pub before_bytes: u64,
    /// Size of `data.mdb` after, bytes (equal to before when it failed).
    pub after_bytes: u64,
    /// How long it took, ms.
    pub took_ms: u64,
}

/// The outcome of one compaction run (both environments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionRecord {
    /// When it ended, Unix ms.
    pub finished_at_ms: u64,
    /// The environments compacted, in order (the one that failed is not listed).
    pub envs: Vec<EnvCompaction>,
    /// Why it stopped early, if it did. The files it did not finish are unchanged.
    pub error: Option<String>,
}

fn env_name(kind: EnvKind) -> &'static str {
    match kind {
        EnvKind::Data => "data",
        EnvKind::Performance => "performance",
    }
}

fn io_at(path: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError::Io(std::io::Error::new(
        e.kind(),
        format!("cannot {what} {}: {e}", path.display()),
    ))
}

/// Compacts one environment in place. The caller must hold the [`StoreLock`] exclusive and
/// this process must not have the environment open. A directory without `data.mdb` is left
/// alone (sizes 0).
pub fn compact_env(kind: EnvKind, dir: &Path) -> Result<EnvCompaction, StoreError> {
    let started = Instant::now();
    let live = dir.join(DATA_FILE);
    let copy = dir.join(COPY_FILE);
    let before = match std::fs::metadata(&live) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(io_at(&live, "read", e)),
    };
    if before > 0 {
        // A copy left by a crash is incomplete by definition: start again.
        match std::fs::remove_file(&copy) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_at(&copy, "remove", e)),
        }
        let written = write_copy(kind, dir, &copy);
        if let Err(e) = written {
            let _ = std::fs::remove_file(&copy);
            return Err(e);
        }
        std::fs::rename(&copy, &live).map_err(|e| io_at(&live, "replace", e))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_at(dir, "sync", e))?;
    }
    let after = std::fs::metadata(&live).map_or(0, |m| m.len());
    Ok(EnvCompaction {
        env: env_name(kind).to_owned(),
        before_bytes: before,
        after_bytes: after,
        took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Opens the environment, writes and syncs the compacted copy, and closes the environment
/// (waiting until LMDB has let go of it).
fn write_copy(kind: EnvKind, dir: &Path, copy: &Path) -> Result<(), StoreError> {
    let env = open_env(dir, map_size(kind), max_dbs(kind))?;
    let mut file = OpenOptions::new()
        .write(true)
        .read(true)
        .create_new(true)
        .open(copy)
        .map_err(|e| io_at(copy, "create", e))?;
    let copied = env
        .copy_to_file(&mut file, CompactionOption::Enabled)
        .map_err(StoreError::from)
        .and_then(|()| file.sync_all().map_err(|e| io_at(copy, "sync", e)));
    env.prepare_for_closing().wait();
    copied
}

/// Compacts both environments, `data` first; stops at the first failure.
pub fn compact_all(data_dir: &Path, performance_dir: &Path, now_ms: u64) -> CompactionRecord {
    let mut record = CompactionRecord {
        finished_at_ms: now_ms,
        envs: Vec::new(),
        error: None,
    };
    for (kind, dir) in [
        (EnvKind::Data, data_dir),
        (EnvKind::Performance, performance_dir),
    ] {
        match compact_env(kind, dir) {
            Ok(done) => record.envs.push(done),
            Err(e) => {
                record.error = Some(format!("{}: {e}", env_name(kind)));
                break;
            }
        }
    }
    record
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                key: path.display().to_string(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at(path, "read", e)),
    }
}

/// Writes `value` to `path` atomically (temporary file, sync, rename).
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| StoreError::Encode {
        what: "compaction file",
        source,
    })?;
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        std::io::Write::write_all(&mut f, &bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_at(path, "write", e)
    })
}

/// Files a request to compact at the next start (replacing an earlier one).
pub fn request(data_dir: &Path, request: &CompactionRequest) -> Result<(), StoreError> {
    write_json(&data_dir.join(REQUEST_FILE), request)
}

/// Withdraws a pending request; `true` when there was one.
pub fn cancel(data_dir: &Path) -> Result<bool, StoreError> {
    let path = data_dir.join(REQUEST_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_at(&path, "remove", e)),
    }
}

/// The pending request, if any.
pub fn pending(data_dir: &Path) -> Result<Option<CompactionRequest>, StoreError> {
    read_json(&data_dir.join(REQUEST_FILE))
}

/// The outcome of the last compaction, if any was recorded.
pub fn last(data_dir: &Path) -> Result<Option<CompactionRecord>, StoreError> {
    read_json(&data_dir.join(LAST_FILE))
}

/// Compacts both environments, records the outcome in [`LAST_FILE`] and returns it. The
/// caller holds the [`StoreLock`] exclusive.
pub fn compact_and_record(
    data_dir: &Path,
    performance_dir: &Path,
    now_ms: u64,
) -> Result<CompactionRecord, StoreError> {
    let record = compact_all(data_dir, performance_dir, now_ms);
    write_json(&data_dir.join(LAST_FILE), &record)?;
    Ok(record)
}

/// At start-up, before the store is opened: when a request is pending, compacts (the lock
/// is taken exclusive for the duration and given back shared), records the outcome and
/// withdraws the request whether it succeeded or not, so a failing compaction is reported
/// once instead of retried at every start. Returns what ran, if anything. When the lock
/// cannot be made exclusive (a `commander` command is using the store) the request stays
/// for the next start.
pub fn run_requested(
    lock: &mut StoreLock,
    data_dir: &Path,
    performance_dir: &Path,
    now_ms: u64,
) -> Result<Option<CompactionRecord>, StoreError> {
    if !data_dir.join(REQUEST_FILE).exists() {
        return Ok(None);
    }
    if let Err(e) = lock.set(LockMode::Exclusive) {
        tracing::warn!("compaction requested but postponed: {e}");
        return Ok(None);
    }
    let outcome = compact_and_record(data_dir, performance_dir, now_ms);
    let withdrawn = cancel(data_dir);
    if let Err(e) = lock.set(LockMode::Shared) {
        tracing::warn!("cannot return the store lock to shared: {e}");
    }
    withdrawn?;
    outcome.map(Some)
}

#[cfg(test)]
mod tests;
