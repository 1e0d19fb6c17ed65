//! The dispatcher with the Docker thread running the fake runtime: answers arrive on the
//! writer channel from other threads, uploads are reassembled, cancels and session ends
//! stop followed logs, an engine that cannot be reached is reported clearly, host
//! operations run off the caller's thread.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::docker::DockerError;
use crate::docker::fake::FakeRuntime;
use protocol::ops::docker::{ContainerCreate, ImportRequest, ImportSource, LogsQuery};
use protocol::ops::docker_reply::{DockerReply, LogsEndReason};
use protocol::ops::host::{HostReply, SignalRequest};
use protocol::{Progress, ProgressEvent, Response};

fn config(dir: &std::path::Path) -> RemoteConfig {
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    RemoteConfig {
        data_dir: dir.join("data"),
        docker_socket: dir.join("docker.sock"),
        hosts_file: hosts,
        bind_roots: vec![],
    }
}

/// A dispatcher whose engine holds busybox and a running container `web`.
fn dispatcher(dir: &std::path::Path) -> Dispatcher {
    let start: DockerStarter = Box::new(|| {
        let connect = || async {
            let rt = FakeRuntime::with_images(&["busybox:latest"]);
            rt.state.borrow_mut().registry.push("busybox:1".into());
            let form = ContainerCreate {
                image: "busybox".into(),
                name: Some("web".into()),
                ..Default::default()
            };
            use crate::docker::ContainerRuntime;
            let (id, _) = rt.create_container(&form).await?;
            rt.start_container(&id).await?;
            Ok::<_, DockerError>(rt)
        };
        DockerBridge::start(connect, DockerCtx::default())
    });
    let mut d = Dispatcher::with_docker(config(dir), start);
    d.begin_session();
    d
}

fn request(id: u64, body: RequestBody) -> Request {
    Request {
        id,
        timeout_ms: 10_000,
        body,
    }
}

fn docker(id: u64, op: DockerOp) -> Request {
    request(id, RequestBody::Docker(Box::new(op)))
}

/// The next message for request `id` (others are kept aside), within 10 s.
fn next_for(rx: &async_channel::Receiver<Message>, id: u64, aside: &mut Vec<Message>) -> Message {
    if let Some(i) = aside
        .iter()
        .position(|m| matches!(m, Message::Response(r) if r.id == id))
    {
        return aside.remove(i);
    }
    loop {
        match recv_within(rx, Duration::from_secs(10)) {
            Some(Message::Response(r)) if r.id == id => return Message::Response(r),
            Some(other) => aside.push(other),
            None => panic!("no answer for request {id}"),
        }
    }
}

/// The next message, waiting for it (not polling) at most `limit`.
fn recv_within(rx: &async_channel::Receiver<Message>, limit: Duration) -> Option<Message> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async { tokio::time::timeout(limit, rx.recv()).await })
        .ok()?
        .ok()
}

fn final_for(
    rx: &async_channel::Receiver<Message>,
    id: u64,
    aside: &mut Vec<Message>,
) -> ResponseBody {
    loop {
        match next_for(rx, id, aside) {
            Message::Response(Response { body, .. }) if body.is_final() => return body,
            _ => {}
        }
    }
}

#[test]
fn docker_requests_are_answered_from_the_docker_thread() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = dispatcher(dir.path());
    let (tx, rx) = async_channel::unbounded();
    let mut aside = Vec::new();
    d.on_request(docker(1, DockerOp::ListContainers { all: true }), &tx);
    d.on_request(
        docker(2, DockerOp::StartContainer { id: "no/pe".into() }),
        &tx,
    );
    let ResponseBody::Docker(r) = final_for(&rx, 1, &mut aside) else {
        panic!()
    };
    let DockerReply::Containers(list) = *r else {
        panic!()
    };
    assert_eq!(list[0].names, vec!["web"]);
    let ResponseBody::Failed(e) = final_for(&rx, 2, &mut aside) else {
        panic!()
    };
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (ErrorKind::InvalidArgument, Some("id"))
    );
}

#[test]
fn cancel_and_session_end_stop_followed_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = dispatcher(dir.path());
    let (tx, rx) = async_channel::unbounded();
    let mut aside = Vec::new();
    let follow = || {
        DockerOp::Logs(LogsQuery {
            id: "web".into(),
            follow: true,
            ..Default::default()
        })
    };
    d.on_request(docker(1, follow()), &tx);
    let Message::Response(Response {
        body: ResponseBody::Progress(p),
        ..
    }) = next_for(&rx, 1, &mut aside)
    else {
        panic!("no log batch");
    };
    assert!(matches!(
        *p,
        Progress {
            seq: 0,
            event: ProgressEvent::Logs(_)
        }
    ));
    d.on_request(request(2, RequestBody::Cancel { id: 1 }), &tx);
    assert_eq!(
        final_for(&rx, 2, &mut aside),
        ResponseBody::Cancelled { found: true }
    );
    let ResponseBody::Docker(end) = final_for(&rx, 1, &mut aside) else {
        panic!()
    };
    assert!(matches!(
        *end,
        DockerReply::LogsEnd {
            reason: LogsEndReason::Cancelled,
            ..
        }
    ));
    d.on_request(request(3, RequestBody::Cancel { id: 1 }), &tx);
    assert_eq!(
        final_for(&rx, 3, &mut aside),
        ResponseBody::Cancelled { found: false }
    );
    d.on_request(docker(4, follow()), &tx);
    next_for(&rx, 4, &mut aside);
    d.end_session();
    let ResponseBody::Docker(end) = final_for(&rx, 4, &mut aside) else {
        panic!()
    };
    assert!(matches!(
        *end,
        DockerReply::LogsEnd {
            reason: LogsEndReason::Cancelled,
            ..
        }
    ));
}

#[test]
fn uploads_are_reassembled_then_imported() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = dispatcher(dir.path());
    let (tx, rx) = async_channel::unbounded();
    let mut aside = Vec::new();
    let import = DockerOp::ImportImage(ImportRequest {
        source: ImportSource::RootFs {
            repo: "t/bb".into(),
            tag: "1".into(),
        },
        total_len: 10,
    });
    d.on_request(docker(1, import.clone()), &tx);
    for (seq, last, data) in [(0, false, &b"01234"[..]), (1, true, &b"56789"[..])] {
        d.on_chunk(
            Chunk {
                id: 1,
                seq,
                last,
                data: data.to_vec(),
            },
            &tx,
        );
    }
    let ResponseBody::Docker(r) = final_for(&rx, 1, &mut aside) else {
        panic!()
    };
    assert_eq!(*r, DockerReply::Imported(vec!["t/bb:1".into()]));
    let uploads = dir.path().join("data").join(upload::UPLOAD_DIR);
    assert_eq!(
        std::fs::read_dir(&uploads).unwrap().count(),
        0,
        "spool file removed"
    );
    d.on_request(docker(2, import), &tx);
    d.on_request(request(3, RequestBody::Cancel { id: 2 }), &tx);
    assert_eq!(
        final_for(&rx, 3, &mut aside),
        ResponseBody::Cancelled { found: true }
    );
    let ResponseBody::Failed(e) = final_for(&rx, 2, &mut aside) else {
        panic!()
    };
    assert_eq!(e.kind, ErrorKind::Cancelled);
}

#[test]
fn an_unreachable_engine_is_reported_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Dispatcher::new(config(dir.path()));
    d.begin_session();
    let (tx, rx) = async_channel::unbounded();
    let mut aside = Vec::new();
    for id in [1, 2] {
        d.on_request(docker(id, DockerOp::Info), &tx);
        let ResponseBody::Failed(e) = final_for(&rx, id, &mut aside) else {
            panic!()
        };
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.message.contains("no Docker Engine on this slave"), "{e}");
        assert!(e.message.contains("docker.sock"), "{e}");
    }
}

#[test]
fn host_operations_answer_through_the_channel() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = dispatcher(dir.path());
    let (tx, rx) = async_channel::unbounded();
    let mut aside = Vec::new();
    d.on_request(
        request(1, RequestBody::Host(Box::new(HostOp::GetHosts))),
        &tx,
    );
    let ResponseBody::Host(h) = final_for(&rx, 1, &mut aside) else {
        panic!()
    };
    let HostReply::Hosts(h) = *h else { panic!() };
    assert_eq!(h.entries[0].names, vec!["localhost"]);
    let me = SignalRequest {
        pid: std::process::id(),
        signal: 9,
        force: false,
    };
    d.on_request(
        request(2, RequestBody::Host(Box::new(HostOp::Signal(me)))),
        &tx,
    );
    let ResponseBody::Failed(e) = final_for(&rx, 2, &mut aside) else {
        panic!()
    };
    assert_eq!(e.kind, ErrorKind::Refused);
    d.on_request(request(3, RequestBody::Ping), &tx);
    let ResponseBody::Failed(e) = final_for(&rx, 3, &mut aside) else {
        panic!()
    };
    assert!(e.message.contains("not an operation"));
}

/// A dispatcher like [`dispatcher`] whose container `web` has `n` log lines of 1 KiB, on a
/// session of `version`.
fn dispatcher_with_logs(dir: &std::path::Path, n: usize, version: u16) -> Dispatcher {
    let start: DockerStarter = Box::new(move || {
        let connect = move || async move {
            let rt = FakeRuntime::with_images(&["busybox:latest"]);
            let form = ContainerCreate {
                image: "busybox".into(),
                name: Some("web".into()),
                ..Default::default()
            };
            use crate::docker::ContainerRuntime;
            rt.create_container(&form).await?;
            rt.state.borrow_mut().containers[0].logs = (0..n)
                .map(|i| protocol::ops::docker_reply::LogEntry {
                    stream: protocol::ops::docker_reply::LogStream::Stdout,
                    timestamp: None,
                    text: format!("{i:08}{}\n", "z".repeat(1015)),
                })
                .collect();
            Ok::<_, DockerError>(rt)
        };
        DockerBridge::start(connect, DockerCtx::default())
    });
    let mut d = Dispatcher::with_docker(config(dir), start);
    d.begin_session_at(version);
    d
}

/// Log entries of the progress messages that arrive for request `id` until none comes
/// within `quiet`; the final answer, if it came.
fn batches_until_quiet(
    rx: &async_channel::Receiver<Message>,
    quiet: Duration,
) -> (u32, usize, Option<ResponseBody>) {
    let (mut batches, mut entries) = (0, 0);
    while let Some(m) = recv_within(rx, quiet) {
        match m {
            Message::Response(Response {
                body: ResponseBody::Progress(p),
                ..
            }) => {
                let ProgressEvent::Logs(b) = p.event else {
                    panic!("not a log batch")
                };
                batches += 1;
                entries += b.entries.len();
            }
            Message::Response(Response { body, .. }) => return (batches, entries, Some(body)),
            other => panic!("unexpected {}", other.name()),
        }
    }
    (batches, entries, None)
}

/// Issue 11 finding 8, the slave's side: on a session of protocol 3 a log goes out in
/// batches, at most `LOG_WINDOW` beyond those acknowledged by empty chunks, and ends with
/// the count; on a session of protocol 2 it is one answer.
#[test]
fn a_log_waits_for_the_masters_acknowledgements() {
    use protocol::ops::LOG_WINDOW;
    const N: usize = 4_096; // 4 MiB of text: 17 batches
    let dir = tempfile::tempdir().unwrap();
    let mut d = dispatcher_with_logs(dir.path(), N, protocol::STREAMED_LOGS_VERSION);
    let (tx, rx) = async_channel::unbounded();
    let q = LogsQuery {
        id: "web".into(),
        ..Default::default()
    };
    d.on_request(docker(1, DockerOp::Logs(q.clone())), &tx);
    let quiet = Duration::from_secs(1);
    let (mut acked, mut entries) = (0u32, 0usize);
    let end = loop {
        let (batches, got, end) = batches_until_quiet(&rx, quiet);
        entries += got;
        if let Some(end) = end {
            break end;
        }
        assert_eq!(batches, LOG_WINDOW, "a full window, then the slave waits");
        acked += batches;
        let ack = Chunk {
            id: 1,
            seq: acked,
            last: false,
            data: Vec::new(),
        };
        d.on_chunk(ack, &tx);
    };
    assert!(acked >= 3 * LOG_WINDOW);
    assert_eq!(entries, N);
    let ResponseBody::Docker(r) = end else {
        panic!("{end:?}")
    };
    assert_eq!(
        *r,
        DockerReply::LogsEnd {
            entries: N as u64,
            reason: LogsEndReason::Ended
        }
    );

    let dir = tempfile::tempdir().unwrap();
    let mut d = dispatcher_with_logs(dir.path(), 10, protocol::OPS_VERSION);
    d.on_request(docker(2, DockerOp::Logs(q)), &tx);
    let (batches, _, end) = batches_until_quiet(&rx, Duration::from_secs(10));
    assert_eq!(batches, 0);
    let Some(ResponseBody::Docker(r)) = end else {
        panic!("{end:?}")
    };
    assert!(matches!(*r, DockerReply::Logs(ref b) if b.entries.len() == 10));
}
