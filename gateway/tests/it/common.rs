//! Helpers shared by the integration tests: loopback backends (std threads), a gateway
//! started from YAML, and bounded waiting on conditions.

#![allow(dead_code, clippy::unwrap_used)] // shared test helpers; unwrap failures fail the test

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gateway::{Config, GatewayHandle};

/// What a test backend does with each connection.
#[derive(Clone)]
pub enum Behaviour {
    /// Echo until EOF, then close.
    Echo,
    /// Write the tag, then close.
    Banner(String),
    /// Write the tag, then echo until EOF.
    Tagged(String),
    /// Answer any HTTP request with this status, then close.
    Http(u16),
    /// Read the first line (a PROXY v1 header) or 16+ bytes (v2) and record them, then echo.
    Capture,
}

/// A backend on loopback, running until dropped.
pub struct Backend {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    pub captured: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Backend {
    pub fn start(b: Behaviour) -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), b)
    }

    pub fn start_on(addr: SocketAddr, b: Behaviour) -> Self {
        let l = TcpListener::bind(addr).unwrap();
        let addr = l.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let captured = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (acc, cap, st) = (accepted.clone(), captured.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for s in l.incoming() {
                if st.load(Ordering::Acquire) {
                    break;
                }
                let Ok(s) = s else { continue };
                acc.fetch_add(1, Ordering::AcqRel);
                let (b, cap) = (b.clone(), cap.clone());
                std::thread::spawn(move || serve(s, b, cap));
            }
        });
        Self {
            addr,
            accepted,
            captured,
            stop,
            thread: Some(thread),
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Acquire)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut s: TcpStream, b: Behaviour, cap: Arc<Mutex<Vec<Vec<u8>>>>) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    match b {
        Behaviour::Echo => echo(&mut s),
        Behaviour::Banner(tag) => {
            let _ = s.write_all(tag.as_bytes());
        }
        Behaviour::Tagged(tag) => {
            if s.write_all(tag.as_bytes()).is_ok() {
                echo(&mut s);
            }
        }
        Behaviour::Http(status) => {
            let mut buf = [0u8; 1024];
            let _ = read_some(&mut s, &mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
        Behaviour::Capture => {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while head.len() < 108
                && read_some(&mut s, &mut byte)
                    .map(|n| n == 1)
                    .unwrap_or(false)
            {
                head.push(byte[0]);
                let v2_done = head.len() >= 16
                    && head.starts_with(b"\r\n\r\n\0\r\nQUIT\n")
                    && head.len() == 16 + u16::from_be_bytes([head[14], head[15]]) as usize;
                if head.ends_with(b"\r\n") && head.starts_with(b"PROXY") || v2_done {
                    break;
                }
            }
            cap.lock().unwrap().push(head);
            echo(&mut s);
        }
    }
}

fn echo(s: &mut TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match read_some(s, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
    let _ = s.shutdown(Shutdown::Write);
}

/// Polls `cond` every 5 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Starts a gateway from YAML with 2 workers unless the YAML says otherwise.
pub fn start(yaml: &str) -> GatewayHandle {
    let cfg = Config::from_yaml(yaml).unwrap();
    gateway::start(cfg).unwrap()
}

/// The bound address of gateway `name`.
pub fn addr_of(gw: &GatewayHandle, name: &str) -> SocketAddr {
    gw.stats_blocking()
        .unwrap()
        .gateway(name)
        .unwrap()
        .listen
        .parse()
        .unwrap()
}

/// Connects, sends `msg`, half-closes, reads everything back.
pub fn round_trip(addr: SocketAddr, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(msg)?;
    s.shutdown(Shutdown::Write)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}

/// Reads until EOF.
pub fn read_all(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// A minimal one-gateway YAML.
pub fn one_gateway(extra: &str, upstreams: &[SocketAddr]) -> String {
    one_gateway_w(2, extra, upstreams)
}

/// [`one_gateway`] with `workers` worker threads.
pub fn one_gateway_w(workers: usize, extra: &str, upstreams: &[SocketAddr]) -> String {
    let ups: Vec<String> = upstreams.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "workers: {workers}\ngateways:\n  - name: g\n    listen: 127.0.0.1:0\n    upstreams: [{}]\n{extra}",
        ups.join(", ")
    )
}

/// Connects to `addr` from the loopback source address `src` (e.g. 127.0.0.2).
pub fn connect_from(src: &str, addr: SocketAddr) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let src: std::net::IpAddr = src.parse().unwrap();
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.bind(&SocketAddr::new(src, 0).into())?;
    s.connect(&addr.into())?;
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    Ok(s)
}

/// Reads a one-byte tag from a `Tagged` backend through the gateway (`None` if the gateway
/// closed the connection instead).
pub fn tag_of(s: &mut TcpStream) -> Option<char> {
    let mut b = [0u8; 1];
    match read_some(s, &mut b) {
        Ok(1) => Some(b[0] as char),
        _ => None,
    }
}

/// `read` that retries on EINTR. The gateway's io_uring threads live in the test process,
/// and a blocking socket read with a timeout in a test thread can see EINTR from in-process
/// task-work notifications; a client in another process never does.
pub fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match s.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Tagged backends `a`, `b`, ... (one per letter of `tags`).
pub fn tagged(tags: &str) -> Vec<Backend> {
    tags.chars()
        .map(|t| Backend::start(Behaviour::Tagged(t.to_string())))
        .collect()
}

/// The gateway `g`'s stats.
pub fn gstats(gw: &GatewayHandle) -> gateway::stats::GatewayStats {
    gw.stats_blocking().unwrap().gateway("g").unwrap().clone()
}
