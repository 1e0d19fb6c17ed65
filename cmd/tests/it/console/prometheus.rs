//! `GET /metrics`: the Prometheus exposition of the master and its nodes, scraped with an
//! API token of any scope as the bearer token (as Prometheus and Grafana do), refused
//! without one, and accepted by `promtool check metrics`.

use crate::console::common::*;
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn metrics_need_a_token_and_pass_promtool() {
    let (app, s) = TestApp::ready(Fake::Nodes(vec![
        full_node(1, "web-1", START_MS),
        bare_node(2),
    ]))
    .await;

    // Anonymous: 401 in JSON, no redirect to the login page.
    let r = app.send(Req::get("/metrics")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert!(r.json()["error"].is_string(), "{}", r.body);

    // A read token (the narrowest scope) scrapes.
    let created = app
        .send(
            Req::post("/api/v1/tokens")
                .bearer(&s.token)
                .json(&json!({"name": "prometheus", "scopes": ["read"], "expires_in_days": null})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let token = created.json()["token"].as_str().unwrap().to_owned();
    let r = app.send(Req::get("/metrics").bearer(&token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.header(axum::http::header::CONTENT_TYPE),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = &r.body;
    for line in [
        "commander_node_online{node=\"1\",hostname=\"web-1\"} 1.0",
        "commander_node_online{node=\"2\",hostname=\"\"} 0.0",
        "commander_node_cpu_usage_percent{node=\"1\",hostname=\"web-1\"} 12.5",
        "commander_node_load_average{node=\"1\",hostname=\"web-1\",period=\"15m\"} 1.0",
        "commander_node_memory_used_bytes{node=\"1\",hostname=\"web-1\"} 1610612736.0",
        "commander_node_tcp_established{node=\"1\",hostname=\"web-1\"} 42.0",
        "commander_master_nodes{state=\"online\"} 1.0",
        "commander_master_heartbeats_total 4321",
        "commander_master_sessions_total 5",
        "commander_master_samples_dropped_total 21",
        "commander_master_slave_connections_open 2.0",
        "commander_master_store_size_bytes{env=\"performance\"} 5368709120.0",
        "commander_audit_write_failures_total 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    e2e::promtool::assert_accepts(text);

    // A session (the console user) may read it too; a page-only cookie without CSRF is
    // fine for a GET.
    let r = app.send(Req::get("/metrics").bearer(&s.token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
