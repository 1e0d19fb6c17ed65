//! The scheduler: a pure function from a cluster snapshot (nodes, the project's replicas as
//! observed) and what is wanted (replicas per revision) to a plan (replicas to start where,
//! replicas to stop and why). No clock, store or network: `now_ms` is an argument, and every
//! tie is broken by node id and container name, so the same snapshot always gives the same
//! plan.
//!
//! Rules:
//! - A replica counts as *live* while its node is ready, unschedulable but reachable, or
//!   offline for less than the grace period. Replicas on a node offline past the grace
//!   period (or on a node no longer enrolled) are *lost*: replaced elsewhere, and not
//!   stopped (nobody can reach them). When such a node returns its replicas count again and
//!   the surplus is stopped, so the count is the desired one again.
//! - Exited replicas are stopped (their containers removed) and replaced.
//! - Replicas on an unschedulable node (revoked, draining) are replaced elsewhere first and
//!   stopped once as many healthy replicas of their revision run elsewhere as are wanted.
//! - Placement spreads a project's replicas evenly: each new replica goes to the ready node
//!   with the fewest live replicas of its revision (so a finished rollout is as even as a
//!   fresh deployment), then the fewest of the project in all, that still has room for the
//!   replica's resources; ties go to the node with more free memory, then to the lower id.
//! - Removal takes unhealthy replicas first, then from the node with the most replicas of
//!   the same revision, then of the project; ties go to the higher node id, then to the
//!   younger container.

use std::collections::BTreeMap;

use model::project::Revision;
use model::project::spec::Resources;

/// A node as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSlot {
    /// Node id.
    pub id: u64,
    /// Whether it takes new replicas.
    pub state: NodeState,
    /// What is still free on it for new replicas.
    pub free: Capacity,
}

/// Whether a node takes new replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Online and schedulable.
    Ready,
    /// Online but taking no new replicas (revoked, draining): its replicas move elsewhere.
    Unschedulable,
    /// Offline since this time (master clock, Unix ms).
    Offline {
        /// When its heartbeat expired.
        since_ms: u64,
    },
}

/// Free capacity on a node. `None` means unknown: it does not limit placement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capacity {
    /// Free CPU, billionths of a CPU.
    pub nano_cpus: Option<u64>,
    /// Free memory, bytes.
    pub memory_bytes: Option<u64>,
    /// Most further containers this node accepts.
    pub containers: Option<u32>,
}

impl Capacity {
    fn fits(&self, request: &Resources) -> bool {
        let ok = |free: Option<u64>, want: Option<u64>| match (free, want) {
            (Some(free), Some(want)) => free >= want,
            _ => true,
        };
        ok(self.nano_cpus, request.nano_cpus)
            && ok(self.memory_bytes, request.memory_bytes)
            && self.containers.is_none_or(|c| c > 0)
    }

    fn take(&mut self, request: &Resources) {
        let sub = |free: &mut Option<u64>, want: Option<u64>| {
            if let (Some(f), Some(w)) = (free.as_mut(), want) {
                *f = f.saturating_sub(w);
            }
        };
        sub(&mut self.nano_cpus, request.nano_cpus);
        sub(&mut self.memory_bytes, request.memory_bytes);
        if let Some(c) = self.containers.as_mut() {
            *c = c.saturating_sub(1);
        }
    }
}

/// Where a replica is in its life, as its slave reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaPhase {
    /// Created or started, not yet running long enough to be probed.
    Starting,
    /// Running.
    Running,
    /// Taken out of its gateway, about to be stopped: no longer counted.
    Draining,
    /// Its process ended.
    Exited,
}

/// One of the project's replicas as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSlot {
    /// Container id (unique per node).
    pub container: String,
    /// The node running it.
    pub node: u64,
    /// The revision it runs.
    pub revision: Revision,
    /// Its phase.
    pub phase: ReplicaPhase,
    /// Whether its health check passes.
    pub healthy: bool,
    /// When it was started (master clock, Unix ms).
    pub started_ms: u64,
    /// Since when it has been healthy without a break, if it is.
    pub healthy_since_ms: Option<u64>,
}

/// Replicas wanted of one revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Want {
    /// The revision.
    pub revision: Revision,
    /// How many replicas of it.
    pub count: u32,
}

/// Everything the scheduler reads.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    /// Every enrolled node.
    pub nodes: &'a [NodeSlot],
    /// The project's replicas as observed (every revision).
    pub replicas: &'a [ReplicaSlot],
    /// Resources one replica reserves.
    pub request: Resources,
    /// How long a node may be offline before its replicas are replaced, ms.
    pub grace_ms: u64,
    /// Now, master clock, Unix ms.
    pub now_ms: u64,
}

/// A replica to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// Where.
    pub node: u64,
    /// Which revision.
    pub revision: Revision,
}

/// Why a replica is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// More replicas of its revision run than wanted (scale down, a node came back, a
    /// rollout step).
    Surplus,
    /// Its revision is no longer wanted at all.
    NotWanted,
    /// Its process ended; it is replaced.
    Exited,
    /// Its node takes no replicas any more; it has been replaced elsewhere.
    NodeUnschedulable,
}

/// A replica to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// Its container.
    pub container: String,
    /// Its node.
    pub node: u64,
    /// Its revision.
    pub revision: Revision,
    /// Why.
    pub reason: StopReason,
}

/// What the reconciler should do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Replicas to start, in order.
    pub start: Vec<Start>,
    /// Replicas to stop (drained from the gateway first).
    pub stop: Vec<Stop>,
    /// Replicas wanted that fit on no node, per revision.
    pub unplaced: Vec<Want>,
    /// Replicas counted as lost (node offline past the grace period or gone).
    pub lost: Vec<String>,
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.start.is_empty() && self.stop.is_empty()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Standing {
    Live,
    /// Live but on an unschedulable node: counted until replaced.
    Moving,
    Lost,
    Exited,
    Draining,
}

/// Whether replicas on `node` are lost: the node is no longer enrolled, or offline past
/// the grace period.
pub(super) fn node_lost(snapshot: &Snapshot<'_>, node: u64) -> bool {
    match snapshot
        .nodes
        .iter()
        .find(|n| n.id == node)
        .map(|n| n.state)
    {
        None => true,
        Some(NodeState::Offline { since_ms }) => {
            snapshot.now_ms.saturating_sub(since_ms) >= snapshot.grace_ms
        }
        Some(NodeState::Ready | NodeState::Unschedulable) => false,
    }
}

fn standing(snapshot: &Snapshot<'_>, r: &ReplicaSlot) -> Standing {
    match r.phase {
        ReplicaPhase::Exited => return Standing::Exited,
        ReplicaPhase::Draining => return Standing::Draining,
        ReplicaPhase::Starting | ReplicaPhase::Running => {}
    }
    if node_lost(snapshot, r.node) {
        return Standing::Lost;
    }
    let unschedulable = snapshot
        .nodes
        .iter()
        .any(|n| n.id == r.node && n.state == NodeState::Unschedulable);
    if unschedulable {
        Standing::Moving
    } else {
        Standing::Live
    }
}

/// Replicas per node: of each revision, and in all.
#[derive(Default)]
struct Load {
    by_revision: BTreeMap<(Revision, u64), u32>,
    total: BTreeMap<u64, u32>,
}

impl Load {
    fn of(&self, revision: Revision, node: u64) -> (u32, u32) {
        (
            self.by_revision
                .get(&(revision, node))
                .copied()
                .unwrap_or(0),
            self.total.get(&node).copied().unwrap_or(0),
        )
    }

    fn add(&mut self, revision: Revision, node: u64) {
        *self.by_revision.entry((revision, node)).or_default() += 1;
        *self.total.entry(node).or_default() += 1;
    }

    fn remove(&mut self, revision: Revision, node: u64) {
        if let Some(l) = self.by_revision.get_mut(&(revision, node)) {
            *l = l.saturating_sub(1);
        }
        if let Some(l) = self.total.get_mut(&node) {
            *l = l.saturating_sub(1);
        }
    }
}

/// Removal order: unhealthy first, then from the node with the most replicas of the same
/// revision, then the most in all, then the higher id, then the younger.
fn removal_key(r: &ReplicaSlot, load: &Load) -> impl Ord + use<> {
    let (same, total) = load.of(r.revision, r.node);
    (
        r.healthy,
        std::cmp::Reverse(same),
        std::cmp::Reverse(total),
        std::cmp::Reverse(r.node),
        std::cmp::Reverse(r.started_ms),
        std::cmp::Reverse(r.container.clone()),
    )
}

/// The plan that brings the observed replicas to `wants`. Revisions absent from `wants`
/// are wanted zero times.
pub fn plan(snapshot: &Snapshot<'_>, wants: &[Want]) -> Plan {
    let mut out = Plan::default();
    let want_of = |rev: Revision| {
        wants
            .iter()
            .filter(|w| w.revision == rev)
            .map(|w| w.count)
            .sum::<u32>()
    };

    // Classify; `load` counts the project's counted replicas per node.
    let mut counted: BTreeMap<Revision, Vec<&ReplicaSlot>> = BTreeMap::new();
    let mut moving: Vec<&ReplicaSlot> = Vec::new();
    let mut load = Load::default();
    for r in snapshot.replicas {
        match standing(snapshot, r) {
            Standing::Live => {
                counted.entry(r.revision).or_default().push(r);
                load.add(r.revision, r.node);
            }
            Standing::Moving => moving.push(r),
            Standing::Lost => out.lost.push(r.container.clone()),
            Standing::Exited => out.stop.push(Stop {
                container: r.container.clone(),
                node: r.node,
                revision: r.revision,
                reason: StopReason::Exited,
            }),
            Standing::Draining => {}
        }
    }

    // Removals first, so placement sees the load that remains.
    for (rev, live) in counted.iter_mut() {
        let want = want_of(*rev) as usize;
        let reason = if want == 0 {
            StopReason::NotWanted
        } else {
            StopReason::Surplus
        };
        while live.len() > want {
            let Some((i, _)) = live
                .iter()
                .enumerate()
                .min_by_key(|(_, r)| removal_key(r, &load))
            else {
                break;
            };
            let r = live.swap_remove(i);
            load.remove(r.revision, r.node);
            out.stop.push(Stop {
                container: r.container.clone(),
                node: r.node,
                revision: r.revision,
                reason,
            });
        }
    }

    // Placement.
    let mut free: BTreeMap<u64, Capacity> = snapshot
        .nodes
        .iter()
        .filter(|n| n.state == NodeState::Ready)
        .map(|n| (n.id, n.free))
        .collect();
    let mut wants_sorted: Vec<Want> = wants.to_vec();
    wants_sorted.sort_by_key(|w| std::cmp::Reverse(w.revision));
    for want in &wants_sorted {
        let have = counted.get(&want.revision).map_or(0, Vec::len) as u32;
        let mut missing = want.count.saturating_sub(have);
        while missing > 0 {
            let best = free
                .iter()
                .filter(|(_, cap)| cap.fits(&snapshot.request))
                .min_by_key(|(id, cap)| {
                    let (same, total) = load.of(want.revision, **id);
                    (
                        same,
                        total,
                        std::cmp::Reverse(cap.memory_bytes.unwrap_or(0)),
                        **id,
                    )
                })
                .map(|(id, _)| *id);
            let Some(node) = best else {
                out.unplaced.push(Want {
                    revision: want.revision,
                    count: missing,
                });
                break;
            };
            if let Some(cap) = free.get_mut(&node) {
                cap.take(&snapshot.request);
            }
            load.add(want.revision, node);
            out.start.push(Start {
                node,
                revision: want.revision,
            });
            missing -= 1;
        }
    }

    // Replicas on an unschedulable node stop once enough healthy replicas of their
    // revision run elsewhere (not merely planned: no gap in service while they move).
    moving.sort_by_key(|r| removal_key(r, &load));
    let healthy_elsewhere: BTreeMap<Revision, u32> = counted
        .iter()
        .map(|(rev, live)| (*rev, live.iter().filter(|r| r.healthy).count() as u32))
        .collect();
    for r in moving {
        let healthy = healthy_elsewhere.get(&r.revision).copied().unwrap_or(0);
        if healthy >= want_of(r.revision) {
            out.stop.push(Stop {
                container: r.container.clone(),
                node: r.node,
                revision: r.revision,
                reason: StopReason::NodeUnschedulable,
            });
        }
    }
    out
}
