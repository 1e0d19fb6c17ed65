//! Commander's L4 gateway: a thread-per-core TCP proxy on monoio.
//!
//! - [`start`] runs `workers` threads, each with its own monoio runtime (io_uring, or the
//!   legacy epoll driver as a fallback, see [`runtime`]) and its own SO_REUSEPORT listener
//!   per gateway; a controller thread applies configurations, runs health checks and
//!   merges statistics.
//! - The relay ([`relay`]) copies small messages through 64 KiB buffers and splices bulk
//!   data through a pipe that grows to 1 MiB, calling `splice(2)` inline on non-blocking
//!   sockets, switching each direction between the two as its reads fill the buffer or get
//!   small (`relay: auto`, the default); `copy` and `splice` force one strategy. Half-closes
//!   are forwarded.
//! - Balancing ([`balance`]), health ([`health`]), admission limits ([`limit`]), CIDR lists
//!   ([`cidr`]) and PROXY protocol headers ([`proxy_protocol`]) are sans-io cores.
//! - A gateway with `sni` groups reads each connection's TLS ClientHello ([`sni`], a sans-io
//!   reader with size and time limits) and routes it by server name without terminating TLS.
//! - [`GatewayHandle::apply`] reconfigures live: new listeners are staged on every worker
//!   (precommit) before all switch (commit); established connections are untouched.
//! - Connection failures are typed ([`ConnError`]): which side failed ([`Side`]: client,
//!   upstream or the gateway itself) and whether another upstream may be tried; the
//!   statistics count them by [`Cause`] (see [`failure`]).
//! - [`admin`] serves `/stats` (JSON), `/metrics` (Prometheus) and `POST /reload`.
//!
//! Configuration comes from YAML ([`Config::from_yaml`]); see [`config`] for every key.

pub mod admin;
pub mod balance;
pub mod cidr;
pub mod config;
mod control;
mod error;
pub mod failure;
mod handle;
pub mod health;
pub mod limit;
mod msg;
pub mod proxy_protocol;
pub mod relay;
pub mod runtime;
pub mod sni;
mod splice_sys;
pub mod stats;
mod worker;

pub use config::{Config, GatewayConfig};
pub use control::ApplyReport;
pub use error::GatewayError;
pub use failure::{Cause, ConnError, Side};
pub use handle::{GatewayHandle, start};
pub use runtime::DriverKind;
pub use stats::Stats;
