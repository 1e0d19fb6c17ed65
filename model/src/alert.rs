//! Alerts: what the master raises when something needs a person. Today one built-in rule,
//! [`AlertRule::NodeOffline`], fires when a node's heartbeat TTL expires and resolves when
//! the node comes back (or is revoked: revoking a node is a decision, not an incident).
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
}

impl AlertRule {
    /// `node_offline`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NodeOffline => "node_offline",
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
}

/// One alert, as stored, answered by the API and sent in events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl AlertRecord {
    /// The node's name for people: its host name, or `node N`.
    pub fn node_label(&self) -> String {
        if self.node_name.is_empty() {
            format!("node {}", self.node)
        } else {
            self.node_name.clone()
        }
    }
}

/// Which page of the history to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertQuery {
    /// Only alerts with a smaller id (the `next` of the previous page).
    pub before: Option<u64>,
    /// Most history entries, 0..=[`MAX_ALERTS`] (0: the active alerts only).
    pub limit: usize,
}

impl Default for AlertQuery {
    fn default() -> Self {
        Self {
            before: None,
            limit: DEFAULT_ALERTS,
        }
    }
}

/// The answer of `GET /api/v1/alerts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertList {
    /// Alerts firing now, newest first.
    pub active: Vec<AlertRecord>,
    /// One page of every alert kept (firing or resolved), newest first.
    pub history: Vec<AlertRecord>,
    /// Alerts kept in the history (the oldest are pruned beyond a bound).
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
}

impl AlertParams {
    /// The query these parameters ask for, or what is wrong with them.
    pub fn to_query(&self) -> Result<AlertQuery, crate::Invalid> {
        let limit = self.limit.unwrap_or(DEFAULT_ALERTS);
        if limit > MAX_ALERTS {
            return Err(crate::Invalid::new(
                "limit",
                format!("limit must be in 0..={MAX_ALERTS}"),
            ));
        }
        Ok(AlertQuery {
            before: self.before,
            limit,
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
        let alert = AlertRecord {
            id: 3,
            rule: AlertRule::NodeOffline,
            node: 2,
            node_name: String::new(),
            state: AlertState::Resolved,
            fired_ms: 10,
            resolved_ms: Some(20),
            resolution: Some(Resolution::Revoked),
        };
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
        let p = |before, limit| AlertParams { before, limit }.to_query();
        assert_eq!(p(None, None), Ok(AlertQuery::default()));
        assert_eq!(
            p(Some(9), Some(0)),
            Ok(AlertQuery {
                before: Some(9),
                limit: 0
            })
        );
        assert!(p(None, Some(MAX_ALERTS + 1)).is_err());
    }
}
