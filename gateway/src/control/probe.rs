//! Active health probes: a TCP connect, or an HTTP/1.0 GET whose status line is checked.

use std::net::SocketAddr;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use crate::config::{HealthConfig, HttpCheck, ProxyProtocol};

/// Most bytes read while looking for the status line.
const MAX_STATUS_LINE: usize = 1024;

/// Probes `addr` once within `cfg.timeout`; true when healthy.
pub(crate) async fn probe(addr: SocketAddr, cfg: &HealthConfig, pp: Option<ProxyProtocol>) -> bool {
    let attempt = async {
        let mut s = TcpStream::connect_addr(addr).await.ok()?;
        if let Some(v) = pp {
            let (r, _) = s.write_all(crate::proxy_protocol::encode_local(v)).await;
            r.ok()?;
        }
        match &cfg.http {
            None => Some(true),
            Some(http) => Some(http_check(&mut s, addr, http).await),
        }
    };
    matches!(
        monoio::time::timeout(cfg.timeout, attempt).await,
        Ok(Some(true))
    )
}

async fn http_check(s: &mut TcpStream, addr: SocketAddr, http: &HttpCheck) -> bool {
    let req = format!(
        "GET {} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: commander-gateway-check\r\nConnection: close\r\n\r\n",
        http.path
    );
    let (r, _) = s.write_all(req.into_bytes()).await;
    if r.is_err() {
        return false;
    }
    let mut head = Vec::new();
    while head.len() < MAX_STATUS_LINE {
        let buf = Vec::with_capacity(MAX_STATUS_LINE - head.len());
        let (r, buf) = s.read(buf).await;
        match r {
            Ok(0) | Err(_) => break,
            Ok(_) => head.extend_from_slice(&buf),
        }
        if head.contains(&b'\n') {
            break;
        }
    }
    parse_status(&head) == Some(http.expect_status)
}

/// The status code of an HTTP/1.x status line at the start of `head`.
pub(crate) fn parse_status(head: &[u8]) -> Option<u16> {
    let end = head.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&head[..end])
        .ok()?
        .trim_end_matches('\r');
    let mut parts = line.splitn(3, ' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_status;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\nServer: x\r\n"), Some(200));
        assert_eq!(
            parse_status(b"HTTP/1.0 503 Service Unavailable\n"),
            Some(503)
        );
        assert_eq!(parse_status(b"HTTP/1.1 204\r\n"), Some(204));
        assert_eq!(parse_status(b"HTTP/1.1 200 OK"), None, "incomplete line");
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 20 OK\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 abc OK\r\n"), None);
        assert_eq!(parse_status(b"\xff\xfe\n"), None);
    }
}
