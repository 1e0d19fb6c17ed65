//! The gateway's integration tests, in one test binary (one link instead of one per file),
//! a module per concern:
//!
//! - [`relay`]: echo on both drivers and every relay strategy, bulk data, half-close;
//! - [`balance`]: round robin, weights, least connections, consistent hashing;
//! - [`health`]: active checks, passive ejection, connect timeouts retried;
//! - [`protect`]: allow/deny lists, rate and concurrency limits, idle timeout;
//! - [`proxy_protocol`]: PROXY v1/v2 headers towards upstreams;
//! - [`reload`]: live reconfiguration under traffic;
//! - [`binary`]: the standalone `commander-gateway` process;
//! - [`fd_leak`]: no descriptor left behind (measured in a process of its own);
//! - [`admin`]: the admin endpoint's token, cross-site refusals and concurrent clients;
//! - [`sni`]: TLS passthrough routed by the ClientHello's server name, on both drivers;
//!
//! and [`common`], the helpers they share (loopback backends, a gateway from YAML, waits).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

mod admin;
mod balance;
mod fd_leak;
mod health;
mod protect;
mod proxy_protocol;
mod relay;
mod reload;
mod sni;
