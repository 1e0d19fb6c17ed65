//! Sending the answers of one request: progress updates, then one final answer, streamed in
//! chunks when it is too large for one message (the rules are in [`protocol::ops`]).
//!
//! A [`ReplySink`] works from any thread: the writer channel is unbounded, so sending never
//! blocks, and a closed channel (the session ended) just drops the answer.

use async_channel::Sender;
use protocol::ops::{CHUNK_SIZE, ErrorKind, MAX_STREAMED_LEN, OpError, STREAM_THRESHOLD};
use protocol::{Chunk, Message, Progress, ProgressEvent, Response, ResponseBody};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where the answers of request `id` go.
#[derive(Debug)]
pub struct ReplySink {
    id: u64,
    tx: Sender<Message>,
    seq: AtomicU32,
}

impl ReplySink {
    /// Answers for request `id` through the session's writer channel.
    pub fn new(id: u64, tx: Sender<Message>) -> Self {
        Self {
            id,
            tx,
            seq: AtomicU32::new(0),
        }
    }

    /// The request's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The writer channel (for answers to another request of the same session).
    pub fn sender(&self) -> Sender<Message> {
        self.tx.clone()
    }

    /// Whether the session is gone (nobody will read what is sent).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Sends a progress update; false when the session is gone.
    pub fn progress(&self, event: ProgressEvent) -> bool {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let body = ResponseBody::Progress(Box::new(Progress { seq, event }));
        self.send(Message::Response(Response { id: self.id, body }))
    }

    /// Sends the final answer (streamed when large).
    pub fn finish(&self, result: Result<ResponseBody, OpError>) {
        let body = result.unwrap_or_else(|e| ResponseBody::Failed(Box::new(e)));
        for msg in final_messages(self.id, body) {
            if !self.send(msg) {
                tracing::debug!(id = self.id, "session ended before the answer was sent");
                return;
            }
        }
    }

    fn send(&self, msg: Message) -> bool {
        self.tx.try_send(msg).is_ok()
    }
}

/// The messages that carry final answer `body` of request `id`: the response itself, or
/// `Streamed` plus chunks when its encoding is above [`STREAM_THRESHOLD`], or a failure when
/// it is above [`MAX_STREAMED_LEN`].
pub fn final_messages(id: u64, body: ResponseBody) -> Vec<Message> {
    let respond = |body| vec![Message::Response(Response { id, body })];
    let bytes = match protocol::encode_response_body(&body) {
        Ok(b) => b,
        Err(e) => {
            let err = OpError::new(ErrorKind::Failed, format!("cannot encode the answer: {e}"));
            return respond(ResponseBody::Failed(Box::new(err)));
        }
    };
    if bytes.len() <= STREAM_THRESHOLD {
        return respond(body);
    }
    let total_len = bytes.len() as u64;
    if total_len > MAX_STREAMED_LEN {
        let err = OpError::new(
            ErrorKind::Failed,
            format!(
                "the answer is {total_len} bytes, above the {MAX_STREAMED_LEN}-byte limit; \
                 ask for less (a page of processes, a log tail or since)"
            ),
        );
        return respond(ResponseBody::Failed(Box::new(err)));
    }
    let mut out = respond(ResponseBody::Streamed { total_len });
    let pieces = bytes.chunks(CHUNK_SIZE);
    let last = pieces.len().saturating_sub(1);
    for (seq, data) in pieces.enumerate() {
        out.push(Message::Chunk(Chunk {
            id,
            seq: seq as u32,
            last: seq == last,
            data: data.to_vec(),
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use protocol::ops::docker_reply::{DockerReply, LogBatch, LogEntry, LogStream};

    fn logs(n: usize) -> ResponseBody {
        let entry = LogEntry {
            stream: LogStream::Stdout,
            timestamp: None,
            text: "x".repeat(1000),
        };
        ResponseBody::Docker(Box::new(DockerReply::Logs(LogBatch {
            entries: vec![entry; n],
        })))
    }

    #[test]
    fn small_answers_go_in_one_message() {
        let msgs = final_messages(7, ResponseBody::Pong);
        assert_eq!(
            msgs,
            vec![Message::Response(Response {
                id: 7,
                body: ResponseBody::Pong
            })]
        );
    }

    #[test]
    fn large_answers_stream_in_order_and_reassemble() {
        let body = logs(3000); // about 3 MB
        let msgs = final_messages(9, body.clone());
        let Message::Response(Response {
            id: 9,
            body: ResponseBody::Streamed { total_len },
        }) = &msgs[0]
        else {
            panic!("no Streamed header: {:?}", msgs[0].name());
        };
        let mut data = Vec::new();
        for (i, m) in msgs[1..].iter().enumerate() {
            let Message::Chunk(c) = m else {
                panic!("not a chunk")
            };
            assert_eq!((c.id, c.seq as usize, c.last), (9, i, i == msgs.len() - 2));
            assert!(c.data.len() <= CHUNK_SIZE);
            data.extend_from_slice(&c.data);
        }
        assert_eq!(data.len() as u64, *total_len);
        assert_eq!(protocol::decode_response_body(&data).unwrap(), body);
        for m in &msgs {
            assert!(
                protocol::encode_message(m).is_ok(),
                "every piece fits a message"
            );
        }
    }

    #[test]
    fn progress_counts_and_a_closed_session_is_harmless() {
        let (tx, rx) = async_channel::unbounded();
        let sink = ReplySink::new(3, tx);
        assert!(sink.progress(ProgressEvent::Step { step: "a".into() }));
        assert!(sink.progress(ProgressEvent::Step { step: "b".into() }));
        sink.finish(Err(OpError::invalid("id", "bad")));
        let seqs: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|m| match m {
                Message::Response(Response {
                    body: ResponseBody::Progress(p),
                    ..
                }) => Some(p.seq),
                _ => None,
            })
            .collect();
        assert_eq!(seqs, vec![Some(0), Some(1), None]);
        rx.close();
        assert!(sink.is_closed());
        assert!(!sink.progress(ProgressEvent::Step { step: "c".into() }));
        sink.finish(Ok(ResponseBody::Pong));
    }
}
