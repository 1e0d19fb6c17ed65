//! Docker operations ([`DockerOp`]) and their arguments. Answers are in
//! [`super::docker_reply`]; [`super::validate::docker_op`] checks every argument.
//!
//! Registry credentials ([`RegistryAuth`]) travel only inside the encrypted session: their
//! `Debug` output and their JSON serialisation leave the password and token out, so neither a
//! log line nor an echoed request can carry them.

#![allow(missing_docs)]

use rkyv::{Archive, Deserialize, Serialize};
use std::collections::BTreeMap;

/// A Docker Engine operation.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
#[serde(rename_all = "snake_case")]
pub enum DockerOp {
    /// Engine version and facts → `Info`.
    Info,
    /// Containers → `Containers`.
    ListContainers {
        /// Include stopped containers.
        all: bool,
    },
    /// One container → `Container`.
    InspectContainer { id: String },
    /// Creates a container from a local image, and starts it when `start` → `Created`.
    CreateContainer(ContainerCreate),
    /// → `Done`.
    StartContainer { id: String },
    /// Stops, killing after `timeout_secs` (engine default 10) → `Done`.
    StopContainer {
        id: String,
        timeout_secs: Option<u32>,
    },
    /// → `Done`.
    RestartContainer {
        id: String,
        timeout_secs: Option<u32>,
    },
    /// → `Done`.
    PauseContainer { id: String },
    /// → `Done`.
    UnpauseContainer { id: String },
    /// Sends a signal (name like `SIGTERM`/`TERM` or number; default SIGKILL) → `Done`.
    KillContainer { id: String, signal: Option<String> },
    /// → `Done`.
    RemoveContainer {
        id: String,
        /// Kill it first when running.
        force: bool,
        /// Also remove its anonymous volumes.
        volumes: bool,
    },
    /// → `Done`.
    RenameContainer { id: String, new_name: String },
    /// Logs → `Logs` (or streamed); when following, `Progress` log batches then `LogsEnd`.
    Logs(LogsQuery),
    /// Processes inside → `Top`.
    Top { id: String },
    /// One stats reading (CPU over the engine's two samples) → `Stats`.
    Stats { id: String },
    /// Images → `Images`.
    ListImages {
        /// Include intermediate images.
        all: bool,
    },
    /// → `Image`.
    InspectImage { reference: String },
    /// → `History`.
    ImageHistory { reference: String },
    /// Pulls with per-layer `Progress` → `Pulled`.
    PullImage(PullRequest),
    /// → `ImagesRemoved`.
    RemoveImage {
        reference: String,
        /// Remove even when tagged in several repositories or used by stopped containers.
        force: bool,
        /// Remove untagged parents too.
        prune: bool,
    },
    /// Adds `repo:tag` to an image → `Done`.
    TagImage {
        source: String,
        repo: String,
        tag: String,
    },
    /// Pulls when the policy says so, then creates and starts; `Progress` steps → `Created`.
    Deploy(DeployRequest),
    /// Imports an uploaded tarball sent as `Chunk`s after this request → `Imported`.
    ImportImage(ImportRequest),
    /// → `Networks`.
    ListNetworks,
    /// → `NetworkCreated`.
    CreateNetwork(NetworkCreate),
    /// → `Done`.
    RemoveNetwork { id: String },
    /// → `Volumes`.
    ListVolumes,
    /// → `VolumeCreated`.
    CreateVolume(VolumeCreate),
    /// → `Done`.
    RemoveVolume { name: String, force: bool },
}

impl DockerOp {
    /// Every operation's [`DockerOp::name`].
    pub const NAMES: &'static [&'static str] = &[
        "info",
        "list_containers",
        "inspect_container",
        "create_container",
        "start_container",
        "stop_container",
        "restart_container",
        "pause_container",
        "unpause_container",
        "kill_container",
        "remove_container",
        "rename_container",
        "logs",
        "top",
        "stats",
        "list_images",
        "inspect_image",
        "image_history",
        "pull_image",
        "remove_image",
        "tag_image",
        "deploy",
        "import_image",
        "list_networks",
        "create_network",
        "remove_network",
        "list_volumes",
        "create_volume",
        "remove_volume",
    ];

    /// A short name for logs and audit records.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::ListContainers { .. } => "list_containers",
            Self::InspectContainer { .. } => "inspect_container",
            Self::CreateContainer(_) => "create_container",
            Self::StartContainer { .. } => "start_container",
            Self::StopContainer { .. } => "stop_container",
            Self::RestartContainer { .. } => "restart_container",
            Self::PauseContainer { .. } => "pause_container",
            Self::UnpauseContainer { .. } => "unpause_container",
            Self::KillContainer { .. } => "kill_container",
            Self::RemoveContainer { .. } => "remove_container",
            Self::RenameContainer { .. } => "rename_container",
            Self::Logs(_) => "logs",
            Self::Top { .. } => "top",
            Self::Stats { .. } => "stats",
            Self::ListImages { .. } => "list_images",
            Self::InspectImage { .. } => "inspect_image",
            Self::ImageHistory { .. } => "image_history",
            Self::PullImage(_) => "pull_image",
            Self::RemoveImage { .. } => "remove_image",
            Self::TagImage { .. } => "tag_image",
            Self::Deploy(_) => "deploy",
            Self::ImportImage(_) => "import_image",
            Self::ListNetworks => "list_networks",
            Self::CreateNetwork(_) => "create_network",
            Self::RemoveNetwork { .. } => "remove_network",
            Self::ListVolumes => "list_volumes",
            Self::CreateVolume(_) => "create_volume",
            Self::RemoveVolume { .. } => "remove_volume",
        }
    }

    /// Whether the operation may run long and report progress (the master makes a task).
    pub fn is_long(&self) -> bool {
        matches!(
            self,
            Self::PullImage(_) | Self::Deploy(_) | Self::ImportImage(_)
        ) || matches!(self, Self::Logs(q) if q.follow)
    }
}

/// Restart policy of a container.
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
#[serde(rename_all = "snake_case")]
pub enum RestartPolicy {
    /// Never restart.
    #[default]
    No,
    /// Always, also after the engine restarts.
    Always,
    /// Always, unless an operator stopped it.
    UnlessStopped,
    /// When it exits non-zero, at most `max_retries` times (0 = no limit).
    OnFailure { max_retries: u32 },
}

/// A container to create (the console's "run" form).
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
#[serde(default)]
pub struct ContainerCreate {
    /// Image reference.
    pub image: String,
    /// Container name; the engine picks one when absent.
    pub name: Option<String>,
    /// Command (argv, no shell); the image's default when empty.
    pub cmd: Vec<String>,
    /// `KEY=VALUE` pairs.
    pub env: Vec<String>,
    /// Port mappings `[IP:]HOST:CONTAINER[/tcp|udp|sctp]`.
    pub ports: Vec<String>,
    /// Mounts `SOURCE:TARGET[:ro|:rw]`: SOURCE is a volume name or an absolute host path (a
    /// bind mount, allowed only under the slave's configured roots).
    pub volumes: Vec<String>,
    /// Restart policy.
    pub restart: RestartPolicy,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Memory limit, bytes.
    pub memory_bytes: Option<u64>,
    /// CPU limit in billionths of a CPU (1.5 CPUs = 1_500_000_000).
    pub nano_cpus: Option<u64>,
    /// Network to attach to (the engine's default bridge when absent).
    pub network: Option<String>,
    /// Working directory inside the container.
    pub workdir: Option<String>,
    /// User inside the container (`name`, `uid`, `uid:gid`).
    pub user: Option<String>,
    /// Start it after creating it (the default).
    pub start: bool,
}

impl Default for ContainerCreate {
    fn default() -> Self {
        Self {
            image: String::new(),
            name: None,
            cmd: Vec::new(),
            env: Vec::new(),
            ports: Vec::new(),
            volumes: Vec::new(),
            restart: RestartPolicy::No,
            labels: BTreeMap::new(),
            memory_bytes: None,
            nano_cpus: None,
            network: None,
            workdir: None,
            user: None,
            start: true,
        }
    }
}

/// Which logs.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
#[serde(default)]
pub struct LogsQuery {
    /// Container.
    pub id: String,
    /// Only the last N lines; all when absent.
    pub tail: Option<u32>,
    /// Keep streaming new lines until the container stops, the request is cancelled or its
    /// deadline passes.
    pub follow: bool,
    /// Include standard output.
    pub stdout: bool,
    /// Include standard error.
    pub stderr: bool,
    /// Prefix lines with the engine's timestamps (returned in [`super::docker_reply::LogEntry::timestamp`]).
    pub timestamps: bool,
    /// Only lines since this Unix time, seconds.
    pub since_unix: Option<i64>,
}

impl Default for LogsQuery {
    fn default() -> Self {
        Self {
            id: String::new(),
            tail: None,
            follow: false,
            stdout: true,
            stderr: true,
            timestamps: false,
            since_unix: None,
        }
    }
}

/// Credentials for a registry. Never logged, never serialised back (see the module docs).
#[derive(
    Archive, Serialize, Deserialize, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
pub struct RegistryAuth {
    /// Registry host (`registry.example:5000`); the image's registry when absent.
    pub server: Option<String>,
    /// User name.
    pub username: String,
    /// Password or access token.
    #[serde(skip_serializing, default)]
    pub password: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl std::fmt::Debug for ArchivedRegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// An image to pull.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct PullRequest {
    /// `name[:tag][@digest]`; tag `latest` when neither is given.
    pub reference: String,
    /// Credentials, for a private registry.
    pub auth: Option<RegistryAuth>,
}

/// When a deployment pulls its image.
#[derive(
    Archive,
    Serialize,
    Deserialize,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[rkyv(derive(Debug))]
#[serde(rename_all = "snake_case")]
pub enum PullPolicy {
    /// Only when the image is not present (the default).
    #[default]
    Missing,
    /// Always (to pick up a moved tag).
    Always,
    /// Never: fail when absent.
    Never,
}

/// Pull (maybe), create and start a container.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct DeployRequest {
    /// The container.
    pub container: ContainerCreate,
    /// When to pull.
    pub pull: PullPolicy,
    /// Registry credentials for the pull.
    pub auth: Option<RegistryAuth>,
}

/// What kind of tarball an import is.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
#[serde(rename_all = "snake_case")]
pub enum ImportSource {
    /// An image archive made by `docker save` (tags come from inside it).
    Load,
    /// A root file system (`docker import`), becoming the image `repo:tag`.
    RootFs { repo: String, tag: String },
}

/// An image import; the tarball follows as `Chunk`s (master → slave).
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct ImportRequest {
    /// Kind of tarball.
    pub source: ImportSource,
    /// Exact size of the tarball, bytes.
    pub total_len: u64,
}

/// A network to create.
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
#[serde(default)]
pub struct NetworkCreate {
    /// Name.
    pub name: String,
    /// Driver (`bridge` when absent).
    pub driver: Option<String>,
    /// No outside connectivity.
    pub internal: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// A volume to create.
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
#[serde(default)]
pub struct VolumeCreate {
    /// Name.
    pub name: String,
    /// Driver (`local` when absent).
    pub driver: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}
