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
