//! A project's specification: what the operator asks for (`POST /api/v1/projects`), read
//! in two stages as everywhere: the raw [`ProjectInput`] as JSON sends it (every field but
//! `name`, `image`, `replicas` and `container_port` optional), then [`ProjectInput::validate`]
//! into a [`ProjectSpec`] with every default filled in and every rule checked, each error
//! naming the field a REST client used (`health.interval_s`, `gateway.allow[2]`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use protocol::ops::docker::RegistryAuth;
use protocol::ops::validate;
use serde::{Deserialize, Serialize};

use crate::Invalid;

/// Most replicas one project may ask for.
pub const MAX_REPLICAS: u32 = 1_000;
/// Longest project name.
pub const MAX_NAME_LEN: usize = 63;
/// Most `env`, `cmd` or `volumes` entries.
pub const MAX_LIST_ENTRIES: usize = 256;
/// Most entries in a gateway's allow or deny list.
pub const MAX_CIDRS: usize = 1_024;
/// Default seconds between two health probes.
pub const DEFAULT_INTERVAL_S: u32 = 5;
/// Default seconds a probe may take.
pub const DEFAULT_TIMEOUT_S: u32 = 2;
/// Default consecutive successes that make a replica healthy.
pub const DEFAULT_HEALTHY_THRESHOLD: u32 = 1;
/// Default consecutive failures that make a replica unhealthy.
pub const DEFAULT_UNHEALTHY_THRESHOLD: u32 = 3;
/// Default seconds a new replica has to become healthy before a rollout gives up on it.
pub const DEFAULT_DEADLINE_S: u32 = 120;
/// Default seconds canaries must stay healthy before automatic promotion.
pub const DEFAULT_CANARY_PERIOD_S: u32 = 30;

/// A project as `POST /api/v1/projects` sends it. Unknown fields are refused, so a typo is
/// an error rather than a silently ignored setting.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    /// Project name: lowercase letters, digits and `-`, starting with a letter.
    pub name: String,
    /// Image reference, e.g. `registry.example/app:1.4`.
    pub image: String,
    /// Replicas wanted (0 keeps the project but runs nothing).
    pub replicas: u32,
    /// The port the application listens on inside its container.
    pub container_port: u16,
    /// `KEY=VALUE` pairs.
    #[serde(default)]
    pub env: Vec<String>,
    /// Command (argv, never a shell string); the image's default when empty.
    #[serde(default)]
    pub cmd: Vec<String>,
    /// Mounts `SOURCE:TARGET[:ro|:rw]`, as for a single container.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Resource limits per replica.
    #[serde(default)]
    pub resources: Resources,
    /// Extra labels on every replica (the `commander.` prefix is reserved).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Credentials for a private registry: stored, never shown again nor logged.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub registry_auth: Option<RegistryAuth>,
    /// Health check; a TCP connect to the container port when absent.
    #[serde(default)]
    pub health: Option<HealthInput>,
    /// Update strategy; rolling, one at a time, when absent.
    #[serde(default)]
    pub update: Option<UpdateInput>,
    /// The gateway in front of the replicas, if any.
    #[serde(default)]
    pub gateway: Option<GatewayInput>,
}

/// Resource limits per replica; also what the scheduler reserves on a slave.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Memory limit, bytes.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
    /// CPU limit in billionths of a CPU (1.5 CPUs = 1_500_000_000).
    #[serde(default)]
    pub nano_cpus: Option<u64>,
}

/// How a replica's health is probed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProbeType {
    /// A TCP connect to the container port.
    Tcp,
    /// An HTTP GET answering the expected status.
    Http,
}

/// `health` as sent: `{"type":"http","path":"/"}` is complete.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthInput {
    /// `tcp` or `http`.
    #[serde(rename = "type")]
    pub probe: ProbeType,
    /// HTTP path (`http` only), starting with `/`.
    #[serde(default)]
    pub path: Option<String>,
    /// Status an HTTP probe expects (200 when absent).
    #[serde(default)]
    pub expected_status: Option<u16>,
    /// Seconds between probes.
    #[serde(default)]
    pub interval_s: Option<u32>,
    /// Seconds one probe may take.
    #[serde(default)]
    pub timeout_s: Option<u32>,
    /// Consecutive successes before a replica is healthy.
    #[serde(default)]
    pub healthy_threshold: Option<u32>,
    /// Consecutive failures before a replica is unhealthy.
    #[serde(default)]
    pub unhealthy_threshold: Option<u32>,
    /// Seconds after start during which failures do not count.
    #[serde(default)]
    pub start_period_s: Option<u32>,
}

/// `update` as sent.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UpdateInput {
    /// `rolling` or `canary`.
    pub strategy: StrategyKind,
    /// Rolling: extra replicas allowed during the update (1 when absent).
    #[serde(default)]
    pub max_surge: Option<u32>,
    /// Rolling: replicas allowed to be unavailable during the update (0 when absent).
    #[serde(default)]
    pub max_unavailable: Option<u32>,
    /// Canary: new replicas started first (1 when absent).
    #[serde(default)]
    pub canaries: Option<u32>,
    /// Canary: `auto` (after `healthy_period_s`) or `manual` (`auto` when absent).
    #[serde(default)]
    pub promotion: Option<Promotion>,
    /// Canary: seconds the canaries must stay healthy before automatic promotion.
    #[serde(default)]
    pub healthy_period_s: Option<u32>,
    /// Seconds a new replica has to become healthy before the update rolls back.
    #[serde(default)]
    pub deadline_s: Option<u32>,
    /// Roll back by itself when new replicas fail (true when absent).
    #[serde(default)]
    pub auto_rollback: Option<bool>,
}

/// The update strategies.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// Replace replicas a few at a time.
    Rolling,
    /// Start a few new replicas first, then promote.
    Canary,
}

/// How canaries are promoted.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Promotion {
    /// After they stayed healthy for the healthy period.
    Auto,
    /// When an operator promotes.
    Manual,
}

/// Load-balancing algorithms of a gateway.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Each new connection to the next upstream.
    #[default]
    RoundRobin,
    /// To the upstream with the fewest open connections.
    LeastConn,
    /// Consistent hash of the client address (sticky).
    Hash,
}

/// `gateway` as sent: `{"node":1,"port":12225}` is complete.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GatewayInput {
    /// The slave the gateway runs on.
    pub node: u64,
    /// The port it listens on (on all of that slave's addresses).
    pub port: u16,
    /// Balancing algorithm (round robin when absent).
    #[serde(default)]
    pub algorithm: Option<Algorithm>,
    /// Clients allowed (CIDRs); everyone when empty.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Clients refused (CIDRs), checked before `allow`.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Most open connections per client address.
    #[serde(default)]
    pub max_conns_per_ip: Option<u32>,
    /// Most new connections per second per client address.
    #[serde(default)]
    pub conn_rate_per_ip: Option<u32>,
}

/// A validated health check.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HealthCheck {
    /// What is probed.
    pub probe: Probe,
    /// Seconds between probes.
    pub interval_s: u32,
    /// Seconds one probe may take (less than the interval).
    pub timeout_s: u32,
    /// Consecutive successes before healthy.
    pub healthy_threshold: u32,
    /// Consecutive failures before unhealthy.
    pub unhealthy_threshold: u32,
    /// Seconds after start during which failures do not count.
    pub start_period_s: u32,
}

/// A validated probe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Probe {
    /// TCP connect to the container port.
    Tcp,
    /// HTTP GET of `path` answering `expected_status`.
    Http {
        /// Path, starting with `/`.
        path: String,
        /// Expected status.
        expected_status: u16,
    },
}

/// A validated update strategy.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum UpdateStrategy {
    /// Replace a few at a time. `max_surge` and `max_unavailable` are never both 0.
    Rolling {
        /// Extra replicas allowed during the update.
        max_surge: u32,
        /// Replicas allowed to be unavailable during the update.
        max_unavailable: u32,
        /// Seconds a new replica has to become healthy.
        deadline_s: u32,
        /// Roll back by itself when new replicas fail.
        auto_rollback: bool,
    },
    /// `canaries` new replicas first; promoted automatically after `healthy_period_s` or by
    /// an operator; then the rest one at a time with one extra replica.
    Canary {
        /// New replicas started first (at least 1).
        canaries: u32,
        /// How they are promoted.
        promotion: Promotion,
        /// Seconds they must stay healthy before automatic promotion.
        healthy_period_s: u32,
        /// Seconds a new replica has to become healthy.
        deadline_s: u32,
        /// Roll back by itself when new replicas fail.
        auto_rollback: bool,
    },
}

impl UpdateStrategy {
    /// Seconds a new replica has to become healthy.
    pub fn deadline_s(&self) -> u32 {
        match *self {
            Self::Rolling { deadline_s, .. } | Self::Canary { deadline_s, .. } => deadline_s,
        }
    }

    /// Whether failing new replicas roll the project back by themselves.
    pub fn auto_rollback(&self) -> bool {
        match *self {
            Self::Rolling { auto_rollback, .. } | Self::Canary { auto_rollback, .. } => {
                auto_rollback
            }
        }
    }
}

/// A validated gateway in front of a project.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProjectGateway {
    /// The slave it runs on.
    pub node: u64,
    /// Its port.
    pub port: u16,
    /// Balancing algorithm.
    pub algorithm: Algorithm,
    /// Clients allowed; everyone when empty.
    pub allow: Vec<Cidr>,
    /// Clients refused.
    pub deny: Vec<Cidr>,
    /// Most open connections per client address.
    pub max_conns_per_ip: Option<u32>,
    /// Most new connections per second per client address.
    pub conn_rate_per_ip: Option<u32>,
}

/// An address range `ADDR/PREFIX` (or one address).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cidr {
    /// The network address.
    pub addr: IpAddr,
    /// Prefix length (32 or 128 for one address).
    pub prefix: u8,
}

impl Cidr {
    /// Parses `ADDR/PREFIX` or `ADDR`.
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Self { addr, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A project as validated: what the master stores per revision and the scheduler reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProjectSpec {
    /// Project name.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// Replicas wanted.
    pub replicas: u32,
    /// Port inside each container.
    pub container_port: u16,
    /// `KEY=VALUE` pairs.
    pub env: Vec<String>,
    /// Command (argv).
    pub cmd: Vec<String>,
    /// Mounts.
    pub volumes: Vec<String>,
    /// Limits per replica.
    pub resources: Resources,
    /// Extra labels.
    pub labels: BTreeMap<String, String>,
    /// Private registry credentials (never answered, never logged).
    pub registry_auth: Option<RegistryCredentials>,
    /// Health check.
    pub health: HealthCheck,
    /// Update strategy.
    pub update: UpdateStrategy,
    /// Gateway, if any.
    pub gateway: Option<ProjectGateway>,
}

/// Registry credentials as the master stores them with a project. Unlike
/// [`RegistryAuth`] (the wire and input type, which never serialises its password), this
/// keeps the password in the store; views never carry it and `Debug` redacts it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryCredentials {
    /// Registry host; the image's registry when absent.
    pub server: Option<String>,
    /// User name.
    pub username: String,
    /// Password or access token.
    pub password: String,
}

impl std::fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl From<&RegistryAuth> for RegistryCredentials {
    fn from(a: &RegistryAuth) -> Self {
        Self {
            server: a.server.clone(),
            username: a.username.clone(),
            password: a.password.clone(),
        }
    }
}

impl RegistryCredentials {
    /// The credentials as the slave's pull takes them.
    pub fn to_auth(&self) -> RegistryAuth {
        RegistryAuth {
            server: self.server.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
        }
    }
}

/// Label every replica carries: the project's name.
pub const LABEL_PROJECT: &str = "commander.project";
/// Label every replica carries: the revision it runs.
pub const LABEL_REVISION: &str = "commander.revision";
/// Label every replica carries: the node (slave id) that started it.
pub const LABEL_NODE: &str = "commander.node";
/// Label every replica carries: the fingerprint of the key of the slave that owns it
/// (unique beyond one cluster, unlike the node id).
pub const LABEL_OWNER: &str = "commander.owner";

fn from_validation(e: validate::ValidationError) -> Invalid {
    Invalid::new(&e.field, e.message)
}

/// A project name: 1 to 63 of `[a-z0-9-]`, starting with a letter, not ending with `-`
/// (a DNS label, so it can name containers and hosts).
pub fn project_name(s: &str) -> Result<(), Invalid> {
    let ok = !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "name",
            format!(
                "1 to {MAX_NAME_LEN} lowercase letters, digits and '-', starting with a letter and not ending with '-'"
            ),
        ))
    }
}

fn bounded_list(field: &str, list: &[String]) -> Result<(), Invalid> {
    if list.len() > MAX_LIST_ENTRIES {
        return Err(Invalid::new(
            field,
            format!("at most {MAX_LIST_ENTRIES} entries"),
        ));
    }
    Ok(())
}

fn range(field: &str, v: u32, min: u32, max: u32) -> Result<u32, Invalid> {
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(Invalid::new(field, format!("must be from {min} to {max}")))
    }
}

impl HealthInput {
    /// The health check with its defaults, or the field at fault.
    pub fn validate(&self) -> Result<HealthCheck, Invalid> {
        let probe = match self.probe {
            ProbeType::Tcp => {
                if self.path.is_some() || self.expected_status.is_some() {
                    return Err(Invalid::new(
                        "health.path",
                        "only an http health check has a path and an expected status",
                    ));
                }
                Probe::Tcp
            }
            ProbeType::Http => {
                let path = self.path.clone().unwrap_or_else(|| "/".to_owned());
                if !path.starts_with('/')
                    || path.len() > 1024
                    || path.chars().any(|c| c.is_control() || c == ' ')
                {
                    return Err(Invalid::new(
                        "health.path",
                        "a path starting with '/', at most 1024 bytes, without spaces or control characters",
                    ));
                }
                let expected_status = self.expected_status.unwrap_or(200);
                if !(100..=599).contains(&expected_status) {
                    return Err(Invalid::new(
                        "health.expected_status",
                        "an HTTP status from 100 to 599",
                    ));
                }
                Probe::Http {
                    path,
                    expected_status,
                }
            }
        };
        let interval_s = range(
            "health.interval_s",
            self.interval_s.unwrap_or(DEFAULT_INTERVAL_S),
            1,
            3_600,
        )?;
        let timeout_s = range(
            "health.timeout_s",
            self.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S.min(interval_s)),
            1,
            3_600,
        )?;
        if timeout_s > interval_s {
            return Err(Invalid::new(
                "health.timeout_s",
                "must not be longer than health.interval_s",
            ));
        }
        Ok(HealthCheck {
            probe,
            interval_s,
            timeout_s,
            healthy_threshold: range(
                "health.healthy_threshold",
                self.healthy_threshold.unwrap_or(DEFAULT_HEALTHY_THRESHOLD),
                1,
                100,
            )?,
            unhealthy_threshold: range(
                "health.unhealthy_threshold",
                self.unhealthy_threshold
                    .unwrap_or(DEFAULT_UNHEALTHY_THRESHOLD),
                1,
                100,
            )?,
            start_period_s: range(
                "health.start_period_s",
                self.start_period_s.unwrap_or(0),
                0,
                3_600,
            )?,
        })
    }
}

impl HealthCheck {
    /// A TCP connect every 5 s, 2 s timeout: the check of a project that names none.
    pub fn default_tcp() -> Self {
        Self {
            probe: Probe::Tcp,
            interval_s: DEFAULT_INTERVAL_S,
            timeout_s: DEFAULT_TIMEOUT_S,
            healthy_threshold: DEFAULT_HEALTHY_THRESHOLD,
            unhealthy_threshold: DEFAULT_UNHEALTHY_THRESHOLD,
            start_period_s: 0,
        }
    }
}

impl UpdateInput {
    /// The strategy with its defaults, or the field at fault.
    pub fn validate(&self) -> Result<UpdateStrategy, Invalid> {
        let deadline_s = range(
            "update.deadline_s",
            self.deadline_s.unwrap_or(DEFAULT_DEADLINE_S),
            5,
            86_400,
        )?;
        let auto_rollback = self.auto_rollback.unwrap_or(true);
        match self.strategy {
            StrategyKind::Rolling => {
                if self.canaries.is_some()
                    || self.promotion.is_some()
                    || self.healthy_period_s.is_some()
                {
                    return Err(Invalid::new(
                        "update.strategy",
                        "canaries, promotion and healthy_period_s belong to the canary strategy",
                    ));
                }
                let max_surge = range(
                    "update.max_surge",
                    self.max_surge.unwrap_or(1),
                    0,
                    MAX_REPLICAS,
                )?;
                let max_unavailable = range(
                    "update.max_unavailable",
                    self.max_unavailable.unwrap_or(0),
                    0,
                    MAX_REPLICAS,
                )?;
                if max_surge == 0 && max_unavailable == 0 {
                    return Err(Invalid::new(
                        "update.max_surge",
                        "max_surge and max_unavailable cannot both be 0: the update could never make progress",
                    ));
                }
                Ok(UpdateStrategy::Rolling {
                    max_surge,
                    max_unavailable,
                    deadline_s,
                    auto_rollback,
                })
            }
            StrategyKind::Canary => {
                if self.max_surge.is_some() || self.max_unavailable.is_some() {
                    return Err(Invalid::new(
                        "update.strategy",
                        "max_surge and max_unavailable belong to the rolling strategy",
                    ));
                }
                Ok(UpdateStrategy::Canary {
                    canaries: range(
                        "update.canaries",
                        self.canaries.unwrap_or(1),
                        1,
                        MAX_REPLICAS,
                    )?,
                    promotion: self.promotion.unwrap_or(Promotion::Auto),
                    healthy_period_s: range(
                        "update.healthy_period_s",
                        self.healthy_period_s.unwrap_or(DEFAULT_CANARY_PERIOD_S),
                        0,
                        86_400,
                    )?,
                    deadline_s,
                    auto_rollback,
                })
            }
        }
    }
}

impl UpdateStrategy {
    /// Rolling, one extra replica at a time, none unavailable, 120 s deadline, auto rollback.
    pub fn default_rolling() -> Self {
        Self::Rolling {
            max_surge: 1,
            max_unavailable: 0,
            deadline_s: DEFAULT_DEADLINE_S,
            auto_rollback: true,
        }
    }
}

fn cidrs(field: &str, list: &[String]) -> Result<Vec<Cidr>, Invalid> {
    if list.len() > MAX_CIDRS {
        return Err(Invalid::new(field, format!("at most {MAX_CIDRS} entries")));
    }
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            Cidr::parse(s).ok_or_else(|| {
                Invalid::new(
                    &format!("{field}[{i}]"),
                    "an address or ADDRESS/PREFIX, e.g. 10.0.0.0/8",
                )
            })
        })
        .collect()
}

impl GatewayInput {
    /// The gateway with its defaults, or the field at fault.
    pub fn validate(&self) -> Result<ProjectGateway, Invalid> {
        if self.node == 0 {
            return Err(Invalid::new("gateway.node", "a node id"));
        }
        if self.port == 0 {
            return Err(Invalid::new("gateway.port", "a port from 1 to 65535"));
        }
        let positive = |field: &str, v: Option<u32>| match v {
            Some(0) => Err(Invalid::new(
                field,
                "must be at least 1 (omit it for no limit)",
            )),
            other => Ok(other),
        };
        Ok(ProjectGateway {
            node: self.node,
            port: self.port,
            algorithm: self.algorithm.unwrap_or_default(),
            allow: cidrs("gateway.allow", &self.allow)?,
            deny: cidrs("gateway.deny", &self.deny)?,
            max_conns_per_ip: positive("gateway.max_conns_per_ip", self.max_conns_per_ip)?,
            conn_rate_per_ip: positive("gateway.conn_rate_per_ip", self.conn_rate_per_ip)?,
        })
    }
}

impl ProjectInput {
    /// The project with every default filled in, or the first field at fault.
    pub fn validate(&self) -> Result<ProjectSpec, Invalid> {
        project_name(&self.name)?;
        validate::image_ref("image", &self.image).map_err(from_validation)?;
        range("replicas", self.replicas, 0, MAX_REPLICAS)?;
        if self.container_port == 0 {
            return Err(Invalid::new("container_port", "a port from 1 to 65535"));
        }
        bounded_list("env", &self.env)?;
        for (i, e) in self.env.iter().enumerate() {
            validate::container_env(&format!("env[{i}]"), e).map_err(from_validation)?;
        }
        bounded_list("cmd", &self.cmd)?;
        for (i, a) in self.cmd.iter().enumerate() {
            let field = format!("cmd[{i}]");
            if a.len() > 4096 || a.contains('\0') {
                return Err(Invalid::new(&field, "at most 4096 bytes, without NUL"));
            }
        }
        bounded_list("volumes", &self.volumes)?;
        for (i, v) in self.volumes.iter().enumerate() {
            validate::volume_spec(&format!("volumes[{i}]"), v).map_err(from_validation)?;
        }
        validate::labels("labels", &self.labels).map_err(from_validation)?;
        if let Some(key) = self.labels.keys().find(|k| k.starts_with("commander.")) {
            return Err(Invalid::new(
                &format!("labels.{key}"),
                "the commander. prefix is reserved for Commander's own labels",
            ));
        }
        if let Some(0) = self.resources.memory_bytes {
            return Err(Invalid::new("resources.memory_bytes", "must be at least 1"));
        }
        if let Some(0) = self.resources.nano_cpus {
            return Err(Invalid::new("resources.nano_cpus", "must be at least 1"));
        }
        if let Some(auth) = &self.registry_auth {
            validate::registry_auth("registry_auth", auth).map_err(from_validation)?;
        }
        let health = match &self.health {
            Some(h) => h.validate()?,
            None => HealthCheck::default_tcp(),
        };
        let update = match &self.update {
            Some(u) => u.validate()?,
            None => UpdateStrategy::default_rolling(),
        };
        let gateway = self
            .gateway
            .as_ref()
            .map(GatewayInput::validate)
            .transpose()?;
        Ok(ProjectSpec {
            name: self.name.clone(),
            image: self.image.clone(),
            replicas: self.replicas,
            container_port: self.container_port,
            env: self.env.clone(),
            cmd: self.cmd.clone(),
            volumes: self.volumes.clone(),
            resources: self.resources,
            labels: self.labels.clone(),
            registry_auth: self.registry_auth.as_ref().map(RegistryCredentials::from),
            health,
            update,
            gateway,
        })
    }
}
