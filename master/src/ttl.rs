//! Heartbeat TTLs, Nomad style: each heartbeat pushes a node's deadline to
//! `now + ttl + jitter + grace`; a node whose deadline passes goes offline, and its next
//! heartbeat brings it back. Time is passed in; nothing here sleeps or reads a clock.

use std::collections::HashMap;
use std::time::Duration;

/// A change of a node's liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The node was offline (or unknown) and is now online.
    CameOnline,
    /// The node was online and stays online.
    StillOnline,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    deadline_ms: u64,
    online: bool,
}

/// Tracks every node's heartbeat deadline.
#[derive(Debug)]
pub struct HeartbeatTtl {
    ttl_ms: u64,
    grace_ms: u64,
    jitter_ms: u64,
    nodes: HashMap<u64, Entry>,
}

impl HeartbeatTtl {
    /// A tracker; `jitter` spreads deadlines so nodes that started together do not all expire
    /// in the same tick.
    pub fn new(ttl: Duration, grace: Duration, jitter: Duration) -> Self {
        Self {
            ttl_ms: ttl.as_millis() as u64,
            grace_ms: grace.as_millis() as u64,
            jitter_ms: jitter.as_millis() as u64,
            nodes: HashMap::new(),
        }
    }

    /// Deterministic jitter in `[0, jitter)` from the node id and the time, so tests can
    /// predict it and nodes do not move in lockstep.
    fn jitter_for(&self, node: u64, now_ms: u64) -> u64 {
        if self.jitter_ms == 0 {
            return 0;
        }
        let mut x = node ^ now_ms.rotate_left(17) ^ 0x9E37_79B9_7F4A_7C15;
        x ^= x >> 33;
        x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^= x >> 33;
        x % self.jitter_ms
    }

    /// The deadline a heartbeat at `now_ms` gives, at the latest.
    pub fn max_deadline(&self, now_ms: u64) -> u64 {
        now_ms + self.ttl_ms + self.grace_ms + self.jitter_ms
    }

    /// Records a heartbeat (or a new session) of `node` at `now_ms`.
    pub fn heartbeat(&mut self, node: u64, now_ms: u64) -> Liveness {
        let deadline_ms = now_ms + self.ttl_ms + self.grace_ms + self.jitter_for(node, now_ms);
        let entry = self.nodes.entry(node).or_insert(Entry {
            deadline_ms,
            online: false,
        });
        let was_online = entry.online;
        entry.deadline_ms = deadline_ms;
        entry.online = true;
        if was_online {
            Liveness::StillOnline
        } else {
            Liveness::CameOnline
        }
    }

    /// Nodes whose deadline passed at `now_ms`, marked offline; each is returned once.
    pub fn expire(&mut self, now_ms: u64) -> Vec<u64> {
        let mut gone: Vec<u64> = self
            .nodes
            .iter_mut()
            .filter(|(_, e)| e.online && e.deadline_ms <= now_ms)
            .map(|(id, e)| {
                e.online = false;
                *id
            })
            .collect();
        gone.sort_unstable();
        gone
    }

    /// Whether `node` is online.
    pub fn is_online(&self, node: u64) -> bool {
        self.nodes.get(&node).is_some_and(|e| e.online)
    }

    /// Forgets a node (revoked or deleted).
    pub fn remove(&mut self, node: u64) {
        self.nodes.remove(&node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> HeartbeatTtl {
        HeartbeatTtl::new(
            Duration::from_secs(15),
            Duration::from_secs(10),
            Duration::from_secs(2),
        )
    }

    #[test]
    fn first_heartbeat_brings_node_online() {
        let mut t = tracker();
        assert!(!t.is_online(1));
        assert_eq!(t.heartbeat(1, 1000), Liveness::CameOnline);
        assert_eq!(t.heartbeat(1, 6000), Liveness::StillOnline);
        assert!(t.is_online(1));
    }

    #[test]
    fn expires_only_after_ttl_plus_grace() {
        let mut t = tracker();
        t.heartbeat(1, 0);
        assert!(t.expire(24_999).is_empty(), "ttl + grace not yet over");
        assert_eq!(
            t.expire(27_000),
            vec![1],
            "ttl + grace + max jitter is over"
        );
        assert!(!t.is_online(1));
        assert!(t.expire(100_000).is_empty(), "reported once");
    }

    #[test]
    fn heartbeats_keep_a_node_alive_and_it_can_return() {
        let mut t = tracker();
        for now in (0..100_000).step_by(5_000) {
            t.heartbeat(7, now);
            assert!(t.expire(now).is_empty());
        }
        assert_eq!(t.expire(95_000 + 27_000), vec![7]);
        assert_eq!(t.heartbeat(7, 200_000), Liveness::CameOnline);
    }

    #[test]
    fn jitter_is_bounded_and_spreads_nodes() {
        let t = tracker();
        let js: Vec<u64> = (0..100).map(|n| t.jitter_for(n, 12_345)).collect();
        assert!(js.iter().all(|j| *j < 2000));
        let distinct: std::collections::BTreeSet<_> = js.iter().collect();
        assert!(distinct.len() > 50);
        let no_jitter = HeartbeatTtl::new(Duration::from_secs(1), Duration::ZERO, Duration::ZERO);
        assert_eq!(no_jitter.jitter_for(3, 4), 0);
    }

    #[test]
    fn expiry_lists_each_node_independently() {
        let mut t = HeartbeatTtl::new(Duration::from_secs(10), Duration::ZERO, Duration::ZERO);
        t.heartbeat(1, 0);
        t.heartbeat(2, 5_000);
        assert_eq!(t.expire(10_000), vec![1]);
        assert_eq!(t.expire(15_000), vec![2]);
        t.remove(2);
        assert!(!t.is_online(2));
    }
}
