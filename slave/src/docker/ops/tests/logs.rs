//! Logs: tails, stdout and stderr, timestamps, and followed logs that end by cancel,
//! deadline or the container's exit.

#![allow(clippy::unwrap_used)]

use super::{engine, form, run, run_with};
use crate::docker::fake::FakeRuntime;
use crate::docker::ops::DockerCtx;
use protocol::ops::docker::*;
use protocol::ops::docker_reply::{DockerReply, LogEntry, LogStream, LogsEndReason};
use protocol::ops::{ErrorKind, ProgressEvent};
use std::time::{Duration, Instant};

fn with_logs(rt: &FakeRuntime, name: &str, n: usize) {
    run(rt, DockerOp::CreateContainer(form(name, &[])));
    let mut st = rt.state.borrow_mut();
    let c = st.containers.iter_mut().find(|c| c.name == name).unwrap();
    for i in 0..n {
        let stream = if i % 2 == 0 {
            LogStream::Stdout
        } else {
            LogStream::Stderr
        };
        c.logs.push(LogEntry {
            stream,
            timestamp: None,
            text: format!("line {i}\n"),
        });
    }
}

#[test]
fn logs_tail_streams_and_timestamps() {
    let rt = engine();
    with_logs(&rt, "web", 10);
    let q = LogsQuery {
        id: "web".into(),
        tail: Some(3),
        timestamps: true,
        ..Default::default()
    };
    let DockerReply::Logs(b) = run(&rt, DockerOp::Logs(q)).reply() else {
        panic!()
    };
    let texts: Vec<&str> = b.entries.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts, vec!["line 7\n", "line 8\n", "line 9\n"]);
    assert!(b.entries.iter().all(|e| e.timestamp.is_some()));
    let q = LogsQuery {
        id: "web".into(),
        stderr: false,
        ..Default::default()
    };
    let DockerReply::Logs(b) = run(&rt, DockerOp::Logs(q)).reply() else {
        panic!()
    };
    assert!(b.entries.iter().all(|e| e.stream != LogStream::Stderr));
    let q = LogsQuery {
        id: "nope".into(),
        ..Default::default()
    };
    assert_eq!(run(&rt, DockerOp::Logs(q)).err().kind, ErrorKind::NotFound);
}

#[test]
fn followed_logs_end_by_cancel_deadline_or_exit() {
    let rt = engine();
    with_logs(&rt, "web", 5);
    let follow = || {
        DockerOp::Logs(LogsQuery {
            id: "web".into(),
            follow: true,
            ..Default::default()
        })
    };
    let r = run_with(
        &rt,
        follow(),
        &DockerCtx::default(),
        Some(6),
        Duration::from_secs(10),
    );
    let sent: usize = r
        .progress
        .iter()
        .map(|p| match p {
            ProgressEvent::Logs(b) => b.entries.len(),
            other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(sent, 6, "5 lines plus the start line");
    assert_eq!(
        r.reply(),
        DockerReply::LogsEnd {
            entries: 6,
            reason: LogsEndReason::Cancelled
        }
    );
    let r = run_with(&rt, follow(), &DockerCtx::default(), None, Duration::ZERO);
    assert!(matches!(
        r.reply(),
        DockerReply::LogsEnd {
            reason: LogsEndReason::Deadline,
            ..
        }
    ));
    run(
        &rt,
        DockerOp::StopContainer {
            id: "web".into(),
            timeout_secs: None,
        },
    );
    let started = Instant::now();
    let r = run(&rt, follow());
    assert!(matches!(
        r.reply(),
        DockerReply::LogsEnd {
            entries: 6,
            reason: LogsEndReason::Ended
        }
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Issue 11 finding 8: on a session that streams logs (protocol 3) a log that is not
/// followed goes out in batches of about `LOG_BATCH_BYTES`, never more than `LOG_WINDOW`
/// beyond those the master acknowledged, and ends with the count; nothing is collected
/// whole (16 MiB here, above `STREAM_THRESHOLD` many times).
#[test]
fn a_log_is_streamed_in_acknowledged_batches() {
    use crate::docker::ops::{Stop, execute};
    use crate::remote::reply::ReplySink;
    use protocol::ops::{LOG_BATCH_BYTES, LOG_WINDOW};
    use protocol::{Message, Response, ResponseBody};
    use std::cell::Cell;

    let rt = engine();
    run(&rt, DockerOp::CreateContainer(form("big", &[])));
    const N: usize = 16 * 1024;
    {
        let mut st = rt.state.borrow_mut();
        let c = st.containers.iter_mut().find(|c| c.name == "big").unwrap();
        c.logs = (0..N)
            .map(|i| LogEntry {
                stream: LogStream::Stdout,
                timestamp: None,
                text: format!("{i:08}{}\n", "y".repeat(1015)),
            })
            .collect();
    }
    let (tx, rx) = async_channel::unbounded();
    let sink = ReplySink::new(7, tx);
    let (_cancel_tx, cancel_rx) = async_channel::bounded(1);
    let (ack_tx, ack_rx) = tokio::sync::watch::channel(0u32);
    let q = LogsQuery {
        id: "big".into(),
        ..Default::default()
    };
    let done = Cell::new(false);
    let (result, texts, peak) = super::block_on(async {
        let stop = Stop::new(
            cancel_rx,
            tokio::time::Instant::now() + Duration::from_secs(60),
        )
        .with_credits(ack_rx);
        let ctx = DockerCtx::default();
        let slave = async {
            let r = execute(&rt, DockerOp::Logs(q), None, &sink, &ctx, &stop).await;
            done.set(true);
            r
        };
        let master = async {
            let (mut texts, mut batches, mut peak) = (Vec::new(), 0u32, 0u32);
            loop {
                // Let the slave run until it has to wait.
                for _ in 0..50 {
                    tokio::task::yield_now().await;
                }
                while let Ok(m) = rx.try_recv() {
                    let p = match m {
                        Message::Response(Response {
                            body: ResponseBody::Progress(p),
                            ..
                        }) => p,
                        other => panic!("not progress: {}", other.name()),
                    };
                    let ProgressEvent::Logs(b) = p.event else {
                        panic!("not logs")
                    };
                    let bytes: usize = b.entries.iter().map(|e| e.text.len()).sum();
                    assert!(bytes <= LOG_BATCH_BYTES + 1024, "batch of {bytes} bytes");
                    texts.extend(b.entries.into_iter().map(|e| e.text));
                    batches += 1;
                }
                let ahead = batches - *ack_tx.borrow();
                assert!(
                    ahead <= LOG_WINDOW,
                    "{ahead} batches beyond the acknowledged"
                );
                peak = peak.max(ahead);
                if done.get() {
                    return (texts, peak);
                }
                ack_tx.send_replace(batches);
            }
        };
        let (result, (texts, peak)) = tokio::join!(slave, master);
        (result, texts, peak)
    });
    let Ok(ResponseBody::Docker(reply)) = result else {
        panic!("{result:?}")
    };
    assert_eq!(
        *reply,
        DockerReply::LogsEnd {
            entries: N as u64,
            reason: LogsEndReason::Ended
        }
    );
    assert_eq!(peak, LOG_WINDOW, "the slave waited for acknowledgements");
    assert_eq!(texts.len(), N);
    assert!(
        texts
            .iter()
            .enumerate()
            .all(|(i, t)| t.starts_with(&format!("{i:08}")))
    );
}

/// A session that does not stream logs (older master) still gets one whole answer.
#[test]
fn without_acknowledgements_a_log_is_one_answer() {
    let rt = engine();
    with_logs(&rt, "web", 5);
    let q = LogsQuery {
        id: "web".into(),
        ..Default::default()
    };
    let r = run(&rt, DockerOp::Logs(q));
    assert!(r.progress.is_empty());
    let DockerReply::Logs(b) = r.reply() else {
        panic!()
    };
    assert!(b.entries.len() >= 5);
    assert_eq!(b.entries.last().map(|e| e.text.as_str()), Some("line 4\n"));
}
