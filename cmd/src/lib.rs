//! The `commander` package: flag parsing and wiring only, as Nomad's agent command. Each
//! module turns one subcommand's flags into a role's configuration and starts the role from
//! its own crate (`master`, `slave`, `gateway`); nothing here is domain logic.
//!
//! - [`cli`]: `commander up | master | slave | gateway | token | node | user | db`.
//! - [`master`]: `up` and `master`; [`console`] serves the web console over the running
//!   master's services.
//! - [`slave`]: `slave`, and the `commander-slave` binary.
//! - [`gateway`]: `gateway`, and the `commander-gateway` binary: one function runs both.
//! - [`admin`]: `token`, `node`, `user` and `db` on a master's data directory.
//!
//! The three binaries (`src/main.rs`, `src/bin/`) only parse flags, set up logging
//! ([`plumbing::tracing`]) and call into these modules. Being binary code, the modules
//! report failures with `anyhow`.

pub mod admin;
pub mod cli;
pub mod console;
pub mod gateway;
pub mod master;
pub mod slave;
