//! The endpoint over loopback TCP: its workers share one address, a taken address is a
//! bind error, connections that fail before their session are counted by cause, and
//! connections not yet accepted as a slave are capped per address and in all, limited to
//! small messages, and stop counting once their hello is accepted.

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
            ..ConnLimits::default()
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
            ..ConnLimits::default()
        },
    };
    let keys = Arc::new(StaticKeys::generate().unwrap());
    match start(&config, keys, events) {
        Err(EndpointError::Bind(addr, _)) => assert_eq!(addr, config.bind),
        other => panic!("expected a bind error, got {other:?}"),
    }
}

/// A portable endpoint on one core with `limits`, a control side that accepts every
/// hello, and the master's keys.
fn accepting_endpoint(limits: ConnLimits) -> (EndpointHandle, Arc<StaticKeys>) {
    let (events, rx) = async_channel::bounded(16);
    let config = EndpointConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        cores: 1,
        io_uring: Some(false),
        limits,
    };
    let keys = Arc::new(StaticKeys::generate().unwrap());
    let ep = start(&config, Arc::clone(&keys), events).unwrap();
    std::thread::spawn(move || {
        let mut next_node = 1;
        while let Ok(event) = rx.recv_blocking() {
            if let ControlEvent::Authenticate { reply, .. } = event {
                let _ = reply.send_blocking(AuthVerdict::Accept {
                    node_id: next_node,
                    version: 1,
                    heartbeat_interval_ms: 60_000,
                });
                next_node += 1;
            }
        }
    });
    (ep, keys)
}

/// Polls `ready` (1 ms apart) until it holds; panics with `what` after 10 s.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A TCP connection to `to` from `source` (any address of 127/8 works on loopback).
fn connect_from(source: [u8; 4], to: std::net::SocketAddr) -> std::net::TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from = std::net::SocketAddr::from((source, 0));
    sock.bind(&from.into()).unwrap();
    sock.connect(&to.into()).unwrap();
    let stream: std::net::TcpStream = sock.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// A slave's side of one connection, with a fresh random key.
struct Peer {
    stream: std::net::TcpStream,
    session: protocol::Session,
    events: Vec<protocol::SessionEvent>,
}

impl Peer {
    /// Connects from `source` and completes the Noise handshake.
    fn handshake(source: [u8; 4], to: std::net::SocketAddr, master: &StaticKeys) -> Self {
        use std::io::Read;
        let keys = StaticKeys::generate().unwrap();
        let check = protocol::PeerCheck::PublicKey(master.public);
        let mut peer = Self {
            stream: connect_from(source, to),
            session: protocol::Session::initiator(&keys, check).unwrap(),
            events: Vec::new(),
        };
        peer.flush();
        let mut buf = [0u8; 4096];
        while !peer.session.is_established() {
            let n = peer.stream.read(&mut buf).unwrap();
            assert_ne!(n, 0, "closed during the handshake");
            peer.session.receive(&buf[..n], &mut peer.events).unwrap();
        }
        peer.flush();
        peer.events.clear();
        peer
    }

    fn flush(&mut self) {
        let out = self.session.take_output();
        self.stream.write_all(&out).unwrap();
    }

    /// Says hello and returns the master's answer.
    fn hello(&mut self) -> protocol::Message {
        use std::io::Read;
        let hello = protocol::Message::Hello(protocol::Hello {
            min_version: 1,
            max_version: 1,
            auth: protocol::HelloAuth::Resume { node_id: 1 },
            agent_version: "t".into(),
        });
        self.session.send(&hello).unwrap();
        self.flush();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(protocol::SessionEvent::Message(m)) = self.events.pop() {
                return m;
            }
            let n = self.stream.read(&mut buf).unwrap();
            assert_ne!(n, 0, "closed before answering the hello");
            self.session.receive(&buf[..n], &mut self.events).unwrap();
        }
    }
}

#[test]
fn unauthenticated_connections_are_capped_per_address_and_in_all() {
    let (ep, _keys) = accepting_endpoint(ConnLimits {
        max_unauthenticated: 5,
        max_unauthenticated_per_address: 3,
        handshake_timeout: Duration::from_secs(60),
        ..ConnLimits::default()
    });
    let counters = Arc::clone(&ep.counters);
    let accepted = |n: u64| {
        let c = Arc::clone(&counters);
        move || c.accepted.load(std::sync::atomic::Ordering::Relaxed) == n
    };
    // Four silent connections from one address: the fourth is closed at once.
    let mut silent: Vec<_> = (0..4)
        .map(|_| connect_from([127, 0, 0, 2], ep.local_addr))
        .collect();
    wait_for("four accepted", accepted(4));
    assert_eq!(counters.closes(CloseCause::AddressCap), 1);
    assert_eq!(ep.admission.unauthenticated_from([127, 0, 0, 2].into()), 3);
    // The refused one reads end of stream at once, not after the handshake timeout.
    let mut byte = [0u8; 1];
    assert_eq!(std::io::Read::read(&mut silent[3], &mut byte).unwrap(), 0);
    // Two more from another address fill the global cap of 5; a sixth is refused.
    silent.extend((0..3).map(|_| connect_from([127, 0, 0, 3], ep.local_addr)));
    wait_for("seven accepted", accepted(7));
    assert_eq!(counters.closes(CloseCause::UnauthenticatedCap), 1);
    assert_eq!(ep.admission.unauthenticated(), 5);
    assert_eq!(
        counters.rejected.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    // Hanging up gives the places back.
    drop(silent);
    wait_for("places given back", || ep.admission.unauthenticated() == 0);
    ep.shutdown();
}

#[test]
fn an_accepted_slave_no_longer_counts_against_the_caps() {
    let (ep, keys) = accepting_endpoint(ConnLimits {
        max_unauthenticated: 1,
        max_unauthenticated_per_address: 1,
        handshake_timeout: Duration::from_secs(60),
        ..ConnLimits::default()
    });
    // Three slaves from the same address, one after the other, all accepted and all kept
    // open: with a cap of one, only possible if accepted ones stop counting.
    let mut slaves = Vec::new();
    for _ in 0..3 {
        let mut slave = Peer::handshake([127, 0, 0, 4], ep.local_addr, &keys);
        assert!(matches!(slave.hello(), protocol::Message::Welcome(_)));
        assert_eq!(ep.admission.unauthenticated(), 0);
        slaves.push(slave);
    }
    // (Counted just after the welcome is written.)
    let counters = Arc::clone(&ep.counters);
    wait_for("three sessions", || {
        counters.sessions.load(std::sync::atomic::Ordering::Relaxed) == 3
    });
    assert_eq!(ep.counters.closes(CloseCause::AddressCap), 0);
    // The accepted session takes messages over the pre-authentication limit.
    let big = protocol::Message::Heartbeat(protocol::Heartbeat {
        seq: 1,
        sample: protocol::MetricSample {
            cpu_per_core_pct: vec![1.0; 10_000],
            ..protocol::MetricSample::default()
        },
    });
    assert!(
        protocol::encode_message(&big).unwrap().len() > protocol::session::PRE_AUTH_MESSAGE_LEN
    );
    slaves[0].session.send(&big).unwrap();
    slaves[0].flush();
    wait_for("the heartbeat is forwarded", || {
        counters
            .messages_in
            .load(std::sync::atomic::Ordering::Relaxed)
            == 1
    });
    assert_eq!(counters.closes(CloseCause::BadData), 0);
    drop(slaves);
    ep.shutdown();
}

#[test]
fn a_large_message_before_the_hello_is_refused_and_its_buffers_given_back() {
    let (ep, keys) = accepting_endpoint(ConnLimits::default());
    let mut peer = Peer::handshake([127, 0, 0, 5], ep.local_addr, &keys);
    // 64 KiB of message bytes without a hello: refused after about 8 KiB.
    let big = vec![0x5a; 64 * 1024];
    peer.session.send_encoded(&big).unwrap();
    let out = peer.session.take_output();
    let _ = peer.stream.write_all(&out);
    let counters = Arc::clone(&ep.counters);
    wait_for("the refusal is counted", || {
        counters.closes(CloseCause::PreAuthTooLarge) == 1
    });
    let peak = counters
        .pre_auth_buffered_peak
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(peak > 0);
    assert!(peak < 64 * 1024, "peak {peak} bytes");
    assert_eq!(
        counters
            .pre_auth_buffered
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert_eq!(ep.admission.unauthenticated(), 0);
    ep.shutdown();
}
