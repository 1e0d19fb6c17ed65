//! Helpers for end-to-end tests: start Commander processes on loopback, read what
//! they print, query the HTTP API, and clean everything up when a test ends (or fails).

pub mod browser;
pub mod cluster;
pub mod console;
pub mod docker;
pub mod http;
pub mod ops;
pub mod process;
pub mod promtool;
pub mod webdriver;

pub use process::{Proc, commander_bin};

use std::time::{Duration, Instant};

/// Polls `check` every 100 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            anyhow::bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
