//! Answers to [`super::docker::DockerOp`]: engine facts, containers, logs, stats, images,
//! networks and volumes, in engine-independent shapes.

#![allow(missing_docs)]

use rkyv::{Archive, Deserialize, Serialize};
use std::collections::BTreeMap;

/// The answer to a Docker operation.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
#[serde(rename_all = "snake_case")]
pub enum DockerReply {
    /// The operation succeeded and has nothing to return.
    Done,
    Info(EngineInfo),
    Containers(Vec<ContainerSummary>),
    Container(ContainerDetails),
    /// A container was created (and started when asked).
    Created {
        id: String,
        /// Engine warnings.
        warnings: Vec<String>,
        started: bool,
        /// The image was pulled first (deployments only).
        pulled: bool,
    },
    Logs(LogBatch),
    /// A followed log ended.
    LogsEnd {
        /// Entries sent as progress.
        entries: u64,
        reason: LogsEndReason,
    },
    Top(ContainerTop),
    Stats(ContainerStats),
    Images(Vec<ImageSummary>),
    Image(ImageDetails),
    History(Vec<ImageLayer>),
    /// A pull finished.
    Pulled {
        reference: String,
        /// The image id, when the engine tells.
        id: Option<String>,
    },
    /// What a removal untagged and deleted (`Untagged: x`, `Deleted: sha256:..`).
    ImagesRemoved(Vec<String>),
    /// Images an import created or tagged.
    Imported(Vec<String>),
    Networks(Vec<NetworkInfo>),
    NetworkCreated {
        id: String,
    },
    Volumes(Vec<VolumeInfo>),
    VolumeCreated {
        name: String,
    },
}

impl DockerReply {
    /// Every answer's [`DockerReply::name`].
    pub const NAMES: &'static [&'static str] = &[
        "done",
        "info",
        "containers",
        "container",
        "created",
        "logs",
        "logs_end",
        "top",
        "stats",
        "images",
        "image",
        "history",
        "pulled",
        "images_removed",
        "imported",
        "networks",
        "network_created",
        "volumes",
        "volume_created",
    ];

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Info(_) => "info",
            Self::Containers(_) => "containers",
            Self::Container(_) => "container",
            Self::Created { .. } => "created",
            Self::Logs(_) => "logs",
            Self::LogsEnd { .. } => "logs_end",
            Self::Top(_) => "top",
            Self::Stats(_) => "stats",
            Self::Images(_) => "images",
            Self::Image(_) => "image",
            Self::History(_) => "history",
            Self::Pulled { .. } => "pulled",
            Self::ImagesRemoved(_) => "images_removed",
            Self::Imported(_) => "imported",
            Self::Networks(_) => "networks",
            Self::NetworkCreated { .. } => "network_created",
            Self::Volumes(_) => "volumes",
            Self::VolumeCreated { .. } => "volume_created",
        }
    }
}

/// Engine version and facts.
#[derive(
    Archive,
    Serialize,
    Deserialize,
    Debug,
    Clone,
    PartialEq,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct EngineInfo {
    /// Engine version (`28.2.2`).
    pub version: String,
    /// API version the engine speaks at most.
    pub api_version: String,
    /// API version in use by the slave (after negotiation).
    pub client_api_version: String,
    /// Operating system of the engine's host.
    pub os: String,
    /// Kernel release.
    pub kernel: String,
    /// CPU architecture.
    pub arch: String,
    /// Engine host name.
    pub name: String,
    /// CPUs the engine sees.
    pub ncpu: u32,
    /// Memory the engine sees, bytes.
    pub mem_total_bytes: u64,
    /// Storage driver.
    pub storage_driver: String,
    /// cgroup version (`1` or `2`).
    pub cgroup_version: String,
    /// Containers in all, running, paused, stopped.
    pub containers: u32,
    pub running: u32,
    pub paused: u32,
    pub stopped: u32,
    /// Images.
    pub images: u32,
}

/// A published or exposed port.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct PortMapping {
    /// Host address it is published on (empty when only exposed).
    pub host_ip: String,
    /// Host port, when published.
    pub host_port: Option<u16>,
    /// Container port.
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub proto: String,
}

/// One container in a list.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct ContainerSummary {
    pub id: String,
    /// Names without the leading `/`.
    pub names: Vec<String>,
    pub image: String,
    pub image_id: String,
    pub command: String,
    /// Creation, Unix seconds.
    pub created_unix: i64,
    /// `created`, `running`, `paused`, `restarting`, `exited`, `dead`, ...
    pub state: String,
    /// Human status (`Up 3 minutes`).
    pub status: String,
    pub ports: Vec<PortMapping>,
    pub labels: BTreeMap<String, String>,
}

/// Runtime state of a container.
#[derive(
    Archive,
    Serialize,
    Deserialize,
    Debug,
    Clone,
    PartialEq,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct ContainerState {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    pub oom_killed: bool,
    /// Host pid of its main process (0 when not running).
    pub pid: i64,
    pub exit_code: i64,
    /// The engine's error text, if any.
    pub error: String,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: String,
    /// `healthy`, `unhealthy`, `starting`, when it has a health check.
    pub health: Option<String>,
}

/// One mount of a container.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct MountInfo {
    /// `bind`, `volume`, `tmpfs`, ...
    pub kind: String,
    /// Host path or volume name.
    pub source: String,
    pub destination: String,
    pub read_only: bool,
}

/// One container in detail.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct ContainerDetails {
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// The image as asked for.
    pub image: String,
    pub image_id: String,
    /// RFC 3339.
    pub created: String,
    pub state: ContainerState,
    /// Entrypoint and command, as run.
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<PortMapping>,
    pub mounts: Vec<MountInfo>,
    /// `no`, `always`, `unless-stopped`, `on-failure`.
    pub restart_policy: String,
    pub restart_count: i64,
    /// Memory limit, bytes (0 = none).
    pub memory_bytes: u64,
    /// CPU limit in billionths of a CPU (0 = none).
    pub nano_cpus: u64,
    /// Network name → address in it.
    pub networks: BTreeMap<String, String>,
}

/// Which output stream a log entry came from.
#[derive(
    Archive,
    Serialize,
    Deserialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
)]
#[rkyv(derive(Debug))]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    Stdout,
    Stderr,
    /// A container with a TTY has one merged stream.
    Console,
}

/// A piece of container output (usually one line, with its newline).
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct LogEntry {
    pub stream: LogStream,
    /// The engine's RFC 3339 timestamp, when asked for.
    pub timestamp: Option<String>,
    /// The text (invalid UTF-8 replaced).
    pub text: String,
}

/// Consecutive log entries.
#[derive(
    Archive,
    Serialize,
    Deserialize,
    Debug,
    Clone,
    PartialEq,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct LogBatch {
    pub entries: Vec<LogEntry>,
}

/// Why a followed log ended.
#[derive(
    Archive,
    Serialize,
    Deserialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
)]
#[rkyv(derive(Debug))]
#[serde(rename_all = "snake_case")]
pub enum LogsEndReason {
    /// The container stopped (the engine closed the stream).
    Ended,
    /// The master cancelled the request.
    Cancelled,
    /// The request's deadline passed.
    Deadline,
}

/// Processes inside a container, as `ps` shows them.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct ContainerTop {
    /// Column titles.
    pub titles: Vec<String>,
    /// One row per process.
    pub processes: Vec<Vec<String>>,
}

/// One stats reading of a container.
#[derive(
    Archive,
    Serialize,
    Deserialize,
    Debug,
    Clone,
    PartialEq,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct ContainerStats {
    /// CPU use between the engine's two samples, percent of one CPU (up to 100 × CPUs), as
    /// `docker stats` shows it.
    pub cpu_pct: f64,
    /// CPUs the container may see.
    pub online_cpus: u32,
    /// Memory in use minus the page cache, bytes (as `docker stats`).
    pub mem_usage_bytes: u64,
    /// Memory limit, bytes (the host's memory when unlimited).
    pub mem_limit_bytes: u64,
    /// Usage over limit, percent.
    pub mem_pct: f64,
    /// Summed over the container's interfaces, bytes.
    pub net_rx_bytes: u64,
    pub net_tx_bytes: u64,
    /// Block I/O, bytes.
    pub block_read_bytes: u64,
    pub block_write_bytes: u64,
    /// Processes and threads.
    pub pids: u64,
    /// When the engine read it (RFC 3339).
    pub read_at: String,
}

/// One image in a list.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct ImageSummary {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    /// Creation, Unix seconds.
    pub created_unix: i64,
    pub size_bytes: u64,
    /// Containers using it (-1 when the engine did not count).
    pub containers: i64,
    pub labels: BTreeMap<String, String>,
}

/// One image in detail.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct ImageDetails {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    /// RFC 3339.
    pub created: String,
    pub author: String,
    pub architecture: String,
    pub os: String,
    pub size_bytes: u64,
    pub cmd: Vec<String>,
    pub entrypoint: Vec<String>,
    pub env: Vec<String>,
    pub exposed_ports: Vec<String>,
    pub workdir: String,
    pub labels: BTreeMap<String, String>,
    /// Layer digests of the root file system.
    pub layers: Vec<String>,
}

/// One step of an image's history.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct ImageLayer {
    /// Image id of the step, `<missing>` for pulled layers.
    pub id: String,
    pub created_unix: i64,
    pub created_by: String,
    pub size_bytes: u64,
    pub tags: Vec<String>,
    pub comment: String,
}

/// One network.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub scope: String,
    pub internal: bool,
    /// RFC 3339.
    pub created: String,
    pub labels: BTreeMap<String, String>,
}

/// One volume.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct VolumeInfo {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    /// RFC 3339.
    pub created: String,
    pub labels: BTreeMap<String, String>,
}
