//! Connection caps of the console: at most so many connections at once in total and from one
//! client address (an IPv6 client counts by its /64, as one host usually owns a whole /64).
//! Sans-io: [`ConnectionCaps::admit`] decides, the returned [`Admission`] frees the slot when
//! it is dropped. The accept loop closes a refused connection at once.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The console holds its maximum number of connections.
    Global,
    /// This client address (or IPv6 /64) holds its maximum.
    PerAddress,
}

/// Counts open connections against a global and a per-address cap.
#[derive(Debug)]
pub struct ConnectionCaps {
    max_total: usize,
    max_per_address: usize,
    /// Addresses counted against the global cap only (trusted reverse proxies, which carry
    /// every client's connections).
    exempt: Vec<IpAddr>,
    state: Arc<Mutex<Counts>>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it frees its slots.
#[derive(Debug)]
pub struct Admission {
    key: Option<IpAddr>,
    state: Arc<Mutex<Counts>>,
}

impl ConnectionCaps {
    /// Caps of `max_total` connections, `max_per_address` from one address (`exempt`
    /// addresses excepted).
    pub fn new(max_total: usize, max_per_address: usize, exempt: Vec<IpAddr>) -> Self {
        Self {
            max_total,
            max_per_address,
            exempt: exempt.into_iter().map(canonical).collect(),
            state: Arc::new(Mutex::new(Counts::default())),
        }
    }

    /// Admits a connection from `peer`, or says which cap it is over.
    pub fn admit(&self, peer: IpAddr) -> Result<Admission, Refusal> {
        let peer = canonical(peer);
        let key = (!self.exempt.contains(&peer)).then(|| address_key(peer));
        let mut counts = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= self.max_total {
            return Err(Refusal::Global);
        }
        if let Some(key) = key {
            let n = counts.per_address.entry(key).or_insert(0);
            if *n >= self.max_per_address {
                return Err(Refusal::PerAddress);
            }
            *n += 1;
        }
        counts.total += 1;
        Ok(Admission {
            key,
            state: Arc::clone(&self.state),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut counts = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(key) = self.key
            && let Some(n) = counts.per_address.get_mut(&key)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_address.remove(&key);
            }
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What a client is counted by: its IPv4 address, or its IPv6 /64.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn per_address_cap_refuses_the_next_and_frees_on_drop() {
        let caps = ConnectionCaps::new(10, 2, Vec::new());
        let a = caps.admit(ip("192.0.2.1")).unwrap();
        let _b = caps.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(
            caps.admit(ip("192.0.2.1")).unwrap_err(),
            Refusal::PerAddress
        );
        // The same host as IPv4-mapped IPv6 is the same address.
        assert_eq!(
            caps.admit(ip("::ffff:192.0.2.1")).unwrap_err(),
            Refusal::PerAddress
        );
        // Another address is not affected.
        let _c = caps.admit(ip("192.0.2.2")).unwrap();
        assert_eq!(caps.open(), 3);
        drop(a);
        assert_eq!(caps.open(), 2);
        let _d = caps.admit(ip("192.0.2.1")).unwrap();
    }

    #[test]
    fn ipv6_counts_by_its_64() {
        let caps = ConnectionCaps::new(10, 1, Vec::new());
        let _a = caps.admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            caps.admit(ip("2001:db8:1:2:ffff::9")).unwrap_err(),
            Refusal::PerAddress
        );
        let _b = caps.admit(ip("2001:db8:1:3::1")).unwrap();
    }

    #[test]
    fn global_cap_counts_everyone_and_exempt_addresses_only_globally() {
        let caps = ConnectionCaps::new(3, 1, vec![ip("10.0.0.1")]);
        let _proxy: Vec<_> = (0..2)
            .map(|_| caps.admit(ip("10.0.0.1")).unwrap())
            .collect();
        let other = caps.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(caps.admit(ip("10.0.0.3")).unwrap_err(), Refusal::Global);
        assert_eq!(caps.admit(ip("10.0.0.1")).unwrap_err(), Refusal::Global);
        drop(other);
        let _again = caps.admit(ip("10.0.0.3")).unwrap();
        assert_eq!(caps.open(), 3);
    }
}
