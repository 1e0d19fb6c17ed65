//! Reads a Server-Sent Events response event by event, for the stream tests.

// clippy.toml allows unwrap in `#[test]` functions only; the helpers below are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use axum::body::Body;
use axum::http::Response;
use http_body_util::BodyExt;
use std::time::Duration;

/// An event stream being read.
pub struct Events {
    body: Body,
    buf: String,
}

impl Events {
    /// Reads the body of `response`.
    pub fn new(response: Response<Body>) -> Self {
        Self {
            body: response.into_body(),
            buf: String::new(),
        }
    }

    /// The next event as `(name, data)`, skipping keep-alive comments; `None` once the
    /// stream ended. Fails the test after 5 s without one.
    pub async fn next(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut name, mut data) = (String::new(), Vec::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    }
                }
                if name.is_empty() && data.is_empty() {
                    continue;
                }
                return Some((name, data.join("\n")));
            }
            let frame = tokio::time::timeout(Duration::from_secs(5), self.body.frame())
                .await
                .expect("an event within 5 s")?
                .unwrap();
            if let Ok(bytes) = frame.into_data() {
                self.buf.push_str(std::str::from_utf8(&bytes).unwrap());
            }
        }
    }

    /// The next event, which must be named `name`; its data as JSON.
    pub async fn expect(&mut self, name: &str) -> serde_json::Value {
        let (got, data) = self.next().await.expect("the stream goes on");
        assert_eq!(got, name, "data: {data}");
        serde_json::from_str(&data).unwrap()
    }
}
