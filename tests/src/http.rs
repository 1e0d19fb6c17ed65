//! A tiny blocking HTTP/1.1 client for tests (GET and POST with `Connection: close`).
//!
//! Every `/api/v1` route but login, registration and health needs
//! `Authorization: Bearer TOKEN`. [`remember_token`] records the token of a master's console
//! address (done by `cluster::start_master`), and [`request`] and [`get_json`] send it to
//! that address from then on; [`request_as`] picks the token (or none) explicitly.

use anyhow::{Context, bail};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

fn tokens() -> &'static Mutex<HashMap<SocketAddr, String>> {
    static TOKENS: OnceLock<Mutex<HashMap<SocketAddr, String>>> = OnceLock::new();
    TOKENS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Sends `token` as the Bearer token of every later request to `addr`.
pub fn remember_token(addr: SocketAddr, token: &str) {
    let mut map = tokens().lock().unwrap_or_else(|e| e.into_inner());
    map.insert(addr, token.to_owned());
}

/// The token remembered for `addr`.
pub fn token_for(addr: SocketAddr) -> Option<String> {
    let map = tokens().lock().unwrap_or_else(|e| e.into_inner());
    map.get(&addr).cloned()
}

/// A response: status code and body.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Raw header block.
    pub headers: String,
    /// Body bytes as text.
    pub body: String,
}

/// Sends a request (with the token remembered for `addr`, if any) and reads the whole
/// response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> anyhow::Result<HttpResponse> {
    request_as(addr, token_for(addr).as_deref(), method, path, body)
}

/// Sends a request with `token` as its Bearer token (or no `Authorization` at all).
pub fn request_as(
    addr: SocketAddr,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> anyhow::Result<HttpResponse> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connect {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or("");
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let Some((head, rest)) = text.split_once("\r\n\r\n") else {
        bail!("malformed HTTP response: {text:?}");
    };
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("no status in {head:?}"))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)?
    } else {
        rest.to_owned()
    };
    Ok(HttpResponse {
        status,
        headers: head.to_owned(),
        body,
    })
}

fn dechunk(mut rest: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    loop {
        let (size, tail) = rest.split_once("\r\n").context("bad chunk header")?;
        let n = usize::from_str_radix(size.trim(), 16).context("bad chunk size")?;
        if n == 0 {
            return Ok(out);
        }
        out.push_str(tail.get(..n).context("short chunk")?);
        rest = tail.get(n + 2..).context("short chunk trailer")?;
    }
}

/// `GET path` parsed as JSON; fails on a non-200 status.
pub fn get_json(addr: SocketAddr, path: &str) -> anyhow::Result<serde_json::Value> {
    let r = request(addr, "GET", path, None)?;
    if r.status != 200 {
        bail!("GET {path}: status {} body {}", r.status, r.body);
    }
    serde_json::from_str(&r.body).with_context(|| format!("GET {path}: not JSON: {}", r.body))
}

/// `POST path` with a JSON body: the status and the body parsed as JSON (`null` if empty).
pub fn post_json(
    addr: SocketAddr,
    path: &str,
    body: &serde_json::Value,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let r = request(addr, "POST", path, Some(&body.to_string()))?;
    let json = if r.body.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&r.body)
            .with_context(|| format!("POST {path}: not JSON: {}", r.body))?
    };
    Ok((r.status, json))
}
