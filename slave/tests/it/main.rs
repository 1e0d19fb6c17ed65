//! The slave's integration tests, in one test binary (one link instead of one per file):
//!
//! - [`agent_ops`]: the agent answering operation requests over a real encrypted session,
//!   on both monoio drivers, against a minimal master;
//! - [`docker_engine`]: the Docker operations against this machine's real Docker Engine
//!   (skipped with a message without one, a failure under `CI=true`);
//! - [`workloads`]: the workload supervisor running a replica on the real engine (same
//!   rule);
//!
//! and [`support`], the helpers of the real-engine tests.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod agent_ops;
mod docker_engine;
mod support;
mod workloads;
