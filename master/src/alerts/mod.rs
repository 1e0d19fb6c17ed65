//! Alerts raised by the master, built in and minimal: one rule, **node offline**.
//!
//! [`AlertBook`] is the sans-io state machine: the cluster tells it when a node's heartbeat
//! TTL expired ([`AlertBook::node_offline`]: the alert fires), when a node is heard from
//! again ([`AlertBook::node_online`]: it resolves) and when a node is revoked
//! ([`AlertBook::node_revoked`]: a revoked node is not expected back, so its alert resolves
//! and it never raises a new one). Each call that changes something returns the record to
//! publish; time is passed in, nothing here reads a clock or does I/O.
//!
//! After a master restart nobody has heard from any node yet. [`AlertBook::expect`]
//! arms a deadline (one heartbeat TTL plus grace plus jitter from the start) for each node;
//! a node that has not come back by then is reported by [`AlertBook::overdue`] and the
//! cluster raises its offline alert, so a node that died while the master was down is
//! noticed too. Alerts still firing when the master stopped are taken back with
//! [`AlertBook::restore`].
//!
//! The cluster (`cluster::alerts`) broadcasts every record to console streams and hands
//! it to the [`writer::AlertWriter`], which keeps the history in the store (newest
//! [`MAX_HISTORY`]).
//!
//! Threshold rules, silences and the built-in project events are evaluated by the
//! [`engine::RuleEngine`] (sans-io) on the evaluator's own task ([`evaluator`]), fed from
//! the cluster's live-sample broadcast, never on the heartbeat path; [`service`] keeps
//! rules and silences in the store and implements `model::service::AlertRules`; the
//! engine's notifications go to a [`notify::Notifier`]. Both machines draw alert ids
//! from one [`AlertIds`].

pub mod channels;
pub mod engine;
pub mod evaluator;
pub mod metrics;
pub mod notify;
pub mod service;
pub mod writer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use model::alert::{AlertRecord, AlertState, Resolution};

/// The alert id counter shared by the [`AlertBook`] and the [`engine::RuleEngine`]:
/// increasing, never reused.
#[derive(Debug, Clone)]
pub struct AlertIds(Arc<AtomicU64>);

impl AlertIds {
    /// A counter whose first id is `next` (at least 1).
    pub fn new(next: u64) -> Self {
        Self(Arc::new(AtomicU64::new(next.max(1))))
    }

    /// Allocates an id.
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes sure later ids are above `id`.
    pub fn bump_past(&self, id: u64) {
        self.0.fetch_max(id.saturating_add(1), Ordering::Relaxed);
    }
}

/// Alerts kept in the store's history; older ones are pruned.
pub const MAX_HISTORY: u64 = 10_000;
/// Alert changes buffered per console stream; a stream further behind is resent the
/// active alerts.
pub const EVENTS_CAPACITY: usize = 256;

/// The active alerts and what is needed to raise new ones.
#[derive(Debug)]
pub struct AlertBook {
    /// Firing alerts by node (one rule, so at most one per node).
    active: BTreeMap<u64, AlertRecord>,
    /// Alert ids (shared with the rule engine).
    ids: AlertIds,
    /// Nodes not heard from since the master started, with their deadline (Unix ms).
    expected: BTreeMap<u64, u64>,
    /// Revoked nodes: never alerted on.
    revoked: std::collections::BTreeSet<u64>,
}

impl AlertBook {
    /// An empty book whose first alert gets `next_id` (one more than the newest stored).
    pub fn new(next_id: u64) -> Self {
        Self::with_ids(AlertIds::new(next_id))
    }

    /// An empty book drawing ids from `ids`.
    pub fn with_ids(ids: AlertIds) -> Self {
        Self {
            active: BTreeMap::new(),
            ids,
            expected: BTreeMap::new(),
            revoked: std::collections::BTreeSet::new(),
        }
    }

    /// Takes back an alert that was firing when the master stopped (resolved ones and
    /// a second one for the same node are ignored).
    pub fn restore(&mut self, alert: AlertRecord) {
        self.ids.bump_past(alert.id);
        if alert.state == AlertState::Firing && alert.rule == model::alert::AlertRule::NodeOffline {
            self.active.entry(alert.node).or_insert(alert);
        }
    }

    /// Expects `node` to be heard from by `deadline_ms` (at start); if it is not, it is
    /// [`overdue`](Self::overdue). A node with a firing alert needs no deadline.
    pub fn expect(&mut self, node: u64, deadline_ms: u64) {
        if !self.active.contains_key(&node) && !self.revoked.contains(&node) {
            self.expected.insert(node, deadline_ms);
        }
    }

    /// Nodes whose start-up deadline passed at `now_ms`, each reported once.
    pub fn overdue(&mut self, now_ms: u64) -> Vec<u64> {
        let late: Vec<u64> = self
            .expected
            .iter()
            .filter(|(_, deadline)| **deadline <= now_ms)
            .map(|(node, _)| *node)
            .collect();
        for node in &late {
            self.expected.remove(node);
        }
        late
    }

    /// Nodes still expected back since the start, by id.
    pub fn awaited(&self) -> Vec<u64> {
        self.expected.keys().copied().collect()
    }

    /// `node` (named `name`) went offline at `now_ms`: fires its alert, unless one is
    /// already firing or the node is revoked.
    pub fn node_offline(&mut self, node: u64, name: &str, now_ms: u64) -> Option<AlertRecord> {
        self.expected.remove(&node);
        if self.revoked.contains(&node) || self.active.contains_key(&node) {
            return None;
        }
        let alert = AlertRecord::offline(self.ids.next(), node, name, now_ms);
        self.active.insert(node, alert.clone());
        Some(alert)
    }

    /// `node` was heard from at `now_ms`: resolves its alert, if one fires.
    pub fn node_online(&mut self, node: u64, now_ms: u64) -> Option<AlertRecord> {
        self.expected.remove(&node);
        self.resolve(node, now_ms, Resolution::Online)
    }

    /// `node` was revoked at `now_ms`: it never alerts again, and a firing alert resolves.
    pub fn node_revoked(&mut self, node: u64, now_ms: u64) -> Option<AlertRecord> {
        self.expected.remove(&node);
        self.revoked.insert(node);
        self.resolve(node, now_ms, Resolution::Revoked)
    }

    fn resolve(&mut self, node: u64, now_ms: u64, why: Resolution) -> Option<AlertRecord> {
        let mut alert = self.active.remove(&node)?;
        alert.state = AlertState::Resolved;
        alert.resolved_ms = Some(now_ms.max(alert.fired_ms));
        alert.resolution = Some(why);
        Some(alert)
    }

    /// The alerts firing now, newest first.
    pub fn active(&self) -> Vec<AlertRecord> {
        let mut out: Vec<AlertRecord> = self.active.values().cloned().collect();
        out.sort_by_key(|a| std::cmp::Reverse(a.id));
        out
    }

    /// The id counter (to share with the rule engine).
    pub fn ids(&self) -> &AlertIds {
        &self.ids
    }

    /// How many alerts fire now.
    pub fn active_count(&self) -> usize {
        self.active.len()
    }
}

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod tests;
