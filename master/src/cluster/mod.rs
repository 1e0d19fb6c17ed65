//! The control side's view of the cluster: which nodes exist, which are online, their latest
//! metrics and live sessions. It consumes [`ControlEvent`]s from the protocol endpoint,
//! decides authentication against the store, feeds metric samples to the store writer, marks
//! nodes offline when their heartbeat TTL expires (raising the offline alert), and sends
//! requests to slaves. Every timestamp and deadline comes from the injected
//! [`model::Clock`].
//!
//! `impl Cluster` lives in this module tree only:
//!
//! | module | concern |
//! |---|---|
//! | this one | the registry, events in, heartbeats, TTL expiry, live samples, revocation |
//! | `admission` | a session's admission: version, enrolment or resumption |
//! | `alerts` | offline alerts fed from liveness changes, and the alert list |
//! | [`requests`] | requests to slaves: sending, progress, uploads, cancelling |
//! | [`operations`] | calls, streams and tasks of the operations service |
//! | [`workloads`] | desired state out, observed state in (projects' replicas, gateways) |

use crate::alerts::AlertBook;
use crate::alerts::writer::AlertWriter;
use crate::endpoint::{ConnHandle, ControlEvent, EndpointCounters, SessionEnd, Side};
use crate::pending::{PendingRequests, RequestFailure, RequestOutcome};
use crate::samples::{decode_sample, encode_sample};
use crate::store::{SampleRow, Store, StoreError, StoreWriter, history};
use crate::ttl::{HeartbeatTtl, Liveness};
use model::Clock;
use model::alert::AlertRecord;
use model::cluster::NodeRecord;
use model::node::{LiveSample, MasterCounters};
use protocol::{HostInfo, Message, MetricSample};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{broadcast, oneshot};

/// Samples buffered per live listener (console streams); a listener further behind skips.
pub const LIVE_CAPACITY: usize = 1024;

/// Timing of heartbeats and expiry.
#[derive(Debug, Clone, Copy)]
pub struct ClusterTiming {
    /// Heartbeat period asked of slaves.
    pub heartbeat_interval: Duration,
    /// Time after a heartbeat before a node is considered late.
    pub ttl: Duration,
    /// Extra time before a late node is marked offline.
    pub grace: Duration,
    /// Spread added to each deadline.
    pub jitter: Duration,
    /// How long each tier of the metric history is kept, and its size cap.
    pub history: crate::store::history::HistoryPolicy,
}

/// A request could not be sent.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RequestError {
    /// No node has this id.
    #[error("node {0} does not exist")]
    UnknownNode(u64),
    /// The node has no live session.
    #[error("node {0} is offline")]
    Offline(u64),
    /// The node's queue is full; it is not reading.
    #[error("node {0} is not keeping up; try again")]
    Busy(u64),
    /// The node's session speaks a protocol version without operations.
    #[error(
        "node {node} speaks protocol version {version}, operations need {}",
        protocol::OPS_VERSION
    )]
    OldProtocol {
        /// The node.
        node: u64,
        /// Its session's version.
        version: u16,
    },
}

impl RequestError {
    /// Which side keeps the request from being sent: the slave (offline, not keeping up,
    /// too old) or the master (no such node).
    pub fn side(&self) -> Side {
        match self {
            Self::UnknownNode(_) => Side::Master,
            Self::Offline(_) | Self::Busy(_) | Self::OldProtocol { .. } => Side::Slave,
        }
    }

    /// Whether sending again later makes sense: once the node is back or has caught up,
    /// not for a node that does not exist or must be upgraded first.
    pub fn retry_makes_sense(&self) -> bool {
        matches!(self, Self::Offline(_) | Self::Busy(_))
    }
}

struct LiveNode {
    record: NodeRecord,
    conn: Option<ConnHandle>,
    /// Shared with the live broadcast, so a listener costs no copy of the sample.
    latest: Option<Arc<MetricSample>>,
    last_seen_ms: Option<u64>,
    /// Protocol version negotiated by the current session (0 before any session).
    version: u16,
    /// The workloads it last reported (see [`workloads`]).
    observed: Option<workloads::ObservedReport>,
}

/// Who waits for a request: the node it went to, the outcome's receiver, and (for
/// operations that report progress) where progress updates go.
struct Waiter {
    node_id: u64,
    tx: oneshot::Sender<RequestOutcome>,
    progress: Option<requests::ProgressTx>,
}

struct State {
    ttl: HeartbeatTtl,
    nodes: BTreeMap<u64, LiveNode>,
    pending: PendingRequests<Waiter>,
    /// Broadcast of incoming samples to live views; `None` once closed for shutdown.
    live: Option<broadcast::Sender<LiveSample>>,
    /// Active alerts (see `crate::alerts`).
    alerts: AlertBook,
    /// Broadcast of fired and resolved alerts; `None` once closed for shutdown.
    alert_events: Option<broadcast::Sender<AlertRecord>>,
    /// Where the book's alerts also go, in order (the rule evaluator, which decides who
    /// is notified); `None` until one is attached.
    alert_sink: Option<tokio::sync::mpsc::UnboundedSender<AlertRecord>>,
    /// Alerts firing now that the rule evaluator raised (threshold rules, project
    /// events), by id.
    rule_active: BTreeMap<u64, AlertRecord>,
    /// Evaluator alerts still firing when the master stopped, until the evaluator takes
    /// them back.
    restored: Vec<AlertRecord>,
}

struct Inner {
    store: Arc<dyn Store>,
    writer: StoreWriter,
    timing: ClusterTiming,
    /// Where every timestamp, TTL deadline and request deadline comes from.
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Tasks and streaming operations (see [`operations`]).
    ops: operations::OpsState,
    /// Keeps the alert history in the store.
    alert_writer: AlertWriter,
    /// Heartbeats received.
    heartbeats: AtomicU64,
    /// Samples that could not be encoded or queued for the store.
    samples_unqueued: AtomicU64,
    /// The protocol endpoint's counters, once it runs ([`Cluster::attach_endpoint`]).
    endpoint: OnceLock<Arc<EndpointCounters>>,
}

/// Shared handle to the cluster state; cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").finish_non_exhaustive()
    }
}

impl Cluster {
    /// Loads every node from the store (all offline until they reconnect). Every timestamp
    /// and deadline the cluster sets is read from `clock`.
    pub fn open(
        store: Arc<dyn Store>,
        timing: ClusterTiming,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let mut nodes = BTreeMap::new();
        for record in store.list_nodes()? {
            let latest_row = store.latest_sample(record.id)?;
            let latest = latest_row
                .as_ref()
                .and_then(|r| decode_sample(&r.bytes).ok())
                .map(Arc::new);
            let last_seen_ms = latest_row
                .map(|r| r.taken_at_ms)
                .or((record.last_seen_ms > 0).then_some(record.last_seen_ms));
            nodes.insert(
                record.id,
                LiveNode {
                    record,
                    conn: None,
                    latest,
                    last_seen_ms,
                    version: 0,
                    observed: None,
                },
            );
        }
        let writer = StoreWriter::spawn(Arc::clone(&store));
        let ttl = HeartbeatTtl::new(timing.ttl, timing.grace, timing.jitter);
        let now = clock.now_ms();
        let (alerts, changed, restored) =
            alerts::open_book(store.as_ref(), &nodes, ttl.max_deadline(now), now)?;
        let alert_writer = AlertWriter::spawn(Arc::clone(&store), crate::alerts::MAX_HISTORY);
        for alert in changed {
            alert_writer.submit(alert);
        }
        let state = State {
            ttl,
            nodes,
            pending: PendingRequests::default(),
            live: Some(broadcast::channel(LIVE_CAPACITY).0),
            alerts,
            alert_events: Some(broadcast::channel(crate::alerts::EVENTS_CAPACITY).0),
            alert_sink: None,
            rule_active: BTreeMap::new(),
            restored,
        };
        let ops = operations::OpsState::new(Arc::clone(&clock));
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                writer,
                timing,
                clock,
                state: Mutex::new(state),
                ops,
                alert_writer,
                heartbeats: AtomicU64::new(0),
                samples_unqueued: AtomicU64::new(0),
                endpoint: OnceLock::new(),
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than stopping the master would, so keep serving.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The store behind the cluster.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Lets [`Self::master_counters`] report the protocol endpoint's counters (the
    /// endpoint starts after the cluster; a second call is ignored).
    pub fn attach_endpoint(&self, counters: Arc<EndpointCounters>) {
        let _ = self.inner.endpoint.set(counters);
    }

    /// The master's own counters: the endpoint's (zero until attached), heartbeats, and
    /// samples stored and lost.
    pub fn master_counters(&self) -> MasterCounters {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut c = MasterCounters {
            heartbeats: load(&self.inner.heartbeats),
            samples_written: self.inner.writer.written(),
            samples_dropped: self
                .inner
                .writer
                .failed()
                .saturating_add(load(&self.inner.samples_unqueued)),
            ..MasterCounters::default()
        };
        if let Some(e) = self.inner.endpoint.get() {
            c.connections_accepted = load(&e.accepted);
            c.connections_open = load(&e.open);
            c.sessions = load(&e.sessions);
            c.connections_rejected = load(&e.rejected);
            c.bad_frames = load(&e.bad_frames);
            c.bytes_received = load(&e.bytes_in);
        }
        c
    }

    /// The clock the cluster reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Now, Unix milliseconds, by the cluster's clock.
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// The sample writer (for flushing in tests and benchmarks).
    pub fn writer(&self) -> &StoreWriter {
        &self.inner.writer
    }

    /// Consumes endpoint events until the channel closes, and expires TTLs and requests
    /// every `tick`.
    pub async fn run(self, events: async_channel::Receiver<ControlEvent>, tick: Duration) {
        let ticker = {
            let me = self.clone();
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(tick);
                let (mut last_prune, mut last_maintain) = (0u64, 0u64);
                loop {
                    interval.tick().await;
                    let now = me.now_ms();
                    me.tick(now);
                    if now.saturating_sub(last_maintain) >= history::MAINTAIN_INTERVAL_MS {
                        last_maintain = now;
                        me.maintain_history(now).await;
                    }
                    if now.saturating_sub(last_prune) > 3_600_000 {
                        last_prune = now;
                        me.prune(now).await;
                    }
                }
            })
        };
        while let Ok(event) = events.recv().await {
            self.handle(event);
        }
        ticker.abort();
    }

    /// Handles one endpoint event.
    pub fn handle(&self, event: ControlEvent) {
        match event {
            ControlEvent::Authenticate {
                conn,
                peer_static,
                hello,
                reply,
            } => {
                let me = self.clone();
                tokio::spawn(async move {
                    let verdict = me.authenticate(conn, peer_static, hello).await;
                    let _ = reply.send(verdict).await;
                });
            }
            ControlEvent::Message { node_id, msg, .. } => self.on_message(node_id, msg),
            ControlEvent::Disconnected {
                node_id,
                conn_id,
                reason,
            } => self.on_disconnect(node_id, conn_id, &reason),
        }
    }

    fn on_message(&self, node_id: u64, msg: Message) {
        match msg {
            Message::Heartbeat(hb) => self.on_heartbeat(node_id, hb.sample),
            Message::HostInfo(info) => self.on_host_info(node_id, info),
            Message::Response(protocol::Response {
                id,
                body: protocol::ResponseBody::Progress(update),
            }) => self.on_progress(node_id, id, *update),
            Message::Response(resp) => {
                let done = self.state().pending.on_response(resp.id, resp.body);
                finish(done, node_id);
            }
            Message::Chunk(chunk) => {
                let done = self.state().pending.on_chunk(chunk);
                finish(done, node_id);
            }
            Message::ObservedState(obs) => self.on_observed(node_id, obs),
            other => tracing::warn!(node_id, kind = other.name(), "ignored message"),
        }
    }

    fn on_heartbeat(&self, node_id: u64, sample: MetricSample) {
        self.inner.heartbeats.fetch_add(1, Ordering::Relaxed);
        let now = self.now_ms();
        let bytes = encode_sample(&sample);
        {
            let mut guard = self.state();
            let st = &mut *guard;
            if st.ttl.heartbeat(node_id, now) == Liveness::CameOnline {
                tracing::info!(node_id, "node back online");
                self.alert_online(st, node_id, now);
            }
            if let Some(node) = st.nodes.get_mut(&node_id) {
                // One allocation, shared by the listeners (the rule evaluator, console
                // streams) and the latest sample: no copy of the sample.
                let sample = Arc::new(sample);
                if let Some(tx) = st.live.as_ref().filter(|tx| tx.receiver_count() > 0) {
                    let _ = tx.send(LiveSample {
                        node_id,
                        at_ms: now,
                        sample: Arc::clone(&sample),
                    });
                }
                node.latest = Some(sample);
                node.last_seen_ms = Some(now);
            }
        }
        match bytes {
            Ok(bytes) => {
                let row = SampleRow {
                    node_id,
                    taken_at_ms: now,
                    bytes,
                };
                if self.inner.writer.submit(row).is_err() {
                    self.inner.samples_unqueued.fetch_add(1, Ordering::Relaxed);
                    tracing::error!("store writer is gone; sample dropped");
                }
            }
            Err(e) => {
                self.inner.samples_unqueued.fetch_add(1, Ordering::Relaxed);
                tracing::error!(node_id, "cannot encode sample: {e}");
            }
        }
    }

    fn on_host_info(&self, node_id: u64, info: HostInfo) {
        {
            let mut st = self.state();
            let Some(node) = st.nodes.get_mut(&node_id) else {
                return;
            };
            node.record.hostname = info.hostname.clone();
            node.record.host_info = Some(info.clone());
        }
        let store = Arc::clone(&self.inner.store);
        tokio::task::spawn_blocking(move || {
            // Only the host facts: a stored `revoked` flag set meanwhile is kept.
            let mut set_facts = |n: &mut NodeRecord| {
                n.hostname = info.hostname.clone();
                n.host_info = Some(info.clone());
            };
            if let Err(e) = store.update_node(node_id, &mut set_facts) {
                tracing::error!(node_id, "cannot save host info: {e}");
            }
        });
    }

    fn on_disconnect(&self, node_id: u64, conn_id: u64, reason: &SessionEnd) {
        let mut st = self.state();
        let Some(node) = st.nodes.get_mut(&node_id) else {
            return;
        };
        if node.conn.as_ref().is_some_and(|c| c.conn_id == conn_id) {
            node.conn = None;
            tracing::info!(
                node_id,
                %reason,
                side = reason.side().as_str(),
                "session closed; node stays online until its TTL expires"
            );
        }
    }

    /// Expires TTLs and timed-out requests; call periodically.
    pub fn tick(&self, now: u64) {
        let mut st = self.state();
        for node_id in st.ttl.expire(now) {
            tracing::warn!(node_id, "node offline: heartbeat TTL expired");
            if let Some(node) = st.nodes.get(&node_id) {
                let seen = node.last_seen_ms.unwrap_or(0);
                let store = Arc::clone(&self.inner.store);
                tokio::task::spawn_blocking(move || {
                    // Only `last_seen_ms`: a `revoked` flag written by `commander node
                    // revoke` while the node was connected must survive.
                    let mut set_seen = |n: &mut NodeRecord| n.last_seen_ms = seen;
                    if let Err(e) = store.update_node(node_id, &mut set_seen) {
                        tracing::error!(node_id, "cannot save last seen: {e}");
                    }
                });
            }
            self.alert_offline(&mut st, node_id, now);
        }
        self.alert_overdue(&mut st, now);
        for waiter in st.pending.expire(now) {
            let _ = waiter.tx.send(RequestOutcome::TimedOut);
        }
    }

    /// Rolls the metric history up and prunes it (see [`history::maintain`]), on a
    /// blocking thread: never on the heartbeat path.
    pub async fn maintain_history(&self, now: u64) {
        let store = Arc::clone(&self.inner.store);
        let policy = self.inner.timing.history;
        match tokio::task::spawn_blocking(move || history::maintain(store.as_ref(), &policy, now))
            .await
        {
            Ok(Ok(r)) if r != history::MaintainReport::default() => tracing::debug!(
                minutes = r.minutes,
                hours = r.hours,
                aged = r.aged,
                capped = r.capped,
                "metric history rolled up and pruned"
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!("metric history maintenance failed: {e}"),
            Err(e) => tracing::error!("metric history task failed: {e}"),
        }
    }

    /// The retention and size cap of the metric history.
    pub fn history_policy(&self) -> &history::HistoryPolicy {
        &self.inner.timing.history
    }

    async fn prune(&self, _now: u64) {
        let store = Arc::clone(&self.inner.store);
        let keep = operations::tasks::MAX_STORED_TASKS;
        match tokio::task::spawn_blocking(move || store.prune_tasks(keep)).await {
            Ok(Ok(n)) if n > 0 => tracing::info!(removed = n, "pruned old tasks"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!("pruning tasks failed: {e}"),
            Err(e) => tracing::error!("pruning task failed: {e}"),
        }
    }

    /// Revokes a node: its key is refused from now on and its session is closed.
    pub async fn revoke(&self, node_id: u64) -> Result<bool, StoreError> {
        let store = Arc::clone(&self.inner.store);
        let existed = tokio::task::spawn_blocking(move || store.set_revoked(node_id, true))
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))??;
        let mut st = self.state();
        self.forget_revoked(&mut st, node_id, self.now_ms());
        Ok(existed)
    }

    /// Snapshot for the console and API.
    pub fn node_views(&self) -> Vec<model::node::NodeView> {
        let st = self.state();
        st.nodes.values().map(|n| view(&st, n)).collect()
    }

    /// Snapshot of one node.
    pub fn node_view(&self, id: u64) -> Option<model::node::NodeView> {
        let st = self.state();
        st.nodes.get(&id).map(|n| view(&st, n))
    }

    /// A receiver of every sample from now on; `None` after [`Self::close_live`].
    pub fn subscribe_live(&self) -> Option<broadcast::Receiver<LiveSample>> {
        self.state().live.as_ref().map(broadcast::Sender::subscribe)
    }

    /// Ends the live broadcasts (samples and alerts: every receiver sees them closed) and
    /// the operation streams (followed logs and task events, see [`operations`]), so that
    /// console streams end and a graceful shutdown does not wait for them.
    pub fn close_live(&self) {
        self.inner.ops.close();
        let mut st = self.state();
        st.live = None;
        st.alert_events = None;
    }
}

fn view(st: &State, n: &LiveNode) -> model::node::NodeView {
    model::node::NodeView {
        id: n.record.id,
        hostname: n.record.hostname.clone(),
        online: st.ttl.is_online(n.record.id),
        revoked: n.record.revoked,
        last_seen_ms: n.last_seen_ms,
        agent_version: n.record.agent_version.clone(),
        host: n.record.host_info.clone(),
        metrics: n.latest.as_deref().cloned(),
    }
}

fn finish(done: Option<(Waiter, RequestOutcome)>, from: u64) {
    if let Some((Waiter { node_id, tx, .. }, outcome)) = done {
        if node_id != from {
            tracing::warn!(node_id, from, "response from the wrong node ignored");
            let _ = tx.send(RequestOutcome::Failed(RequestFailure::WrongNode));
            return;
        }
        let _ = tx.send(outcome);
    }
}

mod admission;
mod alerts;
pub mod operations;
pub mod requests;
pub mod workloads;

#[cfg(test)]
mod tests;
