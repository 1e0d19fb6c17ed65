//! The seam between the console and the master: everything the web layer shows or does goes
//! through [`Backend`], which the master implements and tests implement with a fake.
//! Accounts, sessions and the audit log go through the separate
//! [`AuthStore`](crate::auth::AuthStore).

use serde::Serialize;
use std::future::Future;
use thiserror::Error;

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
}
