//! Endpoint counters, shared by all executors and read out of band.

use std::sync::atomic::AtomicU64;

/// Monotonic counters (except `open`) of the protocol endpoint.
#[derive(Debug, Default)]
pub struct EndpointCounters {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
    /// Sessions that passed authentication.
    pub sessions: AtomicU64,
    /// Connections refused (bad handshake, bad credentials, timeout).
    pub rejected: AtomicU64,
    /// Frames or messages that failed validation and closed their session.
    pub bad_frames: AtomicU64,
    /// Authenticated messages forwarded to the control side.
    pub messages_in: AtomicU64,
    /// Bytes received.
    pub bytes_in: AtomicU64,
}
