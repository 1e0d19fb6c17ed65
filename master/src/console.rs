//! The console's account settings on the master: the session-signing secret (configured,
//! or generated at first start and kept in `<dataDir>/console.secret`, mode 0600) and the
//! lockout from the configuration. Serving the console (TLS, trusted proxies) is the
//! binary's wiring of the `web` crate.

use std::path::Path;
use std::time::Duration;

use crate::accounts::{AccountSettings, HashCost, LockoutPolicy};
use crate::config::{ConsoleConfig, DEFAULT_JWT_EXPIRE_SECS, MasterConfig};

/// File in the data directory holding the generated session-signing secret.
pub const SECRET_FILE: &str = "console.secret";
/// Bytes of a generated secret.
pub const SECRET_BYTES: usize = 32;

/// What the console needs from the configuration.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// `jwt.secret`; `None` uses the generated one.
    pub jwt_secret: Option<String>,
    /// `jwt.expire`.
    pub session_ttl: Duration,
    /// The `console` section (TLS, trusted proxies, lockout).
    pub config: ConsoleConfig,
}

impl Default for ConsoleOptions {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            session_ttl: Duration::from_secs(DEFAULT_JWT_EXPIRE_SECS),
            config: ConsoleConfig::default(),
        }
    }
}

impl ConsoleOptions {
    /// The options of a loaded configuration.
    pub fn from_config(cfg: &MasterConfig) -> Self {
        Self {
            jwt_secret: cfg.jwt_secret.clone(),
            session_ttl: cfg.jwt_expire,
            config: cfg.console.clone(),
        }
    }
}

/// The console's secret could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The secret file could not be read or written, or is malformed.
    #[error("{path}: {message}")]
    Secret {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// The account settings of `opts`, reading or creating the secret in `data_dir`.
pub fn account_settings(
    data_dir: &Path,
    opts: &ConsoleOptions,
) -> Result<AccountSettings, ConsoleError> {
    let jwt_secret = match &opts.jwt_secret {
        Some(s) => s.as_bytes().to_vec(),
        None => load_or_create_secret(&data_dir.join(SECRET_FILE))?,
    };
    let c = &opts.config;
    Ok(AccountSettings {
        jwt_secret,
        session_ttl: opts.session_ttl,
        lockout: LockoutPolicy {
            max_failures: c.lockout_max_failures,
            window: c.lockout_window,
            lock_for: c.lockout_duration,
        },
        hash_cost: HashCost::DEFAULT,
    })
}

/// Reads the hex secret at `path`, or writes a fresh random one (mode 0600, atomically,
/// never through a link: [`plumbing::key_file`]) when there is none. Two masters racing on
/// one directory cannot both write it; the loser reads the winner's.
pub fn load_or_create_secret(path: &Path) -> Result<Vec<u8>, ConsoleError> {
    let err = |message: String| ConsoleError::Secret {
        path: path.display().to_string(),
        message,
    };
    let (text, created) = plumbing::key_file::read_or_create(path, || {
        let secret = plumbing::key_file::random_bytes(SECRET_BYTES)?;
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        Ok(format!("{hex}\n").into_bytes())
    })
    .map_err(|e| err(e.to_string()))?;
    if created {
        tracing::info!(path = %path.display(), "generated the console's session-signing secret");
    }
    std::str::from_utf8(&text)
        .ok()
        .and_then(|t| decode_hex(t.trim()))
        .ok_or_else(|| err("not a hex secret of 32+ bytes".into()))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() < 2 * SECRET_BYTES || !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_file_behind_a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::write(&real, "ab".repeat(SECRET_BYTES)).unwrap();
        let path = dir.path().join(SECRET_FILE);
        std::os::unix::fs::symlink(&real, &path).unwrap();
        let e = load_or_create_secret(&path).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
    }

    #[test]
    fn secret_is_generated_once_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRET_FILE);
        let first = load_or_create_secret(&path).unwrap();
        assert_eq!(first.len(), SECRET_BYTES);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create_secret(&path).unwrap(), first);
        std::fs::write(&path, "not hex\n").unwrap();
        assert!(load_or_create_secret(&path).is_err());
    }

    #[test]
    fn configured_secret_wins() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ConsoleOptions {
            jwt_secret: Some("configured secret of 32 characters".into()),
            ..ConsoleOptions::default()
        };
        let settings = account_settings(dir.path(), &opts).unwrap();
        assert_eq!(settings.jwt_secret, b"configured secret of 32 characters");
        assert!(!dir.path().join(SECRET_FILE).exists());
    }
}
