//! Admission of new protocol connections, decided as each one is accepted and before any
//! byte of it is read: the descriptor reserve, then caps on connections that have not been
//! accepted as a slave yet.
//!
//! Completing the Noise handshake needs no credentials, so until the control side accepts a
//! connection's `Hello` it is *unauthenticated*, and anyone can open as many as they like.
//! Each one costs a descriptor, a task and its session's buffers for up to the handshake
//! timeout. [`Admission`] bounds them globally and per source address (an IPv6 address
//! counts by its /64, the smallest block one host usually gets); a connection over a cap is
//! closed at once. The [`AdmissionPermit`] a connection holds is given back when its `Hello`
//! is accepted (authenticated slaves never count) or when it ends.
//!
//! [`DescriptorBudget`] keeps the last descriptors of the process for the console, the
//! store and the co-located slave: the kernel gives every new descriptor the lowest free
//! number, so an accepted socket numbered at or above `limit − reserve` proves the process
//! is within `reserve` of `RLIMIT_NOFILE`, and the endpoint closes it at once. No endpoint
//! socket ever holds a number in the reserve.
//!
//! Sans-io: callers pass addresses and descriptor numbers in.

use super::close::CloseCause;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Default cap on unauthenticated connections, all addresses together.
pub const DEFAULT_MAX_UNAUTHENTICATED: usize = 256;
/// Default cap on unauthenticated connections from one address (IPv6: one /64).
pub const DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS: usize = 16;
/// Default number of descriptors the endpoint leaves free for the rest of the process.
pub const DEFAULT_DESCRIPTOR_RESERVE: u64 = 128;

/// Why a new connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The process is within the descriptor reserve of its limit.
    DescriptorReserve,
    /// The global cap on unauthenticated connections is reached.
    Unauthenticated,
    /// The cap on unauthenticated connections from the peer's address is reached.
    UnauthenticatedPerAddress,
}

impl Refusal {
    /// The counting key.
    pub fn cause(self) -> CloseCause {
        match self {
            Self::DescriptorReserve => CloseCause::DescriptorReserve,
            Self::Unauthenticated => CloseCause::UnauthenticatedCap,
            Self::UnauthenticatedPerAddress => CloseCause::AddressCap,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::DescriptorReserve => "too close to the descriptor limit",
            Self::Unauthenticated => "too many unauthenticated connections",
            Self::UnauthenticatedPerAddress => {
                "too many unauthenticated connections from this address"
            }
        })
    }
}

/// The key a source address counts under: an IPv4 address (IPv4-mapped IPv6 ones
/// included) as it is, an IPv6 address by its /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
    }
}

/// Counts unauthenticated connections, globally and per address (see the module docs).
#[derive(Debug)]
pub struct Admission {
    max_total: usize,
    max_per_address: usize,
    state: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

impl Admission {
    /// Caps of `max_total` connections and `max_per_address` per address.
    pub fn new(max_total: usize, max_per_address: usize) -> Self {
        Self {
            max_total,
            max_per_address,
            state: Mutex::new(Counts::default()),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a new unauthenticated connection from `ip`, or says which cap is reached.
    pub fn try_admit(self: &Arc<Self>, ip: IpAddr) -> Result<AdmissionPermit, Refusal> {
        let key = address_key(ip);
        let mut counts = self.counts();
        if counts.total >= self.max_total {
            return Err(Refusal::Unauthenticated);
        }
        let from_address = counts.per_address.entry(key).or_insert(0);
        if *from_address >= self.max_per_address {
            return Err(Refusal::UnauthenticatedPerAddress);
        }
        *from_address += 1;
        counts.total += 1;
        Ok(AdmissionPermit {
            admission: Arc::clone(self),
            key,
        })
    }

    /// Unauthenticated connections now.
    pub fn unauthenticated(&self) -> usize {
        self.counts().total
    }

    /// Unauthenticated connections from `ip`'s address (or /64) now.
    pub fn unauthenticated_from(&self, ip: IpAddr) -> usize {
        self.counts()
            .per_address
            .get(&address_key(ip))
            .copied()
            .unwrap_or(0)
    }

    fn release(&self, key: IpAddr) {
        let mut counts = self.counts();
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_address.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_address.remove(&key);
            }
        }
    }
}

/// One admitted unauthenticated connection; dropping it gives its place back.
#[derive(Debug)]
pub struct AdmissionPermit {
    admission: Arc<Admission>,
    key: IpAddr,
}

impl Drop for AdmissionPermit {
    fn drop(&mut self) {
        self.admission.release(self.key);
    }
}

/// Which descriptor numbers the endpoint may keep (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescriptorBudget {
    /// The first descriptor number the endpoint does not keep.
    ceiling: u64,
}

impl DescriptorBudget {
    /// The budget under a soft descriptor limit of `limit` keeping `reserve` free.
    pub fn new(limit: u64, reserve: u64) -> Self {
        Self {
            ceiling: limit.saturating_sub(reserve),
        }
    }

    /// The first descriptor number the endpoint does not keep.
    pub fn ceiling(self) -> u64 {
        self.ceiling
    }

    /// Whether a just-accepted socket with descriptor number `fd` may be kept.
    pub fn admits(self, fd: i32) -> bool {
        u64::try_from(fd).is_ok_and(|fd| fd < self.ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_cap_per_address_refuses_the_next_one_and_frees_a_place_on_drop() {
        let admission = Arc::new(Admission::new(100, 3));
        let held: Vec<_> = (0..3)
            .map(|_| admission.try_admit(ip("10.0.0.1")).unwrap())
            .collect();
        assert_eq!(
            admission.try_admit(ip("10.0.0.1")).unwrap_err(),
            Refusal::UnauthenticatedPerAddress
        );
        // Another address is not affected.
        let other = admission.try_admit(ip("10.0.0.2")).unwrap();
        assert_eq!(admission.unauthenticated(), 4);
        assert_eq!(admission.unauthenticated_from(ip("10.0.0.1")), 3);
        drop(held);
        assert_eq!(admission.unauthenticated_from(ip("10.0.0.1")), 0);
        assert!(admission.try_admit(ip("10.0.0.1")).is_ok());
        drop(other);
        assert_eq!(admission.unauthenticated(), 0);
    }

    #[test]
    fn the_global_cap_refuses_every_address() {
        let admission = Arc::new(Admission::new(5, 2));
        let held: Vec<_> = (0..5)
            .map(|i| admission.try_admit(ip(&format!("10.0.0.{i}"))).unwrap())
            .collect();
        for addr in ["10.0.0.9", "10.0.0.1", "::1"] {
            assert_eq!(
                admission.try_admit(ip(addr)).unwrap_err(),
                Refusal::Unauthenticated
            );
        }
        drop(held);
        assert!(admission.try_admit(ip("10.0.0.9")).is_ok());
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa::1")),
            address_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        );
        assert_ne!(
            address_key(ip("2001:db8:1:2::1")),
            address_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(address_key(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
        let admission = Arc::new(Admission::new(100, 2));
        let _a = admission.try_admit(ip("2001:db8::1")).unwrap();
        let _b = admission.try_admit(ip("2001:db8::2")).unwrap();
        assert_eq!(
            admission.try_admit(ip("2001:db8::3")).unwrap_err(),
            Refusal::UnauthenticatedPerAddress
        );
        let _c = admission.try_admit(ip("10.1.2.3")).unwrap();
        let _d = admission.try_admit(ip("::ffff:10.1.2.3")).unwrap();
        assert_eq!(
            admission.try_admit(ip("10.1.2.3")).unwrap_err(),
            Refusal::UnauthenticatedPerAddress
        );
    }

    #[test]
    fn descriptors_at_or_above_the_reserve_are_not_kept() {
        let budget = DescriptorBudget::new(1024, 128);
        assert_eq!(budget.ceiling(), 896);
        assert!(budget.admits(3));
        assert!(budget.admits(895));
        assert!(!budget.admits(896));
        assert!(!budget.admits(1023));
        assert!(!budget.admits(-1));
        // A reserve as large as the limit keeps nothing.
        assert!(!DescriptorBudget::new(64, 128).admits(0));
    }

    #[test]
    fn refusals_are_counted_under_their_own_causes() {
        let causes = [
            Refusal::DescriptorReserve,
            Refusal::Unauthenticated,
            Refusal::UnauthenticatedPerAddress,
        ]
        .map(Refusal::cause);
        assert_eq!(
            causes,
            [
                CloseCause::DescriptorReserve,
                CloseCause::UnauthenticatedCap,
                CloseCause::AddressCap
            ]
        );
    }
}
