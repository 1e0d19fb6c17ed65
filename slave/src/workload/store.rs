//! The last [`DesiredState`] on disk (`<dataDir>/workloads.state`), so the slave re-applies
//! its replicas and gateways after its own restart and keeps them while the master is away.
//!
//! Written with [`plumbing::key_file::write`]: a temporary file under a random name in the
//! same directory (created exclusively, never through a link), mode 0600, fsynced, renamed
//! over the target. The file is a magic line followed by the rkyv encoding of the state;
//! reading checks the size before reading more than [`MAX_STATE_FILE`] bytes, validates the
//! archive and the protocol's count limits. A file that fails any check is reported as
//! [`StoreError`]; the manager logs it and starts empty.

use plumbing::key_file::{self, KeyFileError};
use protocol::workload::{
    DesiredState, MAX_GATEWAYS_PER_NODE, MAX_REPLICAS_PER_NODE, MAX_UPSTREAMS_PER_GATEWAY,
};
use rkyv::rancor;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// File name of the stored desired state inside the data directory.
pub const STATE_FILE: &str = "workloads.state";
/// First bytes of the file (format version 1).
const MAGIC: &[u8; 8] = b"CMDRWL1\n";
/// Largest state file read; anything bigger is refused unread.
pub const MAX_STATE_FILE: u64 = 32 * 1024 * 1024;

/// The stored state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading failed (permissions, not a regular file, a symbolic link).
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] KeyFileError),
    /// The file is larger than [`MAX_STATE_FILE`].
    #[error("{path}: larger than {MAX_STATE_FILE} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file does not hold a valid state.
    #[error("{path}: corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The state could not be encoded.
    #[error("cannot encode the desired state: {0}")]
    Encode(String),
}

/// Where the desired state is kept.
#[derive(Debug, Clone)]
pub struct StateStore {
    path: PathBuf,
}

impl StateStore {
    /// The store in `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(STATE_FILE),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the stored state atomically (mode 0600); creates the directory if needed.
    pub fn save(&self, state: &DesiredState) -> Result<(), StoreError> {
        let encoded = rkyv::to_bytes::<rancor::Error>(state)
            .map_err(|e| StoreError::Encode(e.to_string()))?;
        let mut data = Vec::with_capacity(MAGIC.len() + encoded.len());
        data.extend_from_slice(MAGIC);
        data.extend_from_slice(&encoded);
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| {
                StoreError::Write(KeyFileError::Io {
                    path: dir.to_path_buf(),
                    source,
                })
            })?;
        }
        key_file::write(&self.path, &data)?;
        Ok(())
    }

    /// The stored state; `None` when there is none yet.
    pub fn load(&self) -> Result<Option<DesiredState>, StoreError> {
        let Some(data) = self.read_capped()? else {
            return Ok(None);
        };
        let corrupt = |reason: String| StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        let body = data
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| corrupt("not a Commander workload state file".into()))?;
        let state = rkyv::from_bytes::<DesiredState, rancor::Error>(body)
            .map_err(|e| corrupt(e.to_string()))?;
        check_limits(&state).map_err(corrupt)?;
        Ok(Some(state))
    }

    /// Reads the file without following a link, refusing it above [`MAX_STATE_FILE`].
    fn read_capped(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let read_err = |source| StoreError::Read {
            path: self.path.clone(),
            source,
        };
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(&self.path);
        let file = match opened {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(read_err(e)),
        };
        let meta = file.metadata().map_err(read_err)?;
        if !meta.is_file() {
            return Err(read_err(std::io::Error::other("not a regular file")));
        }
        if meta.len() > MAX_STATE_FILE {
            return Err(StoreError::TooLarge {
                path: self.path.clone(),
            });
        }
        let mut data = Vec::new();
        file.take(MAX_STATE_FILE + 1)
            .read_to_end(&mut data)
            .map_err(read_err)?;
        if data.len() as u64 > MAX_STATE_FILE {
            return Err(StoreError::TooLarge {
                path: self.path.clone(),
            });
        }
        Ok(Some(data))
    }
}

/// The protocol's count limits ([`MAX_REPLICAS_PER_NODE`], [`MAX_GATEWAYS_PER_NODE`],
/// [`MAX_UPSTREAMS_PER_GATEWAY`]), checked on what the file holds and on what the master
/// sends.
pub fn check_limits(state: &DesiredState) -> Result<(), String> {
    if state.replicas.len() > MAX_REPLICAS_PER_NODE {
        return Err(format!("more than {MAX_REPLICAS_PER_NODE} replicas"));
    }
    if state.gateways.len() > MAX_GATEWAYS_PER_NODE {
        return Err(format!("more than {MAX_GATEWAYS_PER_NODE} gateways"));
    }
    if state
        .gateways
        .iter()
        .any(|g| g.upstreams.len() > MAX_UPSTREAMS_PER_GATEWAY)
    {
        return Err(format!(
            "a gateway with more than {MAX_UPSTREAMS_PER_GATEWAY} upstreams"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::workload::testing::{gateway_spec, replica_spec};
    use std::os::unix::fs::PermissionsExt;

    fn sample() -> DesiredState {
        DesiredState {
            generation: 7,
            replicas: vec![replica_spec("web-1-a", "web", 1, "app:v1")],
            gateways: vec![gateway_spec("project/web", 18080, &["10.0.0.1:32768"])],
        }
    }

    #[test]
    fn round_trip_mode_0600_and_no_temporary_left() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(&dir.path().join("sub"));
        assert_eq!(store.load().unwrap(), None, "nothing stored yet");
        store.save(&sample()).unwrap();
        assert_eq!(store.load().unwrap(), Some(sample()));
        let mut next = sample();
        next.generation = 8;
        next.replicas.clear();
        store.save(&next).unwrap();
        assert_eq!(store.load().unwrap(), Some(next));
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(STATE_FILE)]);
    }

    #[test]
    fn corrupt_truncated_and_foreign_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        store.save(&sample()).unwrap();
        let good = std::fs::read(store.path()).unwrap();
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"hello world".to_vec(),
            good[..good.len() / 2].to_vec(),
            MAGIC.to_vec(),
        ];
        let mut flipped = good.clone();
        for b in flipped.iter_mut().skip(MAGIC.len()) {
            *b ^= 0xa5;
        }
        cases.push(flipped);
        for (i, bytes) in cases.into_iter().enumerate() {
            std::fs::write(store.path(), &bytes).unwrap();
            let err = store.load().unwrap_err();
            assert!(matches!(err, StoreError::Corrupt { .. }), "case {i}: {err}");
        }
    }

    #[test]
    fn oversized_file_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        let f = std::fs::File::create(store.path()).unwrap();
        f.set_len(MAX_STATE_FILE + 1).unwrap();
        assert!(matches!(
            store.load().unwrap_err(),
            StoreError::TooLarge { .. }
        ));
    }

    #[test]
    fn a_symbolic_link_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        let elsewhere = dir.path().join("elsewhere");
        StateStore::new(&elsewhere).save(&sample()).unwrap();
        std::os::unix::fs::symlink(elsewhere.join(STATE_FILE), store.path()).unwrap();
        assert!(matches!(store.load().unwrap_err(), StoreError::Read { .. }));
    }
}
