//! Errors of the gateway's control API.

use std::net::SocketAddr;

/// Why starting, reconfiguring or querying the gateway failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A listening socket could not be bound; nothing was changed.
    #[error("gateway {gateway}: cannot listen on {addr}: {source}")]
    Bind {
        /// Gateway name.
        gateway: String,
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// A worker could not stage the configuration (register a new listener with its
    /// runtime); nothing was changed.
    #[error("precommit failed: worker {worker}: gateway {gateway}: {source}")]
    Prepare {
        /// The worker thread's index.
        worker: usize,
        /// Gateway name.
        gateway: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A worker did not answer in time.
    #[error("a gateway thread did not answer in time")]
    Timeout,
    /// A thread could not be started.
    #[error("cannot start a gateway thread: {0}")]
    Spawn(std::io::Error),
    /// The gateway has been shut down.
    #[error("the gateway is stopped")]
    Stopped,
}
