//! Small file-system helpers: atomic replacement of a file's content, and a process-wide
//! lock per path for read-modify-write sequences.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

/// Temporary names tried before giving up (each has 64 random bits, so a clash means
/// something is wrong).
const TEMP_ATTEMPTS: usize = 8;

/// A fresh temporary name next to `path`: `.NAME.commander-RANDOM.tmp`, unique per write so
/// concurrent writers never share (or unlink) one another's file.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().unwrap_or(OsStr::new("file"));
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let mut tmp = OsStr::new(".").to_os_string();
    tmp.push(name);
    tmp.push(format!(".commander-{suffix}.tmp"));
    Ok(path.with_file_name(tmp))
}

/// Creates a new temporary file next to `path` with `O_CREAT | O_EXCL | O_NOFOLLOW |
/// O_CLOEXEC` (nothing already there, a planted link included, is ever opened).
fn create_temp(path: &Path, mode: u32) -> io::Result<(PathBuf, File)> {
    for _ in 0..TEMP_ATTEMPTS {
        let tmp = temp_path(path)?;
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary name",
    ))
}

/// Held while a read-modify-write sequence on one path runs; see [`lock_path`].
pub struct PathLock {
    _guard: MutexGuard<'static, ()>,
}

/// Serialises read-modify-write sequences on `path` within this process (host jobs run on
/// several threads): the returned guard is the only one for `path` until dropped. Paths are
/// compared as given, so callers use one spelling (the configured path) for one file.
pub fn lock_path(path: &Path) -> PathLock {
    // One mutex per distinct path, never dropped (a handful of paths: the hosts file's
    // backup, the env profile), so a guard can borrow it for `'static`.
    static LOCKS: LazyLock<Mutex<HashMap<PathBuf, &'static Mutex<()>>>> =
        LazyLock::new(Mutex::default);
    let lock: &'static Mutex<()> = LOCKS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(path.to_path_buf())
        .or_insert_with(|| Box::leak(Box::new(Mutex::new(()))));
    PathLock {
        _guard: lock.lock().unwrap_or_else(PoisonError::into_inner),
    }
}

/// Replaces `path` with `data` atomically: a temporary file in the same directory is
/// written, flushed to disk, given `mode` (or the current file's mode) and renamed over
/// `path`, so a reader sees the old content or the new one, never a mix.
///
/// When the rename is impossible because `path` is a mount point (a bind-mounted file, as
/// `/etc/hosts` is in a container: `EBUSY`) the content is written in place instead.
pub fn write_atomic(path: &Path, data: &[u8], mode: Option<u32>) -> io::Result<()> {
    let mode = mode
        .or_else(|| {
            fs::metadata(path)
                .ok()
                .map(|m| m.permissions().mode() & 0o7777)
        })
        .unwrap_or(0o644);
    let (tmp, mut f) = create_temp(path, mode)?;
    let result = (|| {
        f.write_all(data)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    match result {
        Ok(()) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = File::open(dir).and_then(|d| d.sync_all());
            }
            Ok(())
        }
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let _ = fs::remove_file(&tmp);
            let mut f = OpenOptions::new().write(true).truncate(true).open(path)?;
            f.write_all(data)?;
            f.sync_all()
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn replaces_content_and_keeps_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_atomic(&p, b"one", Some(0o600)).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"two", None).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left");
    }

    /// Finding 11: concurrent writers of one path each use their own temporary file, so
    /// none fails or corrupts another, and none is left behind.
    #[test]
    fn concurrent_writers_neither_fail_nor_leave_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hosts");
        let writers = 8;
        let rounds = 40;
        let content = |t: usize, r: usize| format!("writer {t} round {r}\n").repeat(200);
        std::thread::scope(|s| {
            for t in 0..writers {
                let p = &p;
                s.spawn(move || {
                    for r in 0..rounds {
                        write_atomic(p, content(t, r).as_bytes(), Some(0o644))
                            .unwrap_or_else(|e| panic!("writer {t} round {r}: {e}"));
                        // What is there now is always one whole version.
                        let now = fs::read_to_string(p).unwrap();
                        assert!(
                            (0..writers).any(|t| (0..rounds).any(|r| now == content(t, r))),
                            "a torn or mixed file"
                        );
                    }
                });
            }
        });
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("hosts")],
            "temp files left"
        );
    }

    #[test]
    fn temp_names_are_unique_and_never_follow_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let (a, b) = (temp_path(&p).unwrap(), temp_path(&p).unwrap());
        assert_ne!(a, b);
        assert_eq!(a.parent(), Some(dir.path()));
        // The old fixed name (PID only) planted as a link to a victim is never written.
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let old_name = dir
            .path()
            .join(format!(".f.commander-{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &old_name).unwrap();
        write_atomic(&p, b"new", None).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert_eq!(fs::read(&p).unwrap(), b"new");
    }

    #[test]
    fn path_locks_serialise_per_path() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        let inside = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let _g = lock_path(&p);
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        // Another path is not held up by a held lock.
        let _held = lock_path(&p);
        drop(lock_path(&dir.path().join("y")));
    }

    #[test]
    fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_atomic(&dir.path().join("no/such/f"), b"x", None).is_err());
    }
}
