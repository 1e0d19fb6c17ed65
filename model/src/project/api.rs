//! What the projects API exchanges besides the specification: partial updates
//! (`PUT /api/v1/projects/{name}` with any field), the project as shown, and the failures
//! with their HTTP statuses.

use std::collections::BTreeMap;

use protocol::ops::docker::RegistryAuth;
use serde::{Deserialize, Serialize};

use super::spec::{
    GatewayInput, HealthInput, Probe, ProbeType, ProjectGateway, ProjectSpec, Resources,
    StrategyKind, UpdateInput, UpdateStrategy,
};
use super::{ProjectInput, ProjectStatus, Revision};
use crate::Invalid;

/// `PUT /api/v1/projects/{name}`: any field of [`ProjectInput`] but the name; absent
/// fields keep their value. `"gateway": null` removes the gateway.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    /// New image (starts an update).
    pub image: Option<String>,
    /// New replica count.
    pub replicas: Option<u32>,
    /// New container port.
    pub container_port: Option<u16>,
    /// New environment.
    pub env: Option<Vec<String>>,
    /// New command.
    pub cmd: Option<Vec<String>>,
    /// New mounts.
    pub volumes: Option<Vec<String>>,
    /// New limits.
    pub resources: Option<Resources>,
    /// New labels.
    pub labels: Option<BTreeMap<String, String>>,
    /// New registry credentials.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub registry_auth: Option<RegistryAuth>,
    /// New health check.
    pub health: Option<HealthInput>,
    /// New update strategy.
    pub update: Option<UpdateInput>,
    /// New gateway; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<GatewayInput>))]
    pub gateway: Option<Option<GatewayInput>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl ProjectSpec {
    /// The input that validates to this spec (credentials included).
    pub fn to_input(&self) -> ProjectInput {
        let (probe, path, expected_status) = match &self.health.probe {
            Probe::Tcp => (ProbeType::Tcp, None, None),
            Probe::Http {
                path,
                expected_status,
            } => (ProbeType::Http, Some(path.clone()), Some(*expected_status)),
        };
        let update = match self.update {
            UpdateStrategy::Rolling {
                max_surge,
                max_unavailable,
                deadline_s,
                auto_rollback,
            } => UpdateInput {
                strategy: StrategyKind::Rolling,
                max_surge: Some(max_surge),
                max_unavailable: Some(max_unavailable),
                canaries: None,
                promotion: None,
                healthy_period_s: None,
                deadline_s: Some(deadline_s),
                auto_rollback: Some(auto_rollback),
            },
            UpdateStrategy::Canary {
                canaries,
                promotion,
                healthy_period_s,
                deadline_s,
                auto_rollback,
            } => UpdateInput {
                strategy: StrategyKind::Canary,
                max_surge: None,
                max_unavailable: None,
                canaries: Some(canaries),
                promotion: Some(promotion),
                healthy_period_s: Some(healthy_period_s),
                deadline_s: Some(deadline_s),
                auto_rollback: Some(auto_rollback),
            },
        };
        ProjectInput {
            name: self.name.clone(),
            image: self.image.clone(),
            replicas: self.replicas,
            container_port: self.container_port,
            env: self.env.clone(),
            cmd: self.cmd.clone(),
            volumes: self.volumes.clone(),
            resources: self.resources,
            labels: self.labels.clone(),
            registry_auth: self.registry_auth.as_ref().map(|c| c.to_auth()),
            health: Some(HealthInput {
                probe,
                path,
                expected_status,
                interval_s: Some(self.health.interval_s),
                timeout_s: Some(self.health.timeout_s),
                healthy_threshold: Some(self.health.healthy_threshold),
                unhealthy_threshold: Some(self.health.unhealthy_threshold),
                start_period_s: Some(self.health.start_period_s),
            }),
            update: Some(update),
            gateway: self.gateway.as_ref().map(ProjectGateway::to_input),
        }
    }

    /// This spec with `patch` applied, validated again.
    pub fn patched(&self, patch: &ProjectPatch) -> Result<ProjectSpec, Invalid> {
        let mut input = self.to_input();
        let p = patch.clone();
        input.image = p.image.unwrap_or(input.image);
        input.replicas = p.replicas.unwrap_or(input.replicas);
        input.container_port = p.container_port.unwrap_or(input.container_port);
        input.env = p.env.unwrap_or(input.env);
        input.cmd = p.cmd.unwrap_or(input.cmd);
        input.volumes = p.volumes.unwrap_or(input.volumes);
        input.resources = p.resources.unwrap_or(input.resources);
        input.labels = p.labels.unwrap_or(input.labels);
        if p.registry_auth.is_some() {
            input.registry_auth = p.registry_auth;
        }
        if p.health.is_some() {
            input.health = p.health;
        }
        if p.update.is_some() {
            input.update = p.update;
        }
        if let Some(gateway) = p.gateway {
            input.gateway = gateway;
        }
        input.validate()
    }
}

impl ProjectGateway {
    /// The input that validates to this gateway.
    pub fn to_input(&self) -> GatewayInput {
        GatewayInput {
            node: self.node,
            port: self.port,
            algorithm: Some(self.algorithm),
            allow: self.allow.iter().map(ToString::to_string).collect(),
            deny: self.deny.iter().map(ToString::to_string).collect(),
            max_conns_per_ip: self.max_conns_per_ip,
            conn_rate_per_ip: self.conn_rate_per_ip,
        }
    }
}

/// One replica as `GET /api/v1/projects/{name}` shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaView {
    /// The node running it.
    pub node: u64,
    /// Its container id.
    pub container: String,
    /// The host port its container port is mapped to, once known.
    pub host_port: Option<u16>,
    /// `starting`, `running`, `draining` or `exited`.
    pub state: String,
    /// Whether its health check passes.
    pub healthy: bool,
    /// The revision it runs.
    pub revision: Revision,
}

/// A project's gateway as shown.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayView {
    /// The node it runs on.
    pub node: u64,
    /// Its port.
    pub port: u16,
    /// Its upstreams (`address:port` of each healthy replica).
    pub upstreams: Vec<String>,
}

/// One upstream of a running gateway, as its slave reports it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamStats {
    /// `address:port`.
    pub addr: String,
    /// Whether the gateway sends it traffic.
    pub healthy: bool,
    /// Connections open to it.
    pub active_conns: u64,
    /// Connections made to it.
    pub total_conns: u64,
}

/// A gateway as its slave last reported it (`GET /api/v1/gateways`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayStats {
    /// Whether it listens.
    pub serving: bool,
    /// Why it does not (port taken, ...); empty when it does.
    pub message: String,
    /// Connections open now.
    pub active_conns: u64,
    /// Connections accepted.
    pub total_conns: u64,
    /// Connections refused (allow/deny lists, limits, no upstream).
    pub refused_conns: u64,
    /// Bytes from clients to upstreams.
    pub bytes_in: u64,
    /// Bytes from upstreams to clients.
    pub bytes_out: u64,
    /// Per upstream.
    pub upstreams: Vec<UpstreamStats>,
    /// When the slave reported this, Unix ms (master clock).
    pub reported_ms: u64,
}

/// A project as `GET /api/v1/projects/{name}` answers it (names fixed by the API).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectView {
    /// Name.
    pub name: String,
    /// Image of the revision it converges to.
    pub image: String,
    /// That revision.
    pub revision: Revision,
    /// Replicas wanted.
    pub replicas_desired: u32,
    /// Where it stands.
    pub status: ProjectStatus,
    /// Its replicas as observed.
    pub replicas: Vec<ReplicaView>,
    /// Its gateway, if any.
    pub gateway: Option<GatewayView>,
    /// Why the last rollout failed, while that explains its state.
    pub failure: Option<String>,
}

/// A project just created: as shown, plus its deploy webhook's secret, shown this once.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatedProject {
    /// The project.
    #[serde(flatten)]
    pub project: ProjectView,
    /// Secret of `POST /api/v1/projects/{name}/webhook` (HMAC-SHA256 key); never shown again.
    pub webhook_secret: String,
}

/// Longest deploy webhook body accepted (`{"image": "..."}`), in bytes.
pub const MAX_WEBHOOK_BODY: usize = 4 * 1024;

/// Why a projects call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectFailure {
    /// An input breaks a rule (400, naming the field).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// No such project or revision (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the state (409): a name or gateway port taken, nothing
    /// to pause.
    #[error("{0}")]
    Conflict(String),
    /// A deploy webhook call without a valid signature, or replayed (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The store failed (500).
    #[error("store: {0}")]
    Store(String),
    /// A slave the call needs is offline (503).
    #[error("{0}")]
    Unavailable(String),
}

impl ProjectFailure {
    /// The HTTP status the API answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Invalid(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Store(_) => 500,
            Self::Unavailable(_) => 503,
        }
    }
}

/// What happened to a project, for its timeline (`GET /api/v1/projects/{name}/events`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectEventKind {
    /// The project was created.
    Created,
    /// Its specification changed (a new revision when `revision` is set).
    Updated,
    /// Its replica count changed.
    Scaled,
    /// A replica was placed on a node.
    Scheduled,
    /// A replica's container runs.
    Started,
    /// A replica passed its health check.
    Healthy,
    /// A replica failed its health check.
    Unhealthy,
    /// A replica's container ended or could not start.
    Exited,
    /// A replica was taken out of the gateway before being stopped.
    Drained,
    /// A replica was stopped and removed.
    Removed,
    /// Replicas of a node offline past the grace period were replaced elsewhere.
    Rescheduled,
    /// Replicas wanted fit on no node.
    Unplaced,
    /// Canaries are healthy and wait for an operator to promote them.
    AwaitingPromotion,
    /// Canaries were promoted.
    Promoted,
    /// Every replica runs the target revision and is healthy.
    Ready,
    /// A rollout failed.
    RolloutFailed,
    /// A rollback to an earlier revision started (by itself or by an operator).
    RollingBack,
    /// The rollout was paused.
    Paused,
    /// The rollout was resumed.
    Resumed,
    /// The project was deleted.
    Deleted,
}

/// One entry of a project's timeline.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectEvent {
    /// When, Unix ms (master clock).
    pub at_ms: u64,
    /// What.
    pub kind: ProjectEventKind,
    /// The revision concerned, if one is.
    pub revision: Option<Revision>,
    /// The node concerned, if one is.
    pub node: Option<u64>,
    /// The replica concerned, if one is.
    pub replica: Option<String>,
    /// Details for a person (English; the console translates `kind`).
    pub message: String,
}

/// One kept revision as `GET /api/v1/projects/{name}/revisions` lists it: its number and
/// its specification as the input that makes it (registry passwords left out).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionView {
    /// Revision number.
    pub revision: Revision,
    /// Whether the project converges to it now.
    pub current: bool,
    /// Its specification.
    pub spec: ProjectInput,
}
