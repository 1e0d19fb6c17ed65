//! Building a monoio runtime per thread: io_uring when the kernel allows it and nothing
//! forbids it, otherwise monoio's legacy (epoll) driver.
//!
//! io_uring is skipped when the configuration says `io_uring: false`, when
//! `COMMANDER_DISABLE_IO_URING` is `1`/`true`/`yes`/`on`, when the kernel lacks an opcode we need
//! or blocks io_uring (Docker's default seccomp profile), or when the ring cannot be built.

use std::fmt;

use monoio::time::TimeDriver;
use monoio::{FusionRuntime, IoUringDriver, LegacyDriver, RuntimeBuilder};

/// Environment variable that forces the legacy driver (the switch every role shares).
pub use plumbing::io_uring::DISABLE_IO_URING_ENV;
/// Submission queue entries per ring.
pub const RING_ENTRIES: u32 = 1024;
/// Environment variable choosing the ring's task-run mode: `coop` (the default), `defer` or
/// `plain` (for measurements; see [`RingMode`]).
pub const RING_MODE_ENV: &str = "COMMANDER_URING_TASKRUN";

/// How the kernel runs io_uring completion work for a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingMode {
    /// `IORING_SETUP_COOP_TASKRUN | TASKRUN_FLAG` (Linux 5.19+): completions are finished
    /// when the worker next enters the kernel, instead of interrupting it with an IPI each
    /// time a socket becomes ready while it is running.
    Coop,
    /// `IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN` (Linux 6.1+): completions are finished
    /// only when the worker waits for them.
    Defer,
    /// No setup flags (the kernel interrupts the worker for every completion).
    Plain,
}

impl RingMode {
    /// The mode asked for by [`RING_MODE_ENV`], [`RingMode::Coop`] by default.
    pub fn from_env() -> Self {
        match std::env::var(RING_MODE_ENV).as_deref().map(str::trim) {
            Ok("defer") => RingMode::Defer,
            Ok("plain") => RingMode::Plain,
            _ => RingMode::Coop,
        }
    }

    fn builder(self) -> io_uring::Builder {
        let mut b = io_uring::IoUring::builder();
        match self {
            RingMode::Coop => {
                b.setup_coop_taskrun().setup_taskrun_flag();
            }
            RingMode::Defer => {
                b.setup_single_issuer().setup_defer_taskrun();
            }
            RingMode::Plain => {}
        }
        b
    }
}

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

/// True when the environment forces the legacy driver ([`plumbing::io_uring::disabled_by_env`]).
pub fn io_uring_disabled_by_env() -> bool {
    plumbing::io_uring::disabled_by_env()
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
        let mode = RingMode::from_env();
        // Older kernels reject the setup flags: retry without them before giving up on uring.
        let modes: &[RingMode] = if mode == RingMode::Plain {
            &[RingMode::Plain]
        } else {
            &[mode, RingMode::Plain]
        };
        for m in modes {
            match RuntimeBuilder::<IoUringDriver>::new()
                .with_entries(RING_ENTRIES)
                .uring_builder(m.builder())
                .enable_timer()
                .build()
            {
                Ok(rt) => {
                    tracing::debug!("io_uring ring mode {m:?}");
                    return Ok((rt.into(), DriverKind::IoUring));
                }
                Err(e) => tracing::warn!("io_uring runtime ({m:?}) failed: {e}"),
            }
        }
        tracing::warn!("io_uring unavailable; using the legacy driver");
    }
    let rt = RuntimeBuilder::<LegacyDriver>::new()
        .with_entries(RING_ENTRIES)
        .enable_timer()
        .build()?;
    Ok((rt.into(), DriverKind::Legacy))
}
