//! Node operations on the cluster: calls, streams and tasks, as the operations service
//! ([`crate::services::OperationsService`]) uses them.
//!
//! A call is validated again with `protocol::ops::validate`, sent with
//! [`Cluster::start_request`] (which refuses at once an unknown node, an offline one or one
//! whose session predates operations), and its outcome (a streamed answer reassembled and
//! decoded) mapped to a result or an [`OpFailure`]. Long operations become tasks
//! ([`tasks`]); a followed log is a stream whose progress updates come through the pending
//! table and which is cancelled on the slave when its reader goes away.
//!
//! [`OpsState`] holds what outlives one call: the tasks in flight (the store has them too),
//! the per-node task queues, the broadcast of task changes to console streams
//! (`GET /api/v1/tasks/events`; progress throttled to [`PUBLISH_EVERY`] per task, changes
//! of state at once), and the shutdown signal that ends streams.

pub mod tasks;

use crate::cluster::requests::{ChunkSender, PROGRESS_CAPACITY};
use crate::cluster::{Cluster, RequestError};
use crate::pending::{RequestFailure, RequestOutcome};
use model::Clock;
use model::clock::duration_ms;
use model::ops::{LogAck, OpCall, OpFailure, OpStream, TaskHandle, TaskStart};
use model::task::{TaskQuery, TaskRecord};
use protocol::ResponseBody;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot, watch};

/// Tasks that run at once on one node; more wait, `queued`.
pub const TASKS_PER_NODE: usize = 4;
/// Task changes buffered per console stream; a stream further behind is told to resync.
pub const TASK_EVENTS_CAPACITY: usize = 256;
/// Progress of one task is broadcast at most this often (changes of state at once).
pub const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// State of the operations beyond single calls.
pub struct OpsState {
    /// Tasks not yet final, by id (fresher than the store: progress is saved throttled).
    active: Mutex<HashMap<u64, TaskRecord>>,
    /// One queue per node.
    queues: Mutex<HashMap<u64, Arc<Semaphore>>>,
    /// Set when the master shuts down: streams end, new calls are refused.
    closing: watch::Sender<bool>,
    /// Tasks left unfinished by an earlier run were marked failed.
    recovered: tokio::sync::OnceCell<()>,
    /// Task changes for console streams; `None` once closed for shutdown.
    events: Mutex<Option<broadcast::Sender<TaskRecord>>>,
    /// When each in-flight task was last broadcast, Unix ms (progress is throttled).
    published: Mutex<HashMap<u64, u64>>,
    /// The cluster's clock: task timestamps and the progress throttle.
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for OpsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsState")
            .field("closing", &self.is_closing())
            .finish_non_exhaustive()
    }
}

impl OpsState {
    /// Nothing in flight yet; times read from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            active: Mutex::new(HashMap::new()),
            queues: Mutex::new(HashMap::new()),
            closing: watch::channel(false).0,
            recovered: tokio::sync::OnceCell::new(),
            events: Mutex::new(Some(broadcast::channel(TASK_EVENTS_CAPACITY).0)),
            published: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// Now, Unix milliseconds, by the cluster's clock.
    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn active(&self) -> MutexGuard<'_, HashMap<u64, TaskRecord>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The queue of node `node`.
    fn queue(&self, node: u64) -> Arc<Semaphore> {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            queues
                .entry(node)
                .or_insert_with(|| Arc::new(Semaphore::new(TASKS_PER_NODE))),
        )
    }

    /// Ends streams (task events too) and refuses new calls (graceful shutdown).
    pub fn close(&self) {
        self.closing.send_replace(true);
        *self.events.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// A receiver of every task change from now on; `None` after [`Self::close`].
    pub fn subscribe_tasks(&self) -> Option<broadcast::Receiver<TaskRecord>> {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.as_ref().map(broadcast::Sender::subscribe)
    }

    /// Broadcasts `task` to console streams, if anyone listens. A change of state (and the
    /// end) always goes out; progress of the same state at most every [`PUBLISH_EVERY`].
    fn publish(&self, task: &TaskRecord, state_changed: bool) {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = events.as_ref().filter(|tx| tx.receiver_count() > 0) else {
            return;
        };
        let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.now_ms();
        let due = state_changed
            || task.state.is_final()
            || published
                .get(&task.id)
                .is_none_or(|at| now.saturating_sub(*at) >= duration_ms(PUBLISH_EVERY));
        if task.state.is_final() {
            published.remove(&task.id);
        } else if due {
            published.insert(task.id, now);
        }
        if due {
            let _ = tx.send(task.clone());
        }
    }

    /// Whether [`Self::close`] was called.
    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    /// An in-flight task's current record.
    pub fn active_task(&self, id: u64) -> Option<TaskRecord> {
        self.active().get(&id).cloned()
    }

    /// Changes an in-flight task's record, broadcasts it (see [`Self::publish`]) and
    /// returns a copy.
    fn update(&self, id: u64, change: impl FnOnce(&mut TaskRecord)) -> Option<TaskRecord> {
        let mut active = self.active();
        let task = active.get_mut(&id)?;
        let before = task.state;
        change(task);
        let task = task.clone();
        drop(active);
        self.publish(&task, task.state != before);
        Some(task)
    }
}

/// The failure of a request that could not be sent.
pub fn request_failure(e: RequestError) -> OpFailure {
    match e {
        RequestError::UnknownNode(n) => OpFailure::UnknownNode(n),
        RequestError::Offline(n) => OpFailure::Offline(n),
        RequestError::Busy(n) => OpFailure::Busy(n),
        RequestError::OldProtocol { node, version } => OpFailure::OldProtocol { node, version },
    }
}

/// The result of a request's outcome (a streamed answer decoded first).
pub fn outcome_result(outcome: RequestOutcome) -> Result<ResponseBody, OpFailure> {
    match outcome.decode_streamed() {
        RequestOutcome::Done(ResponseBody::Failed(e)) => Err(OpFailure::Op(*e)),
        RequestOutcome::Done(ResponseBody::Error { message }) => Err(OpFailure::Failed(message)),
        RequestOutcome::Done(body) => Ok(body),
        RequestOutcome::Streamed(_) => Err(OpFailure::Failed("undecoded streamed answer".into())),
        RequestOutcome::Failed(failure) => Err(OpFailure::Failed(failure.to_string())),
        RequestOutcome::OpFailed(e) => Err(OpFailure::Op(e)),
        RequestOutcome::TimedOut => Err(OpFailure::TimedOut),
    }
}

const SHUTTING_DOWN: &str = "the master is shutting down";

/// Checks an operation's arguments before anything is sent (the slave checks again).
fn check(call: &OpCall) -> Result<(), OpFailure> {
    model::ops::check(&call.body)
}

/// Runs `f` on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, OpFailure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OpFailure::Internal(format!("store task failed: {e}")))?
        .map_err(|e| OpFailure::Internal(format!("store: {e}")))
}

impl Cluster {
    /// Sends an operation and waits for its final answer (a streamed answer is reassembled
    /// and decoded). An unknown node, an offline one, or one without operations fails at
    /// once, before anything is sent.
    pub async fn call_op(&self, call: OpCall) -> Result<ResponseBody, OpFailure> {
        if self.ops_state().is_closing() {
            return Err(OpFailure::Unavailable(SHUTTING_DOWN.into()));
        }
        check(&call)?;
        let inflight = self
            .start_request(call.node, call.body, call.timeout, None)
            .map_err(request_failure)?;
        let outcome = inflight
            .outcome
            .await
            .unwrap_or(RequestOutcome::Failed(RequestFailure::SessionEnded));
        outcome_result(outcome)
    }

    /// Sends an operation whose progress updates are wanted as they come (a followed log).
    pub fn stream_op(&self, call: OpCall) -> Result<OpStream, OpFailure> {
        self.stream_with(call, PROGRESS_CAPACITY)
            .map(|(stream, _)| stream)
    }

    /// A log (not followed) in acknowledged batches, when node `call.node`'s session
    /// streams logs (protocol [`protocol::STREAMED_LOGS_VERSION`]); `None` for an older
    /// session (the caller asks for the whole answer instead). The batches come through a
    /// queue of [`protocol::ops::LOG_WINDOW`] + 1: a slave that sends more than the window
    /// loses the rest of its updates, and the reader sees fewer entries than announced.
    pub fn stream_logs_op(&self, call: OpCall) -> Result<Option<(OpStream, LogAck)>, OpFailure> {
        if self
            .session_version(call.node)
            .is_none_or(|v| v < protocol::STREAMED_LOGS_VERSION)
        {
            return Ok(None);
        }
        let capacity = protocol::ops::LOG_WINDOW as usize + 1;
        let (stream, chunks) = self.stream_with(call, capacity)?;
        let ack: LogAck = Box::new(move |consumed| {
            let chunks = chunks.clone();
            // An empty chunk with the request's id acknowledges `consumed` batches.
            tokio::spawn(async move {
                if let Err(e) = chunks.send(consumed, false, Vec::new()).await {
                    tracing::debug!("cannot acknowledge log batches: {e}");
                }
            });
        });
        Ok(Some((stream, ack)))
    }

    /// Sends `call` with a progress queue of `capacity`; the stream and the sender of the
    /// request's chunks.
    fn stream_with(
        &self,
        call: OpCall,
        capacity: usize,
    ) -> Result<(OpStream, ChunkSender), OpFailure> {
        if self.ops_state().is_closing() {
            return Err(OpFailure::Unavailable(SHUTTING_DOWN.into()));
        }
        check(&call)?;
        let (ptx, prx) = mpsc::channel(capacity);
        let node = call.node;
        let inflight = self
            .start_request(node, call.body, call.timeout, Some(ptx))
            .map_err(request_failure)?;
        let id = inflight.id;
        let chunks = inflight.chunks.clone();
        let (otx, orx) = oneshot::channel();
        let mut closing = self.ops_state().closing.subscribe();
        let me = self.clone();
        tokio::spawn(async move {
            let result = tokio::select! {
                biased;
                outcome = inflight.outcome => {
                    outcome_result(outcome.unwrap_or(RequestOutcome::Failed(RequestFailure::SessionEnded)))
                }
                _ = closing.wait_for(|c| *c) => {
                    me.cancel_request(node, id);
                    Err(OpFailure::Unavailable(SHUTTING_DOWN.into()))
                }
            };
            let _ = otx.send(result);
        });
        let me = self.clone();
        let stream = OpStream {
            progress: prx,
            outcome: orx,
            cancel: Some(Box::new(move || me.cancel_request(node, id))),
        };
        Ok((stream, chunks))
    }

    async fn recover_tasks(&self) {
        let store = Arc::clone(self.store());
        self.ops_state()
            .recovered
            .get_or_init(|| async move {
                let pruning = Arc::clone(&store);
                let now = self.now_ms();
                match blocking(move || tasks::fail_unfinished(store.as_ref(), now)).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::warn!(n, "tasks left unfinished by the last run marked failed")
                    }
                    Err(e) => tracing::error!("cannot check unfinished tasks: {e}"),
                }
                let kept = tasks::MAX_STORED_TASKS;
                if let Err(e) = blocking(move || pruning.prune_tasks(kept)).await {
                    tracing::error!("cannot prune old tasks: {e:?}");
                }
            })
            .await;
    }

    /// Tasks, newest first.
    pub async fn list_tasks(&self, query: TaskQuery) -> Result<Vec<TaskRecord>, OpFailure> {
        self.recover_tasks().await;
        let store = Arc::clone(self.store());
        let stored = blocking(move || tasks::scan(store.as_ref(), &query)).await?;
        Ok(stored
            .into_iter()
            .map(|t| self.ops_state().active_task(t.id).unwrap_or(t))
            .collect())
    }

    /// One task, running or finished.
    pub async fn get_task(&self, id: u64) -> Result<Option<TaskRecord>, OpFailure> {
        self.recover_tasks().await;
        if let Some(task) = self.ops_state().active_task(id) {
            return Ok(Some(task));
        }
        let store = Arc::clone(self.store());
        blocking(move || store.get_task(id)).await
    }
}

impl Cluster {
    /// Records a task and runs it in the background. Fails at once, creating no task, for
    /// an unknown or offline node.
    pub async fn start_task(&self, start: TaskStart) -> Result<TaskHandle, OpFailure> {
        self.recover_tasks().await;
        if self.ops_state().is_closing() {
            return Err(OpFailure::Unavailable(SHUTTING_DOWN.into()));
        }
        check(&start.call)?;
        tasks::start(self, start).await
    }

    /// Tasks and streaming operations of this master.
    pub fn ops_state(&self) -> &OpsState {
        &self.inner.ops
    }

    /// A receiver of every task change from now on.
    pub fn task_events(&self) -> Option<broadcast::Receiver<TaskRecord>> {
        self.ops_state().subscribe_tasks()
    }
}

#[cfg(test)]
mod tests;
