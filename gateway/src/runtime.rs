//! Building a monoio runtime per thread: io_uring when the kernel allows it and nothing
//! forbids it, otherwise monoio's legacy (epoll) driver.
//!
//! io_uring is skipped when the configuration says `io_uring: false`, when
//! `COMMANDER_DISABLE_IO_URING` is `1`/`true`/`yes`, when the kernel lacks an opcode we need
//! or blocks io_uring (Docker's default seccomp profile), or when the ring cannot be built.

use std::fmt;

use monoio::time::TimeDriver;
use monoio::{FusionRuntime, IoUringDriver, LegacyDriver, RuntimeBuilder};

/// Environment variable that forces the legacy driver.
pub const DISABLE_IO_URING_ENV: &str = "COMMANDER_DISABLE_IO_URING";
/// Submission queue entries per ring.
pub const RING_ENTRIES: u32 = 1024;

/// The runtime type of every gateway thread.
pub(crate) type Rt = FusionRuntime<TimeDriver<IoUringDriver>, TimeDriver<LegacyDriver>>;

/// Which monoio driver a thread runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverKind {
    /// io_uring.
    IoUring,
    /// epoll.
    Legacy,
}

impl fmt::Display for DriverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DriverKind::IoUring => "io_uring",
            DriverKind::Legacy => "legacy",
        })
    }
}

/// True when the environment forces the legacy driver.
pub fn io_uring_disabled_by_env() -> bool {
    std::env::var(DISABLE_IO_URING_ENV)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

/// The driver to try, given the configuration's wish.
pub fn preferred_driver(config_allows_uring: bool) -> DriverKind {
    if config_allows_uring && !io_uring_disabled_by_env() && monoio::utils::detect_uring() {
        DriverKind::IoUring
    } else {
        DriverKind::Legacy
    }
}

/// Builds a runtime with a timer for `want`, falling back to legacy if the ring cannot be
/// built; returns the driver actually in use.
pub(crate) fn build(want: DriverKind) -> std::io::Result<(Rt, DriverKind)> {
    if want == DriverKind::IoUring {
        match RuntimeBuilder::<IoUringDriver>::new()
            .with_entries(RING_ENTRIES)
            .enable_timer()
            .build()
        {
            Ok(rt) => return Ok((rt.into(), DriverKind::IoUring)),
            Err(e) => tracing::warn!("io_uring runtime failed ({e}); using the legacy driver"),
        }
    }
    let rt = RuntimeBuilder::<LegacyDriver>::new()
        .with_entries(RING_ENTRIES)
        .enable_timer()
        .build()?;
    Ok((rt.into(), DriverKind::Legacy))
}
