//! The endpoint on the portable runtime over loopback TCP: connections that fail before
//! their session are counted by cause, and the counters say whose failure it was.

use super::*;
use crate::test_fixtures::wait_until;
use std::io::Write;
use std::time::Duration;

fn endpoint(
    handshake_timeout: Duration,
) -> (EndpointHandle, async_channel::Receiver<ControlEvent>) {
    let (events, rx) = async_channel::bounded(16);
    let config = EndpointConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        cores: 1,
        io_uring: Some(false),
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
