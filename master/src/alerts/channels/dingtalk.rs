//! DingTalk group robots: a markdown message POSTed to the robot's webhook, signed as
//! DingTalk documents it: `timestamp` (Unix ms) and `sign` = URL-encoded base64 of
//! HMAC-SHA256 keyed by the secret over `timestamp + "\n" + secret`, appended to the URL as
//! `&timestamp=..&sign=..`. The robot answers `{"errcode":0,...}` when it took the message.

use base64::Engine;
use model::alert::Notification;
use serde_json::json;

use super::http::{HttpRequest, check_errcode};
use super::render;
use super::webhook::hmac_sha256;

/// The `sign` parameter for `timestamp_ms` (not yet URL-encoded).
pub fn sign(timestamp_ms: u64, secret: &str) -> String {
    let string_to_sign = format!("{timestamp_ms}\n{secret}");
    base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(secret.as_bytes(), string_to_sign.as_bytes()))
}

/// `text` percent-encoded for a query value (everything but `A-Za-z0-9-._~`).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The signed URL: `url` with `timestamp` and `sign` appended.
pub fn signed_url(url: &str, secret: &str, timestamp_ms: u64) -> String {
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{joiner}timestamp={timestamp_ms}&sign={}",
        url_encode(&sign(timestamp_ms, secret))
    )
}

/// The request for `n` at `now_ms`.
pub fn request(url: &str, secret: &str, n: &Notification, now_ms: u64) -> HttpRequest {
    let body = json!({
        "msgtype": "markdown",
        "markdown": { "title": render::title(n), "text": render::markdown(n) },
    });
    HttpRequest {
        url: signed_url(url, secret, now_ms),
        headers: Vec::new(),
        body: body.to_string().into_bytes(),
    }
}

/// Whether the answer is a delivery: 2xx and `errcode` 0.
pub fn check(status: u16, body: &[u8]) -> Result<(), String> {
    check_errcode(status, body, "errcode")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::channels::render::tests::firing;

    #[test]
    fn signature_matches_an_independent_vector() {
        // Python: base64(hmac.new(b"SECabc123", b"1700000000000\nSECabc123", sha256)),
        // then urllib.parse.quote(sig, safe="").
        assert_eq!(
            sign(1_700_000_000_000, "SECabc123"),
            "N5P09a4+p1AMJIJWnIvQd2Yxw9+fu/oEBnPrjCcsLXk="
        );
        assert_eq!(
            signed_url(
                "https://oapi.dingtalk.com/robot/send?access_token=t",
                "SECabc123",
                1_700_000_000_000
            ),
            "https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000000\
             &sign=N5P09a4%2Bp1AMJIJWnIvQd2Yxw9%2Bfu%2FoEBnPrjCcsLXk%3D"
        );
        assert!(signed_url("http://h/x", "s", 1).starts_with("http://h/x?timestamp=1&sign="));
    }

    #[test]
    fn the_message_is_markdown_and_errcode_decides() {
        let req = request("http://h/robot?access_token=t", "s", &firing(), 5);
        let json: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(json["msgtype"], "markdown");
        assert_eq!(json["markdown"]["title"], "[FIRING] cpu-high on web-1 (#3)");
        assert!(
            json["markdown"]["text"]
                .as_str()
                .unwrap()
                .contains("cpu_total_pct")
        );
        assert!(check(200, br#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
        let e = check(200, br#"{"errcode":310000,"errmsg":"sign not match"}"#).unwrap_err();
        assert!(e.contains("310000") && e.contains("sign not match"), "{e}");
        assert!(check(200, b"not json").is_err());
        assert!(check(502, b"").is_err());
    }
}
