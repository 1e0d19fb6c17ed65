//! Protection: allow/deny CIDR lists (IPv4 and IPv6), per-address rate and concurrency
//! limits, the gateway-wide limit and the idle timeout. Refused clients are closed at once
//! and counted by reason.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::*;

fn tagged_gateway(extra: &str) -> (gateway::GatewayHandle, Backend, SocketAddr) {
    let b = Backend::start(Behaviour::Tagged("a".into()));
    let gw = start(&one_gateway(
        &format!("    health: {{enabled: false}}\n{extra}"),
        &[b.addr],
    ));
    let addr = addr_of(&gw, "g");
    (gw, b, addr)
}

/// Admitted clients read the tag; refused ones read EOF at once.
fn admitted(s: &mut TcpStream) -> bool {
    tag_of(s).is_some()
}

#[test]
fn deny_list_refuses_and_counts() {
    let (gw, _b, addr) = tagged_gateway("    deny: [127.0.0.2/32]\n");
    assert!(admitted(&mut connect_from("127.0.0.1", addr).unwrap()));
    assert!(!admitted(&mut connect_from("127.0.0.2", addr).unwrap()));
    assert!(admitted(&mut connect_from("127.0.0.3", addr).unwrap()));
    assert!(wait_until(
        Duration::from_secs(5),
        || gstats(&gw).refused["acl"] == 1
    ));
}

#[test]
fn allow_list_admits_only_its_blocks_and_deny_wins() {
    let (gw, _b, addr) = tagged_gateway("    allow: [127.0.1.0/24]\n    deny: [127.0.1.9]\n");
    assert!(!admitted(&mut connect_from("127.0.0.1", addr).unwrap()));
    assert!(admitted(&mut connect_from("127.0.1.1", addr).unwrap()));
    assert!(!admitted(&mut connect_from("127.0.1.9", addr).unwrap()));
    assert!(wait_until(
        Duration::from_secs(5),
        || gstats(&gw).refused["acl"] == 2
    ));
}

#[test]
fn ipv6_lists() {
    let b = Backend::start(Behaviour::Tagged("a".into()));
    let yaml = |list: &str| {
        format!(
            "workers: 1\ngateways:\n  - name: g\n    listen: \"[::1]:0\"\n    upstreams: [\"{}\"]\n    health: {{enabled: false}}\n{list}",
            b.addr
        )
    };
    let gw = start(&yaml("    deny: [\"::1/128\"]\n"));
    assert!(!admitted(
        &mut connect_from("::1", addr_of(&gw, "g")).unwrap()
    ));
    let gw2 = start(&yaml("    allow: [\"::1\"]\n    deny: [10.0.0.0/8]\n"));
    assert!(admitted(
        &mut connect_from("::1", addr_of(&gw2, "g")).unwrap()
    ));
}

#[test]
fn per_ip_rate_limit() {
    // Practically no refill: exactly `burst` connections pass.
    let (gw, _b, addr) = tagged_gateway("    per_ip: {rate: 0.001, burst: 3}\n");
    let results: Vec<bool> = (0..5)
        .map(|_| admitted(&mut connect_from("127.0.0.5", addr).unwrap()))
        .collect();
    assert_eq!(results, vec![true, true, true, false, false]);
    assert!(
        admitted(&mut connect_from("127.0.0.6", addr).unwrap()),
        "other clients unaffected"
    );
    assert!(wait_until(
        Duration::from_secs(5),
        || gstats(&gw).refused["rate"] == 2
    ));
}

#[test]
fn per_ip_concurrency_limit() {
    let (gw, _b, addr) = tagged_gateway("    per_ip: {max_conns: 2}\n");
    let mut one = connect_from("127.0.0.7", addr).unwrap();
    let mut two = connect_from("127.0.0.7", addr).unwrap();
    assert!(admitted(&mut one) && admitted(&mut two));
    assert!(!admitted(&mut connect_from("127.0.0.7", addr).unwrap()));
    assert!(admitted(&mut connect_from("127.0.0.8", addr).unwrap()));
    drop(one);
    assert!(wait_until(Duration::from_secs(5), || gstats(&gw).active == 1));
    assert!(admitted(&mut connect_from("127.0.0.7", addr).unwrap()));
    assert_eq!(gstats(&gw).refused["per_ip_conns"], 1);
}

#[test]
fn gateway_wide_limit() {
    let (gw, _b, addr) = tagged_gateway("    max_conns: 2\n");
    let mut one = connect_from("127.0.0.10", addr).unwrap();
    let mut two = connect_from("127.0.0.11", addr).unwrap();
    assert!(admitted(&mut one) && admitted(&mut two));
    assert!(!admitted(&mut connect_from("127.0.0.12", addr).unwrap()));
    drop(two);
    assert!(wait_until(Duration::from_secs(5), || gstats(&gw).active == 1));
    assert!(admitted(&mut connect_from("127.0.0.12", addr).unwrap()));
    assert_eq!(gstats(&gw).refused["max_conns"], 1);
}

#[test]
fn idle_connections_are_closed_and_busy_ones_kept() {
    let b = Backend::start(Behaviour::Echo);
    let gw = start(&one_gateway(
        "    idle_timeout: 300ms\n    health: {enabled: false}\n",
        &[b.addr],
    ));
    let addr = addr_of(&gw, "g");
    let mut busy = TcpStream::connect(addr).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let start_t = Instant::now();
    // Keep `busy` talking every 50 ms for 900 ms, well past the idle timeout.
    while start_t.elapsed() < Duration::from_millis(900) {
        busy.write_all(b"x").unwrap();
        let mut b1 = [0u8; 1];
        busy.read_exact(&mut b1).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut buf = [0u8; 8];
    assert_eq!(
        read_some(&mut idle, &mut buf).unwrap(),
        0,
        "idle connection closed by the gateway"
    );
    busy.write_all(b"y").unwrap();
    let mut b1 = [0u8; 1];
    busy.read_exact(&mut b1).unwrap();
    assert_eq!(&b1, b"y");
    assert_eq!(gstats(&gw).idle_timeouts, 1);
}

/// A connection whose directions switched to splice (`auto` after bulk data) and then went
/// quiet is closed by the idle timeout like any other, and counted.
#[test]
fn idle_timeout_closes_a_connection_that_spliced() {
    let b = Backend::start(Behaviour::Echo);
    let gw = start(&one_gateway(
        "    idle_timeout: 300ms\n    health: {enabled: false}\n    relay: auto\n",
        &[b.addr],
    ));
    let mut c = TcpStream::connect(addr_of(&gw, "g")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let data = vec![9u8; 4 << 20];
    let mut back = vec![0u8; data.len()];
    std::thread::scope(|s| {
        let mut w = c.try_clone().unwrap();
        let data = &data;
        s.spawn(move || w.write_all(data).unwrap());
        c.read_exact(&mut back).unwrap();
    });
    assert!(back == data, "bulk echo before going idle");
    let t = Instant::now();
    let mut buf = [0u8; 8];
    assert_eq!(read_some(&mut c, &mut buf).unwrap(), 0, "closed when idle");
    assert!(t.elapsed() < Duration::from_secs(4));
    assert!(wait_until(Duration::from_secs(5), || {
        let g = gstats(&gw);
        g.idle_timeouts == 1 && g.active == 0
    }));
}
