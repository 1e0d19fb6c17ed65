//! The operations service's rules against a fake [`NodeDispatch`]: one audit entry per
//! operation (ok, denied before sending, failed), a task's entry when it ends, and the
//! create / pull-and-deploy / refuse decision of container creation.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use model::audit::{AuditEntry, AuditPage, AuditQuery, AuditResult};
use model::ops::{Caller, OpCall, OpFailure, OpRequest, OpStream, TaskHandle, TaskStart};
use model::service::{AuditLog, ContainerCreated, CreateContainer, Operations};
use model::task::{TaskQuery, TaskRecord};
use protocol::ops::docker::{ContainerCreate, DockerOp, PullPolicy};
use protocol::ops::docker_reply::DockerReply;
use protocol::ops::{ErrorKind, OpError};
use protocol::{RequestBody, ResponseBody};
use tokio::sync::{broadcast, oneshot};

use super::*;

type Respond = Box<dyn Fn(&RequestBody) -> Result<ResponseBody, OpFailure> + Send + Sync>;

/// Answers with `respond`, ends tasks at once, remembers what was sent.
struct FakeNodes {
    respond: Respond,
    sent: Mutex<Vec<String>>,
}

impl NodeDispatch for FakeNodes {
    fn call(&self, call: OpCall) -> BoxFuture<'_, Result<ResponseBody, OpFailure>> {
        self.sent.lock().unwrap().push(call.body.name());
        let answer = (self.respond)(&call.body);
        Box::pin(async move { answer })
    }

    fn stream(&self, _call: OpCall) -> BoxFuture<'_, Result<OpStream, OpFailure>> {
        Box::pin(async { Err(OpFailure::Unavailable("no streams here".into())) })
    }

    fn start_task(&self, start: TaskStart) -> BoxFuture<'_, Result<TaskHandle, OpFailure>> {
        self.sent.lock().unwrap().push(start.call.body.name());
        let outcome = (self.respond)(&start.call.body).map(|b| model::ops::reply_value(&b));
        let mut task = TaskRecord::queued(7, &start, 1);
        Box::pin(async move {
            let (tx, rx) = oneshot::channel();
            let queued = task.clone();
            task.finish(outcome, 2);
            let _ = tx.send(task);
            Ok(TaskHandle {
                task: queued,
                done: rx,
                uploaded: None,
            })
        })
    }

    fn task(&self, _id: u64) -> BoxFuture<'_, Result<Option<TaskRecord>, OpFailure>> {
        Box::pin(async { Ok(None) })
    }

    fn tasks(&self, _q: TaskQuery) -> BoxFuture<'_, Result<Vec<TaskRecord>, OpFailure>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn task_events(&self) -> Option<broadcast::Receiver<TaskRecord>> {
        None
    }
}

/// The audit log in a vector.
#[derive(Default)]
struct Log(Mutex<Vec<AuditEntry>>);

impl AuditLog for Log {
    fn record(&self, entry: AuditEntry) -> BoxFuture<'_, ()> {
        self.0.lock().unwrap().push(entry);
        Box::pin(async {})
    }

    fn query(&self, _q: AuditQuery) -> BoxFuture<'_, Result<AuditPage, model::StoreFailure>> {
        Box::pin(async { Ok(AuditPage::default()) })
    }

    fn write_health(&self) -> model::audit::AuditWriteHealth {
        model::audit::AuditWriteHealth::default()
    }
}

fn service(
    respond: impl Fn(&RequestBody) -> Result<ResponseBody, OpFailure> + Send + Sync + 'static,
) -> (OperationsService, Arc<FakeNodes>, Arc<Log>) {
    let nodes = Arc::new(FakeNodes {
        respond: Box::new(respond),
        sent: Mutex::new(Vec::new()),
    });
    let log = Arc::new(Log::default());
    let ops = OperationsService::new(nodes.clone(), log.clone());
    (ops, nodes, log)
}

fn request(body: RequestBody) -> OpRequest {
    OpRequest {
        caller: Caller {
            user: "admin".into(),
            client: "192.0.2.7".into(),
            via: String::new(),
        },
        target: "node/1/container/web".into(),
        call: OpCall {
            node: 1,
            body,
            timeout: Duration::from_secs(5),
        },
    }
}

fn done() -> ResponseBody {
    ResponseBody::Docker(Box::new(DockerReply::Done))
}

fn results(log: &Log) -> Vec<(String, AuditResult)> {
    log.0
        .lock()
        .unwrap()
        .iter()
        .map(|e| (e.action.clone(), e.result))
        .collect()
}

#[tokio::test]
async fn every_call_is_checked_sent_and_audited_once() {
    let (ops, nodes, log) = service(|body| match body {
        RequestBody::Docker(op) if matches!(**op, DockerOp::Info) => Err(OpFailure::Offline(1)),
        _ => Ok(done()),
    });
    let stop = DockerOp::StopContainer {
        id: "web".into(),
        timeout_secs: None,
    };
    ops.call(request(model::ops::docker(stop))).await.unwrap();
    // A bad argument is refused before anything is sent.
    let bad = DockerOp::StopContainer {
        id: "bad id!".into(),
        timeout_secs: None,
    };
    let e = ops
        .call(request(model::ops::docker(bad)))
        .await
        .unwrap_err();
    assert_eq!(e.http_status(), 400);
    // A failure of the node is recorded as failed.
    let e = ops
        .call(request(model::ops::docker(DockerOp::Info)))
        .await
        .unwrap_err();
    assert!(e.retryable());
    assert_eq!(
        *nodes.sent.lock().unwrap(),
        ["docker.stop_container", "docker.info"]
    );
    assert_eq!(
        results(&log),
        [
            ("docker.stop_container".to_owned(), AuditResult::Ok),
            ("docker.stop_container".to_owned(), AuditResult::Denied),
            ("docker.info".to_owned(), AuditResult::Failed),
        ]
    );
    let entry = log.0.lock().unwrap()[0].clone();
    assert_eq!(
        (
            entry.user.as_str(),
            entry.client.as_str(),
            entry.target.as_str()
        ),
        ("admin", "192.0.2.7", "node/1/container/web")
    );
}

fn create(pull: Option<PullPolicy>) -> CreateContainer {
    let spec = ContainerCreate {
        image: "busybox:latest".into(),
        ..ContainerCreate::default()
    };
    let request = request(model::ops::docker(DockerOp::Info));
    CreateContainer {
        caller: request.caller,
        target: request.target,
        node: request.call.node,
        spec,
        pull,
        auth: None,
    }
}

fn image_missing(body: &RequestBody) -> Result<ResponseBody, OpFailure> {
    match body {
        RequestBody::Docker(op) if matches!(**op, DockerOp::InspectImage { .. }) => Err(
            OpFailure::Op(OpError::new(ErrorKind::NotFound, "no such image")),
        ),
        _ => Ok(ResponseBody::Docker(Box::new(DockerReply::Created {
            id: "c1".into(),
            warnings: Vec::new(),
            started: true,
            pulled: false,
        }))),
    }
}

#[tokio::test]
async fn a_present_image_is_created_at_once() {
    let (ops, nodes, log) = service(|_| Ok(done()));
    let created = ops.create_container(create(None)).await.unwrap();
    assert!(matches!(created, ContainerCreated::Created(_)));
    assert_eq!(
        *nodes.sent.lock().unwrap(),
        ["docker.inspect_image", "docker.create_container"]
    );
    assert_eq!(
        results(&log),
        [("docker.create_container".to_owned(), AuditResult::Ok)]
    );
}

#[tokio::test]
async fn a_missing_image_is_pulled_by_a_task_audited_when_it_ends() {
    let (ops, nodes, log) = service(image_missing);
    let created = ops.create_container(create(None)).await.unwrap();
    let ContainerCreated::Deploying(task) = created else {
        panic!("expected a task")
    };
    assert_eq!(task.action, "docker.deploy");
    assert_eq!(
        *nodes.sent.lock().unwrap(),
        ["docker.inspect_image", "docker.deploy"]
    );
    // The entry is written by the master once the task ended (here: at once).
    for _ in 0..100 {
        if !log.0.lock().unwrap().is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(
        results(&log),
        [("docker.deploy".to_owned(), AuditResult::Ok)]
    );
    assert_eq!(log.0.lock().unwrap()[0].detail, "task 7");
}

#[tokio::test]
async fn a_missing_image_with_pull_never_is_refused_and_always_skips_the_probe() {
    let (ops, nodes, log) = service(image_missing);
    let e = ops
        .create_container(create(Some(PullPolicy::Never)))
        .await
        .unwrap_err();
    assert_eq!(e.http_status(), 404);
    assert!(e.to_string().contains("`pull` is `never`"), "{e}");
    assert_eq!(
        results(&log),
        [("docker.create_container".to_owned(), AuditResult::Failed)]
    );
    let created = ops
        .create_container(create(Some(PullPolicy::Always)))
        .await
        .unwrap();
    assert!(matches!(created, ContainerCreated::Deploying(_)));
    assert_eq!(
        *nodes.sent.lock().unwrap(),
        ["docker.inspect_image", "docker.deploy"]
    );
}

#[tokio::test]
async fn a_refusal_before_the_call_is_recorded_as_denied() {
    let (ops, nodes, log) = service(|_| Ok(done()));
    let caller = Caller {
        user: "admin".into(),
        client: "192.0.2.7".into(),
        via: String::new(),
    };
    let failure = OpFailure::invalid("tail", "must be a number");
    ops.refused(&caller, "docker.logs", "node/1/container/web", &failure)
        .await;
    assert!(nodes.sent.lock().unwrap().is_empty());
    assert_eq!(
        results(&log),
        [("docker.logs".to_owned(), AuditResult::Denied)]
    );
}
