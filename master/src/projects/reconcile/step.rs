//! One reconcile step of one project, sans-io: the project's assignments joined with what
//! the slaves report become the scheduler's replicas; the controller decides; the plan
//! becomes new assignments (starts) and drains (stops); drained replicas past the drain
//! period are dropped (their slave then stops them); what changed becomes timeline events.
//! Time, node states and replica ids come in as arguments.

use std::collections::HashMap;

use model::project::ProjectSpec;
use model::project::api::{ProjectEvent, ProjectEventKind};
use protocol::workload::ReplicaState;

use super::super::controller::{Controller, Event};
use super::super::record::{Assignment, ProjectRecord};
use super::super::schedule::{NodeSlot, ReplicaPhase, ReplicaSlot, Snapshot, StopReason};

/// One replica as its slave last reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenReplica {
    /// The engine's container id ("" before it is created).
    pub container: String,
    /// Its state.
    pub state: ReplicaState,
    /// Its published host port, once known.
    pub host_port: Option<u16>,
    /// Whether its health check passes.
    pub healthy: bool,
    /// Exit code, once it exited.
    pub exit_code: Option<i64>,
    /// What went wrong, if anything.
    pub message: String,
}

/// What the master remembers of a replica between steps (not persisted: after a master
/// restart health periods start again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Track {
    /// Last state seen.
    pub state: Option<ReplicaState>,
    /// Healthy since (master clock), while it is.
    pub healthy_since_ms: Option<u64>,
}

/// What the master remembers of a project between steps (not persisted).
#[derive(Debug, Clone, Default)]
pub struct ProjectMemory {
    /// Per replica id.
    pub tracks: HashMap<String, Track>,
    /// Replicas that fit nowhere at the last step (announced once per change).
    pub unplaced: u32,
    /// Replicas that exited since the project was last fully healthy.
    pub exits_in_a_row: u32,
    /// No replica is started before this (master clock): a crash loop backs off.
    pub starts_held_until_ms: u64,
}

/// Longest wait before replacing replicas that keep exiting.
pub const MAX_RESTART_BACKOFF_MS: u64 = 60_000;

/// The wait before replacing after the `n`-th exit in a row: none for the first, then
/// 1 s, 2 s, 4 s ... up to [`MAX_RESTART_BACKOFF_MS`].
pub fn restart_backoff_ms(n: u32) -> u64 {
    match n {
        0 | 1 => 0,
        n => 1_000u64
            .saturating_mul(1u64 << (n - 2).min(16))
            .min(MAX_RESTART_BACKOFF_MS),
    }
}

/// Timing of a step.
#[derive(Debug, Clone, Copy)]
pub struct StepTiming {
    /// Now, Unix ms (master clock).
    pub now_ms: u64,
    /// How long a node may be offline before its replicas are replaced.
    pub grace_ms: u64,
    /// How long a replica stays out of the gateway before it is stopped.
    pub drain_ms: u64,
}

/// What one step did.
#[derive(Debug, Default)]
pub struct StepOutcome {
    /// Timeline events, in order.
    pub events: Vec<ProjectEvent>,
    /// Whether the record changed (save it).
    pub changed: bool,
}

fn event(
    now_ms: u64,
    kind: ProjectEventKind,
    revision: Option<u64>,
    node: Option<u64>,
    replica: Option<&str>,
    message: String,
) -> ProjectEvent {
    ProjectEvent {
        at_ms: now_ms,
        kind,
        revision,
        node,
        replica: replica.map(str::to_owned),
        message,
    }
}

/// Notes health and state changes of the project's replicas in `tracks` and the timeline.
fn observe(
    record: &ProjectRecord,
    seen: &HashMap<String, SeenReplica>,
    tracks: &mut HashMap<String, Track>,
    now_ms: u64,
    events: &mut Vec<ProjectEvent>,
) {
    tracks.retain(|id, _| record.assignments.iter().any(|a| &a.id == id));
    for a in &record.assignments {
        let Some(s) = seen.get(&a.id) else { continue };
        let track = tracks.entry(a.id.clone()).or_default();
        let mk = |kind, message| {
            event(
                now_ms,
                kind,
                Some(a.revision),
                Some(a.node),
                Some(&a.id),
                message,
            )
        };
        if track.state != Some(s.state) {
            match s.state {
                ReplicaState::Running => events.push(mk(
                    ProjectEventKind::Started,
                    s.host_port
                        .map(|p| format!("host port {p}"))
                        .unwrap_or_default(),
                )),
                ReplicaState::Exited => {
                    let code = s
                        .exit_code
                        .map(|c| format!("exit code {c}"))
                        .unwrap_or_default();
                    let message = [code, s.message.clone()]
                        .into_iter()
                        .filter(|m| !m.is_empty())
                        .collect::<Vec<_>>()
                        .join(": ");
                    events.push(mk(ProjectEventKind::Exited, message));
                }
                ReplicaState::Starting => {}
            }
            track.state = Some(s.state);
        }
        let healthy = s.healthy && s.state == ReplicaState::Running;
        match (healthy, track.healthy_since_ms) {
            (true, None) => {
                track.healthy_since_ms = Some(now_ms);
                events.push(mk(ProjectEventKind::Healthy, String::new()));
            }
            (false, Some(_)) => {
                track.healthy_since_ms = None;
                if s.state == ReplicaState::Running {
                    events.push(mk(ProjectEventKind::Unhealthy, String::new()));
                }
            }
            _ => {}
        }
    }
}

/// The scheduler's view of an assignment.
/// The replicas of `record` among every replica reported (by id, with the reporting
/// node): only a report from the node the replica is assigned to counts.
pub fn seen_for(
    record: &ProjectRecord,
    reported: &HashMap<String, (u64, SeenReplica)>,
) -> HashMap<String, SeenReplica> {
    record
        .assignments
        .iter()
        .filter_map(|a| match reported.get(&a.id) {
            Some((node, s)) if *node == a.node => Some((a.id.clone(), s.clone())),
            _ => None,
        })
        .collect()
}

/// Where an assignment is in its life: draining once the master took it out of its
/// gateway, else as its slave reports it (`Starting` until the first report).
pub fn phase(a: &Assignment, seen: Option<&SeenReplica>) -> ReplicaPhase {
    if a.draining_since_ms.is_some() {
        return ReplicaPhase::Draining;
    }
    match seen.map(|s| s.state) {
        Some(ReplicaState::Running) => ReplicaPhase::Running,
        Some(ReplicaState::Exited) => ReplicaPhase::Exited,
        Some(ReplicaState::Starting) | None => ReplicaPhase::Starting,
    }
}

fn slot(a: &Assignment, seen: Option<&SeenReplica>, track: Option<&Track>) -> ReplicaSlot {
    let phase = phase(a, seen);
    let healthy_since_ms = track.and_then(|t| t.healthy_since_ms);
    ReplicaSlot {
        container: a.id.clone(),
        node: a.node,
        revision: a.revision,
        phase,
        healthy: phase == ReplicaPhase::Running && healthy_since_ms.is_some(),
        started_ms: a.created_ms,
        healthy_since_ms,
    }
}

fn controller_event(now_ms: u64, e: &Event) -> Option<ProjectEvent> {
    use ProjectEventKind as K;
    let (kind, revision, node, replica, message) = match e {
        // Scheduling events are written where the assignment is made (with its id).
        Event::Scheduled { .. } | Event::Removing { .. } => return None,
        Event::Rescheduled { lost } => (
            K::Rescheduled,
            None,
            None,
            None,
            format!("{lost} replica(s) on a node offline past the grace period"),
        ),
        Event::Unplaced { count } => (
            K::Unplaced,
            None,
            None,
            None,
            format!("{count} replica(s) fit on no online node"),
        ),
        Event::Promoted => (K::Promoted, None, None, None, String::new()),
        Event::AwaitingPromotion => (K::AwaitingPromotion, None, None, None, String::new()),
        Event::Ready { revision } => (K::Ready, Some(*revision), None, None, String::new()),
        Event::RolloutFailed {
            revision,
            container,
            node,
            reason,
        } => (
            K::RolloutFailed,
            Some(*revision),
            Some(*node),
            Some(container.as_str()),
            reason.to_string(),
        ),
        Event::RollingBack { to } => (
            K::RollingBack,
            Some(*to),
            None,
            None,
            format!("automatic rollback to revision {to}"),
        ),
    };
    Some(event(now_ms, kind, revision, node, replica, message))
}

fn stop_text(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Surplus => "surplus",
        StopReason::NotWanted => "revision no longer wanted",
        StopReason::Exited => "exited",
        StopReason::NodeUnschedulable => "node takes no replicas",
    }
}

/// One step of the project in `record` (whose target revision's spec is `spec`): updates
/// the record's controller state and assignments. `new_id` names a new replica of a
/// revision.
pub fn step_project(
    record: &mut ProjectRecord,
    spec: &ProjectSpec,
    nodes: &[NodeSlot],
    seen: &HashMap<String, SeenReplica>,
    memory: &mut ProjectMemory,
    timing: StepTiming,
    new_id: &mut dyn FnMut(u64) -> String,
) -> StepOutcome {
    let now_ms = timing.now_ms;
    let mut events = Vec::new();
    let mut changed = false;
    let tracks = &mut memory.tracks;
    observe(record, seen, tracks, now_ms, &mut events);

    // Drained long enough: dropped (the slave stops and removes it).
    let before = record.assignments.len();
    record.assignments.retain(|a| {
        let done = a
            .draining_since_ms
            .is_some_and(|since| now_ms.saturating_sub(since) >= timing.drain_ms);
        if done {
            events.push(event(
                now_ms,
                ProjectEventKind::Removed,
                Some(a.revision),
                Some(a.node),
                Some(&a.id),
                String::new(),
            ));
        }
        !done
    });
    changed |= record.assignments.len() != before;

    let slots: Vec<ReplicaSlot> = record
        .assignments
        .iter()
        .map(|a| slot(a, seen.get(&a.id), tracks.get(&a.id)))
        .collect();
    let snapshot = Snapshot {
        nodes,
        replicas: &slots,
        request: spec.resources,
        grace_ms: timing.grace_ms,
        now_ms,
    };
    let mut controller = Controller {
        state: record.controller.clone(),
    };
    let mut decision = controller.step(&spec.update, &snapshot);
    if decision.changed {
        record.controller = controller.state;
        changed = true;
    }
    let unplaced: u32 = decision.plan.unplaced.iter().map(|u| u.count).sum();
    let announce_unplaced = unplaced != memory.unplaced;
    memory.unplaced = unplaced;
    events.extend(
        decision
            .events
            .iter()
            .filter(|e| announce_unplaced || !matches!(e, Event::Unplaced { .. }))
            .filter_map(|e| controller_event(now_ms, e)),
    );

    // Crash loops back off: replicas that keep exiting are replaced ever more slowly.
    let exits = decision
        .plan
        .stop
        .iter()
        .filter(|s| s.reason == StopReason::Exited)
        .count() as u32;
    let all_healthy = slots.len() as u32 >= record.controller.replicas
        && slots
            .iter()
            .all(|s| s.healthy || s.phase == ReplicaPhase::Draining);
    if all_healthy {
        memory.exits_in_a_row = 0;
    }
    if now_ms < memory.starts_held_until_ms && !decision.plan.start.is_empty() {
        decision.plan.start.clear();
    }
    if exits > 0 {
        memory.exits_in_a_row = memory.exits_in_a_row.saturating_add(exits);
        let wait = restart_backoff_ms(memory.exits_in_a_row);
        memory.starts_held_until_ms = now_ms.saturating_add(wait);
        if wait > 0 {
            decision.plan.start.clear();
            events.push(event(
                now_ms,
                ProjectEventKind::Exited,
                None,
                None,
                None,
                format!(
                    "{} exits in a row: replacements wait {} s",
                    memory.exits_in_a_row,
                    wait / 1000
                ),
            ));
        }
    }

    for stop in &decision.plan.stop {
        let Some(pos) = record
            .assignments
            .iter()
            .position(|a| a.id == stop.container)
        else {
            continue;
        };
        changed = true;
        if stop.reason == StopReason::Exited {
            // Nothing to drain: it serves nothing.
            let a = record.assignments.remove(pos);
            events.push(event(
                now_ms,
                ProjectEventKind::Removed,
                Some(a.revision),
                Some(a.node),
                Some(&a.id),
                stop_text(stop.reason).into(),
            ));
            continue;
        }
        let a = &mut record.assignments[pos];
        if a.draining_since_ms.is_none() {
            a.draining_since_ms = Some(now_ms);
            events.push(event(
                now_ms,
                ProjectEventKind::Drained,
                Some(a.revision),
                Some(a.node),
                Some(&a.id),
                stop_text(stop.reason).into(),
            ));
        }
    }
    for start in &decision.plan.start {
        let id = new_id(start.revision);
        events.push(event(
            now_ms,
            ProjectEventKind::Scheduled,
            Some(start.revision),
            Some(start.node),
            Some(&id),
            format!("on node {}", start.node),
        ));
        record.assignments.push(Assignment {
            id,
            node: start.node,
            revision: start.revision,
            created_ms: now_ms,
            draining_since_ms: None,
        });
        changed = true;
    }
    StepOutcome { events, changed }
}
