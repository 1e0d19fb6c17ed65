//! The master's side of the web seam: [`web::Backend`] for [`Cluster`]. Everything here
//! answers from memory or on a blocking thread, never blocking the tokio workers.
//!
//! Data management (compaction, backups, resets) runs one operation at a time per process
//! ([`DATA_OPS`]); a second one meanwhile is refused with a conflict rather than queued.

use crate::cluster::Cluster;
use crate::samples::decode_sample;
use crate::store::compaction::{self, CompactionRequest};
use crate::store::{EnvKind, Store, StoreError};
use protocol::MetricSample;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{Semaphore, SemaphorePermit, broadcast};
use web::alerts::{AlertList, AlertQuery, AlertRecord};
use web::backend::{Backend, BackendError, NodeView, StorageView};
use web::data::{
    BackupFile, CompactReport, CompactedEnv, CompactionStatus, DataEnv, EnvCompacted,
    LastCompaction, ScheduledCompaction,
};
use web::live::LiveSample;

/// One data management operation at a time.
static DATA_OPS: Semaphore = Semaphore::const_new(1);

fn data_permit() -> Result<SemaphorePermit<'static>, BackendError> {
    DATA_OPS.try_acquire().map_err(|_| {
        BackendError::Conflict("another data operation is running; try again shortly".into())
    })
}

fn store_error(e: StoreError) -> BackendError {
    BackendError::Internal(format!("store: {e}"))
}

/// Runs `f` on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BackendError> + Send + 'static,
) -> Result<T, BackendError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BackendError::Internal(format!("store task failed: {e}")))?
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

/// At most `points` samples spread over `from..=to`: the first sample of each of `points`
/// equal slices. Empty stretches cost one lookup, so this is at most `points` seeks.
pub fn sample_series(
    store: &dyn Store,
    node: u64,
    from: u64,
    to: u64,
    points: usize,
) -> Result<Vec<(u64, MetricSample)>, StoreError> {
    let mut out = Vec::new();
    if points == 0 || from > to {
        return Ok(out);
    }
    let span = (to - from).saturating_add(1);
    let step = span.div_ceil(points as u64).max(1);
    let mut start = from;
    while let Some(row) = store.samples(node, start, to, 1)?.pop() {
        match decode_sample(&row.bytes) {
            Ok(sample) => out.push((row.taken_at_ms, sample)),
            Err(e) => tracing::warn!(node, at = row.taken_at_ms, "undecodable sample: {e}"),
        }
        let slice = (row.taken_at_ms - from) / step;
        let next = from.saturating_add(slice.saturating_add(1).saturating_mul(step));
        if next > to || next <= row.taken_at_ms || out.len() >= points {
            break;
        }
        start = next;
    }
    Ok(out)
}

/// Compacts a copy of each environment into a scratch file, measures it and removes it.
fn compact_report(store: &dyn Store) -> Result<CompactReport, BackendError> {
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
fn backup_file(store: &dyn Store, env: EnvKind) -> Result<BackupFile, BackendError> {
    let dest = scratch_file(&scratch_dir(store, env), "backup");
    let len = store.copy_compacted(env, &dest).map_err(store_error)?;
    let file = std::fs::File::open(&dest);
    // Unlinked while open: the data stays readable through `file` and nothing is left
    // behind however the download ends.
    let _ = std::fs::remove_file(&dest);
    let file = file.map_err(|e| BackendError::Internal(format!("cannot reopen the copy: {e}")))?;
    Ok(BackupFile { file, len })
}

impl Backend for Cluster {
    async fn nodes(&self) -> Result<Vec<NodeView>, BackendError> {
        Ok(self.node_views())
    }

    async fn storage(&self) -> Result<StorageView, BackendError> {
        let store = Arc::clone(self.store());
        let sizes = blocking(move || Ok(store.sizes())).await?;
        Ok(StorageView {
            data_bytes: sizes.data_bytes,
            performance_bytes: sizes.performance_bytes,
        })
    }

    async fn node(&self, id: u64) -> Result<Option<NodeView>, BackendError> {
        Ok(self.node_view(id))
    }

    async fn sample_series(
        &self,
        id: u64,
        from_ms: u64,
        to_ms: u64,
        points: usize,
    ) -> Result<Vec<(u64, MetricSample)>, BackendError> {
        let store = Arc::clone(self.store());
        blocking(move || {
            sample_series(store.as_ref(), id, from_ms, to_ms, points).map_err(store_error)
        })
        .await
    }

    fn live_samples(&self) -> Option<broadcast::Receiver<LiveSample>> {
        self.subscribe_live()
    }

    async fn compact(&self) -> Result<CompactReport, BackendError> {
        let _permit = data_permit()?;
        let store = Arc::clone(self.store());
        blocking(move || {
            let mut report = compact_report(store.as_ref())?;
            if let Some(dir) = store.env_dir(EnvKind::Data) {
                let request = CompactionRequest {
                    requested_at_ms: crate::tokens::now_ms(),
                    requested_by: "console".to_owned(),
                };
                compaction::request(&dir, &request).map_err(store_error)?;
                report.scheduled = true;
            }
            Ok(report)
        })
        .await
    }

    async fn compaction_status(&self) -> Result<CompactionStatus, BackendError> {
        let store = Arc::clone(self.store());
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

    async fn cancel_compaction(&self) -> Result<bool, BackendError> {
        let store = Arc::clone(self.store());
        blocking(move || match store.env_dir(EnvKind::Data) {
            Some(dir) => compaction::cancel(&dir).map_err(store_error),
            None => Ok(false),
        })
        .await
    }

    async fn backup(&self, env: DataEnv) -> Result<BackupFile, BackendError> {
        let _permit = data_permit()?;
        let store = Arc::clone(self.store());
        blocking(move || backup_file(store.as_ref(), env_kind(env))).await
    }

    async fn reset_samples(&self, older_than_ms: u64) -> Result<u64, BackendError> {
        let _permit = data_permit()?;
        let store = Arc::clone(self.store());
        blocking(move || store.prune_samples(older_than_ms).map_err(store_error)).await
    }

    async fn alerts(&self, query: AlertQuery) -> Result<AlertList, BackendError> {
        self.alert_list(query).await.map_err(store_error)
    }

    fn alert_events(&self) -> Option<broadcast::Receiver<AlertRecord>> {
        self.subscribe_alerts()
    }
}

#[cfg(test)]
#[path = "web_backend_tests.rs"]
mod tests;
