//! The reconciler's pure parts driven against a simulated fleet: fake slaves run exactly
//! the replicas their desired state names (new ones report `Starting` for one step, then
//! `Running` with a host port, healthy unless their revision is broken), and invariants are
//! checked after every step: the gateway's upstreams are healthy, undrained replicas only,
//! and a replica leaves its node's desired state only after it was out of the gateway for
//! the drain period.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use model::project::api::ProjectEventKind as K;
use model::project::{ProjectInput, ProjectSpec, Revision};
use protocol::workload::{DesiredState, ReplicaState};

use super::desired::{self, Generations, ProjectDesired};
use super::step::{
    ProjectMemory, SeenReplica, StepTiming, restart_backoff_ms, seen_for, step_project,
};
use crate::projects::controller::Controller;
use crate::projects::record::ProjectRecord;
use crate::projects::schedule::{Capacity, NodeSlot, NodeState};

const DRAIN_MS: u64 = 3_000;
const TICK_MS: u64 = 1_000;

fn spec(json: &str) -> ProjectSpec {
    serde_json::from_str::<ProjectInput>(json)
        .expect("input")
        .validate()
        .expect("valid")
}

const WEB: &str = r#"{"name":"web","image":"app:v1","replicas":4,"container_port":80,
    "health":{"type":"http","path":"/"},"gateway":{"node":1,"port":12225},
    "update":{"strategy":"rolling","max_surge":1,"max_unavailable":0,"deadline_s":10}}"#;

struct Fleet {
    nodes: Vec<NodeSlot>,
    addresses: BTreeMap<u64, IpAddr>,
    /// Per replica id: state and host port, as the fake slaves run them.
    running: HashMap<String, (u64, SeenReplica)>,
    broken: HashSet<Revision>,
    /// New replicas exit instead of running.
    crashing: bool,
    next_port: u16,
    now_ms: u64,
    record: ProjectRecord,
    specs: BTreeMap<Revision, ProjectSpec>,
    memory: ProjectMemory,
    next_id: u32,
    events: Vec<K>,
    /// Per replica id: when it was last seen drained in an upstream-free state.
    drained_at: HashMap<String, u64>,
}

impl Fleet {
    fn new(nodes: u64, spec: ProjectSpec) -> Self {
        let replicas = spec.replicas;
        Self {
            nodes: (1..=nodes)
                .map(|id| NodeSlot {
                    id,
                    state: NodeState::Ready,
                    free: Capacity::default(),
                })
                .collect(),
            addresses: (1..=nodes)
                .map(|id| (id, format!("10.0.0.{id}").parse().expect("ip")))
                .collect(),
            running: HashMap::new(),
            broken: HashSet::new(),
            crashing: false,
            next_port: 32_768,
            now_ms: 1_000_000,
            record: ProjectRecord {
                name: spec.name.clone(),
                latest_revision: 1,
                controller: Controller::new(replicas).state,
                webhook_secret: None,
                seen_signatures: Vec::new(),
                assignments: Vec::new(),
                created_ms: 1_000_000,
                updated_ms: 1_000_000,
            },
            specs: BTreeMap::from([(1, spec)]),
            memory: ProjectMemory::default(),
            next_id: 0,
            events: Vec::new(),
            drained_at: HashMap::new(),
        }
    }

    fn target_spec(&self) -> &ProjectSpec {
        &self.specs[&self.record.controller.target]
    }

    fn seen(&self) -> HashMap<String, SeenReplica> {
        seen_for(&self.record, &self.running)
    }

    fn desired(&self) -> BTreeMap<u64, DesiredState> {
        let seen = self.seen();
        let upstreams =
            desired::project_upstreams(&self.record, &seen, &self.memory.tracks, &self.addresses);
        let gateway = self.target_spec().gateway.as_ref().map(|g| {
            (
                g.node,
                desired::project_gateway(&self.record.name, g, upstreams),
            )
        });
        desired::desired_by_node(
            &[ProjectDesired {
                record: &self.record,
                specs: &self.specs,
            }],
            gateway.into_iter().collect(),
        )
    }

    fn upstreams(&self) -> Vec<String> {
        desired::project_upstreams(
            &self.record,
            &self.seen(),
            &self.memory.tracks,
            &self.addresses,
        )
    }

    /// The fake slaves apply the desired states: unknown replicas start, missing ones go.
    fn slaves_apply(&mut self) {
        let desired = self.desired();
        let wanted: HashSet<(u64, String)> = desired
            .iter()
            .flat_map(|(node, d)| d.replicas.iter().map(|r| (*node, r.id.clone())))
            .collect();
        self.running
            .retain(|id, (node, _)| wanted.contains(&(*node, id.clone())));
        for (node, d) in &desired {
            for r in &d.replicas {
                match self.running.get_mut(&r.id) {
                    None => {
                        self.running.insert(
                            r.id.clone(),
                            (
                                *node,
                                SeenReplica {
                                    container: format!("ctr-{}", r.id),
                                    state: ReplicaState::Starting,
                                    host_port: None,
                                    healthy: false,
                                    exit_code: None,
                                    message: String::new(),
                                },
                            ),
                        );
                    }
                    Some((_, s)) if s.state == ReplicaState::Starting && self.crashing => {
                        s.state = ReplicaState::Exited;
                        s.exit_code = Some(1);
                    }
                    Some((_, s)) if s.state == ReplicaState::Starting => {
                        s.state = ReplicaState::Running;
                        s.host_port = Some(self.next_port);
                        self.next_port += 1;
                        s.healthy = !self.broken.contains(&r.revision);
                    }
                    Some(_) => {}
                }
            }
        }
    }

    /// One reconcile step, the fake slaves' reaction, and the invariants.
    fn tick(&mut self) {
        self.now_ms += TICK_MS;
        let before: HashSet<String> = self
            .record
            .assignments
            .iter()
            .map(|a| a.id.clone())
            .collect();
        let seen = self.seen();
        let spec = self.target_spec().clone();
        let mut next_id = self.next_id;
        let name = self.record.name.clone();
        let outcome = step_project(
            &mut self.record,
            &spec,
            &self.nodes,
            &seen,
            &mut self.memory,
            StepTiming {
                now_ms: self.now_ms,
                grace_ms: 60_000,
                drain_ms: DRAIN_MS,
            },
            &mut |rev| {
                next_id += 1;
                format!("{name}-{rev}-{next_id:04}")
            },
        );
        self.next_id = next_id;
        self.events.extend(outcome.events.iter().map(|e| e.kind));
        // A replica that left the assignments was drained for the drain period first (or
        // had exited, or never ran).
        for gone in before
            .iter()
            .filter(|id| !self.record.assignments.iter().any(|a| &a.id == *id))
        {
            let state = self.running.get(gone).map(|(_, s)| s.state);
            if state == Some(ReplicaState::Running) {
                let since = self.drained_at.get(gone).copied();
                assert!(
                    since.is_some_and(|s| self.now_ms - s >= DRAIN_MS),
                    "{gone} stopped without its drain period (drained at {since:?}, now {})",
                    self.now_ms
                );
            }
        }
        for a in &self.record.assignments {
            if let Some(s) = a.draining_since_ms {
                self.drained_at.entry(a.id.clone()).or_insert(s);
            }
        }
        // Upstreams: healthy, undrained, running replicas only.
        let ups = self.upstreams();
        for a in &self.record.assignments {
            let Some((_, s)) = self.running.get(&a.id) else {
                continue;
            };
            let Some(port) = s.host_port else { continue };
            let addr = format!("{}:{port}", self.addresses[&a.node]);
            if a.draining_since_ms.is_some() || !s.healthy {
                assert!(!ups.contains(&addr), "{addr} in the gateway: {a:?} {s:?}");
            }
        }
        self.slaves_apply();
    }

    fn ticks(&mut self, n: usize) {
        for _ in 0..n {
            self.tick();
        }
    }

    fn per_node(&self, revision: Revision) -> BTreeMap<u64, usize> {
        let mut out = BTreeMap::new();
        for a in self
            .record
            .assignments
            .iter()
            .filter(|a| a.revision == revision && a.draining_since_ms.is_none())
        {
            *out.entry(a.node).or_default() += 1;
        }
        out
    }

    fn update_image(&mut self, image: &str) {
        let mut next = self.target_spec().clone();
        next.image = image.into();
        let rev = self.record.start_revision();
        self.specs.insert(rev, next);
    }
}

#[test]
fn a_project_converges_spread_with_a_gateway_of_its_healthy_replicas() {
    let mut fleet = Fleet::new(3, spec(WEB));
    fleet.tick();
    assert_eq!(fleet.record.assignments.len(), 4);
    let spread: Vec<usize> = fleet.per_node(1).values().copied().collect();
    assert_eq!(spread.iter().sum::<usize>(), 4);
    assert!(
        spread.len() == 3 && spread.iter().max() == Some(&2),
        "{spread:?}"
    );
    assert!(fleet.upstreams().is_empty(), "nothing healthy yet");
    fleet.ticks(4);
    assert!(fleet.events.contains(&K::Ready), "{:?}", fleet.events);
    let ups = fleet.upstreams();
    assert_eq!(ups.len(), 4, "{ups:?}");
    assert!(ups.iter().all(|u| u.starts_with("10.0.0.")), "{ups:?}");
    let desired = fleet.desired();
    let gw = &desired[&1].gateways;
    assert_eq!(gw.len(), 1);
    assert_eq!(gw[0].name, "project/web");
    assert_eq!(gw[0].port, 12225);
    assert_eq!(gw[0].upstreams, ups);
    assert!(desired.values().all(|d| {
        d.replicas
            .iter()
            .all(|r| r.image == "app:v1" && r.container_port == 80 && r.project == "web")
    }));
    // Converged: more steps change nothing.
    let before = fleet.record.clone();
    fleet.ticks(3);
    assert_eq!(fleet.record.assignments, before.assignments);
}

#[test]
fn an_update_keeps_capacity_and_drains_old_replicas_before_they_stop() {
    let mut fleet = Fleet::new(3, spec(WEB));
    fleet.ticks(5);
    fleet.update_image("app:v2");
    for _ in 0..40 {
        fleet.tick();
        // max_unavailable 0: never fewer healthy upstreams than replicas once converged.
        assert!(fleet.upstreams().len() >= 4, "{:?}", fleet.upstreams());
    }
    assert_eq!(fleet.record.controller.target, 2);
    assert!(
        fleet.record.assignments.iter().all(|a| a.revision == 2),
        "{:?}",
        fleet.record.assignments
    );
    assert_eq!(fleet.record.assignments.len(), 4);
    assert!(fleet.events.contains(&K::Drained));
    assert!(fleet.events.contains(&K::Removed));
    assert_eq!(fleet.events.iter().filter(|k| **k == K::Ready).count(), 2);
    let spread: Vec<usize> = fleet.per_node(2).values().copied().collect();
    assert!(spread.iter().max().copied().unwrap_or(0) <= 2, "{spread:?}");
}

#[test]
fn a_broken_update_rolls_back_by_itself_without_losing_capacity() {
    let mut fleet = Fleet::new(3, spec(WEB));
    fleet.ticks(5);
    fleet.broken.insert(2);
    fleet.update_image("app:broken");
    for _ in 0..60 {
        fleet.tick();
        assert!(fleet.upstreams().len() >= 4, "{:?}", fleet.upstreams());
    }
    assert!(
        fleet.events.contains(&K::RolloutFailed),
        "{:?}",
        fleet.events
    );
    assert!(fleet.events.contains(&K::RollingBack), "{:?}", fleet.events);
    assert_eq!(fleet.record.controller.target, 1);
    assert!(
        fleet.record.assignments.iter().all(|a| a.revision == 1),
        "{:?}",
        fleet.record.assignments
    );
    // The rollback completed: the project is steady on revision 1 again.
    let back = fleet.events.iter().position(|k| *k == K::RollingBack);
    let ready = fleet.events.iter().rposition(|k| *k == K::Ready);
    assert!(back < ready, "{:?}", fleet.events);
}

#[test]
fn an_exited_replica_is_replaced_and_a_lost_node_rescheduled() {
    let mut fleet = Fleet::new(3, spec(WEB));
    fleet.ticks(5);
    let victim = fleet.record.assignments[0].id.clone();
    if let Some((_, s)) = fleet.running.get_mut(&victim) {
        s.state = ReplicaState::Exited;
        s.healthy = false;
        s.exit_code = Some(137);
    }
    fleet.ticks(4);
    assert!(fleet.events.contains(&K::Exited));
    assert!(!fleet.record.assignments.iter().any(|a| a.id == victim));
    assert_eq!(fleet.record.assignments.len(), 4);
    assert_eq!(fleet.upstreams().len(), 4);

    // Node 3 goes offline past the grace period: its replicas are replaced on 1 and 2.
    let on3 = fleet.per_node(1).get(&3).copied().unwrap_or(0);
    assert!(on3 > 0);
    let lost_at = fleet.now_ms;
    fleet.nodes[2].state = NodeState::Offline { since_ms: lost_at };
    fleet.running.retain(|_, (node, _)| *node != 3);
    fleet.ticks(3);
    assert!(
        !fleet.events.contains(&K::Rescheduled),
        "replaced before the grace period"
    );
    fleet.now_ms += 60_000;
    fleet.ticks(4);
    assert!(fleet.events.contains(&K::Rescheduled));
    let live: usize = fleet
        .per_node(1)
        .iter()
        .filter(|(n, _)| **n != 3)
        .map(|(_, c)| *c)
        .sum();
    assert_eq!(live, 4);
    // It comes back: the surplus is drained and removed, the count is 4 again.
    fleet.nodes[2].state = NodeState::Ready;
    fleet.ticks(12);
    let total: usize = fleet.per_node(1).values().sum();
    assert_eq!(total, 4, "{:?}", fleet.record.assignments);
}

#[test]
fn generations_change_only_with_the_content_and_never_go_back() {
    let mut g = Generations::default();
    let d = DesiredState::default();
    let first = g.stamp(7, d.clone(), 5_000);
    assert_eq!(first.generation, 5_000);
    assert_eq!(
        g.stamp(7, d.clone(), 9_000).generation,
        5_000,
        "same content"
    );
    let mut other = d.clone();
    other.gateways.push(desired::project_gateway(
        "web",
        spec(WEB).gateway.as_ref().expect("gateway"),
        vec![],
    ));
    assert_eq!(g.stamp(7, other.clone(), 9_000).generation, 9_000);
    // A clock that went back still gives a larger generation.
    assert_eq!(g.stamp(7, d, 10).generation, 9_001);
    assert_eq!(g.nodes().collect::<Vec<_>>(), [7]);
}

#[test]
fn a_crash_loop_backs_off_and_unplaced_replicas_are_announced_once() {
    assert_eq!(
        (1..=9).map(restart_backoff_ms).collect::<Vec<_>>(),
        [
            0, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000
        ]
    );
    let mut fleet = Fleet::new(3, spec(WEB));
    fleet.crashing = true;
    fleet.ticks(30);
    let scheduled = fleet.events.iter().filter(|k| **k == K::Scheduled).count();
    // Without a back-off: 4 new replicas every two steps, 60 in 30 steps.
    assert!(
        scheduled <= 12,
        "{scheduled} replicas started in 30 s of a crash loop"
    );
    assert!(fleet.memory.exits_in_a_row >= 4);
    // The program is fixed: once replicas run healthy the count resets.
    fleet.crashing = false;
    fleet.now_ms += 120_000;
    fleet.ticks(6);
    assert_eq!(fleet.upstreams().len(), 4, "{:?}", fleet.record.assignments);
    assert_eq!(fleet.memory.exits_in_a_row, 0);

    // Nowhere to place: one event, not one per step.
    let mut fleet = Fleet::new(1, spec(WEB));
    fleet.nodes[0].state = NodeState::Unschedulable;
    fleet.ticks(10);
    let unplaced = fleet.events.iter().filter(|k| **k == K::Unplaced).count();
    assert_eq!(unplaced, 1, "{:?}", fleet.events);
}
