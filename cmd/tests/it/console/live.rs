//! The slave detail page, the metrics history and its SSE stream, search and pagination of
//! the slave list, and localized relative times.

use crate::console::common::*;
use axum::http::{StatusCode, header};
use http_body_util::BodyExt;
use model::node::LiveSample;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tower::ServiceExt;

/// Only `<script src=...>` tags, no inline code, no inline styles.
fn assert_scripts_are_files(body: &str) {
    for (i, _) in body.match_indices("<script") {
        let tag = &body[i..i + body[i..].find('>').unwrap()];
        assert!(tag.starts_with(r#"<script src="/static/"#), "{tag}");
        assert!(body[i..].contains("></script>"));
    }
    assert!(!body.contains("style="));
    assert!(!body.contains("<style"));
}

#[tokio::test]
async fn detail_page_shows_host_facts_disks_and_chart_slots() {
    let mut node = full_node(7, "alpha", now_ms());
    if let Some(h) = node.host.as_mut() {
        h.disks = vec![protocol::DiskInfo {
            mount: "/".into(),
            device: "/dev/vda1".into(),
            fs_type: "ext4".into(),
            total_bytes: 100 << 30,
        }];
    }
    if let Some(m) = node.metrics.as_mut() {
        m.disks = vec![protocol::DiskUsage {
            mount: "/".into(),
            total_bytes: 100 << 30,
            used_bytes: 25 << 30,
        }];
    }
    let (app, s) = TestApp::ready(Fake::Nodes(vec![node])).await;
    let page = app.send(Req::get("/slaves/7").cookie(&s.token)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.assert_html();
    let body = &page.body;
    for needle in [
        "<h1>alpha <span class=\"badge badge-online\">online</span></h1>",
        "<th>Operating system</th><td>Debian GNU/Linux 13</td>",
        "<th>Logical CPUs</th><td>8</td>",
        "<th>Docker version</th><td>27.3.1</td>",
        r#"<td id="now-cpu">12.5 %</td>"#,
        "<td>/dev/vda1</td><td>ext4</td><td class=\"num\">100.0 GiB</td><td class=\"num\">25.0 %</td>",
        r#"<section class="panel" id="charts" data-node="7" data-labels=""#,
        r#"<canvas id="chart-cpu"></canvas>"#,
        r#"<canvas id="chart-disk"></canvas>"#,
        r#"<div class="range-bar" role="group" aria-label="Time range">"#,
        r#"<button type="button" class="range" data-range="900000" aria-pressed="true">15 min</button>"#,
        r#"data-range="3600000" aria-pressed="false">1 hour</button>"#,
        r#"data-range="21600000" aria-pressed="false">6 hours</button>"#,
        r#"data-range="86400000" aria-pressed="false">24 hours</button>"#,
        r#"data-range="604800000" aria-pressed="false">7 days</button>"#,
        r#"data-range="2592000000" aria-pressed="false">30 days</button>"#,
        "<span>Custom:</span>",
        r#"<label>To <input type="datetime-local" id="range-to" name="to" required></label>"#,
        "Resolution: <span id=\"range-tier\">",
        "1-hour roll-ups (min, average, max)",
        r#"<script src="/static/vendor/chart.min.js" defer></script>"#,
        r#"<script src="/static/slave.js" defer></script>"#,
        r#"<a href="/slaves" class="active" aria-current="page">Slaves</a>"#,
    ] {
        assert!(body.contains(needle), "missing {needle:?} in\n{body}");
    }
    assert_scripts_are_files(body);
}

#[tokio::test]
async fn detail_page_of_an_unknown_or_malformed_id_is_an_html_404() {
    let (app, s) = TestApp::ready(Fake::Nodes(vec![bare_node(1)])).await;
    for path in ["/slaves/2", "/slaves/abc", "/slaves/-1"] {
        let page = app.send(Req::get(path).cookie(&s.token)).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        page.assert_html();
        assert!(
            page.body.contains("There is no slave with this id."),
            "{path}"
        );
    }
    let page = app.send(Req::get("/slaves/1").cookie(&s.token)).await;
    assert!(
        page.body
            .contains("The slave has not reported its host yet.")
    );
}

#[tokio::test]
async fn detail_page_escapes_hostile_strings() {
    let hostile = "<script>alert(1)</script>";
    let mut node = full_node(1, hostile, now_ms());
    if let Some(h) = node.host.as_mut() {
        h.cpu_model = r#""><img src=x onerror=alert(2)>"#.into();
        h.disks = vec![protocol::DiskInfo {
            mount: "<b>m</b>".into(),
            device: "d".into(),
            fs_type: "f".into(),
            total_bytes: 1,
        }];
    }
    let (app, s) = TestApp::ready(Fake::Nodes(vec![node])).await;
    let body = app.send(Req::get("/slaves/1").cookie(&s.token)).await.body;
    assert!(!body.contains(hostile) && !body.contains("<img") && !body.contains("<b>"));
    assert!(body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert_scripts_are_files(&body);
}

#[tokio::test]
async fn history_answers_points_and_checks_its_window() {
    let (app, s) = TestApp::ready(Fake::Nodes(vec![full_node(3, "c", now_ms())])).await;
    let get = |path: &str| app.send(Req::get(path).bearer(&s.token));
    let r = get("/api/v1/nodes/3/metrics?from=1000&to=9000&points=2").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = r.json();
    assert_eq!(
        (body["node"].clone(), body["from"].clone()),
        (json!(3), json!(1000))
    );
    assert_eq!(body["tier"], "raw");
    assert_eq!(body["step_ms"], 4001);
    let points = body["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0]["t"], 2000);
    assert_eq!(points[0]["cpu_total_pct"], json!({ "avg": 12.5 }));
    assert_eq!(points[0]["mem_used_pct"], json!({ "avg": 18.75 }));
    assert_eq!(points[0]["tcp_established"], json!({ "avg": 42.0 }));
    for (path, status) in [
        ("/api/v1/nodes/4/metrics", StatusCode::NOT_FOUND),
        ("/api/v1/nodes/x/metrics", StatusCode::NOT_FOUND),
        (
            "/api/v1/nodes/3/metrics?from=9&to=1",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/nodes/3/metrics?points=0", StatusCode::BAD_REQUEST),
        (
            "/api/v1/nodes/3/metrics?points=lots",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/nodes/4/metrics/stream", StatusCode::NOT_FOUND),
    ] {
        let r = get(path).await;
        assert_eq!(r.status, status, "{path}");
        assert!(r.json()["error"].is_string(), "{path}");
    }
    let r = get("/api/v1/nodes/3").await;
    assert_eq!(r.json()["hostname"], "c");
}

/// Reads SSE frames until `want` appears in what was read (or a timeout).
async fn read_until(body: &mut axum::body::Body, want: &str) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !text.contains(want) {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .unwrap_or_else(|_| panic!("no {want:?} in {text:?}"))
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
    text
}

#[tokio::test]
async fn stream_sends_the_node_samples_as_they_arrive() {
    let (tx, _keep) = broadcast::channel(16);
    let nodes = vec![full_node(1, "a", now_ms()), full_node(2, "b", now_ms())];
    let (app, s) = TestApp::ready(Fake::Live(nodes, tx.clone())).await;
    let request = Req::get("/api/v1/nodes/1/metrics/stream")
        .cookie(&s.token)
        .build();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    assert!(response.headers().contains_key(header::CACHE_CONTROL));
    let mut body = response.into_body();
    let sample = |node_id, at_ms, cpu| {
        let mut m = metrics();
        m.cpu_total_pct = cpu;
        LiveSample {
            node_id,
            at_ms,
            sample: Arc::new(m),
        }
    };
    tx.send(sample(2, 10, 99.0)).unwrap();
    tx.send(sample(1, 11, 33.5)).unwrap();
    let text = read_until(&mut body, "\n\n").await;
    assert!(text.starts_with("event: sample\ndata: {"), "{text}");
    assert!(
        text.contains(r#""t":11"#) && text.contains(r#""cpu":33.5"#),
        "{text}"
    );
    assert!(
        !text.contains(r#""cpu":99"#),
        "another node's sample leaked: {text}"
    );
    tx.send(sample(1, 12, 1.0)).unwrap();
    let text = read_until(&mut body, r#""t":12"#).await;
    assert!(text.contains("event: sample"));
}

#[tokio::test]
async fn slave_list_is_searchable_and_paginated() {
    let nodes: Vec<_> = (1..=120)
        .map(|i| full_node(i, &format!("host-{i:03}"), now_ms()))
        .collect();
    let (app, s) = TestApp::ready(Fake::Nodes(nodes)).await;
    let page = |path: &str| app.send(Req::get(path).cookie(&s.token));
    let r = page("/slaves").await;
    assert!(r.body.contains("1–50 of 120"), "{}", r.body);
    assert!(
        r.body
            .contains(r#"<a href="/slaves?page=2" rel="next">Next →</a>"#)
    );
    assert!(r.body.contains(r#"<a href="/slaves/50">host-050</a>"#));
    assert!(!r.body.contains("host-051"));
    let r = page("/slaves?page=3").await;
    assert!(r.body.contains("101–120 of 120") && r.body.contains("host-120"));
    assert!(r.body.contains(r#"<a href="/slaves?page=2" rel="prev">"#));
    let r = page("/slaves?q=HOST-11").await;
    assert!(r.body.contains("1–10 of 10"), "{}", r.body);
    assert!(r.body.contains(r#"value="HOST-11""#));
    let r = page("/slaves?q=%3Cscript%3E").await;
    assert!(r.body.contains("No slave matches the search."));
    assert!(r.body.contains(r#"value="&#60;script&#62;""#));
    let r = page("/slaves?page=%ZZ").await;
    assert_eq!(r.status, StatusCode::OK);
    // The home page shows an excerpt with a link to the rest.
    let r = page("/").await;
    assert!(r.body.contains("host-020") && !r.body.contains("host-021"));
    assert!(r.body.contains(r#"<a href="/slaves">All slaves →</a>"#));
    assert!(
        r.body
            .contains(r#"<div class="card-value">120 / 120</div>"#)
    );
    // The API takes the same search, with the count in a header.
    let r = app
        .send(Req::get("/api/v1/nodes?q=host-1&offset=2&limit=3").bearer(&s.token))
        .await;
    assert_eq!(
        r.header(header::HeaderName::from_static("x-total-count")),
        "21"
    );
    let ids: Vec<u64> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [102, 103, 104]);
    let r = app
        .send(Req::get("/api/v1/nodes?limit=x").bearer(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].is_string());
}

#[tokio::test]
async fn relative_times_follow_the_user_language() {
    let nodes = vec![full_node(1, "a", now_ms() - 2 * 3600 * 1000), bare_node(2)];
    let (app, s) = TestApp::ready(Fake::Nodes(nodes)).await;
    let r = app
        .send(
            Req::new(axum::http::Method::PUT, "/api/v1/auth/language")
                .bearer(&s.token)
                .json(&json!({ "lang": "zh-CN" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let body = app.send(Req::get("/slaves").cookie(&s.token)).await.body;
    assert!(body.contains("2小时前"), "{body}");
    assert!(body.contains("从未"));
    assert!(body.contains("第 1–2 条，共 2 条"));
    let body = app.send(Req::get("/slaves/1").cookie(&s.token)).await.body;
    for needle in [
        "<h2>指标 <span id=\"live-status\"",
        r#"<div class="range-bar" role="group" aria-label="时间范围">"#,
        r#"data-range="900000" aria-pressed="true">15 分钟</button>"#,
        r#"data-range="2592000000" aria-pressed="false">30 天</button>"#,
        "<span>自定义:</span>",
        "<label>从 <input type=\"datetime-local\" id=\"range-from\"",
        "精度: <span id=\"range-tier\">",
        "操作系统",
    ] {
        assert!(body.contains(needle), "missing {needle:?} in\n{body}");
    }
    assert!(
        body.contains("1 分钟汇总（最小、平均、最大）"),
        "tier names for the script"
    );
}

#[tokio::test]
async fn streams_notice_logout_expiry_and_password_changes() {
    use master::accounts::{AuthStore, MemoryAuthStore};
    let store = Arc::new(MemoryAuthStore::new());
    let clock = Arc::new(model::ManualClock::new(START_MS));
    let s = settings();
    let accounts = Arc::new(master::accounts::AccountService::new(
        store.clone(),
        master::accounts::AccountSettings {
            jwt_secret: s.jwt_secret,
            session_ttl: s.session_ttl,
            lockout: s.lockout,
            hash_cost: s.hash_cost,
        },
        clock.clone(),
    ));
    let services = model::Services {
        cluster: Arc::new(Fake::Nodes(Vec::new())),
        ops: Arc::new(master::services::OperationsService::new(
            Arc::new(crate::console::ops_fake::FakeOps::unused()),
            accounts.clone(),
        )),
        data: Arc::new(master::services::DataService::new(
            Arc::new(Fake::Nodes(Vec::new())),
            store.clone(),
            accounts.clone(),
            clock.clone(),
        )),
        accounts: accounts.clone(),
        audit: accounts.clone(),
        channels: master::alerts::channels::ChannelService::start(
            Arc::new(master::store::MemoryStore::new()),
            accounts.clone(),
            clock.clone(),
        ),
        projects: crate::console::common::projects_over(
            accounts,
            clock.clone(),
            Default::default(),
        )
        .1,
        alerting: Arc::new(model::alert_rule::NoAlertRules),
        clock: clock.clone(),
    };
    let auth = web::Auth::new(&services, web::ConsoleSettings::default());
    let client = "192.0.2.1".parse().unwrap();
    auth.register(USER, PASSWORD, client).await.unwrap();
    let session = |token: String| {
        let auth = &auth;
        async move { auth.authenticate(&token).await.unwrap() }
    };
    let who = session(auth.login(USER, PASSWORD, client).await.unwrap().token).await;
    assert!(web::sse::session_still_valid(&auth, &who).await);
    auth.logout(&who, client).await;
    assert!(!web::sse::session_still_valid(&auth, &who).await);

    let who = session(auth.login(USER, PASSWORD, client).await.unwrap().token).await;
    clock.advance(TTL + Duration::from_secs(1));
    assert!(!web::sse::session_still_valid(&auth, &who).await);

    clock.set(START_MS);
    let who = session(auth.login(USER, PASSWORD, client).await.unwrap().token).await;
    let other = session(auth.login(USER, PASSWORD, client).await.unwrap().token).await;
    auth.change_password(&other, PASSWORD, "Another secret 77", client)
        .await
        .unwrap();
    assert!(!web::sse::session_still_valid(&auth, &who).await);
    assert!(store.registration_closed().unwrap());
}
