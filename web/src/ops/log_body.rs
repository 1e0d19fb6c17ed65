//! The body of a (not followed) log answer, `{"entries": [...]}`, written as the client
//! reads it: from the batches of a fed log ([`respond_fed`], protocol version 3), or entry by
//! entry from a whole answer ([`respond`]).
//!
//! A log may be large (up to `protocol::ops::MAX_STREAMED_LEN`). Turning it into a
//! `serde_json::Value` tree and then into one JSON document held three more copies of it,
//! several times its size, until the last byte was sent. Here the typed entries are
//! serialized straight into pieces of about [`LOG_BODY_PIECE`] bytes, one piece each time
//! the connection asks for more, and each entry's text is freed once it is written. The
//! document is the one `reply_value` gives (same fields, same values).

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use model::ops::{LogAck, LogFeed, OpStream};
use protocol::ResponseBody;
use protocol::ops::Progress;
use protocol::ops::ProgressEvent;
use protocol::ops::docker_reply::{DockerReply, LogBatch, LogEntry};

/// Size a piece of the body grows to before it is handed to the connection, bytes (one
/// entry more at most).
pub const LOG_BODY_PIECE: usize = 64 * 1024;

/// Where the writer is in the document.
struct Pieces {
    entries: std::vec::IntoIter<LogEntry>,
    opened: bool,
    first: bool,
    closed: bool,
}

impl Pieces {
    fn new(batch: LogBatch) -> Self {
        Self {
            entries: batch.entries.into_iter(),
            opened: false,
            first: true,
            closed: false,
        }
    }

    /// The next piece of the document, `None` after the last.
    fn next_piece(&mut self) -> Option<Result<Bytes, serde_json::Error>> {
        if self.closed {
            return None;
        }
        let mut piece = Vec::with_capacity(LOG_BODY_PIECE + 1024);
        if !self.opened {
            piece.extend_from_slice(br#"{"entries":["#);
            self.opened = true;
        }
        while piece.len() < LOG_BODY_PIECE {
            let Some(entry) = self.entries.next() else {
                piece.extend_from_slice(b"]}");
                self.closed = true;
                break;
            };
            if !self.first {
                piece.push(b',');
            }
            self.first = false;
            if let Err(e) = serde_json::to_writer(&mut piece, &entry) {
                self.closed = true;
                return Some(Err(e));
            }
        }
        Some(Ok(Bytes::from(piece)))
    }
}

/// 200 `application/json` with `batch` as `{"entries": [...]}`, streamed.
pub fn respond(batch: LogBatch) -> Response {
    let pieces = futures_lite::stream::unfold(Pieces::new(batch), |mut p| async move {
        p.next_piece().map(|piece| (piece, p))
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(pieces),
    )
        .into_response()
}

/// Where the writer of a fed log is.
struct Fed {
    stream: OpStream,
    ack: LogAck,
    first: Option<Progress>,
    opened: bool,
    entries: u64,
    batches: u32,
    closed: bool,
}

impl Fed {
    /// The next piece: the opening and the next batch's entries, or the closing once the
    /// slave's final answer confirms the count; an error (the connection is cut, so the
    /// client sees a truncated document, never a wrong one) when the log failed midway.
    async fn next_piece(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.closed {
            return None;
        }
        let mut piece = Vec::new();
        if !self.opened {
            piece.extend_from_slice(br#"{"entries":["#);
            self.opened = true;
        }
        loop {
            let update = match self.first.take() {
                Some(first) => Some(first),
                None => self.stream.progress.recv().await,
            };
            let Some(update) = update else {
                self.closed = true;
                return Some(self.close(piece).await);
            };
            let ProgressEvent::Logs(batch) = update.event else {
                continue;
            };
            self.batches = self.batches.saturating_add(1);
            (self.ack)(self.batches);
            piece.reserve(batch.entries.iter().map(|e| e.text.len() + 64).sum());
            for entry in batch.entries {
                if self.entries > 0 {
                    piece.push(b',');
                }
                self.entries += 1;
                if let Err(e) = serde_json::to_writer(&mut piece, &entry) {
                    self.closed = true;
                    return Some(Err(std::io::Error::other(e)));
                }
            }
            return Some(Ok(Bytes::from(piece)));
        }
    }

    /// Every batch is in: the final answer must announce as many entries as were written.
    async fn close(&mut self, mut piece: Vec<u8>) -> Result<Bytes, std::io::Error> {
        let got = (&mut self.stream.outcome).await;
        self.stream.finished();
        let failed = |why: String| Err(std::io::Error::other(why));
        match got {
            Ok(Ok(ResponseBody::Docker(reply))) => match *reply {
                DockerReply::LogsEnd { entries, .. } if entries == self.entries => {
                    piece.extend_from_slice(b"]}");
                    Ok(Bytes::from(piece))
                }
                DockerReply::LogsEnd { entries, .. } => failed(format!(
                    "the slave sent {entries} log entries, {} arrived (the master fell behind)",
                    self.entries
                )),
                other => failed(format!("the log ended with {}", other.name())),
            },
            Ok(Ok(_)) => failed("the log ended without its count".into()),
            Ok(Err(f)) => failed(format!("the log failed midway: {f}")),
            Err(_) => failed("the master stopped".into()),
        }
    }
}

/// 200 `application/json` with the entries of a fed log as `{"entries": [...]}`, one
/// batch per piece: each batch is acknowledged as it is written out, so the slave sends
/// more only as fast as the client reads. The client going away drops the feed, which
/// cancels the log on the slave.
pub fn respond_fed(feed: LogFeed) -> Response {
    let LogFeed { first, stream, ack } = feed;
    let fed = Fed {
        stream,
        ack,
        first: Some(first),
        opened: false,
        entries: 0,
        batches: 0,
        closed: false,
    };
    let pieces = futures_lite::stream::unfold(fed, |mut f| async move {
        f.next_piece().await.map(|piece| (piece, f))
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(pieces),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::ops::reply_value;
    use protocol::ResponseBody;
    use protocol::ops::docker_reply::{DockerReply, LogStream};

    fn batch(n: usize) -> LogBatch {
        LogBatch {
            entries: (0..n)
                .map(|i| LogEntry {
                    stream: if i % 3 == 0 {
                        LogStream::Stderr
                    } else {
                        LogStream::Stdout
                    },
                    timestamp: (i % 2 == 0).then(|| format!("2024-01-01T00:00:{:02}Z", i % 60)),
                    text: format!("line {i} \"quoted\" \u{7} é {}\n", "x".repeat(i % 700)),
                })
                .collect(),
        }
    }

    fn pieces(batch: LogBatch) -> Vec<Bytes> {
        let mut p = Pieces::new(batch);
        std::iter::from_fn(|| p.next_piece())
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn the_document_is_the_one_reply_value_gives_in_bounded_pieces() {
        for n in [0, 1, 2, 5_000] {
            let b = batch(n);
            let expected = reply_value(&ResponseBody::Docker(Box::new(DockerReply::Logs(
                b.clone(),
            ))));
            let pieces = pieces(b);
            let largest_entry = 1_024;
            assert!(
                pieces
                    .iter()
                    .all(|p| p.len() <= LOG_BODY_PIECE + largest_entry),
                "a piece is larger than {LOG_BODY_PIECE} bytes plus one entry"
            );
            let whole: Vec<u8> = pieces.concat();
            let got: serde_json::Value = serde_json::from_slice(&whole).unwrap();
            assert_eq!(got, expected, "{n} entries");
            if n == 5_000 {
                assert!(pieces.len() > 20, "{} pieces", pieces.len());
            }
        }
    }
}
