//! Reconnection backoff: exponential with full jitter, capped, reset after a session that
//! lasted. Sans-io: the caller supplies the random value.

use std::time::Duration;

/// First retry delay ceiling.
pub const DEFAULT_INITIAL: Duration = Duration::from_millis(200);
/// Largest retry delay ceiling.
pub const DEFAULT_MAX: Duration = Duration::from_secs(30);

/// Exponential backoff state.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(DEFAULT_INITIAL, DEFAULT_MAX)
    }
}

impl Backoff {
    /// A backoff between `initial` and `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// The delay before the next attempt; `random` is any uniformly random `u64`.
    /// Half the ceiling is fixed and half is jitter, so retries never spin.
    pub fn next_delay(&mut self, random: u64) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        let ceiling = self.initial.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let ceiling_ms = ceiling.as_millis().max(2) as u64;
        let half = ceiling_ms / 2;
        Duration::from_millis(half + random % (ceiling_ms - half))
    }

    /// Starts over (after a successful session).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let delays: Vec<u64> = (0..10)
            .map(|_| b.next_delay(u64::MAX).as_millis() as u64)
            .collect();
        assert!(delays[0] <= 100);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
        assert!(delays.iter().all(|d| *d <= 2000));
        assert!(delays[9] >= 1000);
    }

    #[test]
    fn jitter_stays_in_upper_half_and_reset_restarts() {
        let mut b = Backoff::new(Duration::from_millis(1000), Duration::from_secs(10));
        for r in [0, 1, 499, 500, 12345] {
            let mut c = b.clone();
            let d = c.next_delay(r).as_millis();
            assert!((500..1000).contains(&d), "{d}");
        }
        b.next_delay(0);
        b.next_delay(0);
        b.reset();
        assert!(b.next_delay(0).as_millis() < 1000);
    }
}
