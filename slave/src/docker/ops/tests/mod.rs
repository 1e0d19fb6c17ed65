//! Docker operations against the fake runtime, by concern: [`containers`] (results,
//! lifecycle, engine rules such as conflicts and not found, validation before any engine
//! call, bind-mount confinement, top and stats, a missing engine), [`logs`] (tails, streams,
//! following with cancel and deadline), [`images`] (pull progress, tag, remove, deploy,
//! import) and [`networks`] (networks and volumes). This module holds the harness they share.

#![allow(clippy::unwrap_used)]

mod containers;
mod images;
mod logs;
mod networks;

use super::{DockerCtx, Stop, execute};
use crate::docker::fake::FakeRuntime;
use crate::remote::reply::ReplySink;
use protocol::ops::docker::*;
use protocol::ops::docker_reply::DockerReply;
use protocol::ops::{OpError, ProgressEvent};
use protocol::{Message, Response, ResponseBody};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

pub(super) struct Run {
    pub(super) result: Result<ResponseBody, OpError>,
    pub(super) progress: Vec<ProgressEvent>,
}

impl Run {
    pub(super) fn reply(self) -> DockerReply {
        match self.result {
            Ok(ResponseBody::Docker(r)) => *r,
            other => panic!("not a Docker reply: {other:?}"),
        }
    }

    pub(super) fn err(self) -> OpError {
        self.result.unwrap_err()
    }
}

pub(super) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f)
}

/// Runs `op` with `deadline`; `cancel_after_entries` sends a cancel once that many log
/// entries have come out as progress (a followed log then ends as cancelled).
pub(super) fn run_with(
    rt: &FakeRuntime,
    op: DockerOp,
    ctx: &DockerCtx,
    cancel_after_entries: Option<usize>,
    deadline: Duration,
) -> Run {
    let (tx, rx) = async_channel::unbounded();
    let sink = ReplySink::new(1, tx);
    let (cancel_tx, cancel_rx) = async_channel::bounded(1);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let result = block_on(async {
        let stop = Stop::new(cancel_rx, tokio::time::Instant::now() + deadline);
        match cancel_after_entries {
            Some(n) => {
                let (rx, seen) = (rx.clone(), Rc::clone(&seen));
                tokio::task::spawn_local(async move {
                    while let Ok(m) = rx.recv().await {
                        seen.borrow_mut().extend(progress_of(m));
                        if log_entries(&seen.borrow()) >= n {
                            let _ = cancel_tx.send(()).await;
                        }
                    }
                });
            }
            None => drop(cancel_tx), // A closed cancel channel means "never cancelled".
        }
        execute(rt, op, None, &sink, ctx, &stop).await
    });
    let mut progress = seen.take();
    progress.extend(std::iter::from_fn(|| rx.try_recv().ok()).filter_map(progress_of));
    Run { result, progress }
}

fn progress_of(m: Message) -> Option<ProgressEvent> {
    match m {
        Message::Response(Response {
            body: ResponseBody::Progress(p),
            ..
        }) => Some(p.event),
        _ => None,
    }
}

/// Log entries in progress events so far.
fn log_entries(progress: &[ProgressEvent]) -> usize {
    progress
        .iter()
        .map(|p| match p {
            ProgressEvent::Logs(b) => b.entries.len(),
            _ => 0,
        })
        .sum()
}

pub(super) fn run(rt: &FakeRuntime, op: DockerOp) -> Run {
    run_with(rt, op, &DockerCtx::default(), None, Duration::from_secs(10))
}

pub(super) fn form(name: &str, ports: &[&str]) -> ContainerCreate {
    ContainerCreate {
        image: "busybox".into(),
        name: Some(name.into()),
        cmd: vec!["httpd".into(), "-f".into()],
        env: vec!["A=1".into()],
        ports: ports.iter().map(|p| p.to_string()).collect(),
        labels: [("commander.test".to_string(), "1".to_string())].into(),
        ..Default::default()
    }
}

pub(super) fn engine() -> FakeRuntime {
    FakeRuntime::with_images(&["busybox:latest"])
}

pub(super) fn state(rt: &FakeRuntime, name: &str) -> String {
    rt.container(name)
        .map(|c| c.state)
        .unwrap_or_else(|| "gone".into())
}
