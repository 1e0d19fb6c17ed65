//! Sans-io part of the admin endpoint: parsing a request head and deciding whether it may be
//! served. A request is refused when:
//!
//! - its `Host` is a name other than `localhost` (a DNS-rebinding page names its own host);
//! - it comes from another site: `Sec-Fetch-Site` other than `same-origin` or `none`, or an
//!   `Origin` other than `http://` + its `Host`;
//! - a token is configured and `Authorization: Bearer <token>` does not carry it;
//! - it is a `POST` a web page could send without a CORS preflight: a form content type
//!   (`application/x-www-form-urlencoded`, `multipart/form-data`, `text/plain`), or neither
//!   `Authorization` nor [`CUSTOM_HEADER`].

use std::net::IpAddr;

use crate::config::AdminToken;

/// The header a script sends on `POST` when no token is configured; a cross-site page cannot
/// send it without a CORS preflight, which the endpoint never grants.
pub const CUSTOM_HEADER: &str = "x-commander-admin";

/// Most header lines read.
const MAX_HEADERS: usize = 64;

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The head is not HTTP/1.x.
    BadRequest,
    /// No valid token (401).
    Unauthorized,
    /// Another site, a rebound host name, or a form-like `POST` (403).
    Forbidden(&'static str),
}

/// Parses a request head (the bytes up to the blank line).
pub fn parse(head: &[u8]) -> Result<Request, Refusal> {
    let text = std::str::from_utf8(head).map_err(|_| Refusal::BadRequest)?;
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let line = lines.next().ok_or(Refusal::BadRequest)?;
    let mut parts = line.split(' ');
    let (method, target, version) = (
        parts.next().ok_or(Refusal::BadRequest)?,
        parts.next().ok_or(Refusal::BadRequest)?,
        parts.next().ok_or(Refusal::BadRequest)?,
    );
    if parts.next().is_some()
        || !version.starts_with("HTTP/1.")
        || !target.starts_with('/')
        || method.is_empty()
    {
        return Err(Refusal::BadRequest);
    }
    let path = target.split('?').next().unwrap_or(target);
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        if headers.len() == MAX_HEADERS {
            return Err(Refusal::BadRequest);
        }
        let (name, value) = line.split_once(':').ok_or(Refusal::BadRequest)?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
    })
}

/// Whether `request` may be served, given the configured token.
pub fn authorize(request: &Request, token: Option<&AdminToken>) -> Result<(), Refusal> {
    let host = request.header("host");
    if let Some(host) = host
        && !is_ip_or_localhost(host)
    {
        return Err(Refusal::Forbidden(
            "the Host header must be an IP address or localhost",
        ));
    }
    if let Some(site) = request.header("sec-fetch-site")
        && !matches!(site.to_ascii_lowercase().as_str(), "same-origin" | "none")
    {
        return Err(Refusal::Forbidden("cross-site request"));
    }
    if let Some(origin) = request.header("origin") {
        let own = host.map(|h| format!("http://{h}"));
        if own.is_none_or(|own| !own.eq_ignore_ascii_case(origin)) {
            return Err(Refusal::Forbidden("cross-origin request"));
        }
    }
    if let Some(token) = token {
        let presented = request
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if !presented.is_some_and(|p| token.matches(p)) {
            return Err(Refusal::Unauthorized);
        }
    }
    if request.method == "POST" {
        let form = request.header("content-type").is_some_and(|t| {
            let t = t.split(';').next().unwrap_or(t).trim().to_ascii_lowercase();
            matches!(
                t.as_str(),
                "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain"
            )
        });
        if form {
            return Err(Refusal::Forbidden(
                "a POST may not carry a form content type",
            ));
        }
        if request.header("authorization").is_none() && request.header(CUSTOM_HEADER).is_none() {
            return Err(Refusal::Forbidden(
                "a POST needs an Authorization or X-Commander-Admin header",
            ));
        }
    }
    Ok(())
}

/// `host[:port]` names an IP address or `localhost`.
fn is_ip_or_localhost(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        match rest.split_once(']') {
            Some((v6, _)) => v6,
            None => return false,
        }
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(head: &str) -> Request {
        parse(head.as_bytes()).unwrap()
    }

    #[test]
    fn request_heads() {
        let r = req("GET /stats?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9900\r\nX-A:  b \r\n\r\n");
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/stats"));
        assert_eq!(r.header("host"), Some("127.0.0.1:9900"));
        assert_eq!(r.header("x-a"), Some("b"));
        assert_eq!(req("POST /reload HTTP/1.0\n\n").path, "/reload");
        for bad in [
            "GET /stats",
            "GET stats HTTP/1.1\r\n",
            "GET /a b HTTP/1.1\r\n",
            "GET /a HTTP/2\r\n",
            "GET /a HTTP/1.1\r\nno colon\r\n\r\n",
        ] {
            assert_eq!(parse(bad.as_bytes()), Err(Refusal::BadRequest), "{bad}");
        }
        assert_eq!(parse(b"\xff /x HTTP/1.1\r\n"), Err(Refusal::BadRequest));
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "A: b\r\n".repeat(65));
        assert_eq!(parse(many.as_bytes()), Err(Refusal::BadRequest));
    }

    #[test]
    fn hosts_must_be_addresses_or_localhost() {
        for ok in [
            "127.0.0.1:9900",
            "127.0.0.1",
            "[::1]:9900",
            "LOCALHOST:1",
            "10.1.2.3:80",
        ] {
            assert!(is_ip_or_localhost(ok), "{ok}");
        }
        for bad in [
            "evil.example:9900",
            "evil.example",
            "[::1",
            "localhost.evil:1",
            "",
        ] {
            assert!(!is_ip_or_localhost(bad), "{bad}");
        }
    }

    #[test]
    fn cross_site_and_form_posts_are_refused() {
        let base = "POST /reload HTTP/1.1\r\nHost: 127.0.0.1:9900\r\n";
        let refused = |extra: &str| authorize(&req(&format!("{base}{extra}\r\n")), None);
        assert!(
            matches!(refused(""), Err(Refusal::Forbidden(_))),
            "no custom header"
        );
        assert_eq!(refused("X-Commander-Admin: 1\r\n"), Ok(()));
        for extra in [
            "X-Commander-Admin: 1\r\nOrigin: http://evil.example\r\n",
            "X-Commander-Admin: 1\r\nOrigin: null\r\n",
            "X-Commander-Admin: 1\r\nSec-Fetch-Site: cross-site\r\n",
            "X-Commander-Admin: 1\r\nSec-Fetch-Site: same-site\r\n",
            "X-Commander-Admin: 1\r\nContent-Type: text/plain;charset=UTF-8\r\n",
            "X-Commander-Admin: 1\r\nContent-Type: application/x-www-form-urlencoded\r\n",
            "X-Commander-Admin: 1\r\nContent-Type: multipart/form-data; boundary=x\r\n",
        ] {
            assert!(
                matches!(refused(extra), Err(Refusal::Forbidden(_))),
                "{extra}"
            );
        }
        assert_eq!(
            refused(
                "X-Commander-Admin: 1\r\nOrigin: http://127.0.0.1:9900\r\nSec-Fetch-Site: same-origin\r\n"
            ),
            Ok(())
        );
        let rebound = "GET /stats HTTP/1.1\r\nHost: evil.example:9900\r\n\r\n";
        assert!(matches!(
            authorize(&req(rebound), None),
            Err(Refusal::Forbidden(_))
        ));
    }

    #[test]
    fn a_configured_token_is_required_on_every_request() {
        let token = AdminToken::new("0123456789abcdef").unwrap();
        let check = |auth: &str| {
            let head = format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n");
            authorize(&req(&head), Some(&token))
        };
        assert_eq!(check(""), Err(Refusal::Unauthorized));
        assert_eq!(
            check("Authorization: Bearer 0123456789abcdeX\r\n"),
            Err(Refusal::Unauthorized)
        );
        assert_eq!(
            check("Authorization: Basic 0123456789abcdef\r\n"),
            Err(Refusal::Unauthorized)
        );
        assert_eq!(check("Authorization: Bearer 0123456789abcdef\r\n"), Ok(()));
        // With the token, a POST needs no other header.
        let post = "POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer 0123456789abcdef\r\n\r\n";
        assert_eq!(authorize(&req(post), Some(&token)), Ok(()));
    }
}
