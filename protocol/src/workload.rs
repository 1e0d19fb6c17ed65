//! Workloads (protocol version 4): what the master wants a slave to run, and what the slave
//! reports it runs.
//!
//! The master sends a slave its complete [`DesiredState`] whenever it changes (and again
//! after every reconnect): the project replicas it should run and the gateways it should
//! serve. The slave keeps the last one on disk, so its replicas and gateways go on serving
//! while the master is away and come back after the slave's own restart. Anything the
//! slave finds labelled as its own (`commander.owner` = the fingerprint of its own key) that
//! the desired state does not name is removed; containers labelled for another slave are
//! never touched, so two slaves, of one cluster or of two, may share one Docker Engine.
//!
//! The slave answers with [`ObservedState`] after applying a desired state, whenever
//! something it observes changes (a replica became healthy, exited, got its host port), and
//! at least every few seconds. Replica health is judged by the slave running the replica;
//! the master tracks since when (its own clock), so nothing here carries a slave timestamp.

// rkyv's derive generates archived twins whose fields carry no docs; every type written
// here is documented by hand.
#![allow(missing_docs)]

use rkyv::{Archive, Deserialize, Serialize};

/// Label naming the project a container belongs to.
pub const LABEL_PROJECT: &str = "commander.project";
/// Label naming the project revision a container runs.
pub const LABEL_REVISION: &str = "commander.revision";
/// Label naming the node (slave id, as its master numbers it) that started a container.
/// Not unique beyond one cluster: every master numbers its first slave 1.
pub const LABEL_NODE: &str = "commander.node";
/// Label naming the slave that owns a container by the hex SHA-256 fingerprint of the
/// slave's static public key: unique beyond one cluster, so it is what a slave tells its
/// own containers by.
pub const LABEL_OWNER: &str = "commander.owner";
/// Label naming the replica a container is.
pub const LABEL_REPLICA: &str = "commander.replica";

/// Most replicas one desired state may name.
pub const MAX_REPLICAS_PER_NODE: usize = 1024;
/// Most gateways one desired state may name.
pub const MAX_GATEWAYS_PER_NODE: usize = 256;
/// Most upstreams one gateway may name.
pub const MAX_UPSTREAMS_PER_GATEWAY: usize = 1024;

/// Master → slave: everything this slave should run. Complete: anything of the slave's
/// own absent from it is to be stopped.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[rkyv(derive(Debug))]
pub struct DesiredState {
    /// Increases with every change the master makes for this node; the slave echoes the
    /// last one it applied in [`ObservedState::generation`].
    pub generation: u64,
    /// Replicas to run.
    pub replicas: Vec<ReplicaSpec>,
    /// Gateways to serve.
    pub gateways: Vec<GatewaySpec>,
}

/// One replica of a project.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub struct ReplicaSpec {
    /// Unique in the cluster (`<project>-<revision>-<random>`); the container is named
    /// `commander-<id>` and labelled [`LABEL_REPLICA`] with it.
    pub id: String,
    /// Project name (label [`LABEL_PROJECT`]).
    pub project: String,
    /// Project revision (label [`LABEL_REVISION`]).
    pub revision: u64,
    /// Image reference.
    pub image: String,
    /// The port the program listens on inside the container; published on a host port
    /// the engine picks.
    pub container_port: u16,
    /// `KEY=VALUE` pairs.
    pub env: Vec<String>,
    /// Command and arguments; empty for the image's default.
    pub cmd: Vec<String>,
    /// `SOURCE:TARGET[:ro]` binds or named volumes (checked by the slave like any
    /// container's).
    pub volumes: Vec<String>,
    /// Extra labels (the `commander.*` ones are set by the slave and win).
    pub labels: Vec<(String, String)>,
    /// Memory limit, bytes.
    pub memory_bytes: Option<u64>,
    /// CPU limit, billionths of a CPU.
    pub nano_cpus: Option<u64>,
    /// Credentials to pull the image with; never logged or reported back.
    pub registry_auth: Option<RegistryAuth>,
    /// How the slave checks the replica's health.
    pub health: HealthProbe,
}

/// Credentials for an image registry.
#[derive(Archive, Serialize, Deserialize, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub struct RegistryAuth {
    /// Registry host, when not the image's own.
    pub server: Option<String>,
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// What a health check tries.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum ProbeKind {
    /// A TCP connection to the replica's port.
    Tcp,
    /// `GET path` answering `expected_status`.
    Http {
        /// Path, starting with `/`.
        path: String,
        /// Status that counts as healthy.
        expected_status: u16,
    },
}

/// A replica's health check.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub struct HealthProbe {
    /// What is tried.
    pub kind: ProbeKind,
    /// Between checks, ms.
    pub interval_ms: u32,
    /// Per check, ms.
    pub timeout_ms: u32,
    /// Consecutive passes that make an unhealthy replica healthy.
    pub healthy_threshold: u32,
    /// Consecutive failures that make a healthy replica unhealthy.
    pub unhealthy_threshold: u32,
    /// After start, failures during this long do not count, ms.
    pub start_period_ms: u32,
}

/// Load-balancing algorithm of a gateway.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum GatewayAlgorithm {
    /// Each new connection to the next upstream.
    RoundRobin,
    /// To the upstream with the fewest open connections.
    LeastConn,
    /// By a hash of the client address.
    Hash,
}

/// One gateway the slave serves.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub struct GatewaySpec {
    /// Unique in the cluster: `project/<name>` for a project's, else the standalone
    /// gateway's name.
    pub name: String,
    /// The TCP port it listens on, on all of the slave's addresses.
    pub port: u16,
    /// Balancing.
    pub algorithm: GatewayAlgorithm,
    /// `ip:port` of every upstream, in the master's order (a project's: its healthy
    /// replicas). Empty refuses connections.
    pub upstreams: Vec<String>,
    /// Client networks allowed (CIDR); empty allows all.
    pub allow: Vec<String>,
    /// Client networks refused (CIDR).
    pub deny: Vec<String>,
    /// Most open connections per client address.
    pub max_conns_per_ip: Option<u32>,
    /// Most new connections per second per client address.
    pub conn_rate_per_ip: Option<u32>,
    /// Whether the gateway probes its upstreams itself (standalone gateways); a project's
    /// upstreams are already the healthy replicas.
    pub probe_upstreams: bool,
}

/// Slave → master: what the slave runs.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[rkyv(derive(Debug))]
pub struct ObservedState {
    /// The newest desired-state generation the slave has applied (0: none yet).
    pub generation: u64,
    /// The address at which other hosts reach the host ports its replicas are published
    /// on (its configured `workloads.advertiseAddress`); empty: the address the master
    /// sees the slave's session come from.
    pub advertise_address: String,
    /// Every replica it runs or was told to run.
    pub replicas: Vec<ObservedReplica>,
    /// Every gateway it serves or was told to serve.
    pub gateways: Vec<ObservedGateway>,
}

/// Where a replica is in its life.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum ReplicaState {
    /// Being created (image pull, create, start).
    Starting,
    /// Its container runs.
    Running,
    /// Its container ended, or could not be created or started (see the message).
    Exited,
}

/// One replica as the slave sees it.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub struct ObservedReplica {
    /// The replica id from the spec.
    pub id: String,
    /// The engine's container id, once created.
    pub container: String,
    /// Its state.
    pub state: ReplicaState,
    /// The host port its container port is published on, once known.
    pub host_port: Option<u16>,
    /// Whether its health check passes (by the thresholds).
    pub healthy: bool,
    /// Exit code, when it exited.
    pub exit_code: Option<i64>,
    /// What went wrong, for a person (empty when nothing did).
    pub message: String,
}

/// One upstream of a gateway as seen by it.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub struct ObservedUpstream {
    /// `ip:port`.
    pub addr: String,
    /// Whether the gateway sends it traffic.
    pub healthy: bool,
    /// Open connections to it.
    pub active_conns: u64,
    /// Connections made to it.
    pub total_conns: u64,
}

/// One gateway as the slave sees it.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub struct ObservedGateway {
    /// Its name from the spec.
    pub name: String,
    /// Its port.
    pub port: u16,
    /// Whether it listens (else see the message).
    pub serving: bool,
    /// Why it does not serve (the port is taken, ...), empty when it does.
    pub message: String,
    /// Connections open now.
    pub active_conns: u64,
    /// Connections accepted.
    pub total_conns: u64,
    /// Connections refused (allow/deny lists, limits, no upstream).
    pub refused_conns: u64,
    /// Bytes from clients to upstreams.
    pub bytes_in: u64,
    /// Bytes from upstreams to clients.
    pub bytes_out: u64,
    /// Per upstream.
    pub upstreams: Vec<ObservedUpstream>,
}
