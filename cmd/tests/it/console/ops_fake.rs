//! A fake [`NodeDispatch`] (the slaves, as the master's operations service sees them) and
//! an app over it with the administrator signed in, shared by the operations API tests.

use crate::console::common::*;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use master::services::NodeDispatch;
use model::ops::{BoxFuture, OpCall, OpFailure, OpStream, TaskHandle, TaskStart};
use model::task::{TaskQuery, TaskRecord};
use protocol::ops::docker_reply::{DockerReply, LogBatch, LogEntry, LogStream, LogsEndReason};
use protocol::ops::host::HostReply;
use protocol::ops::{Progress, ProgressEvent};
use protocol::{RequestBody, ResponseBody};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc, oneshot};
use tower::ServiceExt;

pub type Responder = Box<dyn Fn(&RequestBody) -> Result<ResponseBody, OpFailure> + Send + Sync>;

/// Answers calls with `respond`, runs tasks to completion at once, records everything.
pub struct FakeOps {
    pub respond: Responder,
    pub sent: Mutex<Vec<RequestBody>>,
    pub tasks: Mutex<BTreeMap<u64, TaskRecord>>,
    pub uploaded: Arc<Mutex<Vec<u8>>>,
    /// Task changes the test sends to `GET /api/v1/tasks/events` (room for four); `None`
    /// for a master without task events.
    pub events: Option<broadcast::Sender<TaskRecord>>,
}

pub fn docker_reply(r: DockerReply) -> ResponseBody {
    ResponseBody::Docker(Box::new(r))
}

pub fn host_reply(r: HostReply) -> ResponseBody {
    ResponseBody::Host(Box::new(r))
}

impl FakeOps {
    pub fn new(
        respond: impl Fn(&RequestBody) -> Result<ResponseBody, OpFailure> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            respond: Box::new(respond),
            sent: Mutex::new(Vec::new()),
            tasks: Mutex::new(BTreeMap::new()),
            uploaded: Arc::new(Mutex::new(Vec::new())),
            events: Some(broadcast::channel(4).0),
        })
    }

    /// No node can be reached (apps whose tests send no operations).
    pub fn unused() -> Self {
        Self {
            respond: Box::new(|_| {
                Err(OpFailure::Unavailable(
                    "node operations are not available on this server".into(),
                ))
            }),
            sent: Mutex::new(Vec::new()),
            tasks: Mutex::new(BTreeMap::new()),
            uploaded: Arc::new(Mutex::new(Vec::new())),
            events: None,
        }
    }

    /// Everything done succeeds with nothing to say.
    pub fn ok() -> Arc<Self> {
        Self::new(|_| Ok(docker_reply(DockerReply::Done)))
    }

    pub fn sent(&self) -> Vec<RequestBody> {
        self.sent.lock().unwrap().clone()
    }
}

impl NodeDispatch for FakeOps {
    fn call(&self, call: OpCall) -> BoxFuture<'_, Result<ResponseBody, OpFailure>> {
        self.sent.lock().unwrap().push(call.body.clone());
        let answer = (self.respond)(&call.body);
        Box::pin(async move { answer })
    }

    fn stream(&self, call: OpCall) -> BoxFuture<'_, Result<OpStream, OpFailure>> {
        self.sent.lock().unwrap().push(call.body.clone());
        Box::pin(async move {
            let (ptx, prx) = mpsc::channel(8);
            let (otx, orx) = oneshot::channel();
            for (seq, text) in ["one\n", "two\n"].into_iter().enumerate() {
                let batch = LogBatch {
                    entries: vec![LogEntry {
                        stream: LogStream::Stdout,
                        timestamp: None,
                        text: text.into(),
                    }],
                };
                let update = Progress {
                    seq: seq as u32,
                    event: ProgressEvent::Logs(batch),
                };
                ptx.send(update).await.unwrap();
            }
            drop(ptx);
            let end = DockerReply::LogsEnd {
                entries: 2,
                reason: LogsEndReason::Ended,
            };
            otx.send(Ok(docker_reply(end))).unwrap();
            Ok(OpStream {
                progress: prx,
                outcome: orx,
                cancel: None,
            })
        })
    }

    fn start_task(&self, mut start: TaskStart) -> BoxFuture<'_, Result<TaskHandle, OpFailure>> {
        Box::pin(async move {
            self.sent.lock().unwrap().push(start.call.body.clone());
            let id = self.tasks.lock().unwrap().len() as u64 + 1;
            let task = TaskRecord::queued(id, &start, 1);
            let mut done = task.clone();
            let result =
                (self.respond)(&start.call.body).map(|body| model::ops::reply_value(&body));
            done.finish(result, 2);
            self.tasks.lock().unwrap().insert(id, done.clone());
            let (done_tx, done_rx) = oneshot::channel();
            let uploaded = match start.upload.take() {
                // The upload arrives after this returns: take it in the background.
                Some(mut upload) => {
                    let (tx, rx) = oneshot::channel();
                    let sink = Arc::clone(&self.uploaded);
                    tokio::spawn(async move {
                        let mut got = Vec::new();
                        while let Some(bytes) = upload.data.recv().await {
                            got.extend_from_slice(&bytes);
                        }
                        let n = got.len() as u64;
                        sink.lock().unwrap().extend(got);
                        let _ = tx.send(if n == upload.total_len {
                            Ok(n)
                        } else {
                            Err(model::ops::UploadFailure::Short {
                                got: n,
                                total: upload.total_len,
                            })
                        });
                        let _ = done_tx.send(done);
                    });
                    Some(rx)
                }
                None => {
                    let _ = done_tx.send(done);
                    None
                }
            };
            Ok(TaskHandle {
                task,
                done: done_rx,
                uploaded,
            })
        })
    }

    fn task(&self, id: u64) -> BoxFuture<'_, Result<Option<TaskRecord>, OpFailure>> {
        let task = self.tasks.lock().unwrap().get(&id).cloned();
        Box::pin(async move { Ok(task) })
    }

    fn tasks(&self, query: TaskQuery) -> BoxFuture<'_, Result<Vec<TaskRecord>, OpFailure>> {
        let all: Vec<TaskRecord> = self
            .tasks
            .lock()
            .unwrap()
            .values()
            .rev()
            .filter(|t| query.matches(t))
            .take(query.limit)
            .cloned()
            .collect();
        Box::pin(async move { Ok(all) })
    }

    fn task_events(&self) -> Option<broadcast::Receiver<TaskRecord>> {
        self.events.as_ref().map(broadcast::Sender::subscribe)
    }
}

/// An app with the fake operations, the administrator signed in (Bearer).
pub struct App {
    pub router: axum::Router,
    pub token: String,
}

impl App {
    pub async fn new(ops: Arc<FakeOps>) -> Self {
        let fake = Fake::Nodes(vec![full_node(1, "alpha", START_MS)]);
        let app = TestApp::wired(fake, ops, |_| {});
        let mut app = Self {
            router: app.router,
            token: String::new(),
        };
        let r = app
            .send(
                Method::POST,
                "/api/v1/auth/register",
                Some(credentials(USER, PASSWORD)),
            )
            .await;
        assert_eq!(r.0, StatusCode::CREATED);
        let r = app
            .send(
                Method::POST,
                "/api/v1/auth/login",
                Some(credentials(USER, PASSWORD)),
            )
            .await;
        app.token = r.1["token"].as_str().unwrap().to_owned();
        app
    }

    pub async fn raw(&self, req: Request<Body>) -> (StatusCode, String, String) {
        let mut req = req;
        req.extensions_mut()
            .insert(ConnectInfo::<std::net::SocketAddr>(CLIENT.parse().unwrap()));
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, ctype, String::from_utf8(bytes.to_vec()).unwrap())
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token));
        let body = match body {
            Some(v) => {
                b = b.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let (status, _, text) = self.raw(b.body(body).unwrap()).await;
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    /// The audit entries of node operations and tasks, oldest first.
    pub async fn audit(&self) -> Vec<Value> {
        let (status, page) = self.get("/api/v1/audit?limit=500").await;
        assert_eq!(status, StatusCode::OK);
        let mut entries: Vec<Value> = page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                let a = e["action"].as_str().unwrap();
                a.starts_with("host.") || a.starts_with("docker.")
            })
            .cloned()
            .collect();
        entries.reverse();
        entries
    }
}

/// The audit entries once there are at least `n` (tasks write theirs when they end).
pub async fn wait_audit(app: &App, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let audit = app.audit().await;
        if audit.len() >= n {
            return audit;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    app.audit().await
}
