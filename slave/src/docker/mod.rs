//! Docker Engine access behind the [`ContainerRuntime`] trait.
//!
//! * [`bollard_rt::BollardRuntime`] talks to the real engine over its unix socket (bollard,
//!   which needs tokio).
//! * [`fake::FakeRuntime`] keeps containers, images, networks and volumes in memory for unit
//!   tests, with the engine's conflict and not-found rules.
//! * [`ops::execute`] runs one [`protocol::ops::docker::DockerOp`] against any runtime: it
//!   validates arguments, confines bind mounts, composes create-and-run and deploy, throttles
//!   pull progress, batches followed logs and computes stats ([`stats`]).
//! * [`bridge::DockerBridge`] is the small current-thread tokio runtime on its own thread
//!   that the monoio agent hands operations to, created on first use.
//!
//! The trait's futures are not `Send`: the bridge drives them on a `LocalSet`.

pub mod bollard_rt;
pub mod bridge;
mod convert;
pub mod fake;
pub mod ops;
pub mod stats;

use futures_lite::Stream;
use protocol::ops::docker::VolumeCreate;
use protocol::ops::docker::{
    ContainerCreate, ImportSource, LogsQuery, NetworkCreate, RegistryAuth,
};
use protocol::ops::docker_reply::{
    ContainerDetails, ContainerSummary, ContainerTop, EngineInfo, ImageDetails, ImageLayer,
    ImageSummary, LogEntry, NetworkInfo, VolumeInfo,
};
use protocol::ops::{ErrorKind, OpError, PullProgress};
use std::path::{Path, PathBuf};
use std::pin::Pin;

/// A Docker operation failed. `NotFound`, `Conflict` and `Invalid` carry the engine's own
/// message (what `docker` prints); the other variants say what went wrong in types.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// No engine answers (no socket, connection refused).
    #[error("no Docker Engine on this slave: {0}")]
    Unavailable(#[source] Unreachable),
    /// The container, image, network or volume does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The target's state forbids the operation, or a name is taken.
    #[error("{0}")]
    Conflict(String),
    /// The engine refused an argument.
    #[error("{0}")]
    Invalid(String),
    /// An argument failed Commander's own checks before the engine was asked.
    #[error("{0}")]
    Argument(#[from] protocol::ops::validate::ValidationError),
    /// Any other engine or transport failure.
    #[error("Docker Engine error: {0}")]
    Engine(#[source] EngineFailure),
}

/// Why no engine answers.
#[derive(Debug, thiserror::Error)]
pub enum Unreachable {
    /// The socket path cannot be passed to the client.
    #[error("socket path {} is not UTF-8", .0.display())]
    NonUtf8Path(PathBuf),
    /// Nothing exists at the socket path.
    #[error("the engine socket {} does not exist", .0.display())]
    NoSocket(PathBuf),
    /// The socket exists but the connection failed (refused, permission denied).
    #[error("cannot connect to the engine socket: {0}")]
    Connect(#[source] bollard::errors::Error),
}

/// An engine or transport failure other than the classes the master acts on.
#[derive(Debug, thiserror::Error)]
pub enum EngineFailure {
    /// The engine answered with an HTTP status the other classes do not cover.
    #[error("HTTP {status}: {message}")]
    Status {
        /// HTTP status code.
        status: u16,
        /// The engine's message.
        message: String,
    },
    /// The engine reported an error inside a streamed answer (pull, import, logs).
    #[error("{0}")]
    Stream(String),
    /// The engine did not answer within the client's timeout.
    #[error("the engine did not answer in time")]
    Timeout,
    /// A stats request ended without a reading.
    #[error("the engine sent no stats")]
    NoStats,
    /// The spooled upload of an import could not be read.
    #[error("cannot read the upload {}: {source}", .path.display())]
    Upload {
        /// The spooled file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Any other failure of the engine client (transport, encoding).
    #[error("{0}")]
    Client(#[source] bollard::errors::Error),
}

impl From<DockerError> for OpError {
    fn from(e: DockerError) -> Self {
        let kind = match &e {
            DockerError::Unavailable(_) => ErrorKind::Unavailable,
            DockerError::NotFound(_) => ErrorKind::NotFound,
            DockerError::Conflict(_) => ErrorKind::Conflict,
            DockerError::Invalid(_) | DockerError::Argument(_) => ErrorKind::InvalidArgument,
            DockerError::Engine(_) => ErrorKind::Failed,
        };
        OpError::new(kind, e.to_string())
    }
}

/// A stream of log entries.
pub type LogStream<'a> = Pin<Box<dyn Stream<Item = Result<LogEntry, DockerError>> + 'a>>;
/// A stream of pull progress events.
pub type PullStream<'a> = Pin<Box<dyn Stream<Item = Result<PullProgress, DockerError>> + 'a>>;

/// The raw counters of one engine stats reading: the current sample and the previous one
/// the engine took (`precpu`), from which [`stats::compute`] derives percentages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsSample {
    /// Container CPU time, nanoseconds, now and at the previous sample.
    pub cpu_total: u64,
    /// Previous sample's container CPU time.
    pub precpu_total: u64,
    /// Host CPU time, nanoseconds, now and at the previous sample.
    pub system: u64,
    /// Previous sample's host CPU time.
    pub presystem: u64,
    /// CPUs online for the container (0 when the engine did not say).
    pub online_cpus: u32,
    /// Length of the per-CPU usage list (the fallback for `online_cpus`).
    pub percpu_len: u32,
    /// Memory usage including the page cache, bytes.
    pub mem_usage: u64,
    /// Inactive file cache (cgroup v2 `inactive_file`, v1 `total_inactive_file`), bytes.
    pub mem_inactive_file: u64,
    /// Memory limit, bytes.
    pub mem_limit: u64,
    /// Network bytes in and out, summed over interfaces.
    pub net_rx: u64,
    /// Network bytes out.
    pub net_tx: u64,
    /// Block bytes read.
    pub blk_read: u64,
    /// Block bytes written.
    pub blk_write: u64,
    /// Processes and threads.
    pub pids: u64,
    /// When the engine read it.
    pub read_at: String,
}

/// What Commander needs from a container engine. Every id or name argument has been
/// validated ([`protocol::ops::validate`]) before a call.
#[allow(async_fn_in_trait)] // Driven on a tokio LocalSet: the futures need not be `Send`.
pub trait ContainerRuntime {
    /// Engine version and facts.
    async fn info(&self) -> Result<EngineInfo, DockerError>;
    /// Containers (running only unless `all`).
    async fn list_containers(&self, all: bool) -> Result<Vec<ContainerSummary>, DockerError>;
    /// One container.
    async fn inspect_container(&self, id: &str) -> Result<ContainerDetails, DockerError>;
    /// Creates a container (validated form, bind mounts already confined); returns its id
    /// and the engine's warnings.
    async fn create_container(
        &self,
        form: &ContainerCreate,
    ) -> Result<(String, Vec<String>), DockerError>;
    /// Creates a container for the workload supervisor ([`crate::workload`]): `form` as
    /// for [`ContainerRuntime::create_container`], plus the TCP container ports `publish`
    /// published on all host addresses at host ports the ENGINE picks when the container
    /// starts (read them back with [`ContainerRuntime::inspect_container`]). Containers
    /// made for users always name their host ports ([`protocol::ops::validate::port_mapping`]
    /// refuses host port 0); only the supervisor takes this path.
    async fn create_container_engine_ports(
        &self,
        form: &ContainerCreate,
        publish: &[u16],
    ) -> Result<(String, Vec<String>), DockerError>;
    /// Starts a container.
    async fn start_container(&self, id: &str) -> Result<(), DockerError>;
    /// Stops a container, killing it after `timeout_secs`.
    async fn stop_container(&self, id: &str, timeout_secs: Option<u32>) -> Result<(), DockerError>;
    /// Restarts a container.
    async fn restart_container(
        &self,
        id: &str,
        timeout_secs: Option<u32>,
    ) -> Result<(), DockerError>;
    /// Freezes a container's processes.
    async fn pause_container(&self, id: &str) -> Result<(), DockerError>;
    /// Thaws a container's processes.
    async fn unpause_container(&self, id: &str) -> Result<(), DockerError>;
    /// Sends a signal (SIGKILL when `None`).
    async fn kill_container(&self, id: &str, signal: Option<&str>) -> Result<(), DockerError>;
    /// Removes a container.
    async fn remove_container(
        &self,
        id: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), DockerError>;
    /// Renames a container.
    async fn rename_container(&self, id: &str, new_name: &str) -> Result<(), DockerError>;
    /// A container's logs; endless when following a running container.
    fn logs<'a>(&'a self, query: &LogsQuery) -> LogStream<'a>;
    /// Processes inside a container.
    async fn top(&self, id: &str) -> Result<ContainerTop, DockerError>;
    /// One stats reading with the engine's previous sample.
    async fn stats_sample(&self, id: &str) -> Result<StatsSample, DockerError>;
    /// Images.
    async fn list_images(&self, all: bool) -> Result<Vec<ImageSummary>, DockerError>;
    /// One image.
    async fn inspect_image(&self, reference: &str) -> Result<ImageDetails, DockerError>;
    /// An image's history.
    async fn image_history(&self, reference: &str) -> Result<Vec<ImageLayer>, DockerError>;
    /// Pulls `reference` (which names a tag or digest), reporting per-layer progress.
    fn pull_image<'a>(&'a self, reference: &str, auth: Option<&RegistryAuth>) -> PullStream<'a>;
    /// Removes an image; returns what was untagged and deleted.
    async fn remove_image(
        &self,
        reference: &str,
        force: bool,
        prune: bool,
    ) -> Result<Vec<String>, DockerError>;
    /// Tags an image as `repo:tag`.
    async fn tag_image(&self, source: &str, repo: &str, tag: &str) -> Result<(), DockerError>;
    /// Imports a tarball from a file; returns the images created or tagged.
    async fn import_image(
        &self,
        source: &ImportSource,
        tarball: &Path,
    ) -> Result<Vec<String>, DockerError>;
    /// Networks.
    async fn list_networks(&self) -> Result<Vec<NetworkInfo>, DockerError>;
    /// Creates a network; returns its id.
    async fn create_network(&self, network: &NetworkCreate) -> Result<String, DockerError>;
    /// Removes a network.
    async fn remove_network(&self, id: &str) -> Result<(), DockerError>;
    /// Volumes.
    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>, DockerError>;
    /// Creates a volume; returns its name.
    async fn create_volume(&self, volume: &VolumeCreate) -> Result<String, DockerError>;
    /// Removes a volume.
    async fn remove_volume(&self, name: &str, force: bool) -> Result<(), DockerError>;
}
