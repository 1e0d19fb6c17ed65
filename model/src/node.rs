//! Nodes (enrolled slaves) as the console and the API show them, the size of the master's
//! databases, and the metric samples broadcast to live views.

use std::sync::Arc;

use protocol::MetricSample;
use serde::Serialize;

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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StorageView {
    /// The `data` environment (cluster records, accounts, audit log), bytes.
    pub data_bytes: u64,
    /// The `performance` environment (metric samples), bytes.
    pub performance_bytes: u64,
}

/// The master's own counters, for `GET /metrics` (monotonic since the master started,
/// except the ones said to be "now").
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct MasterCounters {
    /// Slave connections accepted by the protocol endpoint.
    pub connections_accepted: u64,
    /// Slave connections open now.
    pub connections_open: u64,
    /// Sessions that passed authentication.
    pub sessions: u64,
    /// Connections refused (bad handshake, bad credentials, timeout, caps).
    pub connections_rejected: u64,
    /// Frames or messages that failed validation and closed their session.
    pub bad_frames: u64,
    /// Bytes received from slaves.
    pub bytes_received: u64,
    /// Heartbeats received.
    pub heartbeats: u64,
    /// Metric samples committed to the store.
    pub samples_written: u64,
    /// Metric samples lost: their store write failed, or they could not be encoded or
    /// queued.
    pub samples_dropped: u64,
}

/// One metric sample as the master broadcasts it to live views. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveSample {
    /// The node it came from.
    pub node_id: u64,
    /// When the master received it, Unix ms (the store's key).
    pub at_ms: u64,
    /// The sample.
    pub sample: Arc<MetricSample>,
}
