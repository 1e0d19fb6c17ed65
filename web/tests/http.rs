//! HTTP tests of the console and API through `tower::ServiceExt::oneshot`, over a fake
//! backend, plus one end-to-end run of `serve` on a loopback port.

// clippy.toml allows unwrap in `#[test]` functions only; the helpers below are test code too.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use protocol::{HostInfo, MetricSample};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tower::ServiceExt;
use web::pages::NodeRow;
use web::{Backend, BackendError, NodeView};

/// What the fake backend answers.
enum Fake {
    Nodes(Vec<NodeView>),
    NotFound(&'static str),
    Internal(&'static str),
}

impl Backend for Fake {
    async fn nodes(&self) -> Result<Vec<NodeView>, BackendError> {
        match self {
            Self::Nodes(nodes) => Ok(nodes.clone()),
            Self::NotFound(what) => Err(BackendError::NotFound((*what).to_owned())),
            Self::Internal(what) => Err(BackendError::Internal((*what).to_owned())),
        }
    }
}

fn app(fake: Fake) -> Router {
    web::router(Arc::new(fake))
}

fn now_ms() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since_epoch.as_millis()).unwrap()
}

fn host(hostname: &str) -> HostInfo {
    HostInfo {
        hostname: hostname.to_owned(),
        os: "Debian GNU/Linux 13".to_owned(),
        kernel: "6.12.9".to_owned(),
        arch: "x86_64".to_owned(),
        cpu_model: "Test CPU".to_owned(),
        cpu_cores: 8,
        mem_total_bytes: 8 << 30,
        swap_total_bytes: 0,
        disks: Vec::new(),
        docker_version: Some("27.3.1".to_owned()),
        boot_time_unix: 1_700_000_000,
    }
}

fn metrics() -> MetricSample {
    MetricSample {
        taken_at_ms: 1_709_210_096_000,
        cpu_total_pct: 12.5,
        cpu_per_core_pct: vec![10.0, 15.0],
        load: [0.5, 0.25, 1.0],
        mem_total_bytes: 8 << 30,
        mem_used_bytes: 3 << 29,
        tcp_established: 42,
        tcp_total: 50,
        ..MetricSample::default()
    }
}

/// A node that reported everything.
fn full_node(id: u64, hostname: &str, last_seen_ms: u64) -> NodeView {
    NodeView {
        id,
        hostname: hostname.to_owned(),
        online: true,
        revoked: false,
        last_seen_ms: Some(last_seen_ms),
        agent_version: "0.1.0".to_owned(),
        host: Some(host(hostname)),
        metrics: Some(metrics()),
    }
}

/// A node enrolled but never heard from.
fn bare_node(id: u64) -> NodeView {
    NodeView {
        id,
        hostname: String::new(),
        online: false,
        revoked: false,
        last_seen_ms: None,
        agent_version: String::new(),
        host: None,
        metrics: None,
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        assert!(
            self.header(header::CONTENT_TYPE)
                .starts_with("application/json"),
            "content type {:?}",
            self.header(header::CONTENT_TYPE)
        );
        serde_json::from_str(&self.body).unwrap()
    }

    fn assert_html(&self) {
        assert_eq!(
            self.header(header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
    }

    fn assert_security_headers(&self) {
        assert_eq!(
            self.header(header::CONTENT_SECURITY_POLICY),
            "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'"
        );
        assert_eq!(self.header(header::X_FRAME_OPTIONS), "DENY");
        assert_eq!(self.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(self.header(header::REFERRER_POLICY), "no-referrer");
    }
}

async fn request(app: Router, method: Method, path: &str) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap();
    let resp = app.oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(bytes.to_vec()).unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(app: Router, path: &str) -> Reply {
    request(app, Method::GET, path).await
}

#[tokio::test]
async fn health_is_ok() {
    let reply = get(app(Fake::Nodes(Vec::new())), "/api/v1/health").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({ "status": "ok" }));
}

#[tokio::test]
async fn nodes_json_has_exact_shape() {
    let nodes = vec![full_node(1, "alpha", 1_709_210_096_789), bare_node(2)];
    let reply = get(app(Fake::Nodes(nodes)), "/api/v1/nodes").await;
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
    let reply = get(app(Fake::Nodes(vec![bare_node(7)])), "/api/v1/nodes").await;
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
    let reply = get(app(Fake::Nodes(vec![node])), "/api/v1/nodes").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body[0]["metrics"]["cpu_total_pct"], Value::Null);
    assert_eq!(body[0]["last_seen_ms"], 253_402_300_800_000_u64);
    assert_eq!(body[0]["last_seen"], Value::Null);
}

#[tokio::test]
async fn empty_node_list_is_an_empty_array() {
    let reply = get(app(Fake::Nodes(Vec::new())), "/api/v1/nodes").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!([]));
}

#[tokio::test]
async fn backend_errors_map_to_json_statuses() {
    let reply = get(app(Fake::Internal("store is on fire")), "/api/v1/nodes").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.json(), json!({ "error": "store is on fire" }));
    reply.assert_security_headers();

    let reply = get(app(Fake::NotFound("node 9")), "/api/v1/nodes").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json(), json!({ "error": "not found: node 9" }));
}

#[tokio::test]
async fn page_lists_nodes_with_metrics() {
    let two_hours_ago = now_ms() - 2 * 3600 * 1000;
    let mut offline = full_node(2, "beta", two_hours_ago);
    offline.online = false;
    let mut revoked = bare_node(3);
    revoked.revoked = true;
    let nodes = vec![full_node(1, "alpha", now_ms()), offline, revoked];
    let reply = get(app(Fake::Nodes(nodes)), "/").await;
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
        r#"<meta http-equiv="refresh" content="5">"#,
    ] {
        assert!(body.contains(needle), "missing {needle:?} in\n{body}");
    }
    assert!(!body.contains("No slaves yet"));
    // The CSP forbids inline styles and scripts; the page must not need them.
    assert!(!body.contains("<script"));
    assert!(!body.contains("style="));
    assert!(!body.contains("<style"));
}

#[tokio::test]
async fn page_escapes_hostile_strings() {
    let hostile = "<script>alert(1)</script>";
    let mut node = full_node(1, hostile, now_ms());
    node.agent_version = r#""><img src=x onerror=alert(2)>"#.to_owned();
    if let Some(h) = node.host.as_mut() {
        h.os = "<b>os</b>".to_owned();
        h.kernel = "k' onmouseover='x".to_owned();
    }
    let reply = get(app(Fake::Nodes(vec![node])), "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = &reply.body;
    assert!(!body.contains(hostile), "raw hostname in\n{body}");
    assert!(!body.contains("<script"));
    assert!(!body.contains("<img"));
    assert!(!body.contains("<b>"));
    assert!(!body.contains("' onmouseover='"));
    assert!(body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(body.contains("&#34;&#62;&#60;img src=x onerror=alert(2)&#62;"));
    assert!(body.contains("&#60;b&#62;os&#60;/b&#62;"));
}

#[tokio::test]
async fn page_shows_empty_state() {
    let reply = get(app(Fake::Nodes(Vec::new())), "/").await;
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
async fn page_backend_error_is_an_html_error_page() {
    let reply = get(app(Fake::Internal("<disk> full")), "/").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    reply.assert_html();
    reply.assert_security_headers();
    assert!(reply.body.contains("&#60;disk&#62; full"));
    assert!(!reply.body.contains("<disk>"));

    let reply = get(app(Fake::NotFound("nodes")), "/").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    reply.assert_html();
}

#[tokio::test]
async fn stylesheet_is_served() {
    let reply = get(app(Fake::Nodes(Vec::new())), "/static/commander.css").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header(header::CONTENT_TYPE),
        "text/css; charset=utf-8"
    );
    assert_eq!(reply.header(header::CACHE_CONTROL), "public, max-age=300");
    assert_eq!(reply.body, web::STYLESHEET);
    assert!(reply.body.contains(".badge-online"));
    reply.assert_security_headers();
}

#[tokio::test]
async fn unknown_api_paths_are_json_404() {
    for path in ["/api", "/api/", "/api/v1/nope", "/api/v2/nodes"] {
        let reply = get(app(Fake::Nodes(Vec::new())), path).await;
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
    for path in [
        "/nope",
        "/apix",
        "/static/other.css",
        "/static/commander.css/x",
    ] {
        let reply = get(app(Fake::Nodes(Vec::new())), path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        reply.assert_html();
        reply.assert_security_headers();
        assert!(reply.body.contains("404 Not Found"), "{path}");
    }
}

#[tokio::test]
async fn wrong_method_is_405() {
    let reply = request(app(Fake::Nodes(Vec::new())), Method::POST, "/api/v1/nodes").await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.json(), json!({ "error": "method not allowed" }));
    reply.assert_security_headers();

    let reply = request(app(Fake::Nodes(Vec::new())), Method::DELETE, "/").await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    reply.assert_html();
    reply.assert_security_headers();
}

#[tokio::test]
async fn security_headers_on_success_responses() {
    for path in ["/", "/api/v1/nodes", "/api/v1/health"] {
        let reply = get(app(Fake::Nodes(vec![bare_node(1)])), path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
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

    // The host's own name stands in until the node view carries one.
    let mut node = full_node(7, "", now);
    node.host = Some(host("from-host-info"));
    assert_eq!(NodeRow::new(&node, now).hostname, "from-host-info");
}

#[tokio::test]
async fn serve_answers_on_loopback_and_shuts_down() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::serve(
        listener,
        app(Fake::Nodes(vec![full_node(1, "alpha", now_ms())])),
        async move {
            let _ = stop_rx.await;
        },
    ));

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /api/v1/nodes HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");
    assert!(raw.contains("x-frame-options: DENY"), "{raw}");
    assert!(raw.contains(r#""hostname":"alpha""#), "{raw}");

    stop_tx.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
