//! The slave's identity on disk: its static key pair (`slave.key`, mode 0600) and, after
//! enrolment, its node id and the master's public key (`enrollment`, mode 0600). The slave is
//! known by its key, never by its address.

use protocol::StaticKeys;
use protocol::keys::{hex, parse_hex32};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use thiserror::Error;

const KEY_FILE: &str = "slave.key";
const ENROLLMENT_FILE: &str = "enrollment";

/// The identity files could not be read or written.
#[derive(Debug, Error)]
pub enum IdentityError {
    /// File-system error, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file exists but is malformed.
    #[error("{path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// What enrolment gave the slave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// Node id assigned by the master.
    pub node_id: u64,
    /// The master's static public key, checked on every later session.
    pub master_key: [u8; 32],
    /// The master's protocol address.
    pub master_addr: String,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |source| IdentityError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `text` to `path` atomically with mode 0600.
fn write_private(path: &Path, text: &str) -> Result<(), IdentityError> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Loads the slave's key pair from `dir`, creating one on first start.
pub fn load_or_create_keys(dir: &Path) -> Result<StaticKeys, IdentityError> {
    load_or_create_key_file(&dir.join(KEY_FILE))
}

/// Loads a key pair from `path`, creating it (mode 0600, parent directories included) when
/// it does not exist. The master keeps its own key the same way.
pub fn load_or_create_key_file(path: &Path) -> Result<StaticKeys, IdentityError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let path = path.to_owned();
    match std::fs::read_to_string(&path) {
        Ok(text) => StaticKeys::from_text(&text).map_err(|e| IdentityError::Malformed {
            path,
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let keys = StaticKeys::generate().map_err(|e| IdentityError::Malformed {
                path: path.clone(),
                message: e.to_string(),
            })?;
            write_private(&path, &keys.to_text())?;
            Ok(keys)
        }
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// Loads the enrolment record, `None` before enrolment.
pub fn load_enrollment(dir: &Path) -> Result<Option<Enrollment>, IdentityError> {
    let path = dir.join(ENROLLMENT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let bad = |message: &str| IdentityError::Malformed {
        path: path.clone(),
        message: message.to_owned(),
    };
    let (mut node_id, mut master_key, mut master_addr) = (None, None, None);
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| bad("line without '='"))?;
        match k {
            "node_id" => {
                node_id = Some(
                    v.parse::<u64>()
                        .map_err(|_| bad("node_id is not a number"))?,
                )
            }
            "master_key" => master_key = Some(parse_hex32(v).map_err(|e| bad(&e.to_string()))?),
            "master_addr" => master_addr = Some(v.to_owned()),
            _ => return Err(bad(&format!("unknown key {k:?}"))),
        }
    }
    Ok(Some(Enrollment {
        node_id: node_id.ok_or_else(|| bad("node_id missing"))?,
        master_key: master_key.ok_or_else(|| bad("master_key missing"))?,
        master_addr: master_addr.ok_or_else(|| bad("master_addr missing"))?,
    }))
}

/// Saves the enrolment record.
pub fn save_enrollment(dir: &Path, e: &Enrollment) -> Result<(), IdentityError> {
    let text = format!(
        "node_id={}\nmaster_key={}\nmaster_addr={}\n",
        e.node_id,
        hex(&e.master_key),
        e.master_addr
    );
    write_private(&dir.join(ENROLLMENT_FILE), &text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_persist_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_keys(dir.path()).unwrap();
        let b = load_or_create_keys(dir.path()).unwrap();
        assert_eq!(a, b);
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn enrollment_round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_enrollment(dir.path()).unwrap(), None);
        let e = Enrollment {
            node_id: 12,
            master_key: [3; 32],
            master_addr: "[::1]:17777".into(),
        };
        save_enrollment(dir.path(), &e).unwrap();
        assert_eq!(load_enrollment(dir.path()).unwrap(), Some(e));
        std::fs::write(dir.path().join(ENROLLMENT_FILE), "node_id=x\n").unwrap();
        let err = load_enrollment(dir.path()).unwrap_err().to_string();
        assert!(err.contains("node_id"), "{err}");
    }
}
