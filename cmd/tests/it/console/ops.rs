//! The operations API through the router and the master's operations service, over a fake
//! [`master::services::NodeDispatch`]: validation before anything is sent, the error
//! mapping, tasks, the audit entry of every call, uploads,
//! event streams, and registry credentials that never come back out.

use crate::console::common::*;
use crate::console::ops_fake::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use model::ops::OpFailure;
use protocol::RequestBody;
use protocol::ops::docker::DockerOp;
use protocol::ops::docker_reply::{DockerReply, LogBatch, LogEntry, LogStream};
use protocol::ops::host::{HostOp, HostReply};
use protocol::ops::{ErrorKind, OpError};
use serde_json::{Value, json};
use std::sync::Arc;

const C: &str = "/api/v1/nodes/1/docker/containers";

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field_and_nothing_is_sent() {
    let ops = FakeOps::ok();
    let app = App::new(Arc::clone(&ops)).await;
    let cases: Vec<(Method, String, Option<Value>, &str)> = vec![
        (
            Method::POST,
            C.into(),
            Some(json!({"image": "busybox", "ports": ["8080:80/tcp", "99999:80"]})),
            "ports[1]",
        ),
        (
            Method::POST,
            C.into(),
            Some(json!({"image": "busybox", "port": ["80:80"]})),
            "port",
        ),
        (
            Method::POST,
            C.into(),
            Some(json!({"image": "busybox", "env": ["=x"]})),
            "env[0]",
        ),
        (
            Method::POST,
            C.into(),
            Some(json!({"image": "busybox", "labels": {"-x": "1"}})),
            "labels.-x",
        ),
        (
            Method::POST,
            "/api/v1/nodes/1/processes/0/signal".into(),
            Some(json!({})),
            "pid",
        ),
        (
            Method::POST,
            "/api/v1/nodes/1/processes/7/signal".into(),
            Some(json!({"signal": 99})),
            "signal",
        ),
        (Method::GET, format!("{C}/web/logs?tail=-1"), None, "tail"),
        (Method::GET, format!("{C}/-bad"), None, "id"),
        (
            Method::POST,
            format!("{C}/web/rename"),
            Some(json!({"name": "a b"})),
            "name",
        ),
        (
            Method::PUT,
            "/api/v1/nodes/1/hosts".into(),
            Some(json!({"content": "10.0.0.1 db\n"})),
            "content",
        ),
        (
            Method::GET,
            "/api/v1/nodes/1/processes?sort=name".into(),
            None,
            "sort",
        ),
        (
            Method::POST,
            "/api/v1/nodes/1/docker/images".into(),
            Some(json!({"reference": "Not Valid"})),
            "reference",
        ),
        (
            Method::POST,
            "/api/v1/nodes/1/docker/networks".into(),
            Some(json!({"name": "n1", "internal": "yes"})),
            "internal",
        ),
    ];
    for (method, path, body, field) in &cases {
        let (status, answer) = app.send(method.clone(), path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {answer}");
        assert_eq!(answer["field"], *field, "{method} {path}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(field),
            "{method} {path}: {answer}"
        );
    }
    // A body that is not JSON at all is refused (and recorded) the same way.
    let req = Request::builder()
        .method(Method::PUT)
        .uri("/api/v1/nodes/1/hosts")
        .header("authorization", format!("Bearer {}", app.token))
        .header("content-type", "application/json")
        .body(Body::from("{\"content\": "))
        .unwrap();
    let (status, _, text) = app.raw(req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("invalid body"), "{text}");
    assert!(ops.sent().is_empty(), "sent: {:?}", ops.sent());
    let audit = app.audit().await;
    assert_eq!(audit.len(), cases.len() + 1, "{audit:#?}");
    assert!(audit.iter().all(|e| e["result"] == "denied"), "{audit:#?}");
    assert_eq!(audit[0]["action"], "docker.create_container");
    assert_eq!(audit[4]["action"], "host.signal");
    assert_eq!(audit[4]["target"], "node/1/process/0");
}

#[tokio::test]
async fn failures_map_to_statuses() {
    let failures = [
        (OpFailure::UnknownNode(1), StatusCode::NOT_FOUND),
        (OpFailure::Offline(1), StatusCode::SERVICE_UNAVAILABLE),
        (
            OpFailure::OldProtocol {
                node: 1,
                version: 1,
            },
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (OpFailure::TimedOut, StatusCode::GATEWAY_TIMEOUT),
        (OpFailure::Failed("boom".into()), StatusCode::BAD_GATEWAY),
        (
            OpFailure::Op(OpError::new(ErrorKind::NotFound, "no such container")),
            StatusCode::NOT_FOUND,
        ),
        (
            OpFailure::Op(OpError::new(ErrorKind::Conflict, "is paused")),
            StatusCode::CONFLICT,
        ),
        (
            OpFailure::Op(OpError::new(ErrorKind::Refused, "pid 1")),
            StatusCode::FORBIDDEN,
        ),
        (
            OpFailure::Op(OpError::new(ErrorKind::Timeout, "deadline")),
            StatusCode::GATEWAY_TIMEOUT,
        ),
        (
            OpFailure::Op(OpError::new(ErrorKind::Unavailable, "no engine")),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            OpFailure::Op(OpError::new(ErrorKind::Failed, "engine error")),
            StatusCode::BAD_GATEWAY,
        ),
        (
            OpFailure::Op(OpError::invalid("ports[0]", "taken")),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (failure, status) in failures {
        let answer = failure.clone();
        let app = App::new(FakeOps::new(move |_| Err(answer.clone()))).await;
        let (got, body) = app.post(&format!("{C}/web/stop"), json!({})).await;
        assert_eq!(got, status, "{failure:?}: {body}");
        assert_eq!(body["error"], failure.to_string());
        let audit = app.audit().await;
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0]["result"], "failed");
        assert_eq!(audit[0]["detail"], failure.to_string());
    }
    // A malformed node id is unknown, answered without asking anyone.
    let ops = FakeOps::ok();
    let app = App::new(Arc::clone(&ops)).await;
    let (status, body) = app.get("/api/v1/nodes/x1/processes").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(ops.sent().is_empty());
}

#[tokio::test]
async fn every_call_leaves_one_audit_entry_with_its_fields() {
    let ops = FakeOps::new(|body| match body {
        RequestBody::Host(op) => match **op {
            HostOp::ListProcesses(_) => Ok(host_reply(HostReply::Processes(
                protocol::ops::host::ProcessPage {
                    total: 0,
                    offset: 0,
                    processes: vec![],
                    cpu_window_ms: 0,
                },
            ))),
            HostOp::Signal(ref s) => Ok(host_reply(HostReply::Signalled {
                pid: s.pid,
                signal: s.signal,
            })),
            _ => Err(OpFailure::Offline(1)),
        },
        _ => Ok(docker_reply(DockerReply::Done)),
    });
    let app = App::new(Arc::clone(&ops)).await;
    let (s, page) = app.get("/api/v1/nodes/1/processes?sort=rss&limit=10").await;
    assert_eq!((s, page["total"].clone()), (StatusCode::OK, json!(0)));
    let (s, body) = app
        .post(
            "/api/v1/nodes/1/processes/4242/signal",
            json!({"signal": "SIGTERM"}),
        )
        .await;
    assert_eq!(
        (s, body),
        (StatusCode::OK, json!({"pid": 4242, "signal": 15}))
    );
    let (s, _) = app
        .send(Method::DELETE, &format!("{C}/web?force=true"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app
        .post(&format!("{C}/web/kill?signal=SIGTERM"), json!({}))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.get("/api/v1/nodes/1/hosts").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let audit = app.audit().await;
    let summary: Vec<(String, String, String)> = audit
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["target"].as_str().unwrap().to_owned(),
                e["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = |a: &str, t: &str, r: &str| (a.to_owned(), t.to_owned(), r.to_owned());
    assert_eq!(
        summary,
        vec![
            expect("host.list_processes", "node/1/processes", "ok"),
            expect("host.signal", "node/1/process/4242", "ok"),
            expect("docker.remove_container", "node/1/container/web", "ok"),
            expect("docker.kill_container", "node/1/container/web", "ok"),
            expect("host.get_hosts", "node/1/hosts", "failed"),
        ]
    );
    for e in &audit {
        assert_eq!(e["user"], USER);
        assert_eq!(e["client"], CLIENT.split(':').next().unwrap());
        assert!(e["at_ms"].as_u64().unwrap() >= START_MS);
    }
    let sent = ops.sent();
    assert_eq!(sent.len(), 5);
    assert!(
        matches!(&sent[2], RequestBody::Docker(op) if **op == DockerOp::RemoveContainer { id: "web".into(), force: true, volumes: false })
    );
}

#[tokio::test]
async fn create_answers_the_id_or_a_task_when_the_image_must_be_pulled() {
    let present = FakeOps::new(|body| match body {
        RequestBody::Docker(op) => match **op {
            DockerOp::InspectImage { .. } => Ok(docker_reply(DockerReply::Images(Vec::new()))),
            DockerOp::CreateContainer(_) | DockerOp::Deploy(_) => {
                Ok(docker_reply(DockerReply::Created {
                    id: "c0ffee".into(),
                    warnings: vec![],
                    started: true,
                    pulled: false,
                }))
            }
            _ => Ok(docker_reply(DockerReply::Done)),
        },
        _ => Ok(docker_reply(DockerReply::Done)),
    });
    let app = App::new(Arc::clone(&present)).await;
    let form = json!({"image": "busybox:1", "name": "web", "cmd": ["httpd", "-f"],
        "env": ["A=1"], "ports": ["8080:80/tcp"], "restart": "unless-stopped"});
    let (status, body) = app.post(C, form.clone()).await;
    assert_eq!(
        (status, body["id"].clone()),
        (StatusCode::CREATED, json!("c0ffee")),
        "{body}"
    );
    let audit = app.audit().await;
    assert_eq!(audit.len(), 1, "the image probe is not a separate entry");
    assert_eq!(audit[0]["action"], "docker.create_container");
    assert_eq!(audit[0]["target"], "node/1/image/busybox:1");

    let absent = FakeOps::new(|body| match body {
        RequestBody::Docker(op) => match **op {
            DockerOp::InspectImage { .. } => Err(OpFailure::Op(OpError::new(
                ErrorKind::NotFound,
                "no such image",
            ))),
            _ => Ok(docker_reply(DockerReply::Created {
                id: "beef".into(),
                warnings: vec![],
                started: true,
                pulled: true,
            })),
        },
        _ => Ok(docker_reply(DockerReply::Done)),
    });
    let app = App::new(Arc::clone(&absent)).await;
    let (status, body) = app.post(C, form).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["task"].as_u64().unwrap();
    assert_eq!(body["href"], format!("/api/v1/tasks/{id}"));
    let (status, task) = app.get(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(task["state"], "succeeded");
    assert_eq!(task["action"], "docker.deploy");
    assert_eq!(task["result"]["id"], "beef");
    let (status, list) = app.get("/api/v1/tasks?state=succeeded&node=1").await;
    assert_eq!(
        (status, list.as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
    let (status, body) = app.get("/api/v1/tasks?state=done").await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("state"))
    );
    let (status, _) = app.get("/api/v1/tasks/999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The task's audit entry is written when it ends.
    let audit = wait_audit(&app, 1).await;
    assert_eq!(audit[0]["action"], "docker.deploy");
    assert_eq!(audit[0]["result"], "ok");
    assert_eq!(audit[0]["detail"], format!("task {id}"));
}

#[tokio::test]
async fn registry_credentials_never_come_back_out() {
    const SECRET: &str = "s3cret-registry-pass";
    let ops = FakeOps::ok();
    let app = App::new(Arc::clone(&ops)).await;
    let auth = json!({"server": "registry.example:5000", "username": "bot", "password": SECRET});
    let (status, body) = app
        .post(
            "/api/v1/nodes/1/docker/images",
            json!({"reference": "registry.example:5000/app:1", "auth": auth}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let mut seen = String::new();
    seen.push_str(&body.to_string());
    let (status, body) = app
        .post(C, json!({"image": "app:1", "pull": "always", "auth": auth}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    seen.push_str(&body.to_string());
    let bad = json!({"username": "bot", "password": format!("{SECRET}\u{7}")});
    let (status, body) = app
        .post(
            "/api/v1/nodes/1/docker/images",
            json!({"reference": "app:1", "auth": bad}),
        )
        .await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("auth.password"))
    );
    seen.push_str(&body.to_string());
    seen.push_str(&app.get("/api/v1/tasks").await.1.to_string());
    seen.push_str(&app.get("/api/v1/tasks/1").await.1.to_string());
    seen.push_str(
        &wait_audit(&app, 3)
            .await
            .iter()
            .map(Value::to_string)
            .collect::<String>(),
    );
    assert!(!seen.contains(SECRET), "{seen}");
    // The slave does get them.
    let passed = ops.sent().iter().any(|b| matches!(b, RequestBody::Docker(op)
        if matches!(&**op, DockerOp::PullImage(p) if p.auth.as_ref().is_some_and(|a| a.password == SECRET))));
    assert!(passed);
}

#[tokio::test]
async fn an_import_streams_the_body_and_answers_a_task() {
    let ops = FakeOps::new(|_| Ok(docker_reply(DockerReply::Imported(vec!["img:1".into()]))));
    let app = App::new(Arc::clone(&ops)).await;
    let tarball: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let request = |path: &str, body: Vec<u8>, length: bool| {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("authorization", format!("Bearer {}", app.token))
            .header("content-type", "application/x-tar");
        if length {
            b = b.header("content-length", body.len());
        }
        b.body(Body::from(body)).unwrap()
    };
    let path = "/api/v1/nodes/1/docker/images/import?repo=img&tag=1";
    let (status, _, body) = app.raw(request(path, tarball.clone(), true)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(*ops.uploaded.lock().unwrap(), tarball);
    let task: Value = serde_json::from_str(&body).unwrap();
    let (_, task) = app.get(&format!("/api/v1/tasks/{}", task["task"])).await;
    assert_eq!(task["result"], json!(["img:1"]));
    assert_eq!(task["progress"]["upload_bytes"], 300_000);
    let (status, _, body) = app.raw(request(path, tarball.clone(), false)).await;
    assert_eq!(status, StatusCode::LENGTH_REQUIRED, "{body}");
    let path = "/api/v1/nodes/1/docker/images/import?tag=1";
    let (status, _, body) = app.raw(request(path, tarball, true)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let audit = wait_audit(&app, 3).await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["docker.import_image"; 3]);
}

#[tokio::test]
async fn a_followed_log_is_an_event_stream() {
    let ops = FakeOps::ok();
    let app = App::new(Arc::clone(&ops)).await;
    let req = Request::builder()
        .uri(format!("{C}/web/logs?follow=true&tail=10"))
        .header("authorization", format!("Bearer {}", app.token))
        .body(Body::empty())
        .unwrap();
    let (status, ctype, body) = app.raw(req).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/event-stream"), "{ctype}");
    assert_eq!(body.matches("event: logs").count(), 2, "{body}");
    assert!(body.contains("two\\n"), "{body}");
    assert!(
        body.contains("event: end") && body.contains("\"reason\":\"ended\""),
        "{body}"
    );
    let audit = app.audit().await;
    assert_eq!(
        (audit.len(), audit[0]["action"].clone()),
        (1, json!("docker.logs"))
    );
}

/// A log answer (not followed) is still `{"entries": [...]}` as `reply_value` gives it, now
/// written entry by entry (issue 11 finding 8); a few MB of entries arrive whole and in order.
#[tokio::test]
async fn a_log_answer_is_the_entries_document_in_order() {
    let entries: Vec<LogEntry> = (0..20_000)
        .map(|i| LogEntry {
            stream: if i % 2 == 0 {
                LogStream::Stdout
            } else {
                LogStream::Stderr
            },
            timestamp: Some(format!("2024-01-01T00:00:{:02}Z", i % 60)),
            text: format!("line {i:05} {}\n", "é".repeat(100)),
        })
        .collect();
    let reply = docker_reply(DockerReply::Logs(LogBatch {
        entries: entries.clone(),
    }));
    let expected = model::ops::reply_value(&reply);
    let ops = FakeOps::new(move |_| Ok(reply.clone()));
    let app = App::new(Arc::clone(&ops)).await;
    let req = Request::builder()
        .uri(format!("{C}/web/logs?tail=20000"))
        .header("authorization", format!("Bearer {}", app.token))
        .body(Body::empty())
        .unwrap();
    let (status, ctype, body) = app.raw(req).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("application/json"), "{ctype}");
    let got: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(got, expected);
    assert_eq!(
        got["entries"][19_999]["text"],
        entries[19_999].text.as_str()
    );
    let audit = wait_audit(&app, 1).await;
    assert_eq!(audit[0]["action"], "docker.logs");
}

fn log_request(app: &App) -> Request<Body> {
    let mut req = Request::builder()
        .uri(format!("{C}/web/logs"))
        .header("authorization", format!("Bearer {}", app.token))
        .body(Body::empty())
        .unwrap();
    let client: std::net::SocketAddr = CLIENT.parse().unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(client));
    req
}

/// `{"entries": [...]}`, typed (a 64 MiB log as a `serde_json::Value` would be huge).
type LogsDoc = std::collections::HashMap<String, Vec<LogEntry>>;

/// Issue 11 finding 8: a log of 64 MiB from a slave that streams logs (protocol 3) goes
/// through the master batch by batch as the client reads: at no point are more than
/// `LOG_WINDOW` batches sent beyond what the client has taken (plus the one in hand), and
/// the client gets every entry, in order, as the same `{"entries": [...]}` document.
#[tokio::test]
async fn a_64_mib_log_is_fed_batch_by_batch_as_the_client_reads() {
    use http_body_util::BodyExt;
    use protocol::ops::LOG_WINDOW;
    use std::sync::atomic::Ordering::SeqCst;
    use tower::ServiceExt;

    let log = Arc::new(FedLog {
        batches: 256,
        per_batch: 256,
        text_len: 1024,
        ..FedLog::default()
    });
    let ops = FakeOps::feeding(Arc::clone(&log));
    let app = App::new(Arc::clone(&ops)).await;
    let resp = app.router.clone().oneshot(log_request(&app)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let mut body = resp.into_body();
    let mut document = Vec::new();
    let mut pieces = 0u32;
    let mut peak_ahead = 0u32;
    while let Some(frame) = body.frame().await {
        let data = frame.unwrap().into_data().unwrap();
        document.extend_from_slice(&data);
        pieces += 1;
        // A slow client: give the slave every chance to run ahead before reading on.
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        let ahead = log.sent.load(SeqCst).saturating_sub(pieces);
        peak_ahead = peak_ahead.max(ahead);
        assert!(
            ahead <= LOG_WINDOW,
            "{ahead} batches sent beyond the {pieces} the client took"
        );
    }
    let text_bytes = 256u64 * 256 * 1024;
    assert_eq!(text_bytes, 64 << 20);
    assert!(document.len() as u64 > text_bytes);
    let doc: LogsDoc = serde_json::from_slice(&document).unwrap();
    assert_eq!(doc.len(), 1);
    let entries = &doc["entries"];
    assert_eq!(entries.len(), 256 * 256);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.text, log.text(i as u64), "entry {i}");
    }
    assert!(!log.cancelled.load(SeqCst));
    eprintln!(
        "{} bytes in {pieces} pieces; at most {peak_ahead} batches of 256 KiB ahead of the client",
        document.len()
    );
    let audit = wait_audit(&app, 1).await;
    assert_eq!(
        (audit[0]["action"].clone(), audit[0]["detail"].clone()),
        (json!("docker.logs"), json!("streamed"))
    );
}

/// The client going away cancels the log on the slave, and the slave stops sending.
#[tokio::test]
async fn a_fed_log_is_cancelled_when_the_client_goes_away() {
    use http_body_util::BodyExt;
    use protocol::ops::LOG_WINDOW;
    use std::sync::atomic::Ordering::SeqCst;
    use tower::ServiceExt;

    let log = Arc::new(FedLog {
        batches: 1_000,
        per_batch: 16,
        text_len: 100,
        ..FedLog::default()
    });
    let app = App::new(FakeOps::feeding(Arc::clone(&log))).await;
    let resp = app.router.clone().oneshot(log_request(&app)).await.unwrap();
    let mut body = resp.into_body();
    for _ in 0..3 {
        body.frame().await.unwrap().unwrap();
    }
    drop(body);
    assert!(log.cancelled.load(SeqCst));
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(log.sent.load(SeqCst) <= 3 + LOG_WINDOW);
}
