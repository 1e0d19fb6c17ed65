//! The io_uring switch every role shares: `ioUring: auto | on | off` in a configuration
//! file or `--io-uring` on the command line, and `COMMANDER_DISABLE_IO_URING`, which forces
//! io_uring off whatever else says (tests, containers whose seccomp profile blocks it).

use serde::Deserialize;

/// Environment variable that forces io_uring off when set to `1`, `true`, `yes` or `on`.
pub const DISABLE_IO_URING_ENV: &str = "COMMANDER_DISABLE_IO_URING";

/// Whether to use io_uring.
///
/// Parsed from YAML by serde, from flags by `FromStr` (`auto`, `on`, `off`, any case) or,
/// with the `clap` feature, as a `clap::ValueEnum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum IoUringMode {
    /// Use io_uring when the kernel allows it, otherwise the portable driver (the default).
    #[default]
    Auto,
    /// Require io_uring; starting fails where it is unavailable.
    On,
    /// Never use io_uring.
    Off,
}

/// Text that is not `auto`, `on` or `off`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown io_uring mode {0:?}; expected auto, on or off")]
pub struct UnknownIoUringMode(pub String);

impl IoUringMode {
    /// `mode`, or [`IoUringMode::Off`] when the environment variable
    /// [`DISABLE_IO_URING_ENV`] (`COMMANDER_DISABLE_IO_URING`) is set to a true value
    /// (`1`, `true`, `yes`, `on`, any case). The variable wins over the file and the flags, so
    /// tests and containers with io_uring blocked by seccomp can force the fallback.
    pub fn from_env_and(mode: IoUringMode) -> IoUringMode {
        let value = std::env::var(DISABLE_IO_URING_ENV).ok();
        Self::with_disable_flag(mode, value.as_deref())
    }

    /// The pure part of [`IoUringMode::from_env_and`]: `value` is the variable's content.
    pub fn with_disable_flag(mode: IoUringMode, value: Option<&str>) -> IoUringMode {
        if value.is_some_and(is_true) {
            IoUringMode::Off
        } else {
            mode
        }
    }
}

impl std::str::FromStr for IoUringMode {
    type Err = UnknownIoUringMode;

    /// `auto`, `on` or `off`, any case.
    fn from_str(s: &str) -> Result<Self, UnknownIoUringMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(IoUringMode::Auto),
            "on" => Ok(IoUringMode::On),
            "off" => Ok(IoUringMode::Off),
            _ => Err(UnknownIoUringMode(s.to_owned())),
        }
    }
}

/// True when `COMMANDER_DISABLE_IO_URING` forces io_uring off.
pub fn disabled_by_env() -> bool {
    std::env::var(DISABLE_IO_URING_ENV).is_ok_and(|v| is_true(&v))
}

fn is_true(v: &str) -> bool {
    ["1", "true", "yes", "on"]
        .iter()
        .any(|t| v.trim().eq_ignore_ascii_case(t))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parsing_and_the_disable_flag() {
        assert_eq!("OFF".parse::<IoUringMode>().unwrap(), IoUringMode::Off);
        assert_eq!(" auto ".parse::<IoUringMode>().unwrap(), IoUringMode::Auto);
        let e = "maybe".parse::<IoUringMode>().unwrap_err();
        assert!(e.to_string().contains("maybe"), "{e}");
        for v in ["1", "TRUE", "yes", "On"] {
            assert_eq!(
                IoUringMode::with_disable_flag(IoUringMode::On, Some(v)),
                IoUringMode::Off
            );
        }
        for v in [None, Some(""), Some("0"), Some("no")] {
            assert_eq!(
                IoUringMode::with_disable_flag(IoUringMode::On, v),
                IoUringMode::On
            );
        }
    }
}
