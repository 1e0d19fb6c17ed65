//! One operation call as a handler makes it: the node, the target and caller for the
//! audit record, and the call to the master's [`model::service::Operations`], which
//! validates, sends and audits it (exactly one entry per operation; a task's when it
//! ends). A malformed argument is reported to the master as refused, so it is audited too.

use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use model::ops::{Caller, OpCall, OpFailure, OpRequest, Upload, UploadFailure, reply_value};
use model::task::TaskRecord;
use protocol::ops::{ErrorKind, OpError};
use protocol::{RequestBody, ResponseBody};
use serde_json::Value;

use super::error::OpsError;
use super::params::{PathParams, parse_node};
use crate::auth::AuthContext;
use crate::state::AppState;

pub use model::ops::{OP_TIMEOUT, TASK_TIMEOUT, check, docker, host};

/// How an upload ended: bytes handed to the session, or why it failed.
pub type Uploaded = tokio::sync::oneshot::Receiver<Result<u64, UploadFailure>>;

/// 200 with the answer as JSON, or 204 when it has no content.
pub fn answer(body: &ResponseBody) -> Response {
    match reply_value(body) {
        Value::Null => StatusCode::NO_CONTENT.into_response(),
        value => Json(value).into_response(),
    }
}

/// One call in a handler: who, which node, what target, for the audit record.
pub struct Op<'a> {
    pub(super) state: &'a AppState,
    pub(super) ctx: &'a AuthContext,
    action: String,
    node_raw: String,
    node: Option<u64>,
    target: String,
}

impl<'a> Op<'a> {
    /// A call of `action` (`host.signal`) on the route's `{node}`.
    pub fn new(state: &'a AppState, ctx: &'a AuthContext, path: &PathParams, action: &str) -> Self {
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

    /// Names a part of the node: target `node/<id>/<part>`.
    pub fn on_part(mut self, part: &str) -> Self {
        self.target = format!("node/{}/{part}", self.node_raw);
        self
    }

    /// The audit target.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Who asks.
    pub fn caller(&self) -> Caller {
        self.ctx.caller()
    }

    /// The request of `body` on this op's node and target.
    pub fn request(&self, node: u64, body: RequestBody, timeout: Duration) -> OpRequest {
        OpRequest {
            caller: self.caller(),
            target: self.target.clone(),
            call: OpCall {
                node,
                body,
                timeout,
            },
        }
    }

    /// Reports a failure that happened before the master was asked (audited there).
    async fn refuse(&self, failure: OpFailure) -> OpsError {
        let caller = self.caller();
        self.state
            .services
            .ops
            .refused(&caller, &self.action, &self.target, &failure)
            .await;
        OpsError::from(failure)
    }

    /// The node id, or the 404 for a malformed one (recorded).
    pub async fn node(&self) -> Result<u64, OpsError> {
        match self.node {
            Some(n) => Ok(n),
            None => {
                let failure = OpFailure::NotFound(format!("no node {:?}", self.node_raw));
                Err(self.refuse(failure).await)
            }
        }
    }

    /// Passes parsed arguments through, recording a refusal.
    pub async fn args<T>(&self, parsed: Result<T, OpsError>) -> Result<T, OpsError> {
        match parsed {
            Ok(v) => Ok(v),
            Err(e) => {
                let failure = OpFailure::Op(OpError {
                    kind: ErrorKind::InvalidArgument,
                    field: None,
                    message: e.message.clone(),
                });
                let _ = self.refuse(failure).await;
                Err(e)
            }
        }
    }

    /// Sends `body` through the master (validated and audited there) and waits.
    pub async fn call(
        &self,
        body: RequestBody,
        timeout: Duration,
    ) -> Result<ResponseBody, OpsError> {
        let node = self.node().await?;
        let request = self.request(node, body, timeout);
        self.state
            .services
            .ops
            .call(request)
            .await
            .map_err(OpsError::from)
    }

    /// A container's log through the master (validated and audited there): fed in batches
    /// when the node streams logs, else whole.
    pub async fn logs(
        &self,
        body: RequestBody,
        timeout: Duration,
    ) -> Result<model::ops::LogsAnswer, OpsError> {
        let node = self.node().await?;
        let request = self.request(node, body, timeout);
        self.state
            .services
            .ops
            .logs(request)
            .await
            .map_err(OpsError::from)
    }

    /// A read without an audit record (a probe).
    pub async fn call_unrecorded(
        &self,
        body: RequestBody,
        timeout: Duration,
    ) -> Result<ResponseBody, OpsError> {
        let node = self
            .node
            .ok_or_else(|| OpsError::not_found(format!("no node {:?}", self.node_raw)))?;
        self.state
            .services
            .ops
            .read(OpCall {
                node,
                body,
                timeout,
            })
            .await
            .map_err(OpsError::from)
    }

    /// Starts `body` as a task through the master; its audit record is written when it
    /// ends.
    pub async fn task(
        &self,
        body: RequestBody,
        upload: Option<Upload>,
    ) -> Result<(TaskRecord, Option<Uploaded>), OpsError> {
        let node = self.node().await?;
        let request = self.request(node, body, TASK_TIMEOUT);
        let handle = self
            .state
            .services
            .ops
            .start_task(request, upload)
            .await
            .map_err(OpsError::from)?;
        Ok((handle.task, handle.uploaded))
    }
}

/// 202 Accepted with `{"task": id, "state": ..., "href": "/api/v1/tasks/<id>"}` and a
/// `Location` header.
pub fn accepted(task: &TaskRecord) -> Response {
    let href = format!("/api/v1/tasks/{}", task.id);
    let body = super::schema::TaskAccepted {
        task: task.id,
        state: task.state,
        href: href.clone(),
    };
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(&href) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, value);
    }
    response
}
