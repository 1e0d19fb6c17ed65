//! The admin HTTP endpoint of the standalone binary (plain threads; control traffic only):
//!
//! - `GET /stats`: merged counters as JSON,
//! - `GET /metrics`: the same in Prometheus text format,
//! - `POST /reload`: re-read the configuration file and apply it,
//! - `GET /healthz`: `ok`.
//!
//! It listens on loopback unless configured otherwise, and a non-loopback address requires a
//! bearer token (checked by the configuration). Every request is checked by
//! [`request::authorize`]: the token when one is set, and no cross-site request (so a web
//! page an operator visits cannot trigger a reload or read the stats). Each client is served
//! on its own thread, at most [`MAX_CLIENTS`] at once (more get 503 at once), and must send
//! its request within [`REQUEST_TIMEOUT`] in total, so a slow client delays no one else.

pub mod request;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::{AdminConfig, AdminToken, Config, ConfigError};
use crate::control::ApplyReport;
use crate::error::GatewayError;
use crate::handle::GatewayHandle;
use request::Refusal;

/// Largest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// Time a client has to send its whole request head.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Clients served at once; more are answered 503 and closed.
pub const MAX_CLIENTS: usize = 16;

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

/// What the endpoint serves; the running gateway in production, a fake in tests.
pub trait AdminApi: Send + Sync + 'static {
    /// `/stats` as JSON.
    fn stats_json(&self) -> Result<String, String>;
    /// `/metrics` in Prometheus text format.
    fn metrics_text(&self) -> Result<String, String>;
    /// Reloads; the report as JSON.
    fn reload(&self) -> Result<String, String>;
}

/// The running gateway and its reload function.
struct GatewayApi {
    gateway: GatewayHandle,
    reload: ReloadFn,
}

impl AdminApi for GatewayApi {
    fn stats_json(&self) -> Result<String, String> {
        let stats = self.gateway.stats_blocking().map_err(|e| e.to_string())?;
        Ok(serde_json::to_string_pretty(&stats).unwrap_or_default())
    }

    fn metrics_text(&self) -> Result<String, String> {
        let stats = self.gateway.stats_blocking().map_err(|e| e.to_string())?;
        Ok(stats.to_prometheus())
    }

    fn reload(&self) -> Result<String, String> {
        let report = (self.reload)().map_err(|e| e.to_string())?;
        Ok(serde_json::to_string_pretty(&report).unwrap_or_default())
    }
}

/// Limits of one endpoint (the constants in production; tests shorten them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminLimits {
    /// Time for a whole request head.
    pub request_timeout: Duration,
    /// Clients served at once.
    pub max_clients: usize,
}

impl Default for AdminLimits {
    fn default() -> Self {
        Self {
            request_timeout: REQUEST_TIMEOUT,
            max_clients: MAX_CLIENTS,
        }
    }
}

/// A running admin endpoint.
pub struct AdminServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Binds `cfg.bind` and serves `gateway` in background threads.
pub fn serve(
    cfg: &AdminConfig,
    gateway: GatewayHandle,
    reload: ReloadFn,
) -> io::Result<AdminServer> {
    let api = Arc::new(GatewayApi { gateway, reload });
    serve_api(cfg, api, AdminLimits::default())
}

/// Binds `cfg.bind` and serves `api` within `limits` in background threads.
pub fn serve_api(
    cfg: &AdminConfig,
    api: Arc<dyn AdminApi>,
    limits: AdminLimits,
) -> io::Result<AdminServer> {
    let listener = TcpListener::bind(cfg.bind)?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let token = cfg.token.clone().map(Arc::new);
    let thread = std::thread::Builder::new()
        .name("gw-admin".into())
        .spawn(move || accept_loop(&listener, &flag, &api, token, limits))?;
    Ok(AdminServer {
        addr,
        stop,
        thread: Some(thread),
    })
}

/// Counts a client served; dropping it frees the slot.
struct ClientSlot(Arc<AtomicUsize>);

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn accept_loop(
    listener: &TcpListener,
    stop: &AtomicBool,
    api: &Arc<dyn AdminApi>,
    token: Option<Arc<AdminToken>>,
    limits: AdminLimits,
) {
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let mut stream = match conn {
            Ok(s) => s,
            Err(e) => {
                // Usually EMFILE; back off instead of spinning.
                tracing::debug!("admin accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::AcqRel) >= limits.max_clients {
            active.fetch_sub(1, Ordering::AcqRel);
            // Best effort, never blocking the accept loop.
            let _ = stream.set_nonblocking(true);
            let _ = stream
                .write_all(response(503, "text/plain", "too many clients\n", false).as_bytes());
            continue;
        }
        let slot = ClientSlot(Arc::clone(&active));
        let (api, token) = (Arc::clone(api), token.clone());
        let spawned = std::thread::Builder::new()
            .name("gw-admin-client".into())
            .spawn(move || {
                let _slot = slot;
                if let Err(e) = handle_conn(stream, api.as_ref(), token.as_deref(), limits) {
                    tracing::debug!("admin request failed: {e}");
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("admin endpoint cannot start a client thread: {e}");
        }
    }
}

impl AdminServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and joins the accept thread (clients being served finish on their
    /// own, within the request timeout).
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

/// Reads the request head before `deadline`; `None` when the time ran out.
fn read_head(s: &mut TcpStream, deadline: Instant) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        s.set_read_timeout(Some(left))?;
        let n = match s.read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(Some(head))
}

fn handle_conn(
    mut s: TcpStream,
    api: &dyn AdminApi,
    token: Option<&AdminToken>,
    limits: AdminLimits,
) -> io::Result<()> {
    let deadline = Instant::now() + limits.request_timeout;
    s.set_write_timeout(Some(limits.request_timeout))?;
    let Some(head) = read_head(&mut s, deadline)? else {
        let msg = response(408, "text/plain", "request timeout\n", false);
        return s.write_all(msg.as_bytes());
    };
    let end = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(head.len(), |i| i + 4);
    let outcome =
        request::parse(&head[..end]).and_then(|req| request::authorize(&req, token).map(|()| req));
    let msg = match outcome {
        Ok(req) => {
            let (status, ctype, body) = respond(&req.method, &req.path, api);
            response(status, ctype, &body, false)
        }
        Err(Refusal::BadRequest) => response(400, "text/plain", "bad request\n", false),
        Err(Refusal::Unauthorized) => response(401, "text/plain", "unauthorized\n", true),
        Err(Refusal::Forbidden(why)) => response(403, "text/plain", &format!("{why}\n"), false),
    };
    s.write_all(msg.as_bytes())?;
    s.flush()
}

fn response(status: u16, ctype: &str, body: &str, challenge: bool) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    let challenge = if challenge {
        "WWW-Authenticate: Bearer\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{challenge}Connection: close\r\n\r\n{body}",
        body.len()
    )
}

fn respond(method: &str, path: &str, api: &dyn AdminApi) -> (u16, &'static str, String) {
    const JSON: &str = "application/json";
    match (method, path) {
        ("GET", "/healthz") => (200, "text/plain", "ok\n".into()),
        ("GET", "/stats") => match api.stats_json() {
            Ok(s) => (200, JSON, s),
            Err(e) => (500, JSON, error_json(&e)),
        },
        ("GET", "/metrics") => match api.metrics_text() {
            Ok(s) => (200, "text/plain; version=0.0.4", s),
            Err(e) => (500, "text/plain", format!("{e}\n")),
        },
        ("POST", "/reload") => match api.reload() {
            Ok(r) => (200, JSON, r),
            Err(e) => (500, JSON, error_json(&e)),
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
