//! API tokens through the router over the master's real account service: the JSON API
//! (201 with the secret once, a list without it, Bearer use within the scope, revocation
//! and expiry answered 401, audit entries naming the token) and the console page in both
//! languages (the secret shown once, revocation after a confirmation).

use crate::console::common::*;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

async fn create(app: &TestApp, bearer: &str, body: Value) -> Value {
    let r = app
        .send(Req::post("/api/v1/tokens").bearer(bearer).json(&body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()
}

#[tokio::test]
async fn api_tokens_work_within_their_scope_until_revoked_or_expired() {
    let (app, s) = TestApp::ready(Fake::Nodes(vec![bare_node(1)])).await;
    let read = create(
        &app,
        &s.token,
        json!({"name": "ci read", "scopes": ["read"], "expires_in_days": 30}),
    )
    .await;
    let read_token = read["token"].as_str().unwrap().to_owned();
    let read_id = read["id"].as_str().unwrap().to_owned();
    assert!(
        read_token.starts_with(&format!("cmdr_{read_id}_")),
        "{read}"
    );
    assert_eq!(read["scopes"], json!(["read"]));
    assert_eq!(read["creator"], USER);
    assert_eq!(read["expires_at_ms"], START_MS + 30 * 86_400_000);

    // The list never shows a secret or a hash.
    let list = app.send(Req::get("/api/v1/tokens").bearer(&s.token)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(!list.body.contains(&read_token[25..]), "{}", list.body);
    assert!(!list.body.contains("secret_hash"), "{}", list.body);
    assert_eq!(list.json()[0]["last_used_at"], Value::Null);

    // Bearer on a GET: accepted, and the use is recorded.
    let r = app
        .send(Req::get("/api/v1/nodes").bearer(&read_token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = app.send(Req::get("/api/v1/tokens").bearer(&s.token)).await;
    assert_eq!(list.json()[0]["last_used_at_ms"], START_MS);
    // Only as Bearer, and only on the API: in the session cookie, or on a page, it is no
    // credential (a cookie request would otherwise need a CSRF token it does not have).
    let r = app
        .send(Req::get("/api/v1/nodes").cookie(&read_token))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = app.send(Req::get("/slaves").bearer(&read_token)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // A change: 403, naming the scopes, nothing done, the refusal audited.
    let r = app
        .send(Req::post("/api/v1/data/compact").bearer(&read_token))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("read scope"));
    assert!(app.audit(&s, "action=data").await.is_empty());
    let refused = app.audit(&s, "action=http.scope").await;
    assert_eq!(refused[0]["via"], format!("token:{read_id} (ci read)"));
    // A read token cannot make a token.
    let r = app
        .send(
            Req::post("/api/v1/tokens")
                .bearer(&read_token)
                .json(&json!({"name": "escalate", "scopes": ["admin"], "expires_in_days": null})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // An admin token's operation is attributed to its creator through the token.
    let admin = create(
        &app,
        &s.token,
        json!({"name": "ops", "scopes": ["admin"], "expires_in_days": null}),
    )
    .await;
    assert_eq!(admin["expires_at"], Value::Null);
    let admin_token = admin["token"].as_str().unwrap().to_owned();
    let r = app
        .send(Req::post("/api/v1/data/compact").bearer(&admin_token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let entry = &app.audit(&s, "action=data.compact").await[0];
    assert_eq!(entry["user"], USER);
    assert_eq!(
        entry["via"],
        format!("token:{} (ops)", admin["id"].as_str().unwrap())
    );
    let created = app.audit(&s, "action=token.create").await;
    // The read token's attempt was refused by the route's guard (`http.scope`).
    assert_eq!(created.len(), 2, "{created:?}");
    assert_eq!(app.audit(&s, "action=http.scope").await.len(), 2);
    assert!(
        created
            .iter()
            .all(|e| !e.to_string().contains(&read_token[25..]))
    );

    // Revoked at once: the next request is 401.
    let r = app
        .send(Req::new(Method::DELETE, &format!("/api/v1/tokens/{read_id}")).bearer(&admin_token))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = app
        .send(Req::get("/api/v1/nodes").bearer(&read_token))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let revoked = app.audit(&s, "action=token.revoke").await;
    assert_eq!(revoked[0]["target"], format!("token/{read_id}"));
    assert_eq!(revoked[0]["result"], "ok");

    // Expired: 401 from the first millisecond past the end.
    let day = create(
        &app,
        &s.token,
        json!({"name": "short", "scopes": ["read"], "expires_in_days": 1}),
    )
    .await;
    let day_token = day["token"].as_str().unwrap();
    app.clock.advance(Duration::from_millis(86_400_000 - 1));
    let r = app.send(Req::get("/api/v1/nodes").bearer(day_token)).await;
    assert_eq!(r.status, StatusCode::OK);
    app.clock.advance(Duration::from_millis(1));
    let r = app.send(Req::get("/api/v1/nodes").bearer(day_token)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"], "API token expired");
}

#[tokio::test]
async fn tokens_page_in_both_languages_shows_the_secret_once_and_revokes_after_confirming() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let page = app.send(Req::get("/tokens").cookie(&s.token)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.assert_html();
    for needle in [
        "<h1>API tokens</h1>",
        r#"<a href="/tokens" class="active" aria-current="page">API tokens</a>"#,
        r#"<form method="post" action="/tokens" class="stacked" id="create-token">"#,
        r#"<option value="90" selected>90 days</option>"#,
        r#"<option value="never">Never expires</option>"#,
        "No API token exists yet.",
    ] {
        assert!(
            page.body.contains(needle),
            "missing {needle:?} in\n{}",
            page.body
        );
    }

    let made = app
        .send(Req::post("/tokens").cookie(&s.token).form(&[
            ("csrf", s.csrf.as_str()),
            ("name", "deploy <bot>"),
            ("scope", "operate"),
            ("expires_in_days", "never"),
        ]))
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let marker = r#"id="token-secret" class="token-secret" type="text" readonly value=""#;
    let start = made.body.find(marker).expect("secret shown") + marker.len();
    let secret = &made.body[start..start + made.body[start..].find('"').unwrap()];
    assert!(secret.starts_with("cmdr_"), "{secret}");
    for needle in [
        "it is shown only this once",
        r#"data-copy="token-secret""#,
        "deploy &#60;bot&#62;",
    ] {
        assert!(
            made.body.contains(needle),
            "missing {needle:?} in\n{}",
            made.body
        );
    }
    assert_eq!(made.header(axum::http::header::CACHE_CONTROL), "no-store");
    let r = app.send(Req::get("/api/v1/nodes").bearer(secret)).await;
    assert_eq!(r.status, StatusCode::OK, "the shown token works");

    // Never again: the page lists it without the secret.
    let page = app.send(Req::get("/tokens").cookie(&s.token)).await;
    assert!(!page.body.contains(secret));
    assert!(!page.body.contains("token-secret"));
    assert!(page.body.contains("deploy &#60;bot&#62;"));
    let id = &secret[5..21];

    // In Chinese.
    let r = app
        .send(
            Req::new(Method::PUT, "/api/v1/auth/language")
                .bearer(&s.token)
                .json(&json!({"lang": "zh-CN"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let zh = app.send(Req::get("/tokens").cookie(&s.token)).await;
    for needle in [
        "<h1>API 令牌</h1>",
        "创建令牌",
        "永不过期",
        "吊销…",
        "operate",
    ] {
        assert!(
            zh.body.contains(needle),
            "missing {needle:?} in\n{}",
            zh.body
        );
    }

    // Revocation asks first, then revokes.
    let path = format!("/tokens/{id}/revoke");
    let ask = app
        .send(
            Req::post(&path)
                .cookie(&s.token)
                .form(&[("csrf", s.csrf.as_str())]),
        )
        .await;
    assert_eq!(ask.status, StatusCode::OK, "{}", ask.body);
    assert!(ask.body.contains("确认吊销"), "{}", ask.body);
    let r = app.send(Req::get("/api/v1/nodes").bearer(secret)).await;
    assert_eq!(r.status, StatusCode::OK, "not revoked before confirming");
    let done = app
        .send(
            Req::post(&path)
                .cookie(&s.token)
                .form(&[("csrf", s.csrf.as_str()), ("confirm", "yes")]),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("已吊销令牌"), "{}", done.body);
    let r = app.send(Req::get("/api/v1/nodes").bearer(secret)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // A bad form is explained on the page, nothing created.
    let bad = app
        .send(Req::post("/tokens").cookie(&s.token).form(&[
            ("csrf", s.csrf.as_str()),
            ("name", ""),
            ("scope", "read"),
            ("expires_in_days", "30"),
        ]))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("名称须为 1 到 64 个字符"), "{}", bad.body);
}
