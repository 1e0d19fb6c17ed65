//! Upstream health state machine (sans-io): `rise` consecutive successes bring a down
//! upstream back, `fall` consecutive failures (active checks or passive connect failures)
//! take it down. With active checks off, a passively ejected upstream is re-admitted after a
//! cool-down. Time is passed in.

use std::time::{Duration, Instant};

/// A change of state reported by the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The upstream is usable again.
    Up,
    /// The upstream must not get new connections.
    Down,
}

/// Health of one upstream.
#[derive(Debug, Clone)]
pub struct HealthTracker {
    up: bool,
    successes: u32,
    failures: u32,
    rise: u32,
    fall: u32,
    active_checks: bool,
    cool_down: Duration,
    down_since: Option<Instant>,
}

impl HealthTracker {
    /// A tracker that starts up (new upstreams get traffic at once, as in HAProxy).
    pub fn new(rise: u32, fall: u32, active_checks: bool, cool_down: Duration) -> Self {
        Self {
            up: true,
            successes: 0,
            failures: 0,
            rise: rise.max(1),
            fall: fall.max(1),
            active_checks,
            cool_down,
            down_since: None,
        }
    }

    /// Applies new thresholds, keeping the current state.
    pub fn reconfigure(&mut self, rise: u32, fall: u32, active_checks: bool, cool_down: Duration) {
        self.rise = rise.max(1);
        self.fall = fall.max(1);
        self.active_checks = active_checks;
        self.cool_down = cool_down;
    }

    /// Current state.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Records an active check result.
    pub fn on_check(&mut self, ok: bool, now: Instant) -> Option<Transition> {
        if ok {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            if !self.up && self.successes >= self.rise {
                return self.set(true, now);
            }
            None
        } else {
            self.fail(now)
        }
    }

    /// Records that a worker ejected the upstream after `fall` consecutive connect failures:
    /// it goes down at once.
    pub fn on_passive_ejection(&mut self, now: Instant) -> Option<Transition> {
        self.failures = self.fall;
        self.successes = 0;
        if self.up { self.set(false, now) } else { None }
    }

    /// Time-driven re-admission when active checks are off.
    pub fn poll(&mut self, now: Instant) -> Option<Transition> {
        match self.down_since {
            Some(since) if !self.active_checks && now.duration_since(since) >= self.cool_down => {
                self.failures = 0;
                self.set(true, now)
            }
            _ => None,
        }
    }

    fn fail(&mut self, now: Instant) -> Option<Transition> {
        self.successes = 0;
        self.failures = self.failures.saturating_add(1);
        if self.up && self.failures >= self.fall {
            return self.set(false, now);
        }
        None
    }

    fn set(&mut self, up: bool, now: Instant) -> Option<Transition> {
        self.up = up;
        self.successes = 0;
        self.down_since = if up { None } else { Some(now) };
        Some(if up { Transition::Up } else { Transition::Down })
    }
}

/// Passive failure counting in a worker: `fall` consecutive connect failures eject.
#[derive(Debug, Clone, Copy, Default)]
pub struct PassiveCounter {
    consecutive: u32,
}

impl PassiveCounter {
    /// Records a failed connect; true when this failure reaches `fall`.
    pub fn on_failure(&mut self, fall: u32) -> bool {
        self.consecutive = self.consecutive.saturating_add(1);
        self.consecutive == fall.max(1)
    }

    /// Records a successful connect.
    pub fn on_success(&mut self) {
        self.consecutive = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn falls_after_fall_failures_and_rises_after_rise_successes() {
        let now = t0();
        let mut h = HealthTracker::new(2, 3, true, Duration::from_secs(1));
        assert!(h.is_up());
        assert_eq!(h.on_check(false, now), None);
        assert_eq!(h.on_check(false, now), None);
        assert_eq!(h.on_check(false, now), Some(Transition::Down));
        assert!(!h.is_up());
        assert_eq!(h.on_check(false, now), None, "no repeated transition");
        assert_eq!(h.on_check(true, now), None);
        assert_eq!(h.on_check(true, now), Some(Transition::Up));
        assert_eq!(h.on_check(true, now), None);
    }

    #[test]
    fn a_success_resets_the_failure_run() {
        let now = t0();
        let mut h = HealthTracker::new(1, 2, true, Duration::from_secs(1));
        assert_eq!(h.on_check(false, now), None);
        assert_eq!(h.on_check(true, now), None);
        assert_eq!(h.on_check(false, now), None);
        assert_eq!(h.on_check(false, now), Some(Transition::Down));
        assert_eq!(h.on_check(false, now), None);
        assert_eq!(h.on_check(true, now), Some(Transition::Up), "rise 1");
    }

    #[test]
    fn passive_ejection_needs_rise_checks_to_return() {
        let now = t0();
        let mut h = HealthTracker::new(2, 3, true, Duration::from_millis(10));
        assert_eq!(h.on_passive_ejection(now), Some(Transition::Down));
        assert_eq!(h.on_passive_ejection(now), None);
        assert_eq!(
            h.poll(now + Duration::from_secs(60)),
            None,
            "checks on: no timed return"
        );
        assert_eq!(h.on_check(true, now), None);
        assert_eq!(h.on_check(true, now), Some(Transition::Up));
    }

    #[test]
    fn without_checks_ejection_ends_after_the_cool_down() {
        let now = t0();
        let mut h = HealthTracker::new(2, 3, false, Duration::from_secs(5));
        assert_eq!(h.on_passive_ejection(now), Some(Transition::Down));
        assert_eq!(h.poll(now + Duration::from_secs(4)), None);
        assert_eq!(h.poll(now + Duration::from_secs(5)), Some(Transition::Up));
        assert_eq!(h.poll(now + Duration::from_secs(9)), None);
    }

    #[test]
    fn reconfigure_keeps_state() {
        let now = t0();
        let mut h = HealthTracker::new(1, 1, true, Duration::from_secs(1));
        assert_eq!(h.on_check(false, now), Some(Transition::Down));
        h.reconfigure(3, 3, true, Duration::from_secs(1));
        assert!(!h.is_up());
        assert_eq!(h.on_check(true, now), None);
        assert_eq!(h.on_check(true, now), None);
        assert_eq!(h.on_check(true, now), Some(Transition::Up));
    }

    #[test]
    fn passive_counter_fires_once_per_run() {
        let mut p = PassiveCounter::default();
        assert!(!p.on_failure(3));
        assert!(!p.on_failure(3));
        assert!(p.on_failure(3));
        assert!(!p.on_failure(3), "fires once, not on every later failure");
        p.on_success();
        assert!(!p.on_failure(2));
        assert!(p.on_failure(2));
    }
}
