//! The HTTP client of the webhook channels: one POST per attempt over HTTP/1.1 (hyper),
//! HTTPS through rustls with the system's trust roots, a deadline over the whole exchange
//! and at most [`MAX_ANSWER`] bytes of the answer read. Errors never repeat the URL (the
//! robots' tokens are in it).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use model::channel::{UrlParts, parse_url};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

/// Most bytes of an answer read (the rest is ignored).
pub const MAX_ANSWER: usize = 64 * 1024;

/// One POST of a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Where (`http` or `https`).
    pub url: String,
    /// Headers besides `Host`, `Content-Type: application/json`, `Content-Length` and
    /// `User-Agent`.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// The start of an answer body, for an error message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.chars().filter(|c| !c.is_control()).collect()
}

/// A 2xx status is a delivery.
pub fn check_status(status: u16, body: &[u8]) -> Result<(), String> {
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("HTTP {status}: {}", excerpt(body)))
    }
}

/// A 2xx status and a JSON body whose `field` is 0 (robots answer errors with 200).
pub fn check_errcode(status: u16, body: &[u8], field: &str) -> Result<(), String> {
    check_status(status, body)?;
    let json: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| format!("the answer is not JSON: {}", excerpt(body)))?;
    match json.get(field).and_then(serde_json::Value::as_i64) {
        Some(0) => Ok(()),
        Some(code) => {
            let message = ["errmsg", "msg", "StatusMessage"]
                .iter()
                .find_map(|k| json.get(*k).and_then(serde_json::Value::as_str))
                .unwrap_or_default();
            Err(format!("{field} {code}: {}", excerpt(message.as_bytes())))
        }
        None => Err(format!("the answer has no {field}: {}", excerpt(body))),
    }
}

/// Posts [`HttpRequest`]s.
#[derive(Clone)]
pub struct HttpClient {
    tls: tokio_rustls::TlsConnector,
    timeout: Duration,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client trusting the system's roots, each exchange bounded by `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            tracing::warn!("no system trust roots found: HTTPS webhooks will fail");
        }
        Self::with_roots(roots, timeout)
    }

    /// A client trusting `roots` (tests).
    pub fn with_roots(roots: rustls::RootCertStore, timeout: Duration) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth())
            .unwrap_or_else(|_| unreachable!("ring supports the default protocol versions"));
        Self {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            timeout,
        }
    }

    /// Posts `req`; answers the status and the start of the body.
    pub async fn post(&self, req: &HttpRequest) -> Result<(u16, Vec<u8>), String> {
        let parts = parse_url("url", &req.url).map_err(|e| e.message)?;
        match tokio::time::timeout(self.timeout, self.exchange(&parts, req)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!(
                "no answer from {} within {} s",
                parts.origin(),
                self.timeout.as_secs()
            )),
        }
    }

    async fn exchange(
        &self,
        parts: &UrlParts,
        req: &HttpRequest,
    ) -> Result<(u16, Vec<u8>), String> {
        let origin = parts.origin();
        let tcp = TcpStream::connect((parts.host.as_str(), parts.port))
            .await
            .map_err(|e| format!("cannot connect to {origin}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        if parts.https {
            let name = ServerName::try_from(parts.host.clone())
                .map_err(|_| format!("{:?} is not a valid TLS server name", parts.host))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {origin} failed: {e}"))?;
            send(TokioIo::new(tls), parts, req).await
        } else {
            send(TokioIo::new(tcp), parts, req).await
        }
    }
}

async fn send<IO>(io: IO, parts: &UrlParts, req: &HttpRequest) -> Result<(u16, Vec<u8>), String>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let origin = parts.origin();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP with {origin} failed: {e}"))?;
    let conn = tokio::spawn(conn);
    let host = origin
        .split_once("://")
        .map_or(origin.as_str(), |(_, h)| h)
        .to_owned();
    let mut builder = hyper::Request::post(parts.path_and_query.as_str())
        .header(HOST, host)
        .header(CONTENT_TYPE, "application/json")
        .header(CONTENT_LENGTH, req.body.len())
        .header(USER_AGENT, concat!("commander/", env!("CARGO_PKG_VERSION")));
    for (name, value) in &req.headers {
        builder = builder.header(*name, value.as_str());
    }
    let request = builder
        .body(Full::new(Bytes::from(req.body.clone())))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let outcome = async {
        let answer = sender
            .send_request(request)
            .await
            .map_err(|e| format!("HTTP with {origin} failed: {e}"))?;
        let status = answer.status().as_u16();
        let mut body = answer.into_body();
        let mut bytes = Vec::new();
        while bytes.len() < MAX_ANSWER {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        let room = MAX_ANSWER - bytes.len();
                        bytes.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
                Some(Err(e)) => return Err(format!("reading the answer of {origin} failed: {e}")),
                None => break,
            }
        }
        Ok((status, bytes))
    }
    .await;
    conn.abort();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robots_answer_errors_with_200() {
        assert!(check_errcode(200, br#"{"errcode":0}"#, "errcode").is_ok());
        let e = check_errcode(200, br#"{"errcode":40035,"errmsg":"bad"}"#, "errcode").unwrap_err();
        assert_eq!(e, "errcode 40035: bad");
        assert!(check_errcode(200, br#"{}"#, "errcode").is_err());
        assert!(check_errcode(404, br#"{"errcode":0}"#, "errcode").is_err());
        assert_eq!(
            check_status(500, b"line\nbreak").unwrap_err(),
            "HTTP 500: linebreak"
        );
    }
}
