//! The [`WorkloadManager`]: a task on its own thread (a current-thread tokio runtime with a
//! `LocalSet`, as the Docker bridge) that the slave starts at startup, independently of the
//! master connection.
//!
//! * It loads the last [`DesiredState`] from disk ([`StateStore`]) and applies it, so the
//!   replicas and gateways come back after the slave's restart and keep running while the
//!   master is away. Until a desired state is known (none stored, or the stored one is
//!   unreadable) it removes nothing: a lost file must not take the node's replicas down
//!   before the master has said what it wants.
//! * Each new desired state from the agent ([`WorkloadManager::desired`]) is stored, then
//!   applied at once; everything is reconciled again every `reconcile_interval` too.
//! * Replica creations and removals run as tasks ([`super::driver`]); health probes run on
//!   each replica's interval ([`super::health`]); gateways are reconciled on the blocking
//!   pool ([`super::gateways`]).
//! * While connected it sends [`ObservedState`] on the session's channel when it changes,
//!   at least every [`RESEND_EVERY`], and right after each (re)connect.

use super::driver::{self, Created, Facts};
use super::gateways::GatewayHost;
use super::health::{self, HealthTracker};
use super::replica::{self, Action, Memory, Owner};
use super::store::StateStore;
use crate::docker::ops::DockerCtx;
use crate::docker::{ContainerRuntime, DockerError};
use protocol::Message;
use protocol::workload::ReplicaState;
use protocol::workload::{DesiredState, ObservedGateway, ObservedReplica, ObservedState};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The observed state is sent at least this often while connected (the default of
/// [`ManagerSettings::resend_every`]).
pub const RESEND_EVERY: Duration = Duration::from_secs(5);
/// How often due probes are started and pending work is looked at.
const TICK: Duration = Duration::from_millis(100);
/// Default time between two full reconciles.
pub const DEFAULT_RECONCILE_INTERVAL: Duration = Duration::from_millis(2000);

/// What the manager needs to know.
#[derive(Debug, Clone)]
pub struct ManagerSettings {
    /// Where the desired state is kept.
    pub data_dir: PathBuf,
    /// Host directories replicas may bind-mount beneath (as for user containers).
    pub bind_roots: Vec<PathBuf>,
    /// The address other hosts reach this slave's published ports at; health probes go
    /// there too. `None`: probes go to 127.0.0.1 and the master uses the session's address.
    pub advertise_address: Option<IpAddr>,
    /// Time between two full reconciles.
    pub reconcile_interval: Duration,
    /// This slave's node id, when already enrolled (else it comes with the first session).
    pub node_id: Option<u64>,
    /// Hex SHA-256 fingerprint of this slave's static public key: the owner label of every
    /// replica container it makes, and how it tells them from other slaves' (node ids
    /// repeat across clusters). Empty: no container is ever taken as ours.
    pub owner_key: String,
    /// Gateway worker threads (0: one per CPU).
    pub gateway_workers: usize,
    /// An unchanged observed state is sent again after this long ([`RESEND_EVERY`]).
    pub resend_every: Duration,
}

/// A message to the manager.
#[derive(Debug)]
pub enum Input {
    /// The master's new desired state.
    Desired(Box<DesiredState>),
    /// A session started: this node's id and the channel to the master.
    Connected {
        /// Node id from the welcome.
        node_id: u64,
        /// The agent's outgoing channel.
        out: async_channel::Sender<Message>,
    },
    /// The session ended.
    Disconnected,
}

/// Handle to the manager's thread.
#[derive(Debug, Clone)]
pub struct WorkloadManager {
    tx: async_channel::Sender<Input>,
}

impl WorkloadManager {
    /// Starts the manager on its own thread. `connect` makes the engine client (on that
    /// thread, on first use and again after the engine was unreachable).
    pub fn start<R, F, Fut>(connect: F, settings: ManagerSettings) -> std::io::Result<Self>
    where
        R: ContainerRuntime + 'static,
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Rc<R>, DockerError>> + 'static,
    {
        let (tx, rx) = async_channel::unbounded();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("cmdr-workloads".into())
            .spawn(move || {
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, run(connect, settings, rx));
            })?;
        Ok(Self { tx })
    }

    /// A handle feeding `tx` (for [`run`] driven by the caller).
    pub fn from_sender(tx: async_channel::Sender<Input>) -> Self {
        Self { tx }
    }

    /// Hands over the master's new desired state.
    pub fn desired(&self, state: DesiredState) {
        self.send(Input::Desired(Box::new(state)));
    }

    /// A session started.
    pub fn connected(&self, node_id: u64, out: async_channel::Sender<Message>) {
        self.send(Input::Connected { node_id, out });
    }

    /// The session ended.
    pub fn disconnected(&self) {
        self.send(Input::Disconnected);
    }

    fn send(&self, input: Input) {
        if self.tx.try_send(input).is_err() {
            tracing::error!("the workload manager has stopped");
        }
    }
}

/// What finished tasks report.
enum Event {
    Created {
        replica: String,
        result: Result<Created, String>,
    },
    Removed {
        container: String,
        result: Result<(), DockerError>,
    },
    Probed {
        replica: String,
        container: String,
        outcome: Result<(), String>,
    },
    Gateways {
        generation: u64,
        observed: Vec<ObservedGateway>,
    },
}

/// Runs the manager until `inbox` closes; then stops the gateways (short drain).
pub async fn run<R, F, Fut>(
    connect: F,
    settings: ManagerSettings,
    inbox: async_channel::Receiver<Input>,
) where
    R: ContainerRuntime + 'static,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Rc<R>, DockerError>>,
{
    let (events_tx, events) = async_channel::unbounded();
    let mut m = Manager::new(settings, events_tx);
    let mut reconcile = tokio::time::interval(m.settings.reconcile_interval);
    reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            input = inbox.recv() => match input {
                Ok(input) => m.on_input(input),
                Err(_) => break,
            },
            Ok(event) = events.recv() => m.on_event(event),
            _ = reconcile.tick() => m.dirty = true,
            _ = tick.tick() => m.start_probes(),
        }
        if m.dirty {
            m.dirty = false;
            m.reconcile(&connect).await;
        }
        m.maybe_send();
    }
    let host = Arc::clone(&m.gateways);
    let _ = tokio::task::spawn_blocking(move || {
        lock(&host).shutdown(super::gateways::DRAIN);
    })
    .await;
}

fn lock(host: &Mutex<GatewayHost>) -> std::sync::MutexGuard<'_, GatewayHost> {
    host.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Manager<R> {
    settings: ManagerSettings,
    ctx: Rc<DockerCtx>,
    store: StateStore,
    rt: Option<Rc<R>>,
    node: Option<u64>,
    /// A desired state is known (from disk or the master): strays may be removed.
    have_desired: bool,
    desired: DesiredState,
    replicas_generation: u64,
    gateways_generation: u64,
    memory: Memory,
    facts: Facts,
    /// Health per replica: its container and tracker.
    health: HashMap<String, (String, HealthTracker)>,
    probing: HashSet<String>,
    replicas: Vec<ObservedReplica>,
    gateways: Arc<Mutex<GatewayHost>>,
    gateways_busy: bool,
    gateways_again: bool,
    observed_gateways: Vec<ObservedGateway>,
    out: Option<async_channel::Sender<Message>>,
    last_sent: Option<(ObservedState, Instant)>,
    events: async_channel::Sender<Event>,
    dirty: bool,
}

impl<R: ContainerRuntime + 'static> Manager<R> {
    fn new(settings: ManagerSettings, events: async_channel::Sender<Event>) -> Self {
        let store = StateStore::new(&settings.data_dir);
        let (desired, have_desired) = match store.load() {
            Ok(Some(d)) => {
                tracing::info!(
                    generation = d.generation,
                    replicas = d.replicas.len(),
                    gateways = d.gateways.len(),
                    "re-applying the stored desired state"
                );
                (d, true)
            }
            Ok(None) => (DesiredState::default(), false),
            Err(e) => {
                tracing::error!("stored desired state ignored, starting empty: {e}");
                (DesiredState::default(), false)
            }
        };
        Self {
            ctx: Rc::new(DockerCtx::new(&settings.bind_roots)),
            node: settings.node_id,
            gateways: Arc::new(Mutex::new(GatewayHost::new(settings.gateway_workers))),
            settings,
            store,
            rt: None,
            have_desired,
            desired,
            replicas_generation: 0,
            gateways_generation: 0,
            memory: Memory::default(),
            facts: Facts::default(),
            health: HashMap::new(),
            probing: HashSet::new(),
            replicas: Vec::new(),
            gateways_busy: false,
            gateways_again: false,
            observed_gateways: Vec::new(),
            out: None,
            last_sent: None,
            events,
            dirty: true,
        }
    }

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Desired(d) => {
                if let Err(why) = super::store::check_limits(&d) {
                    tracing::error!(
                        generation = d.generation,
                        "desired state refused, the previous one stays: {why}"
                    );
                    return;
                }
                tracing::info!(
                    generation = d.generation,
                    replicas = d.replicas.len(),
                    gateways = d.gateways.len(),
                    "desired state received"
                );
                if let Err(e) = self.store.save(&d) {
                    tracing::error!("cannot store the desired state (applied anyway): {e}");
                }
                self.desired = *d;
                self.have_desired = true;
                self.dirty = true;
            }
            Input::Connected { node_id, out } => {
                if self.node.is_some_and(|n| n != node_id) {
                    tracing::warn!(node_id, "the node id changed");
                }
                self.node = Some(node_id);
                self.out = Some(out);
                self.last_sent = None;
                self.dirty = true;
            }
            Input::Disconnected => self.out = None,
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Created { replica, result } => {
                self.memory.creating.remove(&replica);
                match result {
                    Ok(c) => {
                        tracing::info!(replica, container = c.container, port = ?c.host_port, "replica started");
                        if let Some(p) = c.host_port {
                            self.facts.note_port(&c.container, p);
                        }
                    }
                    Err(message) => {
                        tracing::warn!(replica, "replica not started: {message}");
                        if self.desired.replicas.iter().any(|r| r.id == replica) {
                            self.memory.failed.insert(replica, message);
                        }
                    }
                }
                self.dirty = true;
            }
            Event::Removed { container, result } => {
                self.memory.removing.remove(&container);
                if let Err(e) = result {
                    tracing::warn!(container, "cannot remove the replica: {e}");
                }
                self.dirty = true;
            }
            Event::Probed {
                replica,
                container,
                outcome,
            } => {
                self.probing.remove(&replica);
                let Some((c, tracker)) = self.health.get_mut(&replica) else {
                    return;
                };
                if *c != container {
                    return;
                }
                tracker.record(outcome, Instant::now());
                let (healthy, why) = (tracker.healthy(), tracker.last_error().to_string());
                for o in &mut self.replicas {
                    if o.id == replica
                        && o.container == container
                        && o.state == ReplicaState::Running
                    {
                        o.healthy = healthy;
                        o.message = health_message(healthy, &why);
                    }
                }
            }
            Event::Gateways {
                generation,
                observed,
            } => {
                self.gateways_busy = false;
                self.gateways_generation = generation;
                self.observed_gateways = observed;
                if std::mem::take(&mut self.gateways_again) {
                    self.reconcile_gateways();
                }
            }
        }
    }

    async fn runtime<F, Fut>(&mut self, connect: &F) -> Result<Rc<R>, DockerError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Rc<R>, DockerError>>,
    {
        if let Some(rt) = &self.rt {
            return Ok(Rc::clone(rt));
        }
        let rt = connect().await?;
        self.rt = Some(Rc::clone(&rt));
        Ok(rt)
    }

    async fn reconcile<F, Fut>(&mut self, connect: &F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Rc<R>, DockerError>>,
    {
        self.reconcile_gateways();
        let Some(node) = self.node else {
            return;
        };
        let owner = Owner {
            node,
            key: self.settings.owner_key.clone(),
        };
        if !self.have_desired {
            return;
        }
        let generation = self.desired.generation;
        let listed = match self.runtime(connect).await {
            Ok(rt) => driver::list(rt.as_ref(), &owner, &mut self.facts)
                .await
                .map(|seen| (rt, seen)),
            Err(e) => Err(e),
        };
        let (rt, seen) = match listed {
            Ok(x) => x,
            Err(e) => {
                if matches!(e, DockerError::Unavailable(_)) {
                    self.rt = None;
                }
                self.engine_unavailable(&e.to_string());
                if self.desired.replicas.is_empty() {
                    // Nothing to run: a slave without an engine that only serves gateways
                    // has applied its state (strays are removed once the engine answers).
                    self.replicas_generation = generation;
                }
                return;
            }
        };
        self.memory.prune(&self.desired.replicas);
        let health = &self.health;
        let plan = replica::plan(
            &self.desired.replicas,
            &owner,
            &seen,
            &self.memory,
            |r, c| health.get(r).is_some_and(|(hc, t)| hc == c && t.healthy()),
        );
        self.track_health(&plan.observed);
        for action in plan.actions {
            self.spawn(Rc::clone(&rt), &owner, action);
        }
        self.replicas = plan.observed;
        for o in &mut self.replicas {
            if o.state == ReplicaState::Running
                && let Some((_, t)) = self.health.get(&o.id)
                && o.message.is_empty()
            {
                o.message = health_message(o.healthy, t.last_error());
            }
        }
        self.replicas_generation = generation;
    }

    /// Keeps a tracker for each running replica with a host port; a new container gets a
    /// new one.
    fn track_health(&mut self, observed: &[ObservedReplica]) {
        let now = Instant::now();
        let mut keep = HashSet::new();
        for o in observed {
            if o.state != ReplicaState::Running || o.host_port.is_none() {
                continue;
            }
            let Some(spec) = self.desired.replicas.iter().find(|r| r.id == o.id) else {
                continue;
            };
            keep.insert(o.id.clone());
            let fresh = self
                .health
                .get(&o.id)
                .is_none_or(|(c, t)| *c != o.container || *t.probe() != spec.health);
            if fresh {
                self.health.insert(
                    o.id.clone(),
                    (
                        o.container.clone(),
                        HealthTracker::new(spec.health.clone(), now),
                    ),
                );
            }
        }
        self.health.retain(|id, _| keep.contains(id));
    }

    fn spawn(&mut self, rt: Rc<R>, owner: &Owner, action: Action) {
        let events = self.events.clone();
        match action {
            Action::Create(spec) => {
                self.memory.creating.insert(spec.id.clone());
                let ctx = Rc::clone(&self.ctx);
                let owner = owner.clone();
                tracing::info!(replica = spec.id, image = spec.image, "creating replica");
                tokio::task::spawn_local(async move {
                    let result = driver::create(rt.as_ref(), &spec, &owner, &ctx).await;
                    let _ = events.try_send(Event::Created {
                        replica: spec.id,
                        result,
                    });
                });
            }
            Action::Remove { container, replica } => {
                self.memory.removing.insert(container.clone());
                tracing::info!(replica, container, "removing replica");
                tokio::task::spawn_local(async move {
                    let result = driver::remove(rt.as_ref(), &container).await;
                    let _ = events.try_send(Event::Removed { container, result });
                });
            }
        }
    }

    /// The engine cannot be reached: what is known stays, with the reason.
    fn engine_unavailable(&mut self, why: &str) {
        tracing::warn!("workloads not reconciled: {why}");
        let known: HashMap<String, ObservedReplica> =
            self.replicas.drain(..).map(|o| (o.id.clone(), o)).collect();
        self.replicas = self
            .desired
            .replicas
            .iter()
            .map(|spec| {
                let mut o = known.get(&spec.id).cloned().unwrap_or(ObservedReplica {
                    id: spec.id.clone(),
                    container: String::new(),
                    state: ReplicaState::Starting,
                    host_port: None,
                    healthy: false,
                    exit_code: None,
                    message: String::new(),
                });
                o.message = why.to_string();
                o
            })
            .collect();
    }

    fn reconcile_gateways(&mut self) {
        if self.gateways_busy {
            self.gateways_again = true;
            return;
        }
        self.gateways_busy = true;
        let host = Arc::clone(&self.gateways);
        let specs = self.desired.gateways.clone();
        let generation = self.desired.generation;
        let events = self.events.clone();
        tokio::task::spawn_local(async move {
            let observed = tokio::task::spawn_blocking(move || lock(&host).reconcile(&specs))
                .await
                .unwrap_or_else(|e| {
                    tracing::error!("gateway reconcile failed: {e}");
                    Vec::new()
                });
            let _ = events.try_send(Event::Gateways {
                generation,
                observed,
            });
        });
    }

    fn start_probes(&mut self) {
        let now = Instant::now();
        let host = self
            .settings
            .advertise_address
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        for o in &self.replicas {
            let Some(port) = o.host_port else { continue };
            if o.state != ReplicaState::Running || self.probing.contains(&o.id) {
                continue;
            }
            let Some((container, tracker)) = self.health.get_mut(&o.id) else {
                continue;
            };
            if *container != o.container || !tracker.take_due(now) {
                continue;
            }
            self.probing.insert(o.id.clone());
            let check = tracker.probe().clone();
            let (replica, container) = (o.id.clone(), container.clone());
            let events = self.events.clone();
            tokio::task::spawn_local(async move {
                let outcome = health::probe(&check, SocketAddr::new(host, port)).await;
                let _ = events.try_send(Event::Probed {
                    replica,
                    container,
                    outcome,
                });
            });
        }
    }

    fn observed(&self) -> ObservedState {
        ObservedState {
            generation: self.replicas_generation.min(self.gateways_generation),
            advertise_address: self
                .settings
                .advertise_address
                .map(|a| a.to_string())
                .unwrap_or_default(),
            replicas: self.replicas.clone(),
            gateways: self.observed_gateways.clone(),
        }
    }

    fn maybe_send(&mut self) {
        let Some(out) = &self.out else { return };
        if out.is_closed() {
            self.out = None;
            return;
        }
        let now = Instant::now();
        let observed = self.observed();
        let due = match &self.last_sent {
            None => true,
            Some((last, at)) => {
                *last != observed || now.duration_since(*at) >= self.settings.resend_every
            }
        };
        if !due {
            return;
        }
        if out
            .try_send(Message::ObservedState(observed.clone()))
            .is_err()
        {
            self.out = None;
            return;
        }
        self.last_sent = Some((observed, now));
    }
}

fn health_message(healthy: bool, last_error: &str) -> String {
    if healthy || last_error.is_empty() {
        String::new()
    } else {
        format!("health check: {last_error}")
    }
}
