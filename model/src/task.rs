//! Tasks: long operations (image pulls, deployments, image imports) that run in the
//! background on the master, with a state, progress and a result, kept in the master's store.
//!
//! A task moves `queued` → `running` → `succeeded` | `failed` | `timed_out`. It is queued
//! while its node already runs its share of tasks. Progress comes from the slave's
//! [`Progress`] updates: the current step of a deployment, each layer of a pull, the bytes
//! of an upload handed to the session so far.

use std::collections::BTreeMap;

use protocol::ops::{Progress, ProgressEvent};
use serde::{Deserialize, Serialize};

use crate::ops::{OpFailure, TaskStart};

/// Tasks one list answers unless asked otherwise.
pub const DEFAULT_TASKS: usize = 50;
/// Most tasks one list answers.
pub const MAX_TASKS: usize = 500;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TaskState {
    /// Waiting for its node to finish other tasks.
    Queued,
    /// Sent to the slave.
    Running,
    /// Done; `result` holds the answer.
    Succeeded,
    /// Failed; `error` says why.
    Failed,
    /// No answer before its deadline.
    TimedOut,
}

impl TaskState {
    /// Whether the task has ended.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::TimedOut)
    }

    /// `queued`, `running`, `succeeded`, `failed` or `timed_out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
        }
    }

    /// Parses [`TaskState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Running,
            Self::Succeeded,
            Self::Failed,
            Self::TimedOut,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }
}

/// One image layer of a pull.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LayerProgress {
    /// The engine's status text (`Downloading`, `Pull complete`, ...).
    pub status: String,
    /// Bytes done in the current phase.
    pub current: u64,
    /// Bytes in the current phase, 0 when unknown.
    pub total: u64,
}

/// How far a task got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskProgress {
    /// The current step of a multi-step operation (`pull`, `create`, `start`).
    pub step: Option<String>,
    /// The latest message about the whole image.
    pub status: Option<String>,
    /// Pull progress per layer id.
    pub layers: BTreeMap<String, LayerProgress>,
    /// Upload bytes handed to the session so far.
    pub uploaded_bytes: u64,
    /// Upload size (0 when the task uploads nothing).
    pub upload_bytes: u64,
    /// Progress updates received.
    pub updates: u32,
}

/// Why a task failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskError {
    /// The HTTP status the failure maps to (as a synchronous call would have answered).
    pub status: u16,
    /// The class of failure (`not_found`, `timeout`, `offline`, ...).
    pub kind: String,
    /// The request field at fault, if any.
    pub field: Option<String>,
    /// What went wrong.
    pub message: String,
}

impl TaskError {
    /// The record of `failure`.
    pub fn from_failure(failure: &OpFailure) -> Self {
        Self {
            status: failure.http_status(),
            kind: failure.kind().to_owned(),
            field: match failure {
                OpFailure::Op(e) => e.field.clone(),
                _ => None,
            },
            message: failure.to_string(),
        }
    }
}

/// A task as stored and answered by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskRecord {
    /// Task id (increasing).
    pub id: u64,
    /// The node it runs on.
    pub node: u64,
    /// The operation (`docker.pull_image`), as in the audit log.
    pub action: String,
    /// What it is done to (`node/3/image/busybox:latest`), as in the audit log.
    pub target: String,
    /// Who started it.
    pub user: String,
    /// From which client address.
    pub client: String,
    /// Where it is.
    pub state: TaskState,
    /// Created, Unix ms.
    pub created_ms: u64,
    /// Sent to the slave, Unix ms.
    pub started_ms: Option<u64>,
    /// Ended, Unix ms.
    pub finished_ms: Option<u64>,
    /// How far it got.
    #[serde(default)]
    pub progress: TaskProgress,
    /// The answer, once succeeded (the operation's reply, as the synchronous API shapes it).
    pub result: Option<serde_json::Value>,
    /// Why it failed or timed out.
    pub error: Option<TaskError>,
}

impl TaskRecord {
    /// A queued task.
    pub fn queued(id: u64, start: &TaskStart, now_ms: u64) -> Self {
        Self {
            id,
            node: start.call.node,
            action: start.call.body.name(),
            target: start.target.clone(),
            user: start.user.clone(),
            client: start.client.clone(),
            state: TaskState::Queued,
            created_ms: now_ms,
            started_ms: None,
            finished_ms: None,
            progress: TaskProgress {
                upload_bytes: start.upload.as_ref().map_or(0, |u| u.total_len),
                ..TaskProgress::default()
            },
            result: None,
            error: None,
        }
    }

    /// Folds a progress update from the slave into the record.
    pub fn apply(&mut self, update: &Progress) {
        let p = &mut self.progress;
        p.updates = p.updates.saturating_add(1);
        match &update.event {
            ProgressEvent::Step { step } => p.step = Some(step.clone()),
            ProgressEvent::Pull(pull) if pull.layer.is_empty() => {
                p.status = Some(pull.status.clone());
            }
            ProgressEvent::Pull(pull) => {
                // A pull of a big image has a few dozen layers: bounded by the engine.
                let layer = p.layers.entry(pull.layer.clone()).or_default();
                layer.status.clone_from(&pull.status);
                layer.current = pull.current;
                layer.total = pull.total;
            }
            ProgressEvent::Logs(_) => {}
        }
    }

    /// Ends the task with the outcome of its operation.
    pub fn finish(&mut self, outcome: Result<serde_json::Value, OpFailure>, now_ms: u64) {
        self.finished_ms = Some(now_ms);
        match outcome {
            Ok(result) => {
                self.state = TaskState::Succeeded;
                self.result = Some(result);
            }
            Err(failure) => {
                let timed_out = matches!(failure, OpFailure::TimedOut)
                    || matches!(&failure, OpFailure::Op(e) if e.kind == protocol::ops::ErrorKind::Timeout);
                self.state = if timed_out {
                    TaskState::TimedOut
                } else {
                    TaskState::Failed
                };
                self.error = Some(TaskError::from_failure(&failure));
            }
        }
    }
}

/// Filters of a task list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskQuery {
    /// Only tasks of this node.
    pub node: Option<u64>,
    /// Only tasks in this state.
    pub state: Option<TaskState>,
    /// Only tasks with a smaller id.
    pub before: Option<u64>,
    /// Most tasks to answer, 1..=[`MAX_TASKS`].
    pub limit: usize,
}

impl Default for TaskQuery {
    fn default() -> Self {
        Self {
            node: None,
            state: None,
            before: None,
            limit: DEFAULT_TASKS,
        }
    }
}

impl TaskQuery {
    /// Whether `task` passes the node and state filters.
    pub fn matches(&self, task: &TaskRecord) -> bool {
        self.node.is_none_or(|n| n == task.node)
            && self.state.is_none_or(|s| s == task.state)
            && self.before.is_none_or(|b| task.id < b)
    }
}
