//! PROXY protocol v1 (text) and v2 (binary) headers sent to upstreams so they see the real
//! client (sans-io encoders; see haproxy's `proxy-protocol.txt`).

use std::net::{IpAddr, SocketAddr};

use crate::cidr::canonical;
use crate::config::ProxyProtocol;

/// The v2 signature.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The header announcing a proxied connection from `client` to `local` (the gateway's
/// listening address). Mixed address families are sent as IPv6.
pub fn encode(version: ProxyProtocol, client: SocketAddr, local: SocketAddr) -> Vec<u8> {
    let (src, dst) = same_family(client, local);
    match version {
        ProxyProtocol::V1 => v1(src, dst),
        ProxyProtocol::V2 => v2(src, dst),
    }
}

/// The header for a connection the gateway makes on its own behalf (health checks):
/// `PROXY UNKNOWN` or a v2 `LOCAL` command.
pub fn encode_local(version: ProxyProtocol) -> Vec<u8> {
    match version {
        ProxyProtocol::V1 => b"PROXY UNKNOWN\r\n".to_vec(),
        ProxyProtocol::V2 => {
            let mut h = V2_SIGNATURE.to_vec();
            h.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
            h
        }
    }
}

fn same_family(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    let a = SocketAddr::new(canonical(a.ip()), a.port());
    let b = SocketAddr::new(canonical(b.ip()), b.port());
    if a.is_ipv4() == b.is_ipv4() {
        return (a, b);
    }
    let v6 = |s: SocketAddr| match s.ip() {
        IpAddr::V4(v4) => SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), s.port()),
        IpAddr::V6(_) => s,
    };
    (v6(a), v6(b))
}

fn v1(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let fam = if src.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {fam} {} {} {} {}\r\n",
        src.ip(),
        dst.ip(),
        src.port(),
        dst.port()
    )
    .into_bytes()
}

fn v2(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let mut h = V2_SIGNATURE.to_vec();
    h.push(0x21); // version 2, command PROXY
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            h.push(0x11); // TCP over IPv4
            h.extend_from_slice(&12u16.to_be_bytes());
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
        }
        (s, d) => {
            h.push(0x21); // TCP over IPv6
            h.extend_from_slice(&36u16.to_be_bytes());
            h.extend_from_slice(&v6_octets(s));
            h.extend_from_slice(&v6_octets(d));
        }
    }
    h.extend_from_slice(&src.port().to_be_bytes());
    h.extend_from_slice(&dst.port().to_be_bytes());
    h
}

fn v6_octets(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v1_tcp4_and_tcp6() {
        let h = encode(ProxyProtocol::V1, sa("192.0.2.1:5000"), sa("10.0.0.1:80"));
        assert_eq!(h, b"PROXY TCP4 192.0.2.1 10.0.0.1 5000 80\r\n");
        let h = encode(ProxyProtocol::V1, sa("[2001:db8::1]:5000"), sa("[::1]:443"));
        assert_eq!(h, b"PROXY TCP6 2001:db8::1 ::1 5000 443\r\n");
    }

    #[test]
    fn v1_mixed_families_become_tcp6_and_mapped_become_tcp4() {
        let h = encode(ProxyProtocol::V1, sa("192.0.2.1:1"), sa("[::1]:2"));
        assert_eq!(h, b"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n");
        let h = encode(
            ProxyProtocol::V1,
            sa("[::ffff:192.0.2.1]:1"),
            sa("10.0.0.1:2"),
        );
        assert_eq!(h, b"PROXY TCP4 192.0.2.1 10.0.0.1 1 2\r\n");
    }

    #[test]
    fn v2_tcp4_layout() {
        let h = encode(ProxyProtocol::V2, sa("192.0.2.1:5000"), sa("10.0.0.1:80"));
        assert_eq!(&h[..12], &V2_SIGNATURE);
        assert_eq!(&h[12..16], &[0x21, 0x11, 0, 12]);
        assert_eq!(&h[16..20], &[192, 0, 2, 1]);
        assert_eq!(&h[20..24], &[10, 0, 0, 1]);
        assert_eq!(&h[24..28], &[0x13, 0x88, 0, 80]);
        assert_eq!(h.len(), 28);
    }

    #[test]
    fn v2_tcp6_layout() {
        let h = encode(ProxyProtocol::V2, sa("[2001:db8::1]:1"), sa("[::1]:2"));
        assert_eq!(&h[12..16], &[0x21, 0x21, 0, 36]);
        assert_eq!(h[16], 0x20);
        assert_eq!(h[47], 1);
        assert_eq!(&h[48..52], &[0, 1, 0, 2]);
        assert_eq!(h.len(), 16 + 36);
    }

    #[test]
    fn local_headers() {
        assert_eq!(encode_local(ProxyProtocol::V1), b"PROXY UNKNOWN\r\n");
        let h = encode_local(ProxyProtocol::V2);
        assert_eq!(&h[12..], &[0x20, 0, 0, 0]);
    }
}
