//! The Docker thread: a current-thread tokio runtime (bollard needs tokio) on its own OS
//! thread, fed by the monoio agent through an `async-channel` (which works across
//! runtimes). Each operation runs as its own task on a `LocalSet`, so a long pull or a
//! followed log never holds up the others, and none of them blocks the agent's reader.
//!
//! The engine connection is made on the first operation and kept; when it fails, every
//! operation answers "no Docker Engine on this slave" and the next one tries again.

use super::ops::{self, DockerCtx, Stop};
use super::{ContainerRuntime, DockerError};
use crate::remote::reply::ReplySink;
use protocol::ops::docker::DockerOp;
use protocol::ops::docker_reply::DockerReply;
use protocol::{OpError, ResponseBody};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

/// Deadline used when a request has none.
const NO_DEADLINE: Duration = Duration::from_secs(24 * 3600);

/// One operation for the Docker thread.
#[derive(Debug)]
pub struct Job {
    /// The agent's session generation (requests ids are unique per session).
    pub session: u64,
    /// The operation.
    pub op: DockerOp,
    /// The spooled upload of an import; deleted once the job ends.
    pub upload: Option<PathBuf>,
    /// The request's timeout.
    pub timeout: Duration,
    /// Where answers go (its id is the request id).
    pub sink: ReplySink,
    /// The session streams logs (protocol version 3): a log that is not followed goes in
    /// acknowledged batches ([`BridgeMsg::Ack`]).
    pub streamed_logs: bool,
}

/// A message to the Docker thread.
#[derive(Debug)]
pub enum BridgeMsg {
    /// Run an operation.
    Run(Box<Job>),
    /// Stop request `target` of `session`; answer on `sink` whether it was running.
    Cancel {
        /// Session generation.
        session: u64,
        /// Request to stop.
        target: u64,
        /// Where the cancel request's answer goes.
        sink: ReplySink,
    },
    /// The session ended: stop everything it started.
    EndSession(u64),
    /// The master has consumed `consumed` batches of streamed log `target` of `session`.
    Ack {
        /// Session generation.
        session: u64,
        /// The log's request id.
        target: u64,
        /// Batches consumed so far.
        consumed: u32,
    },
}

/// Handle to the Docker thread.
#[derive(Debug, Clone)]
pub struct DockerBridge {
    tx: async_channel::Sender<BridgeMsg>,
}

struct State<R, F> {
    connect: F,
    runtime: RefCell<Option<Rc<R>>>,
    running: RefCell<HashMap<(u64, u64), async_channel::Sender<()>>>,
    /// Acknowledgements of the streamed logs running, by session and request id.
    credits: RefCell<HashMap<(u64, u64), tokio::sync::watch::Sender<u32>>>,
    ctx: DockerCtx,
}

impl DockerBridge {
    /// Starts the thread. `connect` makes a runtime; it runs on the Docker thread, on first
    /// use and again after a failure.
    pub fn start<R, F, Fut>(connect: F, ctx: DockerCtx) -> std::io::Result<Self>
    where
        R: ContainerRuntime + 'static,
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = Result<R, DockerError>> + 'static,
    {
        let (tx, rx) = async_channel::unbounded::<BridgeMsg>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("cmdr-docker".into())
            .spawn(move || {
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, serve(rx, connect, ctx));
            })?;
        Ok(Self { tx })
    }

    /// Hands a message to the thread; gives it back when the thread is gone.
    pub fn send(&self, msg: BridgeMsg) -> Result<(), BridgeMsg> {
        self.tx.try_send(msg).map_err(|e| e.into_inner())
    }
}

async fn serve<R, F, Fut>(rx: async_channel::Receiver<BridgeMsg>, connect: F, ctx: DockerCtx)
where
    R: ContainerRuntime + 'static,
    F: Fn() -> Fut + 'static,
    Fut: Future<Output = Result<R, DockerError>> + 'static,
{
    let state = Rc::new(State {
        connect,
        runtime: RefCell::new(None),
        running: RefCell::new(HashMap::new()),
        credits: RefCell::new(HashMap::new()),
        ctx,
    });
    while let Ok(msg) = rx.recv().await {
        match msg {
            BridgeMsg::Run(job) => {
                let (cancel_tx, cancel_rx) = async_channel::bounded(1);
                let key = (job.session, job.sink.id());
                state.running.borrow_mut().insert(key, cancel_tx);
                let credits = job.streamed_logs.then(|| {
                    let (tx, rx) = tokio::sync::watch::channel(0u32);
                    state.credits.borrow_mut().insert(key, tx);
                    rx
                });
                tokio::task::spawn_local(run_job(Rc::clone(&state), *job, cancel_rx, credits));
            }
            BridgeMsg::Ack {
                session,
                target,
                consumed,
            } => {
                if let Some(tx) = state.credits.borrow().get(&(session, target)) {
                    tx.send_if_modified(|acked| {
                        let more = consumed > *acked;
                        if more {
                            *acked = consumed;
                        }
                        more
                    });
                }
            }
            BridgeMsg::Cancel {
                session,
                target,
                sink,
            } => {
                let found = state.running.borrow_mut().remove(&(session, target));
                if let Some(tx) = &found {
                    let _ = tx.try_send(());
                }
                sink.finish(Ok(ResponseBody::Cancelled {
                    found: found.is_some(),
                }));
            }
            BridgeMsg::EndSession(session) => {
                state.credits.borrow_mut().retain(|(s, _), _| *s != session);
                state.running.borrow_mut().retain(|(s, _), tx| {
                    if *s == session {
                        let _ = tx.try_send(());
                    }
                    *s != session
                });
            }
        }
    }
}

async fn runtime<R, F, Fut>(state: &State<R, F>) -> Result<Rc<R>, DockerError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<R, DockerError>>,
{
    if let Some(rt) = state.runtime.borrow().as_ref() {
        return Ok(Rc::clone(rt));
    }
    let rt = Rc::new((state.connect)().await?);
    *state.runtime.borrow_mut() = Some(Rc::clone(&rt));
    Ok(rt)
}

async fn run_job<R, F, Fut>(
    state: Rc<State<R, F>>,
    job: Job,
    cancel: async_channel::Receiver<()>,
    credits: Option<tokio::sync::watch::Receiver<u32>>,
) where
    R: ContainerRuntime,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<R, DockerError>>,
{
    let timeout = if job.timeout.is_zero() {
        NO_DEADLINE
    } else {
        job.timeout
    };
    let mut stop = Stop::new(cancel, tokio::time::Instant::now() + timeout);
    if let Some(credits) = credits {
        stop = stop.with_credits(credits);
    }
    let name = job.op.name();
    let result = match runtime(&state).await {
        Err(e) => Err(OpError::from(e)),
        Ok(rt) => {
            let upload = job.upload.as_deref();
            ops::execute(&*rt, job.op, upload, &job.sink, &state.ctx, &stop).await
        }
    };
    state
        .running
        .borrow_mut()
        .remove(&(job.session, job.sink.id()));
    state
        .credits
        .borrow_mut()
        .remove(&(job.session, job.sink.id()));
    if let Some(path) = &job.upload
        && let Err(e) = std::fs::remove_file(path)
    {
        tracing::warn!("cannot remove the upload {}: {e}", path.display());
    }
    match &result {
        Ok(ResponseBody::Docker(r)) if matches!(**r, DockerReply::LogsEnd { .. }) => {}
        Ok(_) => tracing::debug!(id = job.sink.id(), op = name, "docker operation done"),
        Err(e) => tracing::info!(
            id = job.sink.id(),
            op = name,
            "docker operation failed: {e}"
        ),
    }
    job.sink.finish(result);
}
