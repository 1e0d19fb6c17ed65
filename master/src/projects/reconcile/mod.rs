//! The reconciler: every `projects.reconcileIntervalMs` it steps every project's controller
//! against what the slaves report, saves what changed, writes the timelines, and sends each
//! slave its desired state (replicas and gateways) when that changed or the slave runs an
//! older one. The pure parts are [`step`] (one project) and [`desired`] (what each node
//! runs); this module is their I/O: the store, the cluster and the clock.
//!
//! Standalone gateways (the gateways store) go to their nodes as they are configured.
//!
//! A project is stepped only once every online node running its replicas has reported on
//! its current session, so that a master restart does not take replicas it has not heard
//! about yet for missing ones.

pub mod desired;
pub mod step;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use model::Clock;
use model::project::api::{GatewayStats, ReplicaView, UpstreamStats};
use model::project::{ProjectSpec, Revision};
use protocol::workload::ObservedGateway;

use self::desired::{Generations, ProjectDesired};
use self::step::{ProjectMemory, SeenReplica, StepTiming, Track};
use super::record::ProjectRecord;
use super::schedule::{Capacity, NodeSlot, NodeState, ReplicaPhase};
use super::service::{ObservedProjects, ProjectService};
use crate::cluster::Cluster;
use crate::cluster::workloads::WorkloadNode;
use crate::config::ProjectsConfig;

/// A desired state not yet confirmed by its slave is sent again after this long.
const RESEND_MS: u64 = 3_000;

/// What the API shows of the replicas and gateways, as of the last step.
#[derive(Default)]
struct Views {
    replicas: HashMap<String, Vec<ReplicaView>>,
    upstreams: HashMap<String, Vec<String>>,
    gateways: HashMap<String, GatewayStats>,
}

/// The reconciler's view for the API ([`ObservedProjects`]).
#[derive(Default)]
pub struct ObservedViews {
    views: Mutex<Views>,
}

impl ObservedViews {
    fn lock(&self) -> MutexGuard<'_, Views> {
        self.views
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ObservedProjects for ObservedViews {
    fn replicas(&self, project: &str) -> Vec<ReplicaView> {
        self.lock()
            .replicas
            .get(project)
            .cloned()
            .unwrap_or_default()
    }

    fn upstreams(&self, project: &str) -> Vec<String> {
        self.lock()
            .upstreams
            .get(project)
            .cloned()
            .unwrap_or_default()
    }

    fn gateway_stats(&self, name: &str) -> Option<GatewayStats> {
        self.lock().gateways.get(name).cloned()
    }
}

#[derive(Default)]
struct Memory {
    /// Per project.
    projects: HashMap<String, ProjectMemory>,
    generations: Generations,
    /// Per node: the generation last sent and when.
    sent: HashMap<u64, (u64, u64)>,
}

/// The reconciler.
pub struct Reconciler {
    service: Arc<ProjectService>,
    cluster: Cluster,
    clock: Arc<dyn Clock>,
    config: ProjectsConfig,
    views: Arc<ObservedViews>,
    memory: tokio::sync::Mutex<Memory>,
}

fn node_slots(nodes: &[WorkloadNode]) -> Vec<NodeSlot> {
    nodes
        .iter()
        .map(|n| NodeSlot {
            id: n.id,
            state: if !n.online {
                NodeState::Offline {
                    since_ms: n.last_seen_ms.unwrap_or(0),
                }
            } else if n.revoked || n.observed.is_none() {
                // Revoked, or not speaking workloads (yet): nothing new goes there.
                NodeState::Unschedulable
            } else {
                NodeState::Ready
            },
            free: Capacity {
                nano_cpus: None,
                memory_bytes: n.mem_free_bytes,
                containers: None,
            },
        })
        .collect()
}

/// Every replica reported, by id, with the node that reported it.
fn seen_by_id(nodes: &[WorkloadNode]) -> HashMap<String, (u64, SeenReplica)> {
    let mut out = HashMap::new();
    for n in nodes {
        let Some(report) = &n.observed else { continue };
        for r in &report.state.replicas {
            out.insert(
                r.id.clone(),
                (
                    n.id,
                    SeenReplica {
                        container: r.container.clone(),
                        state: r.state,
                        host_port: r.host_port,
                        healthy: r.healthy,
                        exit_code: r.exit_code,
                        message: r.message.clone(),
                    },
                ),
            );
        }
    }
    out
}

fn gateway_stats(g: &ObservedGateway, reported_ms: u64) -> GatewayStats {
    GatewayStats {
        serving: g.serving,
        message: g.message.clone(),
        active_conns: g.active_conns,
        total_conns: g.total_conns,
        refused_conns: g.refused_conns,
        bytes_in: g.bytes_in,
        bytes_out: g.bytes_out,
        upstreams: g
            .upstreams
            .iter()
            .map(|u| UpstreamStats {
                addr: u.addr.clone(),
                healthy: u.healthy,
                active_conns: u.active_conns,
                total_conns: u.total_conns,
            })
            .collect(),
        reported_ms,
    }
}

fn replica_views(
    record: &ProjectRecord,
    seen: &HashMap<String, SeenReplica>,
    tracks: &HashMap<String, Track>,
) -> Vec<ReplicaView> {
    record
        .assignments
        .iter()
        .map(|a| {
            let s = seen.get(&a.id);
            let state = match step::phase(a, s) {
                ReplicaPhase::Draining => "draining",
                ReplicaPhase::Running => "running",
                ReplicaPhase::Exited => "exited",
                ReplicaPhase::Starting => "starting",
            };
            ReplicaView {
                node: a.node,
                container: s
                    .map(|s| s.container.clone())
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| a.id.clone()),
                host_port: s.and_then(|s| s.host_port),
                state: state.into(),
                healthy: tracks
                    .get(&a.id)
                    .is_some_and(|t| t.healthy_since_ms.is_some()),
                revision: a.revision,
            }
        })
        .collect()
}

fn new_replica_id(project: &str, revision: Revision) -> String {
    let suffix = plumbing::secret::random_hex(4).unwrap_or_else(|_| {
        // No randomness: the clock's nanoseconds still make a fresh id.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{nanos:08x}")
    });
    format!("{project}-{revision}-{suffix}")
}

impl Reconciler {
    /// A reconciler of `service`'s projects over `cluster`. `views` must be the
    /// [`ObservedProjects`] the service was built with.
    pub fn new(
        service: Arc<ProjectService>,
        cluster: Cluster,
        clock: Arc<dyn Clock>,
        config: ProjectsConfig,
        views: Arc<ObservedViews>,
    ) -> Self {
        Self {
            service,
            cluster,
            clock,
            config,
            views,
            memory: tokio::sync::Mutex::new(Memory::default()),
        }
    }

    /// Steps every `projects.reconcileIntervalMs` until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        let mut interval = tokio::time::interval(self.config.reconcile_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            self.tick().await;
        }
    }

    /// One reconcile step of every project, then the desired states out.
    pub async fn tick(&self) {
        let now = self.clock.now_ms();
        let nodes = self.cluster.workload_nodes();
        let slots = node_slots(&nodes);
        let seen_all = seen_by_id(&nodes);
        let addresses: BTreeMap<u64, IpAddr> = nodes
            .iter()
            .filter_map(|n| n.address.map(|a| (n.id, a)))
            .collect();
        let reported: HashMap<u64, bool> = nodes
            .iter()
            .map(|n| (n.id, !n.online || n.observed.is_some()))
            .collect();
        let timing = StepTiming {
            now_ms: now,
            grace_ms: self.config.node_grace.as_millis() as u64,
            drain_ms: self.config.drain.as_millis() as u64,
        };
        let mut memory = self.memory.lock().await;
        let mut views = Views::default();
        let mut projects: Vec<(ProjectRecord, BTreeMap<Revision, ProjectSpec>)> = Vec::new();
        let mut gateways = Vec::new();
        {
            let _one = self.service.changes().lock().await;
            let store = self.service.store();
            let records = match store.list_projects() {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!("reconcile: cannot list projects: {e}");
                    return;
                }
            };
            memory
                .projects
                .retain(|name, _| records.iter().any(|r| &r.name == name));
            for mut record in records {
                let name = record.name.clone();
                let mut specs = BTreeMap::new();
                let target = record.controller.target;
                let spec = match store.project_revision(&name, target) {
                    Ok(Some(s)) => s,
                    Ok(None) => {
                        tracing::error!(project = %name, target, "reconcile: no target spec");
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(project = %name, "reconcile: store: {e}");
                        continue;
                    }
                };
                let seen = step::seen_for(&record, &seen_all);
                let project_memory = memory.projects.entry(name.clone()).or_default();
                let ready = record
                    .assignments
                    .iter()
                    .all(|a| reported.get(&a.node).copied().unwrap_or(true));
                if ready {
                    let outcome = step::step_project(
                        &mut record,
                        &spec,
                        &slots,
                        &seen,
                        project_memory,
                        timing,
                        &mut |rev| new_replica_id(&name, rev),
                    );
                    if outcome.changed
                        && let Err(e) = store.update_project(&record, None)
                    {
                        tracing::error!(project = %name, "reconcile: cannot save: {e}");
                    }
                    for e in outcome.events {
                        self.service.events().push(&name, e);
                    }
                }
                for a in &record.assignments {
                    if specs.contains_key(&a.revision) {
                        continue;
                    }
                    if a.revision == target {
                        specs.insert(target, spec.clone());
                    } else if let Ok(Some(s)) = store.project_revision(&name, a.revision) {
                        specs.insert(a.revision, s);
                    }
                }
                let tracks = &project_memory.tracks;
                let upstreams = desired::project_upstreams(&record, &seen, tracks, &addresses);
                if let Some(g) = &spec.gateway {
                    gateways.push((
                        g.node,
                        desired::project_gateway(&name, g, upstreams.clone()),
                    ));
                }
                views
                    .replicas
                    .insert(name.clone(), replica_views(&record, &seen, tracks));
                views.upstreams.insert(name.clone(), upstreams);
                projects.push((record, specs));
            }
            match store.list_gateways() {
                Ok(list) => gateways.extend(
                    list.iter()
                        .map(|g| (g.node, desired::standalone_gateway(g))),
                ),
                Err(e) => tracing::error!("reconcile: cannot list gateways: {e}"),
            }
        }
        for n in &nodes {
            if let Some(report) = &n.observed {
                for g in &report.state.gateways {
                    views
                        .gateways
                        .insert(g.name.clone(), gateway_stats(g, report.received_ms));
                }
            }
        }
        *self.views.lock() = views;

        let inputs: Vec<ProjectDesired<'_>> = projects
            .iter()
            .map(|(record, specs)| ProjectDesired { record, specs })
            .collect();
        let mut by_node = desired::desired_by_node(&inputs, gateways);
        let Memory {
            generations, sent, ..
        } = &mut *memory;
        for n in &nodes {
            let Some(report) = &n.observed else { continue };
            if !n.online {
                continue;
            }
            let content = by_node.remove(&n.id).unwrap_or_default();
            let stamped = generations.stamp(n.id, content, now);
            if report.state.generation == stamped.generation {
                continue;
            }
            let due = match sent.get(&n.id) {
                Some(&(generation, at)) => {
                    generation != stamped.generation || now.saturating_sub(at) >= RESEND_MS
                }
                None => true,
            };
            if !due {
                continue;
            }
            let generation = stamped.generation;
            match self.cluster.send_desired(n.id, stamped) {
                Ok(()) => {
                    sent.insert(n.id, (generation, now));
                }
                Err(e) => tracing::debug!(node = n.id, "desired state not sent: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests;
