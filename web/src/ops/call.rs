//! One operation call as a handler makes it: the node, the audit record, validation with
//! `protocol::ops::validate` before anything is sent, the call itself, and the shaping of
//! the answer as JSON.
//!
//! Every call writes exactly one audit entry: `user` and `client` of the session, `action`
//! the operation's [`RequestBody::name`] (`docker.stop_container`), `target`
//! `node/<id>[/<kind>/<object>]`, and the result: `ok`, `denied` (refused before anything
//! was sent: a bad argument) or `failed` (unknown or offline node, or the operation failed),
//! with the error as detail. A task's entry is written when the task ends.

use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::ops::docker::DockerOp;
use protocol::ops::host::HostOp;
use protocol::ops::validate;
use protocol::{RequestBody, ResponseBody};
use serde_json::Value;

use super::backend::{OpCall, OpFailure, TaskStart, Upload};
use super::error::OpsError;
use super::params::{PathParams, parse_node};
use super::tasks::{TaskRecord, TaskState};
use crate::audit::AuditResult;
use crate::auth::AuthContext;
use crate::state::AppState;

/// How an upload ended: bytes handed to the session, or why it failed.
pub type Uploaded = tokio::sync::oneshot::Receiver<Result<u64, String>>;

/// Deadline of a short operation.
pub const OP_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline of a task (pull, deploy, import).
pub const TASK_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A host operation's request body.
pub fn host(op: HostOp) -> RequestBody {
    RequestBody::Host(Box::new(op))
}

/// A Docker operation's request body.
pub fn docker(op: DockerOp) -> RequestBody {
    RequestBody::Docker(Box::new(op))
}

/// Checks every argument of an operation (the slave checks again).
pub fn check(body: &RequestBody) -> Result<(), OpsError> {
    match body {
        RequestBody::Host(op) => validate::host_op(op).map_err(OpsError::from),
        RequestBody::Docker(op) => validate::docker_op(op).map_err(OpsError::from),
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

/// 200 with the answer as JSON, or 204 when it has no content.
pub fn answer(body: &ResponseBody) -> Response {
    match reply_value(body) {
        Value::Null => StatusCode::NO_CONTENT.into_response(),
        value => Json(value).into_response(),
    }
}

/// One call in a handler: who, which node, what target, for the audit record.
pub struct Op<'a, B> {
    pub(super) state: &'a AppState<B>,
    pub(super) ctx: &'a AuthContext,
    action: String,
    node_raw: String,
    node: Option<u64>,
    target: String,
}

impl<'a, B> Op<'a, B> {
    /// A call of `action` (`host.signal`) on the route's `{node}`.
    pub fn new(
        state: &'a AppState<B>,
        ctx: &'a AuthContext,
        path: &PathParams,
        action: &str,
    ) -> Self {
        let node_raw = path.node_raw().to_owned();
        Self {
            state,
            ctx,
            action: action.to_owned(),
            node: parse_node(&node_raw),
            target: format!("node/{node_raw}"),
            node_raw,
        }
    }

    /// Names the object: target `node/<id>/<kind>/<object>`.
    pub fn on(mut self, kind: &str, object: &str) -> Self {
        self.target = format!("node/{}/{kind}/{object}", self.node_raw);
        self
    }

    /// Names the object without a kind: target `node/<id>/<what>`.
    pub fn on_part(mut self, what: &str) -> Self {
        self.target = format!("node/{}/{what}", self.node_raw);
        self
    }

    /// The audit target.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The node id, or the 404 for a malformed one (recorded).
    pub async fn node(&self) -> Result<u64, OpsError> {
        match self.node {
            Some(n) => Ok(n),
            None => {
                let e = OpsError::from(OpFailure::NotFound(format!("no node {:?}", self.node_raw)));
                Err(self.fail(&self.action, AuditResult::Failed, e).await)
            }
        }
    }

    /// Writes the audit record.
    pub async fn record(&self, action: &str, result: AuditResult, detail: &str) {
        let event = self.ctx.event(action, &self.target, result, detail);
        self.state.auth.record(event).await;
    }

    /// Records a failure (`denied`: refused before anything was sent; `failed`: tried)
    /// and returns it.
    async fn fail(&self, action: &str, result: AuditResult, e: OpsError) -> OpsError {
        self.record(action, result, &e.message).await;
        e
    }

    /// Passes parsed arguments through, recording a failure.
    pub async fn args<T>(&self, parsed: Result<T, OpsError>) -> Result<T, OpsError> {
        match parsed {
            Ok(v) => Ok(v),
            Err(e) => Err(self.fail(&self.action, AuditResult::Denied, e).await),
        }
    }

    /// Validates and sends `body`, waits for the answer and records the call.
    pub async fn call(
        &self,
        body: RequestBody,
        timeout: Duration,
    ) -> Result<ResponseBody, OpsError> {
        let action = body.name();
        let node = self.node().await?;
        if let Err(e) = check(&body) {
            return Err(self.fail(&action, AuditResult::Denied, e).await);
        }
        let call = OpCall {
            node,
            body,
            timeout,
        };
        match self.state.ops.call(call).await {
            Ok(reply) => {
                self.record(&action, AuditResult::Ok, "").await;
                Ok(reply)
            }
            Err(f) => Err(self
                .fail(&action, AuditResult::Failed, OpsError::from(f))
                .await),
        }
    }

    /// [`Op::call`] without the audit record (a probe, or a call recorded otherwise).
    pub async fn call_unrecorded(
        &self,
        body: RequestBody,
        timeout: Duration,
    ) -> Result<ResponseBody, OpsError> {
        let node = self
            .node
            .ok_or_else(|| OpsError::not_found(format!("no node {:?}", self.node_raw)))?;
        check(&body)?;
        self.state
            .ops
            .call(OpCall {
                node,
                body,
                timeout,
            })
            .await
            .map_err(OpsError::from)
    }

    /// Validates `body` and starts it as a task; its audit record is written when it ends.
    pub async fn task(
        &self,
        body: RequestBody,
        upload: Option<Upload>,
    ) -> Result<(TaskRecord, Option<Uploaded>), OpsError> {
        let action = body.name();
        let node = self.node().await?;
        if let Err(e) = check(&body) {
            return Err(self.fail(&action, AuditResult::Denied, e).await);
        }
        let start = TaskStart {
            call: OpCall {
                node,
                body,
                timeout: TASK_TIMEOUT,
            },
            user: self.ctx.username().to_owned(),
            client: self.ctx.client.to_string(),
            target: self.target.clone(),
            upload,
        };
        let handle = match self.state.ops.start_task(start).await {
            Ok(h) => h,
            Err(f) => {
                let e = OpsError::from(f);
                return Err(self.fail(&action, AuditResult::Failed, e).await);
            }
        };
        let super::backend::TaskHandle {
            task,
            done,
            uploaded,
        } = handle;
        let auth = std::sync::Arc::clone(&self.state.auth);
        let mut event = self.ctx.event(&action, &self.target, AuditResult::Ok, "");
        let id = task.id;
        tokio::spawn(async move {
            (event.result, event.detail) = match done.await {
                Ok(task) => task_outcome(&task),
                Err(_) => (
                    AuditResult::Failed,
                    format!("task {id}: interrupted (the master stopped)"),
                ),
            };
            auth.record(event).await;
        });
        Ok((task, uploaded))
    }
}

/// The audit result and detail of an ended task.
fn task_outcome(task: &TaskRecord) -> (AuditResult, String) {
    match (&task.state, &task.error) {
        (TaskState::Succeeded, _) => (AuditResult::Ok, format!("task {}", task.id)),
        (_, Some(e)) => (
            AuditResult::Failed,
            format!("task {}: {}", task.id, e.message),
        ),
        (state, None) => (
            AuditResult::Failed,
            format!("task {}: {}", task.id, state.as_str()),
        ),
    }
}

/// 202 Accepted with `{"task": id, "state": ..., "href": "/api/v1/tasks/<id>"}` and a
/// `Location` header.
pub fn accepted(task: &TaskRecord) -> Response {
    let href = format!("/api/v1/tasks/{}", task.id);
    let body = serde_json::json!({ "task": task.id, "state": task.state, "href": href });
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(&href) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, value);
    }
    response
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
}
