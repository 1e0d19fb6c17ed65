//! The client address used for lockouts and the audit log.
//!
//! It is the TCP peer address (axum's `ConnectInfo<SocketAddr>`, recorded by `web::serve`).
//! `X-Forwarded-For` is read only when the peer is one of the
//! configured trusted proxies, and then the rightmost address that is not itself a trusted
//! proxy wins (everything left of it could have been written by the client).

use axum::http::HeaderMap;
use std::net::{IpAddr, SocketAddr};

/// The address a request is attributed to, as placed in request extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Resolves the client address from the peer and the headers.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.contains(&canonical(*ip));
    if !trusted(&peer) {
        return canonical(peer);
    }
    let mut hops: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return canonical(peer);
        };
        hops.extend(text.split(','));
    }
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if trusted(&ip) => continue,
            Some(ip) => return ip,
            // A malformed hop: nothing left of it can be trusted.
            None => break,
        }
    }
    canonical(peer)
}

/// Whether the request came over HTTPS through a trusted proxy: the peer is one of
/// `trusted_proxies` and the last `X-Forwarded-Proto` it set says `https`. A client that is
/// not a trusted proxy cannot claim it.
pub fn forwarded_https(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> bool {
    if !trusted_proxies.contains(&canonical(peer)) {
        return false;
    }
    headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// An IPv4-mapped IPv6 address as IPv4, anything else unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` element: an address, optionally `[v6]:port` or `v4:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn header_ignored_unless_peer_is_trusted() {
        let h = headers(&["203.0.113.9"]);
        assert_eq!(client_ip(ip("198.51.100.1"), &h, &[]), ip("198.51.100.1"));
        let proxies = [ip("10.0.0.1")];
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &proxies),
            ip("198.51.100.1")
        );
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("203.0.113.9"));
    }

    #[test]
    fn rightmost_untrusted_hop_wins() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        // The client wrote "1.1.1.1" itself; the first proxy appended the real address.
        let h = headers(&["1.1.1.1, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("203.0.113.9"));
        let h = headers(&["[2001:db8::7]:4711"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("2001:db8::7"));
        let h = headers(&["203.0.113.9:80, garbage"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("10.0.0.1"));
        assert_eq!(
            client_ip(ip("10.0.0.1"), &HeaderMap::new(), &proxies),
            ip("10.0.0.1")
        );
        let h = headers(&["10.0.0.2"]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &proxies), ip("10.0.0.1"));
    }

    #[test]
    fn mapped_addresses_are_canonical() {
        let mapped = ip("::ffff:10.0.0.1");
        let h = headers(&["::ffff:203.0.113.9"]);
        assert_eq!(client_ip(mapped, &h, &[ip("10.0.0.1")]), ip("203.0.113.9"));
        assert_eq!(client_ip(mapped, &h, &[]), ip("10.0.0.1"));
    }
}
