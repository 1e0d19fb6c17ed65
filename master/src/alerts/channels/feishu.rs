//! Feishu (Lark) bots: a text message POSTed to the bot's webhook. With a secret the body
//! carries `timestamp` (Unix seconds, as a string) and `sign` = base64 of HMAC-SHA256 keyed
//! by `timestamp + "\n" + secret` over an empty message, as Feishu documents it. The bot
//! answers `{"code":0,...}` (older versions `{"StatusCode":0,...}`) when it took the message.

use base64::Engine;
use model::alert::Notification;
use serde_json::json;

use super::http::{HttpRequest, check_errcode};
use super::render;
use super::webhook::hmac_sha256;

/// The `sign` field for `timestamp_s`.
pub fn sign(timestamp_s: u64, secret: &str) -> String {
    let string_to_sign = format!("{timestamp_s}\n{secret}");
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(string_to_sign.as_bytes(), b""))
}

/// The request for `n` at `now_ms`; signed when `secret` is not empty.
pub fn request(url: &str, secret: &str, n: &Notification, now_ms: u64) -> HttpRequest {
    let mut body = json!({
        "msg_type": "text",
        "content": { "text": render::text(n) },
    });
    if !secret.is_empty() {
        let ts = now_ms / 1000;
        body["timestamp"] = json!(ts.to_string());
        body["sign"] = json!(sign(ts, secret));
    }
    HttpRequest {
        url: url.to_owned(),
        headers: Vec::new(),
        body: body.to_string().into_bytes(),
    }
}

/// Whether the answer is a delivery: 2xx and `code` (or `StatusCode`) 0.
pub fn check(status: u16, body: &[u8]) -> Result<(), String> {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let field = if json.get("code").is_none() && json.get("StatusCode").is_some() {
        "StatusCode"
    } else {
        "code"
    };
    check_errcode(status, body, field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::channels::render::tests::firing;

    #[test]
    fn signature_matches_an_independent_vector() {
        // Python: base64(hmac.new(b"1700000000\nfeishu-secret", b"", sha256).digest())
        assert_eq!(
            sign(1_700_000_000, "feishu-secret"),
            "OrBzY1Y01Gq+HgJsl+7OfWcMVwc7YocohQm5iiZwjhU="
        );
    }

    #[test]
    fn signed_only_with_a_secret() {
        let req = request(
            "http://h/hook/x",
            "feishu-secret",
            &firing(),
            1_700_000_000_999,
        );
        let json: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(json["msg_type"], "text");
        assert_eq!(json["timestamp"], "1700000000");
        assert_eq!(json["sign"], "OrBzY1Y01Gq+HgJsl+7OfWcMVwc7YocohQm5iiZwjhU=");
        assert!(
            json["content"]["text"]
                .as_str()
                .unwrap()
                .starts_with("[FIRING]")
        );
        let plain = request("http://h/hook/x", "", &firing(), 1);
        let json: serde_json::Value = serde_json::from_slice(&plain.body).unwrap();
        assert!(json.get("sign").is_none() && json.get("timestamp").is_none());
        assert!(check(200, br#"{"code":0,"msg":"success"}"#).is_ok());
        assert!(check(200, br#"{"StatusCode":0}"#).is_ok());
        assert!(check(200, br#"{"code":19021,"msg":"sign match fail"}"#).is_err());
    }
}
