//! Requests in flight to slaves: ids, deadlines, and reassembly of streamed results.
//! Sans-io: the caller passes `now` and owns whatever `W` (a waiter) is.
//!
//! Besides its final answer, a request may receive [`ResponseBody::Progress`] updates
//! (protocol version 2, see `protocol::ops`): they never end it. [`PendingRequests::on_response`]
//! ignores them; a caller that wants them passes them on through
//! [`PendingRequests::on_progress`], which also counts them.

use protocol::{Chunk, OpError, ResponseBody};
use std::collections::HashMap;

/// Largest streamed result accepted, bytes.
pub const MAX_STREAM_BYTES: u64 = 256 * 1024 * 1024;

/// How a request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestOutcome {
    /// A single-message answer.
    Done(ResponseBody),
    /// A streamed answer, reassembled.
    Streamed(Vec<u8>),
    /// The slave answered with an error, or the stream broke.
    Failed(String),
    /// The slave refused or failed the operation, with a class of failure (bad argument,
    /// not found, conflict, ...) that maps to an HTTP status.
    OpFailed(OpError),
    /// No answer before the deadline.
    TimedOut,
}

impl RequestOutcome {
    /// Decodes a streamed answer (the reassembled bytes are an encoded `ResponseBody`) into
    /// the answer it stands for; other outcomes are returned unchanged.
    pub fn decode_streamed(self) -> RequestOutcome {
        match self {
            RequestOutcome::Streamed(bytes) => match protocol::decode_response_body(&bytes) {
                Ok(ResponseBody::Failed(e)) => RequestOutcome::OpFailed(*e),
                Ok(ResponseBody::Error { message }) => RequestOutcome::Failed(message),
                Ok(body) => RequestOutcome::Done(body),
                Err(e) => RequestOutcome::Failed(format!("bad streamed answer: {e}")),
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
                    let why = format!("streamed result of {total_len} bytes is too large");
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
                    RequestOutcome::Failed("stream announced twice".into()),
                ))
            }
            ResponseBody::Error { message } => {
                let e = self.entries.remove(&id)?;
                Some((e.waiter, RequestOutcome::Failed(message)))
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
            None => Some("chunk before the stream was announced".to_string()),
            Some(s) if s.next_seq != chunk.seq => Some(format!(
                "chunk {} out of order (expected {})",
                chunk.seq, s.next_seq
            )),
            Some(s) if s.data.len() as u64 + chunk.data.len() as u64 > s.total_len => {
                Some("stream longer than announced".to_string())
            }
            Some(s) => {
                s.next_seq += 1;
                s.data.extend_from_slice(&chunk.data);
                if !chunk.last {
                    return None;
                }
                (s.data.len() as u64 != s.total_len)
                    .then(|| "stream shorter than announced".to_string())
            }
        };
        let e = self.entries.remove(&chunk.id)?;
        let outcome = match (failure, e.stream) {
            (Some(why), _) => RequestOutcome::Failed(why),
            (None, Some(s)) => RequestOutcome::Streamed(s.data),
            (None, None) => RequestOutcome::Failed("no stream".into()),
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
        let mut p = PendingRequests::default();
        let id = p.insert((), 0, 1000);
        assert!(matches!(
            p.on_chunk(chunk(id, 0, true, b"x")),
            Some(((), RequestOutcome::Failed(_)))
        ));
        let id = p.insert((), 0, 1000);
        p.on_response(id, ResponseBody::Streamed { total_len: 2 });
        assert!(matches!(
            p.on_chunk(chunk(id, 1, true, b"xy")),
            Some(((), RequestOutcome::Failed(_)))
        ));
        let id = p.insert((), 0, 1000);
        p.on_response(id, ResponseBody::Streamed { total_len: 2 });
        assert!(matches!(
            p.on_chunk(chunk(id, 0, true, b"xyz")),
            Some(((), RequestOutcome::Failed(_)))
        ));
        let id = p.insert((), 0, 1000);
        p.on_response(id, ResponseBody::Streamed { total_len: 4 });
        assert!(matches!(
            p.on_chunk(chunk(id, 0, true, b"xy")),
            Some(((), RequestOutcome::Failed(_)))
        ));
        let id = p.insert((), 0, 1000);
        assert!(matches!(
            p.on_response(
                id,
                ResponseBody::Streamed {
                    total_len: MAX_STREAM_BYTES + 1
                }
            ),
            Some(((), RequestOutcome::Failed(_)))
        ));
        assert!(p.is_empty());
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
        let body = ResponseBody::HostInfo(protocol::HostInfo {
            hostname: "h".into(),
            os: String::new(),
            kernel: String::new(),
            arch: String::new(),
            cpu_model: String::new(),
            cpu_cores: 1,
            mem_total_bytes: 0,
            swap_total_bytes: 0,
            disks: vec![],
            docker_version: None,
            boot_time_unix: 0,
        });
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
            Some(((), RequestOutcome::Failed("no".into())))
        );
    }
}
