//! Private key and secret files (`master.key`, `slave.key`, `enrollment`, `console.secret`):
//! mode 0600, replaced atomically, never through a symbolic link.
//!
//! Writing creates a temporary file in the target's directory under a random name with
//! `O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC` (so nothing already there, a planted link
//! included, is ever opened), sets mode 0600 on the open file whatever the umask, writes and
//! fsyncs it, then renames it over the target ([`write()`]) or links it to the target only if
//! nothing is there yet ([`create()`]), and fsyncs the directory. A reader sees the old
//! content or the new one, never a mix. `rename(2)` and `link(2)` replace or refuse a link
//! at the target; they never write through it. Reading ([`read()`]) refuses a symbolic link.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode of every file written here.
pub const MODE: u32 = 0o600;
/// Temporary names tried before giving up (each is 64 random bits, so a clash means
/// something is wrong).
const TEMP_ATTEMPTS: usize = 8;

/// A key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// File-system error, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The file (or the temporary file, or the directory).
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The path is a symbolic link, which is never followed.
    #[error("{path}: is a symbolic link; key files are never read through a link")]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// The path exists but is not a regular file.
    #[error("{path}: not a regular file")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// No random bytes for a temporary name or a new key.
    #[error("no randomness: {0}")]
    Random(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads the file at `path`; `None` when it does not exist. A symbolic link (even one to a
/// good file) and anything but a regular file are errors.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>, KeyFileError> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path);
    let mut file = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(KeyFileError::Symlink {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(io_err(path)(e)),
    };
    if !file.metadata().map_err(io_err(path))?.is_file() {
        return Err(KeyFileError::NotAFile {
            path: path.to_owned(),
        });
    }
    let mut data = Vec::new();
    file.read_to_end(&mut data).map_err(io_err(path))?;
    Ok(Some(data))
}

/// Replaces `path` with `data` atomically (mode 0600). A link at `path` is replaced, not
/// followed.
pub fn write(path: &Path, data: &[u8]) -> Result<(), KeyFileError> {
    let tmp = write_temp(path, data)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path)(e));
    }
    sync_dir(path)
}

/// Writes `data` to `path` (mode 0600) only if nothing is there yet: `Ok(false)` when
/// something (a file, a link) already is, and it is left alone. Two processes racing on
/// one path cannot both write it.
pub fn create(path: &Path, data: &[u8]) -> Result<bool, KeyFileError> {
    let tmp = write_temp(path, data)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => sync_dir(path).map(|()| true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Reads `path`, or, when it does not exist, creates it (and its parent directories) with
/// the content `make` returns. Returns the content and whether it was created here; when
/// another process created the file first, its content wins.
pub fn read_or_create(
    path: &Path,
    make: impl FnOnce() -> Result<Vec<u8>, KeyFileError>,
) -> Result<(Vec<u8>, bool), KeyFileError> {
    if let Some(data) = read(path)? {
        return Ok((data, false));
    }
    if let Some(dir) = parent(path) {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let data = make()?;
    if create(path, &data)? {
        return Ok((data, true));
    }
    match read(path)? {
        Some(theirs) => Ok((theirs, false)),
        None => Err(io_err(path)(io::Error::new(
            io::ErrorKind::NotFound,
            "created by another process and removed again",
        ))),
    }
}

/// `n` random bytes, for new keys and secrets.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, KeyFileError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| KeyFileError::Random(e.to_string()))?;
    Ok(bytes)
}

/// The directory of `path`, `None` for a bare file name (the working directory).
fn parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|d| !d.as_os_str().is_empty())
}

/// Writes `data` to a new temporary file next to `path` and returns its path.
fn write_temp(path: &Path, data: &[u8]) -> Result<PathBuf, KeyFileError> {
    let name = path.file_name().unwrap_or(OsStr::new("key"));
    let dir = parent(path).unwrap_or(Path::new("."));
    for _ in 0..TEMP_ATTEMPTS {
        let suffix: String = random_bytes(8)?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut tmp_name = OsStr::new(".").to_os_string();
        tmp_name.push(name);
        tmp_name.push(format!(".{suffix}.tmp"));
        let tmp = dir.join(tmp_name);
        match write_new(&tmp, data) {
            Ok(()) => return Ok(tmp),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(&tmp)(e)),
        }
    }
    Err(io_err(dir)(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary name",
    )))
}

/// Creates `tmp` exclusively (never following a link), mode 0600 whatever the umask, with
/// `data`, synced to disk; removed again on failure.
fn write_new(tmp: &Path, data: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(tmp)?;
    let written = file
        .set_permissions(fs::Permissions::from_mode(MODE))
        .and_then(|()| file.write_all(data))
        .and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = fs::remove_file(tmp);
    }
    written
}

/// Makes a rename or link in `path`'s directory durable. File systems that cannot fsync a
/// directory are tolerated.
fn sync_dir(path: &Path) -> Result<(), KeyFileError> {
    let dir = parent(path).unwrap_or(Path::new("."));
    match File::open(dir).and_then(|d| d.sync_all()) {
        Err(e) if e.kind() != io::ErrorKind::InvalidInput => Err(io_err(dir)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::os::unix::fs::symlink;

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn entries(dir: &Path) -> usize {
        fs::read_dir(dir).unwrap().count()
    }

    #[test]
    #[allow(unsafe_code)]
    fn mode_is_private_even_with_a_permissive_umask() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        // SAFETY: umask(2) only swaps the process's file-creation mask; it is restored below.
        let old = unsafe { libc::umask(0) };
        let result = write(&p, b"one");
        // SAFETY: as above.
        unsafe { libc::umask(old) };
        result.unwrap();
        assert_eq!(mode(&p), MODE);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o666)).unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(mode(&p), MODE);
    }

    #[test]
    fn content_is_replaced_atomically_and_no_temp_file_stays() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        write(&p, b"one").unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(read(&p).unwrap().unwrap(), b"two");
        assert_eq!(entries(dir.path()), 1, "no temporary file left");
        assert!(write(&dir.path().join("no/such/k"), b"x").is_err());
        assert_eq!(entries(dir.path()), 1);
    }

    #[test]
    fn a_link_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let p = dir.path().join("k");
        symlink(&victim, &p).unwrap();
        assert!(matches!(read(&p), Err(KeyFileError::Symlink { .. })));
        assert!(!create(&p, b"new").unwrap(), "create leaves the link alone");
        assert!(fs::symlink_metadata(&p).unwrap().file_type().is_symlink());
        write(&p, b"new").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(fs::symlink_metadata(&p).unwrap().file_type().is_file());
        assert_eq!(read(&p).unwrap().unwrap(), b"new");
    }

    #[test]
    fn a_link_at_the_temporary_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let tmp = dir.path().join(".k.planted.tmp");
        symlink(&victim, &tmp).unwrap();
        let e = write_new(&tmp, b"evil").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        let dangling = dir.path().join(".k.dangling.tmp");
        symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(write_new(&dangling, b"evil").is_err());
        assert!(!dir.path().join("nowhere").exists());
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn create_only_once_and_read_or_create_keeps_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/dir/secret");
        let (first, created) = read_or_create(&p, || Ok(b"first".to_vec())).unwrap();
        assert!(created);
        assert_eq!(first, b"first");
        assert_eq!(mode(&p), MODE);
        let (again, created) = read_or_create(&p, || Ok(b"second".to_vec())).unwrap();
        assert!(!created);
        assert_eq!(again, b"first");
        assert!(!create(&p, b"third").unwrap());
        assert_eq!(read(&p).unwrap().unwrap(), b"first");
        assert_eq!(entries(p.parent().unwrap()), 1);
    }

    #[test]
    fn missing_is_none_and_a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(&dir.path().join("none")).unwrap().is_none());
        assert!(matches!(
            read(dir.path()),
            Err(KeyFileError::NotAFile { .. })
        ));
        assert_eq!(random_bytes(32).unwrap().len(), 32);
    }
}
