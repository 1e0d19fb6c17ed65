//! `GET /api/v1/tasks/events` through the router: tasks as JSON in the shape of
//! `GET /api/v1/tasks/{id}`, a `resync` after lagging, 503 without a task source.

use crate::console::common::*;
use crate::console::ops_fake::*;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use model::ops::{OpCall, TaskStart};
use model::task::{TaskRecord, TaskState};
use protocol::ops::docker::DockerOp;
use tower::ServiceExt;

fn task(id: u64) -> TaskRecord {
    let start = TaskStart {
        call: OpCall {
            node: 1,
            body: protocol::RequestBody::Docker(Box::new(DockerOp::Info)),
            timeout: std::time::Duration::from_secs(5),
        },
        user: USER.into(),
        client: "192.0.2.10".into(),
        target: "node/1".into(),
        upload: None,
    };
    TaskRecord::queued(id, &start, START_MS)
}

async fn open(app: &App) -> crate::console::sse_client::Events {
    let mut req = Request::builder()
        .uri("/api/v1/tasks/events")
        .header("authorization", format!("Bearer {}", app.token))
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo::<std::net::SocketAddr>(CLIENT.parse().unwrap()));
    let response = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    crate::console::sse_client::Events::new(response)
}

#[tokio::test]
async fn tasks_stream_in_the_shape_of_the_task_api_and_resync_after_lagging() {
    let ops = FakeOps::ok();
    let app = App::new(ops.clone()).await;
    let mut running = task(1);
    running.state = TaskState::Running;
    ops.tasks.lock().unwrap().insert(1, running.clone());
    let (status, one) = app.send(Method::GET, "/api/v1/tasks/1", None).await;
    assert_eq!(status, StatusCode::OK);

    let mut events = open(&app).await;
    ops.events.as_ref().unwrap().send(running).unwrap();
    assert_eq!(events.expect("task").await, one);

    // Six changes into room for four: the client is told to refetch.
    for id in 2..=7 {
        ops.events.as_ref().unwrap().send(task(id)).unwrap();
    }
    let (name, lost) = events.next().await.unwrap();
    assert_eq!((name.as_str(), lost.as_str()), ("resync", "2"));
    assert_eq!(events.expect("task").await["id"], 4);
}

#[tokio::test]
async fn without_a_task_source_the_stream_is_unavailable() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let r = app
        .send(Req::get("/api/v1/tasks/events").bearer(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.json()["error"].as_str().unwrap().contains("task events"));
}
