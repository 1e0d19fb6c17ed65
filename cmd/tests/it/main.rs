//! The `commander` package's integration tests, one test executable:
//!
//! - [`binaries`]: the binaries run as processes (flags of every subcommand, the
//!   standalone gateway run both ways);
//! - [`console`]: the web console wired to the master's real account, operations and data
//!   services over fake edges.

// clippy.toml allows unwrap in `#[test]` functions only; the helpers are test code too.
#![allow(clippy::unwrap_used, dead_code)]

mod binaries;
mod console;
