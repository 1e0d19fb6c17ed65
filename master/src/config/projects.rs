//! The `projects` section of the master configuration: how the reconciler drives
//! projects' replicas. A child module of `config`, sharing its error type and helpers.
//!
//! ```yaml
//! projects:
//!   reconcileIntervalMs: 1000   # one reconcile step of every project this often
//!   nodeGraceSecs: 60           # a node offline this long has its replicas replaced
//!   drainMs: 3000               # a replica is out of its gateway this long before it stops
//! ```

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use super::protocol::in_range;

/// Default reconcile interval, milliseconds.
pub const DEFAULT_RECONCILE_INTERVAL_MS: u64 = 1_000;
/// Default grace period of an offline node, seconds.
pub const DEFAULT_NODE_GRACE_SECS: u64 = 60;
/// Default drain period, milliseconds.
pub const DEFAULT_DRAIN_MS: u64 = 3_000;

/// Validated reconciler settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectsConfig {
    /// One step of every project this often (`reconcileIntervalMs`).
    pub reconcile_interval: Duration,
    /// A node offline this long has its replicas replaced elsewhere (`nodeGraceSecs`).
    pub node_grace: Duration,
    /// A replica leaves its gateway this long before it is stopped (`drainMs`).
    pub drain: Duration,
}

impl Default for ProjectsConfig {
    fn default() -> Self {
        Self {
            reconcile_interval: Duration::from_millis(DEFAULT_RECONCILE_INTERVAL_MS),
            node_grace: Duration::from_secs(DEFAULT_NODE_GRACE_SECS),
            drain: Duration::from_millis(DEFAULT_DRAIN_MS),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawProjects {
    reconcile_interval_ms: Option<u64>,
    node_grace_secs: Option<u64>,
    drain_ms: Option<u64>,
}

pub(super) fn build(raw: Option<RawProjects>) -> Result<ProjectsConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let interval = in_range(
        "projects.reconcileIntervalMs",
        raw.reconcile_interval_ms,
        DEFAULT_RECONCILE_INTERVAL_MS,
        &(100..=60_000),
    )?;
    let grace = in_range(
        "projects.nodeGraceSecs",
        raw.node_grace_secs,
        DEFAULT_NODE_GRACE_SECS,
        &(1..=86_400),
    )?;
    let drain = in_range(
        "projects.drainMs",
        raw.drain_ms,
        DEFAULT_DRAIN_MS,
        &(0..=600_000),
    )?;
    Ok(ProjectsConfig {
        reconcile_interval: Duration::from_millis(interval),
        node_grace: Duration::from_secs(grace),
        drain: Duration::from_millis(drain),
    })
}
