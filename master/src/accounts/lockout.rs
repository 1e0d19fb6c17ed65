//! Login lockout, sans-io: failed logins per client address within a sliding window lock
//! that address for a while. Time is passed in (Unix milliseconds), so the rules are
//! unit-tested without sleeping.
//!
//! Addresses are grouped by [`LockKey`]: one IPv4 address, or one IPv6 /64 (a single
//! host usually owns a whole /64, so per-address keys would be trivial to rotate).
//! The table is bounded ([`MAX_TRACKED`]); when full, expired entries go first, then entries
//! that are not locked (entries with an attempt in flight are always kept).
//!
//! A login reserves its attempt with [`Lockout::reserve`] *before* the password is hashed,
//! and settles it afterwards ([`Lockout::settle_failure`] / [`Lockout::settle_success`]).
//! Failures plus attempts in flight never exceed `max_failures`, and at most one attempt per
//! key is in flight, so a burst of concurrent guesses cannot outrun the lock.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use model::clock::duration_ms;

/// Most addresses tracked at once.
pub const MAX_TRACKED: usize = 65_536;

/// Failures allowed, window and lock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures within `window` that lock the address (the five).
    pub max_failures: u32,
    /// The sliding window failures are counted in.
    pub window: Duration,
    /// How long a locked address stays locked.
    pub lock_for: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_secs(15 * 60),
            lock_for: Duration::from_secs(15 * 60),
        }
    }
}

/// What lockouts are keyed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockKey {
    /// One IPv4 address (IPv4-mapped IPv6 addresses count as IPv4).
    V4([u8; 4]),
    /// The first 64 bits of an IPv6 address.
    V6Prefix([u8; 8]),
}

impl From<IpAddr> for LockKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => LockKey::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => LockKey::V4(v4.octets()),
                None => {
                    let o = v6.octets();
                    LockKey::V6Prefix([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
                }
            },
        }
    }
}

#[derive(Debug, Default)]
struct Entry {
    /// Times of recent failures, oldest first, at most `max_failures`.
    failures: VecDeque<u64>,
    /// Locked until this time (exclusive), if locked.
    locked_until: Option<u64>,
    /// Attempts reserved and not yet settled.
    in_flight: u32,
}

/// Why [`Lockout::reserve`] refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address is locked for this long.
    Locked(Duration),
    /// Another attempt from the address is in flight (or failures plus attempts in flight
    /// reached the limit).
    Busy,
}

/// The lockout table.
#[derive(Debug)]
pub struct Lockout {
    policy: LockoutPolicy,
    entries: HashMap<LockKey, Entry>,
}

impl Lockout {
    /// An empty table with `policy` (`max_failures` 0 is treated as 1).
    pub fn new(policy: LockoutPolicy) -> Self {
        Self {
            policy,
            entries: HashMap::new(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> LockoutPolicy {
        self.policy
    }

    /// `Err(remaining)` while `ip` is locked at `now_ms`, with the time left.
    pub fn check(&self, ip: IpAddr, now_ms: u64) -> Result<(), Duration> {
        match self
            .entries
            .get(&LockKey::from(ip))
            .and_then(|e| e.locked_until)
        {
            Some(until) if until > now_ms => Err(Duration::from_millis(until - now_ms)),
            _ => Ok(()),
        }
    }

    /// Reserves one attempt for `ip` before its password is checked: refused while locked,
    /// while another attempt of the address is in flight, or when failures within the window
    /// plus attempts in flight reach `max_failures`. Every `Ok` must be settled once.
    pub fn reserve(&mut self, ip: IpAddr, now_ms: u64) -> Result<(), Refusal> {
        self.check(ip, now_ms).map_err(Refusal::Locked)?;
        let key = LockKey::from(ip);
        if !self.entries.contains_key(&key) && self.entries.len() >= MAX_TRACKED {
            self.make_room(now_ms);
        }
        let window = duration_ms(self.policy.window);
        let max = self.policy.max_failures.max(1);
        let entry = self.entries.entry(key).or_default();
        let recent = entry
            .failures
            .iter()
            .filter(|&&t| now_ms.saturating_sub(t) < window)
            .count();
        let recent = u32::try_from(recent).unwrap_or(u32::MAX);
        if entry.in_flight >= 1 || recent.saturating_add(entry.in_flight) >= max {
            return Err(Refusal::Busy);
        }
        entry.in_flight += 1;
        Ok(())
    }

    /// Settles a reserved attempt as a failure (see [`Lockout::record_failure`]).
    pub fn settle_failure(&mut self, ip: IpAddr, now_ms: u64) -> Option<Duration> {
        self.release(ip);
        self.record_failure(ip, now_ms)
    }

    /// Settles a reserved attempt as a success (see [`Lockout::record_success`]).
    pub fn settle_success(&mut self, ip: IpAddr) {
        self.release(ip);
        self.record_success(ip);
    }

    /// Releases a reserved attempt that was never checked (counts nothing).
    pub fn settle_release(&mut self, ip: IpAddr) {
        self.release(ip);
    }

    fn release(&mut self, ip: IpAddr) {
        if let Some(e) = self.entries.get_mut(&LockKey::from(ip)) {
            e.in_flight = e.in_flight.saturating_sub(1);
        }
    }

    /// Records a failed login. Returns `Some(lock time)` when this failure locked the
    /// address.
    pub fn record_failure(&mut self, ip: IpAddr, now_ms: u64) -> Option<Duration> {
        let key = LockKey::from(ip);
        if !self.entries.contains_key(&key) && self.entries.len() >= MAX_TRACKED {
            self.make_room(now_ms);
        }
        let policy = self.policy;
        let window = duration_ms(policy.window);
        let max = usize::try_from(policy.max_failures.max(1)).unwrap_or(usize::MAX);
        let entry = self.entries.entry(key).or_default();
        if entry.locked_until.is_some_and(|until| until > now_ms) {
            return None;
        }
        entry.locked_until = None;
        while entry
            .failures
            .front()
            .is_some_and(|&t| now_ms.saturating_sub(t) >= window)
        {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now_ms);
        if entry.failures.len() >= max {
            entry.failures.clear();
            entry.locked_until = Some(now_ms.saturating_add(duration_ms(policy.lock_for)));
            return Some(policy.lock_for);
        }
        None
    }

    /// Records a successful login: the address's failures are forgotten.
    pub fn record_success(&mut self, ip: IpAddr) {
        let key = LockKey::from(ip);
        if self
            .entries
            .get(&key)
            .is_some_and(|e| e.locked_until.is_none() && e.in_flight == 0)
        {
            self.entries.remove(&key);
        }
    }

    /// Drops entries with nothing left to remember at `now_ms`.
    pub fn prune(&mut self, now_ms: u64) {
        let window = duration_ms(self.policy.window);
        self.entries.retain(|_, e| {
            let locked = e.locked_until.is_some_and(|u| u > now_ms);
            let recent = e
                .failures
                .back()
                .is_some_and(|&t| now_ms.saturating_sub(t) < window);
            locked || recent || e.in_flight > 0
        });
    }

    /// How many addresses are tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn make_room(&mut self, now_ms: u64) {
        self.prune(now_ms);
        if self.entries.len() >= MAX_TRACKED {
            // Partial failure counts are the only thing lost; locks are kept.
            self.entries
                .retain(|_, e| e.locked_until.is_some_and(|u| u > now_ms) || e.in_flight > 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const MIN: u64 = 60_000;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn table() -> Lockout {
        Lockout::new(LockoutPolicy {
            max_failures: 5,
            window: Duration::from_secs(600),
            lock_for: Duration::from_secs(900),
        })
    }

    #[test]
    fn fifth_failure_in_window_locks_then_unlocks() {
        let mut t = table();
        for i in 0..4 {
            assert_eq!(t.record_failure(ip(1), i * MIN), None);
            assert_eq!(t.check(ip(1), i * MIN), Ok(()));
        }
        assert_eq!(
            t.record_failure(ip(1), 4 * MIN),
            Some(Duration::from_secs(900))
        );
        assert_eq!(t.check(ip(1), 4 * MIN), Err(Duration::from_secs(900)));
        assert_eq!(t.check(ip(1), 18 * MIN), Err(Duration::from_secs(60)));
        // Another address is unaffected.
        assert_eq!(t.check(ip(2), 5 * MIN), Ok(()));
        // Failures while locked do not extend the lock.
        assert_eq!(t.record_failure(ip(1), 10 * MIN), None);
        assert_eq!(t.check(ip(1), 19 * MIN - 1), Err(Duration::from_millis(1)));
        assert_eq!(t.check(ip(1), 19 * MIN), Ok(()));
        // After the lock, counting starts afresh.
        assert_eq!(t.record_failure(ip(1), 19 * MIN), None);
        assert_eq!(t.check(ip(1), 19 * MIN), Ok(()));
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let mut t = table();
        for i in 0..4 {
            t.record_failure(ip(1), i * MIN);
        }
        // The first failure (t=0) is 10 minutes old at t=10 min: out of the window.
        assert_eq!(t.record_failure(ip(1), 10 * MIN), None);
        assert_eq!(t.check(ip(1), 10 * MIN), Ok(()));
        assert!(t.record_failure(ip(1), 10 * MIN + 1).is_some());
    }

    #[test]
    fn success_resets_but_not_while_locked() {
        let mut t = table();
        for i in 0..4 {
            t.record_failure(ip(1), i);
        }
        t.record_success(ip(1));
        assert_eq!(t.record_failure(ip(1), 10), None);
        for i in 0..4 {
            t.record_failure(ip(1), 20 + i);
        }
        assert!(t.check(ip(1), 30).is_err());
        t.record_success(ip(1));
        assert!(t.check(ip(1), 30).is_err(), "a success cannot lift a lock");
    }

    #[test]
    fn ipv6_is_keyed_by_slash_64_and_mapped_v4_by_address() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(LockKey::from(a), LockKey::from(b));
        assert_ne!(LockKey::from(a), LockKey::from(c));
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        assert_eq!(LockKey::from(mapped), LockKey::from(ip(1)));
        assert_ne!(
            LockKey::from(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            LockKey::from(ip(1))
        );
    }

    #[test]
    fn reservations_count_with_failures_and_one_is_in_flight_per_address() {
        let mut t = table();
        assert_eq!(t.reserve(ip(1), 0), Ok(()));
        assert_eq!(t.reserve(ip(1), 0), Err(Refusal::Busy), "one in flight");
        assert_eq!(t.reserve(ip(2), 0), Ok(()), "another address is free");
        assert_eq!(t.settle_failure(ip(1), 0), None);
        for i in 1..4 {
            assert_eq!(t.reserve(ip(1), i), Ok(()));
            assert_eq!(t.settle_failure(ip(1), i), None);
        }
        assert_eq!(t.reserve(ip(1), 5), Ok(()), "the fifth attempt");
        // A success in flight is not forgotten by pruning.
        t.prune(100 * MIN);
        assert_eq!(
            t.settle_failure(ip(1), 6),
            Some(Duration::from_secs(900)),
            "the fifth failure locks"
        );
        assert!(matches!(t.reserve(ip(1), 7), Err(Refusal::Locked(_))));
        t.settle_success(ip(2));
        assert_eq!(t.reserve(ip(2), 8), Ok(()));
    }

    #[test]
    fn prune_and_bound() {
        let mut t = table();
        t.record_failure(ip(1), 0);
        for _ in 0..5 {
            t.record_failure(ip(2), 0);
        }
        t.prune(11 * MIN);
        assert_eq!(t.len(), 1, "only the locked address is kept");
        t.prune(16 * MIN);
        assert!(t.is_empty());

        let mut t = table();
        for i in 0..MAX_TRACKED as u32 {
            t.record_failure(IpAddr::V4(Ipv4Addr::from(i)), 0);
        }
        assert_eq!(t.len(), MAX_TRACKED);
        t.record_failure(ip(7), 1);
        assert_eq!(t.len(), 1, "partial counts dropped to make room");
    }
}
