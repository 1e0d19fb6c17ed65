//! What each node should run, sans-io: every project's assignments become replica specs
//! on their nodes; every project's gateway becomes a gateway spec on its node whose
//! upstreams are exactly the project's healthy, undrained, running replicas (the address
//! of the replica's node and its published port); standalone gateways go to their node
//! as configured. [`Generations`] numbers each node's content so the slave's report says
//! which one it runs.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use model::project::gateway::{StandaloneGateway, project_gateway_name};
use model::project::spec::{Algorithm, Probe, ProjectGateway};
use model::project::{ProjectSpec, Revision};
use protocol::workload::{
    DesiredState, GatewayAlgorithm, GatewaySpec, HealthProbe, ProbeKind, RegistryAuth, ReplicaSpec,
    ReplicaState,
};

use super::super::record::ProjectRecord;
use super::step::{SeenReplica, Track};

/// A project as the desired state needs it: its record and the spec of every revision its
/// assignments run (the target's among them).
pub struct ProjectDesired<'a> {
    /// The record.
    pub record: &'a ProjectRecord,
    /// Specs by revision.
    pub specs: &'a BTreeMap<Revision, ProjectSpec>,
}

/// The wire form of a gateway algorithm.
pub fn algorithm(a: Algorithm) -> GatewayAlgorithm {
    match a {
        Algorithm::RoundRobin => GatewayAlgorithm::RoundRobin,
        Algorithm::LeastConn => GatewayAlgorithm::LeastConn,
        Algorithm::Hash => GatewayAlgorithm::Hash,
    }
}

fn replica_spec(id: &str, revision: Revision, spec: &ProjectSpec) -> ReplicaSpec {
    let h = &spec.health;
    ReplicaSpec {
        id: id.to_owned(),
        project: spec.name.clone(),
        revision,
        image: spec.image.clone(),
        container_port: spec.container_port,
        env: spec.env.clone(),
        cmd: spec.cmd.clone(),
        volumes: spec.volumes.clone(),
        labels: spec
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        memory_bytes: spec.resources.memory_bytes,
        nano_cpus: spec.resources.nano_cpus,
        registry_auth: spec.registry_auth.as_ref().map(|c| RegistryAuth {
            server: c.server.clone(),
            username: c.username.clone(),
            password: c.password.clone(),
        }),
        health: HealthProbe {
            kind: match &h.probe {
                Probe::Tcp => ProbeKind::Tcp,
                Probe::Http {
                    path,
                    expected_status,
                } => ProbeKind::Http {
                    path: path.clone(),
                    expected_status: *expected_status,
                },
            },
            interval_ms: h.interval_s.saturating_mul(1000),
            timeout_ms: h.timeout_s.saturating_mul(1000),
            healthy_threshold: h.healthy_threshold,
            unhealthy_threshold: h.unhealthy_threshold,
            start_period_ms: h.start_period_s.saturating_mul(1000),
        },
    }
}

/// The upstreams of a project's gateway: `address:port` of each running, healthy,
/// undrained replica whose node address and host port are known, sorted.
pub fn project_upstreams(
    record: &ProjectRecord,
    seen: &HashMap<String, SeenReplica>,
    tracks: &HashMap<String, Track>,
    addresses: &BTreeMap<u64, IpAddr>,
) -> Vec<String> {
    let mut out: Vec<String> = record
        .assignments
        .iter()
        .filter(|a| a.draining_since_ms.is_none())
        .filter(|a| {
            tracks
                .get(&a.id)
                .is_some_and(|t| t.healthy_since_ms.is_some())
        })
        .filter_map(|a| {
            let s = seen.get(&a.id)?;
            if s.state != ReplicaState::Running {
                return None;
            }
            let port = s.host_port?;
            let ip = addresses.get(&a.node)?;
            Some(std::net::SocketAddr::new(*ip, port).to_string())
        })
        .collect();
    out.sort();
    out
}

/// The gateway spec of a project's gateway with `upstreams`.
pub fn project_gateway(project: &str, g: &ProjectGateway, upstreams: Vec<String>) -> GatewaySpec {
    GatewaySpec {
        name: project_gateway_name(project),
        port: g.port,
        algorithm: algorithm(g.algorithm),
        upstreams,
        allow: g.allow.iter().map(ToString::to_string).collect(),
        deny: g.deny.iter().map(ToString::to_string).collect(),
        max_conns_per_ip: g.max_conns_per_ip,
        conn_rate_per_ip: g.conn_rate_per_ip,
        probe_upstreams: false,
    }
}

/// The gateway spec of a standalone gateway (it probes its own upstreams).
pub fn standalone_gateway(g: &StandaloneGateway) -> GatewaySpec {
    GatewaySpec {
        name: g.name.clone(),
        port: g.port,
        algorithm: algorithm(g.algorithm),
        upstreams: g.upstreams.iter().map(ToString::to_string).collect(),
        allow: g.allow.iter().map(ToString::to_string).collect(),
        deny: g.deny.iter().map(ToString::to_string).collect(),
        max_conns_per_ip: g.max_conns_per_ip,
        conn_rate_per_ip: g.conn_rate_per_ip,
        probe_upstreams: true,
    }
}

/// Every node's desired replicas and gateways (generation 0; see [`Generations`]).
/// `gateways` are the project gateways and standalone gateways, each with its node.
pub fn desired_by_node(
    projects: &[ProjectDesired<'_>],
    gateways: Vec<(u64, GatewaySpec)>,
) -> BTreeMap<u64, DesiredState> {
    let mut out: BTreeMap<u64, DesiredState> = BTreeMap::new();
    for p in projects {
        for a in &p.record.assignments {
            let Some(spec) = p.specs.get(&a.revision) else {
                tracing::error!(
                    project = %p.record.name,
                    revision = a.revision,
                    "replica of a revision without a spec left out"
                );
                continue;
            };
            out.entry(a.node)
                .or_default()
                .replicas
                .push(replica_spec(&a.id, a.revision, spec));
        }
    }
    for (node, g) in gateways {
        out.entry(node).or_default().gateways.push(g);
    }
    for d in out.values_mut() {
        d.replicas.sort_by(|a, b| a.id.cmp(&b.id));
        d.gateways.sort_by(|a, b| a.name.cmp(&b.name));
    }
    out
}

/// Numbers each node's desired content: a new generation whenever it changes, never
/// smaller than the clock (so it keeps growing across master restarts).
#[derive(Debug, Default)]
pub struct Generations {
    last: BTreeMap<u64, DesiredState>,
}

impl Generations {
    /// `content` (generation ignored) stamped with node `node`'s generation: the last one
    /// when the content is unchanged, else a new one.
    pub fn stamp(&mut self, node: u64, mut content: DesiredState, now_ms: u64) -> DesiredState {
        match self.last.get(&node) {
            Some(prev)
                if prev.replicas == content.replicas && prev.gateways == content.gateways =>
            {
                content.generation = prev.generation;
            }
            prev => {
                let after = prev.map_or(0, |p| p.generation.saturating_add(1));
                content.generation = after.max(now_ms);
                self.last.insert(node, content.clone());
            }
        }
        content
    }

    /// Nodes with a desired state on record.
    pub fn nodes(&self) -> impl Iterator<Item = u64> + '_ {
        self.last.keys().copied()
    }
}
