//! The workload supervisor: runs the project replicas and gateways the master assigns to
//! this slave ([`protocol::workload`], protocol version 4) and reports what it runs.
//!
//! * [`store`]: the last desired state on disk, re-applied after a restart;
//! * [`replica`]: the sans-io replica reconciler (desired replicas + listed containers →
//!   actions + observed replicas) and the container form of a replica;
//! * [`driver`]: carries those actions out through a [`crate::docker::ContainerRuntime`];
//! * [`health`]: the per-replica health state machine and the TCP/HTTP probes;
//! * [`gateways`]: the gateways, hosted with the `gateway` crate;
//! * [`manager`]: the task tying them together, fed by the agent.

pub mod driver;
pub mod gateways;
pub mod health;
pub mod manager;
pub mod replica;
pub mod store;

pub use manager::{ManagerSettings, WorkloadManager};

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
