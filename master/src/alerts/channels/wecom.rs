//! WeCom (WeChat Work) group robots: a markdown message POSTed to the robot's webhook
//! (its `key` is the credential; WeCom robots are not signed). The robot answers
//! `{"errcode":0,...}` when it took the message.

use model::alert::Notification;
use serde_json::json;

use super::http::{HttpRequest, check_errcode};
use super::render;

/// The request for `n`.
pub fn request(url: &str, n: &Notification) -> HttpRequest {
    let body = json!({
        "msgtype": "markdown",
        "markdown": { "content": render::markdown(n) },
    });
    HttpRequest {
        url: url.to_owned(),
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
    fn the_message_is_markdown_and_errcode_decides() {
        let req = request("http://h/cgi-bin/webhook/send?key=k", &firing());
        assert_eq!(req.url, "http://h/cgi-bin/webhook/send?key=k");
        let json: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(json["msgtype"], "markdown");
        assert!(
            json["markdown"]["content"]
                .as_str()
                .unwrap()
                .starts_with("### [FIRING]")
        );
        assert!(check(200, br#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
        assert!(check(200, br#"{"errcode":93000,"errmsg":"invalid webhook url"}"#).is_err());
    }
}
