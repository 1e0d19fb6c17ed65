//! The environment profile: the slave's own environment (what the processes it starts
//! inherit) plus the operator's edits, kept in `env.profile` in the data directory and
//! applied with [`apply`] to every process the slave starts. The slave's own environment
//! is never changed. Values whose names look secret are redacted in views.
//!
//! File format, one edit per line: `set KEY=VALUE` or `unset KEY`; `#` starts a comment.

use super::io_error;
use crate::fsutil;
use protocol::ops::host::{EnvEdit, EnvProfile, EnvVar};
use protocol::ops::{ErrorKind, OpError, validate};
use std::path::{Path, PathBuf};
use std::process::Command;

/// File name of the profile in the data directory.
pub const PROFILE_FILE: &str = "env.profile";
/// What a redacted value shows.
pub const REDACTED: &str = "<redacted>";

/// Whether a variable's value should not be shown (tokens, passwords, keys).
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "PRIVATE",
        "API_KEY",
        "_KEY",
    ]
    .iter()
    .any(|s| k.contains(s))
        || k.ends_with("KEY")
}

/// The stored edits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edits {
    /// Variables set, with their real values.
    pub set: Vec<(String, String)>,
    /// Variables removed.
    pub unset: Vec<String>,
}

fn var(key: &str, value: &str) -> EnvVar {
    let redacted = is_secret(key);
    EnvVar {
        key: key.to_string(),
        value: if redacted {
            REDACTED.into()
        } else {
            value.into()
        },
        redacted,
    }
}

fn profile_path(data_dir: &Path) -> PathBuf {
    data_dir.join(PROFILE_FILE)
}

/// The stored edits (an absent file is no edits).
pub fn load(data_dir: &Path) -> Result<Edits, OpError> {
    let path = profile_path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Edits::default()),
        Err(e) => return Err(io_error(&path.display().to_string(), &e)),
    };
    parse(&text).map_err(|e| OpError::new(ErrorKind::Failed, format!("{}: {e}", path.display())))
}

/// A line of the profile file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// The line is neither `set KEY=VALUE` nor `unset KEY`.
    #[error("line {line}: expected `set KEY=VALUE` or `unset KEY`")]
    Syntax {
        /// Line number, from 1.
        line: usize,
    },
    /// The variable name is not allowed.
    #[error("line {line}: {source}")]
    Key {
        /// Line number, from 1.
        line: usize,
        /// What is wrong with the name.
        source: validate::ValidationError,
    },
}

/// Parses the profile file.
pub fn parse(text: &str) -> Result<Edits, ProfileError> {
    let (mut set, mut unset) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let n = i + 1;
        let key = |k: &str| {
            validate::env_key("key", k).map_err(|source| ProfileError::Key { line: n, source })
        };
        if let Some(rest) = line.strip_prefix("set ") {
            let (k, v) = rest
                .split_once('=')
                .ok_or(ProfileError::Syntax { line: n })?;
            key(k)?;
            set.push((k.to_string(), v.to_string()));
        } else if let Some(k) = line.strip_prefix("unset ") {
            key(k.trim())?;
            unset.push(k.trim().to_string());
        } else {
            return Err(ProfileError::Syntax { line: n });
        }
    }
    Ok(Edits { set, unset })
}

/// The profile as the master sees it.
pub fn view(data_dir: &Path) -> Result<EnvProfile, OpError> {
    let Edits { set, unset } = load(data_dir)?;
    let mut inherited: Vec<EnvVar> = std::env::vars_os()
        .map(|(k, v)| var(&k.to_string_lossy(), &v.to_string_lossy()))
        .collect();
    inherited.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(EnvProfile {
        inherited,
        set: set.iter().map(|(k, v)| var(k, v)).collect(),
        unset,
    })
}

/// Replaces the stored edits (validated; redacted entries keep their stored value).
pub fn edit(data_dir: &Path, e: EnvEdit) -> Result<EnvProfile, OpError> {
    validate::host_op(&protocol::ops::host::HostOp::SetEnv(e.clone()))?;
    // Read-modify-write of the profile: one edit at a time (redacted values are carried
    // over from what the previous edit stored).
    let _serial = fsutil::lock_path(&profile_path(data_dir));
    let old = load(data_dir)?.set;
    let mut text = String::from("# Commander slave environment profile (edited by the master)\n");
    for (i, v) in e.set.iter().enumerate() {
        let value = if v.redacted {
            old.iter()
                .find(|(k, _)| *k == v.key)
                .map(|(_, val)| val.clone())
                .ok_or_else(|| {
                    OpError::invalid(
                        format!("set[{i}].value"),
                        format!("{} is marked redacted but has no stored value", v.key),
                    )
                })?
        } else {
            v.value.clone()
        };
        text.push_str(&format!("set {}={value}\n", v.key));
    }
    for k in &e.unset {
        text.push_str(&format!("unset {k}\n"));
    }
    let path = profile_path(data_dir);
    std::fs::create_dir_all(data_dir)
        .map_err(|err| io_error(&data_dir.display().to_string(), &err))?;
    fsutil::write_atomic(&path, text.as_bytes(), Some(0o600))
        .map_err(|err| io_error(&path.display().to_string(), &err))?;
    view(data_dir)
}

/// Applies the stored edits to a command the slave is about to start.
pub fn apply(data_dir: &Path, cmd: &mut Command) -> Result<(), OpError> {
    let Edits { set, unset } = load(data_dir)?;
    for k in unset {
        cmd.env_remove(k);
    }
    for (k, v) in set {
        cmd.env(k, v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn v(k: &str, val: &str, redacted: bool) -> EnvVar {
        EnvVar {
            key: k.into(),
            value: val.into(),
            redacted,
        }
    }

    #[test]
    fn edit_view_apply_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = view(dir.path()).unwrap();
        assert!(p.set.is_empty() && p.inherited.iter().any(|v| v.key == "PATH"));
        let edit_1 = EnvEdit {
            set: vec![
                v("GREETING", "hello world", false),
                v("DB_PASSWORD", "s3cret", false),
            ],
            unset: vec!["HOME".into()],
        };
        let p = edit(dir.path(), edit_1).unwrap();
        assert_eq!(p.set[0], v("GREETING", "hello world", false));
        assert_eq!(p.set[1], v("DB_PASSWORD", REDACTED, true));
        assert_eq!(p.unset, vec!["HOME"]);
        // Sending the view back keeps the secret.
        let p = edit(
            dir.path(),
            EnvEdit {
                set: p.set,
                unset: p.unset,
            },
        )
        .unwrap();
        assert_eq!(p.set.len(), 2);
        let mut cmd = Command::new("env");
        apply(dir.path(), &mut cmd).unwrap();
        let out = String::from_utf8(cmd.output().unwrap().stdout).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.contains(&"GREETING=hello world"), "{out}");
        assert!(lines.contains(&"DB_PASSWORD=s3cret"));
        assert!(!lines.iter().any(|l| l.starts_with("HOME=")));
        let mode = std::fs::metadata(dir.path().join(PROFILE_FILE)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    }

    /// Finding 11: concurrent profile edits are serialised: all succeed, a redacted secret
    /// survives every one, the profile holds one whole edit and no temporary file is left.
    #[test]
    fn concurrent_edits_keep_the_profile_whole() {
        let dir = tempfile::tempdir().unwrap();
        let first = EnvEdit {
            set: vec![v("DB_PASSWORD", "s3cret", false)],
            unset: vec![],
        };
        edit(dir.path(), first).unwrap();
        std::thread::scope(|s| {
            for t in 0..6 {
                let dir = dir.path();
                s.spawn(move || {
                    for r in 0..25 {
                        let e = EnvEdit {
                            set: vec![
                                v("DB_PASSWORD", REDACTED, true),
                                v(&format!("W{t}"), &r.to_string(), false),
                            ],
                            unset: vec![],
                        };
                        edit(dir, e).unwrap_or_else(|e| panic!("writer {t} round {r}: {e}"));
                    }
                });
            }
        });
        let Edits { set, unset } = load(dir.path()).unwrap();
        assert!(unset.is_empty());
        assert_eq!(set.len(), 2, "{set:?}");
        assert_eq!(set[0], ("DB_PASSWORD".to_string(), "s3cret".to_string()));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(PROFILE_FILE)]);
    }

    #[test]
    fn bad_edits_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let bad = EnvEdit {
            set: vec![v("OK", "1", false), v("NOT-OK", "1", false)],
            unset: vec![],
        };
        let e = edit(dir.path(), bad).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("set[1].key"));
        let e = edit(
            dir.path(),
            EnvEdit {
                set: vec![v("API_KEY", REDACTED, true)],
                unset: vec![],
            },
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("set[0].value"));
        assert!(!dir.path().join(PROFILE_FILE).exists());
        assert_eq!(
            parse("set A=1\nexport B=2\n"),
            Err(ProfileError::Syntax { line: 2 })
        );
        assert!(matches!(
            parse("# c\nset 1A=1\n"),
            Err(ProfileError::Key { line: 2, .. })
        ));
        assert!(is_secret("COMMANDER_JOIN_TOKEN") && is_secret("ssh_key") && !is_secret("PATH"));
    }
}
