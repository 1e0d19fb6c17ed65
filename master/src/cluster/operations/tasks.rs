//! Tasks: a long operation recorded in the store, run in the background.
//!
//! [`start`] checks the node, allocates an id, saves the task `queued` and spawns its
//! driver. The driver waits for a place in the node's queue ([`super::TASKS_PER_NODE`]),
//! marks it `running`, sends the request with a progress channel, folds every progress
//! update into the record (saved at most every [`SAVE_EVERY`]), and on the final answer
//! saves it `succeeded` (with the answer as JSON), `failed` or `timed_out`. An upload is
//! pumped alongside: the HTTP body re-cut into chunks of at most
//! [`protocol::ops::CHUNK_SIZE`], queued on the node's session with back-pressure.
//!
//! A task left `queued` or `running` by a master that stopped is marked failed at the next
//! start ([`fail_unfinished`]): nothing can finish it any more. The store keeps the newest
//! [`MAX_STORED_TASKS`] (pruned at the first task query after start and hourly with the
//! metric samples).

use super::{OpsState, blocking, outcome_result, request_failure};
use crate::cluster::Cluster;
use crate::cluster::requests::{ChunkSender, PROGRESS_CAPACITY};
use crate::pending::{RequestFailure, RequestOutcome};
use crate::store::{Store, StoreError};
use model::clock::duration_ms;
use model::ops::{OpCall, OpFailure, TaskHandle, TaskStart, Upload, UploadFailure};
use model::task::{TaskQuery, TaskRecord, TaskState};
use protocol::ops::CHUNK_SIZE;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Progress is saved at most this often (the in-memory record is always current).
pub const SAVE_EVERY: Duration = Duration::from_secs(1);
/// Most stored tasks one list examines.
pub const SCAN_LIMIT: usize = 10_000;
/// Stored tasks kept; older ones are pruned at start and hourly.
pub const MAX_STORED_TASKS: u64 = 10_000;

/// Marks every task still `queued` or `running` in the store as failed at `now_ms`;
/// returns how many.
pub fn fail_unfinished(store: &dyn Store, now_ms: u64) -> Result<usize, StoreError> {
    let mut fixed = 0;
    let mut before = None;
    loop {
        let page = store.list_tasks(before, 500)?;
        let Some(last) = page.last() else {
            return Ok(fixed);
        };
        before = Some(last.id);
        for mut task in page.into_iter().filter(|t| !t.state.is_final()) {
            task.finish(
                Err(OpFailure::Failed(
                    "interrupted: the master stopped before the task ended".into(),
                )),
                now_ms,
            );
            store.put_task(&task)?;
            fixed += 1;
        }
    }
}

/// Stored tasks matching `query`, newest first (at most [`SCAN_LIMIT`] examined).
pub fn scan(store: &dyn Store, query: &TaskQuery) -> Result<Vec<TaskRecord>, StoreError> {
    let mut out = Vec::new();
    let mut before = query.before;
    let mut examined = 0;
    while out.len() < query.limit && examined < SCAN_LIMIT {
        let page = store.list_tasks(before, 500)?;
        let Some(last) = page.last() else {
            break;
        };
        before = Some(last.id);
        examined += page.len();
        out.extend(page.into_iter().filter(|t| query.matches(t)));
    }
    out.truncate(query.limit);
    Ok(out)
}

/// Saves a task on a blocking thread, logging a failure (the task goes on).
async fn save(store: &Arc<dyn Store>, task: TaskRecord) {
    let store = Arc::clone(store);
    let id = task.id;
    if let Err(e) = blocking(move || store.put_task(&task)).await {
        tracing::error!(task = id, "cannot save the task: {e}");
    }
}

/// Records and starts a task (see the module docs).
pub async fn start(cluster: &Cluster, start: TaskStart) -> Result<TaskHandle, OpFailure> {
    cluster
        .ops_reachable(start.call.node)
        .map_err(request_failure)?;
    let store = Arc::clone(cluster.store());
    let id = blocking(move || store.next_task_id()).await?;
    let task = TaskRecord::queued(id, &start, cluster.now_ms());
    let store = Arc::clone(cluster.store());
    let saved = task.clone();
    blocking(move || store.put_task(&saved)).await?;
    cluster.ops_state().active().insert(id, task.clone());
    cluster.ops_state().publish(&task, true);
    let (done_tx, done_rx) = oneshot::channel();
    let (uploaded_tx, uploaded_rx) = match start.upload {
        Some(_) => {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        }
        None => (None, None),
    };
    let driver = Driver {
        cluster: cluster.clone(),
        id,
        call: start.call,
        upload: start.upload.map(|u| (u, uploaded_tx)),
    };
    tokio::spawn(driver.run(done_tx));
    Ok(TaskHandle {
        task,
        done: done_rx,
        uploaded: uploaded_rx,
    })
}

type UploadReport = Option<oneshot::Sender<Result<u64, UploadFailure>>>;

struct Driver {
    cluster: Cluster,
    id: u64,
    call: OpCall,
    upload: Option<(Upload, UploadReport)>,
}

impl Driver {
    fn ops(&self) -> &OpsState {
        self.cluster.ops_state()
    }

    async fn run(mut self, done: oneshot::Sender<TaskRecord>) {
        let node = self.call.node;
        let queue = self.ops().queue(node);
        let _permit = queue.acquire_owned().await;
        let id = self.id;
        let now = self.cluster.now_ms();
        if let Some(task) = self.ops().update(id, |t| {
            t.state = TaskState::Running;
            t.started_ms = Some(now);
        }) {
            save(self.cluster.store(), task).await;
        }
        let outcome = self.send().await;
        let result = outcome.map(|body| model::ops::reply_value(&body));
        let now = self.cluster.now_ms();
        let finished = self.ops().update(id, |t| t.finish(result, now));
        let task = self.ops().active().remove(&id).or(finished);
        if let Some(task) = task {
            save(self.cluster.store(), task.clone()).await;
            tracing::info!(task = id, node, state = task.state.as_str(), action = %task.action, "task ended");
            let _ = done.send(task);
        }
    }

    /// Sends the request (and the upload), follows its progress, returns its outcome.
    async fn send(&mut self) -> Result<protocol::ResponseBody, OpFailure> {
        let (ptx, mut prx) = mpsc::channel(PROGRESS_CAPACITY);
        let node = self.call.node;
        let body = self.call.body.clone();
        let upload = self.upload.take();
        let inflight = match self
            .cluster
            .start_request(node, body, self.call.timeout, Some(ptx))
        {
            Ok(inflight) => inflight,
            Err(e) => {
                if let Some((_, Some(report))) = upload {
                    let _ = report.send(Err(UploadFailure::Stopped(e.to_string())));
                }
                return Err(request_failure(e));
            }
        };
        let request_id = inflight.id;
        let (stop_tx, stop_rx) = oneshot::channel::<String>();
        let pump = upload.map(|(upload, report)| {
            let pump = Pump {
                cluster: self.cluster.clone(),
                task: self.id,
                node,
                request: request_id,
                chunks: inflight.chunks.clone(),
            };
            tokio::spawn(pump.run(upload, report, stop_rx))
        });
        let mut outcome_rx = inflight.outcome;
        let mut saved_at = self.cluster.now_ms();
        let outcome = loop {
            tokio::select! {
                biased;
                Some(update) = prx.recv() => {
                    if let Some(task) = self.ops().update(self.id, |t| t.apply(&update))
                        && self.cluster.now_ms().saturating_sub(saved_at) >= duration_ms(SAVE_EVERY)
                    {
                        saved_at = self.cluster.now_ms();
                        save(self.cluster.store(), task).await;
                    }
                }
                outcome = &mut outcome_rx => {
                    break outcome.unwrap_or(RequestOutcome::Failed(RequestFailure::SessionEnded));
                }
            }
        };
        while let Ok(update) = prx.try_recv() {
            self.ops().update(self.id, |t| t.apply(&update));
        }
        let mut result = outcome_result(outcome);
        if let Some(pump) = pump {
            let why = match &result {
                Ok(_) => "the slave answered".to_string(),
                Err(e) => e.to_string(),
            };
            let _ = stop_tx.send(why);
            if let Ok(Err(why)) = pump.await {
                result = Err(OpFailure::Failed(format!("the upload failed: {why}")));
            }
        }
        result
    }
}

struct Pump {
    cluster: Cluster,
    task: u64,
    node: u64,
    request: u64,
    chunks: ChunkSender,
}

impl Pump {
    /// Pumps the upload, reports how it ended, and cancels the request when it failed.
    async fn run(
        self,
        upload: Upload,
        report: UploadReport,
        stop: oneshot::Receiver<String>,
    ) -> Result<u64, UploadFailure> {
        let result = tokio::select! {
            r = self.pump(upload) => r,
            why = stop => Err(UploadFailure::Stopped(why.unwrap_or_default())),
        };
        if result.is_err() {
            self.cluster.cancel_request(self.node, self.request);
        }
        if let Some(report) = report {
            let _ = report.send(result.clone());
        }
        result
    }

    async fn pump(&self, mut upload: Upload) -> Result<u64, UploadFailure> {
        let total = upload.total_len;
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_SIZE);
        let (mut sent, mut seq) = (0u64, 0u32);
        loop {
            while !buf.is_empty() && (buf.len() >= CHUNK_SIZE || sent + buf.len() as u64 == total) {
                let n = buf.len().min(CHUNK_SIZE);
                let rest = buf.split_off(n);
                let data = std::mem::replace(&mut buf, rest);
                sent += n as u64;
                self.chunks
                    .send(seq, sent == total, data)
                    .await
                    .map_err(|e| UploadFailure::Stopped(e.to_string()))?;
                seq = seq.checked_add(1).ok_or(UploadFailure::TooManyChunks)?;
                self.cluster
                    .ops_state()
                    .update(self.task, |t| t.progress.uploaded_bytes = sent);
            }
            if sent == total {
                return Ok(sent);
            }
            match upload.data.recv().await {
                Some(bytes) => {
                    if sent + (buf.len() + bytes.len()) as u64 > total {
                        return Err(UploadFailure::TooLong { total });
                    }
                    buf.extend_from_slice(&bytes);
                }
                None => {
                    let got = sent + buf.len() as u64;
                    return Err(UploadFailure::Short { got, total });
                }
            }
        }
    }
}
