//! The hosts file: view, replace and restore.
//!
//! A new content is validated line by line ([`validate::hosts_content`]); the current file
//! is first saved as `hosts.previous` in the slave's data directory, then the new content
//! replaces the file atomically (temporary file + rename; in place when the file is a bind
//! mount, as in containers). Restore swaps the two, so a second restore undoes the first.
//! The path is configurable (`hostsFile`), so tests use a temporary file.

use super::io_error;
use crate::fsutil;
use protocol::ops::host::{HostsEntry, HostsFile};
use protocol::ops::{ErrorKind, OpError, validate};
use std::path::{Path, PathBuf};

/// File name of the kept previous version in the data directory.
pub const PREVIOUS_FILE: &str = "hosts.previous";

/// The hosts file and where its previous version is kept.
#[derive(Debug, Clone)]
pub struct HostsPaths {
    /// The hosts file.
    pub file: PathBuf,
    /// Its previous version.
    pub previous: PathBuf,
}

impl HostsPaths {
    /// `file`, with its previous version in `data_dir`.
    pub fn new(file: &Path, data_dir: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
            previous: data_dir.join(PREVIOUS_FILE),
        }
    }
}

/// Mappings of any hosts file, skipping lines that do not parse.
pub fn entries(content: &str) -> Vec<HostsEntry> {
    content
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.split('#').next()?.trim();
            let mut words = line.split_ascii_whitespace();
            let ip = words.next()?;
            let names: Vec<String> = words.map(str::to_string).collect();
            (!names.is_empty()).then(|| HostsEntry {
                line: i as u32 + 1,
                ip: ip.to_string(),
                names,
            })
        })
        .collect()
}

fn read(path: &Path) -> Result<String, OpError> {
    std::fs::read_to_string(path).map_err(|e| io_error(&path.display().to_string(), &e))
}

fn write(path: &Path, content: &str) -> Result<(), OpError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error(&dir.display().to_string(), &e))?;
    }
    fsutil::write_atomic(path, content.as_bytes(), None)
        .map_err(|e| io_error(&path.display().to_string(), &e))
}

/// The hosts file now.
pub fn get(p: &HostsPaths) -> Result<HostsFile, OpError> {
    let content = read(&p.file)?;
    let previous_saved_ms = std::fs::metadata(&p.previous)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64);
    Ok(HostsFile {
        path: p.file.display().to_string(),
        entries: entries(&content),
        content,
        previous_saved_ms,
    })
}

/// Validates `content`, keeps the current file as the previous version and replaces it.
pub fn put(p: &HostsPaths, content: &str) -> Result<HostsFile, OpError> {
    validate::hosts_content("content", content)?;
    let _serial = fsutil::lock_path(&p.previous);
    let current = read(&p.file)?;
    write(&p.previous, &current)?;
    write(&p.file, content)?;
    get(p)
}

/// Puts the previous version back; the replaced content becomes the previous version.
pub fn restore(p: &HostsPaths) -> Result<HostsFile, OpError> {
    let _serial = fsutil::lock_path(&p.previous);
    let previous = match std::fs::read_to_string(&p.previous) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(OpError::new(
                ErrorKind::Conflict,
                "no previous version of the hosts file is kept yet (nothing was replaced)",
            ));
        }
        Err(e) => return Err(io_error(&p.previous.display().to_string(), &e)),
    };
    let current = read(&p.file)?;
    write(&p.file, &previous)?;
    write(&p.previous, &current)?;
    get(p)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::sync::Mutex;

    const ORIGINAL: &str = "127.0.0.1 localhost\n::1 localhost\n# keep me\n";

    fn setup() -> (tempfile::TempDir, HostsPaths) {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        let file = etc.join("hosts");
        std::fs::write(&file, ORIGINAL).unwrap();
        let paths = HostsPaths::new(&file, &dir.path().join("data"));
        (dir, paths)
    }

    #[test]
    fn edit_then_restore_twice() {
        let (_dir, p) = setup();
        let v = get(&p).unwrap();
        assert_eq!((v.content.as_str(), v.previous_saved_ms), (ORIGINAL, None));
        assert_eq!(v.entries.len(), 2);
        let new = "127.0.0.1 localhost\n10.1.2.3 db.internal db # primary\n";
        let v = put(&p, new).unwrap();
        assert_eq!(v.content, new);
        assert!(v.previous_saved_ms.is_some());
        assert_eq!(v.entries[1].names, vec!["db.internal", "db"]);
        assert_eq!(std::fs::read_to_string(&p.previous).unwrap(), ORIGINAL);
        let v = restore(&p).unwrap();
        assert_eq!(v.content, ORIGINAL);
        let v = restore(&p).unwrap();
        assert_eq!(v.content, new, "a second restore undoes the first");
    }

    #[test]
    fn invalid_content_changes_nothing() {
        let (_dir, p) = setup();
        let e = put(&p, "127.0.0.1 localhost\n999.1.1.1 x\n").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("content"));
        assert!(e.message.contains("line 2"), "{e}");
        let e = put(&p, "10.0.0.1 web\n").unwrap_err();
        assert!(e.message.contains("localhost"));
        assert_eq!(std::fs::read_to_string(&p.file).unwrap(), ORIGINAL);
        assert!(!p.previous.exists());
        assert_eq!(restore(&p).unwrap_err().kind, ErrorKind::Conflict);
    }

    /// Finding 11: concurrent replaces are serialised: every one succeeds, each sees its own
    /// content as the result, the previous version is the one replaced last, and no
    /// temporary file is left.
    #[test]
    fn concurrent_replaces_lose_nothing() {
        let (dir, p) = setup();
        let version = |t: usize, r: usize| format!("127.0.0.1 localhost\n10.0.{t}.{r} w{t}r{r}\n");
        let order = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for t in 0..6 {
                let (p, order) = (&p, &order);
                s.spawn(move || {
                    for r in 0..25 {
                        let v = put(p, &version(t, r))
                            .unwrap_or_else(|e| panic!("writer {t} round {r}: {e}"));
                        assert_eq!(v.content, version(t, r), "another edit slipped in");
                        order.lock().unwrap().push(v.content);
                        if r % 5 == 4 {
                            restore(p).unwrap_or_else(|e| panic!("restore {t}/{r}: {e}"));
                        }
                    }
                });
            }
        });
        let order = order.into_inner().unwrap();
        assert_eq!(order.len(), 150);
        let now = std::fs::read_to_string(&p.file).unwrap();
        let previous = std::fs::read_to_string(&p.previous).unwrap();
        let known = |c: &String| order.contains(c) || c == ORIGINAL;
        assert!(
            known(&now) && known(&previous) && previous != now,
            "previous {previous:?}, now {now:?}"
        );
        for d in [dir.path().join("etc"), dir.path().join("data")] {
            let names: Vec<_> = std::fs::read_dir(&d)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            assert!(
                names.iter().all(|n| !n.ends_with(".tmp")),
                "temp files left in {}: {names:?}",
                d.display()
            );
        }
    }

    #[test]
    fn missing_file_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let p = HostsPaths::new(&dir.path().join("nope"), dir.path());
        assert_eq!(get(&p).unwrap_err().kind, ErrorKind::NotFound);
    }
}
