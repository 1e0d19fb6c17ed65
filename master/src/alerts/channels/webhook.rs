//! The generic webhook: the [`Notification`] as JSON, POSTed with
//! `X-Commander-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed by the secret>`.
//! Any 2xx answer is a delivery.

use hmac::{Hmac, Mac};
use model::alert::Notification;
use sha2::Sha256;

use super::http::{HttpRequest, check_status};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Commander-Signature";

/// Lower-case hex of HMAC-SHA256(`key`, `message`).
pub fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    hmac_sha256(key, message)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// HMAC-SHA256(`key`, `message`).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The request for `n`.
pub fn request(url: &str, secret: &str, n: &Notification) -> Result<HttpRequest, String> {
    let body = serde_json::to_vec(n).map_err(|e| format!("cannot encode the notification: {e}"))?;
    let signature = format!("sha256={}", hmac_hex(secret.as_bytes(), &body));
    Ok(HttpRequest {
        url: url.to_owned(),
        headers: vec![(SIGNATURE_HEADER, signature)],
        body,
    })
}

/// Whether the answer is a delivery: a 2xx status.
pub fn check(status: u16, body: &[u8]) -> Result<(), String> {
    check_status(status, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::channels::render::tests::firing;

    #[test]
    fn signature_matches_an_independent_vector() {
        // Python: hmac.new(b"s3cret", b'{"status":"firing"}', hashlib.sha256).hexdigest()
        assert_eq!(
            hmac_hex(b"s3cret", br#"{"status":"firing"}"#),
            "043737fa7d4b65306416549b14537adb753ed11a55b3fb6f50fec5192bbd3851"
        );
    }

    #[test]
    fn the_body_is_the_notification_and_is_signed() {
        let n = firing();
        let req = request("https://example.com/hook", "k", &n).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        for field in [
            "status",
            "rule",
            "node",
            "metric",
            "value",
            "threshold",
            "started_at",
        ] {
            assert!(json.get(field).is_some(), "{field} missing: {json}");
        }
        assert_eq!(json["status"], "firing");
        assert_eq!(json["rule"], "cpu-high");
        assert_eq!(
            req.headers,
            vec![(
                SIGNATURE_HEADER,
                format!("sha256={}", hmac_hex(b"k", &req.body))
            )]
        );
        assert!(check(204, b"").is_ok());
        assert!(check(500, b"boom").unwrap_err().contains("500"));
    }
}
