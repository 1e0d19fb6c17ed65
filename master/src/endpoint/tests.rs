//! The endpoint over loopback TCP: its workers share one address, a taken address is a
//! bind error, and connections that fail before their session are counted by cause.

use super::*;
use crate::test_fixtures::wait_until;
use std::io::Write;
use std::time::Duration;

/// A portable endpoint on one core with `handshake_timeout`.
fn endpoint(
    handshake_timeout: Duration,
) -> (EndpointHandle, async_channel::Receiver<ControlEvent>) {
    endpoint_on(1, Some(false), handshake_timeout)
}

/// An endpoint on loopback port 0 with `cores` workers and the io_uring choice `io_uring`.
fn endpoint_on(
    cores: usize,
    io_uring: Option<bool>,
    handshake_timeout: Duration,
) -> (EndpointHandle, async_channel::Receiver<ControlEvent>) {
    let (events, rx) = async_channel::bounded(16);
    let config = EndpointConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        cores,
        io_uring,
        limits: ConnLimits {
            handshake_timeout,
            idle_timeout: Duration::from_secs(30),
        },
    };
    let keys = Arc::new(StaticKeys::generate().unwrap());
    (start(&config, keys, events).unwrap(), rx)
}

#[tokio::test]
async fn closes_before_the_session_are_counted_by_cause() {
    let (ep, _events) = endpoint(Duration::from_secs(30));
    assert_eq!(ep.runtime, RuntimeKind::Portable);
    // A client that hangs up at once, and one that sends garbage instead of a handshake.
    drop(std::net::TcpStream::connect(ep.local_addr).unwrap());
    let mut garbage = std::net::TcpStream::connect(ep.local_addr).unwrap();
    garbage.write_all(&[0xff; 64]).unwrap();
    let counters = Arc::clone(&ep.counters);
    wait_until("both connections are counted", || {
        counters.closes(CloseCause::ClosedBySlave) == 1
            && counters.closes(CloseCause::BadHandshake) == 1
    })
    .await;
    assert_eq!(
        counters.rejected.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    assert_eq!(CloseCause::BadHandshake.side(), Side::Slave);
    drop(garbage);
    tokio::task::spawn_blocking(move || ep.shutdown())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_silent_client_is_cut_at_the_handshake_timeout() {
    let (ep, _events) = endpoint(Duration::from_millis(1));
    let _silent = std::net::TcpStream::connect(ep.local_addr).unwrap();
    let counters = Arc::clone(&ep.counters);
    wait_until("the timeout is counted", || {
        counters.closes(CloseCause::HandshakeTimeout) == 1
    })
    .await;
    tokio::task::spawn_blocking(move || ep.shutdown())
        .await
        .unwrap();
}

#[tokio::test]
async fn every_worker_listens_on_the_address_the_first_one_bound() {
    // `None` picks io_uring where the kernel allows it, the portable runtime otherwise.
    for io_uring in [Some(false), None] {
        let (ep, _events) = endpoint_on(2, io_uring, Duration::from_secs(30));
        assert_ne!(ep.local_addr.port(), 0);
        for _ in 0..4 {
            drop(std::net::TcpStream::connect(ep.local_addr).unwrap());
        }
        let counters = Arc::clone(&ep.counters);
        wait_until("every connection is counted", || {
            counters.closes(CloseCause::ClosedBySlave) == 4
        })
        .await;
        tokio::task::spawn_blocking(move || ep.shutdown())
            .await
            .unwrap();
    }
}

#[test]
fn a_taken_address_is_a_bind_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (events, _rx) = async_channel::bounded(1);
    let config = EndpointConfig {
        bind: taken.local_addr().unwrap(),
        cores: 1,
        io_uring: Some(false),
        limits: ConnLimits {
            handshake_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
        },
    };
    let keys = Arc::new(StaticKeys::generate().unwrap());
    match start(&config, keys, events) {
        Err(EndpointError::Bind(addr, _)) => assert_eq!(addr, config.bind),
        other => panic!("expected a bind error, got {other:?}"),
    }
}
