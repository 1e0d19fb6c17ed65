//! Requests in flight to slaves: ids, deadlines, and reassembly of streamed results.
//! Sans-io: the caller passes `now` and owns whatever `W` (a waiter) is.
//!
//! Besides its final answer, a request may receive [`ResponseBody::Progress`] updates
//! (protocol version 2, see `protocol::ops`): they never end it. [`PendingRequests::on_response`]
//! ignores them; a caller that wants them passes them on through
//! [`PendingRequests::on_progress`], which also counts them.

use crate::endpoint::Side;
use protocol::{Chunk, OpError, ResponseBody};
use std::collections::HashMap;
use thiserror::Error;

/// Largest streamed result accepted, bytes.
pub const MAX_STREAM_BYTES: u64 = 256 * 1024 * 1024;

/// How a request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestOutcome {
    /// A single-message answer.
    Done(ResponseBody),
    /// A streamed answer, reassembled.
    Streamed(Vec<u8>),
    /// The slave answered with an error, the stream broke or the session ended.
    Failed(RequestFailure),
    /// The slave refused or failed the operation, with a class of failure (bad argument,
    /// not found, conflict, ...) that maps to an HTTP status.
    OpFailed(OpError),
    /// No answer before the deadline.
    TimedOut,
}

/// Why a request failed without a typed [`OpError`]: which side failed, and whether
/// sending it again makes sense, so that failures can be counted by cause.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestFailure {
    /// The slave answered with an untyped error.
    #[error("{0}")]
    Slave(String),
    /// The slave announced a streamed result larger than [`MAX_STREAM_BYTES`].
    #[error("streamed result of {0} bytes is too large")]
    TooLarge(u64),
    /// The slave announced a streamed result twice.
    #[error("stream announced twice")]
    AnnouncedTwice,
    /// A chunk came before the streamed result was announced.
    #[error("chunk before the stream was announced")]
    ChunkBeforeStream,
    /// A chunk came out of order.
    #[error("chunk {got} out of order (expected {expected})")]
    OutOfOrder {
        /// Its sequence number.
        got: u32,
        /// The one expected.
        expected: u32,
    },
    /// The chunks carried more than announced.
    #[error("stream longer than announced")]
    Longer,
    /// The last chunk came before the announced length was reached.
    #[error("stream shorter than announced")]
    Shorter,
    /// The reassembled bytes are not an encoded answer.
    #[error("bad streamed answer: {0}")]
    BadStream(String),
    /// The node's session ended before the answer came.
    #[error("the session ended")]
    SessionEnded,
    /// Another node answered (the answer is dropped).
    #[error("answered by another node")]
    WrongNode,
}

impl RequestFailure {
    /// Which side failed: the slave for what it sent, the network for a lost session.
    pub fn side(&self) -> Side {
        match self {
            Self::SessionEnded => Side::Network,
            _ => Side::Slave,
        }
    }

    /// Whether sending the request again makes sense: after a lost session (once the node
    /// is back), not after the slave's error or broken answer, which would come again.
    pub fn retry_makes_sense(&self) -> bool {
        matches!(self, Self::SessionEnded)
    }

    /// A stable label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Slave(_) => "slave_error",
            Self::TooLarge(_) => "too_large",
            Self::AnnouncedTwice
            | Self::ChunkBeforeStream
            | Self::OutOfOrder { .. }
            | Self::Longer
            | Self::Shorter => "broken_stream",
            Self::BadStream(_) => "bad_stream",
            Self::SessionEnded => "session_ended",
            Self::WrongNode => "wrong_node",
        }
    }
}

impl RequestOutcome {
    /// Decodes a streamed answer (the reassembled bytes are an encoded `ResponseBody`) into
    /// the answer it stands for; other outcomes are returned unchanged.
    pub fn decode_streamed(self) -> RequestOutcome {
        match self {
            RequestOutcome::Streamed(bytes) => match protocol::decode_response_body(&bytes) {
                Ok(ResponseBody::Failed(e)) => RequestOutcome::OpFailed(*e),
                Ok(ResponseBody::Error { message }) => {
                    RequestOutcome::Failed(RequestFailure::Slave(message))
                }
                Ok(body) => RequestOutcome::Done(body),
                Err(e) => RequestOutcome::Failed(RequestFailure::BadStream(e.to_string())),
            },
            other => other,
        }
    }
}

struct Entry<W> {
    deadline_ms: u64,
    waiter: W,
    stream: Option<Stream>,
    progress: u32,
}

struct Stream {
    total_len: u64,
    next_seq: u32,
    data: Vec<u8>,
}

/// The table of requests in flight.
pub struct PendingRequests<W> {
    next_id: u64,
    entries: HashMap<u64, Entry<W>>,
}

impl<W> Default for PendingRequests<W> {
    fn default() -> Self {
        Self {
            next_id: 1,
            entries: HashMap::new(),
        }
    }
}

impl<W> PendingRequests<W> {
    /// Registers a request; returns its id.
    pub fn insert(&mut self, waiter: W, now_ms: u64, timeout_ms: u64) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.entries.insert(
            id,
            Entry {
                deadline_ms: now_ms.saturating_add(timeout_ms),
                waiter,
                stream: None,
                progress: 0,
            },
        );
        id
    }

    /// A progress update arrived for request `id`: returns its waiter (to pass the update
    /// on) and the number of updates so far, or `None` for an unknown (finished) request.
    /// Progress never ends a request nor moves its deadline.
    pub fn on_progress(&mut self, id: u64) -> Option<(&mut W, u32)> {
        let entry = self.entries.get_mut(&id)?;
        entry.progress = entry.progress.saturating_add(1);
        Some((&mut entry.waiter, entry.progress))
    }

    /// Requests in flight.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is in flight.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops a request (its session ended); returns its waiter.
    pub fn cancel(&mut self, id: u64) -> Option<W> {
        self.entries.remove(&id).map(|e| e.waiter)
    }

    /// A response arrived. Returns the waiter and outcome when the request is finished;
    /// unknown ids (late answers) are ignored.
    pub fn on_response(&mut self, id: u64, body: ResponseBody) -> Option<(W, RequestOutcome)> {
        let entry = self.entries.get_mut(&id)?;
        match body {
            ResponseBody::Progress(_) => None,
            ResponseBody::Failed(e) => {
                let e = *e;
                let entry = self.entries.remove(&id)?;
                Some((entry.waiter, RequestOutcome::OpFailed(e)))
            }
            ResponseBody::Streamed { total_len } if entry.stream.is_none() => {
                if total_len > MAX_STREAM_BYTES {
                    let e = self.entries.remove(&id)?;
                    let why = RequestFailure::TooLarge(total_len);
                    return Some((e.waiter, RequestOutcome::Failed(why)));
                }
                entry.stream = Some(Stream {
                    total_len,
                    next_seq: 0,
                    data: Vec::new(),
                });
                None
            }
            ResponseBody::Streamed { .. } => {
                let e = self.entries.remove(&id)?;
                Some((
                    e.waiter,
                    RequestOutcome::Failed(RequestFailure::AnnouncedTwice),
                ))
            }
            ResponseBody::Error { message } => {
                let e = self.entries.remove(&id)?;
                Some((
                    e.waiter,
                    RequestOutcome::Failed(RequestFailure::Slave(message)),
                ))
            }
            other => {
                let e = self.entries.remove(&id)?;
                Some((e.waiter, RequestOutcome::Done(other)))
            }
        }
    }

    /// A chunk arrived. Returns the waiter and outcome after the last chunk or on error.
    pub fn on_chunk(&mut self, chunk: Chunk) -> Option<(W, RequestOutcome)> {
        let entry = self.entries.get_mut(&chunk.id)?;
        let failure = match entry.stream.as_mut() {
            None => Some(RequestFailure::ChunkBeforeStream),
            Some(s) if s.next_seq != chunk.seq => Some(RequestFailure::OutOfOrder {
                got: chunk.seq,
                expected: s.next_seq,
            }),
            Some(s) if s.data.len() as u64 + chunk.data.len() as u64 > s.total_len => {
                Some(RequestFailure::Longer)
            }
            Some(s) => {
                s.next_seq += 1;
                s.data.extend_from_slice(&chunk.data);
                if !chunk.last {
                    return None;
                }
                (s.data.len() as u64 != s.total_len).then_some(RequestFailure::Shorter)
            }
        };
        let e = self.entries.remove(&chunk.id)?;
        let outcome = match (failure, e.stream) {
            (Some(why), _) => RequestOutcome::Failed(why),
            (None, Some(s)) => RequestOutcome::Streamed(s.data),
            (None, None) => RequestOutcome::Failed(RequestFailure::ChunkBeforeStream),
        };
        Some((e.waiter, outcome))
    }

    /// Requests whose deadline passed at `now_ms`, removed.
    pub fn expire(&mut self, now_ms: u64) -> Vec<W> {
        let ids: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, e)| e.deadline_ms <= now_ms)
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.entries.remove(&id).map(|e| e.waiter))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: u64, seq: u32, last: bool, data: &[u8]) -> Chunk {
        Chunk {
            id,
            seq,
            last,
            data: data.to_vec(),
        }
    }

    #[test]
    fn simple_response_completes() {
        let mut p = PendingRequests::default();
        let id = p.insert("w", 0, 1000);
        assert_eq!(
            p.on_response(id, ResponseBody::Pong),
            Some(("w", RequestOutcome::Done(ResponseBody::Pong)))
        );
        assert!(p.is_empty());
        assert_eq!(
            p.on_response(id, ResponseBody::Pong),
            None,
            "late answer ignored"
        );
    }

    #[test]
    fn ids_are_unique_and_timeouts_expire() {
        let mut p = PendingRequests::default();
        let a = p.insert(1, 0, 100);
        let b = p.insert(2, 0, 500);
        assert_ne!(a, b);
        assert!(p.expire(99).is_empty());
        assert_eq!(p.expire(100), vec![1]);
        assert_eq!(p.len(), 1);
        assert_eq!(p.cancel(b), Some(2));
    }

    #[test]
    fn streamed_result_is_reassembled() {
        let mut p = PendingRequests::default();
        let id = p.insert((), 0, 1000);
        assert_eq!(
            p.on_response(id, ResponseBody::Streamed { total_len: 6 }),
            None
        );
        assert_eq!(p.on_chunk(chunk(id, 0, false, b"abc")), None);
        assert_eq!(
            p.on_chunk(chunk(id, 1, true, b"def")),
            Some(((), RequestOutcome::Streamed(b"abcdef".to_vec())))
        );
    }

    #[test]
    fn broken_streams_fail_cleanly() {
        let failed = |f| Some(((), RequestOutcome::Failed(f)));
        let mut p = PendingRequests::default();
        let id = p.insert((), 0, 1000);
        assert_eq!(
            p.on_chunk(chunk(id, 0, true, b"x")),
            failed(RequestFailure::ChunkBeforeStream)
        );
        let id = p.insert((), 0, 1000);
        p.on_response(id, ResponseBody::Streamed { total_len: 2 });
        assert_eq!(
            p.on_chunk(chunk(id, 1, true, b"xy")),
            failed(RequestFailure::OutOfOrder {
                got: 1,
                expected: 0
            })
        );
        let id = p.insert((), 0, 1000);
        p.on_response(id, ResponseBody::Streamed { total_len: 2 });
        assert_eq!(
            p.on_chunk(chunk(id, 0, true, b"xyz")),
            failed(RequestFailure::Longer)
        );
        let id = p.insert((), 0, 1000);
        p.on_response(id, ResponseBody::Streamed { total_len: 4 });
        assert_eq!(
            p.on_chunk(chunk(id, 0, true, b"xy")),
            failed(RequestFailure::Shorter)
        );
        let id = p.insert((), 0, 1000);
        assert_eq!(
            p.on_response(
                id,
                ResponseBody::Streamed {
                    total_len: MAX_STREAM_BYTES + 1
                }
            ),
            failed(RequestFailure::TooLarge(MAX_STREAM_BYTES + 1))
        );
        let id = p.insert((), 0, 1000);
        p.on_response(id, ResponseBody::Streamed { total_len: 1 });
        assert_eq!(
            p.on_response(id, ResponseBody::Streamed { total_len: 1 }),
            failed(RequestFailure::AnnouncedTwice)
        );
        assert!(p.is_empty());
    }

    #[test]
    fn failures_say_whose_they_are_and_whether_to_retry() {
        let slave_side = [
            RequestFailure::Slave("no".into()),
            RequestFailure::TooLarge(1),
            RequestFailure::AnnouncedTwice,
            RequestFailure::ChunkBeforeStream,
            RequestFailure::OutOfOrder {
                got: 2,
                expected: 1,
            },
            RequestFailure::Longer,
            RequestFailure::Shorter,
            RequestFailure::BadStream("junk".into()),
            RequestFailure::WrongNode,
        ];
        for f in slave_side {
            assert_eq!(f.side(), Side::Slave, "{f}");
            assert!(!f.retry_makes_sense(), "{f}");
        }
        let lost = RequestFailure::SessionEnded;
        assert_eq!(
            (lost.side(), lost.retry_makes_sense()),
            (Side::Network, true)
        );
        assert_eq!(lost.label(), "session_ended");
        assert_eq!(
            RequestFailure::OutOfOrder {
                got: 2,
                expected: 1
            }
            .to_string(),
            "chunk 2 out of order (expected 1)",
            "the message is the one logged and shown before"
        );
    }

    #[test]
    fn progress_does_not_finish_and_typed_failures_are_kept() {
        use protocol::{Progress, ProgressEvent};
        let mut p = PendingRequests::default();
        let id = p.insert("w", 0, 1000);
        let progress = || {
            ResponseBody::Progress(Box::new(Progress {
                seq: 0,
                event: ProgressEvent::Step {
                    step: "pull".into(),
                },
            }))
        };
        assert_eq!(p.on_response(id, progress()), None);
        assert_eq!(p.on_progress(id).map(|(w, n)| (*w, n)), Some(("w", 1)));
        assert_eq!(p.on_progress(id).map(|(_, n)| n), Some(2));
        assert_eq!(p.len(), 1);
        let err = OpError::invalid("ports[0]", "bad");
        assert_eq!(
            p.on_response(id, ResponseBody::Failed(Box::new(err.clone()))),
            Some(("w", RequestOutcome::OpFailed(err)))
        );
        assert!(p.on_progress(id).is_none(), "late progress ignored");
        assert!(p.is_empty());
    }

    #[test]
    fn streamed_answers_decode_to_the_body() {
        let body = ResponseBody::HostInfo(crate::test_fixtures::host_info("h"));
        let bytes = protocol::encode_response_body(&body).unwrap_or_default();
        let mut p = PendingRequests::default();
        let id = p.insert((), 0, 1000);
        let total_len = bytes.len() as u64;
        p.on_response(id, ResponseBody::Streamed { total_len });
        let (a, b) = bytes.split_at(bytes.len() / 2);
        assert_eq!(p.on_chunk(chunk(id, 0, false, a)), None);
        let (_, outcome) = p
            .on_chunk(chunk(id, 1, true, b))
            .unwrap_or(((), RequestOutcome::TimedOut));
        assert_eq!(outcome.decode_streamed(), RequestOutcome::Done(body));
        assert!(matches!(
            RequestOutcome::Streamed(b"junk".to_vec()).decode_streamed(),
            RequestOutcome::Failed(_)
        ));
    }

    #[test]
    fn slave_error_is_reported() {
        let mut p = PendingRequests::default();
        let id = p.insert((), 0, 1000);
        assert_eq!(
            p.on_response(
                id,
                ResponseBody::Error {
                    message: "no".into()
                }
            ),
            Some((
                (),
                RequestOutcome::Failed(RequestFailure::Slave("no".into()))
            ))
        );
    }
}
