//! The slave's identity on disk: its static key pair (`slave.key`, mode 0600) and, after
//! enrolment, its node id and the master's public key (`enrollment`, mode 0600). The slave is
//! known by its key, never by its address. Both are written with [`plumbing::key_file`]:
//! atomically, mode 0600, never through a symbolic link.

use plumbing::key_file::{self, KeyFileError};
use protocol::StaticKeys;
use protocol::keys::{hex, parse_hex32};
use std::path::{Path, PathBuf};
use thiserror::Error;

const KEY_FILE: &str = "slave.key";
const ENROLLMENT_FILE: &str = "enrollment";

/// The identity files could not be read or written.
#[derive(Debug, Error)]
pub enum IdentityError {
    /// The file could not be read or written (or is a symbolic link).
    #[error(transparent)]
    File(#[from] KeyFileError),
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

/// Loads the slave's key pair from `dir`, creating one on first start.
pub fn load_or_create_keys(dir: &Path) -> Result<StaticKeys, IdentityError> {
    load_or_create_key_file(&dir.join(KEY_FILE))
}

/// Loads a key pair from `path`, creating it (mode 0600, parent directories included) when
/// it does not exist.
pub fn load_or_create_key_file(path: &Path) -> Result<StaticKeys, IdentityError> {
    let malformed = |message: String| IdentityError::Malformed {
        path: path.to_owned(),
        message,
    };
    let (text, _) = key_file::read_or_create(path, || {
        StaticKeys::generate()
            .map(|keys| keys.to_text().into_bytes())
            .map_err(|e| KeyFileError::Random(e.to_string()))
    })?;
    let text = String::from_utf8(text).map_err(|e| malformed(e.to_string()))?;
    StaticKeys::from_text(&text).map_err(|e| malformed(e.to_string()))
}

/// Loads the enrolment record, `None` before enrolment.
pub fn load_enrollment(dir: &Path) -> Result<Option<Enrollment>, IdentityError> {
    let path = dir.join(ENROLLMENT_FILE);
    let Some(bytes) = key_file::read(&path)? else {
        return Ok(None);
    };
    let bad = |message: &str| IdentityError::Malformed {
        path: path.clone(),
        message: message.to_owned(),
    };
    let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
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
    Ok(key_file::write(
        &dir.join(ENROLLMENT_FILE),
        text.as_bytes(),
    )?)
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
