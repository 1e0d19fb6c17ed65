//! The console frame, languages, the login and registration forms, and the audit log
//! (API and Records page).

use crate::console::common::*;
use axum::http::{Method, StatusCode, header};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn frame_has_navigation_language_switch_and_logout() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let page = app
        .send(Req::get("/records?user=admin").cookie(&s.token))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    for needle in [
        r#"<html lang="en">"#,
        r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#,
        &format!(r#"<meta name="csrf-token" content="{}">"#, s.csrf),
        r#"<a href="/">Home</a>"#,
        r#"<a href="/slaves">Slaves</a>"#,
        r#"<a href="/docker">Docker</a>"#,
        r#"<a href="/records" class="active" aria-current="page">Records</a>"#,
        r#"<a href="/data">Data</a>"#,
        r#"<form class="logout" method="post" action="/logout">"#,
        r#"<button type="submit" name="lang" value="zh-CN">简体中文</button>"#,
        r#"<input type="hidden" name="back" value="/records?user=admin">"#,
        r#"<a class="user" href="/account""#,
    ] {
        assert!(body.contains(needle), "missing {needle:?} in\n{body}");
    }
    // Every POST form of the frame carries the session's CSRF token.
    let forms = body.matches(r#"method="post""#).count();
    let tokens = body
        .matches(&format!(
            r#"<input type="hidden" name="csrf" value="{}">"#,
            s.csrf
        ))
        .count();
    assert_eq!((forms, tokens), (2, 2));
}

#[tokio::test]
async fn language_is_switched_and_remembered_per_user() {
    let (app, s) = TestApp::ready(Fake::Nodes(vec![bare_node(1)])).await;
    let r = app
        .send(Req::post("/account/language").cookie(&s.token).form(&[
            ("lang", "zh-CN"),
            ("back", "/slaves"),
            ("csrf", &s.csrf),
        ]))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/slaves");
    let page = app.send(Req::get("/slaves").cookie(&s.token)).await;
    assert!(page.body.contains(r#"<html lang="zh-CN">"#));
    assert!(
        page.body
            .contains("<h1>节点 <span class=\"count\">1</span></h1>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("退出登录"));
    assert!(
        page.body
            .contains(r#"<span class="badge badge-offline">离线</span>"#)
    );

    // A new session of the same user keeps the choice; the API reports it.
    let again = app.login().await;
    let page = app.send(Req::get("/").cookie(&again.token)).await;
    assert!(page.body.contains("概览"));
    let me = app
        .send(Req::get("/api/v1/auth/me").bearer(&again.token))
        .await;
    assert_eq!(me.json()["lang"], "zh-CN");

    // Only local paths are followed back; unknown languages are refused.
    let r = app
        .send(Req::post("/account/language").cookie(&s.token).form(&[
            ("lang", "en"),
            ("back", "//evil.example/"),
            ("csrf", &s.csrf),
        ]))
        .await;
    assert_eq!(r.location(), "/");
    let r = app
        .send(
            Req::post("/account/language")
                .cookie(&s.token)
                .form(&[("lang", "tlh"), ("csrf", &s.csrf)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .send(
            Req::new(Method::PUT, "/api/v1/auth/language")
                .bearer(&s.token)
                .json(&json!({"lang": "fr"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn public_pages_follow_the_browser_language() {
    let app = TestApp::new(Fake::Nodes(Vec::new()));
    let page = app
        .send(Req::get("/register").header("accept-language", "zh-CN,zh;q=0.9,en;q=0.8"))
        .await;
    assert!(page.body.contains("创建管理员账户"), "{}", page.body);
    let page = app
        .send(Req::get("/register?lang=en").header("accept-language", "zh-CN"))
        .await;
    assert!(page.body.contains("Create the administrator account"));
    assert!(
        page.body
            .contains(r#"<a href="?lang=zh-CN" hreflang="zh-CN">简体中文</a>"#)
    );
    // No navigation and no logout without a session.
    assert!(!page.body.contains("/logout"));
    assert!(!page.body.contains(r#"class="mainnav""#));
}

#[tokio::test]
async fn registration_and_login_forms_set_a_strict_http_only_cookie() {
    let app = TestApp::with(Fake::Nodes(Vec::new()), |s| s.secure_cookies = true);
    let page = app.get("/register").await;
    assert_eq!(page.header(header::CACHE_CONTROL), "no-store");
    let csrf = page.form_csrf();
    let csrf_cookie = format!("commander_login_csrf={csrf}");
    assert!(
        page.set_cookies()[0].ends_with("; Path=/; HttpOnly; SameSite=Strict; Secure"),
        "{:?}",
        page.set_cookies()
    );
    let mismatch = [
        ("username", USER),
        ("password", PASSWORD),
        ("confirm", "Correct horse 0"),
        ("csrf", csrf.as_str()),
    ];
    let r = app
        .send(
            Req::post("/register")
                .header("cookie", &csrf_cookie)
                .form(&mismatch),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("The two passwords differ."));
    assert!(r.body.contains(r#"value="admin""#), "the name is kept");

    let form = [
        ("username", USER),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
        ("csrf", csrf.as_str()),
    ];
    let r = app
        .send(
            Req::post("/register")
                .header("cookie", &csrf_cookie)
                .form(&form),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/");
    let session = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("commander_session="))
        .unwrap();
    assert!(
        session.ends_with("; Max-Age=3600; Path=/; HttpOnly; SameSite=Strict; Secure"),
        "{session}"
    );
    let token = r.cookie_value("commander_session").unwrap();
    assert_eq!(
        app.send(Req::get("/").cookie(&token)).await.status,
        StatusCode::OK
    );

    // Wrong password on the login form: the page says so, in the page.
    let page = app.get("/login").await;
    let csrf = page.form_csrf();
    let r = app
        .send(
            Req::post("/login")
                .header("cookie", &format!("commander_login_csrf={csrf}"))
                .form(&[
                    ("username", USER),
                    ("password", "nope"),
                    ("csrf", &csrf),
                    ("lang", "zh-CN"),
                ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    r.assert_html();
    assert!(r.body.contains("用户名或密码错误。"), "{}", r.body);
}

#[tokio::test]
async fn audit_records_every_auth_action_with_its_fields() {
    let app = TestApp::new(Fake::Nodes(Vec::new()));
    app.register().await;
    app.clock.advance(Duration::from_millis(5));
    let wrong = app
        .send(
            Req::post("/api/v1/auth/login")
                .from("203.0.113.9:555")
                .json(&credentials(USER, "Wrong horse 99")),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let s = app.login().await;
    let body = json!({ "current_password": PASSWORD, "new_password": "Battery staple 42" });
    let r = app
        .send(
            Req::post("/api/v1/auth/password")
                .bearer(&s.token)
                .json(&body),
        )
        .await;
    let token = r.json()["token"].as_str().unwrap().to_owned();
    let s2 = web_session(&app, &token).await;
    let r = app
        .send(
            Req::new(Method::PUT, "/api/v1/auth/language")
                .bearer(&token)
                .json(&json!({"lang": "zh-CN"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.send(Req::post("/api/v1/auth/logout").bearer(&token))
        .await;
    let s3 = app.login_as(USER, "Battery staple 42").await;
    let _ = s2;

    let all = app.audit(&s3, "").await;
    let actions: Vec<(&str, &str)> = all
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("auth.login", "ok"),
            ("auth.logout", "ok"),
            ("auth.language", "ok"),
            ("auth.password", "ok"),
            ("auth.login", "ok"),
            ("auth.login", "failed"),
            ("auth.register", "ok"),
        ]
    );
    let failed = &all[5];
    assert_eq!(failed["user"], USER);
    assert_eq!(failed["target"], USER);
    assert_eq!(failed["client"], "203.0.113.9");
    assert_eq!(failed["detail"], "Wrong user name or password.");
    assert_eq!(failed["at_ms"], START_MS + 5);
    assert_eq!(failed["at"], "2024-02-29T12:34:56.005Z");
    let register = &all[6];
    assert_eq!(register["client"], "192.0.2.10");
    assert_eq!(register["at_ms"], START_MS);
    assert_eq!(all[2]["target"], "zh-CN");
    for e in &all {
        let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 9, "{e}");
        assert_eq!(e["id"].as_str().unwrap().len(), 32);
    }
    // Ids are unique even within one millisecond.
    let mut ids: Vec<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), all.len());

    // Filters and paging.
    assert_eq!(app.audit(&s3, "result=failed").await.len(), 1);
    assert_eq!(app.audit(&s3, "action=auth.login").await.len(), 3);
    assert_eq!(app.audit(&s3, "action=auth").await.len(), 7);
    assert_eq!(app.audit(&s3, "user=nobody").await.len(), 0);
    assert_eq!(
        app.audit(&s3, "until=2024-02-29T12:34:56.004Z").await.len(),
        1
    );
    assert_eq!(
        app.audit(&s3, &format!("since={}", START_MS + 1))
            .await
            .len(),
        6
    );
    let r = app
        .send(Req::get("/api/v1/audit?limit=3").bearer(&s3.token))
        .await;
    let page1 = r.json();
    assert_eq!(page1["entries"].as_array().unwrap().len(), 3);
    let next = page1["next"].as_str().unwrap();
    let page2 = app.audit(&s3, &format!("limit=3&before={next}")).await;
    assert_eq!(page2[0]["id"], all[3]["id"]);
    let page3 = app
        .send(
            Req::get(&format!(
                "/api/v1/audit?limit=10&before={}",
                all[5]["id"].as_str().unwrap()
            ))
            .bearer(&s3.token),
        )
        .await;
    assert_eq!(page3.json()["next"], serde_json::Value::Null);
    for bad in [
        "result=maybe",
        "limit=0",
        "limit=501",
        "since=yesterday",
        "before=zz",
    ] {
        let r = app
            .send(Req::get(&format!("/api/v1/audit?{bad}")).bearer(&s3.token))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.json()["error"].is_string());
    }
}

async fn web_session(app: &TestApp, token: &str) -> Session {
    let page = app.send(Req::get("/account").cookie(token)).await;
    Session {
        token: token.to_owned(),
        csrf: page.csrf(),
    }
}

#[tokio::test]
async fn records_page_filters_pages_and_escapes() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let hostile = "<script>alert(1)</script>";
    for _ in 0..3 {
        let r = app
            .send(
                Req::post("/api/v1/auth/login")
                    .from("198.51.100.1:1")
                    .json(&credentials(hostile, "x")),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let page = app
        .send(Req::get("/records?result=failed&limit=2").cookie(&s.token))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let body = &page.body;
    assert!(!body.contains(hostile));
    assert!(body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert_eq!(
        body.matches(r#"<span class="badge badge-failed">failed</span>"#)
            .count(),
        2
    );
    assert!(body.contains(r#"<option value="failed" selected>"#));
    assert!(
        body.contains("result=failed&#38;limit=2&#38;before="),
        "{body}"
    );
    assert!(!body.contains("Newest"));
    let older = page
        .body
        .split("before=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let page2 = app
        .send(Req::get(&format!("/records?result=failed&limit=2&before={older}")).cookie(&s.token))
        .await;
    assert_eq!(page2.body.matches("badge-failed\"").count(), 1);
    assert!(
        page2
            .body
            .contains(r#"<a href="/records?result=failed&#38;limit=2">Newest</a>"#)
    );
    let bad = app
        .send(Req::get("/records?since=soon").cookie(&s.token))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("since: not a time"));
}
