//! HTTP tests of the console and API through `tower::ServiceExt::oneshot`, over a fake
//! backend (signed in), plus one end-to-end run of `serve` on a loopback port.

use crate::console::common::*;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use web::pages::NodeRow;

async fn api_get(fake: Fake, path: &str) -> Reply {
    let (app, s) = TestApp::ready(fake).await;
    app.send(Req::get(path).bearer(&s.token)).await
}

async fn page_get(fake: Fake, path: &str) -> Reply {
    let (app, s) = TestApp::ready(fake).await;
    app.send(Req::get(path).cookie(&s.token)).await
}

fn healthy() -> Value {
    json!({
        "status": "ok",
        "audit": {
            "status": "ok",
            "write_failures": 0,
            "last_error": null,
            "last_failure_at_ms": null,
        },
        "metrics": { "commander_audit_write_failures_total": 0 },
    })
}

#[tokio::test]
async fn health_is_ok_without_login() {
    let app = TestApp::new(Fake::Nodes(Vec::new()));
    let reply = app.get("/api/v1/health").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), healthy());
}

/// Issue 11 finding 1: audit writes that fail (a full store) used to be logged and dropped;
/// the health check now shows them, with the count, the last error and its time.
#[tokio::test]
async fn failing_audit_writes_make_health_degraded_with_the_count() {
    let (app, session) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    assert_eq!(app.get("/api/v1/health").await.json(), healthy());

    app.store.fail_audit_writes(true);
    // Two audited actions whose entries cannot be written.
    let lang = Req::new(Method::PUT, "/api/v1/auth/language")
        .bearer(&session.token)
        .json(&json!({ "lang": "zh-CN" }));
    assert!(app.send(lang).await.status.is_success());
    let _second = app.login().await;

    let reply = app.get("/api/v1/health").await;
    assert_eq!(reply.status, StatusCode::OK, "the master still serves");
    let body = reply.json();
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["audit"]["status"], "failing");
    assert_eq!(body["audit"]["write_failures"], 2);
    assert_eq!(body["metrics"]["commander_audit_write_failures_total"], 2);
    assert!(
        body["audit"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("MDB_MAP_FULL")),
        "{body}"
    );
    assert_eq!(body["audit"]["last_failure_at_ms"], START_MS);

    // Writes work again: the counter stays, the state stays degraded for a while.
    app.store.fail_audit_writes(false);
    let _third = app.login().await;
    let body = app.get("/api/v1/health").await.json();
    assert_eq!(body["metrics"]["commander_audit_write_failures_total"], 2);
    assert_eq!(body["status"], "degraded");
    app.clock.advance(std::time::Duration::from_millis(
        model::audit::AUDIT_DEGRADED_FOR_MS,
    ));
    let body = app.get("/api/v1/health").await.json();
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["audit"]["write_failures"], 2);
}

#[tokio::test]
async fn nodes_json_has_exact_shape() {
    let nodes = vec![full_node(1, "alpha", 1_709_210_096_789), bare_node(2)];
    let reply = api_get(Fake::Nodes(nodes), "/api/v1/nodes").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    let list = body.as_array().unwrap();
    assert_eq!(list.len(), 2);

    let expected_keys = [
        "agent_version",
        "host",
        "hostname",
        "id",
        "last_seen",
        "last_seen_ms",
        "metrics",
        "online",
        "revoked",
    ];
    for node in list {
        let mut keys: Vec<&str> = node
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, expected_keys);
    }

    let full = &list[0];
    assert_eq!(full["id"], 1);
    assert_eq!(full["hostname"], "alpha");
    assert_eq!(full["online"], true);
    assert_eq!(full["revoked"], false);
    assert_eq!(full["last_seen_ms"], 1_709_210_096_789_u64);
    assert_eq!(full["last_seen"], "2024-02-29T12:34:56.789Z");
    assert_eq!(full["agent_version"], "0.1.0");
    assert_eq!(full["host"], serde_json::to_value(host("alpha")).unwrap());
    assert_eq!(full["host"]["cpu_cores"], 8);
    assert_eq!(full["metrics"], serde_json::to_value(metrics()).unwrap());
    assert_eq!(full["metrics"]["tcp_established"], 42);
    assert_eq!(full["metrics"]["cpu_total_pct"], 12.5);
}

#[tokio::test]
async fn nodes_json_uses_null_for_missing_values() {
    let reply = api_get(Fake::Nodes(vec![bare_node(7)]), "/api/v1/nodes").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!([{
            "id": 7,
            "hostname": "",
            "online": false,
            "revoked": false,
            "last_seen_ms": null,
            "last_seen": null,
            "agent_version": "",
            "host": null,
            "metrics": null,
        }])
    );
}

#[tokio::test]
async fn nodes_json_non_finite_metrics_become_null_and_far_dates_null() {
    let mut node = full_node(3, "gamma", 253_402_300_800_000);
    if let Some(m) = node.metrics.as_mut() {
        m.cpu_total_pct = f32::NAN;
    }
    let reply = api_get(Fake::Nodes(vec![node]), "/api/v1/nodes").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body[0]["metrics"]["cpu_total_pct"], Value::Null);
    assert_eq!(body[0]["last_seen_ms"], 253_402_300_800_000_u64);
    assert_eq!(body[0]["last_seen"], Value::Null);
}

#[tokio::test]
async fn empty_node_list_is_an_empty_array_and_storage_has_sizes() {
    let reply = api_get(Fake::Nodes(Vec::new()), "/api/v1/nodes").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!([]));
    let reply = api_get(Fake::Nodes(Vec::new()), "/api/v1/storage").await;
    assert_eq!(
        reply.json(),
        json!({ "data_bytes": 3 << 20, "performance_bytes": 5_u64 << 30 })
    );
}

#[tokio::test]
async fn backend_errors_map_to_json_statuses() {
    let reply = api_get(Fake::Internal("store is on fire"), "/api/v1/nodes").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.json(), json!({ "error": "store is on fire" }));
    reply.assert_security_headers();

    let reply = api_get(Fake::NotFound("node 9"), "/api/v1/nodes").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json(), json!({ "error": "not found: node 9" }));
}

/// Every `<script` of a page loads an embedded file: the CSP forbids inline scripts.
fn assert_no_inline_script(body: &str) {
    for (i, _) in body.match_indices("<script") {
        assert!(
            body[i..].starts_with(r#"<script src="/static/commander.js" defer></script>"#),
            "inline script at {i} in\n{body}"
        );
    }
    assert!(!body.contains("style="));
    assert!(!body.contains("<style"));
}

#[tokio::test]
async fn page_lists_nodes_with_metrics() {
    let two_hours_ago = now_ms() - 2 * 3600 * 1000;
    let mut offline = full_node(2, "beta", two_hours_ago);
    offline.online = false;
    let mut revoked = bare_node(3);
    revoked.revoked = true;
    let nodes = vec![full_node(1, "alpha", now_ms()), offline, revoked];
    let reply = page_get(Fake::Nodes(nodes), "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.assert_html();
    let body = &reply.body;
    for needle in [
        "alpha",
        "beta",
        "(unknown)",
        r#"<span class="badge badge-online">online</span>"#,
        r#"<span class="badge badge-offline">offline</span>"#,
        r#"<span class="badge badge-revoked">revoked</span>"#,
        "just now",
        "2 h ago",
        "never",
        "12.5 %",
        "1.5 GiB / 8.0 GiB",
        "0.50 0.25 1.00",
        "<td class=\"num\">42</td>",
        "Debian GNU/Linux 13 · kernel 6.12.9 · x86_64 · 8 cores",
        r#"<link rel="stylesheet" href="/static/commander.css">"#,
        r#"<div id="live-home" data-live-refresh="5">"#,
        r#"<div class="card-value">1 / 3</div>"#,
    ] {
        assert!(body.contains(needle), "missing {needle:?} in\n{body}");
    }
    assert!(!body.contains("No slaves yet"));
    assert_no_inline_script(body);
    assert_eq!(reply.header(header::CACHE_CONTROL), "no-store");
}

#[tokio::test]
async fn page_escapes_hostile_strings() {
    let hostile = "<script>alert(1)</script>";
    let mut node = full_node(1, hostile, now_ms());
    node.agent_version = r#""><img src=x onerror=alert(2)>"#.to_owned();
    if let Some(h) = node.host.as_mut() {
        h.os = "<b>os</b>".to_owned();
        h.kernel = "k' onmouseover='x".to_owned();
        h.docker_version = Some("<i>27</i>".to_owned());
    }
    for path in ["/", "/slaves", "/docker"] {
        let reply = page_get(Fake::Nodes(vec![node.clone()]), path).await;
        assert_eq!(reply.status, StatusCode::OK);
        let body = &reply.body;
        assert!(!body.contains(hostile), "raw hostname in\n{body}");
        assert_no_inline_script(body);
        assert!(!body.contains("<img"));
        assert!(!body.contains("<b>"));
        assert!(!body.contains("<i>"));
        assert!(!body.contains("' onmouseover='"));
        assert!(body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    }
    let reply = page_get(Fake::Nodes(vec![node]), "/").await;
    assert!(
        reply
            .body
            .contains("&#34;&#62;&#60;img src=x onerror=alert(2)&#62;")
    );
    assert!(reply.body.contains("&#60;b&#62;os&#60;/b&#62;"));
}

#[tokio::test]
async fn page_shows_empty_state() {
    let reply = page_get(Fake::Nodes(Vec::new()), "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.assert_html();
    assert!(reply.body.contains("No slaves yet"));
    assert!(
        reply
            .body
            .contains("<code>commander slave --join TOKEN</code>")
    );
    assert!(!reply.body.contains("<table"));
}

#[tokio::test]
async fn other_areas_render_in_the_frame() {
    let nodes = vec![full_node(1, "alpha", now_ms()), bare_node(2)];
    let reply = page_get(Fake::Nodes(nodes.clone()), "/docker").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.contains("27.3.1"), "{}", reply.body);
    assert!(reply.body.contains("not reported yet"));
    assert!(
        reply
            .body
            .contains(r#"<a href="/docker" class="active" aria-current="page">Docker</a>"#)
    );
    let reply = page_get(Fake::Nodes(nodes.clone()), "/slaves").await;
    assert!(
        reply
            .body
            .contains("<h1>Slaves <span class=\"count\">2</span></h1>")
    );
    let reply = page_get(Fake::Nodes(nodes), "/data").await;
    assert!(reply.body.contains("3.0 MiB"), "{}", reply.body);
    assert!(reply.body.contains("5.0 GiB"));
    assert!(reply.body.contains("User accounts are never reset"));
}

#[tokio::test]
async fn page_backend_error_is_an_html_error_page() {
    let reply = page_get(Fake::Internal("<disk> full"), "/").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    reply.assert_html();
    reply.assert_security_headers();
    assert!(reply.body.contains("&#60;disk&#62; full"));
    assert!(!reply.body.contains("<disk>"));

    let reply = page_get(Fake::NotFound("nodes"), "/").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    reply.assert_html();
    let reply = page_get(Fake::Internal("x"), "/data").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn static_assets_are_served_without_login() {
    let app = TestApp::new(Fake::Nodes(Vec::new()));
    let reply = app.get("/static/commander.css").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header(header::CONTENT_TYPE),
        "text/css; charset=utf-8"
    );
    assert_eq!(reply.header(header::CACHE_CONTROL), "public, max-age=300");
    assert_eq!(reply.body, web::STYLESHEET);
    assert!(reply.body.contains(".badge-online"));
    reply.assert_security_headers();

    let reply = app.get("/static/commander.js").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header(header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(reply.body, web::SCRIPT);
    assert!(reply.body.contains("data-confirm"));
}

#[tokio::test]
async fn unknown_api_paths_are_json_404() {
    let app = TestApp::new(Fake::Nodes(Vec::new()));
    for path in ["/api", "/api/", "/api/v1/nope", "/api/v2/nodes"] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            reply.json(),
            json!({ "error": "no such endpoint" }),
            "{path}"
        );
        reply.assert_security_headers();
    }
}

#[tokio::test]
async fn unknown_pages_are_html_404() {
    let app = TestApp::new(Fake::Nodes(Vec::new()));
    for path in [
        "/nope",
        "/apix",
        "/static/other.css",
        "/static/commander.css/x",
    ] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        reply.assert_html();
        reply.assert_security_headers();
        assert!(reply.body.contains("404 Not Found"), "{path}");
    }
}

#[tokio::test]
async fn wrong_method_is_405() {
    let app = TestApp::new(Fake::Nodes(Vec::new()));
    let reply = app.send(Req::post("/api/v1/nodes")).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.json(), json!({ "error": "method not allowed" }));
    reply.assert_security_headers();

    let reply = app.send(Req::new(Method::DELETE, "/")).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    reply.assert_html();
    reply.assert_security_headers();
}

#[tokio::test]
async fn security_headers_on_success_responses() {
    let (app, s) = TestApp::ready(Fake::Nodes(vec![bare_node(1)])).await;
    for path in ["/", "/api/v1/nodes", "/api/v1/health", "/login"] {
        let reply = app.send(Req::get(path).cookie(&s.token)).await;
        assert!(
            reply.status.is_success() || reply.status.is_redirection(),
            "{path}"
        );
        reply.assert_security_headers();
    }
}

#[test]
fn node_row_formats_a_node() {
    let now = 1_709_210_096_789;
    let row = NodeRow::new(&full_node(5, "alpha", now - 65_000), now);
    assert_eq!(row.id, 5);
    assert_eq!(row.hostname, "alpha");
    assert_eq!(row.status, "online");
    assert_eq!(row.last_seen, "1 min 5 s ago");
    assert_eq!(row.last_seen_abs, "2024-02-29T12:33:51.789Z");
    assert_eq!(row.cpu, "12.5 %");
    assert_eq!(row.memory, "1.5 GiB / 8.0 GiB");
    assert_eq!(row.load, "0.50 0.25 1.00");
    assert_eq!(row.tcp, "42");
    assert_eq!(row.docker.as_deref(), Some("27.3.1"));

    let mut node = bare_node(6);
    node.online = true;
    node.revoked = true;
    let row = NodeRow::new(&node, now);
    assert_eq!(row.status, "revoked");
    assert_eq!(row.hostname, "(unknown)");
    assert_eq!(row.last_seen, "never");
    assert_eq!(row.last_seen_abs, "");
    assert_eq!((row.cpu.as_str(), row.memory.as_str()), ("–", "–"));
    assert_eq!(row.host_line, "");
    assert_eq!(row.docker, None);

    // The host's own name stands in until the node view carries one.
    let mut node = full_node(7, "", now);
    node.host = Some(host("from-host-info"));
    assert_eq!(NodeRow::new(&node, now).hostname, "from-host-info");
}
