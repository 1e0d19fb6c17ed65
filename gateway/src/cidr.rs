//! CIDR blocks for allow and deny lists, IPv4 and IPv6 (sans-io).
//!
//! An IPv4-mapped IPv6 client address (`::ffff:a.b.c.d`, as seen on a dual-stack listener)
//! is matched as the IPv4 address it carries, so `10.0.0.0/8` covers it too.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A parse error for a CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The address part is not an IP address.
    #[error("`{0}` is not an IP address")]
    BadAddress(String),
    /// The prefix length is not a number or is too long for the address family.
    #[error("prefix length `{0}` is invalid for this address family")]
    BadPrefix(String),
}

/// A network: an address and a prefix length. Host bits are cleared on parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Builds a block from an address and a prefix length, clearing host bits.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, CidrError> {
        let addr = canonical(addr);
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix > max {
            return Err(CidrError::BadPrefix(prefix.to_string()));
        }
        let net = match addr {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) & mask32(prefix)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) & mask128(prefix)).into()),
        };
        Ok(Self { net, prefix })
    }

    /// True when `ip` lies inside this block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                u32::from(ip) & mask32(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                u128::from(ip) & mask128(self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// Parses `addr/len` or a bare address (a single host).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let written: IpAddr = addr
            .parse()
            .map_err(|_| CidrError::BadAddress(addr.to_string()))?;
        let ip = canonical(written);
        let mapped = ip != written;
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .map_err(|_| CidrError::BadPrefix(p.to_string()))?,
            None if written.is_ipv4() => 32,
            None => 128,
        };
        // `::ffff:a.b.c.d/n` with n >= 96 is the IPv4 block `a.b.c.d/(n - 96)`.
        let prefix = match (mapped, prefix.checked_sub(96)) {
            (false, _) => prefix,
            (true, Some(p)) => p,
            (true, None) => return Err(CidrError::BadPrefix(prefix.to_string())),
        };
        Self::new(ip, prefix)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// True when any block in `list` contains `ip`.
pub fn any_contains(list: &[Cidr], ip: IpAddr) -> bool {
    list.iter().any(|c| c.contains(ip))
}

/// Maps an IPv4-mapped IPv6 address to plain IPv4; leaves others alone.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

fn mask32(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

fn mask128(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4_blocks_match_inside_and_not_outside() {
        let c: Cidr = "10.1.2.3/8".parse().unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/8");
        assert!(c.contains(ip("10.255.0.1")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(!c.contains(ip("::1")));
    }

    #[test]
    fn v6_blocks_and_bare_hosts() {
        let c: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(c.contains(ip("2001:db8:ffff::1")));
        assert!(!c.contains(ip("2001:db9::1")));
        let host: Cidr = "::1".parse().unwrap();
        assert!(host.contains(ip("::1")));
        assert!(!host.contains(ip("::2")));
        let v4host: Cidr = "127.0.0.1".parse().unwrap();
        assert!(v4host.contains(ip("127.0.0.1")));
        assert!(!v4host.contains(ip("127.0.0.2")));
    }

    #[test]
    fn mapped_v6_clients_match_v4_blocks() {
        let c: Cidr = "192.168.0.0/16".parse().unwrap();
        assert!(c.contains(ip("::ffff:192.168.4.5")));
        let mapped: Cidr = "::ffff:10.0.0.0/104".parse().unwrap();
        assert_eq!(mapped.to_string(), "10.0.0.0/8");
        assert!(mapped.contains(ip("10.2.3.4")));
        assert!("::ffff:10.0.0.0/64".parse::<Cidr>().is_err());
        let host: Cidr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(host.to_string(), "10.0.0.1/32");
    }

    #[test]
    fn zero_prefix_matches_everything_of_its_family() {
        let all4: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all4.contains(ip("8.8.8.8")));
        assert!(!all4.contains(ip("2001:db8::1")));
        let all6: Cidr = "::/0".parse().unwrap();
        assert!(all6.contains(ip("2001:db8::1")));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(matches!(
            "x/8".parse::<Cidr>(),
            Err(CidrError::BadAddress(_))
        ));
        assert!(matches!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(CidrError::BadPrefix(_))
        ));
        assert!(matches!(
            "10.0.0.0/-1".parse::<Cidr>(),
            Err(CidrError::BadPrefix(_))
        ));
        assert!(matches!(
            "::/129".parse::<Cidr>(),
            Err(CidrError::BadPrefix(_))
        ));
        assert!(any_contains(&["1.2.3.4".parse().unwrap()], ip("1.2.3.4")));
    }
}
