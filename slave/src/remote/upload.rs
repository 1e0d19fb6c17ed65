//! Uploads from the master (image tarballs): an `ImportImage` request announces the size,
//! then `Chunk`s with the request's id carry the bytes, in order. They are spooled to a file
//! under `<data dir>/uploads` (never held in memory) and handed to the import when complete.

use protocol::ops::{ErrorKind, MAX_UPLOAD_LEN, OpError};
use protocol::{Chunk, Request};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Sub-directory of the data directory holding uploads in progress.
pub const UPLOAD_DIR: &str = "uploads";

struct Upload {
    request: Request,
    file: File,
    path: PathBuf,
    expected: u64,
    received: u64,
    next_seq: u32,
    deadline: Instant,
}

/// What a chunk did.
#[derive(Debug)]
pub enum ChunkOutcome {
    /// More chunks are expected.
    Pending,
    /// The upload is complete: the request and the spooled file.
    Complete(Request, PathBuf),
    /// The upload failed and was dropped.
    Failed(u64, OpError),
    /// No upload has this id (ignored).
    Unknown,
}

/// Uploads in progress on one session.
#[derive(Default)]
pub struct Uploads {
    dir: PathBuf,
    open: HashMap<u64, Upload>,
}

impl Uploads {
    /// Uploads spooled under `data_dir`; leftovers of an earlier run are removed.
    pub fn new(data_dir: &Path) -> Self {
        let dir = data_dir.join(UPLOAD_DIR);
        let _ = std::fs::remove_dir_all(&dir);
        Self {
            dir,
            open: HashMap::new(),
        }
    }

    /// Uploads in progress.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none is in progress.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Opens the spool file for `request` (an import announcing `total_len` bytes) at time
    /// `now`; the upload must finish within the request's timeout from then.
    pub fn begin(&mut self, request: Request, total_len: u64, now: Instant) -> Result<(), OpError> {
        if total_len == 0 || total_len > MAX_UPLOAD_LEN {
            return Err(OpError::invalid(
                "total_len",
                format!("must be in 1..={MAX_UPLOAD_LEN}"),
            ));
        }
        if self.open.contains_key(&request.id) {
            return Err(OpError::new(
                ErrorKind::Conflict,
                "an upload with this id is in progress",
            ));
        }
        let failed = |e: std::io::Error| {
            OpError::new(ErrorKind::Failed, format!("cannot spool the upload: {e}"))
        };
        std::fs::create_dir_all(&self.dir).map_err(failed)?;
        let path = self
            .dir
            .join(format!("{}-{}.tar", std::process::id(), request.id));
        let file = File::create(&path).map_err(failed)?;
        let timeout = Duration::from_millis(u64::from(request.timeout_ms).max(1000));
        self.open.insert(
            request.id,
            Upload {
                request,
                file,
                path,
                expected: total_len,
                received: 0,
                next_seq: 0,
                deadline: now + timeout,
            },
        );
        Ok(())
    }

    /// Appends a chunk received at time `now`.
    pub fn chunk(&mut self, c: &Chunk, now: Instant) -> ChunkOutcome {
        let Some(u) = self.open.get_mut(&c.id) else {
            return ChunkOutcome::Unknown;
        };
        let problem = if now > u.deadline {
            Some(OpError::new(
                ErrorKind::Timeout,
                "the upload did not finish before its deadline",
            ))
        } else if c.seq != u.next_seq {
            Some(OpError::new(
                ErrorKind::InvalidArgument,
                format!(
                    "upload chunk {} out of order (expected {})",
                    c.seq, u.next_seq
                ),
            ))
        } else if u.received + c.data.len() as u64 > u.expected {
            Some(OpError::new(
                ErrorKind::InvalidArgument,
                "the upload is longer than announced",
            ))
        } else if let Err(e) = u.file.write_all(&c.data) {
            Some(OpError::new(
                ErrorKind::Failed,
                format!("cannot spool the upload: {e}"),
            ))
        } else {
            u.received += c.data.len() as u64;
            u.next_seq += 1;
            match (c.last, u.received == u.expected) {
                (false, _) => return ChunkOutcome::Pending,
                (true, true) => None,
                (true, false) => Some(OpError::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "the upload ended after {} of {} bytes",
                        u.received, u.expected
                    ),
                )),
            }
        };
        let Some(u) = self.open.remove(&c.id) else {
            return ChunkOutcome::Unknown;
        };
        match problem {
            None => match u.file.sync_all() {
                Ok(()) => ChunkOutcome::Complete(u.request, u.path),
                Err(e) => {
                    let _ = std::fs::remove_file(&u.path);
                    ChunkOutcome::Failed(c.id, OpError::new(ErrorKind::Failed, e.to_string()))
                }
            },
            Some(e) => {
                let _ = std::fs::remove_file(&u.path);
                ChunkOutcome::Failed(c.id, e)
            }
        }
    }

    /// Drops upload `id`; whether it was in progress.
    pub fn cancel(&mut self, id: u64) -> bool {
        match self.open.remove(&id) {
            Some(u) => {
                let _ = std::fs::remove_file(&u.path);
                true
            }
            None => false,
        }
    }

    /// Drops every upload (the session ended).
    pub fn clear(&mut self) {
        for (_, u) in self.open.drain() {
            let _ = std::fs::remove_file(&u.path);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use protocol::RequestBody;

    fn req(id: u64) -> Request {
        Request {
            id,
            timeout_ms: 60_000,
            body: RequestBody::Ping,
        }
    }

    fn t0() -> Instant {
        thread_local!(static T0: Instant = Instant::now());
        T0.with(|t| *t)
    }

    fn chunk(id: u64, seq: u32, last: bool, data: &[u8]) -> Chunk {
        Chunk {
            id,
            seq,
            last,
            data: data.to_vec(),
        }
    }

    #[test]
    fn spools_in_order_and_completes() {
        let dir = tempfile::tempdir().unwrap();
        let mut u = Uploads::new(dir.path());
        u.begin(req(1), 6, t0()).unwrap();
        assert!(matches!(
            u.chunk(&chunk(1, 0, false, b"abc"), t0()),
            ChunkOutcome::Pending
        ));
        let ChunkOutcome::Complete(r, path) = u.chunk(&chunk(1, 1, true, b"def"), t0()) else {
            panic!("not complete");
        };
        assert_eq!(r.id, 1);
        assert_eq!(std::fs::read(&path).unwrap(), b"abcdef");
        assert!(u.is_empty());
        assert!(matches!(
            u.chunk(&chunk(1, 2, true, b"x"), t0()),
            ChunkOutcome::Unknown
        ));
    }

    #[test]
    fn broken_uploads_fail_and_leave_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut u = Uploads::new(dir.path());
        for (seq, last, data, total) in [
            (1u32, true, &b"ab"[..], 2u64),
            (0, true, &b"abc"[..], 2),
            (0, true, &b"a"[..], 2),
        ] {
            u.begin(req(5), total, t0()).unwrap();
            assert!(matches!(
                u.chunk(&chunk(5, seq, last, data), t0()),
                ChunkOutcome::Failed(5, _)
            ));
        }
        assert!(u.begin(req(6), 0, t0()).is_err());
        u.begin(req(7), 10, t0()).unwrap();
        assert!(u.begin(req(7), 10, t0()).is_err());
        u.clear();
        let left = std::fs::read_dir(dir.path().join(UPLOAD_DIR))
            .unwrap()
            .count();
        assert_eq!(left, 0);
    }

    #[test]
    fn an_upload_past_its_deadline_fails() {
        let dir = tempfile::tempdir().unwrap();
        let mut u = Uploads::new(dir.path());
        u.begin(req(9), 4, t0()).unwrap();
        let in_time = t0() + Duration::from_secs(59);
        assert!(matches!(
            u.chunk(&chunk(9, 0, false, b"ab"), in_time),
            ChunkOutcome::Pending
        ));
        let late = t0() + Duration::from_millis(60_001);
        let ChunkOutcome::Failed(9, e) = u.chunk(&chunk(9, 1, true, b"cd"), late) else {
            panic!("a late chunk was accepted");
        };
        assert_eq!(e.kind, ErrorKind::Timeout);
        assert!(u.is_empty());
    }
}
