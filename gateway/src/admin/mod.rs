//! The admin HTTP endpoint of the standalone binary (a plain thread; control traffic only):
//!
//! - `GET /stats`: merged counters as JSON,
//! - `GET /metrics`: the same in Prometheus text format,
//! - `POST /reload`: re-read the configuration file and apply it,
//! - `GET /healthz`: `ok`.
//!
//! It has no authentication: bind it to loopback or a management network.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::{Config, ConfigError};
use crate::control::ApplyReport;
use crate::error::GatewayError;
use crate::handle::GatewayHandle;

/// Largest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// Time a client has to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Reloads the configuration (usually with [`reload_file`]); the error is shown to the
/// caller.
pub type ReloadFn = Arc<dyn Fn() -> Result<ApplyReport, ReloadError> + Send + Sync>;

/// Why a reload did not apply a configuration; the running one stays.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file could not be read or is not a valid configuration.
    #[error("configuration {}: {source}", .path.display())]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong with it.
        source: ConfigError,
    },
    /// The gateway could not apply it (a listener could not be bound, a worker did not
    /// answer, the gateway is stopped).
    #[error(transparent)]
    Apply(#[from] GatewayError),
}

/// Re-reads the configuration file and applies it live.
pub fn reload_file(gateway: &GatewayHandle, path: &Path) -> Result<ApplyReport, ReloadError> {
    let cfg = Config::from_file(path).map_err(|source| ReloadError::Config {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(gateway.apply_blocking(cfg)?)
}

/// A running admin endpoint.
pub struct AdminServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Binds `addr` and serves in a background thread.
pub fn serve(
    addr: SocketAddr,
    gateway: GatewayHandle,
    reload: ReloadFn,
) -> io::Result<AdminServer> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("gw-admin".into())
        .spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::Acquire) {
                    break;
                }
                if let Ok(s) = conn
                    && let Err(e) = handle_conn(s, &gateway, &reload)
                {
                    tracing::debug!("admin request failed: {e}");
                }
            }
        })?;
    Ok(AdminServer {
        addr,
        stop,
        thread: Some(thread),
    })
}

impl AdminServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and joins its thread.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

fn handle_conn(mut s: TcpStream, gw: &GatewayHandle, reload: &ReloadFn) -> io::Result<()> {
    s.set_read_timeout(Some(READ_TIMEOUT))?;
    s.set_write_timeout(Some(READ_TIMEOUT))?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let (status, ctype, body) = match parse_request_line(&head) {
        Some((method, path)) => respond(method, path, gw, reload),
        None => (400, "text/plain", "bad request\n".to_string()),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    };
    let msg = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(msg.as_bytes())?;
    s.flush()
}

fn respond(
    method: &str,
    path: &str,
    gw: &GatewayHandle,
    reload: &ReloadFn,
) -> (u16, &'static str, String) {
    const JSON: &str = "application/json";
    let path = path.split('?').next().unwrap_or(path);
    match (method, path) {
        ("GET", "/healthz") => (200, "text/plain", "ok\n".into()),
        ("GET", "/stats") => match gw.stats_blocking() {
            Ok(s) => (
                200,
                JSON,
                serde_json::to_string_pretty(&s).unwrap_or_default(),
            ),
            Err(e) => (500, JSON, error_json(&e.to_string())),
        },
        ("GET", "/metrics") => match gw.stats_blocking() {
            Ok(s) => (200, "text/plain; version=0.0.4", s.to_prometheus()),
            Err(e) => (500, "text/plain", format!("{e}\n")),
        },
        ("POST", "/reload") => match reload() {
            Ok(r) => (
                200,
                JSON,
                serde_json::to_string_pretty(&r).unwrap_or_default(),
            ),
            Err(e) => (500, JSON, error_json(&e.to_string())),
        },
        (_, "/healthz" | "/stats" | "/metrics" | "/reload") => {
            (405, "text/plain", "method not allowed\n".into())
        }
        _ => (404, "text/plain", "not found\n".into()),
    }
}

fn error_json(msg: &str) -> String {
    serde_json::json!({ "error": msg }).to_string()
}

/// Method and path of an HTTP/1.x request line.
fn parse_request_line(head: &[u8]) -> Option<(&str, &str)> {
    let end = head.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&head[..end])
        .ok()?
        .trim_end_matches('\r');
    let mut parts = line.split(' ');
    let (method, path, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !version.starts_with("HTTP/1.") || !path.starts_with('/') {
        return None;
    }
    Some((method, path))
}

#[cfg(test)]
mod tests {
    use super::parse_request_line;

    #[test]
    fn request_lines() {
        assert_eq!(
            parse_request_line(b"GET /stats HTTP/1.1\r\nHost: x\r\n"),
            Some(("GET", "/stats"))
        );
        assert_eq!(
            parse_request_line(b"POST /reload HTTP/1.0\n"),
            Some(("POST", "/reload"))
        );
        assert_eq!(parse_request_line(b"GET /stats"), None);
        assert_eq!(parse_request_line(b"GET stats HTTP/1.1\r\n"), None);
        assert_eq!(parse_request_line(b"GET /a b HTTP/1.1\r\n"), None);
        assert_eq!(parse_request_line(b"\xff /x HTTP/1.1\r\n"), None);
    }
}
