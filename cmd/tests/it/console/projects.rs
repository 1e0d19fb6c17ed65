//! The projects API through the router over the master's real projects service (memory
//! store, nodes 1–3, nothing observed): every route with its answer and its errors (400
//! naming the field, 401, 404, 409), the deploy webhook signed, unsigned, forged, replayed
//! and oversized without any session, the timeline as JSON and live over SSE, API token
//! scopes, and the audit trail.

use crate::console::common::*;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use master::projects::service::hmac_sha256_hex;
use serde_json::{Value, json};
use tower::ServiceExt;

fn web() -> Value {
    json!({
        "name": "web", "image": "app:v1", "replicas": 4, "container_port": 80,
        "env": ["MODE=prod"],
        "registry_auth": {"username": "ci", "password": "hunter2-registry"},
        "health": {"type": "http", "path": "/"},
        "gateway": {"node": 1, "port": 12225}
    })
}

async fn create(app: &TestApp, s: &Session, body: &Value) -> Value {
    let r = app
        .send(Req::post("/api/v1/projects").bearer(&s.token).json(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()
}

fn error_of(r: &Reply) -> String {
    r.json()["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_project_route_answers_in_the_issues_shape() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let created = create(&app, &s, &web()).await;
    assert_eq!(created["name"], "web");
    assert_eq!(created["image"], "app:v1");
    assert_eq!(created["revision"], 1);
    assert_eq!(created["replicas_desired"], 4);
    assert_eq!(created["status"], "deploying");
    assert_eq!(created["replicas"], json!([]));
    assert_eq!(
        created["gateway"],
        json!({"node": 1, "port": 12225, "upstreams": []})
    );
    let secret = created["webhook_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64, "{created}");

    let list = call(&app, &s, Method::GET, "/api/v1/projects", None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.json().as_array().unwrap().len(), 1);
    let one = call(&app, &s, Method::GET, "/api/v1/projects/web", None).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    let shown = one.json();
    for field in [
        "name",
        "image",
        "revision",
        "replicas_desired",
        "status",
        "replicas",
        "gateway",
    ] {
        assert!(shown.get(field).is_some(), "{field} missing: {shown}");
    }
    assert!(!one.body.contains(&secret), "the secret is shown once");

    // `{"image"}` starts an update: a new revision.
    let r = call(
        &app,
        &s,
        Method::PUT,
        "/api/v1/projects/web",
        Some(json!({"image": "app:v2"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.json()["revision"].clone(), r.json()["status"].clone()),
        (json!(2), json!("updating"))
    );
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/projects/web/scale",
        Some(json!({"replicas": 6})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["replicas_desired"], 6);

    let r = call(
        &app,
        &s,
        Method::GET,
        "/api/v1/projects/web/revisions",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let revisions = r.json();
    assert_eq!(revisions[0]["revision"], 1);
    assert_eq!(revisions[0]["current"], false);
    assert_eq!(revisions[1]["spec"]["image"], "app:v2");
    assert_eq!(revisions[1]["current"], true);
    assert_eq!(revisions[1]["spec"]["registry_auth"]["username"], "ci");
    assert!(
        !r.body.contains("hunter2"),
        "no registry password: {}",
        r.body
    );

    let r = call(&app, &s, Method::POST, "/api/v1/projects/web/pause", None).await;
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (StatusCode::OK, json!("paused"))
    );
    let r = call(&app, &s, Method::POST, "/api/v1/projects/web/pause", None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = call(&app, &s, Method::POST, "/api/v1/projects/web/resume", None).await;
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (StatusCode::OK, json!("updating"))
    );
    let r = call(&app, &s, Method::POST, "/api/v1/projects/web/resume", None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "nothing paused: {}", r.body);
    let r = call(&app, &s, Method::POST, "/api/v1/projects/web/promote", None).await;
    assert_eq!(r.status, StatusCode::OK, "a rollout under way: {}", r.body);
    let r = call(&app, &s, Method::POST, "/api/v1/projects/web/promote", None).await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "promoted already: {}",
        r.body
    );

    // Rollback: to a missing revision 404; with no body, to the previous one.
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/projects/web/rollback",
        Some(json!({"revision": 7})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = app
        .send(Req::post("/api/v1/projects/web/rollback").bearer(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.json()["revision"].clone(), r.json()["status"].clone()),
        (json!(1), json!("rolling_back"))
    );
    assert_eq!(r.json()["image"], "app:v1");

    let r = call(&app, &s, Method::DELETE, "/api/v1/projects/web", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = call(&app, &s, Method::GET, "/api/v1/projects/web", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    let trail: Vec<(String, String)> = app
        .audit(&s, "action=project&limit=100")
        .await
        .iter()
        .rev()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("project.create", "ok"),
        ("project.update", "ok"),
        ("project.scale", "ok"),
        ("project.pause", "ok"),
        ("project.pause", "denied"),
        ("project.resume", "ok"),
        ("project.resume", "denied"),
        ("project.promote", "ok"),
        ("project.promote", "denied"),
        ("project.rollback", "failed"),
        ("project.rollback", "ok"),
        ("project.delete", "ok"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
        .collect();
    assert_eq!(trail, expected);
    let entry = &app.audit(&s, "action=project.create").await[0];
    assert_eq!(
        (entry["user"].as_str(), entry["target"].as_str()),
        (Some(USER), Some("project/web"))
    );
    assert!(!entry.to_string().contains("hunter2"));
}

#[tokio::test]
async fn bad_requests_name_the_field_and_conflicts_and_unknown_names_are_refused() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let post = |body: Value| Req::post("/api/v1/projects").bearer(&s.token).json(&body);
    let cases = [
        (
            json!({"name": "web", "image": "app:v1", "container_port": 80}),
            "replicas",
        ),
        (
            json!({"name": "Web!", "image": "app:v1", "replicas": 1, "container_port": 80}),
            "name",
        ),
        (
            json!({"name": "web", "image": "app:v1", "replicas": 1, "container_port": 0}),
            "container_port",
        ),
        (
            json!({"name": "web", "image": "app:v1", "replicas": 1, "container_port": 80, "imgae": "x"}),
            "imgae",
        ),
        (
            json!({"name": "web", "image": "app:v1", "replicas": 1, "container_port": 80,
                "health": {"type": "http", "path": "nope"}}),
            "health.path",
        ),
        (
            json!({"name": "web", "image": "app:v1", "replicas": 1, "container_port": 80,
                "gateway": {"node": 9, "port": 80}}),
            "gateway.node",
        ),
        (
            json!({"name": "web", "image": "app:v1", "replicas": 1, "container_port": 80,
                "gateway": {"node": 1, "port": 80, "allow": ["10.0.0.0/99"]}}),
            "gateway.allow[0]",
        ),
    ];
    for (body, field) in cases {
        let r = app.send(post(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert!(
            error_of(&r).contains(field),
            "{field} not named: {}",
            r.body
        );
    }
    let r = app
        .send(
            Req::post("/api/v1/projects")
                .bearer(&s.token)
                .raw("text/plain", "{}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.body);
    let r = app
        .send(
            Req::post("/api/v1/projects")
                .bearer(&s.token)
                .raw("application/json", "{not json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);

    create(&app, &s, &web()).await;
    // The name is taken; the gateway port is taken on node 1 but free on node 2.
    let mut again = web();
    again["gateway"]["node"] = json!(2);
    let r = app.send(post(again)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let mut api = web();
    api["name"] = json!("api");
    let r = app.send(post(api.clone())).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(error_of(&r).contains("port 12225"), "{}", r.body);
    api["gateway"]["node"] = json!(2);
    app.send(post(api)).await;
    let r = call(
        &app,
        &s,
        Method::PUT,
        "/api/v1/projects/api",
        Some(json!({"gateway": {"node": 1, "port": 12225}})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "moving onto a taken port: {}",
        r.body
    );
    let r = call(
        &app,
        &s,
        Method::PUT,
        "/api/v1/projects/api",
        Some(json!({"replicas": 100000})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(error_of(&r).starts_with("replicas:"), "{}", r.body);
    let r = call(
        &app,
        &s,
        Method::PUT,
        "/api/v1/projects/api",
        Some(json!({"name": "other"})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "the name cannot change: {}",
        r.body
    );
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/projects/api/scale",
        Some(json!({"replicas": -1})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(error_of(&r).contains("replicas"), "{}", r.body);
    let r = call(
        &app,
        &s,
        Method::POST,
        "/api/v1/projects/api/rollback",
        Some(json!({"revison": 1})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = call(&app, &s, Method::POST, "/api/v1/projects/api/promote", None).await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "nothing to promote: {}",
        r.body
    );

    // Every route of an unknown project: 404 `{"error"}`.
    let routes = [
        (Method::GET, "/api/v1/projects/nope", None),
        (
            Method::PUT,
            "/api/v1/projects/nope",
            Some(json!({"replicas": 1})),
        ),
        (Method::DELETE, "/api/v1/projects/nope", None),
        (
            Method::POST,
            "/api/v1/projects/nope/scale",
            Some(json!({"replicas": 1})),
        ),
        (
            Method::POST,
            "/api/v1/projects/nope/rollback",
            Some(json!({})),
        ),
        (Method::POST, "/api/v1/projects/nope/pause", None),
        (Method::POST, "/api/v1/projects/nope/resume", None),
        (Method::POST, "/api/v1/projects/nope/promote", None),
        (Method::GET, "/api/v1/projects/nope/revisions", None),
        (Method::GET, "/api/v1/projects/nope/events", None),
    ];
    for (method, path, body) in routes {
        let r = call(&app, &s, method.clone(), path, body).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.body
        );
        assert!(error_of(&r).contains("nope"), "{}", r.body);
        // And without credentials: 401 before anything else.
        let r = app.send(Req::new(method.clone(), path)).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {}",
            r.body
        );
    }
}

fn signed(secret: &str, body: &str) -> String {
    format!(
        "sha256={}",
        hmac_sha256_hex(secret.as_bytes(), body.as_bytes()).unwrap()
    )
}

fn hook(body: &str, signature: Option<&str>) -> Req {
    let req = Req::post("/api/v1/projects/web/webhook")
        .from("203.0.113.5:5000")
        .raw("application/json", body.to_owned());
    match signature {
        Some(sig) => req.header("x-commander-signature", sig),
        None => req,
    }
}

#[tokio::test]
async fn the_deploy_webhook_needs_a_fresh_signature_and_no_session() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let secret = create(&app, &s, &web()).await["webhook_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = r#"{"image": "app:v2"}"#;

    let r = app.send(hook(body, None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "unsigned: {}", r.body);
    let forged = signed("not the secret", body);
    let r = app.send(hook(body, Some(&forged))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "forged: {}", r.body);
    let r = app
        .send(hook(r#"{"image": "evil:1"}"#, Some(&signed(&secret, body))))
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "another body: {}",
        r.body
    );

    // Signed: no cookie, no token, and the rollout starts.
    let r = app.send(hook(body, Some(&signed(&secret, body)))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.json()["revision"].clone(), r.json()["image"].clone()),
        (json!(2), json!("app:v2"))
    );
    let r = app.send(hook(body, Some(&signed(&secret, body)))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "replayed: {}", r.body);
    assert!(error_of(&r).contains("replay"), "{}", r.body);

    // Signed but malformed: 400 naming the body; longer than 4 KiB: refused unread.
    let bad = r#"{"image": "a b"}"#;
    let r = app.send(hook(bad, Some(&signed(&secret, bad)))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let long = format!(r#"{{"image": "app:v3", "pad": "{}"}}"#, "x".repeat(5000));
    let r = app.send(hook(&long, Some(&signed(&secret, &long)))).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert!(r.json()["error"].is_string());
    // An unknown project is no oracle for signatures: 404 only after the check of the
    // header's shape, which passes here.
    let r = app
        .send(
            Req::post("/api/v1/projects/nope/webhook")
                .raw("application/json", body)
                .header("x-commander-signature", &signed(&secret, body)),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    let calls: Vec<(String, String, String)> = app
        .audit(&s, "action=project.webhook&limit=50")
        .await
        .iter()
        .rev()
        .map(|e| {
            (
                e["user"].as_str().unwrap().to_owned(),
                e["client"].as_str().unwrap().to_owned(),
                e["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let results: Vec<&str> = calls.iter().map(|(_, _, r)| r.as_str()).collect();
    assert_eq!(
        results,
        [
            "denied", "denied", "denied", "ok", "denied", "denied", "denied", "failed"
        ],
        "every call audited: {calls:?}"
    );
    assert!(calls.iter().all(|(user, _, _)| user == "webhook"));
    assert_eq!(calls[0].1, "203.0.113.5", "the client address: {calls:?}");
}

async fn open_events(app: &TestApp, token: &str, path: &str) -> crate::console::sse_client::Events {
    let mut req = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "text/event-stream")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo::<std::net::SocketAddr>(CLIENT.parse().unwrap()));
    let response = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    crate::console::sse_client::Events::new(response)
}

#[tokio::test]
async fn the_timeline_is_json_and_streams_live_over_sse() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    create(&app, &s, &web()).await;
    let r = call(&app, &s, Method::GET, "/api/v1/projects/web/events", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()[0]["kind"], "created");
    assert_eq!(r.json()[0]["revision"], 1);

    let mut events = open_events(&app, &s.token, "/api/v1/projects/web/events").await;
    let timeline = events.expect("timeline").await;
    assert_eq!(timeline.as_array().unwrap().len(), 1);
    // Another project's events are not this stream's.
    let mut api = web();
    api["name"] = json!("api");
    api["gateway"]["port"] = json!(8080);
    create(&app, &s, &api).await;
    call(
        &app,
        &s,
        Method::POST,
        "/api/v1/projects/web/scale",
        Some(json!({"replicas": 2})),
    )
    .await;
    let scaled = events.expect("event").await;
    assert_eq!(scaled["kind"], "scaled");
    assert_eq!(scaled["message"], "4 → 2 replicas");
    call(
        &app,
        &s,
        Method::PUT,
        "/api/v1/projects/web",
        Some(json!({"image": "app:v2"})),
    )
    .await;
    let updated = events.expect("event").await;
    assert_eq!(
        (updated["kind"].clone(), updated["revision"].clone()),
        (json!("updated"), json!(2))
    );
    call(&app, &s, Method::DELETE, "/api/v1/projects/web", None).await;
    assert_eq!(events.expect("event").await["kind"], "deleted");
}

async fn token(app: &TestApp, s: &Session, scope: &str) -> String {
    let r =
        app.send(Req::post("/api/v1/tokens").bearer(&s.token).json(
            &json!({"name": format!("ci {scope}"), "scopes": [scope], "expires_in_days": 1}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn api_tokens_read_with_read_and_change_with_operate() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    create(&app, &s, &web()).await;
    let read = token(&app, &s, "read").await;
    let operate = token(&app, &s, "operate").await;
    for path in [
        "/api/v1/projects",
        "/api/v1/projects/web",
        "/api/v1/projects/web/revisions",
        "/api/v1/projects/web/events",
        "/api/v1/gateways",
    ] {
        let r = app.send(Req::get(path).bearer(&read)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    }
    let changes = [
        (
            Method::POST,
            "/api/v1/projects/web/scale",
            Some(json!({"replicas": 3})),
        ),
        (
            Method::PUT,
            "/api/v1/projects/web",
            Some(json!({"replicas": 3})),
        ),
        (
            Method::POST,
            "/api/v1/gateways",
            Some(json!({"name": "edge", "node": 2, "port": 80, "upstreams": ["10.0.0.1:80"]})),
        ),
        (Method::DELETE, "/api/v1/projects/web", None),
    ];
    for (method, path, body) in changes {
        let req = Req::new(method.clone(), path).bearer(&read);
        let req = match &body {
            Some(b) => req.json(b),
            None => req,
        };
        let r = app.send(req).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            r.body
        );
        assert!(error_of(&r).contains("operate scope"), "{}", r.body);
        let req = Req::new(method.clone(), path).bearer(&operate);
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        let r = app.send(req).await;
        assert!(
            r.status.is_success(),
            "{method} {path} with operate: {}",
            r.body
        );
    }
    let scaled = app.audit(&s, "action=project.scale").await;
    assert!(
        scaled[0]["via"].as_str().unwrap().starts_with("token:"),
        "attributed to the token: {}",
        scaled[0]
    );
}

#[tokio::test]
async fn a_stream_that_fell_behind_gets_the_whole_timeline_again() {
    use model::project::api::{ProjectEvent, ProjectEventKind};
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    create(&app, &s, &web()).await;
    let mut events = open_events(&app, &s.token, "/api/v1/projects/web/events").await;
    assert_eq!(events.expect("timeline").await.as_array().unwrap().len(), 1);
    // More than the live buffer holds, while the client reads nothing.
    for i in 0..300 {
        app.projects.events().push(
            "web",
            ProjectEvent {
                at_ms: START_MS + i,
                kind: ProjectEventKind::Scheduled,
                revision: Some(1),
                node: Some(1 + i % 3),
                replica: Some(format!("web-1-{i}")),
                message: String::new(),
            },
        );
    }
    let timeline = events.expect("timeline").await;
    assert_eq!(
        timeline.as_array().unwrap().len(),
        301,
        "the events it lost are in it"
    );
    assert_eq!(timeline[300]["replica"], "web-1-299");
    assert_eq!(events.expect("event").await["kind"], "scheduled");
}

#[tokio::test]
async fn timelines_stop_streaming_when_the_master_closes_live_views() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    create(&app, &s, &web()).await;
    let mut events = open_events(&app, &s.token, "/api/v1/projects/web/events").await;
    events.expect("timeline").await;
    app.projects.events().close();
    assert!(events.next().await.is_none(), "the stream ends");
    let r = app
        .send(
            Req::get("/api/v1/projects/web/events")
                .bearer(&s.token)
                .header("accept", "text/event-stream"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    // The timeline itself is still there.
    let r = call(&app, &s, Method::GET, "/api/v1/projects/web/events", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
