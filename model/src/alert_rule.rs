//! Alert rules and silences: what the operator asks the master to watch, as created and
//! changed through `POST`/`PUT /api/v1/alerts/rules` and `POST /api/v1/alerts/silences`.
//!
//! A **threshold rule** watches one metric of the nodes in its scope: it goes *pending*
//! when `metric op threshold` first holds, *firing* once it has held for `for_s` seconds,
//! and *resolved* when the value is back past `recover_threshold` (the hysteresis; it
//! defaults to the threshold). An **event rule** (metric `node_offline`,
//! `container_exited` or `rollout_rolled_back`) has no threshold: it says which channels
//! hear of a built-in event and how urgent it is. Raw inputs ([`RuleInput`],
//! [`SilenceInput`]) are checked into records by [`RuleInput::validate`] and
//! [`SilenceInput::validate`], each error naming its field.

use serde::{Deserialize, Serialize};

use crate::Invalid;
use crate::alert::Severity;
use crate::error::ServiceError;

/// Longest rule name, silence rule reference and channel name, characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Most channels one rule names.
pub const MAX_CHANNELS: usize = 16;
/// Most rules kept.
pub const MAX_RULES: usize = 500;
/// Most silences kept (expired ones are dropped).
pub const MAX_SILENCES: usize = 500;
/// Longest `for_s`: one week.
pub const MAX_FOR_S: u64 = 7 * 24 * 3600;
/// Longest silence: one year from now.
pub const MAX_SILENCE_MS: u64 = 366 * 24 * 3600 * 1000;

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Metric {
    /// CPU busy share, percent of all cores.
    CpuTotalPct,
    /// Memory in use, percent of physical memory.
    MemUsedPct,
    /// Swap in use, percent of swap (0 without swap).
    SwapUsedPct,
    /// Space used per mount, percent (the alert's target is the mount point).
    DiskUsedPct,
    /// One-minute load average.
    Load1,
    /// Bytes received per second, every interface but `lo`.
    NetRxBytesPerSec,
    /// Bytes sent per second, every interface but `lo`.
    NetTxBytesPerSec,
    /// TCP connections established.
    TcpEstablished,
    /// Event: a node's heartbeat TTL expired.
    NodeOffline,
    /// Event: a project's replica container ended unexpectedly.
    ContainerExited,
    /// Event: a project's rollout rolled back.
    RolloutRolledBack,
}

impl Metric {
    /// Every metric, threshold metrics first.
    pub const ALL: [Metric; 11] = [
        Metric::CpuTotalPct,
        Metric::MemUsedPct,
        Metric::SwapUsedPct,
        Metric::DiskUsedPct,
        Metric::Load1,
        Metric::NetRxBytesPerSec,
        Metric::NetTxBytesPerSec,
        Metric::TcpEstablished,
        Metric::NodeOffline,
        Metric::ContainerExited,
        Metric::RolloutRolledBack,
    ];

    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::CpuTotalPct => "cpu_total_pct",
            Metric::MemUsedPct => "mem_used_pct",
            Metric::SwapUsedPct => "swap_used_pct",
            Metric::DiskUsedPct => "disk_used_pct",
            Metric::Load1 => "load1",
            Metric::NetRxBytesPerSec => "net_rx_bytes_per_sec",
            Metric::NetTxBytesPerSec => "net_tx_bytes_per_sec",
            Metric::TcpEstablished => "tcp_established",
            Metric::NodeOffline => "node_offline",
            Metric::ContainerExited => "container_exited",
            Metric::RolloutRolledBack => "rollout_rolled_back",
        }
    }

    /// The metric named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether it is a built-in event rather than a measured value.
    pub fn is_event(self) -> bool {
        matches!(
            self,
            Metric::NodeOffline | Metric::ContainerExited | Metric::RolloutRolledBack
        )
    }

    /// Whether its values are percentages (0..=100).
    pub fn is_percent(self) -> bool {
        matches!(
            self,
            Metric::CpuTotalPct | Metric::MemUsedPct | Metric::SwapUsedPct | Metric::DiskUsedPct
        )
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Op {
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
}

impl Op {
    /// `>`, `>=`, `<` or `<=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }

    /// The comparison written `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            ">" => Some(Op::Gt),
            ">=" => Some(Op::Ge),
            "<" => Some(Op::Lt),
            "<=" => Some(Op::Le),
            _ => None,
        }
    }

    /// Whether `value op threshold`.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Gt => value > threshold,
            Op::Ge => value >= threshold,
            Op::Lt => value < threshold,
            Op::Le => value <= threshold,
        }
    }

    /// Whether it fires on high values (`>`, `>=`).
    pub fn is_upper(self) -> bool {
        matches!(self, Op::Gt | Op::Ge)
    }
}

/// Which nodes a rule watches. In JSON: `{"all":true}`, `{"node":ID}`, `{"label":"k=v"}`
/// or `{"project":NAME}` (the nodes running that project's replicas). Nodes carry no
/// labels yet, so a label scope is accepted but matches no node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Scope {
    /// Every node (always `true`).
    All(bool),
    /// One node.
    Node(u64),
    /// Nodes with this label, `key=value`.
    Label(String),
    /// Nodes running a replica of this project.
    Project(String),
}

impl Scope {
    /// Reads a scope from its JSON form, naming the field `scope` in errors.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, Invalid> {
        let bad = |m: &str| Invalid::new("scope", format!("scope: {m}"));
        let serde_json::Value::Object(map) = value else {
            return Err(bad(
                "must be an object: {\"all\":true}, {\"node\":ID}, {\"label\":\"k=v\"} or {\"project\":NAME}",
            ));
        };
        if map.len() != 1 {
            return Err(bad(
                "must have exactly one of the keys all, node, label, project",
            ));
        }
        let (key, v) = map.iter().next().ok_or_else(|| bad("is empty"))?;
        match key.as_str() {
            "all" => match v.as_bool() {
                Some(true) => Ok(Scope::All(true)),
                _ => Err(bad("all must be true")),
            },
            "node" => match v.as_u64() {
                Some(id) if id > 0 => Ok(Scope::Node(id)),
                _ => Err(bad("node must be a node id (a positive integer)")),
            },
            "label" => {
                let s = v
                    .as_str()
                    .ok_or_else(|| bad("label must be a string k=v"))?;
                match s.split_once('=') {
                    Some((k, val))
                        if !k.is_empty()
                            && k.len() <= 63
                            && val.len() <= 63
                            && s.chars().all(|c| !c.is_control() && c != ' ') =>
                    {
                        Ok(Scope::Label(s.to_owned()))
                    }
                    _ => Err(bad(
                        "label must be key=value (key 1..=63 bytes, value at most 63, no spaces)",
                    )),
                }
            }
            "project" => {
                let s = v.as_str().ok_or_else(|| bad("project must be a name"))?;
                if s.is_empty() || s.chars().count() > MAX_NAME_CHARS {
                    return Err(bad("project must be 1..=64 characters"));
                }
                Ok(Scope::Project(s.to_owned()))
            }
            other => Err(bad(&format!(
                "unknown key {other:?}; use all, node, label or project"
            ))),
        }
    }

    /// For people: `all nodes`, `node 3`, `label k=v`, `project web`.
    pub fn describe(&self) -> String {
        match self {
            Scope::All(_) => "all nodes".to_owned(),
            Scope::Node(id) => format!("node {id}"),
            Scope::Label(l) => format!("label {l}"),
            Scope::Project(p) => format!("project {p}"),
        }
    }
}

/// A rule as the client sends it (`POST` and `PUT /api/v1/alerts/rules`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleInput {
    /// Unique name, 1..=64 characters.
    #[serde(default)]
    pub name: String,
    /// `cpu_total_pct`, `mem_used_pct`, `swap_used_pct`, `disk_used_pct`, `load1`,
    /// `net_rx_bytes_per_sec`, `net_tx_bytes_per_sec`, `tcp_established`, or an event:
    /// `node_offline`, `container_exited`, `rollout_rolled_back`.
    #[serde(default)]
    pub metric: String,
    /// `{"all":true}`, `{"node":ID}`, `{"label":"k=v"}` or `{"project":NAME}`
    /// (default: all nodes).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub scope: Option<serde_json::Value>,
    /// `>`, `>=`, `<` or `<=` (required for a metric, ignored for an event).
    #[serde(default)]
    pub op: Option<String>,
    /// The threshold (required for a metric; 0..=100 for a percentage).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Seconds the condition must hold before the rule fires (default 0, at most a week).
    #[serde(default)]
    pub for_s: Option<u64>,
    /// The alert resolves once the value is back past this (default: the threshold); on
    /// the recovering side of the threshold.
    #[serde(default)]
    pub recover_threshold: Option<f64>,
    /// `info`, `warning` (default) or `critical`.
    #[serde(default)]
    pub severity: Option<String>,
    /// Notification channels by name (each 1..=64 characters, at most 16).
    #[serde(default)]
    pub channels: Vec<String>,
    /// Whether the rule is evaluated (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A rule as stored and answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertRuleRecord {
    /// Rule id (never reused).
    pub id: u64,
    /// Unique name.
    pub name: String,
    /// What it watches.
    pub metric: Metric,
    /// Which nodes.
    pub scope: Scope,
    /// The comparison.
    pub op: Op,
    /// The threshold (0 for an event).
    pub threshold: f64,
    /// Seconds the condition must hold.
    pub for_s: u64,
    /// The hysteresis: resolved once the value is back past this.
    pub recover_threshold: f64,
    /// How urgent its alerts are.
    pub severity: Severity,
    /// Notification channels by name.
    pub channels: Vec<String>,
    /// Whether it is evaluated.
    pub enabled: bool,
    /// Created by the master at first start (still editable and deletable).
    #[serde(default)]
    pub builtin: bool,
    /// Last change, Unix ms.
    #[serde(default)]
    pub updated_ms: u64,
}

impl AlertRuleRecord {
    /// For people: `cpu_total_pct > 90 for 120 s`, or the event's name.
    pub fn condition(&self) -> String {
        if self.metric.is_event() {
            return self.metric.as_str().to_owned();
        }
        let mut s = format!(
            "{} {} {}",
            self.metric.as_str(),
            self.op.as_str(),
            self.threshold
        );
        if self.for_s > 0 {
            s.push_str(&format!(" for {} s", self.for_s));
        }
        s
    }

    /// The rules the master creates at its first start: the built-in events and "disk
    /// nearly full" (`disk_used_pct >= 90` on any mount for a minute, recovering below
    /// 85), all without channels (add some to be notified).
    pub fn builtins() -> Vec<AlertRuleRecord> {
        let rule =
            |name: &str, metric, severity, threshold: f64, recover: f64, for_s| AlertRuleRecord {
                id: 0,
                name: name.to_owned(),
                metric,
                scope: Scope::All(true),
                op: Op::Ge,
                threshold,
                for_s,
                recover_threshold: recover,
                severity,
                channels: Vec::new(),
                enabled: true,
                builtin: true,
                updated_ms: 0,
            };
        vec![
            rule(
                "slave offline",
                Metric::NodeOffline,
                Severity::Critical,
                0.0,
                0.0,
                0,
            ),
            rule(
                "container exited",
                Metric::ContainerExited,
                Severity::Warning,
                0.0,
                0.0,
                0,
            ),
            rule(
                "rollout rolled back",
                Metric::RolloutRolledBack,
                Severity::Warning,
                0.0,
                0.0,
                0,
            ),
            rule(
                "disk nearly full",
                Metric::DiskUsedPct,
                Severity::Warning,
                90.0,
                85.0,
                60,
            ),
        ]
    }
}

fn check_name(field: &str, name: &str) -> Result<String, Invalid> {
    let trimmed = name.trim();
    let n = trimmed.chars().count();
    if n == 0 || n > MAX_NAME_CHARS {
        return Err(Invalid::new(
            field,
            format!("{field}: must be 1..={MAX_NAME_CHARS} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Invalid::new(
            field,
            format!("{field}: must not contain control characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

fn finite(field: &str, v: f64) -> Result<f64, Invalid> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Invalid::new(field, format!("{field}: must be a number")))
    }
}

impl RuleInput {
    /// The rule this input describes (id 0, not built in), or the first field at fault.
    pub fn validate(self) -> Result<AlertRuleRecord, Invalid> {
        let name = check_name("name", &self.name)?;
        let metric = Metric::parse(self.metric.trim()).ok_or_else(|| {
            let names: Vec<&str> = Metric::ALL.iter().map(|m| m.as_str()).collect();
            Invalid::new(
                "metric",
                format!("metric: must be one of {}", names.join(", ")),
            )
        })?;
        let scope = match &self.scope {
            None | Some(serde_json::Value::Null) => Scope::All(true),
            Some(v) => Scope::from_json(v)?,
        };
        let (op, threshold, recover_threshold, for_s) = if metric.is_event() {
            (Op::Ge, 0.0, 0.0, 0)
        } else {
            let op = match self.op.as_deref().map(str::trim) {
                Some(s) => Op::parse(s)
                    .ok_or_else(|| Invalid::new("op", "op: must be one of >, >=, <, <="))?,
                None => return Err(Invalid::new("op", "op: required (>, >=, < or <=)")),
            };
            let threshold = finite(
                "threshold",
                self.threshold
                    .ok_or_else(|| Invalid::new("threshold", "threshold: required"))?,
            )?;
            if metric.is_percent() && !(0.0..=100.0).contains(&threshold) {
                return Err(Invalid::new(
                    "threshold",
                    format!("threshold: {} is a percentage, 0..=100", metric.as_str()),
                ));
            }
            if !metric.is_percent() && threshold < 0.0 {
                return Err(Invalid::new("threshold", "threshold: must be at least 0"));
            }
            let recover = finite(
                "recover_threshold",
                self.recover_threshold.unwrap_or(threshold),
            )?;
            if op.is_upper() && recover > threshold {
                return Err(Invalid::new(
                    "recover_threshold",
                    format!(
                        "recover_threshold: must be at most the threshold ({threshold}) for {}",
                        op.as_str()
                    ),
                ));
            }
            if !op.is_upper() && recover < threshold {
                return Err(Invalid::new(
                    "recover_threshold",
                    format!(
                        "recover_threshold: must be at least the threshold ({threshold}) for {}",
                        op.as_str()
                    ),
                ));
            }
            let for_s = self.for_s.unwrap_or(0);
            if for_s > MAX_FOR_S {
                return Err(Invalid::new(
                    "for_s",
                    format!("for_s: must be at most {MAX_FOR_S} (one week)"),
                ));
            }
            (op, threshold, recover, for_s)
        };
        let severity = match self.severity.as_deref().map(str::trim) {
            None | Some("") => Severity::Warning,
            Some(s) => Severity::parse(s).ok_or_else(|| {
                Invalid::new("severity", "severity: must be info, warning or critical")
            })?,
        };
        if self.channels.len() > MAX_CHANNELS {
            return Err(Invalid::new(
                "channels",
                format!("channels: at most {MAX_CHANNELS}"),
            ));
        }
        let mut channels: Vec<String> = Vec::with_capacity(self.channels.len());
        for c in &self.channels {
            let c = check_name("channels", c)?;
            if !channels.contains(&c) {
                channels.push(c);
            }
        }
        Ok(AlertRuleRecord {
            id: 0,
            name,
            metric,
            scope,
            op,
            threshold,
            for_s,
            recover_threshold,
            severity,
            channels,
            enabled: self.enabled.unwrap_or(true),
            builtin: false,
            updated_ms: 0,
        })
    }
}

/// A silence as the client sends it (`POST /api/v1/alerts/silences`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SilenceInput {
    /// The rule to silence: its id (decimal), its name or a built-in kind
    /// (`node_offline`, `container_exited`, `rollout_rolled_back`).
    #[serde(default)]
    pub rule: String,
    /// Only this node's alerts (default: every node's).
    #[serde(default)]
    pub node: Option<u64>,
    /// When the silence ends, Unix milliseconds (in the future, at most a year ahead).
    #[serde(default)]
    pub until: Option<u64>,
    /// Why, for people (at most 200 characters).
    #[serde(default)]
    pub comment: String,
}

/// A silence as stored and answered: alerts it matches still show but send no
/// notification until `until_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SilenceRecord {
    /// Silence id (never reused).
    pub id: u64,
    /// The rule: id, name or built-in kind.
    pub rule: String,
    /// Only this node (`None`: every node).
    pub node: Option<u64>,
    /// When it ends, Unix ms.
    pub until_ms: u64,
    /// Why.
    pub comment: String,
    /// Who created it.
    pub created_by: String,
    /// When, Unix ms.
    pub created_ms: u64,
}

impl SilenceRecord {
    /// Whether it silences an alert of rule `rule_id`/`rule_name`/`kind` on `node` at `now_ms`.
    pub fn matches(
        &self,
        rule_id: Option<u64>,
        rule_name: &str,
        kind: &str,
        node: u64,
        now_ms: u64,
    ) -> bool {
        now_ms < self.until_ms
            && self.node.is_none_or(|n| n == node)
            && (self.rule == rule_name
                || self.rule == kind
                || rule_id.is_some_and(|id| id.to_string() == self.rule))
    }
}

impl SilenceInput {
    /// The silence this input describes (id 0), created by `by` at `now_ms`, or the
    /// first field at fault.
    pub fn validate(self, by: &str, now_ms: u64) -> Result<SilenceRecord, Invalid> {
        let rule = check_name("rule", &self.rule)?;
        if self.node == Some(0) {
            return Err(Invalid::new("node", "node: must be a node id"));
        }
        let until = self.until.ok_or_else(|| {
            Invalid::new(
                "until",
                "until: required (Unix milliseconds, in the future)",
            )
        })?;
        if until <= now_ms {
            return Err(Invalid::new("until", "until: must be in the future"));
        }
        if until - now_ms > MAX_SILENCE_MS {
            return Err(Invalid::new("until", "until: at most a year from now"));
        }
        let comment = self.comment.trim();
        if comment.chars().count() > 200 || comment.chars().any(char::is_control) {
            return Err(Invalid::new(
                "comment",
                "comment: at most 200 characters, no control characters",
            ));
        }
        Ok(SilenceRecord {
            id: 0,
            rule,
            node: self.node,
            until_ms: until,
            comment: comment.to_owned(),
            created_by: by.to_owned(),
            created_ms: now_ms,
        })
    }
}

/// Why a rule or silence change failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertFailure {
    /// A field breaks a rule (400).
    #[error("{0}")]
    Invalid(Invalid),
    /// No such rule or silence (404).
    #[error("{0}")]
    NotFound(String),
    /// Too many rules or silences (409).
    #[error("{0}")]
    Full(String),
    /// The master failed (500).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<Invalid> for AlertFailure {
    fn from(e: Invalid) -> Self {
        Self::Invalid(e)
    }
}

#[cfg(test)]
mod tests;

/// An [`AlertRules`](crate::service::AlertRules) without rules: lists are empty, lookups
/// and changes answer [`AlertFailure::NotFound`]. For consoles and tests without alerting.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAlertRules;

impl crate::service::AlertRules for NoAlertRules {
    fn rules(&self) -> crate::ops::BoxFuture<'_, Result<Vec<AlertRuleRecord>, AlertFailure>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn rule(&self, id: u64) -> crate::ops::BoxFuture<'_, Result<AlertRuleRecord, AlertFailure>> {
        Box::pin(async move { Err(AlertFailure::NotFound(format!("no alert rule {id}"))) })
    }

    fn create_rule<'a>(
        &'a self,
        _caller: &'a crate::ops::Caller,
        _input: RuleInput,
    ) -> crate::ops::BoxFuture<'a, Result<AlertRuleRecord, AlertFailure>> {
        Box::pin(async { Err(AlertFailure::NotFound("alerting is off".into())) })
    }

    fn update_rule<'a>(
        &'a self,
        _caller: &'a crate::ops::Caller,
        id: u64,
        _input: RuleInput,
    ) -> crate::ops::BoxFuture<'a, Result<AlertRuleRecord, AlertFailure>> {
        Box::pin(async move { Err(AlertFailure::NotFound(format!("no alert rule {id}"))) })
    }

    fn delete_rule<'a>(
        &'a self,
        _caller: &'a crate::ops::Caller,
        id: u64,
    ) -> crate::ops::BoxFuture<'a, Result<(), AlertFailure>> {
        Box::pin(async move { Err(AlertFailure::NotFound(format!("no alert rule {id}"))) })
    }

    fn silences(&self) -> crate::ops::BoxFuture<'_, Result<Vec<SilenceRecord>, AlertFailure>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn create_silence<'a>(
        &'a self,
        _caller: &'a crate::ops::Caller,
        _input: SilenceInput,
    ) -> crate::ops::BoxFuture<'a, Result<SilenceRecord, AlertFailure>> {
        Box::pin(async { Err(AlertFailure::NotFound("alerting is off".into())) })
    }

    fn delete_silence<'a>(
        &'a self,
        _caller: &'a crate::ops::Caller,
        id: u64,
    ) -> crate::ops::BoxFuture<'a, Result<(), AlertFailure>> {
        Box::pin(async move { Err(AlertFailure::NotFound(format!("no silence {id}"))) })
    }
}
