//! Rollouts: how many replicas of each revision a project wants at each step of an update,
//! as a pure function of the strategy, the replicas observed and `now`. The scheduler
//! ([`super::schedule`]) turns the answer into starts and stops.
//!
//! **Rolling** (Kubernetes' Deployment rules): at most `replicas + max_surge` replicas
//! exist; unhealthy old replicas are removed first, and healthy old ones only while at
//! least `replicas - max_unavailable` replicas stay healthy; new replicas are added as room
//! appears. **Canary**: `canaries` new replicas start next to all the old ones; once every
//! canary has been healthy for the healthy period the rollout promotes itself (automatic
//! promotion) or waits for an operator (manual), then continues as a rolling update with one
//! extra replica and none unavailable.
//!
//! A new replica that exits, or is not healthy `deadline_s` after it started, fails the
//! rollout: [`Outcome::Failed`] says which and why; the caller rolls back to the previous
//! revision (a rollout in the other direction) when the strategy says so.

use model::project::Revision;
use model::project::spec::{Promotion, UpdateStrategy};

use super::schedule::{ReplicaPhase, ReplicaSlot, Want};

/// A rollout under way: from which revisions to which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// The revision being rolled out.
    pub to: Revision,
    /// Replicas wanted when it is done.
    pub replicas: u32,
    /// How.
    pub strategy: UpdateStrategy,
    /// Whether the canaries were promoted (always true for rolling).
    pub promoted: bool,
}

/// Where a rollout stands after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Steps remain.
    Progressing,
    /// Canaries are healthy; an operator must promote them.
    AwaitingPromotion,
    /// Canaries stayed healthy for the healthy period: promote and go on.
    Promote,
    /// Every wanted replica runs the new revision and is healthy; nothing old is left.
    Complete,
    /// A new replica failed.
    Failed {
        /// The replica that failed.
        container: String,
        /// Its node.
        node: u64,
        /// Why, for the timeline.
        reason: FailureReason,
    },
}

/// Why a new replica failed a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// Its process ended.
    Exited,
    /// Not healthy within the deadline.
    NotHealthyInTime {
        /// The deadline, seconds.
        deadline_s: u32,
    },
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exited => f.write_str("the new replica exited"),
            Self::NotHealthyInTime { deadline_s } => {
                write!(f, "the new replica was not healthy within {deadline_s} s")
            }
        }
    }
}

/// One step: replicas wanted per revision now, and where the rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Replicas wanted per revision (the new one first, then older ones, newest first).
    pub wants: Vec<Want>,
    /// Where the rollout stands.
    pub outcome: Outcome,
}

/// The counts that hold everything as it is (a paused rollout): every revision keeps the
/// live replicas it has, the new one at least what it has, so lost replicas are still
/// replaced but nothing moves forward.
pub fn hold(replicas: &[&ReplicaSlot]) -> Vec<Want> {
    let mut wants: Vec<Want> = Vec::new();
    for r in replicas {
        match wants.iter_mut().find(|w| w.revision == r.revision) {
            Some(w) => w.count += 1,
            None => wants.push(Want {
                revision: r.revision,
                count: 1,
            }),
        }
    }
    wants.sort_by_key(|w| std::cmp::Reverse(w.revision));
    wants
}

fn first_failure(rollout: &Rollout, new: &[&ReplicaSlot], now_ms: u64) -> Option<Outcome> {
    let deadline_s = rollout.strategy.deadline_s();
    let deadline_ms = u64::from(deadline_s) * 1_000;
    let mut failures: Vec<(&ReplicaSlot, FailureReason)> = new
        .iter()
        .filter_map(|r| {
            if r.phase == ReplicaPhase::Exited {
                Some((*r, FailureReason::Exited))
            } else if !r.healthy && now_ms.saturating_sub(r.started_ms) >= deadline_ms {
                Some((*r, FailureReason::NotHealthyInTime { deadline_s }))
            } else {
                None
            }
        })
        .collect();
    failures
        .sort_by(|a, b| (a.0.started_ms, &a.0.container).cmp(&(b.0.started_ms, &b.0.container)));
    failures.first().map(|(r, reason)| Outcome::Failed {
        container: r.container.clone(),
        node: r.node,
        reason: *reason,
    })
}

/// The next step of `rollout` given the project's counted replicas (live ones of every
/// revision, and exited ones of the new revision so they can fail the rollout) at `now_ms`.
pub fn step(rollout: &Rollout, replicas: &[&ReplicaSlot], now_ms: u64) -> Step {
    let n = rollout.replicas;
    let (new, old): (Vec<&ReplicaSlot>, Vec<&ReplicaSlot>) =
        replicas.iter().partition(|r| r.revision == rollout.to);
    let new_live: Vec<&ReplicaSlot> = new
        .iter()
        .copied()
        .filter(|r| r.phase != ReplicaPhase::Exited)
        .collect();
    let old: Vec<&ReplicaSlot> = old
        .into_iter()
        .filter(|r| r.phase != ReplicaPhase::Exited)
        .collect();

    if let Some(failed) = first_failure(rollout, &new, now_ms) {
        // Hold everything while the caller decides (roll back, or stay degraded).
        let mut wants = hold(&old);
        wants.insert(
            0,
            Want {
                revision: rollout.to,
                count: (new_live.len() as u32).min(n),
            },
        );
        return Step {
            wants,
            outcome: failed,
        };
    }

    let new_healthy = new_live.iter().filter(|r| r.healthy).count() as u32;
    let new_count = new_live.len() as u32;
    let old_healthy = old.iter().filter(|r| r.healthy).count() as u32;
    let old_count = old.len() as u32;

    let (surge, unavailable) = match rollout.strategy {
        UpdateStrategy::Rolling {
            max_surge,
            max_unavailable,
            ..
        } => (max_surge, max_unavailable),
        UpdateStrategy::Canary {
            canaries,
            promotion,
            healthy_period_s,
            ..
        } if !rollout.promoted => {
            return canary_step(
                rollout,
                &new_live,
                &old,
                canaries,
                promotion,
                healthy_period_s,
                now_ms,
            );
        }
        UpdateStrategy::Canary { .. } => (1, 0),
    };

    if new_healthy >= n && old_count == 0 {
        return Step {
            wants: vec![Want {
                revision: rollout.to,
                count: n,
            }],
            outcome: Outcome::Complete,
        };
    }

    let max_total = n + surge;
    let min_available = n.saturating_sub(unavailable);
    // Old replicas: unhealthy ones may go while the total stays above the minimum; healthy
    // ones only while enough replicas stay healthy.
    let total = new_count + old_count;
    let new_unavailable = new_count.saturating_sub(new_healthy);
    let max_down = total
        .saturating_sub(min_available)
        .saturating_sub(new_unavailable);
    let cleanup = (old_count - old_healthy).min(max_down);
    let healthy_down = old_healthy
        .min((new_healthy + old_healthy).saturating_sub(min_available))
        .min(max_down - cleanup);
    let old_want = old_count - cleanup - healthy_down;
    // New replicas: up to n, as the room left below max_total allows (never fewer than
    // already run).
    let new_want = n
        .min(max_total.saturating_sub(old_want))
        .max(new_count.min(n));

    let mut wants = vec![Want {
        revision: rollout.to,
        count: new_want,
    }];
    let mut old_wants = hold(&old);
    trim_old(&mut old_wants, old_want);
    wants.extend(old_wants.into_iter().filter(|w| w.count > 0));
    Step {
        wants,
        outcome: Outcome::Progressing,
    }
}

/// The canary phase: `canaries` new replicas next to the old ones, which keep their count
/// (lost ones replaced, up to `replicas`), until every canary has stayed healthy for the
/// healthy period.
fn canary_step(
    rollout: &Rollout,
    new_live: &[&ReplicaSlot],
    old: &[&ReplicaSlot],
    canaries: u32,
    promotion: Promotion,
    healthy_period_s: u32,
    now_ms: u64,
) -> Step {
    let target = canaries.min(rollout.replicas);
    let period_ms = u64::from(healthy_period_s) * 1_000;
    let settled = new_live
        .iter()
        .filter(|r| {
            r.healthy_since_ms
                .is_some_and(|since| now_ms.saturating_sub(since) >= period_ms)
        })
        .count() as u32;
    let outcome = if settled < target {
        Outcome::Progressing
    } else {
        match promotion {
            Promotion::Auto => Outcome::Promote,
            Promotion::Manual => Outcome::AwaitingPromotion,
        }
    };
    let mut old_wants = hold(old);
    let old_total: u32 = old_wants.iter().map(|w| w.count).sum();
    if let Some(newest_old) = old_wants.first_mut() {
        newest_old.count += rollout.replicas.saturating_sub(old_total);
    }
    trim_old(&mut old_wants, rollout.replicas);
    let mut wants = vec![Want {
        revision: rollout.to,
        count: target,
    }];
    wants.extend(old_wants);
    Step { wants, outcome }
}

/// Cuts the old revisions' counts (newest first in `wants`) to `total`, taking from the
/// oldest revision first.
fn trim_old(wants: &mut [Want], total: u32) {
    let mut budget = total;
    for w in wants.iter_mut() {
        w.count = w.count.min(budget);
        budget -= w.count;
    }
}
