//! Plumbing shared by every Commander role (master, slave, gateway) and by the `commander`
//! binary, cut by concern:
//!
//! - [`config_file`]: reading a YAML configuration file into a role's raw serde structs;
//!   errors name the key path and its line and column.
//! - [`addr`]: the one `host:port` validator.
//! - [`key_file`]: private key and secret files, written atomically with mode 0600 and never
//!   through a symbolic link.
//! - [`secret`]: random identifiers and secrets, compared in constant time.
//! - [`io_uring`]: the io_uring switch (`auto`/`on`/`off`) and `COMMANDER_DISABLE_IO_URING`.
//! - [`tracing`]: the log subscriber of the binaries (feature `subscriber`).
//!
//! It depends on no HTTP framework and no async runtime, so every role can use it.

pub mod addr;
pub mod config_file;
pub mod io_uring;
pub mod key_file;
pub mod secret;
pub mod tracing;
