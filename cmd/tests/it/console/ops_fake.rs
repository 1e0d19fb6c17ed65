//! A fake [`NodeDispatch`] (the slaves, as the master's operations service sees them) and
//! an app over it with the administrator signed in, shared by the operations API tests.

use crate::console::common::*;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use master::services::NodeDispatch;
use model::ops::{BoxFuture, LogAck, OpCall, OpFailure, OpStream, TaskHandle, TaskStart};
use model::task::{TaskQuery, TaskRecord};
use protocol::ops::docker_reply::{DockerReply, LogBatch, LogEntry, LogStream, LogsEndReason};
use protocol::ops::host::HostReply;
use protocol::ops::{LOG_WINDOW, Progress, ProgressEvent};
use protocol::{RequestBody, ResponseBody};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
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
    /// A log to feed in acknowledged batches, as a slave of protocol version 3 does;
    /// `None`: logs are answered whole by `respond`.
    pub fed_log: Option<Arc<FedLog>>,
}

/// A log a fake slave feeds in batches, honouring the acknowledgements as the slave does,
/// and what it saw.
#[derive(Debug, Default)]
pub struct FedLog {
    /// Batches in the log.
    pub batches: u32,
    /// Entries per batch.
    pub per_batch: u32,
    /// Bytes of text per entry (the index is written first).
    pub text_len: usize,
    /// Batches sent so far.
    pub sent: std::sync::atomic::AtomicU32,
    /// The reader went away before the end (the stream's cancel ran).
    pub cancelled: std::sync::atomic::AtomicBool,
}

impl FedLog {
    /// The text of entry `i`: its index, then filler up to `text_len`.
    pub fn text(&self, i: u64) -> String {
        let mut t = format!("{i:010} ");
        t.extend(std::iter::repeat_n('x', self.text_len.saturating_sub(12)));
        t.push('\n');
        t
    }

    fn batch(&self, b: u32) -> LogBatch {
        let first = u64::from(b) * u64::from(self.per_batch);
        LogBatch {
            entries: (first..first + u64::from(self.per_batch))
                .map(|i| LogEntry {
                    stream: LogStream::Stdout,
                    timestamp: None,
                    text: self.text(i),
                })
                .collect(),
        }
    }
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
            fed_log: None,
        })
    }

    /// Answers logs by feeding `log` in acknowledged batches.
    pub fn feeding(log: Arc<FedLog>) -> Arc<Self> {
        let mut ops = Self::unused();
        ops.fed_log = Some(log);
        Arc::new(ops)
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
            fed_log: None,
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
    fn stream_logs(
        &self,
        call: OpCall,
    ) -> BoxFuture<'_, Result<Option<(OpStream, LogAck)>, OpFailure>> {
        self.sent.lock().unwrap().push(call.body.clone());
        let Some(log) = self.fed_log.clone() else {
            return Box::pin(async { Ok(None) });
        };
        Box::pin(async move {
            let (ptx, prx) = mpsc::channel(LOG_WINDOW as usize + 1);
            let (otx, orx) = oneshot::channel();
            let (ack_tx, mut ack_rx) = watch::channel(0u32);
            let feeder = Arc::clone(&log);
            tokio::spawn(async move {
                for b in 0..feeder.batches {
                    // As the slave: batch `b` waits until fewer than the window are unacknowledged.
                    if ack_rx
                        .wait_for(|acked| b < acked + LOG_WINDOW)
                        .await
                        .is_err()
                    {
                        return; // the reader went away
                    }
                    let update = Progress {
                        seq: b,
                        event: ProgressEvent::Logs(feeder.batch(b)),
                    };
                    if ptx.send(update).await.is_err() {
                        return;
                    }
                    feeder
                        .sent
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                drop(ptx);
                let end = DockerReply::LogsEnd {
                    entries: u64::from(feeder.batches) * u64::from(feeder.per_batch),
                    reason: LogsEndReason::Ended,
                };
                let _ = otx.send(Ok(docker_reply(end)));
            });
            let cancelled = Arc::clone(&log);
            let stream = OpStream {
                progress: prx,
                outcome: orx,
                cancel: Some(Box::new(move || {
                    cancelled
                        .cancelled
                        .store(true, std::sync::atomic::Ordering::SeqCst)
                })),
            };
            let ack: LogAck = Box::new(move |consumed| {
                ack_tx.send_if_modified(|acked| {
                    let more = consumed > *acked;
                    *acked = (*acked).max(consumed);
                    more
                });
            });
            Ok(Some((stream, ack)))
        })
    }

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
