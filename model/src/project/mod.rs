//! Projects: a Docker image run as N replicas spread over the slaves, optionally behind a
//! gateway on one slave, updated by rolling or canary rollouts with automatic rollback.
//!
//! | module | holds |
//! |---|---|
//! | [`spec`] | what the operator asks for: raw input, validation, defaults |
//! | [`api`] | partial updates, the project as shown, failures and their statuses |
//! | [`gateway`] | standalone gateways, and every gateway as listed |
//! | this module | revisions, replicas as observed, the project's status |
//!
//! Every container a project runs carries the labels [`spec::LABEL_PROJECT`],
//! [`spec::LABEL_REVISION`], [`spec::LABEL_NODE`] and [`spec::LABEL_OWNER`] (the owning
//! slave's key fingerprint); the owner label is how a slave tells its own replicas from
//! anything else on a Docker Engine it may share with another slave, of its cluster or of
//! another one.

pub mod api;
pub mod gateway;
pub mod spec;

use serde::{Deserialize, Serialize};

pub use spec::{ProjectInput, ProjectSpec};

/// A project's revision number: 1 for the first spec, one more for every change that needs
/// new containers (image, env, command, volumes, resources, labels, port). Replica counts, the health
/// check, the update strategy, the gateway and registry credentials change in place.
pub type Revision = u64;

/// Where a project stands, as `GET /api/v1/projects/{name}` answers it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    /// Its first revision is being placed and started.
    Deploying,
    /// Every desired replica runs the current revision and is healthy.
    Ready,
    /// A rollout to a new revision is under way.
    Updating,
    /// New replicas failed; the project is returning to the previous revision.
    RollingBack,
    /// An operator paused the rollout.
    Paused,
    /// Fewer healthy replicas than desired and no rollout explains it (a node lost, a
    /// crash loop, no capacity).
    Degraded,
}

impl ProjectStatus {
    /// `deploying`, `ready`, `updating`, `rolling_back`, `paused` or `degraded`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deploying => "deploying",
            Self::Ready => "ready",
            Self::Updating => "updating",
            Self::RollingBack => "rolling_back",
            Self::Paused => "paused",
            Self::Degraded => "degraded",
        }
    }
}

/// Whether a change from `old` to `new` needs new containers (a new revision) or only
/// different counts or gateway settings (applied in place).
pub fn needs_new_revision(old: &ProjectSpec, new: &ProjectSpec) -> bool {
    old.image != new.image
        || old.container_port != new.container_port
        || old.env != new.env
        || old.cmd != new.cmd
        || old.volumes != new.volumes
        || old.resources != new.resources
        || old.labels != new.labels
}

#[cfg(test)]
mod tests;
