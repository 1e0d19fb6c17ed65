//! At most one log line per interval for events that an unauthenticated peer can cause at
//! will (refused handshakes, handshake timeouts): each is still counted by cause in
//! [`super::counters::EndpointCounters`], but only the first of an interval is logged at
//! `info`, with how many were left out since the last line; the rest go to `debug`. A peer
//! opening thousands of connections cannot flood the log. Sans-io: time is passed in.

use std::sync::Mutex;

/// Refusals logged at `info` at most once per this many milliseconds.
pub const REFUSAL_LOG_INTERVAL_MS: u64 = 10_000;

/// A log gate (see the module documentation).
#[derive(Debug)]
pub struct LogGate {
    interval_ms: u64,
    /// When the next line may be logged, and how many were left out since the last one.
    state: Mutex<(u64, u64)>,
}

impl Default for LogGate {
    fn default() -> Self {
        Self::new(REFUSAL_LOG_INTERVAL_MS)
    }
}

impl LogGate {
    /// A gate opening once per `interval_ms`.
    pub fn new(interval_ms: u64) -> Self {
        Self {
            interval_ms,
            state: Mutex::new((0, 0)),
        }
    }

    /// Whether an event at `now_ms` may be logged: `Some(left_out)` (events left out since
    /// the last logged one) when it may, `None` when it is only counted.
    pub fn admit(&self, now_ms: u64) -> Option<u64> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (next, left_out) = &mut *state;
        if now_ms >= *next {
            *next = now_ms.saturating_add(self.interval_ms);
            Some(std::mem::take(left_out))
        } else {
            *left_out = left_out.saturating_add(1);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_refusals_logs_one_line_per_interval() {
        let gate = LogGate::new(10_000);
        assert_eq!(gate.admit(1_000), Some(0));
        // 10,000 refusals within the same interval: none logged, all remembered.
        let logged = (0..10_000u64)
            .filter(|i| gate.admit(1_000 + i % 9_000).is_some())
            .count();
        assert_eq!(logged, 0);
        assert_eq!(gate.admit(11_000), Some(10_000));
        assert_eq!(gate.admit(11_001), None);
        assert_eq!(gate.admit(25_000), Some(1));
    }
}
