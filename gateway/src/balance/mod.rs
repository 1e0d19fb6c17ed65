//! Upstream selection (sans-io): smooth weighted round robin, weighted least connections and
//! consistent hashing of the client address on a ring of virtual nodes.
//!
//! A balancer is built for one ordered upstream list and asked to [`Balancer::pick`] among
//! the entries that are currently eligible (healthy and not draining) and not already tried
//! for this connection. The ring of the hash balancer holds every configured upstream, so a
//! down upstream only moves its own keys, and adding or removing one moves about `1/n` keys.

use std::net::{IpAddr, SocketAddr};

use crate::config::Algorithm;

/// Virtual nodes per unit of weight on the hash ring.
pub const VNODES_PER_WEIGHT: u32 = 100;
/// Cap on the total number of virtual nodes.
pub const MAX_VNODES: usize = 100_000;

/// What a balancer needs to know about an upstream at pick time.
pub trait UpstreamView {
    /// Relative weight, at least 1.
    fn weight(&self) -> u32;
    /// Healthy and not draining.
    fn eligible(&self) -> bool;
    /// Connections currently open (or being opened) to it.
    fn active(&self) -> u64;
}

/// A balancer for one upstream list.
#[derive(Debug, Clone)]
pub struct Balancer {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    RoundRobin { current: Vec<i64> },
    LeastConn { cursor: usize },
    Hash { ring: Vec<(u64, u32)> },
}

impl Balancer {
    /// Builds a balancer for `addrs` (the order of the upstream list); weights are read at
    /// pick time except for the hash ring, which takes them here.
    pub fn new(algorithm: Algorithm, addrs: &[(SocketAddr, u32)]) -> Self {
        let kind = match algorithm {
            Algorithm::RoundRobin => Kind::RoundRobin {
                current: vec![0; addrs.len()],
            },
            Algorithm::LeastConn => Kind::LeastConn { cursor: 0 },
            Algorithm::Hash => Kind::Hash {
                ring: build_ring(addrs),
            },
        };
        Self { kind }
    }

    /// Chooses an upstream index, skipping ineligible entries and those in `tried`; `None`
    /// when nothing is left. `client` only matters to the hash balancer.
    pub fn pick<T: UpstreamView>(
        &mut self,
        ups: &[T],
        client: IpAddr,
        tried: &[usize],
    ) -> Option<usize> {
        let usable = |i: usize| ups[i].eligible() && !tried.contains(&i);
        match &mut self.kind {
            Kind::RoundRobin { current } => smooth_wrr(current, ups, usable),
            Kind::LeastConn { cursor } => least_conn(cursor, ups, usable),
            Kind::Hash { ring } => ring_lookup(ring, hash_ip(client), ups.len(), usable),
        }
    }
}

/// nginx's smooth weighted round robin: every usable peer gains its weight, the richest is
/// chosen and pays the total. Equal weights give plain rotation.
fn smooth_wrr<T: UpstreamView>(
    current: &mut Vec<i64>,
    ups: &[T],
    usable: impl Fn(usize) -> bool,
) -> Option<usize> {
    if current.len() != ups.len() {
        current.resize(ups.len(), 0);
    }
    let mut total = 0i64;
    let mut best: Option<usize> = None;
    for i in (0..ups.len()).filter(|&i| usable(i)) {
        let w = i64::from(ups[i].weight().max(1));
        current[i] += w;
        total += w;
        if best.is_none_or(|b| current[i] > current[b]) {
            best = Some(i);
        }
    }
    let b = best?;
    current[b] -= total;
    Some(b)
}

/// Fewest active connections per unit of weight; ties rotate through a cursor.
fn least_conn<T: UpstreamView>(
    cursor: &mut usize,
    ups: &[T],
    usable: impl Fn(usize) -> bool,
) -> Option<usize> {
    let n = ups.len();
    if n == 0 {
        return None;
    }
    let start = *cursor % n;
    let mut best: Option<usize> = None;
    for i in (0..n).map(|k| (start + k) % n).filter(|&i| usable(i)) {
        let better = match best {
            None => true,
            Some(b) => {
                let (ai, wi) = (
                    u128::from(ups[i].active()),
                    u128::from(ups[i].weight().max(1)),
                );
                let (ab, wb) = (
                    u128::from(ups[b].active()),
                    u128::from(ups[b].weight().max(1)),
                );
                ai * wb < ab * wi
            }
        };
        if better {
            best = Some(i);
        }
    }
    *cursor = start + 1;
    best
}

fn build_ring(addrs: &[(SocketAddr, u32)]) -> Vec<(u64, u32)> {
    let total: u64 = addrs.iter().map(|&(_, w)| u64::from(w.max(1))).sum();
    let per_weight = match (MAX_VNODES as u64).checked_div(total) {
        None => VNODES_PER_WEIGHT,
        Some(cap) => VNODES_PER_WEIGHT.min(u32::try_from(cap.max(1)).unwrap_or(u32::MAX)),
    };
    let mut ring = Vec::new();
    for (idx, &(addr, w)) in addrs.iter().enumerate() {
        let Ok(idx) = u32::try_from(idx) else { break };
        let label = addr.to_string();
        for v in 0..w.max(1).saturating_mul(per_weight) {
            ring.push((hash_vnode(&label, v), idx));
        }
    }
    ring.sort_unstable();
    ring
}

fn ring_lookup(
    ring: &[(u64, u32)],
    key: u64,
    n: usize,
    usable: impl Fn(usize) -> bool,
) -> Option<usize> {
    if ring.is_empty() {
        return None;
    }
    let start = ring.partition_point(|&(h, _)| h < key);
    let mut seen = vec![false; n];
    let mut seen_count = 0;
    for k in 0..ring.len() {
        let idx = ring[(start + k) % ring.len()].1 as usize;
        if idx >= n || seen[idx] {
            continue;
        }
        if usable(idx) {
            return Some(idx);
        }
        seen[idx] = true;
        seen_count += 1;
        if seen_count == n {
            break;
        }
    }
    None
}

/// FNV-1a followed by a 64-bit finaliser: stable across processes and releases.
fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(h)
}

fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The ring key of a client address (IPv4-mapped IPv6 hashes as IPv4).
pub fn hash_ip(ip: IpAddr) -> u64 {
    match crate::cidr::canonical(ip) {
        IpAddr::V4(a) => stable_hash(&a.octets()),
        IpAddr::V6(a) => stable_hash(&a.octets()),
    }
}

fn hash_vnode(label: &str, v: u32) -> u64 {
    let mut bytes = Vec::with_capacity(label.len() + 5);
    bytes.extend_from_slice(label.as_bytes());
    bytes.push(b'#');
    bytes.extend_from_slice(&v.to_le_bytes());
    stable_hash(&bytes)
}

#[cfg(test)]
mod tests;
