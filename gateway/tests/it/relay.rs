//! Relay: echo through the gateway on both drivers and every relay strategy, bulk data,
//! message sizes that make `auto` switch between copy and splice on one connection,
//! half-close in both directions for every strategy, and the driver fallback switch.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use crate::common::*;
use gateway::relay::{PipePool, Strategy, relay};

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
fn client_half_close(io_uring: bool, relay: &str) {
    let backend = Backend::start(Behaviour::Echo);
    let gw = start(&format!(
        "io_uring: {io_uring}\n{}",
        one_gateway(&format!("    relay: {relay}\n"), &[backend.addr])
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
fn client_half_close_gets_whole_response_uring_auto() {
    client_half_close(true, "auto");
}

#[test]
fn client_half_close_gets_whole_response_uring_copy() {
    client_half_close(true, "copy");
}

#[test]
fn client_half_close_gets_whole_response_uring_splice() {
    client_half_close(true, "splice");
}

#[test]
fn client_half_close_gets_whole_response_legacy() {
    client_half_close(false, "auto");
}

/// The upstream sends a greeting (bulk or not) and closes its write side first; the client
/// can keep sending bulk data and the upstream keeps receiving.
fn upstream_half_close(relay: &str, greeting: usize) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let up = l.local_addr().unwrap();
    let hello = pattern(greeting);
    let sent = hello.clone();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(&sent).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    // No health checks: the one-shot upstream must only see the relayed connection.
    let gw = start(&one_gateway(
        &format!("    health: {{enabled: false}}\n    relay: {relay}\n"),
        &[up],
    ));
    let mut c = TcpStream::connect(addr_of(&gw, "g")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut greeting = Vec::new();
    c.read_to_end(&mut greeting).unwrap();
    assert!(
        greeting == hello,
        "{} of {} bytes, then EOF from the upstream reached the client ({relay})",
        greeting.len(),
        hello.len()
    );
    let data = pattern(4 << 20);
    c.write_all(&data).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let got = server.join().unwrap();
    assert!(
        got == data,
        "upstream got {} bytes after its own half-close ({relay})",
        got.len()
    );
}

#[test]
fn upstream_half_close_keeps_the_other_direction_auto() {
    upstream_half_close("auto", 5);
    upstream_half_close("auto", 2 << 20);
}

#[test]
fn upstream_half_close_keeps_the_other_direction_copy() {
    upstream_half_close("copy", 5);
}

#[test]
fn upstream_half_close_keeps_the_other_direction_splice() {
    upstream_half_close("splice", 2 << 20);
}

/// One connection alternates small messages and bulk ones, so `auto` switches each
/// direction to splice and back several times; every byte must come back in order.
fn mixed_sizes(relay: &str) {
    let backend = Backend::start(Behaviour::Echo);
    let gw = start(&one_gateway(
        &format!("    health: {{enabled: false}}\n    relay: {relay}\n"),
        &[backend.addr],
    ));
    let mut c = TcpStream::connect(addr_of(&gw, "g")).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut total = 0u64;
    for (i, size) in [10, 3 << 20, 1, 200, 1 << 20, 70_000, 5, 2 << 20, 64]
        .into_iter()
        .enumerate()
    {
        let msg: Vec<u8> = pattern(size + i).split_off(i);
        let mut back = vec![0u8; size];
        std::thread::scope(|s| {
            let mut w = c.try_clone().unwrap();
            let writer = s.spawn(move || w.write_all(&msg).map(|_| msg));
            c.read_exact(&mut back).unwrap();
            let msg = writer.join().unwrap().unwrap();
            assert!(back == msg, "message {i} ({size} bytes) came back altered");
        });
        total += size as u64;
    }
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "EOF after the last message");
    assert!(wait_until(Duration::from_secs(5), || gstats(&gw).active == 0));
    let g = gstats(&gw);
    assert_eq!(
        g.bytes_client_to_upstream, total,
        "bytes counted up ({relay})"
    );
    assert_eq!(
        g.bytes_upstream_to_client, total,
        "bytes counted down ({relay})"
    );
}

#[test]
fn mixed_sizes_on_one_connection_auto() {
    mixed_sizes("auto");
}

#[test]
fn mixed_sizes_on_one_connection_splice() {
    mixed_sizes("splice");
}

#[test]
fn mixed_sizes_on_one_connection_copy() {
    mixed_sizes("copy");
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

/// Relays one echo round trip of `size` bytes with `relay::relay` on an io_uring runtime of
/// the test's own; returns the pipes pooled afterwards and the bytes counted each way.
fn direct_relay(strategy: Strategy, size: usize) -> (usize, u64, u64) {
    let backend = Backend::start(Behaviour::Echo);
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .enable_timer()
        .build()
        .unwrap();
    rt.block_on(async move {
        let l = monoio::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let data = pattern(size);
        let client = std::thread::spawn(move || round_trip(addr, &data).unwrap() == data);
        let (c, _) = l.accept().await.unwrap();
        let u = monoio::net::TcpStream::connect_addr(backend.addr)
            .await
            .unwrap();
        let pipes = Rc::new(PipePool::default());
        let (up, down) = (Cell::new(0u64), Cell::new(0u64));
        let count = |c: &Cell<u64>, n: usize| c.set(c.get() + n as u64);
        relay(
            c,
            u,
            strategy,
            Rc::clone(&pipes),
            |n| count(&up, n),
            |n| count(&down, n),
        )
        .await
        .unwrap();
        assert!(
            client.join().unwrap(),
            "{size} bytes came back ({strategy:?})"
        );
        (pipes.len(), up.get(), down.get())
    })
}

/// `auto` takes no pipe for small messages, switches to splice for bulk data (the pipes come
/// back to the worker's pool at the clean end of stream) and counts every byte; `copy`
/// never takes a pipe.
#[test]
fn auto_splices_bulk_data_and_copies_small_messages() {
    if gateway::runtime::preferred_driver(true) != gateway::DriverKind::IoUring {
        assert!(
            std::env::var_os("CI").is_none(),
            "io_uring is required in CI"
        );
        eprintln!("SKIPPED: io_uring unavailable");
        return;
    }
    assert_eq!(direct_relay(Strategy::Auto, 100), (0, 100, 100));
    let bulk = 8 << 20;
    let (pooled, up, down) = direct_relay(Strategy::Auto, bulk);
    assert!(pooled >= 1, "a bulk direction spliced through a pipe");
    assert_eq!((up, down), (bulk as u64, bulk as u64));
    assert_eq!(
        direct_relay(Strategy::Copy, bulk),
        (0, bulk as u64, bulk as u64)
    );
}
