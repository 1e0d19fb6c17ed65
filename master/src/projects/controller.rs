//! A project's controller: the sans-io state machine that ties the rollout and the scheduler
//! together. Each [`Controller::step`] reads the project's spec, its replicas as observed and
//! `now`, and answers the plan to apply and the timeline events it caused; the operator's
//! commands (update, roll back, pause, resume, promote, scale) are methods that change the
//! state. Nothing here reads a clock, a store or a socket; the reconciler persists
//! [`ControllerState`] after every step that changed it.
//!
//! Activities: `FirstDeploy` → `Steady` once every replica is healthy; an update makes
//! `Updating` (rollout by the spec's strategy) → `Steady` when complete; a failed update
//! with automatic rollback makes `RollingBack` (a rolling rollout, one extra replica and
//! none unavailable, back to the previous revision) → `Steady`; a failure without automatic
//! rollback, or during a rollback, holds everything where it is and the status shows
//! `degraded` until an operator acts. `Paused` holds the counts of every revision (lost
//! replicas are still replaced) until resumed.

use model::project::spec::UpdateStrategy;
use model::project::{ProjectStatus, Revision};

use super::rollout::{self, FailureReason, Outcome, Rollout};
use super::schedule::{self, Plan, ReplicaPhase, ReplicaSlot, Snapshot, Want};
use super::{Activity, status};

/// What the controller remembers between steps (persisted with the project).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ControllerState {
    /// The revision the project is converging to.
    pub target: Revision,
    /// The revision it ran before the current rollout, if any (rollback goes there).
    pub previous: Option<Revision>,
    /// Replicas wanted.
    pub replicas: u32,
    /// What it is doing.
    pub activity: ActivityState,
    /// Whether the current canaries were promoted.
    pub promoted: bool,
    /// Why the last rollout failed, while that explains the project's state.
    pub failure: Option<String>,
    /// Whether the canaries' wait for an operator was already announced.
    #[serde(default)]
    pub awaiting_promotion: bool,
}

/// [`Activity`] as stored, with what a pause interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityState {
    /// First revision being started.
    FirstDeploy,
    /// Rollout to `target` under way.
    Updating,
    /// Rollback to `target` under way.
    RollingBack,
    /// Held; resumes the activity it interrupted.
    Paused {
        /// Whether the interrupted activity was a rollback (else an update).
        rolling_back: bool,
    },
    /// Nothing under way.
    Steady,
}

/// Something for the project's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A replica was placed on a node.
    Scheduled {
        /// The node.
        node: u64,
        /// Its revision.
        revision: Revision,
    },
    /// A replica is being removed.
    Removing {
        /// Its container.
        container: String,
        /// Its node.
        node: u64,
        /// Why.
        reason: schedule::StopReason,
    },
    /// Replicas on a node offline past the grace period are being replaced.
    Rescheduled {
        /// How many.
        lost: usize,
    },
    /// Replicas wanted that fit nowhere.
    Unplaced {
        /// How many.
        count: u32,
    },
    /// Canaries healthy for the healthy period; promoted.
    Promoted,
    /// Canaries healthy; an operator must promote them.
    AwaitingPromotion,
    /// Every replica runs `revision` and is healthy.
    Ready {
        /// The revision.
        revision: Revision,
    },
    /// A rollout failed.
    RolloutFailed {
        /// The revision that failed.
        revision: Revision,
        /// The replica that failed.
        container: String,
        /// Its node.
        node: u64,
        /// Why.
        reason: FailureReason,
    },
    /// Rolling back to `to`.
    RollingBack {
        /// The revision returned to.
        to: Revision,
    },
}

/// What one step decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Starts and stops to apply.
    pub plan: Plan,
    /// Timeline events.
    pub events: Vec<Event>,
    /// Whether the state changed (persist it).
    pub changed: bool,
}

/// Commands an operator may give that do not fit the project's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Nothing to pause, resume or promote.
    #[error("the project has no rollout to {0}")]
    NoRollout(&'static str),
    /// No earlier revision exists.
    #[error("the project has no earlier revision to roll back to")]
    NoPrevious,
}

/// The controller of one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    /// Its state.
    pub state: ControllerState,
}

/// The rollout a rollback uses: rolling, one extra replica, none unavailable.
fn rollback_strategy(spec: &UpdateStrategy) -> UpdateStrategy {
    UpdateStrategy::Rolling {
        max_surge: 1,
        max_unavailable: 0,
        deadline_s: spec.deadline_s(),
        auto_rollback: false,
    }
}

impl Controller {
    /// A new project's controller: revision 1, first deployment.
    pub fn new(replicas: u32) -> Self {
        Self {
            state: ControllerState {
                target: 1,
                previous: None,
                replicas,
                activity: ActivityState::FirstDeploy,
                promoted: true,
                failure: None,
                awaiting_promotion: false,
            },
        }
    }

    /// Starts a rollout to `revision` (a new spec, or an earlier revision by hand).
    pub fn update(&mut self, revision: Revision) {
        if revision == self.state.target {
            return;
        }
        self.state.previous = Some(self.state.target);
        self.state.target = revision;
        self.state.activity = ActivityState::Updating;
        self.state.promoted = false;
        self.state.failure = None;
        self.state.awaiting_promotion = false;
    }

    /// Rolls back to `revision`, or to the previous one.
    pub fn rollback(&mut self, revision: Option<Revision>) -> Result<(), CommandError> {
        let to = revision
            .or(self.state.previous)
            .ok_or(CommandError::NoPrevious)?;
        if to != self.state.target {
            self.state.previous = Some(self.state.target);
            self.state.target = to;
        }
        self.state.activity = ActivityState::RollingBack;
        self.state.promoted = true;
        self.state.failure = None;
        Ok(())
    }

    /// Changes the replica count (applies at once, also during a rollout).
    pub fn scale(&mut self, replicas: u32) {
        self.state.replicas = replicas;
    }

    /// Pauses the rollout under way.
    pub fn pause(&mut self) -> Result<(), CommandError> {
        self.state.activity = match self.state.activity {
            ActivityState::Updating => ActivityState::Paused {
                rolling_back: false,
            },
            ActivityState::RollingBack => ActivityState::Paused { rolling_back: true },
            _ => return Err(CommandError::NoRollout("pause")),
        };
        Ok(())
    }

    /// Resumes a paused rollout.
    pub fn resume(&mut self) -> Result<(), CommandError> {
        self.state.activity = match self.state.activity {
            ActivityState::Paused { rolling_back: true } => ActivityState::RollingBack,
            ActivityState::Paused {
                rolling_back: false,
            } => ActivityState::Updating,
            _ => return Err(CommandError::NoRollout("resume")),
        };
        Ok(())
    }

    /// Promotes canaries waiting for an operator.
    pub fn promote(&mut self) -> Result<(), CommandError> {
        if self.state.activity != ActivityState::Updating || self.state.promoted {
            return Err(CommandError::NoRollout("promote"));
        }
        self.state.promoted = true;
        self.state.awaiting_promotion = false;
        Ok(())
    }

    /// The activity as [`status`] reads it.
    pub fn activity(&self) -> Activity {
        match self.state.activity {
            ActivityState::FirstDeploy => Activity::FirstDeploy,
            ActivityState::Updating => Activity::Updating,
            ActivityState::RollingBack => Activity::RollingBack,
            ActivityState::Paused { .. } => Activity::Paused,
            ActivityState::Steady => Activity::Steady,
        }
    }

    /// The status to show, given the replicas as observed.
    pub fn status(&self, snapshot: &Snapshot<'_>) -> ProjectStatus {
        let healthy = snapshot
            .replicas
            .iter()
            .filter(|r| r.revision == self.state.target && r.healthy)
            .count() as u32;
        self.status_for(healthy)
    }

    /// The status to show with `healthy` healthy replicas of the target revision: a failed
    /// rollout held in place is `degraded` whatever the count.
    pub fn status_for(&self, healthy: u32) -> ProjectStatus {
        if self.state.failure.is_some() && self.state.activity == ActivityState::Steady {
            return ProjectStatus::Degraded;
        }
        status(self.activity(), healthy, self.state.replicas)
    }

    /// One step: decide what is wanted, plan it, and note what happened.
    pub fn step(&mut self, strategy: &UpdateStrategy, snapshot: &Snapshot<'_>) -> Decision {
        let before = self.state.clone();
        let mut events = Vec::new();
        let counted: Vec<&ReplicaSlot> = snapshot
            .replicas
            .iter()
            .filter(|r| counted_for_rollout(snapshot, r))
            .collect();
        let was_updating = self.state.activity == ActivityState::Updating;
        let mut wants = self.wants(strategy, &counted, snapshot.now_ms, &mut events);
        if was_updating && self.state.activity == ActivityState::RollingBack {
            // The update failed: start the rollback in this same step.
            wants = self.wants(strategy, &counted, snapshot.now_ms, &mut events);
        }
        self.finish(before, events, snapshot, &wants)
    }

    /// Replicas wanted per revision now; moves the activity on.
    fn wants(
        &mut self,
        strategy: &UpdateStrategy,
        counted: &[&ReplicaSlot],
        now_ms: u64,
        events: &mut Vec<Event>,
    ) -> Vec<Want> {
        let target = self.state.target;
        let n = self.state.replicas;
        match self.state.activity {
            ActivityState::FirstDeploy | ActivityState::Steady => {
                if self.state.failure.is_some() {
                    // A failed rollout held where it stopped until an operator acts.
                    let held = rollout::hold(counted);
                    if !held.is_empty() {
                        return held;
                    }
                }
                let healthy = counted
                    .iter()
                    .filter(|r| r.revision == target && r.healthy)
                    .count() as u32;
                if self.state.activity == ActivityState::FirstDeploy && healthy >= n {
                    self.state.activity = ActivityState::Steady;
                    events.push(Event::Ready { revision: target });
                }
                vec![Want {
                    revision: target,
                    count: n,
                }]
            }
            ActivityState::Paused { .. } => rollout::hold(counted),
            ActivityState::Updating | ActivityState::RollingBack => {
                let rolling_back = self.state.activity == ActivityState::RollingBack;
                let r = Rollout {
                    to: target,
                    replicas: n,
                    strategy: if rolling_back {
                        rollback_strategy(strategy)
                    } else {
                        *strategy
                    },
                    promoted: self.state.promoted || rolling_back,
                };
                let step = rollout::step(&r, counted, now_ms);
                match step.outcome {
                    Outcome::Progressing => {}
                    Outcome::AwaitingPromotion => {
                        if !self.state.awaiting_promotion {
                            self.state.awaiting_promotion = true;
                            events.push(Event::AwaitingPromotion);
                        }
                    }
                    Outcome::Promote => {
                        self.state.promoted = true;
                        events.push(Event::Promoted);
                    }
                    Outcome::Complete => {
                        self.state.activity = ActivityState::Steady;
                        self.state.failure = None;
                        events.push(Event::Ready { revision: target });
                    }
                    Outcome::Failed {
                        container,
                        node,
                        reason,
                    } => {
                        self.state.failure = Some(format!(
                            "revision {target}: {reason} ({container} on node {node})"
                        ));
                        events.push(Event::RolloutFailed {
                            revision: target,
                            container,
                            node,
                            reason,
                        });
                        match self.state.previous {
                            Some(previous) if !rolling_back && strategy.auto_rollback() => {
                                self.state.previous = Some(target);
                                self.state.target = previous;
                                self.state.activity = ActivityState::RollingBack;
                                self.state.promoted = true;
                                events.push(Event::RollingBack { to: previous });
                            }
                            // Held where it is, shown as degraded until an operator acts.
                            _ => self.state.activity = ActivityState::Steady,
                        }
                    }
                }
                step.wants
            }
        }
    }

    fn finish(
        &self,
        before: ControllerState,
        mut events: Vec<Event>,
        snapshot: &Snapshot<'_>,
        wants: &[Want],
    ) -> Decision {
        let plan = schedule::plan(snapshot, wants);
        if !plan.lost.is_empty() && !plan.start.is_empty() {
            events.push(Event::Rescheduled {
                lost: plan.lost.len(),
            });
        }
        for s in &plan.start {
            events.push(Event::Scheduled {
                node: s.node,
                revision: s.revision,
            });
        }
        for s in &plan.stop {
            events.push(Event::Removing {
                container: s.container.clone(),
                node: s.node,
                reason: s.reason,
            });
        }
        let unplaced: u32 = plan.unplaced.iter().map(|u| u.count).sum();
        if unplaced > 0 {
            events.push(Event::Unplaced { count: unplaced });
        }
        Decision {
            changed: self.state != before,
            plan,
            events,
        }
    }
}

/// Whether a replica takes part in a rollout's counts: live ones, and exited ones (which
/// fail a rollout of their revision).
fn counted_for_rollout(snapshot: &Snapshot<'_>, r: &ReplicaSlot) -> bool {
    r.phase != ReplicaPhase::Draining && !schedule::node_lost(snapshot, r.node)
}
