//! The seam between the console and the master: everything the web layer shows or does goes
//! through [`Backend`], which the master implements and tests implement with a fake.
//! Accounts, sessions and the audit log go through the separate
//! [`AuthStore`](crate::auth::AuthStore).

use crate::alerts::{AlertList, AlertQuery, AlertRecord};
use crate::data::{BackupFile, CompactReport, CompactionStatus, DataEnv};
use crate::live::LiveSample;
use protocol::MetricSample;
use serde::Serialize;
use std::future::Future;
use thiserror::Error;
use tokio::sync::broadcast;

/// One node as the console and `GET /api/v1/nodes` show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeView {
    /// Node id assigned at enrolment.
    pub id: u64,
    /// Host name the slave reported (empty until it did).
    pub hostname: String,
    /// Whether the node's heartbeat TTL has not expired.
    pub online: bool,
    /// Whether an operator revoked the node.
    pub revoked: bool,
    /// Last heartbeat, Unix milliseconds (master clock).
    pub last_seen_ms: Option<u64>,
    /// Agent build version.
    pub agent_version: String,
    /// Static host facts, once reported.
    pub host: Option<protocol::HostInfo>,
    /// The latest metric sample, once reported.
    pub metrics: Option<protocol::MetricSample>,
}

/// On-disk size of the master's databases (`GET /api/v1/storage`, the data page).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct StorageView {
    /// The `data` environment (cluster records, accounts, audit log), bytes.
    pub data_bytes: u64,
    /// The `performance` environment (metric samples), bytes.
    pub performance_bytes: u64,
}

/// The backend failed to answer.
#[derive(Debug, Error)]
pub enum BackendError {
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request conflicts with work in progress (another data operation runs).
    #[error("{0}")]
    Conflict(String),
    /// Anything else (store failure, slave failure).
    #[error("{0}")]
    Internal(String),
}

/// What the master offers the web layer.
pub trait Backend: Send + Sync + 'static {
    /// All enrolled nodes, ordered by id.
    fn nodes(&self) -> impl Future<Output = Result<Vec<NodeView>, BackendError>> + Send;

    /// Database sizes.
    fn storage(&self) -> impl Future<Output = Result<StorageView, BackendError>> + Send;

    /// One node, `None` when no node has this id. The default searches [`Self::nodes`].
    fn node(&self, id: u64) -> impl Future<Output = Result<Option<NodeView>, BackendError>> + Send {
        async move { Ok(self.nodes().await?.into_iter().find(|n| n.id == id)) }
    }

    /// At most `points` stored samples of node `id` spread evenly over
    /// `from_ms..=to_ms` (the first sample of each of `points` equal slices), oldest first,
    /// each with the master's receive time (Unix ms).
    fn sample_series(
        &self,
        id: u64,
        from_ms: u64,
        to_ms: u64,
        points: usize,
    ) -> impl Future<Output = Result<Vec<(u64, MetricSample)>, BackendError>> + Send;

    /// A receiver of every node's samples as they arrive, or `None` when live data has
    /// ended (the master is shutting down). Streams end when the sender closes.
    fn live_samples(&self) -> Option<broadcast::Receiver<LiveSample>>;

    /// Writes a compacted copy of each database next to it, reports the sizes and
    /// schedules the compaction of the live files for the next start. Safe while the master
    /// runs (see `docs/ARCHITECTURE.md`, data management).
    fn compact(&self) -> impl Future<Output = Result<CompactReport, BackendError>> + Send;

    /// Whether a compaction is scheduled and how the last one went. A backend without
    /// files has neither.
    fn compaction_status(
        &self,
    ) -> impl Future<Output = Result<CompactionStatus, BackendError>> + Send {
        async { Ok(CompactionStatus::default()) }
    }

    /// Cancels the scheduled compaction; `true` when one was scheduled.
    fn cancel_compaction(&self) -> impl Future<Output = Result<bool, BackendError>> + Send {
        async { Ok(false) }
    }

    /// A consistent copy of one database as an open file (already unlinked from the
    /// file system, so nothing is left behind), ready to stream.
    fn backup(&self, env: DataEnv)
    -> impl Future<Output = Result<BackupFile, BackendError>> + Send;

    /// Deletes every metric sample (of every node) received before `older_than_ms`;
    /// returns how many. `u64::MAX` deletes them all.
    fn reset_samples(
        &self,
        older_than_ms: u64,
    ) -> impl Future<Output = Result<u64, BackendError>> + Send;

    /// The alerts firing now and one page of the alert history (see [`crate::alerts`]);
    /// `limit` 0 skips the history. The default is a backend without alerting.
    fn alerts(
        &self,
        query: AlertQuery,
    ) -> impl Future<Output = Result<AlertList, BackendError>> + Send {
        let _ = query;
        async { Ok(AlertList::default()) }
    }

    /// A receiver of every alert as it fires or resolves, or `None` when this backend has
    /// no alerting or is shutting down. Streams end when the sender closes; a receiver
    /// that lags must fetch the active alerts again.
    fn alert_events(&self) -> Option<broadcast::Receiver<AlertRecord>> {
        None
    }
}
