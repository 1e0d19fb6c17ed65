//! Dispatch of the master's operation requests (protocol version 2): host operations run on
//! short-lived worker threads, Docker operations on the Docker thread
//! ([`crate::docker::bridge`]), uploads are spooled, cancels are routed. Nothing here
//! blocks the agent's reader: every answer, progress update and streamed chunk goes through
//! the session's writer channel ([`reply::ReplySink`]).

pub mod reply;
pub mod upload;

use crate::docker::bollard_rt::BollardRuntime;
use crate::docker::bridge::{BridgeMsg, DockerBridge, Job};
use crate::docker::ops::DockerCtx;
use crate::hostops::{HostConfig, HostOps};
use async_channel::Sender;
use protocol::ops::docker::DockerOp;
use protocol::ops::host::HostOp;
use protocol::ops::{ErrorKind, OpError, validate};
use protocol::{Chunk, Message, Request, RequestBody, ResponseBody};
use reply::ReplySink;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use upload::{ChunkOutcome, Uploads};

/// Host operations allowed to run at once; more are refused as busy.
pub const MAX_HOST_JOBS: usize = 8;

/// What the operations need to know about this slave.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// Data directory (environment profile, previous hosts file, uploads).
    pub data_dir: PathBuf,
    /// Docker Engine socket.
    pub docker_socket: PathBuf,
    /// The hosts file.
    pub hosts_file: PathBuf,
    /// Directories under which bind mounts are allowed.
    pub bind_roots: Vec<PathBuf>,
}

/// Starts the Docker thread on first use.
pub type DockerStarter = Box<dyn Fn() -> std::io::Result<DockerBridge>>;

/// Routes operation requests and upload chunks of the current session.
pub struct Dispatcher {
    host: Arc<HostOps>,
    host_jobs: Arc<AtomicUsize>,
    docker: Option<DockerBridge>,
    start_docker: DockerStarter,
    session: u64,
    /// The session's negotiated protocol version.
    version: u16,
    uploads: Uploads,
}

impl Dispatcher {
    /// A dispatcher using the real engine at `cfg.docker_socket`.
    pub fn new(cfg: RemoteConfig) -> Self {
        let socket = cfg.docker_socket.clone();
        let ctx = DockerCtx::new(&cfg.bind_roots);
        let start: DockerStarter = Box::new(move || {
            let socket = socket.clone();
            let connect = move || {
                let socket = socket.clone();
                async move { BollardRuntime::connect(&socket).await }
            };
            DockerBridge::start(connect, ctx.clone())
        });
        Self::with_docker(cfg, start)
    }

    /// A dispatcher whose Docker thread `start` makes (tests pass a fake runtime).
    pub fn with_docker(cfg: RemoteConfig, start: DockerStarter) -> Self {
        let host = HostOps::new(HostConfig {
            data_dir: cfg.data_dir.clone(),
            hosts_file: cfg.hosts_file,
        });
        Self {
            host: Arc::new(host),
            host_jobs: Arc::new(AtomicUsize::new(0)),
            docker: None,
            start_docker: start,
            session: 0,
            version: protocol::OPS_VERSION,
            uploads: Uploads::new(&cfg.data_dir),
        }
    }

    /// A new session of protocol version [`protocol::OPS_VERSION`] starts: request ids
    /// start over.
    pub fn begin_session(&mut self) {
        self.begin_session_at(protocol::OPS_VERSION);
    }

    /// A new session of the negotiated protocol `version` starts: request ids start over;
    /// from [`protocol::STREAMED_LOGS_VERSION`] on, logs are sent in acknowledged batches.
    pub fn begin_session_at(&mut self, version: u16) {
        self.session += 1;
        self.version = version;
    }

    /// The session ended: uploads are dropped, followed logs and pulls stopped.
    pub fn end_session(&mut self) {
        self.uploads.clear();
        if let Some(bridge) = &self.docker {
            let _ = bridge.send(BridgeMsg::EndSession(self.session));
        }
    }

    /// Takes an operation request (host, Docker or cancel); its answers go to `tx`.
    pub fn on_request(&mut self, req: Request, tx: &Sender<Message>) {
        let sink = ReplySink::new(req.id, tx.clone());
        match req.body {
            RequestBody::Host(op) => self.host_op(*op, sink),
            RequestBody::Docker(op) => {
                if let Err(e) = validate::docker_op(&op) {
                    return sink.finish(Err(e.into()));
                }
                if let DockerOp::ImportImage(i) = &*op {
                    let total = i.total_len;
                    let request = Request {
                        id: req.id,
                        timeout_ms: req.timeout_ms,
                        body: RequestBody::Docker(op),
                    };
                    if let Err(e) = self.uploads.begin(request, total, Instant::now()) {
                        sink.finish(Err(e));
                    }
                    return;
                }
                self.docker_op(*op, req.timeout_ms, None, sink);
            }
            RequestBody::Cancel { id } => self.cancel(id, sink),
            other => sink.finish(Err(OpError::new(
                ErrorKind::Failed,
                format!("{} is not an operation request", other.name()),
            ))),
        }
    }

    /// Takes a chunk of an upload, or the acknowledgement of a streamed log's batches (an
    /// empty chunk for a request that is no upload).
    pub fn on_chunk(&mut self, chunk: Chunk, tx: &Sender<Message>) {
        match self.uploads.chunk(&chunk, Instant::now()) {
            ChunkOutcome::Pending => {}
            ChunkOutcome::Unknown if chunk.data.is_empty() => {
                if let Some(bridge) = &self.docker {
                    let _ = bridge.send(BridgeMsg::Ack {
                        session: self.session,
                        target: chunk.id,
                        consumed: chunk.seq,
                    });
                }
            }
            ChunkOutcome::Unknown => {
                tracing::warn!(id = chunk.id, "chunk for no upload in progress ignored");
            }
            ChunkOutcome::Failed(id, e) => ReplySink::new(id, tx.clone()).finish(Err(e)),
            ChunkOutcome::Complete(req, path) => {
                let sink = ReplySink::new(req.id, tx.clone());
                match req.body {
                    RequestBody::Docker(op) => {
                        self.docker_op(*op, req.timeout_ms, Some(path), sink)
                    }
                    _ => {
                        let _ = std::fs::remove_file(&path);
                        sink.finish(Err(OpError::new(ErrorKind::Failed, "not an upload")));
                    }
                }
            }
        }
    }

    fn host_op(&self, op: HostOp, sink: ReplySink) {
        if let Err(e) = validate::host_op(&op) {
            return sink.finish(Err(e.into()));
        }
        if self.host_jobs.fetch_add(1, Ordering::AcqRel) >= MAX_HOST_JOBS {
            self.host_jobs.fetch_sub(1, Ordering::AcqRel);
            return sink.finish(Err(OpError::new(
                ErrorKind::Unavailable,
                format!("{MAX_HOST_JOBS} host operations are already running; try again"),
            )));
        }
        let host = Arc::clone(&self.host);
        let jobs = Arc::clone(&self.host_jobs);
        let spawned = std::thread::Builder::new()
            .name("cmdr-hostop".into())
            .spawn(move || {
                let result = host.run(op).map(|r| ResponseBody::Host(Box::new(r)));
                jobs.fetch_sub(1, Ordering::AcqRel);
                sink.finish(result);
            });
        if let Err(e) = spawned {
            self.host_jobs.fetch_sub(1, Ordering::AcqRel);
            tracing::error!("cannot start a host operation thread: {e}");
        }
    }

    fn bridge(&mut self) -> Result<&DockerBridge, OpError> {
        if self.docker.is_none() {
            let bridge = (self.start_docker)().map_err(|e| {
                OpError::new(
                    ErrorKind::Failed,
                    format!("cannot start the Docker thread: {e}"),
                )
            })?;
            self.docker = Some(bridge);
        }
        self.docker
            .as_ref()
            .ok_or_else(|| OpError::new(ErrorKind::Failed, "no Docker thread"))
    }

    fn docker_op(
        &mut self,
        op: DockerOp,
        timeout_ms: u32,
        upload: Option<PathBuf>,
        sink: ReplySink,
    ) {
        let streamed_logs = self.version >= protocol::STREAMED_LOGS_VERSION
            && matches!(&op, DockerOp::Logs(q) if !q.follow);
        let job = Job {
            session: self.session,
            op,
            upload,
            timeout: Duration::from_millis(u64::from(timeout_ms)),
            sink,
            streamed_logs,
        };
        let bridge = match self.bridge() {
            Ok(b) => b,
            Err(e) => return job.sink.finish(Err(e)),
        };
        if let Err(BridgeMsg::Run(job)) = bridge.send(BridgeMsg::Run(Box::new(job))) {
            self.docker = None;
            if let Some(p) = &job.upload {
                let _ = std::fs::remove_file(p);
            }
            job.sink.finish(Err(OpError::new(
                ErrorKind::Failed,
                "the Docker thread stopped",
            )));
        }
    }

    fn cancel(&mut self, target: u64, sink: ReplySink) {
        if self.uploads.cancel(target) {
            ReplySink::new(target, sink.sender()).finish(Err(OpError::new(
                ErrorKind::Cancelled,
                "cancelled by the master",
            )));
            return sink.finish(Ok(ResponseBody::Cancelled { found: true }));
        }
        let session = self.session;
        match &self.docker {
            None => sink.finish(Ok(ResponseBody::Cancelled { found: false })),
            Some(bridge) => {
                let msg = BridgeMsg::Cancel {
                    session,
                    target,
                    sink,
                };
                if let Err(BridgeMsg::Cancel { sink, .. }) = bridge.send(msg) {
                    sink.finish(Ok(ResponseBody::Cancelled { found: false }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
