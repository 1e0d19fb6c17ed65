//! The master's [`model::service::Operations`]: node operations with their rules.
//!
//! - Every operation is checked with `protocol::ops::validate` before anything is sent
//!   (the slave checks again).
//! - Every operation writes exactly one audit entry: `user` and `client` of the caller,
//!   `action` the operation's name (`docker.stop_container`), `target`
//!   `node/<id>[/<kind>/<object>]`, and the result: `ok`, `denied` (refused before anything
//!   was sent: a bad argument) or `failed` (unknown or offline node, or the operation
//!   failed), with the error as detail. A task's entry is written here when the task ends.
//! - Creating a container decides between creating it at once, pulling first (as a
//!   deployment task) and refusing, from whether the image is on the node.

use std::sync::Arc;
use std::time::Duration;

use model::audit::AuditResult;
use model::ops::{
    BoxFuture, Caller, LogAck, LogFeed, LogsAnswer, OP_TIMEOUT, OpCall, OpFailure, OpRequest,
    OpStream, TASK_TIMEOUT, TaskHandle, TaskStart, Upload, check, docker,
};
use model::service::{AuditLog, ContainerCreated, CreateContainer, Followed};
use model::task::{TaskQuery, TaskRecord, TaskState};
use protocol::ResponseBody;
use protocol::ops::docker::{DeployRequest, DockerOp, PullPolicy};
use protocol::ops::docker_reply::{DockerReply, LogBatch};
use protocol::ops::{ErrorKind, OpError};
use tokio::sync::broadcast;

use crate::cluster::Cluster;

/// Where operations go: the nodes' sessions ([`Cluster`]), or a simulated slave in tests.
/// Nothing here is audited or checked; [`OperationsService`] does both.
pub trait NodeDispatch: Send + Sync + 'static {
    /// Sends an operation and waits for its final answer.
    fn call(&self, call: OpCall) -> BoxFuture<'_, Result<ResponseBody, OpFailure>>;

    /// Sends an operation whose progress updates are wanted as they come.
    fn stream(&self, call: OpCall) -> BoxFuture<'_, Result<OpStream, OpFailure>>;

    /// Sends a log request (not followed) to be answered in acknowledged batches, when the
    /// node's session streams logs; `None` (nothing sent) when it does not.
    fn stream_logs(
        &self,
        call: OpCall,
    ) -> BoxFuture<'_, Result<Option<(OpStream, LogAck)>, OpFailure>> {
        let _ = call;
        Box::pin(async { Ok(None) })
    }

    /// Records a task and runs it in the background.
    fn start_task(&self, start: TaskStart) -> BoxFuture<'_, Result<TaskHandle, OpFailure>>;

    /// One task, running or finished.
    fn task(&self, id: u64) -> BoxFuture<'_, Result<Option<TaskRecord>, OpFailure>>;

    /// Tasks, newest first.
    fn tasks(&self, query: TaskQuery) -> BoxFuture<'_, Result<Vec<TaskRecord>, OpFailure>>;

    /// A receiver of every task change from now on.
    fn task_events(&self) -> Option<broadcast::Receiver<TaskRecord>>;
}

impl NodeDispatch for Cluster {
    fn call(&self, call: OpCall) -> BoxFuture<'_, Result<ResponseBody, OpFailure>> {
        Box::pin(self.call_op(call))
    }

    fn stream(&self, call: OpCall) -> BoxFuture<'_, Result<OpStream, OpFailure>> {
        Box::pin(async move { self.stream_op(call) })
    }

    fn stream_logs(
        &self,
        call: OpCall,
    ) -> BoxFuture<'_, Result<Option<(OpStream, LogAck)>, OpFailure>> {
        Box::pin(async move { self.stream_logs_op(call) })
    }

    fn start_task(&self, start: TaskStart) -> BoxFuture<'_, Result<TaskHandle, OpFailure>> {
        Box::pin(Cluster::start_task(self, start))
    }

    fn task(&self, id: u64) -> BoxFuture<'_, Result<Option<TaskRecord>, OpFailure>> {
        Box::pin(self.get_task(id))
    }

    fn tasks(&self, query: TaskQuery) -> BoxFuture<'_, Result<Vec<TaskRecord>, OpFailure>> {
        Box::pin(self.list_tasks(query))
    }

    fn task_events(&self) -> Option<broadcast::Receiver<TaskRecord>> {
        Cluster::task_events(self)
    }
}

/// The operations service.
pub struct OperationsService {
    nodes: Arc<dyn NodeDispatch>,
    audit: Arc<dyn AuditLog>,
}

impl std::fmt::Debug for OperationsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationsService").finish_non_exhaustive()
    }
}

impl OperationsService {
    /// The service sending to `nodes`, auditing to `audit`.
    pub fn new(nodes: Arc<dyn NodeDispatch>, audit: Arc<dyn AuditLog>) -> Self {
        Self { nodes, audit }
    }

    async fn record(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        result: AuditResult,
        detail: String,
    ) {
        let entry = super::audit_entry(caller, action, target, result, detail);
        self.audit.record(entry).await;
    }

    /// Records a failure of an operation that was tried.
    async fn fail(&self, request: &OpRequest, action: &str, f: OpFailure) -> OpFailure {
        self.record(
            &request.caller,
            action,
            &request.target,
            AuditResult::Failed,
            f.to_string(),
        )
        .await;
        f
    }

    /// Records an operation refused before anything was sent (its check failed).
    async fn deny(&self, request: &OpRequest, action: &str, f: OpFailure) -> OpFailure {
        self.record(
            &request.caller,
            action,
            &request.target,
            AuditResult::Denied,
            f.to_string(),
        )
        .await;
        f
    }

    async fn call_audited(&self, request: OpRequest) -> Result<ResponseBody, OpFailure> {
        let action = request.call.body.name();
        if let Err(f) = check(&request.call.body) {
            return Err(self.deny(&request, &action, f).await);
        }
        match self.nodes.call(request.call.clone()).await {
            Ok(reply) => {
                self.record(
                    &request.caller,
                    &action,
                    &request.target,
                    AuditResult::Ok,
                    String::new(),
                )
                .await;
                Ok(reply)
            }
            Err(f) => Err(self.fail(&request, &action, f).await),
        }
    }

    async fn task_audited(
        &self,
        request: OpRequest,
        upload: Option<Upload>,
    ) -> Result<TaskHandle, OpFailure> {
        let action = request.call.body.name();
        if let Err(f) = check(&request.call.body) {
            return Err(self.deny(&request, &action, f).await);
        }
        let start = TaskStart {
            call: OpCall {
                timeout: TASK_TIMEOUT,
                ..request.call.clone()
            },
            user: request.caller.user.clone(),
            client: request.caller.client.clone(),
            target: request.target.clone(),
            upload,
        };
        let mut handle = match self.nodes.start_task(start).await {
            Ok(h) => h,
            Err(f) => return Err(self.fail(&request, &action, f).await),
        };
        // The task's entry is written when it ends; the caller still gets the outcome.
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let done = std::mem::replace(&mut handle.done, done_rx);
        let audit = Arc::clone(&self.audit);
        let id = handle.task.id;
        tokio::spawn(async move {
            let (result, detail, task) = match done.await {
                Ok(task) => {
                    let (result, detail) = task_outcome(&task);
                    (result, detail, Some(task))
                }
                Err(_) => (
                    AuditResult::Failed,
                    format!("task {id}: interrupted (the master stopped)"),
                    None,
                ),
            };
            let entry =
                super::audit_entry(&request.caller, &action, &request.target, result, detail);
            audit.record(entry).await;
            if let Some(task) = task {
                let _ = done_tx.send(task);
            }
        });
        Ok(handle)
    }

    async fn create(&self, create: CreateContainer) -> Result<ContainerCreated, OpFailure> {
        const ACTION: &str = "docker.create_container";
        let CreateContainer {
            caller,
            target,
            node,
            spec,
            pull,
            auth,
        } = create;
        let request = |body| OpRequest {
            caller: caller.clone(),
            target: target.clone(),
            call: OpCall {
                node,
                body,
                timeout: OP_TIMEOUT,
            },
        };
        let present = match pull {
            Some(PullPolicy::Always) => false,
            _ => {
                let probe = request(docker(DockerOp::InspectImage {
                    reference: spec.image.clone(),
                }));
                match self.nodes.call(probe.call.clone()).await {
                    Ok(_) => true,
                    Err(OpFailure::Op(e)) if e.kind == ErrorKind::NotFound => false,
                    Err(f) => return Err(self.fail(&probe, ACTION, f).await),
                }
            }
        };
        if present {
            let create = request(docker(DockerOp::CreateContainer(spec)));
            return self
                .call_audited(create)
                .await
                .map(ContainerCreated::Created);
        }
        if pull == Some(PullPolicy::Never) {
            let f = OpFailure::Op(OpError::new(
                ErrorKind::NotFound,
                format!(
                    "image {:?} is not on the node and `pull` is `never`",
                    spec.image
                ),
            ));
            let refused = request(docker(DockerOp::CreateContainer(spec)));
            return Err(self.fail(&refused, ACTION, f).await);
        }
        let deploy = DeployRequest {
            container: spec,
            pull: pull.unwrap_or_default(),
            auth,
        };
        let handle = self
            .task_audited(request(docker(DockerOp::Deploy(deploy))), None)
            .await?;
        Ok(ContainerCreated::Deploying(handle.task))
    }

    /// A log, fed in batches when the node streams logs. Audited once the first batch or
    /// the answer is in: a missing container is an error, not an empty stream.
    async fn logs_audited(&self, request: OpRequest) -> Result<LogsAnswer, OpFailure> {
        let action = request.call.body.name();
        if let Err(f) = check(&request.call.body) {
            return Err(self.deny(&request, &action, f).await);
        }
        let (mut stream, ack) = match self.nodes.stream_logs(request.call.clone()).await {
            Ok(Some(fed)) => fed,
            Ok(None) => return self.call_audited(request).await.map(LogsAnswer::Whole),
            Err(f) => return Err(self.fail(&request, &action, f).await),
        };
        // No first batch: the log is empty, or failed before its first entry (the queue
        // closes when the request ends).
        let first = stream.progress.recv().await;
        let answer = match first {
            Some(first) => Ok(LogsAnswer::Fed(LogFeed { first, stream, ack })),
            None => {
                let got = (&mut stream.outcome).await;
                stream.finished();
                match got {
                    Ok(Ok(ResponseBody::Docker(reply)))
                        if matches!(*reply, DockerReply::LogsEnd { entries: 0, .. }) =>
                    {
                        let empty = DockerReply::Logs(LogBatch::default());
                        Ok(LogsAnswer::Whole(ResponseBody::Docker(Box::new(empty))))
                    }
                    Ok(Ok(_)) => Err(OpFailure::Unavailable(
                        "the slave ended the log without entries or their count".into(),
                    )),
                    Ok(Err(f)) => Err(f),
                    Err(_) => Err(OpFailure::Unavailable("the master stopped".into())),
                }
            }
        };
        match answer {
            Ok(answer) => {
                let detail = match &answer {
                    LogsAnswer::Fed(_) => "streamed".to_owned(),
                    LogsAnswer::Whole(_) => String::new(),
                };
                self.record(
                    &request.caller,
                    &action,
                    &request.target,
                    AuditResult::Ok,
                    detail,
                )
                .await;
                Ok(answer)
            }
            Err(f) => Err(self.fail(&request, &action, f).await),
        }
    }

    async fn follow_audited(
        &self,
        request: OpRequest,
        early: Duration,
    ) -> Result<Followed, OpFailure> {
        let action = request.call.body.name();
        if let Err(f) = check(&request.call.body) {
            return Err(self.deny(&request, &action, f).await);
        }
        let mut stream = match self.nodes.stream(request.call.clone()).await {
            Ok(s) => s,
            Err(f) => return Err(self.fail(&request, &action, f).await),
        };
        // A missing container fails at once: answer it as an error rather than a stream.
        let ended = match tokio::time::timeout(early, &mut stream.outcome).await {
            Ok(got) => {
                stream.finished();
                match got {
                    Ok(Err(f)) => return Err(self.fail(&request, &action, f).await),
                    Ok(Ok(body)) => Some(body),
                    Err(_) => {
                        let f = OpFailure::Unavailable("the master stopped".into());
                        return Err(self.fail(&request, &action, f).await);
                    }
                }
            }
            Err(_) => None,
        };
        self.record(
            &request.caller,
            &action,
            &request.target,
            AuditResult::Ok,
            "following".into(),
        )
        .await;
        Ok(Followed { stream, ended })
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

impl model::service::Operations for OperationsService {
    fn call(&self, request: OpRequest) -> BoxFuture<'_, Result<ResponseBody, OpFailure>> {
        Box::pin(self.call_audited(request))
    }

    fn read(&self, call: OpCall) -> BoxFuture<'_, Result<ResponseBody, OpFailure>> {
        Box::pin(async move {
            check(&call.body)?;
            self.nodes.call(call).await
        })
    }

    fn follow(
        &self,
        request: OpRequest,
        early: Duration,
    ) -> BoxFuture<'_, Result<Followed, OpFailure>> {
        Box::pin(self.follow_audited(request, early))
    }

    fn logs(&self, request: OpRequest) -> BoxFuture<'_, Result<LogsAnswer, OpFailure>> {
        Box::pin(self.logs_audited(request))
    }

    fn start_task(
        &self,
        request: OpRequest,
        upload: Option<Upload>,
    ) -> BoxFuture<'_, Result<TaskHandle, OpFailure>> {
        Box::pin(self.task_audited(request, upload))
    }

    fn create_container(
        &self,
        create: CreateContainer,
    ) -> BoxFuture<'_, Result<ContainerCreated, OpFailure>> {
        Box::pin(self.create(create))
    }

    fn refused(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        failure: &OpFailure,
    ) -> BoxFuture<'_, ()> {
        let (caller, action, target) = (caller.clone(), action.to_owned(), target.to_owned());
        let result = match failure {
            OpFailure::Op(e) if e.kind == ErrorKind::InvalidArgument => AuditResult::Denied,
            _ => AuditResult::Failed,
        };
        let detail = failure.to_string();
        Box::pin(async move {
            self.record(&caller, &action, &target, result, detail).await;
        })
    }

    fn task(&self, id: u64) -> BoxFuture<'_, Result<Option<TaskRecord>, OpFailure>> {
        self.nodes.task(id)
    }

    fn tasks(&self, query: TaskQuery) -> BoxFuture<'_, Result<Vec<TaskRecord>, OpFailure>> {
        self.nodes.tasks(query)
    }

    fn task_events(&self) -> Option<broadcast::Receiver<TaskRecord>> {
        self.nodes.task_events()
    }
}

#[cfg(test)]
mod tests;
