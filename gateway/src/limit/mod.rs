//! Connection admission limits (sans-io, time passed in): a token bucket and a concurrency
//! count per client address, and a gateway-wide concurrency limit.
//!
//! One [`Limits`] is shared by all workers of a gateway so a client's limit holds whichever
//! worker the kernel hands its connection to. It is touched once when a connection is
//! admitted and once when it closes, never on the relay path; the per-address table is
//! sharded to keep those moments short.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::cidr::canonical;
use crate::config::{PerIpConfig, RateLimit};

const SHARDS: usize = 16;
/// Most client addresses tracked at once; beyond it new addresses are admitted untracked
/// rather than refused (the table must not become a memory sink under a flood).
pub const MAX_TRACKED_ADDRESSES: usize = 1 << 20;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Matched a deny block or missed every allow block.
    Acl,
    /// The client's token bucket was empty.
    Rate,
    /// The client had `per_ip.max_conns` connections open.
    PerIpConns,
    /// The gateway had `max_conns` connections open.
    MaxConns,
    /// No healthy upstream.
    NoUpstream,
    /// Every connect attempt failed.
    ConnectFailed,
}

impl Refusal {
    /// All reasons, in reporting order.
    pub const ALL: [Refusal; 6] = [
        Refusal::Acl,
        Refusal::Rate,
        Refusal::PerIpConns,
        Refusal::MaxConns,
        Refusal::NoUpstream,
        Refusal::ConnectFailed,
    ];

    /// Label used in stats.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Acl => "acl",
            Refusal::Rate => "rate",
            Refusal::PerIpConns => "per_ip_conns",
            Refusal::MaxConns => "max_conns",
            Refusal::NoUpstream => "no_upstream",
            Refusal::ConnectFailed => "connect_failed",
        }
    }

    /// Position in [`Refusal::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A token bucket.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit, now: Instant) -> Self {
        let burst = f64::from(limit.burst.max(1));
        Self {
            tokens: burst,
            last: now,
            rate: limit.per_second,
            burst,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = self.last.max(now);
    }

    /// Takes a token if one is there.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// True when the bucket has refilled completely (the entry can be forgotten).
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

#[derive(Debug)]
struct Entry {
    bucket: Option<TokenBucket>,
    active: u32,
}

/// What an admitted connection holds and must give back through [`Limits::release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    ip: IpAddr,
    global: bool,
    per_ip: bool,
}

/// The limits of one gateway, shared by its workers.
#[derive(Debug)]
pub struct Limits {
    per_ip: PerIpConfig,
    max_conns: Option<u32>,
    active: AtomicU32,
    shards: Vec<Mutex<HashMap<IpAddr, Entry>>>,
}

impl Limits {
    /// Limits with these settings and nothing counted.
    pub fn new(per_ip: PerIpConfig, max_conns: Option<u32>) -> Self {
        let shards = if per_ip.is_active() { SHARDS } else { 0 };
        Self {
            per_ip,
            max_conns,
            active: AtomicU32::new(0),
            shards: (0..shards).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// True when these limits were built from the same settings.
    pub fn same_settings(&self, per_ip: &PerIpConfig, max_conns: Option<u32>) -> bool {
        self.per_ip == *per_ip && self.max_conns == max_conns
    }

    /// True when any limit is set (otherwise admission has nothing to count).
    pub fn is_active(&self) -> bool {
        self.per_ip.is_active() || self.max_conns.is_some()
    }

    /// Admits a connection from `ip` or says why not.
    pub fn acquire(&self, ip: IpAddr, now: Instant) -> Result<Permit, Refusal> {
        let ip = canonical(ip);
        let global = match self.max_conns {
            None => false,
            Some(max) => {
                if self.active.fetch_add(1, Ordering::AcqRel) >= max {
                    self.active.fetch_sub(1, Ordering::AcqRel);
                    return Err(Refusal::MaxConns);
                }
                true
            }
        };
        let per_ip = match self.acquire_ip(ip, now) {
            Ok(counted) => counted,
            Err(r) => {
                if global {
                    self.active.fetch_sub(1, Ordering::AcqRel);
                }
                return Err(r);
            }
        };
        Ok(Permit { ip, global, per_ip })
    }

    fn acquire_ip(&self, ip: IpAddr, now: Instant) -> Result<bool, Refusal> {
        let Some(mut shard) = self.shard(ip) else {
            return Ok(false);
        };
        if !shard.contains_key(&ip) && shard.len() >= MAX_TRACKED_ADDRESSES / SHARDS {
            sweep_shard(&mut shard, now);
            if shard.len() >= MAX_TRACKED_ADDRESSES / SHARDS {
                return Ok(false);
            }
        }
        let entry = shard.entry(ip).or_insert_with(|| Entry {
            bucket: self.per_ip.rate.map(|r| TokenBucket::new(r, now)),
            active: 0,
        });
        if let Some(max) = self.per_ip.max_conns
            && entry.active >= max
        {
            return Err(Refusal::PerIpConns);
        }
        if let Some(bucket) = &mut entry.bucket
            && !bucket.try_take(now)
        {
            return Err(Refusal::Rate);
        }
        entry.active += 1;
        Ok(true)
    }

    /// Gives back what `permit` counted.
    pub fn release(&self, permit: Permit, now: Instant) {
        if permit.global {
            self.active.fetch_sub(1, Ordering::AcqRel);
        }
        if !permit.per_ip {
            return;
        }
        if let Some(mut shard) = self.shard(permit.ip)
            && let Some(e) = shard.get_mut(&permit.ip)
        {
            e.active = e.active.saturating_sub(1);
            if e.active == 0 && e.bucket.as_mut().is_none_or(|b| b.is_full(now)) {
                shard.remove(&permit.ip);
            }
        }
    }

    /// Forgets addresses with nothing open and a full bucket; returns how many remain.
    pub fn sweep(&self, now: Instant) -> usize {
        let mut left = 0;
        for s in &self.shards {
            let mut shard = s.lock().unwrap_or_else(|p| p.into_inner());
            sweep_shard(&mut shard, now);
            left += shard.len();
        }
        left
    }

    /// Connections counted against `max_conns`.
    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Acquire)
    }

    fn shard(&self, ip: IpAddr) -> Option<MutexGuard<'_, HashMap<IpAddr, Entry>>> {
        if self.shards.is_empty() {
            return None;
        }
        let i = (crate::balance::hash_ip(ip) as usize) % self.shards.len();
        Some(self.shards[i].lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn sweep_shard(shard: &mut HashMap<IpAddr, Entry>, now: Instant) {
    shard.retain(|_, e| e.active > 0 || e.bucket.as_mut().is_some_and(|b| !b.is_full(now)));
}

/// An admitted connection's hold on its gateway's limits, given back on drop.
#[derive(Debug)]
pub struct Admission {
    limits: Arc<Limits>,
    permit: Permit,
}

impl Admission {
    /// Admits a connection from `ip` against `limits`.
    pub fn acquire(limits: &Arc<Limits>, ip: IpAddr, now: Instant) -> Result<Self, Refusal> {
        let permit = limits.acquire(ip, now)?;
        Ok(Self {
            limits: Arc::clone(limits),
            permit,
        })
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.limits.release(self.permit, Instant::now());
    }
}

#[cfg(test)]
mod tests;
