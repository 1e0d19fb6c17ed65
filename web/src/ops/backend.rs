//! The seam between the operations API and the master: [`OpsBackend`], which the master
//! implements on its cluster and tests implement with a fake, and the types that cross it.
//!
//! The trait is object-safe (its futures are boxed) and lives beside
//! [`crate::Backend`] rather than inside it, so the console's other fakes need not know about
//! operations; [`NoOps`] is what a router built without one answers with.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::body::Bytes;
use protocol::ops::{OpError, Progress};
use protocol::{RequestBody, ResponseBody};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::tasks::{TaskQuery, TaskRecord};

/// A boxed future, as [`OpsBackend`]'s methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why an operation could not be done. [`super::failure_status`] maps each to an HTTP
/// status.
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
    /// The slave refused or failed the operation, with a class of failure.
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

/// The bytes of an upload (an image tarball), fed by the HTTP handler as they arrive.
#[derive(Debug)]
pub struct Upload {
    /// Exact length announced (the request's `Content-Length`).
    pub total_len: u64,
    /// The bytes, in order; closed after the last one (or early, when the client went away).
    pub data: mpsc::Receiver<Bytes>,
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
    pub uploaded: Option<oneshot::Receiver<Result<u64, String>>>,
}

/// What the master offers the operations API.
pub trait OpsBackend: Send + Sync + 'static {
    /// Sends an operation and waits for its final answer (a streamed answer is reassembled
    /// and decoded). An unknown node, an offline one, or one without operations fails at
    /// once, before anything is sent.
    fn call(&self, call: OpCall) -> BoxFuture<'_, Result<ResponseBody, OpFailure>>;

    /// Sends an operation whose progress updates are wanted as they come (a followed log).
    fn stream(&self, call: OpCall) -> BoxFuture<'_, Result<OpStream, OpFailure>>;

    /// Records a task and runs it in the background. Fails at once, creating no task, for an
    /// unknown or offline node.
    fn start_task(&self, start: TaskStart) -> BoxFuture<'_, Result<TaskHandle, OpFailure>>;

    /// One task, running or finished.
    fn task(&self, id: u64) -> BoxFuture<'_, Result<Option<TaskRecord>, OpFailure>>;

    /// Tasks, newest first.
    fn tasks(&self, query: TaskQuery) -> BoxFuture<'_, Result<Vec<TaskRecord>, OpFailure>>;

    /// A receiver of every task change from now on (the task as `Self::task` would answer
    /// it), or `None` when this backend has no task events or is shutting down. The stream
    /// ends when the sender closes; a receiver that lags must refetch the list.
    fn task_events(&self) -> Option<broadcast::Receiver<TaskRecord>> {
        None
    }
}

/// A backend without operations: every call answers 503 (a router built without a master,
/// as in the console's own tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoOps;

const NO_OPS: &str = "node operations are not available on this server";

impl OpsBackend for NoOps {
    fn call(&self, _call: OpCall) -> BoxFuture<'_, Result<ResponseBody, OpFailure>> {
        Box::pin(async { Err(OpFailure::Unavailable(NO_OPS.into())) })
    }

    fn stream(&self, _call: OpCall) -> BoxFuture<'_, Result<OpStream, OpFailure>> {
        Box::pin(async { Err(OpFailure::Unavailable(NO_OPS.into())) })
    }

    fn start_task(&self, _start: TaskStart) -> BoxFuture<'_, Result<TaskHandle, OpFailure>> {
        Box::pin(async { Err(OpFailure::Unavailable(NO_OPS.into())) })
    }

    fn task(&self, _id: u64) -> BoxFuture<'_, Result<Option<TaskRecord>, OpFailure>> {
        Box::pin(async { Ok(None) })
    }

    fn tasks(&self, _query: TaskQuery) -> BoxFuture<'_, Result<Vec<TaskRecord>, OpFailure>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}
