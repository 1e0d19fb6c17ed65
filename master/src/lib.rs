//! Commander master: cluster state, the LMDB store, the protocol endpoint and the control
//! plane. See `docs/ARCHITECTURE.md` for how data flows between the pieces.

pub mod accounts;
pub mod alerts;
pub mod cluster;
pub mod config;
pub mod console;
pub mod endpoint;
pub mod pending;
pub mod projects;
pub mod samples;
pub mod server;
pub mod services;
pub mod store;
pub mod tokens;
pub mod ttl;

#[cfg(test)]
mod test_fixtures;
