//! Host operations: processes, signals, sockets, the environment profile, the hosts file,
//! disks and a live performance sample. Requests are [`HostOp`], answers [`HostReply`].

#![allow(missing_docs)]

use crate::message::MetricSample;
use rkyv::{Archive, Deserialize, Serialize};

/// A host operation.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
#[serde(rename_all = "snake_case")]
pub enum HostOp {
    /// One page of the process list → [`HostReply::Processes`].
    ListProcesses(ProcessQuery),
    /// Details of one process → [`HostReply::Process`].
    ProcessDetails {
        /// The process.
        pid: u32,
    },
    /// Sends a signal with `kill(2)` → [`HostReply::Signalled`].
    Signal(SignalRequest),
    /// TCP and UDP sockets with their owning processes → [`HostReply::Sockets`].
    Sockets(SocketQuery),
    /// The environment profile → [`HostReply::Env`].
    GetEnv,
    /// Replaces the profile's edits (applied to processes the slave starts) →
    /// [`HostReply::Env`].
    SetEnv(EnvEdit),
    /// The hosts file → [`HostReply::Hosts`].
    GetHosts,
    /// Replaces the hosts file (validated, atomic, previous version kept) →
    /// [`HostReply::Hosts`].
    PutHosts {
        /// The new content.
        content: String,
    },
    /// Puts the previous hosts file back (the current one becomes the previous) →
    /// [`HostReply::Hosts`].
    RestoreHosts,
    /// Mounts with their usage → [`HostReply::Disks`].
    Disks,
    /// A fresh metric sample → [`HostReply::Performance`].
    Performance,
}

impl HostOp {
    /// Every operation's [`HostOp::name`].
    pub const NAMES: &'static [&'static str] = &[
        "list_processes",
        "process_details",
        "signal",
        "sockets",
        "get_env",
        "set_env",
        "get_hosts",
        "put_hosts",
        "restore_hosts",
        "disks",
        "performance",
    ];

    /// A short name for logs and audit records.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ListProcesses(_) => "list_processes",
            Self::ProcessDetails { .. } => "process_details",
            Self::Signal(_) => "signal",
            Self::Sockets(_) => "sockets",
            Self::GetEnv => "get_env",
            Self::SetEnv(_) => "set_env",
            Self::GetHosts => "get_hosts",
            Self::PutHosts { .. } => "put_hosts",
            Self::RestoreHosts => "restore_hosts",
            Self::Disks => "disks",
            Self::Performance => "performance",
        }
    }
}

/// Sort key of the process list.
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
pub enum ProcessSort {
    /// CPU share.
    #[default]
    Cpu,
    /// Resident memory.
    Rss,
    /// Process id.
    Pid,
    /// Start time.
    Start,
}

/// Which processes, in which order, which page.
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
pub struct ProcessQuery {
    /// Sort key.
    pub sort: ProcessSort,
    /// Largest first (the default for CPU and RSS makes sense: set it).
    pub descending: bool,
    /// Keep processes whose name or command line contains this (ASCII case-insensitive).
    pub filter: Option<String>,
    /// Keep processes of this user (name, or numeric uid).
    pub user: Option<String>,
    /// Rows to skip after filtering and sorting.
    pub offset: u32,
    /// Rows to return; 0 returns all.
    pub limit: u32,
}

/// One process.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Real user id.
    pub uid: u32,
    /// User name (the uid in digits when unknown).
    pub user: String,
    /// Short name (`comm`).
    pub name: String,
    /// Command line, arguments joined by spaces (`[name]` for kernel threads).
    pub command: String,
    /// State letter (`R`, `S`, `D`, `Z`, ...).
    pub state: String,
    /// CPU share, percent of one core (see [`ProcessPage::cpu_window_ms`]).
    pub cpu_pct: f32,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Threads.
    pub threads: u32,
    /// Start time, Unix milliseconds.
    pub start_time_ms: u64,
}

/// One page of processes.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct ProcessPage {
    /// Processes matching the filters (before paging).
    pub total: u32,
    /// The query's offset.
    pub offset: u32,
    /// The page.
    pub processes: Vec<ProcessInfo>,
    /// CPU shares are measured over this window, milliseconds (since the previous listing);
    /// 0 means over each process's lifetime (first listing).
    pub cpu_window_ms: u64,
}

/// One process in detail.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct ProcessDetails {
    /// The list row.
    pub info: ProcessInfo,
    /// Arguments, unjoined.
    pub args: Vec<String>,
    /// Executable path, when readable.
    pub exe: Option<String>,
    /// Working directory, when readable.
    pub cwd: Option<String>,
    /// Nice value.
    pub nice: i32,
    /// Virtual memory, bytes.
    pub vsize_bytes: u64,
    /// Open file descriptors, when readable.
    pub open_fds: Option<u32>,
    /// Child process ids.
    pub children: Vec<u32>,
    /// Sockets the process holds.
    pub sockets: Vec<SocketInfo>,
}

/// A signal to send.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct SignalRequest {
    /// Target process.
    pub pid: u32,
    /// Signal number, 1..=64 (15 = SIGTERM, 9 = SIGKILL).
    pub signal: i32,
    /// Allow pid 1 and the slave itself.
    pub force: bool,
}

/// Which sockets to list.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct SocketQuery {
    /// Listening TCP sockets and bound UDP sockets.
    pub listening: bool,
    /// Established TCP connections.
    pub established: bool,
}

/// Transport of a socket.
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
pub enum SocketProto {
    /// TCP over IPv4.
    Tcp,
    /// TCP over IPv6.
    Tcp6,
    /// UDP over IPv4.
    Udp,
    /// UDP over IPv6.
    Udp6,
}

/// One socket ("port in use").
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct SocketInfo {
    /// Transport.
    pub proto: SocketProto,
    /// `LISTEN`, `ESTABLISHED`, ... (`UNCONN` for a bound UDP socket).
    pub state: String,
    /// Local address, `ip:port` (`[v6]:port`).
    pub local: String,
    /// Remote address.
    pub remote: String,
    /// Owning process, when visible.
    pub pid: Option<u32>,
    /// Owning process's name.
    pub command: Option<String>,
    /// Socket owner's uid.
    pub uid: u32,
}

/// One environment variable.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct EnvVar {
    /// Name.
    pub key: String,
    /// Value (`"<redacted>"` when [`EnvVar::redacted`]).
    pub value: String,
    /// The value looked secret (a token, password, key) and is not shown.
    pub redacted: bool,
}

/// New edits of the environment profile (they replace the previous edits).
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct EnvEdit {
    /// Variables to set. An entry with `redacted: true` (a secret shown redacted and sent
    /// back unchanged) keeps the value already stored for its key.
    pub set: Vec<EnvVar>,
    /// Variables to remove from what processes inherit.
    pub unset: Vec<String>,
}

/// The environment profile.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct EnvProfile {
    /// The slave's own environment, as inherited by what it starts.
    pub inherited: Vec<EnvVar>,
    /// Edits: set on top of the inherited environment.
    pub set: Vec<EnvVar>,
    /// Edits: removed from the inherited environment.
    pub unset: Vec<String>,
}

/// One mapping line of a hosts file.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct HostsEntry {
    /// Line number, from 1.
    pub line: u32,
    /// Address.
    pub ip: String,
    /// Host names and aliases.
    pub names: Vec<String>,
}

/// The hosts file as the slave sees it.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct HostsFile {
    /// Where it is.
    pub path: String,
    /// The whole text.
    pub content: String,
    /// Its mappings, parsed.
    pub entries: Vec<HostsEntry>,
    /// When the kept previous version was saved (Unix ms), if there is one.
    pub previous_saved_ms: Option<u64>,
}

/// Usage of one mounted file system.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct MountUsage {
    /// Mount point.
    pub mount: String,
    /// Device or source.
    pub device: String,
    /// File-system type.
    pub fs_type: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Size, bytes.
    pub total_bytes: u64,
    /// Used, bytes (`df`'s used: blocks − free).
    pub used_bytes: u64,
    /// Available to unprivileged users, bytes.
    pub avail_bytes: u64,
    /// Inodes in all.
    pub inodes_total: u64,
    /// Inodes in use.
    pub inodes_used: u64,
}

/// The answer to a [`HostOp`].
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
#[serde(rename_all = "snake_case")]
pub enum HostReply {
    /// Answer to [`HostOp::ListProcesses`].
    Processes(ProcessPage),
    /// Answer to [`HostOp::ProcessDetails`].
    Process(ProcessDetails),
    /// Answer to [`HostOp::Signal`]: the signal was delivered.
    Signalled {
        /// Target.
        pid: u32,
        /// Signal number.
        signal: i32,
    },
    /// Answer to [`HostOp::Sockets`].
    Sockets(Vec<SocketInfo>),
    /// Answer to [`HostOp::GetEnv`] and [`HostOp::SetEnv`].
    Env(EnvProfile),
    /// Answer to the hosts-file operations.
    Hosts(HostsFile),
    /// Answer to [`HostOp::Disks`]: every mount (usage zero where `statvfs` failed).
    Disks(Vec<MountUsage>),
    /// Answer to [`HostOp::Performance`].
    Performance(MetricSample),
}

impl HostReply {
    /// Every answer's [`HostReply::name`].
    pub const NAMES: &'static [&'static str] = &[
        "processes",
        "process",
        "signalled",
        "sockets",
        "env",
        "hosts",
        "disks",
        "performance",
    ];

    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Processes(_) => "processes",
            Self::Process(_) => "process",
            Self::Signalled { .. } => "signalled",
            Self::Sockets(_) => "sockets",
            Self::Env(_) => "env",
            Self::Hosts(_) => "hosts",
            Self::Disks(_) => "disks",
            Self::Performance(_) => "performance",
        }
    }
}
