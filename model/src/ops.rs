//! Operations on one node (host and Docker management), as the console and the CLI ask the
//! master for them: the request ([`OpCall`]), why one failed ([`OpFailure`], with the side
//! at fault and whether a retry makes sense), the checks applied before anything is sent
//! ([`check`]), the shape of an answer ([`reply_value`]), and the types of streamed
//! operations, uploads and tasks.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use protocol::ops::docker::DockerOp;
use protocol::ops::host::HostOp;
use protocol::ops::{ErrorKind, OpError, Progress, validate};
use protocol::{RequestBody, ResponseBody};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::task::TaskRecord;

/// A boxed future, as the object-safe service traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Deadline of a short operation.
pub const OP_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline of a task (pull, deploy, import).
pub const TASK_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Which party a failure comes from, for counting failures by cause and for telling the
/// user whose move it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureSide {
    /// The request itself: a bad argument, an unknown object.
    Caller,
    /// The master (its store, its queues).
    Master,
    /// The slave or its session (offline, old protocol, no answer).
    Slave,
    /// The slave's Docker Engine or host refused or failed the operation.
    Engine,
}

impl FailureSide {
    /// `caller`, `master`, `slave` or `engine`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureSide::Caller => "caller",
            FailureSide::Master => "master",
            FailureSide::Slave => "slave",
            FailureSide::Engine => "engine",
        }
    }
}

/// Why an operation could not be done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpFailure {
    /// No node has this id (404).
    #[error("node {0} does not exist")]
    UnknownNode(u64),
    /// The node has no live session (503, answered at once).
    #[error("node {0} is offline; try again when it reconnects")]
    Offline(u64),
    /// The node's session speaks a protocol without operations (503).
    #[error(
        "node {node} speaks protocol version {version}; operations need version {}: upgrade its slave",
        protocol::OPS_VERSION
    )]
    OldProtocol {
        /// The node.
        node: u64,
        /// Its session's negotiated version.
        version: u16,
    },
    /// The node's queue is full (503).
    #[error("node {0} is not keeping up; try again")]
    Busy(u64),
    /// The request was refused before anything was sent (400), or the slave refused or
    /// failed the operation, with a class of failure.
    #[error("{0}")]
    Op(OpError),
    /// No answer before the deadline (504).
    #[error("the slave did not answer before the deadline")]
    TimedOut,
    /// The slave answered with an unclassified error, the answer was malformed, or the
    /// session ended (502).
    #[error("the slave failed: {0}")]
    Failed(String),
    /// A task (or other master-side object) does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The operation is not available here (503).
    #[error("{0}")]
    Unavailable(String),
    /// The master itself failed (500).
    #[error("{0}")]
    Internal(String),
}

impl OpFailure {
    /// A bad argument (400) naming `field`, refused before anything was sent.
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        OpFailure::Op(OpError::invalid(field, message.to_string()))
    }

    /// The HTTP status this failure answers with (kept in task records too):
    ///
    /// | failure | status |
    /// |---|---|
    /// | bad argument (checked on the master or slave) | 400 |
    /// | a safety rule refused it | 403 |
    /// | unknown node, task or object | 404 |
    /// | conflict (name taken, not running, cancelled) | 409 |
    /// | the master failed | 500 |
    /// | the slave or its engine failed, bad answer, session lost | 502 |
    /// | node offline, old protocol, queue full, not available | 503 |
    /// | deadline passed | 504 |
    pub fn http_status(&self) -> u16 {
        match self {
            OpFailure::UnknownNode(_) | OpFailure::NotFound(_) => 404,
            OpFailure::Offline(_)
            | OpFailure::OldProtocol { .. }
            | OpFailure::Busy(_)
            | OpFailure::Unavailable(_) => 503,
            OpFailure::Op(e) => kind_status(e.kind),
            OpFailure::TimedOut => 504,
            OpFailure::Failed(_) => 502,
            OpFailure::Internal(_) => 500,
        }
    }

    /// A short name of the class of failure, for task records and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            OpFailure::UnknownNode(_) => "unknown_node",
            OpFailure::Offline(_) => "offline",
            OpFailure::OldProtocol { .. } => "old_protocol",
            OpFailure::Busy(_) => "busy",
            OpFailure::Op(e) => kind_name(e.kind),
            OpFailure::TimedOut => "timeout",
            OpFailure::Failed(_) => "failed",
            OpFailure::NotFound(_) => "not_found",
            OpFailure::Unavailable(_) => "unavailable",
            OpFailure::Internal(_) => "internal",
        }
    }

    /// Which party the failure comes from.
    pub fn side(&self) -> FailureSide {
        match self {
            OpFailure::UnknownNode(_) | OpFailure::NotFound(_) => FailureSide::Caller,
            OpFailure::Op(e) if e.kind == ErrorKind::InvalidArgument => FailureSide::Caller,
            OpFailure::Op(e) if e.kind == ErrorKind::NotFound => FailureSide::Caller,
            OpFailure::Op(_) => FailureSide::Engine,
            OpFailure::Offline(_)
            | OpFailure::OldProtocol { .. }
            | OpFailure::TimedOut
            | OpFailure::Failed(_) => FailureSide::Slave,
            OpFailure::Busy(_) | OpFailure::Unavailable(_) | OpFailure::Internal(_) => {
                FailureSide::Master
            }
        }
    }

    /// Whether the same request may succeed later unchanged.
    pub fn retryable(&self) -> bool {
        match self {
            OpFailure::Offline(_) | OpFailure::Busy(_) | OpFailure::TimedOut => true,
            OpFailure::Op(e) => matches!(e.kind, ErrorKind::Unavailable | ErrorKind::Timeout),
            _ => false,
        }
    }

    /// The request field at fault, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            OpFailure::Op(e) => e.field.as_deref(),
            _ => None,
        }
    }
}

/// The HTTP status of a slave's class of failure.
pub fn kind_status(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::InvalidArgument => 400,
        ErrorKind::NotFound => 404,
        ErrorKind::Conflict | ErrorKind::Cancelled => 409,
        ErrorKind::Refused => 403,
        ErrorKind::Unavailable => 503,
        ErrorKind::Timeout => 504,
        ErrorKind::Failed => 502,
    }
}

fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidArgument => "invalid_argument",
        ErrorKind::NotFound => "not_found",
        ErrorKind::Conflict => "conflict",
        ErrorKind::Refused => "refused",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Cancelled => "cancelled",
        ErrorKind::Failed => "failed",
    }
}

/// A host operation's request body.
pub fn host(op: HostOp) -> RequestBody {
    RequestBody::Host(Box::new(op))
}

/// A Docker operation's request body.
pub fn docker(op: DockerOp) -> RequestBody {
    RequestBody::Docker(Box::new(op))
}

/// Checks every argument of an operation with `protocol::ops::validate` (the slave checks
/// again), before anything is sent.
pub fn check(body: &RequestBody) -> Result<(), OpFailure> {
    match body {
        RequestBody::Host(op) => {
            validate::host_op(op).map_err(|e| OpFailure::invalid(&e.field, e.message))
        }
        RequestBody::Docker(op) => {
            validate::docker_op(op).map_err(|e| OpFailure::invalid(&e.field, e.message))
        }
        _ => Ok(()),
    }
}

/// An answer as JSON: the reply without its variant tag (`{"processes": {...}}` becomes the
/// page itself); `null` for an answer without content.
pub fn reply_value(body: &ResponseBody) -> Value {
    let value = match body {
        ResponseBody::Host(r) => serde_json::to_value(r),
        ResponseBody::Docker(r) => serde_json::to_value(r),
        _ => Ok(Value::Null),
    };
    match value {
        Ok(Value::Object(map)) if map.len() == 1 => {
            map.into_iter().next().map_or(Value::Null, |(_, v)| v)
        }
        Ok(Value::String(_)) | Err(_) => Value::Null,
        Ok(other) => other,
    }
}

/// Who asks for an operation, for its audit record and its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The signed-in user (for an API token, its creator).
    pub user: String,
    /// The client address.
    pub client: String,
    /// The credential other than a session the user acted through (`token:ID (name)`),
    /// for the audit record; empty for a session.
    pub via: String,
}

/// One operation for one node.
#[derive(Debug, Clone)]
pub struct OpCall {
    /// The node.
    pub node: u64,
    /// The request (a `Host` or `Docker` operation).
    pub body: RequestBody,
    /// How long the slave may take.
    pub timeout: Duration,
}

/// An operation as the console asks for it: who, on what (for the audit record), and
/// the call.
#[derive(Debug, Clone)]
pub struct OpRequest {
    /// Who asks.
    pub caller: Caller,
    /// What it is done to: `node/<id>[/<kind>/<object>]`.
    pub target: String,
    /// The call.
    pub call: OpCall,
}

/// A streaming operation in flight (a followed log): its progress updates, then its final
/// answer. Dropping it before the answer arrived cancels the operation on the slave.
pub struct OpStream {
    /// Progress updates, in order. Closed early when the reader fell too far behind.
    pub progress: mpsc::Receiver<Progress>,
    /// The final answer.
    pub outcome: oneshot::Receiver<Result<ResponseBody, OpFailure>>,
    /// Called once when the stream is dropped before [`OpStream::finished`].
    pub cancel: Option<Box<dyn FnOnce() + Send>>,
}

impl OpStream {
    /// The final answer arrived: dropping the stream no longer cancels anything.
    pub fn finished(&mut self) {
        self.cancel = None;
    }
}

impl Drop for OpStream {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel();
        }
    }
}

impl std::fmt::Debug for OpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpStream").finish_non_exhaustive()
    }
}

/// Deadline of a log answer sent in batches: it lasts as long as the client takes to read it.
pub const STREAMED_LOG_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// A log (not followed) coming in acknowledged batches (protocol version 3, see
/// `protocol::ops`): `first`, then the rest on `stream.progress`, then the final
/// `LogsEnd` with the number of entries sent. Call `ack(n)` once `n` batches (counting
/// `first`) have been passed on: the slave sends at most `protocol::ops::LOG_WINDOW`
/// batches beyond those acknowledged, so a slow reader holds the slave back instead of
/// filling the master's memory. Dropping the feed cancels the log on the slave.
pub struct LogFeed {
    /// The first batch.
    pub first: Progress,
    /// The other batches and the final answer.
    pub stream: OpStream,
    /// Acknowledges the batches consumed so far.
    pub ack: LogAck,
}

/// Acknowledges the batches of a fed log consumed so far (see [`LogFeed`]).
pub type LogAck = Box<dyn Fn(u32) + Send + Sync>;

impl std::fmt::Debug for LogFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogFeed").finish_non_exhaustive()
    }
}

/// A log answer: whole (from a slave of an older protocol, or an empty log), or fed in
/// batches.
#[derive(Debug)]
pub enum LogsAnswer {
    /// The final answer, as [`crate::service::Operations::call`] gives it.
    Whole(ResponseBody),
    /// The entries in acknowledged batches.
    Fed(LogFeed),
}

/// The bytes of an upload (an image tarball), fed by the HTTP handler as they arrive.
#[derive(Debug)]
pub struct Upload {
    /// Exact length announced (the request's `Content-Length`).
    pub total_len: u64,
    /// The bytes, in order; closed after the last one (or early, when the client went away).
    pub data: mpsc::Receiver<Bytes>,
}

/// Why an upload did not reach the slave whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadFailure {
    /// The client sent more than it announced.
    #[error("more than the announced {total} bytes")]
    TooLong {
        /// Bytes announced.
        total: u64,
    },
    /// The body ended early.
    #[error("the body ended after {got} of {total} bytes")]
    Short {
        /// Bytes received.
        got: u64,
        /// Bytes announced.
        total: u64,
    },
    /// The upload has more chunks than a request can carry.
    #[error("too many chunks")]
    TooManyChunks,
    /// The session to the slave failed or the task ended first.
    #[error("stopped before the end: {0}")]
    Stopped(String),
    /// The master stopped while the upload ran.
    #[error("the master stopped")]
    MasterStopped,
}

/// A long operation to run as a task.
#[derive(Debug)]
pub struct TaskStart {
    /// The operation.
    pub call: OpCall,
    /// Who asked (for the task record).
    pub user: String,
    /// From where.
    pub client: String,
    /// What it is done to (`node/3/image/busybox:latest`).
    pub target: String,
    /// Bytes sent to the slave after the request (image import).
    pub upload: Option<Upload>,
}

/// A started task.
#[derive(Debug)]
pub struct TaskHandle {
    /// The task as created (queued or running).
    pub task: TaskRecord,
    /// The task once final.
    pub done: oneshot::Receiver<TaskRecord>,
    /// For an upload: how many bytes were handed to the session once the upload ended, or
    /// why it failed (the task fails then too).
    pub uploaded: Option<oneshot::Receiver<Result<u64, UploadFailure>>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::ops::docker_reply::DockerReply;
    use protocol::ops::host::HostReply;

    #[test]
    fn replies_lose_their_tag() {
        let done = ResponseBody::Docker(Box::new(DockerReply::Done));
        assert_eq!(reply_value(&done), Value::Null);
        let signalled = ResponseBody::Host(Box::new(HostReply::Signalled { pid: 7, signal: 15 }));
        assert_eq!(
            reply_value(&signalled),
            serde_json::json!({"pid": 7, "signal": 15})
        );
        let listed = ResponseBody::Docker(Box::new(DockerReply::Containers(Vec::new())));
        assert_eq!(reply_value(&listed), serde_json::json!([]));
    }

    #[test]
    fn failures_say_whose_they_are_and_whether_to_retry() {
        assert_eq!(OpFailure::Offline(3).side(), FailureSide::Slave);
        assert!(OpFailure::Offline(3).retryable());
        assert_eq!(OpFailure::UnknownNode(3).side(), FailureSide::Caller);
        assert!(!OpFailure::UnknownNode(3).retryable());
        let bad = OpFailure::invalid("tail", "must be a number");
        assert_eq!((bad.side(), bad.http_status()), (FailureSide::Caller, 400));
        assert_eq!(bad.field(), Some("tail"));
        let refused = OpFailure::Op(OpError::new(ErrorKind::Refused, "pid 1"));
        assert_eq!(
            (refused.side(), refused.http_status()),
            (FailureSide::Engine, 403)
        );
        assert_eq!(OpFailure::Internal("x".into()).side(), FailureSide::Master);
        assert_eq!(OpFailure::TimedOut.kind(), "timeout");
    }
}
