//! Streaming answers as Server-Sent Events.
//!
//! - A followed log (`GET .../containers/{id}/logs?follow=true`): `logs` events, each a
//!   batch `{"entries": [{"stream", "timestamp", "text"}]}` in order, then one `end` event
//!   `{"entries": N, "reason": "ended" | "cancelled" | "deadline"}` or one `error` event
//!   `{"error": "..."}`. Closing the connection cancels the follow on the slave. A follow
//!   lasts at most [`FOLLOW_TIMEOUT`].
//! - Live stats (`GET .../containers/{id}/stats?stream=true`): one `stats` event per reading,
//!   about every [`STATS_EVERY`], for at most [`FOLLOW_TIMEOUT`]; an `error` event ends it.
//!
//! Failures known before the stream starts (unknown node, offline, no such container)
//! answer a JSON error with its status instead. Both streams end with an `end` event
//! `"session ended"` when the session is logged out or expires.

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use axum::response::sse::Event;
use protocol::ResponseBody;
use protocol::ops::docker::{DockerOp, LogsQuery};
use protocol::ops::{Progress, ProgressEvent};
use serde_json::json;
use tokio::time::Instant;

use model::ops::{OpCall, OpFailure, OpStream, reply_value};
use model::service::{Followed, Operations};

use super::call::{OP_TIMEOUT, Op, docker};
use super::error::OpsError;
use crate::sse::{self, SessionWatch, session_ended};

/// Longest a followed log or a stats stream lasts.
pub const FOLLOW_TIMEOUT: Duration = Duration::from_secs(3600);
/// Time between two stats readings of a stream.
pub const STATS_EVERY: Duration = Duration::from_secs(1);
/// How long a follow waits for an early failure before the stream is committed.
const EARLY_FAILURE: Duration = Duration::from_millis(500);
/// How long a follow whose updates stopped (the reader fell behind) waits for its end.
const DRAIN: Duration = Duration::from_secs(5);

fn event(name: &str, value: &serde_json::Value) -> Event {
    Event::default()
        .event(name)
        .json_data(value)
        .unwrap_or_else(|_| Event::default().event(name).data("{}"))
}

fn error_event(message: &str) -> Event {
    event("error", &json!({ "error": message }))
}

type Outcome = Result<ResponseBody, OpFailure>;

struct Follow {
    stream: OpStream,
    session: SessionWatch,
    /// The final answer, once known (the receiver is never polled again after it).
    outcome: Option<Outcome>,
    done: bool,
}

fn logs_event(update: Progress) -> Option<Event> {
    match update.event {
        ProgressEvent::Logs(batch) => Some(event("logs", &json!(batch))),
        _ => None,
    }
}

fn end_event(outcome: &Outcome) -> Event {
    match outcome {
        Ok(body) => event("end", &reply_value(body)),
        Err(f) => error_event(&f.to_string()),
    }
}

impl Follow {
    async fn next(&mut self) -> Option<Event> {
        if self.done {
            return None;
        }
        loop {
            if let Some(outcome) = &self.outcome {
                // Updates sent before the answer are already queued: deliver them first.
                match self.stream.progress.try_recv() {
                    Ok(update) => match logs_event(update) {
                        Some(e) => return Some(e),
                        None => continue,
                    },
                    Err(_) => {
                        self.done = true;
                        return Some(end_event(outcome));
                    }
                }
            }
            tokio::select! {
                update = self.stream.progress.recv() => match update {
                    Some(update) => {
                        if let Some(e) = logs_event(update) {
                            return Some(e);
                        }
                    }
                    None => self.outcome = Some(self.wait_outcome().await),
                },
                got = &mut self.stream.outcome, if self.outcome.is_none() => {
                    self.stream.finished();
                    self.outcome = Some(got.unwrap_or(Err(OpFailure::Unavailable(
                        "the master stopped".into(),
                    ))));
                }
                () = self.session.due() => {
                    if !self.session.still_valid().await {
                        self.done = true;
                        return Some(session_ended());
                    }
                }
            }
        }
    }

    /// The final answer once the updates stopped; they stop early when the reader fell
    /// behind, and then the answer may be far away.
    async fn wait_outcome(&mut self) -> Outcome {
        match tokio::time::timeout(DRAIN, &mut self.stream.outcome).await {
            Ok(got) => {
                self.stream.finished();
                got.unwrap_or(Err(OpFailure::Unavailable("the master stopped".into())))
            }
            Err(_) => Err(OpFailure::Unavailable(
                "the reader fell behind and the stream was stopped; reconnect".into(),
            )),
        }
    }
}

/// Follows a container's log as an event stream (see the module docs).
pub async fn follow_logs(op: Op<'_>, q: LogsQuery) -> Result<Response, OpsError> {
    let node = op.node().await?;
    let request = op.request(node, docker(DockerOp::Logs(q)), FOLLOW_TIMEOUT);
    let Followed { stream, ended } = op
        .state
        .services
        .ops
        .follow(request, EARLY_FAILURE)
        .await
        .map_err(OpsError::from)?;
    let follow = Follow {
        outcome: ended.map(Ok),
        stream,
        session: SessionWatch::new(Arc::clone(&op.state.auth), op.ctx.auth.clone()),
        done: false,
    };
    let events = futures_lite::stream::unfold(follow, |mut f| async move {
        let e = f.next().await?;
        Some((e, f))
    });
    Ok(sse::respond(events))
}

struct Stats {
    ops: Arc<dyn Operations>,
    node: u64,
    id: String,
    first: Option<ResponseBody>,
    until: Instant,
    session: SessionWatch,
    done: bool,
}

impl Stats {
    async fn reading(&self) -> Result<ResponseBody, OpFailure> {
        let call = OpCall {
            node: self.node,
            body: docker(DockerOp::Stats {
                id: self.id.clone(),
            }),
            timeout: OP_TIMEOUT,
        };
        self.ops.read(call).await
    }

    async fn next(&mut self) -> Option<Event> {
        if self.done {
            return None;
        }
        if let Some(first) = self.first.take() {
            return Some(event("stats", &reply_value(&first)));
        }
        if Instant::now() >= self.until {
            self.done = true;
            return Some(Event::default().event("end").data("time limit"));
        }
        tokio::select! {
            () = tokio::time::sleep(STATS_EVERY) => {}
            () = self.session.due() => {
                if !self.session.still_valid().await {
                    self.done = true;
                    return Some(session_ended());
                }
            }
        }
        match self.reading().await {
            Ok(body) => Some(event("stats", &reply_value(&body))),
            Err(f) => {
                self.done = true;
                Some(error_event(&f.to_string()))
            }
        }
    }
}

/// Streams a container's stats readings (see the module docs).
pub async fn stats(op: Op<'_>, id: String) -> Result<Response, OpsError> {
    let node = op.node().await?;
    let first = op
        .call(docker(DockerOp::Stats { id: id.clone() }), OP_TIMEOUT)
        .await?;
    let stats = Stats {
        ops: Arc::clone(&op.state.services.ops),
        node,
        id,
        first: Some(first),
        until: Instant::now() + FOLLOW_TIMEOUT,
        session: SessionWatch::new(Arc::clone(&op.state.auth), op.ctx.auth.clone()),
        done: false,
    };
    let events = futures_lite::stream::unfold(stats, |mut s| async move {
        let e = s.next().await?;
        Some((e, s))
    });
    Ok(sse::respond(events))
}
