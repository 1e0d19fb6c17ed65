//! `GET/POST /api/v1/gateways` and `PUT/DELETE /api/v1/gateways/{name}` through the router
//! over the master's real services: project and standalone gateways listed together with
//! their stats (`null` before a report), ports unique per node across both kinds (409),
//! unknown nodes and malformed upstreams (400 naming the field), unknown names (404), and
//! the audit trail.

use crate::console::common::*;
use axum::http::{Method, StatusCode};
use model::project::api::{GatewayStats, UpstreamStats};
use serde_json::{Value, json};

fn edge() -> Value {
    json!({"name": "edge", "node": 2, "port": 8443, "upstreams": ["10.0.0.5:8080", "10.0.0.6:8080"],
           "algorithm": "least_conn", "deny": ["192.0.2.0/24"], "max_conns_per_ip": 50})
}

#[tokio::test]
async fn gateways_are_listed_created_changed_and_removed() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let r = call(&app, &s, Method::GET, "/api/v1/gateways", None).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!([])));
    let project = json!({"name": "web", "image": "app:v1", "replicas": 2, "container_port": 80,
                         "gateway": {"node": 1, "port": 12225}});
    let r = call(&app, &s, Method::POST, "/api/v1/projects", Some(project)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let r = call(&app, &s, Method::POST, "/api/v1/gateways", Some(edge())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let created = r.json();
    assert_eq!(created["kind"], "standalone");
    assert_eq!(created["algorithm"], "least_conn");
    assert_eq!(created["deny"], json!(["192.0.2.0/24"]));
    assert_eq!(created["stats"], Value::Null);

    app.observed.stats.lock().unwrap().insert(
        "project/web".into(),
        GatewayStats {
            serving: true,
            message: String::new(),
            active_conns: 3,
            total_conns: 40,
            refused_conns: 1,
            bytes_in: 1000,
            bytes_out: 9000,
            upstreams: vec![UpstreamStats {
                addr: "10.1.0.2:32768".into(),
                healthy: true,
                active_conns: 3,
                total_conns: 40,
            }],
            reported_ms: START_MS,
        },
    );
    let r = call(&app, &s, Method::GET, "/api/v1/gateways", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = r.json();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list[0]["name"], "project/web");
    assert_eq!(list[0]["kind"], "project");
    assert_eq!(list[0]["project"], "web");
    assert_eq!(
        (list[0]["node"].clone(), list[0]["port"].clone()),
        (json!(1), json!(12225))
    );
    assert_eq!(list[0]["stats"]["upstreams"][0]["healthy"], true);
    assert_eq!(list[0]["stats"]["refused_conns"], 1);
    assert_eq!(list[1]["name"], "edge");
    assert_eq!(
        list[1]["upstreams"],
        json!(["10.0.0.5:8080", "10.0.0.6:8080"])
    );
    assert_eq!(list[1]["stats"], Value::Null, "null before any report");

    let r = call(
        &app,
        &s,
        Method::PUT,
        "/api/v1/gateways/edge",
        Some(json!({"upstreams": ["10.0.0.7:80"], "max_conns_per_ip": null})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["upstreams"], json!(["10.0.0.7:80"]));
    assert_eq!(r.json()["max_conns_per_ip"], Value::Null);
    assert_eq!(r.json()["port"], 8443, "kept");

    let r = call(&app, &s, Method::DELETE, "/api/v1/gateways/edge", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = call(&app, &s, Method::GET, "/api/v1/gateways", None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);

    let trail: Vec<String> = app
        .audit(&s, "action=gateway")
        .await
        .iter()
        .rev()
        .map(|e| {
            format!(
                "{} {} {}",
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
                e["result"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        trail,
        [
            "gateway.create gateway/edge ok",
            "gateway.update gateway/edge ok",
            "gateway.delete gateway/edge ok"
        ]
    );
}

#[tokio::test]
async fn gateway_errors_are_400_naming_the_field_409_for_a_taken_port_and_404() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let project = json!({"name": "web", "image": "app:v1", "replicas": 2, "container_port": 80,
                         "gateway": {"node": 1, "port": 12225}});
    call(&app, &s, Method::POST, "/api/v1/projects", Some(project)).await;
    let r = call(&app, &s, Method::POST, "/api/v1/gateways", Some(edge())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let with = |change: &dyn Fn(&mut Value)| {
        let mut g = edge();
        g["name"] = json!("other");
        change(&mut g);
        g
    };
    let bad = [
        (with(&|g| g["node"] = json!(9)), "node"),
        (with(&|g| g["name"] = json!("No Name")), "name"),
        (with(&|g| g["port"] = json!(0)), "port"),
        (with(&|g| g["upstreams"] = json!([])), "upstreams"),
        (
            with(&|g| g["upstreams"] = json!(["10.0.0.1:80", "example.com:80"])),
            "upstreams[1]",
        ),
        (with(&|g| g["allow"] = json!(["300.0.0.0/8"])), "allow[0]"),
        (
            with(&|g| g["max_conns_per_ip"] = json!(0)),
            "max_conns_per_ip",
        ),
        (with(&|g| g["colour"] = json!("red")), "colour"),
    ];
    for (body, field) in bad {
        let r = call(
            &app,
            &s,
            Method::POST,
            "/api/v1/gateways",
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains(field), "{field} not named: {error}");
    }
    // Taken: the name; the port on node 2 (standalone) and on node 1 (a project's).
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/gateways",
        Some(with(&|g| g["name"] = json!("edge"))),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/gateways",
        Some(with(&|_| {})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/gateways",
        Some(with(&|g| {
            g["node"] = json!(1);
            g["port"] = json!(12225);
        })),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("project"), "{}", r.body);
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/gateways",
        Some(with(&|g| g["node"] = json!(3))),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "the same port on another node: {}",
        r.body
    );
    // A project may not take a standalone gateway's port either.
    let r = call(
        &app,
        &s,
        Method::PUT,
        "/api/v1/projects/web",
        Some(json!({"gateway": {"node": 2, "port": 8443}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = call(
        &app,
        &s,
        Method::PUT,
        "/api/v1/gateways/edge",
        Some(json!({"node": 3})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = call(
        &app,
        &s,
        Method::PUT,
        "/api/v1/gateways/edge",
        Some(json!({"upstreams": ["nowhere"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("upstreams[0]"), "{}", r.body);
    let r = call(
        &app,
        &s,
        Method::PUT,
        "/api/v1/gateways/edge",
        Some(json!({"name": "renamed"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);

    for (method, body) in [
        (Method::PUT, Some(json!({"port": 1}))),
        (Method::DELETE, None),
    ] {
        let r = call(&app, &s, method.clone(), "/api/v1/gateways/nope", body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}: {}", r.body);
        let r = app
            .send(Req::new(method.clone(), "/api/v1/gateways/nope"))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method}: {}", r.body);
    }
    for method in [Method::GET, Method::POST] {
        let r = app.send(Req::new(method.clone(), "/api/v1/gateways")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method}: {}", r.body);
    }
}
