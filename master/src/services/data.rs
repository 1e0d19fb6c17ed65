//! The master's [`model::service::DataAdmin`]: database compaction, backups and resets.
//!
//! One data operation runs at a time per service ([`DataService::permit`]); a second one
//! meanwhile is
//! refused with a conflict rather than queued. Every compaction, cancellation, backup and
//! reset is written to the audit log with its outcome, failed or not.

use std::path::PathBuf;
use std::sync::Arc;

use model::audit::AuditResult;
use model::clock::Clock;
use model::data::{
    ACTION_BACKUP, ACTION_COMPACT, ACTION_COMPACT_CANCEL, ACTION_RESET, BackupFile, CompactReport,
    CompactedEnv, CompactionStatus, DataEnv, EnvCompacted, LastCompaction, ResetCategory,
    ScheduledCompaction, cutoff_ms,
};
use model::ops::{BoxFuture, Caller};
use model::service::AuditLog;
use model::{ServiceError, StoreFailure};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::{blocking, store_error};
use crate::accounts::AuthStore;
use crate::store::compaction::{self, CompactionRequest};
use crate::store::{EnvKind, Store};

/// One data management operation at a time.
fn data_permit(running: &Semaphore) -> Result<SemaphorePermit<'_>, ServiceError> {
    running.try_acquire().map_err(|_| {
        ServiceError::Conflict("another data operation is running; try again shortly".into())
    })
}

fn env_kind(env: DataEnv) -> EnvKind {
    match env {
        DataEnv::Data => EnvKind::Data,
        DataEnv::Performance => EnvKind::Performance,
    }
}

/// Where scratch copies of `env` go: its own directory (same file system), or the system
/// temporary directory for a store without files.
fn scratch_dir(store: &dyn Store, env: EnvKind) -> PathBuf {
    store.env_dir(env).unwrap_or_else(std::env::temp_dir)
}

/// A fresh scratch file name in `dir`.
fn scratch_file(dir: &std::path::Path, what: &str) -> PathBuf {
    let mut nonce = [0u8; 8];
    let _ = getrandom::fill(&mut nonce);
    dir.join(format!("{what}-{:016x}.tmp", u64::from_le_bytes(nonce)))
}

/// Compacts a copy of each environment into a scratch file, measures it and removes it.
fn compact_report(store: &dyn Store) -> Result<CompactReport, ServiceError> {
    let sizes = store.sizes();
    let mut envs = Vec::new();
    for (kind, env, live) in [
        (EnvKind::Data, DataEnv::Data, sizes.data_bytes),
        (
            EnvKind::Performance,
            DataEnv::Performance,
            sizes.performance_bytes,
        ),
    ] {
        let dest = scratch_file(&scratch_dir(store, kind), "compact");
        let started = std::time::Instant::now();
        let compacted = store.copy_compacted(kind, &dest).map_err(store_error);
        let _ = std::fs::remove_file(&dest);
        envs.push(CompactedEnv {
            env,
            live_bytes: live,
            compacted_bytes: compacted?,
            took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
    }
    Ok(CompactReport {
        envs,
        scheduled: false,
    })
}

/// A consistent copy of `env` as an open file, unlinked at once.
fn backup_file(store: &dyn Store, env: EnvKind) -> Result<BackupFile, ServiceError> {
    let dest = scratch_file(&scratch_dir(store, env), "backup");
    let len = store.copy_compacted(env, &dest).map_err(store_error)?;
    let file = std::fs::File::open(&dest);
    // Unlinked while open: the data stays readable through `file` and nothing is left
    // behind however the download ends.
    let _ = std::fs::remove_file(&dest);
    let file = file.map_err(|e| ServiceError::Internal(format!("cannot reopen the copy: {e}")))?;
    Ok(BackupFile { file, len })
}

/// The files behind data management: the master's LMDB environments ([`StoreFiles`]), or a
/// fake in tests. Nothing here is serialised or audited; [`DataService`] does both.
pub trait DataFiles: Send + Sync + 'static {
    /// Writes a compacted copy of each database next to it, measures and removes it, and
    /// schedules the compaction of the live files for the next start.
    fn compact(&self) -> BoxFuture<'_, Result<CompactReport, ServiceError>>;

    /// Whether a compaction is scheduled and how the last one went.
    fn compaction_status(&self) -> BoxFuture<'_, Result<CompactionStatus, ServiceError>>;

    /// Cancels the scheduled compaction; `true` when one was scheduled.
    fn cancel_compaction(&self) -> BoxFuture<'_, Result<bool, ServiceError>>;

    /// A consistent copy of one database, open and already unlinked.
    fn backup(&self, env: DataEnv) -> BoxFuture<'_, Result<BackupFile, ServiceError>>;

    /// Deletes every metric sample received before `older_than_ms`; returns how many.
    fn reset_samples(&self, older_than_ms: u64) -> BoxFuture<'_, Result<u64, ServiceError>>;
}

/// The master's databases as [`DataFiles`].
pub struct StoreFiles {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl StoreFiles {
    /// The files of `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Writes a compacted copy of each database next to it, measures and removes it, and
    /// schedules the compaction of the live files for the next start (not audited).
    async fn compact_files(&self) -> Result<CompactReport, ServiceError> {
        let store = Arc::clone(&self.store);
        let now = self.clock.now_ms();
        blocking(move || {
            let mut report = compact_report(store.as_ref())?;
            if let Some(dir) = store.env_dir(EnvKind::Data) {
                let request = CompactionRequest {
                    requested_at_ms: now,
                    requested_by: "console".to_owned(),
                };
                compaction::request(&dir, &request).map_err(store_error)?;
                report.scheduled = true;
            }
            Ok(report)
        })
        .await
    }
    /// Whether a compaction is scheduled and how the last one went.
    async fn compaction_status(&self) -> Result<CompactionStatus, ServiceError> {
        let store = Arc::clone(&self.store);
        blocking(move || {
            let Some(dir) = store.env_dir(EnvKind::Data) else {
                return Ok(CompactionStatus::default());
            };
            let scheduled = match compaction::pending(&dir) {
                Ok(r) => r.map(|r| r.requested_at_ms),
                // An unreadable request still runs at the next start (see `run_requested`).
                Err(e) => {
                    tracing::warn!("compaction request: {e}");
                    Some(0)
                }
            };
            let last = compaction::last(&dir).unwrap_or_else(|e| {
                tracing::warn!("last compaction record: {e}");
                None
            });
            Ok(CompactionStatus {
                scheduled: scheduled.map(|requested_at_ms| ScheduledCompaction { requested_at_ms }),
                last: last.map(|l| LastCompaction {
                    finished_at_ms: l.finished_at_ms,
                    envs: l
                        .envs
                        .into_iter()
                        .map(|e| EnvCompacted {
                            env: e.env,
                            before_bytes: e.before_bytes,
                            after_bytes: e.after_bytes,
                            took_ms: e.took_ms,
                        })
                        .collect(),
                    error: l.error,
                }),
            })
        })
        .await
    }
    /// Cancels the scheduled compaction; `true` when one was scheduled (not audited).
    async fn cancel_compaction(&self) -> Result<bool, ServiceError> {
        let store = Arc::clone(&self.store);
        blocking(move || match store.env_dir(EnvKind::Data) {
            Some(dir) => compaction::cancel(&dir).map_err(store_error),
            None => Ok(false),
        })
        .await
    }
    /// A consistent copy of one database (not audited).
    async fn backup_copy(&self, env: DataEnv) -> Result<BackupFile, ServiceError> {
        let store = Arc::clone(&self.store);
        blocking(move || backup_file(store.as_ref(), env_kind(env))).await
    }
    /// Deletes every metric sample received before `older_than_ms`, and the roll-ups of
    /// buckets starting before it (not audited).
    async fn reset_samples(&self, older_than_ms: u64) -> Result<u64, ServiceError> {
        let store = Arc::clone(&self.store);
        blocking(move || {
            let mut removed = 0;
            for tier in crate::store::Tier::ALL {
                removed += store
                    .prune_series(tier, older_than_ms)
                    .map_err(store_error)?;
            }
            Ok(removed)
        })
        .await
    }
}

impl DataFiles for StoreFiles {
    fn compact(&self) -> BoxFuture<'_, Result<CompactReport, ServiceError>> {
        Box::pin(self.compact_files())
    }

    fn compaction_status(&self) -> BoxFuture<'_, Result<CompactionStatus, ServiceError>> {
        Box::pin(StoreFiles::compaction_status(self))
    }

    fn cancel_compaction(&self) -> BoxFuture<'_, Result<bool, ServiceError>> {
        Box::pin(StoreFiles::cancel_compaction(self))
    }

    fn backup(&self, env: DataEnv) -> BoxFuture<'_, Result<BackupFile, ServiceError>> {
        Box::pin(self.backup_copy(env))
    }

    fn reset_samples(&self, older_than_ms: u64) -> BoxFuture<'_, Result<u64, ServiceError>> {
        Box::pin(StoreFiles::reset_samples(self, older_than_ms))
    }
}

/// The data management service.
pub struct DataService {
    files: Arc<dyn DataFiles>,
    running: Semaphore,
    accounts: Arc<dyn AuthStore>,
    audit: Arc<dyn AuditLog>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DataService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataService").finish_non_exhaustive()
    }
}

impl DataService {
    /// The service over `files` and the accounts store (for audit resets), auditing to
    /// `audit`.
    pub fn new(
        files: Arc<dyn DataFiles>,
        accounts: Arc<dyn AuthStore>,
        audit: Arc<dyn AuditLog>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            files,
            running: Semaphore::new(1),
            accounts,
            audit,
            clock,
        }
    }

    /// Deletes audit entries older than `older_than_ms` (not audited).
    /// The right to run one data operation, or a conflict while another runs.
    pub fn permit(&self) -> Result<SemaphorePermit<'_>, ServiceError> {
        data_permit(&self.running)
    }

    async fn reset_audit(&self, older_than_ms: u64) -> Result<u64, ServiceError> {
        let store = Arc::clone(&self.accounts);
        tokio::task::spawn_blocking(move || store.prune_audit(older_than_ms))
            .await
            .map_err(|e| ServiceError::Internal(format!("store task failed: {e}")))?
            .map_err(|e: StoreFailure| ServiceError::Store(StoreFailure(format!("audit log: {e}"))))
    }

    async fn audit(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        (result, detail): (AuditResult, String),
    ) {
        let entry = super::audit_entry(caller, action, target, result, detail);
        self.audit.record(entry).await;
    }
}

impl model::service::DataAdmin for DataService {
    fn compact(&self, caller: &Caller) -> BoxFuture<'_, Result<CompactReport, ServiceError>> {
        let caller = caller.clone();
        Box::pin(async move {
            let outcome = match self.permit() {
                Ok(_permit) => self.files.compact().await,
                Err(e) => Err(e),
            };
            let detail = match &outcome {
                Ok(r) => (
                    AuditResult::Ok,
                    r.envs
                        .iter()
                        .map(|e| {
                            format!(
                                "{}: {} -> {} bytes",
                                e.env.name(),
                                e.live_bytes,
                                e.compacted_bytes
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                Err(e) => (AuditResult::Failed, e.to_string()),
            };
            self.audit(&caller, ACTION_COMPACT, "", detail).await;
            outcome
        })
    }

    fn compaction_status(&self) -> BoxFuture<'_, Result<CompactionStatus, ServiceError>> {
        self.files.compaction_status()
    }

    fn cancel_compaction(&self, caller: &Caller) -> BoxFuture<'_, Result<bool, ServiceError>> {
        let caller = caller.clone();
        Box::pin(async move {
            let outcome = self.files.cancel_compaction().await;
            let detail = match &outcome {
                Ok(true) => (AuditResult::Ok, "cancelled".to_owned()),
                Ok(false) => (AuditResult::Ok, "nothing was scheduled".to_owned()),
                Err(e) => (AuditResult::Failed, e.to_string()),
            };
            self.audit(&caller, ACTION_COMPACT_CANCEL, "", detail).await;
            outcome
        })
    }

    fn backup(
        &self,
        caller: &Caller,
        env: DataEnv,
    ) -> BoxFuture<'_, Result<BackupFile, ServiceError>> {
        let caller = caller.clone();
        Box::pin(async move {
            let outcome = match self.permit() {
                Ok(_permit) => self.files.backup(env).await,
                Err(e) => Err(e),
            };
            let detail = match &outcome {
                Ok(b) => (AuditResult::Ok, format!("{} bytes", b.len)),
                Err(e) => (AuditResult::Failed, e.to_string()),
            };
            self.audit(&caller, ACTION_BACKUP, env.name(), detail).await;
            outcome
        })
    }

    fn reset(
        &self,
        caller: &Caller,
        category: ResetCategory,
        older_than_days: u32,
    ) -> BoxFuture<'_, Result<u64, ServiceError>> {
        let caller = caller.clone();
        Box::pin(async move {
            let cutoff = cutoff_ms(self.clock.now_ms(), older_than_days);
            let outcome = match (self.permit(), category) {
                (Err(e), _) => Err(e),
                (Ok(_permit), ResetCategory::Samples) => self.files.reset_samples(cutoff).await,
                (Ok(_permit), ResetCategory::Audit) => self.reset_audit(cutoff).await,
            };
            let days = older_than_days;
            let detail = match &outcome {
                Ok(n) => (
                    AuditResult::Ok,
                    format!("older than {days} days: {n} removed"),
                ),
                Err(e) => (AuditResult::Failed, format!("older than {days} days: {e}")),
            };
            self.audit(&caller, ACTION_RESET, category.name(), detail)
                .await;
            outcome
        })
    }
}
