//! The scheduler harness and rollout simulations: a tiny fake cluster applies each plan
//! (started replicas run, become healthy when the test says so, stopped ones vanish) and
//! the invariants are checked after every step.

use model::project::ProjectStatus;
use model::project::spec::{Promotion, Resources, UpdateStrategy};

use super::rollout::{self, FailureReason, Outcome, Rollout};
use super::schedule::{
    Capacity, NodeSlot, NodeState, Plan, ReplicaPhase, ReplicaSlot, Snapshot, StopReason, Want,
    plan,
};
use super::{Activity, status};

const GRACE_MS: u64 = 60_000;

struct Sim {
    nodes: Vec<NodeSlot>,
    replicas: Vec<ReplicaSlot>,
    request: Resources,
    now_ms: u64,
    next_id: u32,
    /// New replicas of these revisions never become healthy.
    broken: Vec<u64>,
}

impl Sim {
    fn new(node_count: u64) -> Self {
        Self {
            nodes: (1..=node_count)
                .map(|id| NodeSlot {
                    id,
                    state: NodeState::Ready,
                    free: Capacity::default(),
                })
                .collect(),
            replicas: Vec::new(),
            request: Resources::default(),
            now_ms: 1_000_000,
            next_id: 0,
            broken: Vec::new(),
        }
    }

    fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            nodes: &self.nodes,
            replicas: &self.replicas,
            request: self.request,
            grace_ms: GRACE_MS,
            now_ms: self.now_ms,
        }
    }

    fn plan(&self, wants: &[Want]) -> Plan {
        let p = plan(&self.snapshot(), wants);
        assert_eq!(
            p,
            plan(&self.snapshot(), wants),
            "the same snapshot, another plan"
        );
        p
    }

    fn apply(&mut self, p: &Plan) {
        for stop in &p.stop {
            self.replicas.retain(|r| r.container != stop.container);
        }
        for start in &p.start {
            self.next_id += 1;
            if let Some(m) = self
                .nodes
                .iter_mut()
                .find(|n| n.id == start.node)
                .and_then(|node| node.free.memory_bytes.as_mut())
            {
                *m = m.saturating_sub(self.request.memory_bytes.unwrap_or(0));
            }
            self.replicas.push(ReplicaSlot {
                container: format!("c{:04}", self.next_id),
                node: start.node,
                revision: start.revision,
                phase: ReplicaPhase::Starting,
                healthy: false,
                started_ms: self.now_ms,
                healthy_since_ms: None,
            });
        }
    }

    /// Time passes; every started replica of a working revision becomes healthy.
    fn tick(&mut self, ms: u64) {
        self.now_ms += ms;
        for r in &mut self.replicas {
            if !self.broken.contains(&r.revision) && !r.healthy {
                r.phase = ReplicaPhase::Running;
                r.healthy = true;
                r.healthy_since_ms = Some(self.now_ms);
            }
        }
    }

    /// Plans and applies until the plan is empty; answers the number of rounds.
    fn converge(&mut self, wants: &[Want]) -> usize {
        for round in 0..50 {
            let p = self.plan(wants);
            if p.is_empty() {
                return round;
            }
            self.apply(&p);
            self.tick(1_000);
        }
        panic!("no convergence in 50 rounds")
    }

    fn per_node(&self, revision: Option<u64>) -> Vec<u32> {
        self.nodes
            .iter()
            .map(|n| {
                self.replicas
                    .iter()
                    .filter(|r| r.node == n.id && revision.is_none_or(|rev| r.revision == rev))
                    .count() as u32
            })
            .collect()
    }

    fn refs(&self) -> Vec<&ReplicaSlot> {
        self.replicas.iter().collect()
    }
}

fn want(revision: u64, count: u32) -> Want {
    Want { revision, count }
}

fn spread(counts: &[u32]) -> u32 {
    counts.iter().max().copied().unwrap_or(0) - counts.iter().min().copied().unwrap_or(0)
}

#[test]
fn placement_spreads_evenly_for_many_cluster_sizes() {
    for nodes in 1..=9u64 {
        for replicas in 0..=20u32 {
            let mut sim = Sim::new(nodes);
            sim.converge(&[want(1, replicas)]);
            let counts = sim.per_node(Some(1));
            assert_eq!(
                counts.iter().sum::<u32>(),
                replicas,
                "{nodes} nodes, {replicas}"
            );
            assert!(
                spread(&counts) <= 1,
                "{nodes} nodes, {replicas}: {counts:?}"
            );
        }
    }
}

#[test]
fn four_replicas_on_three_nodes_go_two_one_one_with_ties_to_the_lower_id() {
    let mut sim = Sim::new(3);
    let p = sim.plan(&[want(1, 4)]);
    let nodes: Vec<u64> = p.start.iter().map(|s| s.node).collect();
    assert_eq!(nodes, vec![1, 2, 3, 1]);
    sim.apply(&p);
    assert_eq!(sim.per_node(None), vec![2, 1, 1]);
}

#[test]
fn scaling_keeps_the_spread_and_scale_down_takes_from_the_most_loaded_first() {
    let mut sim = Sim::new(3);
    sim.converge(&[want(1, 4)]);
    sim.converge(&[want(1, 6)]);
    assert_eq!(sim.per_node(None), vec![2, 2, 2]);
    sim.converge(&[want(1, 7)]);
    let p = sim.plan(&[want(1, 5)]);
    assert_eq!(p.stop.len(), 2);
    // Node 1 had 3: the first removal comes from it, the second from the highest id of 2.
    assert_eq!(p.stop[0].node, 1);
    assert_eq!(p.stop[1].node, 3);
    assert!(p.stop.iter().all(|s| s.reason == StopReason::Surplus));
    sim.apply(&p);
    assert!(spread(&sim.per_node(None)) <= 1);
    sim.converge(&[want(1, 2)]);
    assert_eq!(sim.per_node(None).iter().sum::<u32>(), 2);
    assert!(spread(&sim.per_node(None)) <= 1);
}

#[test]
fn unhealthy_replicas_are_removed_before_healthy_ones() {
    let mut sim = Sim::new(2);
    sim.converge(&[want(1, 4)]);
    let sick = sim.replicas[3].container.clone();
    sim.replicas[3].healthy = false;
    let p = sim.plan(&[want(1, 3)]);
    assert_eq!(p.stop.len(), 1);
    assert_eq!(p.stop[0].container, sick);
}

#[test]
fn capacity_limits_placement_and_reports_what_does_not_fit() {
    let mut sim = Sim::new(3);
    sim.request = Resources {
        memory_bytes: Some(100),
        nano_cpus: None,
    };
    sim.nodes[0].free.memory_bytes = Some(1_000);
    sim.nodes[1].free.memory_bytes = Some(150);
    sim.nodes[2].free.memory_bytes = Some(50);
    let p = sim.plan(&[want(1, 5)]);
    let per: Vec<u64> = p.start.iter().map(|s| s.node).collect();
    // Node 3 never fits; node 2 fits once; node 1 takes the rest.
    assert_eq!(per.iter().filter(|n| **n == 3).count(), 0);
    assert_eq!(per.iter().filter(|n| **n == 2).count(), 1);
    assert_eq!(per.iter().filter(|n| **n == 1).count(), 4);
    assert!(p.unplaced.is_empty());

    sim.nodes[0].free.memory_bytes = Some(100);
    let p = sim.plan(&[want(1, 5)]);
    assert_eq!(p.start.len(), 2);
    assert_eq!(p.unplaced, vec![want(1, 3)]);
}

#[test]
fn container_slots_limit_placement() {
    let mut sim = Sim::new(2);
    sim.nodes[0].free.containers = Some(1);
    let p = sim.plan(&[want(1, 4)]);
    assert_eq!(p.start.iter().filter(|s| s.node == 1).count(), 1, "{p:?}");
    assert_eq!(p.start.len(), 4);
}

#[test]
fn no_ready_node_places_nothing() {
    let mut sim = Sim::new(2);
    for n in &mut sim.nodes {
        n.state = NodeState::Offline { since_ms: 0 };
    }
    let p = sim.plan(&[want(1, 3)]);
    assert!(p.start.is_empty());
    assert_eq!(p.unplaced, vec![want(1, 3)]);
    assert!(
        plan(
            &Snapshot {
                nodes: &[],
                ..sim.snapshot()
            },
            &[want(1, 1)]
        )
        .start
        .is_empty()
    );
}

#[test]
fn a_node_lost_past_its_grace_period_is_rescheduled_and_surplus_removed_when_it_returns() {
    let mut sim = Sim::new(3);
    sim.converge(&[want(1, 6)]);
    let went_down_at = sim.now_ms;
    sim.nodes[2].state = NodeState::Offline {
        since_ms: went_down_at,
    };
    // Within the grace period nothing moves.
    sim.tick(GRACE_MS - 1);
    assert!(sim.plan(&[want(1, 6)]).is_empty());
    // Past it, its two replicas are replaced on the others, and not stopped.
    sim.tick(1);
    let p = sim.plan(&[want(1, 6)]);
    assert_eq!(p.lost.len(), 2);
    assert!(p.stop.is_empty());
    assert_eq!(
        p.start.iter().map(|s| s.node).collect::<Vec<_>>(),
        vec![1, 2]
    );
    sim.apply(&p);
    sim.tick(1_000);
    assert!(
        sim.plan(&[want(1, 6)]).is_empty(),
        "converged with the node away"
    );
    // It comes back with its old replicas: two surplus are stopped, the spread is even.
    sim.nodes[2].state = NodeState::Ready;
    let p = sim.plan(&[want(1, 6)]);
    assert_eq!(p.stop.len(), 2);
    assert!(p.start.is_empty());
    sim.apply(&p);
    assert_eq!(sim.per_node(None), vec![2, 2, 2]);
}

#[test]
fn a_node_that_disappears_counts_as_lost() {
    let mut sim = Sim::new(3);
    sim.converge(&[want(1, 3)]);
    sim.nodes.retain(|n| n.id != 2);
    let p = sim.plan(&[want(1, 3)]);
    assert_eq!(p.lost.len(), 1);
    assert_eq!(p.start.len(), 1);
}

#[test]
fn exited_replicas_are_removed_and_replaced() {
    let mut sim = Sim::new(2);
    sim.converge(&[want(1, 2)]);
    sim.replicas[0].phase = ReplicaPhase::Exited;
    let node = sim.replicas[0].node;
    let p = sim.plan(&[want(1, 2)]);
    assert_eq!(p.stop.len(), 1);
    assert_eq!(p.stop[0].reason, StopReason::Exited);
    assert_eq!(p.start.len(), 1);
    assert_eq!(
        p.start[0].node, node,
        "the emptied node is the least loaded"
    );
}

#[test]
fn a_replica_removed_by_hand_comes_back() {
    let mut sim = Sim::new(2);
    sim.converge(&[want(1, 4)]);
    sim.replicas.remove(1);
    assert_eq!(sim.converge(&[want(1, 4)]), 1);
    assert_eq!(sim.per_node(None), vec![2, 2]);
}

#[test]
fn replicas_on_an_unschedulable_node_move_without_a_gap() {
    let mut sim = Sim::new(3);
    sim.converge(&[want(1, 3)]);
    sim.nodes[0].state = NodeState::Unschedulable;
    let p = sim.plan(&[want(1, 3)]);
    assert_eq!(p.start.len(), 1);
    assert!(p.stop.is_empty(), "kept until its replacement is healthy");
    sim.apply(&p);
    sim.tick(1_000);
    let p = sim.plan(&[want(1, 3)]);
    assert_eq!(p.stop.len(), 1);
    assert_eq!(p.stop[0].reason, StopReason::NodeUnschedulable);
    sim.apply(&p);
    assert_eq!(sim.per_node(None), vec![0, 2, 1]);
}

#[test]
fn revisions_no_longer_wanted_are_stopped_and_draining_ones_ignored() {
    let mut sim = Sim::new(2);
    sim.converge(&[want(1, 2)]);
    sim.replicas[0].phase = ReplicaPhase::Draining;
    let p = sim.plan(&[want(2, 2)]);
    assert_eq!(p.start.len(), 2);
    assert_eq!(p.stop.len(), 1);
    assert_eq!(p.stop[0].reason, StopReason::NotWanted);
}

#[test]
fn a_failure_harness_of_random_events_always_converges_evenly() {
    // A deterministic pseudo-random walk over node losses, returns, exits and scaling.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for trial in 0..40 {
        let node_count = 1 + next() % 7;
        let mut sim = Sim::new(node_count);
        let mut desired = (next() % 15) as u32;
        for _ in 0..12 {
            match next() % 4 {
                0 => desired = (next() % 15) as u32,
                1 => {
                    let i = (next() % node_count) as usize;
                    sim.nodes[i].state = match sim.nodes[i].state {
                        NodeState::Ready => NodeState::Offline { since_ms: 0 },
                        _ => NodeState::Ready,
                    };
                }
                2 if !sim.replicas.is_empty() => {
                    let i = (next() as usize) % sim.replicas.len();
                    sim.replicas[i].phase = ReplicaPhase::Exited;
                }
                _ => {}
            }
            sim.converge(&[want(1, desired)]);
            let ready: Vec<u64> = sim
                .nodes
                .iter()
                .filter(|n| n.state == NodeState::Ready)
                .map(|n| n.id)
                .collect();
            let counted: u32 = sim
                .replicas
                .iter()
                .filter(|r| ready.contains(&r.node))
                .count() as u32;
            if ready.is_empty() {
                continue;
            }
            assert_eq!(counted, desired, "trial {trial}");
        }
    }
}

fn rolling(max_surge: u32, max_unavailable: u32) -> UpdateStrategy {
    UpdateStrategy::Rolling {
        max_surge,
        max_unavailable,
        deadline_s: 60,
        auto_rollback: true,
    }
}

/// Runs a rollout to the end (or failure), checking the surge and availability bounds at
/// every step; answers the final outcome and the number of steps.
fn drive(sim: &mut Sim, r: &mut Rollout, max_total: u32, min_healthy: u32) -> (Outcome, usize) {
    for steps in 0..200 {
        let s = rollout::step(r, &sim.refs(), sim.now_ms);
        match s.outcome {
            Outcome::Complete | Outcome::Failed { .. } | Outcome::AwaitingPromotion => {
                let p = sim.plan(&s.wants);
                sim.apply(&p);
                return (s.outcome, steps);
            }
            Outcome::Promote => r.promoted = true,
            Outcome::Progressing => {}
        }
        let p = sim.plan(&s.wants);
        sim.apply(&p);
        let total = sim.replicas.len() as u32;
        let healthy = sim.replicas.iter().filter(|r| r.healthy).count() as u32;
        assert!(
            total <= max_total,
            "step {steps}: {total} replicas > {max_total}"
        );
        assert!(
            healthy >= min_healthy,
            "step {steps}: {healthy} healthy < {min_healthy}"
        );
        sim.tick(1_000);
    }
    panic!("rollout did not end in 200 steps")
}

#[test]
fn rolling_updates_respect_surge_and_availability_for_many_settings() {
    for n in 1..=6u32 {
        for (surge, unavailable) in [(1, 0), (0, 1), (2, 0), (2, 1), (1, 2), (n, 0)] {
            let mut sim = Sim::new(3);
            sim.converge(&[want(1, n)]);
            let mut r = Rollout {
                to: 2,
                replicas: n,
                strategy: rolling(surge, unavailable),
                promoted: true,
            };
            let (outcome, _) = drive(&mut sim, &mut r, n + surge, n.saturating_sub(unavailable));
            assert_eq!(
                outcome,
                Outcome::Complete,
                "n={n} surge={surge} unav={unavailable}"
            );
            assert_eq!(sim.per_node(Some(2)).iter().sum::<u32>(), n);
            assert_eq!(sim.per_node(Some(1)).iter().sum::<u32>(), 0);
            assert!(spread(&sim.per_node(None)) <= 1);
        }
    }
}

#[test]
fn a_rolling_update_replaces_unhealthy_old_replicas_without_deadlock() {
    let mut sim = Sim::new(2);
    sim.converge(&[want(1, 4)]);
    for r in &mut sim.replicas {
        r.healthy = false;
    }
    let mut r = Rollout {
        to: 2,
        replicas: 4,
        strategy: rolling(1, 0),
        promoted: true,
    };
    let (outcome, _) = drive(&mut sim, &mut r, 5, 0);
    assert_eq!(outcome, Outcome::Complete);
}

#[test]
fn a_broken_revision_fails_the_rollout_at_its_deadline_without_losing_old_replicas() {
    let mut sim = Sim::new(3);
    sim.converge(&[want(1, 4)]);
    sim.broken.push(2);
    let mut r = Rollout {
        to: 2,
        replicas: 4,
        strategy: rolling(1, 0),
        promoted: true,
    };
    let (outcome, steps) = drive(&mut sim, &mut r, 5, 4);
    match outcome {
        Outcome::Failed { reason, .. } => {
            assert_eq!(reason, FailureReason::NotHealthyInTime { deadline_s: 60 })
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(
        steps >= 59,
        "failed only at the deadline, after {steps} steps"
    );
    assert_eq!(
        sim.per_node(Some(1)).iter().sum::<u32>(),
        4,
        "old replicas kept"
    );

    // Rolling back is a rollout to the previous revision.
    let mut back = Rollout {
        to: 1,
        replicas: 4,
        strategy: rolling(1, 0),
        promoted: true,
    };
    let (outcome, _) = drive(&mut sim, &mut back, 5, 4);
    assert_eq!(outcome, Outcome::Complete);
    assert_eq!(sim.per_node(Some(2)).iter().sum::<u32>(), 0);
}

#[test]
fn an_exited_new_replica_fails_the_rollout_at_once() {
    let mut sim = Sim::new(2);
    sim.converge(&[want(1, 2)]);
    let r = Rollout {
        to: 2,
        replicas: 2,
        strategy: rolling(1, 0),
        promoted: true,
    };
    let s = rollout::step(&r, &sim.refs(), sim.now_ms);
    let p = sim.plan(&s.wants);
    sim.apply(&p);
    let last = sim.replicas.len() - 1;
    sim.replicas[last].phase = ReplicaPhase::Exited;
    let s = rollout::step(&r, &sim.refs(), sim.now_ms);
    assert!(matches!(
        s.outcome,
        Outcome::Failed {
            reason: FailureReason::Exited,
            ..
        }
    ));
}

fn canary(canaries: u32, promotion: Promotion) -> UpdateStrategy {
    UpdateStrategy::Canary {
        canaries,
        promotion,
        healthy_period_s: 10,
        deadline_s: 60,
        auto_rollback: true,
    }
}

#[test]
fn automatic_canaries_promote_after_the_healthy_period() {
    let mut sim = Sim::new(3);
    sim.converge(&[want(1, 4)]);
    let mut r = Rollout {
        to: 2,
        replicas: 4,
        strategy: canary(1, Promotion::Auto),
        promoted: false,
    };
    // First steps: one canary beside four old replicas.
    let s = rollout::step(&r, &sim.refs(), sim.now_ms);
    assert_eq!(s.wants, vec![want(2, 1), want(1, 4)]);
    let (outcome, steps) = drive(&mut sim, &mut r, 5, 4);
    assert_eq!(outcome, Outcome::Complete);
    assert!(r.promoted);
    assert!(
        steps >= 10,
        "promoted only after the healthy period ({steps} steps)"
    );
}

#[test]
fn manual_canaries_wait_for_an_operator() {
    let mut sim = Sim::new(3);
    sim.converge(&[want(1, 3)]);
    let mut r = Rollout {
        to: 2,
        replicas: 3,
        strategy: canary(2, Promotion::Manual),
        promoted: false,
    };
    let (outcome, _) = drive(&mut sim, &mut r, 5, 3);
    assert_eq!(outcome, Outcome::AwaitingPromotion);
    // Waiting does not move anything.
    sim.tick(100_000);
    let s = rollout::step(&r, &sim.refs(), sim.now_ms);
    assert_eq!(s.outcome, Outcome::AwaitingPromotion);
    assert!(sim.plan(&s.wants).is_empty());
    r.promoted = true;
    let (outcome, _) = drive(&mut sim, &mut r, 6, 3);
    assert_eq!(outcome, Outcome::Complete);
}

#[test]
fn holding_keeps_counts_and_still_replaces_lost_replicas() {
    let mut sim = Sim::new(2);
    sim.converge(&[want(1, 2)]);
    sim.converge(&[want(2, 1), want(1, 2)]);
    let wants = rollout::hold(&sim.refs());
    assert_eq!(wants, vec![want(2, 1), want(1, 2)]);
    sim.replicas.remove(0);
    let p = sim.plan(&wants);
    assert_eq!(p.start.len(), 1);
}

#[test]
fn status_follows_activity_and_health() {
    assert_eq!(
        status(Activity::FirstDeploy, 1, 3),
        ProjectStatus::Deploying
    );
    assert_eq!(status(Activity::FirstDeploy, 3, 3), ProjectStatus::Ready);
    assert_eq!(status(Activity::Steady, 2, 3), ProjectStatus::Degraded);
    assert_eq!(status(Activity::Steady, 3, 3), ProjectStatus::Ready);
    assert_eq!(status(Activity::Steady, 0, 0), ProjectStatus::Ready);
    assert_eq!(status(Activity::Updating, 3, 3), ProjectStatus::Updating);
    assert_eq!(
        status(Activity::RollingBack, 3, 3),
        ProjectStatus::RollingBack
    );
    assert_eq!(status(Activity::Paused, 0, 3), ProjectStatus::Paused);
}

mod controller {
    use super::*;
    use crate::projects::controller::{ActivityState, CommandError, Controller, Event};

    /// Steps the controller and applies its plans until `until` holds (at most 300 s of
    /// simulated time); answers every event.
    fn run(
        sim: &mut Sim,
        c: &mut Controller,
        strategy: &UpdateStrategy,
        until: impl Fn(&Controller) -> bool,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        for _ in 0..300 {
            let d = c.step(strategy, &sim.snapshot());
            events.extend(d.events);
            sim.apply(&d.plan);
            if until(c) {
                return events;
            }
            sim.tick(1_000);
        }
        panic!("not reached in 300 steps: {:?}", c.state)
    }

    fn steady(c: &Controller) -> bool {
        c.state.activity == ActivityState::Steady
    }

    #[test]
    fn a_project_deploys_updates_and_rolls_back_a_broken_revision_by_itself() {
        let strategy = rolling(1, 0);
        let mut sim = Sim::new(3);
        let mut c = Controller::new(4);
        assert_eq!(c.status(&sim.snapshot()), ProjectStatus::Deploying);
        let events = run(&mut sim, &mut c, &strategy, steady);
        assert!(events.contains(&Event::Ready { revision: 1 }));
        assert_eq!(c.status(&sim.snapshot()), ProjectStatus::Ready);
        assert!(spread(&sim.per_node(None)) <= 1);

        c.update(2);
        assert_eq!(c.status(&sim.snapshot()), ProjectStatus::Updating);
        let events = run(&mut sim, &mut c, &strategy, steady);
        assert!(events.contains(&Event::Ready { revision: 2 }));
        assert_eq!(sim.per_node(Some(2)).iter().sum::<u32>(), 4);

        sim.broken.push(3);
        c.update(3);
        let events = run(&mut sim, &mut c, &strategy, |c| {
            c.state.activity == ActivityState::RollingBack
        });
        assert!(events.iter().any(|e| matches!(
            e,
            Event::RolloutFailed {
                revision: 3,
                reason: FailureReason::NotHealthyInTime { .. },
                ..
            }
        )));
        assert!(events.contains(&Event::RollingBack { to: 2 }));
        assert_eq!(c.status(&sim.snapshot()), ProjectStatus::RollingBack);
        let healthy_v2 = sim
            .replicas
            .iter()
            .filter(|r| r.revision == 2 && r.healthy)
            .count();
        assert_eq!(healthy_v2, 4, "the old replicas served throughout");
        run(&mut sim, &mut c, &strategy, steady);
        assert_eq!(c.state.target, 2);
        assert_eq!(sim.per_node(Some(3)).iter().sum::<u32>(), 0);
        assert_eq!(c.status(&sim.snapshot()), ProjectStatus::Ready);
    }

    #[test]
    fn without_automatic_rollback_a_failure_holds_and_shows_degraded() {
        let strategy = UpdateStrategy::Rolling {
            max_surge: 1,
            max_unavailable: 0,
            deadline_s: 30,
            auto_rollback: false,
        };
        let mut sim = Sim::new(2);
        let mut c = Controller::new(2);
        run(&mut sim, &mut c, &strategy, steady);
        sim.broken.push(2);
        c.update(2);
        run(&mut sim, &mut c, &strategy, |c| c.state.failure.is_some());
        assert_eq!(c.status(&sim.snapshot()), ProjectStatus::Degraded);
        // Held: nothing moves any more, old replicas keep serving.
        for _ in 0..5 {
            let d = c.step(&strategy, &sim.snapshot());
            assert!(d.plan.is_empty(), "{:?}", d.plan);
            sim.tick(1_000);
        }
        assert_eq!(sim.per_node(Some(1)).iter().sum::<u32>(), 2);
        // The operator rolls back by hand.
        c.rollback(None).expect("previous revision");
        run(&mut sim, &mut c, &strategy, steady);
        assert_eq!(c.state.target, 1);
        assert_eq!(sim.per_node(Some(2)).iter().sum::<u32>(), 0);
        assert_eq!(c.status(&sim.snapshot()), ProjectStatus::Ready);
    }

    #[test]
    fn pause_holds_a_rollout_and_resume_finishes_it() {
        let strategy = rolling(1, 0);
        let mut sim = Sim::new(2);
        let mut c = Controller::new(4);
        assert_eq!(c.pause(), Err(CommandError::NoRollout("pause")));
        run(&mut sim, &mut c, &strategy, steady);
        c.update(2);
        let d = c.step(&strategy, &sim.snapshot());
        sim.apply(&d.plan);
        sim.tick(1_000);
        c.pause().expect("a rollout to pause");
        assert_eq!(c.status(&sim.snapshot()), ProjectStatus::Paused);
        for _ in 0..5 {
            let d = c.step(&strategy, &sim.snapshot());
            assert!(d.plan.is_empty());
            sim.tick(1_000);
        }
        assert_eq!(sim.replicas.len(), 5);
        c.resume().expect("paused");
        assert_eq!(c.resume(), Err(CommandError::NoRollout("resume")));
        run(&mut sim, &mut c, &strategy, steady);
        assert_eq!(sim.per_node(Some(2)).iter().sum::<u32>(), 4);
    }

    #[test]
    fn manual_canaries_are_announced_once_and_promoted_by_an_operator() {
        let strategy = canary(1, Promotion::Manual);
        let mut sim = Sim::new(3);
        let mut c = Controller::new(3);
        run(&mut sim, &mut c, &strategy, steady);
        assert_eq!(c.promote(), Err(CommandError::NoRollout("promote")));
        c.update(2);
        let events = run(&mut sim, &mut c, &strategy, |c| c.state.awaiting_promotion);
        assert_eq!(
            events
                .iter()
                .filter(|e| **e == Event::AwaitingPromotion)
                .count(),
            1
        );
        for _ in 0..3 {
            let d = c.step(&strategy, &sim.snapshot());
            assert!(!d.events.contains(&Event::AwaitingPromotion));
            assert!(d.plan.is_empty());
        }
        c.promote().expect("canaries waiting");
        run(&mut sim, &mut c, &strategy, steady);
        assert_eq!(sim.per_node(Some(2)).iter().sum::<u32>(), 3);
        assert_eq!(sim.per_node(Some(1)).iter().sum::<u32>(), 0);
    }

    /// Steps until a plan is empty (at most 20 steps).
    fn settle(sim: &mut Sim, c: &mut Controller, strategy: &UpdateStrategy) -> Vec<Event> {
        let mut events = Vec::new();
        for _ in 0..20 {
            let d = c.step(strategy, &sim.snapshot());
            events.extend(d.events);
            if d.plan.is_empty() {
                return events;
            }
            sim.apply(&d.plan);
            sim.tick(1_000);
        }
        panic!("no settling in 20 steps")
    }

    #[test]
    fn scaling_applies_in_steady_state_and_a_lost_node_is_repaired() {
        let strategy = rolling(1, 0);
        let mut sim = Sim::new(3);
        let mut c = Controller::new(4);
        run(&mut sim, &mut c, &strategy, steady);
        c.scale(6);
        settle(&mut sim, &mut c, &strategy);
        assert_eq!(sim.per_node(None), vec![2, 2, 2]);
        sim.nodes[1].state = NodeState::Offline {
            since_ms: sim.now_ms,
        };
        sim.tick(GRACE_MS);
        let events = settle(&mut sim, &mut c, &strategy);
        assert!(events.contains(&Event::Rescheduled { lost: 2 }));
        assert_eq!(sim.per_node(None), vec![3, 2, 3]);
        sim.nodes[1].state = NodeState::Ready;
        settle(&mut sim, &mut c, &strategy);
        assert_eq!(sim.replicas.len(), 6);
        assert!(spread(&sim.per_node(None)) <= 1);
        assert_eq!(c.status(&sim.snapshot()), ProjectStatus::Ready);
    }
}
