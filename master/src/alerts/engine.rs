//! [`RuleEngine`]: the sans-io evaluator of alert rules. Time is passed in; nothing here
//! reads a clock, locks or does I/O. Every call returns an [`Output`]: the alert records
//! to publish (firing or resolved) and the notifications to hand to the
//! [`Notifier`](super::notify::Notifier).
//!
//! Per threshold rule × target (a node, or a node and a mount for `disk_used_pct`):
//!
//! ```text
//! inactive ──cond──▶ pending ──cond held for_s──▶ firing ──past recover_threshold──▶ resolved
//!    ▲                 │ (not cond)                 │ (rule changed/deleted, no data)
//!    └─────────────────┘                            └──────────────────────────────▶ resolved
//! ```
//!
//! One notification when an alert fires and one when it resolves, never one per sample.
//! A silenced alert is published (marked `silenced`) without a notification; should its
//! silence end while it still fires, its firing notification goes out then, and its
//! resolution is announced only if its firing was.
//!
//! Stale data never fires a rule: a node going offline ([`RuleEngine::node_offline`]), a
//! target missing from a sample (a mount gone) or a target without a sample for
//! `stale_ms` ([`RuleEngine::tick`]) drops its pending state and resolves its alert as
//! `no_data`.
//!
//! Built-in events: node-offline alerts are raised by the cluster's `AlertBook`; the
//! engine only decides who hears of them ([`RuleEngine::builtin_alert`]) from the enabled
//! event rules (`metric: node_offline`). Project events ([`RuleEngine::project_event`]):
//! a replica that exited fires `container_exited`, an automatic rollback fires
//! `rollout_rolled_back`, each once per project until the project is ready again (or
//! deleted). They fire only while an enabled event rule covers them. **Seam:** when
//! supervised executables land (issue 13), an executable crash loop becomes one more
//! [`EventKind`] fed the same way.

use std::collections::{BTreeMap, BTreeSet};

use model::alert::{AlertRecord, AlertRule, AlertState, Notification, Resolution, Severity};
use model::alert_rule::{AlertRuleRecord, Metric, Scope, SilenceRecord};
use protocol::MetricSample;

use super::AlertIds;
use super::metrics::{self, NetCounters};

/// A notification and the channels it goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Channel names (the rule's).
    pub channels: Vec<String>,
    /// What to send.
    pub notification: Notification,
}

/// What a call changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Output {
    /// Alert records to publish (history, console events), in order.
    pub records: Vec<AlertRecord>,
    /// Notifications to send, in order.
    pub notices: Vec<Notice>,
}

impl Output {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.notices.is_empty()
    }

    fn extend(&mut self, other: Output) {
        self.records.extend(other.records);
        self.notices.extend(other.notices);
    }
}

/// A project event that may become an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    /// A replica's container ended unexpectedly.
    ContainerExited,
    /// A rollout failed and rolled back by itself.
    RolloutRolledBack,
}

impl EventKind {
    fn metric(self) -> Metric {
        match self {
            EventKind::ContainerExited => Metric::ContainerExited,
            EventKind::RolloutRolledBack => Metric::RolloutRolledBack,
        }
    }

    fn rule(self) -> AlertRule {
        match self {
            EventKind::ContainerExited => AlertRule::ContainerExited,
            EventKind::RolloutRolledBack => AlertRule::RolloutRolledBack,
        }
    }
}

/// A firing alert and whether its firing was announced.
#[derive(Debug, Clone)]
struct Firing {
    alert: AlertRecord,
    notified: bool,
    channels: Vec<String>,
}

#[derive(Debug, Clone)]
enum Phase {
    Pending { since_ms: u64 },
    Firing(Box<Firing>),
}

#[derive(Debug, Clone)]
struct Target {
    phase: Phase,
    last_value: f64,
    last_ms: u64,
}

/// Rule id, node, target (mount or empty).
type Key = (u64, u64, String);

/// The rules, silences and the state of every rule × target.
#[derive(Debug)]
pub struct RuleEngine {
    ids: AlertIds,
    stale_ms: u64,
    rules: BTreeMap<u64, AlertRuleRecord>,
    silences: Vec<SilenceRecord>,
    project_nodes: BTreeMap<String, BTreeSet<u64>>,
    states: BTreeMap<Key, Target>,
    nets: BTreeMap<u64, NetCounters>,
    names: BTreeMap<u64, String>,
    events: BTreeMap<(EventKind, String), Firing>,
    /// Node-offline alerts (by id) seen firing: their channels and whether announced.
    offline: BTreeMap<u64, Firing>,
}

fn round(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn summary(rule: &AlertRuleRecord, target: &str, value: f64) -> String {
    let what = if target.is_empty() {
        rule.metric.as_str().to_owned()
    } else {
        format!("{} {target}", rule.metric.as_str())
    };
    let mut s = format!(
        "{what} {} {} {}",
        round(value),
        rule.op.as_str(),
        rule.threshold
    );
    if rule.for_s > 0 {
        s.push_str(&format!(" for {} s", rule.for_s));
    }
    s
}

impl RuleEngine {
    /// An engine allocating alert ids from `ids` (shared with the cluster's book); a
    /// target without a sample for `stale_ms` counts as without data.
    pub fn new(ids: AlertIds, stale_ms: u64) -> Self {
        Self {
            ids,
            stale_ms: stale_ms.max(1),
            rules: BTreeMap::new(),
            silences: Vec::new(),
            project_nodes: BTreeMap::new(),
            states: BTreeMap::new(),
            nets: BTreeMap::new(),
            names: BTreeMap::new(),
            events: BTreeMap::new(),
            offline: BTreeMap::new(),
        }
    }

    /// The rules, by id.
    pub fn rules(&self) -> impl Iterator<Item = &AlertRuleRecord> {
        self.rules.values()
    }

    /// The alerts firing now (threshold and project events), newest first.
    pub fn active(&self) -> Vec<AlertRecord> {
        let mut out: Vec<AlertRecord> = self
            .states
            .values()
            .filter_map(|t| match &t.phase {
                Phase::Firing(f) => Some(f.alert.clone()),
                Phase::Pending { .. } => None,
            })
            .chain(self.events.values().map(|f| f.alert.clone()))
            .collect();
        out.sort_by_key(|a| std::cmp::Reverse(a.id));
        out
    }

    /// How many targets are pending (condition holds, `for_s` not yet over).
    pub fn pending_count(&self) -> usize {
        self.states
            .values()
            .filter(|t| matches!(t.phase, Phase::Pending { .. }))
            .count()
    }

    /// Takes back an alert that was firing when the master stopped: it resolves when the
    /// next samples say so, when no sample comes for `stale_ms` from `now_ms`, or when its
    /// rule is gone. Node-offline alerts are the cluster's; resolved ones are ignored.
    pub fn restore(&mut self, alert: AlertRecord, now_ms: u64) {
        self.ids.bump_past(alert.id);
        if alert.state != AlertState::Firing {
            return;
        }
        let firing = |alert: AlertRecord, channels| Firing {
            notified: !alert.silenced,
            alert,
            channels,
        };
        match alert.rule {
            AlertRule::NodeOffline => {}
            AlertRule::Threshold => {
                let Some(rule_id) = alert.rule_id else { return };
                let channels = self
                    .rules
                    .get(&rule_id)
                    .map(|r| r.channels.clone())
                    .unwrap_or_default();
                let key = (rule_id, alert.node, alert.target.clone());
                let last_value = alert.value.unwrap_or(0.0);
                self.states.insert(
                    key,
                    Target {
                        phase: Phase::Firing(Box::new(firing(alert, channels))),
                        last_value,
                        last_ms: now_ms,
                    },
                );
            }
            AlertRule::ContainerExited | AlertRule::RolloutRolledBack => {
                let kind = if alert.rule == AlertRule::ContainerExited {
                    EventKind::ContainerExited
                } else {
                    EventKind::RolloutRolledBack
                };
                let channels = self.event_rules(kind.metric(), alert.node, &alert.target).1;
                self.events
                    .insert((kind, alert.target.clone()), firing(alert, channels));
            }
        }
    }

    fn silenced(&self, rule_id: Option<u64>, name: &str, kind: &str, node: u64, now: u64) -> bool {
        self.silences
            .iter()
            .any(|s| s.matches(rule_id, name, kind, node, now))
    }

    fn in_scope(&self, scope: &Scope, node: u64) -> bool {
        match scope {
            Scope::All(_) => true,
            Scope::Node(n) => *n == node,
            // Nodes carry no labels yet.
            Scope::Label(_) => false,
            Scope::Project(p) => self.project_nodes.get(p).is_some_and(|s| s.contains(&node)),
        }
    }

    fn notify(out: &mut Output, channels: &[String], alert: &AlertRecord) {
        out.notices.push(Notice {
            channels: channels.to_vec(),
            notification: alert.notification(),
        });
    }

    fn resolve(mut f: Firing, why: Resolution, value: Option<f64>, now: u64, out: &mut Output) {
        f.alert.state = AlertState::Resolved;
        f.alert.resolved_ms = Some(now.max(f.alert.fired_ms));
        f.alert.resolution = Some(why);
        if let Some(v) = value {
            f.alert.value = Some(round(v));
        }
        out.records.push(f.alert.clone());
        if f.notified {
            Self::notify(out, &f.channels, &f.alert);
        }
    }

    fn fire(
        &self,
        rule: &AlertRuleRecord,
        node: u64,
        target: &str,
        value: f64,
        now: u64,
        out: &mut Output,
    ) -> Firing {
        let silenced = self.silenced(Some(rule.id), &rule.name, "threshold", node, now);
        let alert = AlertRecord {
            id: self.ids.next(),
            rule: AlertRule::Threshold,
            node,
            node_name: self.names.get(&node).cloned().unwrap_or_default(),
            state: AlertState::Firing,
            fired_ms: now,
            resolved_ms: None,
            resolution: None,
            rule_id: Some(rule.id),
            rule_name: rule.name.clone(),
            severity: rule.severity,
            metric: rule.metric.as_str().to_owned(),
            target: target.to_owned(),
            value: Some(round(value)),
            threshold: Some(rule.threshold),
            silenced,
            summary: summary(rule, target, value),
        };
        out.records.push(alert.clone());
        if !silenced {
            Self::notify(out, &rule.channels, &alert);
        }
        Firing {
            alert,
            notified: !silenced,
            channels: rule.channels.clone(),
        }
    }

    /// One value of `rule` for `node`/`target` at `now`.
    fn step(
        &mut self,
        rule: &AlertRuleRecord,
        node: u64,
        target: &str,
        value: f64,
        now: u64,
        out: &mut Output,
    ) {
        let key = (rule.id, node, target.to_owned());
        let holds = rule.op.holds(value, rule.threshold);
        let due = |since: u64| now.saturating_sub(since) >= rule.for_s.saturating_mul(1000);
        let Some(state) = self.states.remove(&key) else {
            if holds {
                let phase = if due(now) {
                    Phase::Firing(Box::new(self.fire(rule, node, target, value, now, out)))
                } else {
                    Phase::Pending { since_ms: now }
                };
                self.states.insert(
                    key,
                    Target {
                        phase,
                        last_value: value,
                        last_ms: now,
                    },
                );
            }
            return;
        };
        let phase = match state.phase {
            Phase::Pending { since_ms } if holds => {
                if due(since_ms) {
                    Phase::Firing(Box::new(self.fire(rule, node, target, value, now, out)))
                } else {
                    Phase::Pending { since_ms }
                }
            }
            Phase::Pending { .. } => return,
            Phase::Firing(f) => {
                if rule.op.holds(value, rule.recover_threshold) {
                    Phase::Firing(f)
                } else {
                    Self::resolve(*f, Resolution::Recovered, Some(value), now, out);
                    return;
                }
            }
        };
        self.states.insert(
            key,
            Target {
                phase,
                last_value: value,
                last_ms: now,
            },
        );
    }

    /// Drops every state matching `pred`: pending ones are forgotten, firing ones resolve
    /// for `why`.
    fn drop_states(
        &mut self,
        pred: impl Fn(&Key, &Target) -> bool,
        why: Resolution,
        now: u64,
        out: &mut Output,
    ) {
        let keys: Vec<Key> = self
            .states
            .iter()
            .filter(|(k, t)| pred(k, t))
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Some(Target {
                phase: Phase::Firing(f),
                ..
            }) = self.states.remove(&key)
            {
                Self::resolve(*f, why, None, now, out);
            }
        }
    }

    /// A sample from `node` (host name `name`) received at `now`.
    pub fn sample(&mut self, node: u64, name: &str, sample: &MetricSample, now: u64) -> Output {
        let mut out = Output::default();
        if !name.is_empty() {
            self.names.insert(node, name.to_owned());
        }
        let taken = if sample.taken_at_ms > 0 {
            sample.taken_at_ms
        } else {
            now
        };
        let counters = NetCounters::of(sample, taken);
        let rates = metrics::rates(self.nets.get(&node), &counters, sample);
        self.nets.insert(node, counters);
        let rules: Vec<AlertRuleRecord> = self
            .rules
            .values()
            .filter(|r| r.enabled && !r.metric.is_event() && self.in_scope(&r.scope, node))
            .cloned()
            .collect();
        for rule in &rules {
            let values = metrics::values(rule.metric, sample, rates);
            for (target, value) in &values {
                self.step(rule, node, target, *value, now, &mut out);
            }
            // A target this sample no longer reports (a mount gone): no data.
            let seen: BTreeSet<&str> = values.iter().map(|(t, _)| t.as_str()).collect();
            self.drop_states(
                |k, _| k.0 == rule.id && k.1 == node && !seen.contains(k.2.as_str()),
                Resolution::NoData,
                now,
                &mut out,
            );
        }
        out
    }

    /// Creates or replaces a rule at `now`: alerts of the old rule that no longer apply
    /// (disabled, another metric, out of scope, condition no longer holding) resolve.
    pub fn set_rule(&mut self, rule: AlertRuleRecord, now: u64) -> Output {
        let mut out = Output::default();
        let old_metric = self.rules.get(&rule.id).map(|r| r.metric);
        self.rules.insert(rule.id, rule.clone());
        let keys: Vec<Key> = self
            .states
            .keys()
            .filter(|k| k.0 == rule.id)
            .cloned()
            .collect();
        for key in keys {
            let Some(Target {
                phase,
                last_value,
                last_ms,
            }) = self.states.remove(&key)
            else {
                continue;
            };
            let why = if !rule.enabled {
                Some(Resolution::RuleDeleted)
            } else if old_metric != Some(rule.metric) {
                Some(Resolution::Recovered)
            } else if !self.in_scope(&rule.scope, key.1) {
                Some(Resolution::NoData)
            } else {
                None
            };
            match phase {
                Phase::Firing(mut f) => {
                    let why = why.or_else(|| {
                        (!rule.op.holds(last_value, rule.recover_threshold))
                            .then_some(Resolution::Recovered)
                    });
                    if let Some(why) = why {
                        let value = (why == Resolution::Recovered
                            && old_metric == Some(rule.metric))
                        .then_some(last_value);
                        Self::resolve(*f, why, value, now, &mut out);
                    } else {
                        f.channels.clone_from(&rule.channels);
                        self.states.insert(
                            key,
                            Target {
                                phase: Phase::Firing(f),
                                last_value,
                                last_ms,
                            },
                        );
                    }
                }
                Phase::Pending { since_ms } => {
                    if why.is_none() && rule.op.holds(last_value, rule.threshold) {
                        self.states.insert(
                            key,
                            Target {
                                phase: Phase::Pending { since_ms },
                                last_value,
                                last_ms,
                            },
                        );
                    }
                }
            }
        }
        if rule.metric.is_event() {
            self.refresh_event_channels();
        }
        out
    }

    /// Deletes a rule at `now`: its firing alerts resolve, its pending states are dropped.
    pub fn remove_rule(&mut self, id: u64, now: u64) -> Output {
        let mut out = Output::default();
        let removed = self.rules.remove(&id);
        self.drop_states(|k, _| k.0 == id, Resolution::RuleDeleted, now, &mut out);
        if removed.is_some_and(|r| r.metric.is_event()) {
            // Project events no event rule covers any more resolve.
            let kinds: Vec<(EventKind, String)> = self.events.keys().cloned().collect();
            for (kind, project) in kinds {
                let node = self.events[&(kind, project.clone())].alert.node;
                if self.event_rules(kind.metric(), node, &project).0.is_empty()
                    && let Some(f) = self.events.remove(&(kind, project))
                {
                    Self::resolve(f, Resolution::RuleDeleted, None, now, &mut out);
                }
            }
            self.refresh_event_channels();
        }
        out
    }

    fn refresh_event_channels(&mut self) {
        let updates: Vec<((EventKind, String), Vec<String>)> = self
            .events
            .iter()
            .map(|((kind, p), f)| {
                let channels = self.event_rules(kind.metric(), f.alert.node, p).1;
                ((*kind, p.clone()), channels)
            })
            .collect();
        for (key, channels) in updates {
            if let Some(f) = self.events.get_mut(&key) {
                f.channels = channels;
            }
        }
    }

    /// Replaces the silences (expired ones are dropped at the next [`Self::tick`]).
    pub fn set_silences(&mut self, silences: Vec<SilenceRecord>) {
        self.silences = silences;
    }

    /// Which nodes run each project's replicas, for `{"project":NAME}` scopes; alerts of
    /// nodes that left a project's scope resolve (no data).
    pub fn set_project_nodes(&mut self, map: BTreeMap<String, BTreeSet<u64>>, now: u64) -> Output {
        self.project_nodes = map;
        let mut out = Output::default();
        let out_of_scope: Vec<Key> = self
            .states
            .keys()
            .filter(|k| {
                self.rules
                    .get(&k.0)
                    .is_none_or(|r| !self.in_scope(&r.scope, k.1))
            })
            .cloned()
            .collect();
        self.drop_states(
            |k, _| out_of_scope.contains(k),
            Resolution::NoData,
            now,
            &mut out,
        );
        out
    }

    /// `node` went offline at `now`: its rates restart, its pending states are dropped and
    /// its threshold alerts resolve (no data); nothing fires on its last sample.
    pub fn node_offline(&mut self, node: u64, now: u64) -> Output {
        let mut out = Output::default();
        self.nets.remove(&node);
        self.drop_states(|k, _| k.1 == node, Resolution::NoData, now, &mut out);
        out
    }

    /// Periodic work at `now`: targets without a sample for `stale_ms` lose their state
    /// (no data), expired silences are dropped, and alerts whose silence ended while they
    /// still fire are announced now.
    pub fn tick(&mut self, now: u64) -> Output {
        let mut out = Output::default();
        let stale = self.stale_ms;
        self.drop_states(
            |_, t| t.last_ms.saturating_add(stale) < now,
            Resolution::NoData,
            now,
            &mut out,
        );
        self.silences.retain(|s| s.until_ms > now);
        let silences = std::mem::take(&mut self.silences);
        let unsilenced = |a: &AlertRecord| {
            !silences
                .iter()
                .any(|s| s.matches(a.rule_id, &a.rule_name, a.rule.as_str(), a.node, now))
        };
        let firings = self
            .states
            .values_mut()
            .filter_map(|t| match &mut t.phase {
                Phase::Firing(f) => Some(&mut **f),
                Phase::Pending { .. } => None,
            })
            .chain(self.events.values_mut())
            .chain(self.offline.values_mut());
        for f in firings {
            if !f.notified && unsilenced(&f.alert) {
                f.notified = true;
                Self::notify(&mut out, &f.channels, &f.alert);
            }
        }
        self.silences = silences;
        out
    }

    /// The enabled event rules for `metric` covering `node` (0: none) or `project`: their
    /// ids and names, and the union of their channels.
    fn event_rules(
        &self,
        metric: Metric,
        node: u64,
        project: &str,
    ) -> (Vec<&AlertRuleRecord>, Vec<String>) {
        let rules: Vec<&AlertRuleRecord> = self
            .rules
            .values()
            .filter(|r| r.enabled && r.metric == metric)
            .filter(|r| match &r.scope {
                Scope::All(_) => true,
                Scope::Node(n) => *n == node,
                Scope::Label(_) => false,
                Scope::Project(p) => {
                    p == project || self.project_nodes.get(p).is_some_and(|s| s.contains(&node))
                }
            })
            .collect();
        let mut channels: Vec<String> = Vec::new();
        for r in &rules {
            for c in &r.channels {
                if !channels.contains(c) {
                    channels.push(c.clone());
                }
            }
        }
        (rules, channels)
    }

    fn event_silenced(&self, rules: &[&AlertRuleRecord], kind: &str, node: u64, now: u64) -> bool {
        rules
            .iter()
            .any(|r| self.silenced(Some(r.id), &r.name, kind, node, now))
            || self.silenced(None, "", kind, node, now)
    }

    /// A node-offline alert the cluster published (firing or resolved) at `now`. Its
    /// firing goes to the channels of the enabled `node_offline` rules covering the node
    /// (none: nobody is told), unless silenced; its resolution to the same channels if its
    /// firing was announced. A firing also ends the node's threshold states.
    pub fn builtin_alert(&mut self, alert: &AlertRecord, now: u64) -> Output {
        let mut out = Output::default();
        if alert.rule != AlertRule::NodeOffline {
            return out;
        }
        match alert.state {
            AlertState::Firing => {
                out.extend(self.node_offline(alert.node, now));
                if self.offline.contains_key(&alert.id) {
                    return out;
                }
                let (rules, channels) = self.event_rules(Metric::NodeOffline, alert.node, "");
                if rules.is_empty() {
                    return out;
                }
                let mut alert = alert.clone();
                alert.severity = rules
                    .iter()
                    .map(|r| r.severity)
                    .max()
                    .unwrap_or(Severity::Critical);
                if let Some(r) = rules.first() {
                    alert.rule_name.clone_from(&r.name);
                }
                let notified = !self.event_silenced(&rules, "node_offline", alert.node, now);
                if notified {
                    Self::notify(&mut out, &channels, &alert);
                }
                self.offline.insert(
                    alert.id,
                    Firing {
                        alert,
                        notified,
                        channels,
                    },
                );
            }
            AlertState::Resolved => {
                if let Some(f) = self.offline.remove(&alert.id)
                    && f.notified
                {
                    let mut resolved = alert.clone();
                    resolved.severity = f.alert.severity;
                    resolved.rule_name = f.alert.rule_name;
                    Self::notify(&mut out, &f.channels, &resolved);
                }
            }
        }
        out
    }

    /// A project's event at `now`: `fire` (`Some(kind)`) raises that kind's alert for the
    /// project once (if an enabled event rule covers it); `ready` resolves both kinds.
    pub fn project_event(
        &mut self,
        project: &str,
        fire: Option<EventKind>,
        ready: bool,
        node: Option<u64>,
        message: &str,
        now: u64,
    ) -> Output {
        let mut out = Output::default();
        if ready {
            for kind in [EventKind::ContainerExited, EventKind::RolloutRolledBack] {
                if let Some(f) = self.events.remove(&(kind, project.to_owned())) {
                    Self::resolve(f, Resolution::Recovered, None, now, &mut out);
                }
            }
        }
        let Some(kind) = fire else { return out };
        if self.events.contains_key(&(kind, project.to_owned())) {
            return out;
        }
        let node = node.unwrap_or(0);
        let (rules, channels) = self.event_rules(kind.metric(), node, project);
        let Some(first) = rules.first() else {
            return out;
        };
        let silenced = self.event_silenced(&rules, kind.rule().as_str(), node, now);
        let alert = AlertRecord {
            id: self.ids.next(),
            rule: kind.rule(),
            node,
            node_name: self.names.get(&node).cloned().unwrap_or_default(),
            state: AlertState::Firing,
            fired_ms: now,
            resolved_ms: None,
            resolution: None,
            rule_id: Some(first.id),
            rule_name: first.name.clone(),
            severity: rules.iter().map(|r| r.severity).max().unwrap_or_default(),
            metric: String::new(),
            target: project.to_owned(),
            value: None,
            threshold: None,
            silenced,
            summary: if message.is_empty() {
                format!("{} in project {project}", kind.rule().as_str())
            } else {
                format!("{} in project {project}: {message}", kind.rule().as_str())
            },
        };
        out.records.push(alert.clone());
        if !silenced {
            Self::notify(&mut out, &channels, &alert);
        }
        self.events.insert(
            (kind, project.to_owned()),
            Firing {
                alert,
                notified: !silenced,
                channels,
            },
        );
        out
    }
}

#[cfg(test)]
mod tests;
