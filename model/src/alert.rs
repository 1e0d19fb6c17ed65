//! Alerts: what the master raises when something needs a person. The built-in
//! [`AlertRule::NodeOffline`] fires when a node's heartbeat TTL expires and resolves when
//! the node comes back (or is revoked: revoking a node is a decision, not an incident);
//! [`AlertRule::Threshold`] alerts come from the threshold rules of [`crate::alert_rule`]
//! (e.g. `cpu_total_pct > 90 for 120 s`), [`AlertRule::ContainerExited`] and
//! [`AlertRule::RolloutRolledBack`] from projects' timelines.
//! Active alerts live in the master's memory; every alert, firing or resolved, is also kept
//! in a bounded history in its store.

use serde::{Deserialize, Serialize};

/// History entries one page answers unless asked otherwise.
pub const DEFAULT_ALERTS: usize = 50;
/// Most history entries one page answers.
pub const MAX_ALERTS: usize = 500;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AlertRule {
    /// A node stopped sending heartbeats: its TTL (plus grace) expired.
    NodeOffline,
    /// A threshold rule's condition held for its duration (`rule_id`, `metric`, `value`,
    /// `threshold` and `target` say which).
    Threshold,
    /// A project's replica container ended unexpectedly (`target` is the project).
    ContainerExited,
    /// A project's rollout failed and rolled back (`target` is the project).
    RolloutRolledBack,
}

impl AlertRule {
    /// `node_offline`, `threshold`, `container_exited` or `rollout_rolled_back`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NodeOffline => "node_offline",
            Self::Threshold => "threshold",
            Self::ContainerExited => "container_exited",
            Self::RolloutRolledBack => "rollout_rolled_back",
        }
    }
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Severity {
    /// For the record.
    Info,
    /// Someone should look.
    #[default]
    Warning,
    /// Someone must act now.
    Critical,
}

impl Severity {
    /// `info`, `warning` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }

    /// The severity named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "info" => Some(Self::Info),
            "warning" => Some(Self::Warning),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }
}

/// Whether an alert still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AlertState {
    /// The condition holds.
    Firing,
    /// The condition ended.
    Resolved,
}

/// Why an alert resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Resolution {
    /// The node sent a heartbeat again.
    Online,
    /// The node was revoked; it is not expected back.
    Revoked,
    /// The rule's condition no longer holds (past its recovery threshold, or the rule was
    /// changed so that it no longer holds; for a project event: the project is ready).
    Recovered,
    /// The rule was deleted or disabled.
    RuleDeleted,
    /// No fresh data: the node went offline, stopped reporting the metric (a mount gone)
    /// or left the rule's scope.
    NoData,
}

/// One alert, as stored, answered by the API and sent in events. The fields after
/// `resolution` were added with threshold rules; records stored before read them as
/// absent (empty, `None`, `warning`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertRecord {
    /// Alert id (increasing, never reused).
    pub id: u64,
    /// What it is about.
    pub rule: AlertRule,
    /// The node concerned.
    pub node: u64,
    /// The node's host name when the alert fired (empty if it never reported one).
    pub node_name: String,
    /// Whether it still holds.
    pub state: AlertState,
    /// When it fired, Unix ms (master clock).
    pub fired_ms: u64,
    /// When it resolved, Unix ms.
    pub resolved_ms: Option<u64>,
    /// Why it resolved.
    pub resolution: Option<Resolution>,
    /// The rule that raised it (a threshold rule's id; `None` for built-in events).
    #[serde(default)]
    pub rule_id: Option<u64>,
    /// The rule's name (for built-in events, their kind, e.g. `node_offline`).
    #[serde(default)]
    pub rule_name: String,
    /// How urgent it is.
    #[serde(default)]
    pub severity: Severity,
    /// The metric watched (e.g. `disk_used_pct`), empty for an event.
    #[serde(default)]
    pub metric: String,
    /// What on the node it is about: a mount point for `disk_used_pct`, a project's name
    /// for a project event; empty when the node itself.
    #[serde(default)]
    pub target: String,
    /// The value when it fired (or, once resolved, when it resolved).
    #[serde(default)]
    pub value: Option<f64>,
    /// The rule's threshold, when it has one.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// A silence matched when it fired: shown, but no notification was sent.
    #[serde(default)]
    pub silenced: bool,
    /// One line for people, e.g. `cpu_total_pct 93.1 > 90 for 120 s`.
    #[serde(default)]
    pub summary: String,
}

impl AlertRecord {
    /// A firing node-offline alert (the built-in), with the fields added later empty.
    pub fn offline(id: u64, node: u64, node_name: &str, fired_ms: u64) -> Self {
        Self {
            id,
            rule: AlertRule::NodeOffline,
            node,
            node_name: node_name.to_owned(),
            state: AlertState::Firing,
            fired_ms,
            resolved_ms: None,
            resolution: None,
            rule_id: None,
            rule_name: AlertRule::NodeOffline.as_str().to_owned(),
            severity: Severity::Critical,
            metric: String::new(),
            target: String::new(),
            value: None,
            threshold: None,
            silenced: false,
            summary: String::new(),
        }
    }

    /// The notification announcing this record (firing or resolved).
    pub fn notification(&self) -> Notification {
        Notification {
            status: match self.state {
                AlertState::Firing => NotificationStatus::Firing,
                AlertState::Resolved => NotificationStatus::Resolved,
            },
            alert_id: self.id,
            rule: if self.rule_name.is_empty() {
                self.rule.as_str().to_owned()
            } else {
                self.rule_name.clone()
            },
            severity: self.severity.as_str().to_owned(),
            node: (self.node != 0).then_some(self.node),
            node_name: self.node_name.clone(),
            metric: self.metric.clone(),
            value: self.value,
            threshold: self.threshold,
            started_at: self.fired_ms,
            ended_at: self.resolved_ms,
            summary: if self.summary.is_empty() {
                format!("{} on {}", self.rule.as_str(), self.node_label())
            } else {
                format!("{} on {}", self.summary, self.node_label())
            },
        }
    }

    /// The node's name for people: its host name, or `node N`.
    pub fn node_label(&self) -> String {
        if self.node == 0 {
            "–".to_owned()
        } else if self.node_name.is_empty() {
            format!("node {}", self.node)
        } else {
            self.node_name.clone()
        }
    }
}

/// Which alerts of the history to answer (all fields optional: `None` matches any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only firing or only resolved alerts.
    pub state: Option<AlertState>,
    /// Only alerts of this severity.
    pub severity: Option<Severity>,
    /// Only alerts about this node.
    pub node: Option<u64>,
    /// Only alerts of this rule: its id (decimal), its name or a built-in kind
    /// (`node_offline`, `threshold`, `container_exited`, `rollout_rolled_back`).
    pub rule: Option<String>,
}

impl AlertFilter {
    /// Whether no field filters anything.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Whether `alert` passes.
    pub fn matches(&self, alert: &AlertRecord) -> bool {
        self.state.is_none_or(|s| alert.state == s)
            && self.severity.is_none_or(|s| alert.severity == s)
            && self.node.is_none_or(|n| alert.node == n)
            && self.rule.as_deref().is_none_or(|r| {
                alert.rule_name == r
                    || alert.rule.as_str() == r
                    || alert.rule_id.is_some_and(|id| id.to_string() == r)
            })
    }
}

/// Which page of the history to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertQuery {
    /// Only alerts with a smaller id (the `next` of the previous page).
    pub before: Option<u64>,
    /// Most history entries, 0..=[`MAX_ALERTS`] (0: the active alerts only).
    pub limit: usize,
    /// Which alerts (the active ones and the history page alike).
    pub filter: AlertFilter,
}

impl Default for AlertQuery {
    fn default() -> Self {
        Self {
            before: None,
            limit: DEFAULT_ALERTS,
            filter: AlertFilter::default(),
        }
    }
}

/// The answer of `GET /api/v1/alerts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertList {
    /// Alerts firing now, newest first.
    pub active: Vec<AlertRecord>,
    /// One page of every alert kept (firing or resolved), newest first.
    pub history: Vec<AlertRecord>,
    /// Alerts kept in the history (the oldest are pruned beyond a bound), filtered or not.
    pub total: u64,
    /// `before` of the next (older) page, `None` on the last page.
    pub next: Option<u64>,
}

/// Query of the alert list (all optional).
#[derive(Debug, Default, Deserialize)]
pub struct AlertParams {
    /// Only alerts with a smaller id.
    pub before: Option<u64>,
    /// Most history entries, 0..=[`MAX_ALERTS`] (default [`DEFAULT_ALERTS`]).
    pub limit: Option<usize>,
    /// `firing` or `resolved`.
    pub state: Option<String>,
    /// `info`, `warning` or `critical`.
    pub severity: Option<String>,
    /// A node id.
    pub node: Option<u64>,
    /// A rule id, name or built-in kind.
    pub rule: Option<String>,
}

impl AlertParams {
    /// The query these parameters ask for, or what is wrong with them. Empty strings
    /// (a form's "any") filter nothing.
    pub fn to_query(&self) -> Result<AlertQuery, crate::Invalid> {
        let limit = self.limit.unwrap_or(DEFAULT_ALERTS);
        if limit > MAX_ALERTS {
            return Err(crate::Invalid::new(
                "limit",
                format!("limit must be in 0..={MAX_ALERTS}"),
            ));
        }
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        let state = match given(&self.state) {
            None => None,
            Some("firing") => Some(AlertState::Firing),
            Some("resolved") => Some(AlertState::Resolved),
            Some(_) => {
                return Err(crate::Invalid::new(
                    "state",
                    "state must be firing or resolved",
                ));
            }
        };
        let severity = match given(&self.severity) {
            None => None,
            Some(s) => Some(Severity::parse(s).ok_or_else(|| {
                crate::Invalid::new("severity", "severity must be info, warning or critical")
            })?),
        };
        let rule = given(&self.rule).map(str::to_owned);
        if rule.as_ref().is_some_and(|r| r.chars().count() > 64) {
            return Err(crate::Invalid::new(
                "rule",
                "rule must be at most 64 characters",
            ));
        }
        Ok(AlertQuery {
            before: self.before,
            limit,
            filter: AlertFilter {
                state,
                severity,
                node: self.node.filter(|n| *n != 0),
                rule,
            },
        })
    }
}

/// Whether a notification announces that an alert fired or that it resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum NotificationStatus {
    /// The alert started firing.
    Firing,
    /// The alert resolved.
    Resolved,
}

/// What is sent to notification channels once when an alert fires and once when it
/// resolves (never once per sample). The alert evaluator builds it; the channels
/// (webhook, email, DingTalk, WeCom, Feishu) render and deliver it. A webhook's JSON body
/// is this record as serialised here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    /// `firing` or `resolved`.
    pub status: NotificationStatus,
    /// The alert's id (the same in its firing and its resolved notification).
    pub alert_id: u64,
    /// The rule's name (a built-in's is its kind, e.g. `node_offline`).
    pub rule: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The node concerned, when the alert is about one.
    pub node: Option<u64>,
    /// That node's name for people (host name or display name), empty when none.
    pub node_name: String,
    /// The metric the rule watches (e.g. `cpu_total_pct`), empty for an event.
    pub metric: String,
    /// The value that fired the alert (or resolved it), when the rule watches a metric.
    pub value: Option<f64>,
    /// The rule's threshold, when it has one.
    pub threshold: Option<f64>,
    /// When the alert started firing, Unix ms (master clock).
    pub started_at: u64,
    /// When it resolved, Unix ms; `None` while firing.
    pub ended_at: Option<u64>,
    /// One line for people, e.g. `cpu_total_pct 93.1 > 90 for 120 s on web-1`.
    pub summary: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_serialise_with_snake_case_names() {
        let mut alert = AlertRecord::offline(3, 2, "", 10);
        alert.state = AlertState::Resolved;
        alert.resolved_ms = Some(20);
        alert.resolution = Some(Resolution::Revoked);
        let json = serde_json::to_value(&alert).unwrap();
        assert_eq!(json["rule"], "node_offline");
        assert_eq!(json["state"], "resolved");
        assert_eq!(json["resolution"], "revoked");
        assert_eq!(alert.node_label(), "node 2");
        let back: AlertRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, alert);
    }

    #[test]
    fn params_are_checked() {
        let p = |before, limit| {
            AlertParams {
                before,
                limit,
                ..AlertParams::default()
            }
            .to_query()
        };
        assert_eq!(p(None, None), Ok(AlertQuery::default()));
        assert_eq!(
            p(Some(9), Some(0)),
            Ok(AlertQuery {
                before: Some(9),
                limit: 0,
                filter: AlertFilter::default(),
            })
        );
        assert!(p(None, Some(MAX_ALERTS + 1)).is_err());
        let filtered = AlertParams {
            state: Some("firing".into()),
            severity: Some("critical".into()),
            node: Some(2),
            rule: Some("node_offline".into()),
            ..AlertParams::default()
        }
        .to_query()
        .unwrap();
        let alert = AlertRecord::offline(1, 2, "db", 5);
        assert!(filtered.filter.matches(&alert));
        let mut other = alert.clone();
        other.node = 3;
        assert!(!filtered.filter.matches(&other));
        let bad = |state: &str, severity: &str| {
            AlertParams {
                state: Some(state.into()),
                severity: Some(severity.into()),
                ..AlertParams::default()
            }
            .to_query()
            .map_err(|e| e.field)
        };
        assert_eq!(bad("open", ""), Err("state".to_owned()));
        assert_eq!(bad("", "loud"), Err("severity".to_owned()));
        assert!(bad("", "").unwrap().filter.is_empty());
    }
}
