//! The admin endpoint over loopback sockets, serving a fake [`AdminApi`] (issue 11,
//! finding 7): a configured token is required and checked, cross-site and form-like POSTs
//! are refused without reloading, a slow client (or a slow reload) does not hold up another
//! client, clients over the cap get 503 at once, and a slow client is cut off at the request
//! deadline.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use gateway::admin::{AdminApi, AdminLimits, AdminServer, serve_api};
use gateway::config::{AdminConfig, AdminToken};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// Counts reloads; a reload waits for the test's go-ahead when `gate` is set.
#[derive(Default)]
struct FakeApi {
    reloads: AtomicUsize,
    gate: Mutex<Option<mpsc::Receiver<()>>>,
}

impl AdminApi for FakeApi {
    fn stats_json(&self) -> Result<String, String> {
        Ok(r#"{"gateways":[]}"#.into())
    }

    fn metrics_text(&self) -> Result<String, String> {
        Ok("commander_gateway_up 1\n".into())
    }

    fn reload(&self) -> Result<String, String> {
        if let Some(gate) = self.gate.lock().unwrap().take() {
            let _ = gate.recv_timeout(Duration::from_secs(10));
        }
        self.reloads.fetch_add(1, Ordering::AcqRel);
        Ok(r#"{"added":[]}"#.into())
    }
}

fn start(token: Option<&str>, api: &Arc<FakeApi>, limits: AdminLimits) -> AdminServer {
    let cfg = AdminConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        token: token.map(|t| AdminToken::new(t).unwrap()),
    };
    let api: Arc<dyn AdminApi> = api.clone();
    serve_api(&cfg, api, limits).unwrap()
}

/// Sends `head` (without the final blank line) and returns the status and the response.
fn exchange(addr: SocketAddr, head: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("{head}\r\n").as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, resp)
}

fn host(addr: SocketAddr) -> String {
    format!("Host: {addr}\r\n")
}

#[test]
fn a_configured_token_is_required_and_checked() {
    let api = Arc::new(FakeApi::default());
    let server = start(Some(TOKEN), &api, AdminLimits::default());
    let addr = server.local_addr();
    let h = host(addr);
    for path in ["/healthz", "/stats", "/metrics"] {
        let (status, resp) = exchange(addr, &format!("GET {path} HTTP/1.1\r\n{h}"));
        assert_eq!(status, 401, "{path}: {resp}");
        assert!(resp.contains("WWW-Authenticate: Bearer"), "{resp}");
        let wrong = format!(
            "GET {path} HTTP/1.1\r\n{h}Authorization: Bearer {}x\r\n",
            &TOKEN[1..]
        );
        assert_eq!(exchange(addr, &wrong).0, 401, "{path}");
        let right = format!("GET {path} HTTP/1.1\r\n{h}Authorization: Bearer {TOKEN}\r\n");
        assert_eq!(exchange(addr, &right).0, 200, "{path}");
    }
    let post = format!("POST /reload HTTP/1.1\r\n{h}");
    assert_eq!(exchange(addr, &post).0, 401);
    assert_eq!(api.reloads.load(Ordering::Acquire), 0);
    let post = format!("POST /reload HTTP/1.1\r\n{h}Authorization: Bearer {TOKEN}\r\n");
    let (status, resp) = exchange(addr, &post);
    assert_eq!(status, 200, "{resp}");
    assert_eq!(api.reloads.load(Ordering::Acquire), 1);
}

#[test]
fn cross_site_posts_are_refused_and_do_not_reload() {
    let api = Arc::new(FakeApi::default());
    let server = start(None, &api, AdminLimits::default());
    let addr = server.local_addr();
    let h = host(addr);
    // What a page on another site can send: a bodiless no-cors fetch, a form, a rebound host.
    for extra in [
        "Origin: http://evil.example\r\nSec-Fetch-Site: cross-site\r\n".to_owned(),
        "Origin: http://evil.example\r\n".to_owned(),
        "Sec-Fetch-Site: cross-site\r\nX-Commander-Admin: 1\r\n".to_owned(),
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n".to_owned(),
        "Content-Type: text/plain\r\nX-Commander-Admin: 1\r\n".to_owned(),
        String::new(),
    ] {
        let (status, resp) = exchange(addr, &format!("POST /reload HTTP/1.1\r\n{h}{extra}"));
        assert_eq!(status, 403, "{extra:?}: {resp}");
    }
    let rebound = "POST /reload HTTP/1.1\r\nHost: evil.example:9900\r\nX-Commander-Admin: 1\r\n";
    assert_eq!(exchange(addr, rebound).0, 403);
    let read = "GET /stats HTTP/1.1\r\nHost: evil.example:9900\r\n";
    assert_eq!(
        exchange(addr, read).0,
        403,
        "DNS rebinding may not read the stats"
    );
    assert_eq!(
        api.reloads.load(Ordering::Acquire),
        0,
        "no refused request reloaded"
    );

    // A script's POST (curl with the custom header) reloads.
    let (status, resp) = exchange(
        addr,
        &format!("POST /reload HTTP/1.1\r\n{h}X-Commander-Admin: 1\r\n"),
    );
    assert_eq!(status, 200, "{resp}");
    assert_eq!(api.reloads.load(Ordering::Acquire), 1);
}

#[test]
fn a_slow_client_does_not_block_another() {
    let api = Arc::new(FakeApi::default());
    let (release, gate) = mpsc::channel();
    *api.gate.lock().unwrap() = Some(gate);
    let server = start(None, &api, AdminLimits::default());
    let addr = server.local_addr();
    let h = host(addr);

    // A client dripping its head one byte every 300 ms (a per-read timeout never fires).
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /stats HTTP/1.1\r\n").unwrap();
    let dripper = std::thread::spawn(move || {
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(300));
            if slow.write_all(b"X").is_err() {
                break;
            }
        }
        slow
    });
    // And a reload that takes as long as the test says.
    let reloading = {
        let post = format!("POST /reload HTTP/1.1\r\n{h}X-Commander-Admin: 1\r\n");
        std::thread::spawn(move || exchange(addr, &post))
    };
    std::thread::sleep(Duration::from_millis(100));

    let started = Instant::now();
    let (status, _) = exchange(addr, &format!("GET /healthz HTTP/1.1\r\n{h}"));
    let took = started.elapsed();
    assert_eq!(status, 200);
    // Served one at a time, it would wait for the dripping client (3 s) and the reload.
    assert!(
        took < Duration::from_secs(2),
        "a second client waited {took:?}"
    );
    let (status, body) = exchange(addr, &format!("GET /stats HTTP/1.1\r\n{h}"));
    assert_eq!(status, 200, "{body}");

    release.send(()).unwrap();
    assert_eq!(reloading.join().unwrap().0, 200);
    drop(dripper.join().unwrap());
}

#[test]
fn a_slow_client_is_cut_off_at_the_request_deadline_and_over_the_cap_gets_503() {
    let api = Arc::new(FakeApi::default());
    let limits = AdminLimits {
        request_timeout: Duration::from_millis(500),
        max_clients: 2,
    };
    let server = start(None, &api, limits);
    let addr = server.local_addr();

    // Two clients hold both slots with unfinished heads.
    let drip = |addr| {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /stats HTTP/1.1\r\n").unwrap();
        s
    };
    let mut holders = [drip(addr), drip(addr)];
    std::thread::sleep(Duration::from_millis(100));
    // A third is refused at once, before it sent anything (a request sent before the
    // refusal arrives may turn the close into a reset that swallows the 503).
    let mut third = TcpStream::connect(addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut resp = String::new();
    third.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 503 "), "{resp}");

    // The slow ones are answered 408 and closed at the 500 ms deadline.
    let started = Instant::now();
    let mut answers = Vec::new();
    for s in &mut holders {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        answers.push(resp);
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    for resp in &answers {
        assert!(resp.starts_with("HTTP/1.1 408 "), "{resp}");
    }
    // The slots are free again.
    let ok = (0..50).any(|_| {
        let (status, _) = exchange(addr, &format!("GET /healthz HTTP/1.1\r\n{}", host(addr)));
        status == 200 || {
            std::thread::sleep(Duration::from_millis(20));
            false
        }
    });
    assert!(ok);
}
