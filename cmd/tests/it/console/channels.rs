//! `/api/v1/alerts/channels[/{name}[/test]]` and `/api/v1/alerts/deliveries` through the
//! router over the master's real channel service (memory store, real HTTP): statuses,
//! validation naming the field, secrets never answered, a PUT keeping them, the test
//! endpoint answering the outcome of a real delivery to a loopback robot, the audit trail;
//! and the channel pages in English and Chinese (list with test buttons, form with the
//! error next to its field, delete after confirmation).

use crate::console::common::*;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// A loopback robot: `/ok` takes the message, `/refuse` answers a DingTalk error.
async fn robot() -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((uri.to_string(), body.to_vec()));
            if uri.path() == "/refuse" {
                r#"{"errcode":310000,"errmsg":"sign not match"}"#
            } else {
                r#"{"errcode":0,"errmsg":"ok"}"#
            }
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), rx)
}

#[tokio::test]
async fn channels_are_created_listed_changed_tested_and_removed_without_showing_secrets() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let (base, mut received) = robot().await;
    let r = call(&app, &s, Method::GET, "/api/v1/alerts/channels", None).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!([])));

    let ding = json!({"name": "ding", "type": "dingtalk",
                      "url": format!("{base}/ok?access_token=TOKEN123"), "secret": "SECsecret42"});
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/alerts/channels",
        Some(ding.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let v = r.json();
    assert_eq!(v["type"], "dingtalk");
    assert_eq!(v["secret_set"], true);
    assert_eq!(v["url_origin"], base);
    assert!(
        !r.body.contains("SECsecret42") && !r.body.contains("TOKEN123"),
        "{}",
        r.body
    );

    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/alerts/channels",
        Some(ding),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // Validation names the field.
    for (body, field) in [
        (
            json!({"name": "a b", "type": "webhook", "url": "https://h/", "secret": "s"}),
            "name",
        ),
        (json!({"name": "x", "type": "sms"}), "type"),
        (
            json!({"name": "x", "type": "webhook", "url": "ftp://h/", "secret": "s"}),
            "url",
        ),
        (
            json!({"name": "x", "type": "webhook", "url": "https:///x", "secret": "s"}),
            "url",
        ),
        (
            json!({"name": "x", "type": "webhook", "url": "https://h/"}),
            "secret",
        ),
        (
            json!({"name": "x", "type": "wecom", "url": "https://h/", "host": "smtp"}),
            "host",
        ),
        (
            json!({"name": "x", "type": "email", "host": "smtp.example.com", "security": "none",
                "from": "a@example.com", "to": ["b@example.com"]}),
            "security",
        ),
        (
            json!({"name": "x", "type": "email", "host": "smtp.example.com",
                "from": "a@example.com", "to": ["nope"]}),
            "to[0]",
        ),
    ] {
        let r = call(
            &app,
            &s,
            Method::POST,
            "/api/v1/alerts/channels",
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(error.starts_with(&format!("{field}: ")), "{body}: {error}");
    }
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/alerts/channels",
        Some(json!({"name": "x", "type": "webhook", "bogus": 1})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("bogus"), "{}", r.body);

    let mail = json!({"name": "mail", "type": "email", "host": "smtp.example.com", "port": 2525,
                      "username": "bot", "password": "hunter2-pw", "from": "bot@example.com",
                      "to": ["ops@example.com"]});
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/alerts/channels",
        Some(mail),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["password_set"], true);
    assert_eq!(r.json()["security"], "starttls");

    let r = call(&app, &s, Method::GET, "/api/v1/alerts/channels", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let names: Vec<Value> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, [json!("ding"), json!("mail")]);
    for secret in ["SECsecret42", "TOKEN123", "hunter2-pw"] {
        assert!(!r.body.contains(secret), "{secret} in {}", r.body);
    }

    // A PUT without the secrets keeps them: the test still signs and delivers.
    let r = call(
        &app,
        &s,
        Method::PUT,
        "/api/v1/alerts/channels/ding",
        Some(json!({"type": "dingtalk"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = call(
        &app,
        &s,
        Method::PUT,
        "/api/v1/alerts/channels/ding",
        Some(json!({"name": "other", "type": "dingtalk"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = call(
        &app,
        &s,
        Method::PUT,
        "/api/v1/alerts/channels/nope",
        Some(json!({"type": "wecom", "url": "https://h/"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/alerts/channels/ding/test",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["outcome"], "delivered", "{}", r.body);
    assert_eq!(r.json()["test"], true);
    let (uri, body) = received.recv().await.unwrap();
    assert!(
        uri.starts_with("/ok?access_token=TOKEN123&timestamp="),
        "{uri}"
    );
    assert!(uri.contains("&sign="), "{uri}");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["msgtype"], "markdown");

    // A robot refusing: the test answers the failure and why.
    let r = call(
        &app,
        &s,
        Method::PUT,
        "/api/v1/alerts/channels/ding",
        Some(json!({"type": "dingtalk", "url": format!("{base}/refuse")})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/alerts/channels/ding/test",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["outcome"], "failed");
    assert_eq!(r.json()["last_error"], "errcode 310000: sign not match");
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/alerts/channels/nope/test",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    let r = call(
        &app,
        &s,
        Method::GET,
        "/api/v1/alerts/deliveries?channel=ding",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let outcomes: Vec<Value> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].clone())
        .collect();
    assert_eq!(
        outcomes,
        [json!("failed"), json!("delivered")],
        "newest first"
    );
    let r = call(
        &app,
        &s,
        Method::GET,
        "/api/v1/alerts/deliveries?limit=5000",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = call(
        &app,
        &s,
        Method::GET,
        "/api/v1/alerts/deliveries?what=1",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);

    let r = call(
        &app,
        &s,
        Method::DELETE,
        "/api/v1/alerts/channels/mail",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = call(&app, &s, Method::GET, "/api/v1/alerts/channels/mail", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    let entries = app.audit(&s, "action=alert_channel.create").await;
    assert!(entries.len() >= 2, "{entries:?}");
    let all = app.audit(&s, "").await;
    let text = serde_json::to_string(&all).unwrap();
    for secret in ["SECsecret42", "TOKEN123", "hunter2-pw"] {
        assert!(!text.contains(secret), "{secret} in the audit log");
    }
    for action in [
        "alert_channel.update",
        "alert_channel.test",
        "alert_channel.delete",
    ] {
        assert!(text.contains(action), "{action} not audited: {text}");
    }
    assert!(text.contains("channel/ding"));
}

#[tokio::test]
async fn channel_pages_in_both_languages() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let (base, _received) = robot().await;
    let page = app
        .send(Req::get("/alerts/channels").cookie(&s.token))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.assert_html();
    assert!(
        page.body.contains("<h1>Notification channels"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("href=\"/alerts/channels\""),
        "navigation link"
    );

    // The form refuses a bad URL with the error next to the field, keeping what was typed.
    let r = app
        .send(Req::post("/alerts/channels/new").cookie(&s.token).form(&[
            ("csrf", s.csrf.as_str()),
            ("name", "robot"),
            ("type", "wecom"),
            ("url", "ftp://nowhere"),
        ]))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("id=\"error-url\""), "{}", r.body);
    assert!(r.body.contains("value=\"robot\""), "{}", r.body);

    let url = format!("{base}/ok?key=KEY");
    let r = app
        .send(Req::post("/alerts/channels/new").cookie(&s.token).form(&[
            ("csrf", s.csrf.as_str()),
            ("name", "robot"),
            ("type", "wecom"),
            ("url", url.as_str()),
        ]))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/alerts/channels?done=created");

    let page = app
        .send(Req::get("/alerts/channels?done=created").cookie(&s.token))
        .await;
    assert!(page.body.contains("Channel created."), "{}", page.body);
    assert!(
        page.body.contains("action=\"/alerts/channels/robot/test\""),
        "test button"
    );
    assert!(!page.body.contains("KEY"), "the robot's key is not shown");

    // The test button without script: the outcome on the list.
    let r = app
        .send(
            Req::post("/alerts/channels/robot/test")
                .cookie(&s.token)
                .form(&[("csrf", s.csrf.as_str())]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("Test notification to robot delivered."),
        "{}",
        r.body
    );
    assert!(r.body.contains("data-outcome=\"delivered\""), "{}", r.body);

    let edit = app
        .send(Req::get("/alerts/channels/robot/edit").cookie(&s.token))
        .await;
    assert_eq!(edit.status, StatusCode::OK, "{}", edit.body);
    assert!(
        edit.body.contains("Leave empty to keep the stored URL"),
        "{}",
        edit.body
    );
    assert!(!edit.body.contains("KEY"));

    // In Chinese.
    let r = app
        .send(
            Req::new(Method::PUT, "/api/v1/auth/language")
                .bearer(&s.token)
                .json(&json!({"lang": "zh-CN"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let zh = app
        .send(Req::get("/alerts/channels").cookie(&s.token))
        .await;
    for needle in [
        "<h1>通知渠道",
        "发送测试",
        "最近的投递",
        "已送达",
        "企业微信",
    ] {
        assert!(
            zh.body.contains(needle),
            "missing {needle:?} in\n{}",
            zh.body
        );
    }
    let form = app
        .send(Req::get("/alerts/channels/new").cookie(&s.token))
        .await;
    for needle in ["新建渠道", "签名密钥", "SMTP 主机", "收件人"] {
        assert!(
            form.body.contains(needle),
            "missing {needle:?} in\n{}",
            form.body
        );
    }

    // Delete asks first.
    let r = app
        .send(
            Req::post("/alerts/channels/robot/delete")
                .cookie(&s.token)
                .form(&[("csrf", s.csrf.as_str())]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("删除渠道 robot？"), "{}", r.body);
    let still = call(&app, &s, Method::GET, "/api/v1/alerts/channels/robot", None).await;
    assert_eq!(still.status, StatusCode::OK);
    let r = app
        .send(
            Req::post("/alerts/channels/robot/delete")
                .cookie(&s.token)
                .form(&[("csrf", s.csrf.as_str()), ("confirm", "yes")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let gone = call(&app, &s, Method::GET, "/api/v1/alerts/channels/robot", None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}
