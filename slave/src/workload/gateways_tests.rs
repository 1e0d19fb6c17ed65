//! Gateway hosting against real loopback TCP echo backends: apply, change upstreams live
//! (an established connection survives), remove, a taken port reported and retried, an
//! invalid spec refused, a deny list counted as refusals.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::workload::testing::gateway_spec;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

const WAIT: Duration = Duration::from_secs(10);

/// A backend that greets each connection with `name\n`, then echoes.
fn echo_backend(name: &'static str) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                if s.write_all(format!("{name}\n").as_bytes()).is_err() {
                    return;
                }
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn free_port() -> u16 {
    TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Connects through the gateway and reads the backend's greeting.
fn greet(port: u16) -> std::io::Result<(TcpStream, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while s.read(&mut b)? == 1 && b[0] != b'\n' {
        line.push(b[0]);
    }
    Ok((s, String::from_utf8_lossy(&line).into_owned()))
}

fn greet_until(port: u16, want: &str) -> TcpStream {
    let deadline = Instant::now() + WAIT;
    loop {
        match greet(port) {
            Ok((s, name)) if name == want => return s,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "no greeting {want:?} on {port}: {:?}",
                    other.map(|(_, n)| n)
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn echo(s: &mut TcpStream, text: &str) -> String {
    s.write_all(text.as_bytes()).unwrap();
    let mut buf = vec![0u8; text.len()];
    s.read_exact(&mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

#[test]
fn apply_change_upstreams_live_and_remove() {
    let (a, b) = (echo_backend("A"), echo_backend("B"));
    let port = free_port();
    let mut host = GatewayHost::new(1);
    let spec = gateway_spec("project/web", port, &[a.as_str()]);
    let o = host.reconcile(std::slice::from_ref(&spec));
    assert_eq!(o.len(), 1);
    assert!(o[0].serving, "{}", o[0].message);
    let mut held = greet_until(port, "A");
    assert_eq!(echo(&mut held, "hello"), "hello");

    // Counters come from the library's stats.
    let deadline = Instant::now() + WAIT;
    loop {
        let o = host.reconcile(std::slice::from_ref(&spec));
        if o[0].total_conns >= 1 && o[0].active_conns >= 1 && o[0].bytes_in >= 5 {
            assert_eq!(o[0].upstreams.len(), 1);
            assert_eq!(o[0].upstreams[0].addr, a);
            assert!(o[0].upstreams[0].total_conns >= 1);
            assert!(o[0].upstreams[0].healthy, "{o:?}");
            break;
        }
        assert!(Instant::now() < deadline, "no stats: {o:?}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Upstreams changed live: new connections go to B, the held one keeps working.
    let changed = gateway_spec("project/web", port, &[b.as_str()]);
    let o = host.reconcile(std::slice::from_ref(&changed));
    assert!(o[0].serving);
    let mut fresh = greet_until(port, "B");
    assert_eq!(echo(&mut fresh, "to b"), "to b");
    assert_eq!(echo(&mut held, "still a"), "still a");

    // Removed: the port stops accepting.
    let o = host.reconcile(&[]);
    assert!(o.is_empty());
    let deadline = Instant::now() + WAIT;
    while greet(port).is_ok_and(|(_, n)| n == "B") {
        assert!(Instant::now() < deadline, "still accepting after removal");
        std::thread::sleep(Duration::from_millis(50));
    }
    host.shutdown(Duration::ZERO);
}

#[test]
fn taken_port_is_reported_retried_and_does_not_hold_others_back() {
    let a = echo_backend("A");
    let taken = TcpListener::bind("0.0.0.0:0").unwrap();
    let busy_port = taken.local_addr().unwrap().port();
    let free = free_port();
    let specs = vec![
        gateway_spec("busy", busy_port, &[a.as_str()]),
        gateway_spec("free", free, &[a.as_str()]),
    ];
    let mut host = GatewayHost::new(1);
    let o = host.reconcile(&specs);
    assert!(!o[0].serving);
    assert!(
        o[0].message.contains(&busy_port.to_string()),
        "{}",
        o[0].message
    );
    assert!(o[1].serving, "{}", o[1].message);
    greet_until(free, "A");
    // Still taken: still reported, the other still serves.
    let o = host.reconcile(&specs);
    assert!(!o[0].serving && o[1].serving);
    // Freed: the next reconcile binds it.
    drop(taken);
    let o = host.reconcile(&specs);
    assert!(o[0].serving, "{}", o[0].message);
    assert!(o[0].message.is_empty());
    greet_until(busy_port, "A");
    host.shutdown(Duration::ZERO);
}

#[test]
fn invalid_specs_and_duplicate_ports_are_refused_with_a_reason() {
    let port = free_port();
    let mut bad_upstream = gateway_spec("bad-upstream", port, &["nowhere"]);
    bad_upstream.port = free_port();
    let mut bad_cidr = gateway_spec("bad-cidr", free_port(), &[]);
    bad_cidr.allow = vec!["10.0.0.0/40".into()];
    let first = gateway_spec("first", port, &[]);
    let twin = gateway_spec("twin", port, &[]);
    let mut host = GatewayHost::new(1);
    let o = host.reconcile(&[bad_upstream, bad_cidr, first, twin]);
    assert!(
        !o[0].serving && o[0].message.contains("nowhere"),
        "{:?}",
        o[0]
    );
    assert!(
        !o[1].serving && o[1].message.contains("allow"),
        "{:?}",
        o[1]
    );
    assert!(o[2].serving, "{:?}", o[2]);
    assert!(
        !o[3].serving && o[3].message.contains("first"),
        "{:?}",
        o[3]
    );
    host.shutdown(Duration::ZERO);
}

#[test]
fn denied_clients_are_refused_and_counted() {
    let a = echo_backend("A");
    let port = free_port();
    let mut spec = gateway_spec("guarded", port, &[a.as_str()]);
    spec.deny = vec!["127.0.0.0/8".into()];
    let mut host = GatewayHost::new(1);
    assert!(host.reconcile(std::slice::from_ref(&spec))[0].serving);
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(
            greet(port).map(|(_, n)| n).unwrap_or_default() != "A",
            "a denied client reached the backend"
        );
        let o = host.reconcile(std::slice::from_ref(&spec));
        if o[0].refused_conns >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no refusal counted: {o:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    host.shutdown(Duration::ZERO);
}

#[test]
fn spec_maps_onto_the_library_config() {
    let mut spec = gateway_spec("s", 8080, &["10.0.0.1:80", "10.0.0.1:80", "[::1]:81"]);
    spec.algorithm = GatewayAlgorithm::LeastConn;
    spec.max_conns_per_ip = Some(10);
    spec.conn_rate_per_ip = Some(5);
    spec.probe_upstreams = true;
    spec.allow = vec!["10.0.0.0/8".into()];
    let g = gateway_config(&spec).unwrap();
    assert_eq!(g.listen, "0.0.0.0:8080".parse::<SocketAddr>().unwrap());
    assert_eq!(g.upstreams.len(), 2, "duplicates folded");
    assert_eq!(g.algorithm, Algorithm::LeastConn);
    assert_eq!(g.per_ip.max_conns, Some(10));
    assert_eq!(g.per_ip.rate.map(|r| r.burst), Some(5));
    assert!(g.health.enabled);
    assert_eq!(g.allow.len(), 1);
    assert_eq!(g.drain_timeout, DRAIN);
    spec.probe_upstreams = false;
    assert!(!gateway_config(&spec).unwrap().health.enabled);
    spec.port = 0;
    assert!(gateway_config(&spec).is_err());
}
