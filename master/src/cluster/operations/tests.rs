//! The operations backend against a simulated slave: endpoint events in, outbound messages
//! out, the in-memory store. Version gate, offline refusal, progress routing, streamed
//! answers, tasks (progress, result, persistence, timeout, restart), uploads in chunks,
//! cancellation of streams.

use super::*;
use crate::endpoint::{AuthVerdict, ControlEvent, OUTBOUND_QUEUE, Outbound};
use crate::store::MemoryStore;
use model::{ops::Upload, task::TaskState};
use protocol::ops::docker::{DockerOp, ImportRequest, ImportSource, PullRequest, RegistryAuth};
use protocol::ops::docker_reply::DockerReply;
use protocol::ops::host::{HostOp, HostReply};
use protocol::ops::{ErrorKind, OpError, Progress, ProgressEvent, PullProgress};
use protocol::{Hello, HelloAuth, Message, Request, RequestBody, Response};
use std::time::Duration;

struct Slave {
    cluster: Cluster,
    store: Arc<dyn Store>,
    node: u64,
    rx: async_channel::Receiver<Outbound>,
    /// The cluster's clock.
    clock: Arc<model::ManualClock>,
}

use crate::cluster::ClusterTiming;
use crate::store::Store;
use crate::test_fixtures::{
    auth, conn_with_queue, manual_clock, reopened, timing, token_secret, wait_until,
};

/// A cluster with one node whose session speaks `max_version` (a TTL of a minute: the
/// tests move time by a minute to time requests out, not the node).
async fn slave(max_version: u16) -> Slave {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let timing = ClusterTiming {
        ttl: Duration::from_secs(60),
        ..timing()
    };
    let clock = manual_clock();
    let cluster = Cluster::open(Arc::clone(&store), timing, clock.clone()).unwrap();
    let (conn, rx) = conn_with_queue(1, OUTBOUND_QUEUE);
    let hello = Hello {
        min_version: 1,
        max_version,
        auth: HelloAuth::Enroll {
            secret: token_secret(&cluster),
        },
        agent_version: "t".into(),
    };
    let AuthVerdict::Accept { node_id, .. } = auth(&cluster, conn, [7; 32], hello).await else {
        panic!("rejected")
    };
    Slave {
        cluster,
        store,
        node: node_id,
        rx,
        clock,
    }
}

impl Slave {
    async fn next(&self) -> Message {
        let out = tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
            .await
            .expect("nothing sent")
            .unwrap();
        match out {
            Outbound::Send(msg) => *msg,
            other => panic!("unexpected {other:?}"),
        }
    }

    async fn request(&self) -> Request {
        match self.next().await {
            Message::Request(r) => r,
            other => panic!("expected a request, got {}", other.name()),
        }
    }

    fn answer(&self, id: u64, body: ResponseBody) {
        self.cluster.handle(ControlEvent::Message {
            node_id: self.node,
            conn_id: 1,
            msg: Message::Response(Response { id, body }),
        });
    }

    fn progress(&self, id: u64, seq: u32, event: ProgressEvent) {
        self.answer(
            id,
            ResponseBody::Progress(Box::new(Progress { seq, event })),
        );
    }

    fn call(&self, body: RequestBody) -> OpCall {
        OpCall {
            node: self.node,
            body,
            timeout: Duration::from_secs(30),
        }
    }

    fn task(&self, body: RequestBody, upload: Option<Upload>) -> TaskStart {
        TaskStart {
            call: self.call(body),
            user: "admin".into(),
            client: "192.0.2.1".into(),
            target: format!("node/{}/image/x", self.node),
            upload,
        }
    }
}

fn docker(op: DockerOp) -> RequestBody {
    RequestBody::Docker(Box::new(op))
}

fn reply(r: DockerReply) -> ResponseBody {
    ResponseBody::Docker(Box::new(r))
}

#[tokio::test]
async fn old_sessions_unknown_and_offline_nodes_fail_at_once() {
    let s = slave(1).await;
    let info = docker(DockerOp::Info);
    let e = s.cluster.call_op(s.call(info.clone())).await.unwrap_err();
    assert_eq!(
        e,
        OpFailure::OldProtocol {
            node: s.node,
            version: 1
        }
    );
    assert!(s.rx.is_empty(), "nothing sent");
    let mut call = s.call(info.clone());
    call.node = 99;
    assert_eq!(
        s.cluster.call_op(call).await.unwrap_err(),
        OpFailure::UnknownNode(99)
    );
    let s = slave(2).await;
    s.cluster.handle(ControlEvent::Disconnected {
        node_id: s.node,
        conn_id: 1,
        reason: crate::endpoint::SessionEnd::ClosedByPeer,
    });
    let started = std::time::Instant::now();
    assert_eq!(
        s.cluster.call_op(s.call(info.clone())).await.unwrap_err(),
        OpFailure::Offline(s.node)
    );
    let e = s.cluster.start_task(s.task(info, None)).await.unwrap_err();
    assert_eq!(e, OpFailure::Offline(s.node));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(s.store.list_tasks(None, 10).unwrap().is_empty(), "no task");
}

#[tokio::test]
async fn calls_are_validated_answered_and_streamed_answers_decoded() {
    let s = slave(2).await;
    let bad = docker(DockerOp::StartContainer { id: "-x".into() });
    match s.cluster.call_op(s.call(bad)).await {
        Err(OpFailure::Op(e)) => assert_eq!(e.field.as_deref(), Some("id")),
        other => panic!("{other:?}"),
    }
    assert!(s.rx.is_empty(), "nothing sent for a bad argument");

    let cluster = s.cluster.clone();
    let call = s.call(RequestBody::Host(Box::new(HostOp::Disks)));
    let pending = tokio::spawn(async move { cluster.call_op(call).await });
    let req = s.request().await;
    assert_eq!(req.timeout_ms, 30_000);
    // A large answer arrives as a stream of chunks and is decoded.
    let body = ResponseBody::Host(Box::new(HostReply::Disks(Vec::new())));
    let bytes = protocol::encode_response_body(&body).unwrap();
    s.answer(
        req.id,
        ResponseBody::Streamed {
            total_len: bytes.len() as u64,
        },
    );
    s.cluster.handle(ControlEvent::Message {
        node_id: s.node,
        conn_id: 1,
        msg: Message::Chunk(protocol::Chunk {
            id: req.id,
            seq: 0,
            last: true,
            data: bytes,
        }),
    });
    assert_eq!(pending.await.unwrap(), Ok(body));

    let cluster = s.cluster.clone();
    let call = s.call(docker(DockerOp::Info));
    let pending = tokio::spawn(async move { cluster.call_op(call).await });
    let req = s.request().await;
    let err = OpError::new(ErrorKind::Unavailable, "no Docker Engine");
    s.answer(req.id, ResponseBody::Failed(Box::new(err.clone())));
    assert_eq!(pending.await.unwrap(), Err(OpFailure::Op(err)));
}

#[tokio::test]
async fn followed_logs_stream_progress_and_cancel_when_dropped() {
    let s = slave(2).await;
    let logs = docker(DockerOp::Logs(protocol::ops::docker::LogsQuery {
        id: "web".into(),
        follow: true,
        ..Default::default()
    }));
    let mut stream = s.cluster.stream_op(s.call(logs.clone())).unwrap();
    let req = s.request().await;
    let batch = protocol::ops::docker_reply::LogBatch::default();
    s.progress(req.id, 0, ProgressEvent::Logs(batch.clone()));
    s.progress(req.id, 1, ProgressEvent::Logs(batch));
    assert_eq!(stream.progress.recv().await.unwrap().seq, 0);
    assert_eq!(stream.progress.recv().await.unwrap().seq, 1);
    drop(stream);
    match s.request().await.body {
        RequestBody::Cancel { id } => assert_eq!(id, req.id),
        other => panic!("expected a cancel, got {other:?}"),
    }
    let end = DockerReply::LogsEnd {
        entries: 2,
        reason: protocol::ops::docker_reply::LogsEndReason::Cancelled,
    };
    s.answer(req.id, reply(end));

    // Shutting down ends a stream with an error and cancels it on the slave.
    let mut stream = s.cluster.stream_op(s.call(logs)).unwrap();
    let req = s.request().await;
    s.cluster.close_live();
    let outcome = tokio::time::timeout(Duration::from_secs(5), &mut stream.outcome)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(outcome, Err(OpFailure::Unavailable(_))));
    stream.finished();
    let next = s.request().await;
    assert!(
        matches!(next.body, RequestBody::Cancel { id } if id == req.id),
        "{next:?} {req:?}"
    );
    let e = s
        .cluster
        .call_op(s.call(docker(DockerOp::Info)))
        .await
        .unwrap_err();
    assert!(matches!(e, OpFailure::Unavailable(_)));
}

#[tokio::test]
async fn a_pull_task_reports_layers_and_its_result_and_is_stored() {
    let s = slave(2).await;
    let pull = docker(DockerOp::PullImage(PullRequest {
        reference: "busybox:1".into(),
        auth: Some(RegistryAuth {
            server: None,
            username: "u".into(),
            password: "s3cret-pass".into(),
        }),
    }));
    let handle = s.cluster.start_task(s.task(pull, None)).await.unwrap();
    let id = handle.task.id;
    let req = s.request().await;
    let layer = |status: &str, current| {
        ProgressEvent::Pull(PullProgress {
            layer: "abc".into(),
            status: status.into(),
            current,
            total: 100,
        })
    };
    s.progress(req.id, 0, layer("Downloading", 40));
    s.progress(req.id, 1, layer("Downloading", 80));
    wait_until("the driver applied the progress", || {
        s.cluster.ops_state().active_task(id).is_some_and(|t| {
            t.progress
                .layers
                .get("abc")
                .is_some_and(|l| l.current == 80)
        })
    })
    .await;
    let running = s.cluster.get_task(id).await.unwrap().unwrap();
    assert_eq!(running.state, TaskState::Running);
    assert_eq!(running.progress.layers["abc"].current, 80);
    let pulled = DockerReply::Pulled {
        reference: "busybox:1".into(),
        id: Some("sha256:1".into()),
    };
    s.answer(req.id, reply(pulled));
    let done = handle.done.await.unwrap();
    assert_eq!(done.state, TaskState::Succeeded);
    assert_eq!(done.result.as_ref().unwrap()["id"], "sha256:1");
    let stored = s.store.get_task(id).unwrap().unwrap();
    assert_eq!(stored, done);
    let listed = s
        .cluster
        .list_tasks(model::task::TaskQuery::default())
        .await
        .unwrap();
    assert_eq!(listed, vec![done.clone()]);
    let text = serde_json::to_string(&stored).unwrap();
    assert!(!text.contains("s3cret"), "{text}");
    assert_eq!(done.action, "docker.pull_image");
    assert_eq!(
        (done.user.as_str(), done.client.as_str()),
        ("admin", "192.0.2.1")
    );
}

#[tokio::test]
async fn task_changes_are_broadcast_with_progress_throttled() {
    let s = slave(2).await;
    let mut events = s.cluster.task_events().unwrap();
    let pull = docker(DockerOp::PullImage(PullRequest {
        reference: "busybox:1".into(),
        auth: None,
    }));
    let handle = s.cluster.start_task(s.task(pull, None)).await.unwrap();
    let id = handle.task.id;
    let req = s.request().await;
    let pull_progress = |seq: u32| {
        let update = ProgressEvent::Pull(PullProgress {
            layer: "abc".into(),
            status: "Downloading".into(),
            current: u64::from(seq),
            total: 100,
        });
        s.progress(req.id, seq, update);
    };
    let applied = |current: u64| {
        s.cluster.ops_state().active_task(id).is_some_and(|t| {
            t.progress
                .layers
                .get("abc")
                .is_some_and(|l| l.current == current)
        })
    };
    // Ten updates at once, then ten more after the throttle's period.
    (0..10).for_each(pull_progress);
    wait_until("the driver applied the first ten", || applied(9)).await;
    s.clock.advance(PUBLISH_EVERY);
    (10..20).for_each(pull_progress);
    wait_until("the driver applied all twenty", || applied(19)).await;
    s.answer(req.id, reply(DockerReply::Done));
    let done = handle.done.await.unwrap();
    let mut seen = Vec::new();
    while let Ok(task) = events.try_recv() {
        assert_eq!(task.id, id);
        seen.push(task);
    }
    let states: Vec<TaskState> = seen.iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        [
            TaskState::Queued,
            TaskState::Running,
            TaskState::Running,
            TaskState::Succeeded
        ],
        "a change of state at once, progress once per period"
    );
    assert_eq!(
        seen[2].progress.layers["abc"].current, 10,
        "the first update after the period"
    );
    assert_eq!(seen.last(), Some(&done), "the final record, as stored");
    // At shutdown the broadcast closes, so console streams end.
    s.cluster.close_live();
    assert!(s.cluster.task_events().is_none());
    assert!(matches!(
        events.recv().await,
        Err(tokio::sync::broadcast::error::RecvError::Closed)
    ));
}

#[tokio::test]
async fn tasks_time_out_fail_and_are_failed_after_a_restart() {
    let s = slave(2).await;
    let mut start = s.task(docker(DockerOp::Info), None);
    start.call.timeout = Duration::from_millis(10);
    let handle = s.cluster.start_task(start).await.unwrap();
    let _ = s.request().await;
    s.cluster.tick(s.cluster.now_ms() + 60_000);
    let done = handle.done.await.unwrap();
    assert_eq!(done.state, TaskState::TimedOut);
    assert_eq!(done.error.as_ref().unwrap().status, 504);

    let handle = s
        .cluster
        .start_task(s.task(docker(DockerOp::Info), None))
        .await
        .unwrap();
    let req = s.request().await;
    s.answer(
        req.id,
        ResponseBody::Failed(Box::new(OpError::new(ErrorKind::NotFound, "no such image"))),
    );
    let done = handle.done.await.unwrap();
    assert_eq!(done.state, TaskState::Failed);
    let e = done.error.unwrap();
    assert_eq!((e.status, e.kind.as_str()), (404, "not_found"));

    // A task the master never finished is failed when a new master reads the store.
    let handle = s
        .cluster
        .start_task(s.task(docker(DockerOp::Info), None))
        .await
        .unwrap();
    let _ = s.request().await; // sent: the driver saved it running
    let restarted = reopened(&s.cluster);
    let task = restarted.get_task(handle.task.id).await.unwrap().unwrap();
    assert_eq!(task.state, TaskState::Failed);
    assert!(task.error.unwrap().message.contains("interrupted"));
}

/// A task importing `data`, its request, and what the upload reports.
async fn import(
    s: &Slave,
    announced: u64,
) -> (
    TaskHandle,
    Request,
    tokio::sync::mpsc::Sender<axum::body::Bytes>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let op = docker(DockerOp::ImportImage(ImportRequest {
        source: ImportSource::RootFs {
            repo: "img".into(),
            tag: "1".into(),
        },
        total_len: announced,
    }));
    let upload = Upload {
        total_len: announced,
        data: rx,
    };
    let handle = s
        .cluster
        .start_task(s.task(op, Some(upload)))
        .await
        .unwrap();
    let req = s.request().await;
    (handle, req, tx)
}

#[tokio::test]
async fn uploads_go_in_chunks_and_a_short_one_fails_the_task() {
    let s = slave(2).await;
    let data: Vec<u8> = (0..600 * 1024).map(|i| (i % 251) as u8).collect();
    let (mut handle, req, tx) = import(&s, data.len() as u64).await;
    let feeder = {
        let data = data.clone();
        tokio::spawn(async move {
            for piece in data.chunks(100_000) {
                tx.send(axum::body::Bytes::copy_from_slice(piece))
                    .await
                    .unwrap();
            }
        })
    };
    let mut received = Vec::new();
    let mut seqs = Vec::new();
    loop {
        let Message::Chunk(c) = s.next().await else {
            panic!("expected a chunk")
        };
        assert_eq!(c.id, req.id);
        assert!(c.data.len() <= protocol::ops::CHUNK_SIZE);
        seqs.push(c.seq);
        received.extend_from_slice(&c.data);
        if c.last {
            break;
        }
    }
    feeder.await.unwrap();
    assert_eq!(received, data);
    assert_eq!(seqs, vec![0, 1, 2]);
    let uploaded = handle.uploaded.take().unwrap().await.unwrap();
    assert_eq!(uploaded, Ok(data.len() as u64));
    s.answer(req.id, reply(DockerReply::Imported(vec!["img:1".into()])));
    let done = handle.done.await.unwrap();
    assert_eq!(done.state, TaskState::Succeeded);
    assert_eq!(done.progress.uploaded_bytes, data.len() as u64);
    assert_eq!(done.progress.upload_bytes, data.len() as u64);

    // The body ends early: the upload fails, the slave is told to cancel, the task fails.
    let (mut handle, req, tx) = import(&s, 1000).await;
    tx.send(axum::body::Bytes::from_static(&[1; 10]))
        .await
        .unwrap();
    drop(tx);
    let uploaded = handle.uploaded.take().unwrap().await.unwrap();
    assert!(uploaded.unwrap_err().to_string().contains("10 of 1000"));
    let cancel = s.request().await;
    assert!(matches!(cancel.body, RequestBody::Cancel { id } if id == req.id));
    let cancelled = OpError::new(ErrorKind::Cancelled, "cancelled by the master");
    s.answer(req.id, ResponseBody::Failed(Box::new(cancelled)));
    let done = handle.done.await.unwrap();
    assert_eq!(done.state, TaskState::Failed);
    assert!(
        done.error
            .as_ref()
            .unwrap()
            .message
            .contains("upload failed"),
        "{:?}",
        done.error
    );
}
