//! Remote operations: what the master may ask a slave to do on its host ([`host`]) and with
//! its Docker Engine ([`docker`], answers in [`docker_reply`]), the progress of long
//! operations, typed errors, and the argument checks both sides share ([`validate`]).
//!
//! # Life of an operation
//!
//! The master sends `Request { id, timeout_ms, body }` with [`crate::RequestBody::Host`] or
//! [`crate::RequestBody::Docker`]. The slave answers with messages carrying the same `id`:
//!
//! 1. zero or more [`crate::ResponseBody::Progress`] messages. They are **not final**: pull
//!    layer progress, deployment steps, and the log lines of a followed log
//!    ([`ProgressEvent`]). Their `seq` counts 0, 1, 2, ... per request;
//! 2. exactly one **final** answer: [`crate::ResponseBody::Host`] /
//!    [`crate::ResponseBody::Docker`] on success, [`crate::ResponseBody::Failed`] with an
//!    [`OpError`] (its [`ErrorKind`] maps to an HTTP status) on failure, or
//!    [`crate::ResponseBody::Streamed`] when the answer is too large for one message (see
//!    below).
//!
//! **Large answers.** When the final answer's encoding exceeds [`STREAM_THRESHOLD`] (a long
//! log, a process list of a busy host), the slave sends `Streamed { total_len }` and then
//! [`crate::Chunk`]s of at most [`CHUNK_SIZE`] bytes, `seq` 0, 1, ..., the last flagged. Their
//! concatenation is the [`crate::codec::encode_response_body`] encoding of the final answer;
//! the master decodes it with [`crate::codec::decode_response_body`]. Nothing is truncated:
//! an answer above [`MAX_STREAMED_LEN`] fails with an error that says so.
//!
//! **Streamed logs** (version [`crate::STREAMED_LOGS_VERSION`] on): a log that is not
//! followed ([`docker::DockerOp::Logs`] without `follow`) is not collected into one answer.
//! The slave sends its entries as [`ProgressEvent::Logs`] batches of about
//! [`LOG_BATCH_BYTES`] bytes of text, in order, then the final
//! [`docker_reply::DockerReply::LogsEnd`] with the number of entries sent (reason
//! `ended`). Flow control: the master acknowledges the batches it has passed on with an
//! empty [`crate::Chunk`] carrying the request's id and, as `seq`, the number of batches
//! consumed so far; the slave never sends batch `n` (0-based) before `n - LOG_WINDOW + 1`
//! are acknowledged, so at most [`LOG_WINDOW`] batches of a log are in flight. On a session
//! of a lower version the log is one final answer, as before.
//!
//! **Uploads** (image import): the master sends the request
//! ([`docker::DockerOp::ImportImage`], which states `total_len`) and then `Chunk`s with the
//! request's id carrying the tarball, at most [`CHUNK_SIZE`] bytes each is recommended; the
//! slave spools them to its data directory and answers once the engine has imported it.
//!
//! **Cancel.** [`crate::RequestBody::Cancel`] names a request in flight (a followed log, a
//! pull); the slave answers it with [`crate::ResponseBody::Cancelled`] and ends the named
//! request with its final answer (a followed log ends with
//! [`docker_reply::DockerReply::LogsEnd`], other operations with [`ErrorKind::Cancelled`]).
//!
//! **Deadlines.** The slave gives up a Docker operation when the request's `timeout_ms`
//! passes ([`ErrorKind::Timeout`]; 0 means no deadline); a followed log simply ends then.
//! Host operations are short and always run to completion.
//!
//! **Versions.** These messages exist from protocol version [`crate::OPS_VERSION`] (2) on; a
//! master sends them only on sessions that negotiated it.

// rkyv's derive generates archived twins whose fields carry no docs; every type written here
// is documented by hand.
#![allow(missing_docs)]

pub mod docker;
pub mod docker_reply;
pub mod host;
pub mod validate;

#[cfg(test)]
pub(crate) mod samples;

use rkyv::{Archive, Deserialize, Serialize};

/// A final answer larger than this (encoded) is streamed in chunks.
pub const STREAM_THRESHOLD: usize = 1024 * 1024;
/// Largest chunk a sender should produce.
pub const CHUNK_SIZE: usize = 256 * 1024;
/// Largest streamed answer or upload a receiver accepts.
pub const MAX_STREAMED_LEN: u64 = 256 * 1024 * 1024;
/// Text bytes after which a streamed log's batch is sent (one entry more at most).
pub const LOG_BATCH_BYTES: usize = 256 * 1024;
/// Batches of a streamed log sent beyond those the master acknowledged, at most.
pub const LOG_WINDOW: u32 = 4;
/// Bytes counted per log entry besides its text (stream, timestamp, encoding).
pub const LOG_ENTRY_OVERHEAD: usize = 32;
/// Largest image tarball the slave accepts as an upload.
pub const MAX_UPLOAD_LEN: u64 = 8 * 1024 * 1024 * 1024;

/// What went wrong, in classes a client can act on (the REST layer maps each to a status).
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
pub enum ErrorKind {
    /// An argument is malformed or out of range (HTTP 400); `field` names it.
    InvalidArgument,
    /// The process, container, image, network or volume does not exist (404).
    NotFound,
    /// The target is in a state that forbids the operation, or the name is taken (409).
    Conflict,
    /// A safety rule refused the operation (signal to pid 1 without `force`, path outside
    /// the allowed roots) (403).
    Refused,
    /// The slave cannot do this at all: no Docker Engine, feature not available (503).
    Unavailable,
    /// The slave gave up at the request's deadline (504).
    Timeout,
    /// The master cancelled the request.
    Cancelled,
    /// The operating system or the engine failed (502).
    Failed,
}

/// A failed operation.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct OpError {
    /// The class of failure.
    pub kind: ErrorKind,
    /// The request field at fault, for [`ErrorKind::InvalidArgument`] (`"ports[1]"`).
    pub field: Option<String>,
    /// What went wrong, for a person.
    pub message: String,
}

impl OpError {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            field: None,
            message: message.into(),
        }
    }

    /// A bad argument: `field` names it.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::InvalidArgument,
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "invalid `{field}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for OpError {}

impl From<validate::ValidationError> for OpError {
    fn from(e: validate::ValidationError) -> Self {
        Self::invalid(e.field, e.message)
    }
}

/// A non-final update about a request in flight.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct Progress {
    /// 0, 1, 2, ... per request.
    pub seq: u32,
    /// What happened.
    pub event: ProgressEvent,
}

/// The content of a [`Progress`] update.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
#[serde(rename_all = "snake_case")]
pub enum ProgressEvent {
    /// A multi-step operation entered a step (`"pull"`, `"create"`, `"start"`).
    Step {
        /// The step's name.
        step: String,
    },
    /// Progress of one image layer during a pull.
    Pull(PullProgress),
    /// Lines of a followed container log.
    Logs(docker_reply::LogBatch),
}

/// One layer's pull progress, as the engine reports it.
#[derive(
    Archive, Serialize, Deserialize, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct PullProgress {
    /// Layer id (empty for messages about the whole image).
    pub layer: String,
    /// The engine's status text (`Downloading`, `Extracting`, `Pull complete`, ...).
    pub status: String,
    /// Bytes done in the current phase, when known.
    pub current: u64,
    /// Bytes in the current phase, 0 when unknown.
    pub total: u64,
}
