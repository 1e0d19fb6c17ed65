//! Every message exchanged on a session, as rkyv-archivable types.
//!
//! Direction is part of each type's contract: the slave sends [`Hello`], [`HostInfo`],
//! [`Heartbeat`], [`Response`], [`Chunk`] and [`ObservedState`]; the master sends
//! [`Welcome`], [`Reject`], [`Request`] and [`DesiredState`]. Receivers refuse a message that
//! travels the wrong way. Changing any type here changes the wire format: bump
//! [`crate::version::PROTOCOL_VERSION_MAX`] and the golden bytes in `codec`'s tests.
//! Version 2 added host and Docker operations ([`crate::ops`]): a master sends them only on a
//! session whose negotiated version is at least [`crate::version::OPS_VERSION`]. Version 4
//! gave [`DesiredState`] and [`ObservedState`] their workloads ([`crate::workload`]); a
//! master sends a desired state only on a session of at least
//! [`crate::version::WORKLOADS_VERSION`].

// rkyv's derive generates archived twins of the enums below whose variant fields carry no
// docs; every type written here is documented by hand.
#![allow(missing_docs)]

use rkyv::{Archive, Deserialize, Serialize};

/// One message on a session.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub enum Message {
    /// Slave → master, first message after the handshake.
    Hello(Hello),
    /// Master → slave: the session is accepted.
    Welcome(Welcome),
    /// Master → slave: the session is refused; the master closes it next.
    Reject(Reject),
    /// Slave → master: static facts about the host, sent after `Welcome`.
    HostInfo(HostInfo),
    /// Slave → master: liveness plus one metric sample.
    Heartbeat(Heartbeat),
    /// Master → slave: an operation to run.
    Request(Request),
    /// Slave → master: the answer to a request.
    Response(Response),
    /// Either way: one piece of a result too large for one message.
    Chunk(Chunk),
    /// Master → slave: what the slave should be running.
    DesiredState(DesiredState),
    /// Slave → master: what the slave is running.
    ObservedState(ObservedState),
}

impl Message {
    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Hello(_) => "hello",
            Self::Welcome(_) => "welcome",
            Self::Reject(_) => "reject",
            Self::HostInfo(_) => "host_info",
            Self::Heartbeat(_) => "heartbeat",
            Self::Request(_) => "request",
            Self::Response(_) => "response",
            Self::Chunk(_) => "chunk",
            Self::DesiredState(_) => "desired_state",
            Self::ObservedState(_) => "observed_state",
        }
    }

    /// Whether a slave may send this message to the master.
    pub fn is_from_slave(&self) -> bool {
        matches!(
            self,
            Self::Hello(_)
                | Self::HostInfo(_)
                | Self::Heartbeat(_)
                | Self::Response(_)
                | Self::Chunk(_)
                | Self::ObservedState(_)
        )
    }

    /// Whether the master may send this message to a slave.
    pub fn is_from_master(&self) -> bool {
        matches!(
            self,
            Self::Welcome(_)
                | Self::Reject(_)
                | Self::Request(_)
                | Self::Chunk(_)
                | Self::DesiredState(_)
        )
    }
}

/// How a slave proves who it is, inside the already encrypted session.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug), attr(allow(missing_docs)))]
pub enum HelloAuth {
    /// First contact: the secret of a one-time join token.
    Enroll {
        /// The token's secret.
        secret: [u8; 32],
    },
    /// A known node coming back; the master checks the session's static key.
    Resume {
        /// The node id the master assigned at enrolment.
        node_id: u64,
    },
}

/// Slave → master: versions spoken and credentials.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub struct Hello {
    /// Lowest protocol version the slave speaks.
    pub min_version: u16,
    /// Highest protocol version the slave speaks.
    pub max_version: u16,
    /// Enrolment or resumption.
    pub auth: HelloAuth,
    /// The agent's build version, for display.
    pub agent_version: String,
}

/// Master → slave: accepted.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub struct Welcome {
    /// The negotiated protocol version.
    pub version: u16,
    /// The slave's node id (new on enrolment).
    pub node_id: u64,
    /// How often the slave should send heartbeats, milliseconds.
    pub heartbeat_interval_ms: u32,
}

/// Why the master refused a session.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(derive(Debug))]
pub enum RejectReason {
    /// No protocol version in common.
    VersionUnsupported,
    /// The join token is unknown, used or expired.
    TokenInvalid,
    /// The static key or node id is not known.
    UnknownNode,
    /// The node was revoked by an operator.
    Revoked,
    /// The master failed; try again later.
    Internal,
}

/// Master → slave: refused, with a reason a person can read.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub struct Reject {
    /// Machine-readable reason.
    pub reason: RejectReason,
    /// Explanation for logs.
    pub message: String,
}

/// One mounted file system.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct DiskInfo {
    /// Mount point.
    pub mount: String,
    /// Device or source.
    pub device: String,
    /// File-system type.
    pub fs_type: String,
    /// Size in bytes.
    pub total_bytes: u64,
}

/// Static facts about a slave's host.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct HostInfo {
    /// Host name.
    pub hostname: String,
    /// Operating system name and version (from os-release).
    pub os: String,
    /// Kernel release.
    pub kernel: String,
    /// CPU architecture.
    pub arch: String,
    /// CPU model name.
    pub cpu_model: String,
    /// Logical CPUs.
    pub cpu_cores: u32,
    /// Physical memory in bytes.
    pub mem_total_bytes: u64,
    /// Swap in bytes.
    pub swap_total_bytes: u64,
    /// Mounted disks.
    pub disks: Vec<DiskInfo>,
    /// Docker Engine version, when one answers.
    pub docker_version: Option<String>,
    /// Boot time, Unix seconds.
    pub boot_time_unix: u64,
}

/// Usage of one mount.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct DiskUsage {
    /// Mount point.
    pub mount: String,
    /// Size in bytes.
    pub total_bytes: u64,
    /// Used bytes.
    pub used_bytes: u64,
}

/// Counters of one network interface.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct NetUsage {
    /// Interface name.
    pub iface: String,
    /// Received bytes since boot.
    pub rx_bytes: u64,
    /// Transmitted bytes since boot.
    pub tx_bytes: u64,
    /// Receive rate over the last interval, bytes per second.
    pub rx_bytes_per_sec: u64,
    /// Transmit rate over the last interval, bytes per second.
    pub tx_bytes_per_sec: u64,
}

/// One sample of a host's metrics.
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
pub struct MetricSample {
    /// When the sample was taken, Unix milliseconds (slave clock).
    pub taken_at_ms: u64,
    /// CPU busy share over the last interval, percent of all cores.
    pub cpu_total_pct: f32,
    /// CPU busy share per core, percent.
    pub cpu_per_core_pct: Vec<f32>,
    /// Load averages over 1, 5 and 15 minutes.
    pub load: [f32; 3],
    /// Physical memory, bytes.
    pub mem_total_bytes: u64,
    /// Memory in use (total minus available), bytes.
    pub mem_used_bytes: u64,
    /// Swap size, bytes.
    pub swap_total_bytes: u64,
    /// Swap in use, bytes.
    pub swap_used_bytes: u64,
    /// Per-mount usage.
    pub disks: Vec<DiskUsage>,
    /// Per-interface counters.
    pub nets: Vec<NetUsage>,
    /// TCP connections in the ESTABLISHED or CLOSE-WAIT state, IPv4 and IPv6 (the
    /// kernel's `tcpCurrEstab`).
    pub tcp_established: u32,
    /// All TCP sockets: in use in any state (listeners included) plus TIME-WAIT.
    pub tcp_total: u32,
}

/// Slave → master: "still here", with the latest sample.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub struct Heartbeat {
    /// Increases by one per heartbeat of this session.
    pub seq: u64,
    /// The latest metrics.
    pub sample: MetricSample,
}

/// An operation the master asks a slave to run.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub enum RequestBody {
    /// Answer `Pong` at once (round-trip check).
    Ping,
    /// Send the host facts again.
    HostInfo,
    /// A host operation (protocol version 2).
    Host(Box<crate::ops::host::HostOp>),
    /// A Docker Engine operation (protocol version 2).
    Docker(Box<crate::ops::docker::DockerOp>),
    /// Stop the request `id` in flight (a followed log, a pull); answered with
    /// [`ResponseBody::Cancelled`] (protocol version 2).
    Cancel {
        /// The request to stop.
        id: u64,
    },
}

impl RequestBody {
    /// A short name for logs and audit records (`host.signal`, `docker.pull_image`).
    pub fn name(&self) -> String {
        match self {
            Self::Ping => "ping".into(),
            Self::HostInfo => "host_info".into(),
            Self::Host(op) => format!("host.{}", op.name()),
            Self::Docker(op) => format!("docker.{}", op.name()),
            Self::Cancel { .. } => "cancel".into(),
        }
    }
}

/// Master → slave: a request with an id and a deadline.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub struct Request {
    /// Unique per session; the response carries it back.
    pub id: u64,
    /// How long the master waits, milliseconds; the slave may give up after it too.
    pub timeout_ms: u32,
    /// The operation.
    pub body: RequestBody,
}

/// The outcome of a request.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug), attr(allow(missing_docs)))]
pub enum ResponseBody {
    /// Answer to `Ping`.
    Pong,
    /// Answer to `HostInfo`.
    HostInfo(HostInfo),
    /// The result follows as `Chunk`s with this request id.
    Streamed {
        /// Total bytes that will follow.
        total_len: u64,
    },
    /// The operation failed.
    Error {
        /// What went wrong, for a person.
        message: String,
    },
    /// Answer to a host operation (protocol version 2).
    Host(Box<crate::ops::host::HostReply>),
    /// Answer to a Docker operation (protocol version 2).
    Docker(Box<crate::ops::docker_reply::DockerReply>),
    /// Not final: progress of a long operation; the final answer follows (see [`crate::ops`]).
    Progress(Box<crate::ops::Progress>),
    /// An operation failed, with a class of failure and the field at fault.
    Failed(Box<crate::ops::OpError>),
    /// Answer to [`RequestBody::Cancel`].
    Cancelled {
        /// Whether the named request was still running.
        found: bool,
    },
}

impl ResponseBody {
    /// Whether this ends the request (everything but [`ResponseBody::Progress`]; a
    /// [`ResponseBody::Streamed`] answer ends with its last chunk).
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Progress(_))
    }
}

/// Slave → master: the answer to request `id`.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub struct Response {
    /// The request's id.
    pub id: u64,
    /// The outcome.
    pub body: ResponseBody,
}

/// A piece of a streamed result.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(derive(Debug))]
pub struct Chunk {
    /// The request this belongs to.
    pub id: u64,
    /// 0, 1, 2, ... in order.
    pub seq: u32,
    /// Set on the final chunk.
    pub last: bool,
    /// The bytes.
    pub data: Vec<u8>,
}

pub use crate::workload::{DesiredState, ObservedState};
