//! The agent loop: connect to the master, run the Noise handshake, enrol or resume, then send
//! host facts once and a heartbeat with a metric sample every interval, answering requests,
//! until the connection ends; then reconnect with backoff. Containers and processes the slave
//! runs are not touched when the master goes away.
//!
//! It runs on monoio: io_uring when the kernel allows it, otherwise (or when forced) the
//! legacy epoll driver. Reading and writing run as separate tasks so no in-flight read is
//! ever cancelled. Ping and host facts are answered on the reader; host and Docker
//! operations are handed to [`crate::remote::Dispatcher`], which runs them elsewhere and
//! answers through the writer channel. Desired states go to the
//! [`crate::workload::WorkloadManager`], started before the first session, which sends its
//! observed state through the same writer channel while a session lasts.

use crate::backoff::Backoff;
use crate::hostinfo::collect_host_info;
use crate::identity::{self, Enrollment, IdentityError};
use crate::metrics::MetricSampler;
use crate::remote::{Dispatcher, RemoteConfig};
use crate::workload::{ManagerSettings, WorkloadManager};
use monoio::io::{AsyncReadRent, AsyncWriteRentExt, Splitable};
use monoio::net::TcpStream;
use protocol::{
    Heartbeat, Hello, HelloAuth, JoinToken, Message, PeerCheck, RejectReason, RequestBody,
    Response, ResponseBody, Session, SessionError, SessionEvent, StaticKeys,
};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;
use thiserror::Error;

/// Build version reported to the master.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Limit for connecting plus handshake plus hello.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A session shorter than this does not reset the backoff.
const STABLE_SESSION: Duration = Duration::from_secs(10);

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Where the key and enrolment record live.
    pub data_dir: PathBuf,
    /// Master address override (else from the token or the enrolment record).
    pub master_addr: Option<String>,
    /// A join token, needed only before enrolment.
    pub join: Option<JoinToken>,
    /// Docker Engine socket for host facts.
    pub docker_socket: PathBuf,
    /// Use the epoll driver even where io_uring works.
    pub force_legacy: bool,
    /// Settings of host and Docker operations.
    pub ops: OpsOptions,
    /// The replicas and gateways the master assigns.
    pub workloads: crate::config::WorkloadsConfig,
}

/// Settings of the operations the master may ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsOptions {
    /// The hosts file to view and edit.
    pub hosts_file: PathBuf,
    /// Host directories under which containers may bind-mount paths.
    pub bind_roots: Vec<PathBuf>,
}

impl Default for OpsOptions {
    fn default() -> Self {
        Self {
            hosts_file: PathBuf::from(crate::config::DEFAULT_HOSTS_FILE),
            bind_roots: crate::config::DEFAULT_BIND_ROOTS
                .iter()
                .map(PathBuf::from)
                .collect(),
        }
    }
}

/// The agent cannot continue.
#[derive(Debug, Error)]
pub enum AgentError {
    /// Identity files failed.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// Not enrolled and no token given.
    #[error("this slave is not enrolled yet: start it with --join TOKEN (printed by the master)")]
    NotEnrolled,
    /// No master address known.
    #[error("no master address: pass --master HOST:PORT or a join token")]
    NoMaster,
    /// The master refused for good (revoked, bad token, version).
    #[error("the master refused this slave ({reason:?}): {message}")]
    Refused {
        /// Why.
        reason: RejectReason,
        /// The master's words.
        message: String,
    },
    /// The runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
}

/// Why a session with the master ended, or could not be set up; the agent reconnects
/// after a pause.
#[derive(Debug, Error)]
pub enum SessionClosed {
    /// The TCP connection could not be made.
    #[error("connect {addr}: {source}")]
    Connect {
        /// The master's address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Connecting, the handshake and the hello took longer than [`HANDSHAKE_TIMEOUT`].
    #[error("handshake with {addr} timed out")]
    HandshakeTimeout {
        /// The master's address.
        addr: String,
    },
    /// Reading from the master failed.
    #[error("read: {0}")]
    Read(#[source] std::io::Error),
    /// Writing to the master failed.
    #[error("write: {0}")]
    Write(#[source] std::io::Error),
    /// The master closed the connection before the handshake finished.
    #[error("master closed the connection during the handshake")]
    ClosedDuringHandshake,
    /// The master closed the connection.
    #[error("master closed the connection")]
    Closed,
    /// The session could not be started or a message could not be sent.
    #[error("{0}")]
    Session(#[source] SessionError),
    /// The handshake failed (other than a key mismatch, which is fatal).
    #[error("handshake: {0}")]
    Handshake(#[source] SessionError),
    /// The master sent data that failed to decrypt or decode.
    #[error("bad data from master: {0}")]
    BadData(#[source] SessionError),
    /// The handshake finished without the master's static key.
    #[error("no master key after handshake")]
    NoMasterKey,
    /// The master sent something other than a welcome or a reject during the handshake.
    #[error("unexpected during handshake: {0}")]
    Unexpected(&'static str),
    /// The master refused for now (an internal error on its side).
    #[error("the master refused this slave ({reason:?}): {message}")]
    Refused {
        /// Why.
        reason: RejectReason,
        /// The master's words.
        message: String,
    },
    /// The task writing to the master stopped.
    #[error("writer stopped")]
    WriterStopped,
}

/// Why one session ended.
enum SessionEnd {
    /// Try again after a pause.
    Retry(SessionClosed),
    /// Stop the agent.
    Fatal(AgentError),
}

impl From<SessionClosed> for SessionEnd {
    fn from(c: SessionClosed) -> Self {
        Self::Retry(c)
    }
}

/// Runs the agent on the current thread until a fatal error.
pub fn run(options: AgentOptions) -> Result<(), AgentError> {
    let keys = identity::load_or_create_keys(&options.data_dir)?;
    let uring = !options.force_legacy && monoio::utils::detect_uring();
    if uring {
        tracing::info!("slave runtime: io_uring (monoio)");
        let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .enable_timer()
            .build()
            .map_err(AgentError::Runtime)?;
        rt.block_on(agent_loop(options, keys))
    } else {
        tracing::info!(
            "slave runtime: legacy epoll driver (monoio), io_uring unavailable or disabled"
        );
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .map_err(AgentError::Runtime)?;
        rt.block_on(agent_loop(options, keys))
    }
}

/// Randomness for backoff jitter; the clock stands in if the OS source fails.
fn random_u64() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into())
    })
}

/// Starts the workload manager when enabled; a failure to start it is logged, not fatal
/// (the host and Docker operations still work).
fn start_workloads(options: &AgentOptions, keys: &StaticKeys) -> Option<WorkloadManager> {
    if !options.workloads.enabled {
        tracing::info!("workloads disabled (workloads.enabled: false)");
        return None;
    }
    let node_id = match identity::load_enrollment(&options.data_dir) {
        Ok(e) => e.map(|e| e.node_id),
        Err(e) => {
            tracing::warn!("cannot read the enrolment record: {e}");
            None
        }
    };
    let settings = ManagerSettings {
        data_dir: options.data_dir.clone(),
        bind_roots: options.ops.bind_roots.clone(),
        advertise_address: options.workloads.advertise_address,
        reconcile_interval: options.workloads.reconcile_interval,
        node_id,
        owner_key: protocol::keys::hex(&keys.fingerprint()),
        gateway_workers: 0,
        resend_every: crate::workload::manager::RESEND_EVERY,
    };
    let socket = options.docker_socket.clone();
    let connect = move || {
        let socket = socket.clone();
        async move {
            crate::docker::bollard_rt::BollardRuntime::connect(&socket)
                .await
                .map(std::rc::Rc::new)
        }
    };
    match WorkloadManager::start(connect, settings) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::error!("cannot start the workload manager: {e}");
            None
        }
    }
}

async fn agent_loop(options: AgentOptions, keys: StaticKeys) -> Result<(), AgentError> {
    let workloads = start_workloads(&options, &keys);
    let mut backoff = Backoff::default();
    let mut sampler = MetricSampler::new();
    let mut dispatcher = Dispatcher::new(RemoteConfig {
        data_dir: options.data_dir.clone(),
        docker_socket: options.docker_socket.clone(),
        hosts_file: options.ops.hosts_file.clone(),
        bind_roots: options.ops.bind_roots.clone(),
    });
    loop {
        let started = std::time::Instant::now();
        let session = one_session(
            &options,
            &keys,
            &mut sampler,
            &mut dispatcher,
            workloads.as_ref(),
        );
        match session.await {
            SessionEnd::Fatal(e) => return Err(e),
            SessionEnd::Retry(why) => {
                if started.elapsed() >= STABLE_SESSION {
                    backoff.reset();
                }
                let delay = backoff.next_delay(random_u64());
                tracing::warn!("session ended: {why}; reconnecting in {delay:?}");
                monoio::time::sleep(delay).await;
            }
        }
    }
}

/// Where to connect and how to authenticate, from the enrolment record or the token.
fn plan(
    options: &AgentOptions,
) -> Result<(String, PeerCheck, HelloAuth, Option<JoinToken>), AgentError> {
    if let Some(e) = identity::load_enrollment(&options.data_dir)? {
        let addr = options.master_addr.clone().unwrap_or(e.master_addr);
        return Ok((
            addr,
            PeerCheck::PublicKey(e.master_key),
            HelloAuth::Resume { node_id: e.node_id },
            None,
        ));
    }
    let token = options.join.clone().ok_or(AgentError::NotEnrolled)?;
    let addr = options
        .master_addr
        .clone()
        .unwrap_or_else(|| token.master_addr.clone());
    if addr.is_empty() {
        return Err(AgentError::NoMaster);
    }
    let check = PeerCheck::Fingerprint(token.master_fingerprint);
    let auth = HelloAuth::Enroll {
        secret: token.secret,
    };
    Ok((addr, check, auth, Some(token)))
}

async fn one_session(
    options: &AgentOptions,
    keys: &StaticKeys,
    sampler: &mut MetricSampler,
    dispatcher: &mut Dispatcher,
    workloads: Option<&WorkloadManager>,
) -> SessionEnd {
    let (addr, check, auth, enrolling) = match plan(options) {
        Ok(p) => p,
        Err(e) => return SessionEnd::Fatal(e),
    };
    let setup = monoio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&addr, keys, check, auth)).await;
    let (stream, session, welcome) = match setup {
        Err(_) => return SessionClosed::HandshakeTimeout { addr }.into(),
        Ok(Err(end)) => return end,
        Ok(Ok(x)) => x,
    };
    if enrolling.is_some() {
        let Some(master_key) = session.peer_static() else {
            return SessionClosed::NoMasterKey.into();
        };
        let record = Enrollment {
            node_id: welcome.node_id,
            master_key,
            master_addr: addr.clone(),
        };
        if let Err(e) = identity::save_enrollment(&options.data_dir, &record) {
            return SessionEnd::Fatal(e.into());
        }
        tracing::info!(node_id = welcome.node_id, "enrolled with the master");
    }
    tracing::info!(node_id = welcome.node_id, master = %addr, "session established");
    let interval = Duration::from_millis(u64::from(welcome.heartbeat_interval_ms.max(100)));
    dispatcher.begin_session_at(welcome.version);
    // Observed state exists from the workloads version on.
    let workloads = workloads
        .filter(|_| welcome.version >= protocol::version::WORKLOADS_VERSION)
        .map(|w| (w, welcome.node_id));
    let end = run_session(
        stream, session, interval, options, sampler, dispatcher, workloads,
    )
    .await;
    dispatcher.end_session();
    if let Some((w, _)) = workloads {
        w.disconnected();
    }
    end
}

async fn write_all(stream: &mut TcpStream, bytes: Vec<u8>) -> Result<(), SessionClosed> {
    let (res, _) = stream.write_all(bytes).await;
    res.map(|_| ()).map_err(SessionClosed::Write)
}

async fn handshake(
    addr: &str,
    keys: &StaticKeys,
    check: PeerCheck,
    auth: HelloAuth,
) -> Result<(TcpStream, Session, protocol::Welcome), SessionEnd> {
    let mut stream = crate::connect::dial(addr).map_err(|source| SessionClosed::Connect {
        addr: addr.to_string(),
        source,
    })?;
    let mut session = Session::initiator(keys, check).map_err(SessionClosed::Session)?;
    write_all(&mut stream, session.take_output()).await?;
    let mut buf = vec![0u8; 4096];
    let mut events = Vec::new();
    let mut said_hello = false;
    loop {
        let (res, b) = stream.read(buf).await;
        buf = b;
        let n = res.map_err(SessionClosed::Read)?;
        if n == 0 {
            return Err(SessionClosed::ClosedDuringHandshake.into());
        }
        session
            .receive(&buf[..n], &mut events)
            .map_err(|e| match e {
                protocol::SessionError::PeerMismatch => SessionEnd::Fatal(AgentError::Refused {
                    reason: RejectReason::UnknownNode,
                    message:
                        "the master's key does not match the join token or the enrolment record"
                            .into(),
                }),
                other => SessionClosed::Handshake(other).into(),
            })?;
        for ev in events.drain(..) {
            match ev {
                SessionEvent::Established { .. } if !said_hello => {
                    said_hello = true;
                    let hello = Message::Hello(Hello {
                        min_version: protocol::PROTOCOL_VERSION_MIN,
                        max_version: protocol::PROTOCOL_VERSION_MAX,
                        auth: auth.clone(),
                        agent_version: AGENT_VERSION.into(),
                    });
                    session.send(&hello).map_err(SessionClosed::Session)?;
                }
                SessionEvent::Message(Message::Welcome(w)) => {
                    if session.has_output() {
                        write_all(&mut stream, session.take_output()).await?;
                    }
                    return Ok((stream, session, w));
                }
                SessionEvent::Message(Message::Reject(r)) => {
                    return Err(match r.reason {
                        RejectReason::Internal => SessionClosed::Refused {
                            reason: r.reason,
                            message: r.message,
                        }
                        .into(),
                        _ => SessionEnd::Fatal(AgentError::Refused {
                            reason: r.reason,
                            message: r.message,
                        }),
                    });
                }
                SessionEvent::Message(other) => {
                    return Err(SessionClosed::Unexpected(other.name()).into());
                }
                SessionEvent::Established { .. } => {
                    return Err(SessionClosed::Unexpected("a second handshake").into());
                }
            }
        }
        if session.has_output() {
            write_all(&mut stream, session.take_output()).await?;
        }
    }
}

async fn run_session(
    stream: TcpStream,
    session: Session,
    interval: Duration,
    options: &AgentOptions,
    sampler: &mut MetricSampler,
    dispatcher: &mut Dispatcher,
    workloads: Option<(&WorkloadManager, u64)>,
) -> SessionEnd {
    let session = Rc::new(RefCell::new(session));
    let (mut rd, mut wr) = stream.into_split();
    let (tx, rx) = async_channel::unbounded::<Message>();
    let writer = {
        let session = Rc::clone(&session);
        let tx = tx.clone();
        monoio::spawn(async move {
            while let Ok(msg) = rx.recv().await {
                let out = {
                    let mut s = session.borrow_mut();
                    if let Err(e) = s.send(&msg) {
                        tracing::warn!("cannot encrypt {}: {e}", msg.name());
                        break;
                    }
                    s.take_output()
                };
                let (res, _) = wr.write_all(out).await;
                if let Err(e) = res {
                    tracing::warn!("write to master failed: {e}");
                    break;
                }
            }
            tx.close();
        })
    };
    let host = collect_host_info(&options.docker_socket);
    let _ = tx.send(Message::HostInfo(host)).await;
    if let Some((w, node_id)) = workloads {
        w.connected(node_id, tx.clone());
    }
    let workloads = workloads.map(|(w, _)| w);
    let heartbeats = {
        let tx = tx.clone();
        let mut sampler = std::mem::take(sampler);
        monoio::spawn(async move {
            let mut seq = 0u64;
            loop {
                seq += 1;
                match sampler.sample(now_ms()) {
                    Ok(sample) => {
                        if tx
                            .send(Message::Heartbeat(Heartbeat { seq, sample }))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(e) => tracing::warn!("metric sample failed: {e}"),
                }
                monoio::time::sleep(interval).await;
                if tx.is_closed() {
                    break;
                }
            }
            sampler
        })
    };
    let end = read_loop(&mut rd, &session, &tx, options, dispatcher, workloads).await;
    tx.close();
    writer.await;
    *sampler = heartbeats.await;
    SessionEnd::Retry(end)
}

async fn read_loop<R: AsyncReadRent>(
    rd: &mut R,
    session: &Rc<RefCell<Session>>,
    tx: &async_channel::Sender<Message>,
    options: &AgentOptions,
    dispatcher: &mut Dispatcher,
    workloads: Option<&WorkloadManager>,
) -> SessionClosed {
    let mut buf = vec![0u8; 4096];
    let mut events = Vec::new();
    loop {
        let (res, b) = rd.read(buf).await;
        buf = b;
        let n = match res {
            Ok(0) => return SessionClosed::Closed,
            Ok(n) => n,
            Err(e) => return SessionClosed::Read(e),
        };
        if tx.is_closed() {
            return SessionClosed::WriterStopped;
        }
        let result = session.borrow_mut().receive(&buf[..n], &mut events);
        for ev in events.drain(..) {
            if let SessionEvent::Message(msg) = ev
                && let Some(reply) = handle_message(msg, options, dispatcher, tx, workloads)
                && tx.send(reply).await.is_err()
            {
                return SessionClosed::WriterStopped;
            }
        }
        if let Err(e) = result {
            return SessionClosed::BadData(e);
        }
    }
}

/// Answers one message from the master, at once (ping, host facts) or through the
/// dispatcher (operations, whose answers it sends on `tx` itself); hands desired states to
/// the workload manager.
fn handle_message(
    msg: Message,
    options: &AgentOptions,
    dispatcher: &mut Dispatcher,
    tx: &async_channel::Sender<Message>,
    workloads: Option<&WorkloadManager>,
) -> Option<Message> {
    match msg {
        Message::Request(req) => {
            let body = match req.body {
                RequestBody::Ping => ResponseBody::Pong,
                RequestBody::HostInfo => {
                    ResponseBody::HostInfo(collect_host_info(&options.docker_socket))
                }
                _ => {
                    dispatcher.on_request(req, tx);
                    return None;
                }
            };
            Some(Message::Response(Response { id: req.id, body }))
        }
        Message::Chunk(chunk) => {
            dispatcher.on_chunk(chunk, tx);
            None
        }
        Message::DesiredState(d) => {
            match workloads {
                Some(w) => w.desired(d),
                None => tracing::warn!(
                    generation = d.generation,
                    "desired state ignored: workloads are disabled on this slave"
                ),
            }
            None
        }
        other => {
            tracing::warn!(
                kind = other.name(),
                "unexpected message from master ignored"
            );
            None
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
