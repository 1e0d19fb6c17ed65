//! Relay: echo through the gateway on both drivers and every relay strategy, bulk data,
//! half-close in both directions, and the driver fallback switch.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use common::*;

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn echo_through(io_uring: bool, relay: &str, size: usize) {
    let backend = Backend::start(Behaviour::Echo);
    let yaml = format!(
        "io_uring: {io_uring}\n{}",
        one_gateway(&format!("    relay: {relay}\n"), &[backend.addr])
    );
    let gw = start(&yaml);
    let expected = gateway::runtime::preferred_driver(io_uring);
    assert_eq!(
        gw.driver(),
        expected,
        "the driver asked for (io_uring where the kernel allows)"
    );
    let addr = addr_of(&gw, "g");
    let data = pattern(size);
    for _ in 0..3 {
        let back = round_trip(addr, &data).unwrap();
        assert!(
            back == data,
            "{} bytes came back for {size} sent ({relay})",
            back.len()
        );
    }
    let st = gw.stats_blocking().unwrap();
    let g = st.gateway("g").unwrap();
    assert!(wait_until(Duration::from_secs(5), || gw
        .stats_blocking()
        .unwrap()
        .gateway("g")
        .unwrap()
        .active
        == 0));
    assert_eq!(g.total, 3);
    let st = gw.stats_blocking().unwrap();
    let g = st.gateway("g").unwrap();
    assert_eq!(g.bytes_client_to_upstream, 3 * size as u64);
    assert_eq!(g.bytes_upstream_to_client, 3 * size as u64);
    assert_eq!(g.upstreams[0].total, 3);
    gw.shutdown(Duration::from_secs(1));
}

#[test]
fn echo_small_uring_auto() {
    echo_through(true, "auto", 100);
}

#[test]
fn echo_bulk_uring_auto() {
    echo_through(true, "auto", 8 << 20);
}

#[test]
fn echo_bulk_uring_splice() {
    echo_through(true, "splice", 4 << 20);
}

#[test]
fn echo_bulk_uring_copy() {
    echo_through(true, "copy", 4 << 20);
}

#[test]
fn echo_bulk_legacy_driver() {
    echo_through(false, "auto", 8 << 20);
}

/// The client shuts down its write side first; it must still get the whole response.
fn client_half_close(io_uring: bool) {
    let backend = Backend::start(Behaviour::Echo);
    let gw = start(&format!(
        "io_uring: {io_uring}\n{}",
        one_gateway("", &[backend.addr])
    ));
    let data = pattern(3 << 20);
    let back = round_trip(addr_of(&gw, "g"), &data).unwrap();
    assert!(
        back == data,
        "got {} of {} bytes after half-close",
        back.len(),
        data.len()
    );
}

#[test]
fn client_half_close_gets_whole_response_uring() {
    client_half_close(true);
}

#[test]
fn client_half_close_gets_whole_response_legacy() {
    client_half_close(false);
}

/// The upstream closes its write side first; the client can keep sending and the upstream
/// keeps receiving.
#[test]
fn upstream_half_close_keeps_the_other_direction() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let up = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"hello").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    // No health checks: the one-shot upstream must only see the relayed connection.
    let gw = start(&one_gateway("    health: {enabled: false}\n", &[up]));
    let mut c = TcpStream::connect(addr_of(&gw, "g")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut greeting = Vec::new();
    c.read_to_end(&mut greeting).unwrap();
    assert_eq!(
        greeting, b"hello",
        "EOF from the upstream reached the client"
    );
    let data = pattern(1 << 20);
    c.write_all(&data).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let got = server.join().unwrap();
    assert!(
        got == data,
        "upstream got {} bytes after its own half-close",
        got.len()
    );
}

#[test]
fn env_switch_is_honoured_by_preferred_driver() {
    // The env var is process-wide, so only the pure decision is checked here; the binary
    // test runs a whole gateway with COMMANDER_DISABLE_IO_URING=1.
    assert_eq!(
        gateway::runtime::preferred_driver(false),
        gateway::DriverKind::Legacy
    );
}
