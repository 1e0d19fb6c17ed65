//! A small blocking W3C WebDriver client, enough to drive headless Chromium through
//! chromedriver on loopback: sessions, navigation, elements, clicks, typing, file inputs,
//! dialogs (`confirm`, `prompt`), scripts and screenshots.
//!
//! Written here rather than taken from `fantoccini` or `thirtyfour`: those are async and,
//! even without TLS, bring in the `webdriver` crate and some 80 more (ICU segmenters, `time`,
//! `url`, `cookie`); the protocol is a dozen JSON calls over HTTP/1.1.

use anyhow::{Context, bail};
use base64::Engine;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// The W3C key of an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Longest one WebDriver call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Sends one request to a WebDriver server and returns the `value` of its JSON answer.
pub fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connect to chromedriver at {addr}"))?;
    stream.set_read_timeout(Some(CALL_TIMEOUT))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let (head, payload) = read_response(&mut stream)?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status")?;
    let answer: Value = serde_json::from_slice(&payload).with_context(|| {
        format!(
            "{method} {path}: not JSON: {}",
            String::from_utf8_lossy(&payload)
        )
    })?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if status >= 400 {
        bail!(
            "{method} {path}: {status} {} {}",
            value["error"].as_str().unwrap_or_default(),
            value["message"].as_str().unwrap_or_default()
        );
    }
    Ok(value)
}

/// Reads one response: the header block, then exactly `Content-Length` bytes, or the
/// chunks of a chunked body, or everything until the server closes. (chromedriver keeps the
/// connection open despite `Connection: close`, so reading to the end would wait forever.)
fn read_response(stream: &mut TcpStream) -> anyhow::Result<(String, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let split = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut buf)?;
        anyhow::ensure!(n > 0, "connection closed before the headers ended");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw.split_off(split + 4);
    let lower = head.to_ascii_lowercase();
    let length = lower.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    let chunked = lower.contains("transfer-encoding: chunked");
    loop {
        let complete = match length {
            Some(len) => body.len() >= len,
            None if chunked => body.windows(5).any(|w| w == b"0\r\n\r\n"),
            None => false,
        };
        if complete {
            break;
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    if let Some(len) = length {
        body.truncate(len);
    } else if chunked {
        body = dechunk(&body)?;
    }
    Ok((head, body))
}

fn dechunk(mut data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("bad chunk")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .context("bad chunk size")?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        anyhow::ensure!(data.len() >= size + 2, "truncated chunk");
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// An element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

/// A browser session.
pub struct Session {
    addr: SocketAddr,
    id: String,
}

impl Session {
    /// Opens a session with these W3C capabilities (`alwaysMatch`).
    pub fn new(addr: SocketAddr, capabilities: Value) -> anyhow::Result<Self> {
        let value = call(
            addr,
            "POST",
            "/session",
            Some(&json!({ "capabilities": { "alwaysMatch": capabilities } })),
        )?;
        let id = value["sessionId"]
            .as_str()
            .context("no session id")?
            .to_owned();
        Ok(Self { addr, id })
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        call(
            self.addr,
            method,
            &format!("/session/{}{path}", self.id),
            body.as_ref(),
        )
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.cmd("POST", "/url", Some(json!({ "url": url })))
            .map(drop)
    }

    /// The current URL.
    pub fn url(&self) -> anyhow::Result<String> {
        Ok(self
            .cmd("GET", "/url", None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Sets the window size.
    pub fn window_size(&self, width: u32, height: u32) -> anyhow::Result<()> {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .map(drop)
    }

    /// Every element matching a CSS selector.
    pub fn find_all(&self, css: &str) -> anyhow::Result<Vec<Element>> {
        let found = self.cmd(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        )?;
        Ok(found
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(|s| Element(s.to_owned())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The first element matching `css`, waiting up to `timeout` for it.
    pub fn wait(&self, css: &str, timeout: Duration) -> anyhow::Result<Element> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.find_all(css)?.into_iter().next() {
                return Ok(e);
            }
            if Instant::now() >= deadline {
                bail!(
                    "no {css:?} on {} within {timeout:?}",
                    self.url().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The first element matching `css`, now.
    pub fn find(&self, css: &str) -> anyhow::Result<Element> {
        self.wait(css, Duration::ZERO)
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) -> anyhow::Result<()> {
        self.cmd("POST", &format!("/element/{}/click", e.0), Some(json!({})))
            .map(drop)
    }

    /// Clears an input and types `text` into it.
    pub fn type_into(&self, e: &Element, text: &str) -> anyhow::Result<()> {
        self.cmd("POST", &format!("/element/{}/clear", e.0), Some(json!({})))?;
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        )
        .map(drop)
    }

    /// The rendered text of an element.
    pub fn text(&self, e: &Element) -> anyhow::Result<String> {
        Ok(self
            .cmd("GET", &format!("/element/{}/text", e.0), None)?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// An attribute of an element (`None` when absent).
    pub fn attr(&self, e: &Element, name: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .cmd("GET", &format!("/element/{}/attribute/{name}", e.0), None)?
            .as_str()
            .map(str::to_owned))
    }

    /// Runs a script in the page and returns its result.
    pub fn execute(&self, script: &str) -> anyhow::Result<Value> {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Accepts the open `confirm()` dialog.
    pub fn accept_alert(&self) -> anyhow::Result<()> {
        self.cmd("POST", "/alert/accept", Some(json!({}))).map(drop)
    }

    /// Dismisses the open dialog (Cancel).
    pub fn dismiss_alert(&self) -> anyhow::Result<()> {
        self.cmd("POST", "/alert/dismiss", Some(json!({})))
            .map(drop)
    }

    /// The message of the open dialog, or `None` when no dialog is open.
    pub fn alert_text(&self) -> anyhow::Result<Option<String>> {
        match self.cmd("GET", "/alert/text", None) {
            Ok(v) => Ok(Some(v.as_str().unwrap_or_default().to_owned())),
            Err(e) if e.to_string().contains("no such alert") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits up to `timeout` for a dialog to open and returns its message.
    pub fn wait_alert(&self, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(text) = self.alert_text()? {
                return Ok(text);
            }
            if Instant::now() >= deadline {
                bail!("no dialog opened within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types `text` into the open `prompt()` dialog (replacing its default value).
    pub fn send_alert_text(&self, text: &str) -> anyhow::Result<()> {
        self.cmd("POST", "/alert/text", Some(json!({ "text": text })))
            .map(drop)
    }

    /// Sends keys to an element without clearing it first; for `<input type=file>` the
    /// text is the path of the file to choose.
    pub fn send_keys(&self, e: &Element, text: &str) -> anyhow::Result<()> {
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        )
        .map(drop)
    }

    /// Saves a PNG of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) -> anyhow::Result<()> {
        let data = self.cmd("GET", "/screenshot", None)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().context("no screenshot data")?)
            .context("screenshot is not base64")?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png).with_context(|| format!("write {}", path.display()))
    }

    /// Ends the session (closes the browser).
    pub fn quit(&self) -> anyhow::Result<()> {
        call(self.addr, "DELETE", &format!("/session/{}", self.id), None).map(drop)
    }
}
