//! The console's HTTP server under a slow-client and connection-flood attack (issue 11,
//! finding 5): half-sent requests and silent or idle connections are closed after the
//! configured timeouts, connections over the global and per-address caps are closed at once,
//! the server's descriptors stay bounded, and a logged-in user (a request and a long event
//! stream) gets through during the attack. Real sockets on loopback; the attacker and the
//! user use different loopback source addresses (127.0.0.1 and 127.0.0.2).

use crate::console::common::*;
use model::node::LiveSample;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

const ATTACKER: &str = "127.0.0.1";
const USER_IP: &str = "127.0.0.2";

/// The short timeout of the attack test.
const SHORT: Duration = Duration::from_secs(2);

/// Short timeouts, caps out of the way unless a test sets them.
fn short_limits() -> web::HttpLimits {
    web::HttpLimits {
        tls_handshake_timeout: SHORT,
        header_timeout: SHORT,
        body_timeout: SHORT,
        max_connections: 10_000,
        max_connections_per_address: 10_000,
        exempt_addresses: Vec::new(),
    }
}

/// The app's router served on a loopback port with `limits`.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(app: &TestApp, limits: web::HttpLimits) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(web::serve(listener, app.router.clone(), limits, async {
            let _ = stop_rx.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("the server stops within 10 s")
            .unwrap()
            .unwrap();
    }
}

/// A connection to `addr` from the loopback address `from`.
async fn connect_from(from: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Descriptors of this process that are accepted TCP connections of the server on `port`
/// (the test's own client ends have `port` as their peer, not their local port).
fn server_connection_fds(port: u16) -> usize {
    let mut inodes = std::collections::HashSet::new();
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            // 0A is LISTEN: the listener itself.
            if local_port == Some(port) && *state != "0A" {
                inodes.insert(format!("socket:[{inode}]"));
            }
        }
    }
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| inodes.contains(target.to_string_lossy().as_ref()))
        .count()
}

/// Polls `cond` every 20 ms until it holds or `within` passed; says whether it held.
async fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads until the server closes `stream` (EOF or reset), at most `within`; says whether it
/// closed.
async fn closed_within(mut stream: TcpStream, within: Duration) -> bool {
    let drain = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, drain).await.is_ok()
}

/// Whether each stream is closed by the server within `within` (all waited on together).
async fn closed_each_within(streams: Vec<TcpStream>, within: Duration) -> Vec<bool> {
    let waits: Vec<_> = streams
        .into_iter()
        .map(|s| tokio::spawn(closed_within(s, within)))
        .collect();
    let mut closed = Vec::with_capacity(waits.len());
    for wait in waits {
        closed.push(wait.await.unwrap());
    }
    closed
}

/// One `Connection: close` request from `from`; the raw response.
async fn request_from(
    from: &str,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
) -> String {
    let mut stream = connect_from(from, addr).await;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{headers}Content-Length: 0\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    String::from_utf8_lossy(&raw).into_owned()
}

fn sample(node_id: u64, at_ms: u64) -> LiveSample {
    LiveSample {
        node_id,
        at_ms,
        sample: Arc::new(metrics()),
    }
}

/// Reads `stream` until `needle` arrived (within 5 s); what was read.
async fn read_until(stream: &mut TcpStream, needle: &str) -> String {
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    let read = async {
        while !text.contains(needle) {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the stream ended before {needle:?}: {text}");
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .unwrap_or_else(|_| panic!("no {needle:?} within 5 s"));
    text
}

const PER_KIND: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_and_silent_connections_are_closed_after_the_timeouts() {
    let (tx, _keep) = broadcast::channel(16);
    let nodes = vec![full_node(1, "alpha", now_ms())];
    let (app, s) = TestApp::ready(Fake::Live(nodes, tx.clone())).await;
    let server = Server::start(&app, short_limits()).await;
    let (addr, port) = (server.addr, server.addr.port());

    // A logged-in user's event stream, opened before the attack: a long response, not an
    // idle read, so it must outlive every timeout.
    let mut events = connect_from(USER_IP, server.addr).await;
    let stream_req = format!(
        "GET /api/v1/nodes/1/metrics/stream HTTP/1.1\r\nHost: test\r\nCookie: commander_session={}\r\n\r\n",
        s.token
    );
    events.write_all(stream_req.as_bytes()).await.unwrap();
    let head = read_until(&mut events, "\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let stream_opened = Instant::now();

    // The attack: silent connections, headers that never end (one byte dripped every 200 ms,
    // so a per-read timeout would never fire), bodies that never end, and keep-alive
    // connections left idle after one answered request.
    let mut silent = Vec::new();
    let mut dripping = Vec::new();
    let mut half_bodies = Vec::new();
    let mut idle = Vec::new();
    for _ in 0..PER_KIND {
        silent.push(connect_from(ATTACKER, addr).await);
        let mut s = connect_from(ATTACKER, addr).await;
        s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        dripping.push(s);
        let mut s = connect_from(ATTACKER, addr).await;
        s.write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"username\":",
        )
        .await
        .unwrap();
        half_bodies.push(s);
        let mut s = connect_from(ATTACKER, addr).await;
        s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        idle.push(s);
    }
    let attack_started = Instant::now();
    let attackers = 4 * PER_KIND;
    // The attack landed: the server holds the connections (some may already have timed out
    // on a slow machine, hence half).
    let held = server_connection_fds(port);
    println!("server connection descriptors during the attack: {held}");
    assert!(
        held > attackers / 2,
        "the attack did not land: {held} server connections"
    );
    let dripper = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut alive = 0;
            for s in &mut dripping {
                if s.write_all(b"a").await.is_ok() {
                    alive += 1;
                }
            }
            if alive == 0 {
                return dripping;
            }
        }
    });

    // The user gets through during the attack.
    let bearer = format!("Authorization: Bearer {}\r\n", s.token);
    let raw = request_from(USER_IP, addr, "GET", "/api/v1/nodes", &bearer).await;
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");
    assert!(raw.contains(r#""hostname":"alpha""#), "{raw}");

    // Every attacking connection is closed soon after the 2 s timeouts.
    let within = Duration::from_secs(10);
    for (kind, streams) in [
        ("silent", silent),
        ("half-sent body", half_bodies),
        ("idle keep-alive", idle),
    ] {
        let closed = closed_each_within(streams, within).await;
        let open = closed.iter().filter(|c| !**c).count();
        assert_eq!(
            open, 0,
            "{open} of {PER_KIND} {kind} connections still open after {within:?}"
        );
    }
    let dripping = tokio::time::timeout(within, dripper)
        .await
        .expect("the dripping headers were all refused within 10 s")
        .unwrap();
    let closed = closed_each_within(dripping, within).await;
    assert!(
        closed.iter().all(|c| *c),
        "a dripping header connection is open"
    );
    let took = attack_started.elapsed();
    println!("{attackers} attacking connections all closed {took:?} after the attack started");
    assert!(
        eventually(within, || server_connection_fds(port) <= 1).await,
        "the server still holds {} connections (the event stream is one)",
        server_connection_fds(port)
    );

    // The event stream outlived the timeouts and still delivers.
    assert!(stream_opened.elapsed() > SHORT);
    tx.send(sample(1, 4242)).unwrap();
    let text = read_until(&mut events, r#""t":4242"#).await;
    assert!(text.contains("event: sample"), "{text}");
    drop(events);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_caps_are_closed_at_once_and_descriptors_stay_bounded() {
    let (app, s) = TestApp::ready(Fake::Nodes(vec![full_node(1, "alpha", now_ms())])).await;
    let limits = web::HttpLimits {
        // Long timeouts: whatever closes here is the caps.
        header_timeout: Duration::from_secs(60),
        body_timeout: Duration::from_secs(60),
        tls_handshake_timeout: Duration::from_secs(60),
        max_connections: 100,
        max_connections_per_address: 40,
        exempt_addresses: vec!["127.0.0.4".parse().unwrap()],
    };
    let server = Server::start(&app, limits).await;
    let (addr, port) = (server.addr, server.addr.port());
    let fds_before = server_connection_fds(port);
    assert_eq!(fds_before, 0);

    // 120 silent connections from one address: 40 are kept, 80 closed at once.
    let mut streams = Vec::new();
    for _ in 0..120 {
        streams.push(connect_from(ATTACKER, addr).await);
    }
    let closed = closed_each_within(streams, Duration::from_secs(2)).await;
    let refused = closed.iter().filter(|c| **c).count();
    assert_eq!(refused, 80, "connections over the per-address cap closed");
    let held = server_connection_fds(port);
    assert!(held <= 40, "the server holds {held} connections");
    // (The 40 kept ones were dropped by closed_each_within's timeouts; wait for the server
    // to see them go.)
    assert!(eventually(Duration::from_secs(5), || server_connection_fds(port) == 0).await);

    // Again, held open this time, and a logged-in user from another address gets through.
    let mut attack = Vec::new();
    for _ in 0..120 {
        attack.push(connect_from(ATTACKER, addr).await);
    }
    assert!(eventually(Duration::from_secs(5), || server_connection_fds(port) == 40).await);
    let bearer = format!("Authorization: Bearer {}\r\n", s.token);
    let raw = request_from(USER_IP, addr, "GET", "/api/v1/nodes", &bearer).await;
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");

    // The global cap: a second address gets its 40, an exempt one (a trusted proxy) the
    // remaining 20 and no more, and then everyone is closed at once.
    assert!(eventually(Duration::from_secs(5), || server_connection_fds(port) == 40).await);
    for _ in 0..40 {
        attack.push(connect_from("127.0.0.3", addr).await);
    }
    for _ in 0..20 {
        attack.push(connect_from("127.0.0.4", addr).await);
    }
    assert!(
        eventually(Duration::from_secs(5), || server_connection_fds(port)
            == 100)
        .await
    );
    let over: Vec<_> = [
        connect_from("127.0.0.4", addr).await,
        connect_from("127.0.0.5", addr).await,
    ]
    .into();
    let closed = closed_each_within(over, Duration::from_secs(2)).await;
    assert_eq!(closed, [true, true], "over the global cap");
    let peak = server_connection_fds(port);
    assert!(peak <= 100, "the server holds {peak} connections");
    println!("server connection descriptors at the caps: {peak} (cap 100)");

    drop(attack);
    assert!(eventually(Duration::from_secs(5), || server_connection_fds(port) == 0).await);
    let raw = request_from(USER_IP, addr, "GET", "/api/v1/health", "").await;
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");
    server.stop().await;
}
