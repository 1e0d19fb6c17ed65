//! Endpoint counters, shared by all executors and read out of band.

use super::close::CloseCause;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

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
    /// Bytes the sessions of connections whose hello is not accepted yet hold now.
    pub pre_auth_buffered: AtomicU64,
    /// The highest [`Self::pre_auth_buffered`] seen.
    pub pre_auth_buffered_peak: AtomicU64,
    /// Connections ended, by cause (indexed by [`CloseCause::index`]); see
    /// [`Self::closes`].
    closes: [AtomicU64; CloseCause::ALL.len()],
    /// Gates the log lines of refusals before authentication (see [`super::log_gate`]).
    pub refusal_log: super::log_gate::LogGate,
}

impl EndpointCounters {
    /// Counts a connection that ended because of `cause`.
    pub fn count_close(&self, cause: CloseCause) {
        self.closes[cause.index()].fetch_add(1, Relaxed);
    }

    /// Connections ended because of `cause` so far.
    pub fn closes(&self, cause: CloseCause) -> u64 {
        self.closes[cause.index()].load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::close::SessionEnd;

    #[test]
    fn closes_are_counted_by_cause() {
        let counters = EndpointCounters::default();
        counters.count_close(SessionEnd::IdleTimeout.cause());
        counters.count_close(SessionEnd::ClosedByPeer.cause());
        counters.count_close(SessionEnd::ClosedByPeer.cause());
        assert_eq!(counters.closes(CloseCause::IdleTimeout), 1);
        assert_eq!(counters.closes(CloseCause::ClosedBySlave), 2);
        let total: u64 = CloseCause::ALL.iter().map(|c| counters.closes(*c)).sum();
        assert_eq!(total, 3);
    }
}
