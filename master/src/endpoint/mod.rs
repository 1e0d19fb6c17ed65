//! The master's protocol endpoint: accepts slave connections on one SO_REUSEPORT listener per
//! core and drives each through the sans-io [`protocol::Session`].
//!
//! It runs on glommio (io_uring, one executor per core) when the kernel allows io_uring, and
//! otherwise on the portable runtime (one single-threaded tokio runtime per core), logging
//! which. `ioUring: off` in the configuration (or `COMMANDER_DISABLE_IO_URING=1`, applied
//! when the configuration is loaded) forces the portable runtime, which is how tests keep
//! the fallback alive. Decoded messages leave through a
//! channel of [`ControlEvent`]s; the endpoint never touches the store.
//!
//! Anyone can complete the Noise handshake, so a connection counts as unauthenticated until
//! the control side accepts its `Hello`. Until then it is bounded: admitted only under the
//! caps and outside the descriptor reserve ([`admission`]), limited to small messages
//! (`protocol::session::PRE_AUTH_MESSAGE_LEN`) and to [`ConnLimits::handshake_timeout`].

pub mod admission;
pub mod close;
pub mod conn;
pub mod counters;
pub mod events;
mod glommio_rt;
pub mod log_gate;
pub mod nofile;
mod portable_rt;
mod workers;

pub use admission::{Admission, DescriptorBudget};
pub use close::{CloseCause, EstablishFailure, SessionEnd, Side};
pub use conn::{ConnLimits, DEFAULT_HANDSHAKE_TIMEOUT, OUTBOUND_QUEUE};
pub use counters::EndpointCounters;
pub use events::{AuthVerdict, ConnHandle, ConnId, ControlEvent, Outbound};

use conn::ConnContext;
use protocol::StaticKeys;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use thiserror::Error;

/// Events queued between the endpoint and the control side before connections wait.
pub const EVENT_QUEUE: usize = 16_384;

/// The endpoint could not start.
#[derive(Debug, Error)]
pub enum EndpointError {
    /// The address could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, #[source] std::io::Error),
    /// The runtime could not start.
    #[error("protocol runtime failed: {0}")]
    Runtime(String),
    /// io_uring was required but is unavailable.
    #[error("io_uring is required (ioUring: on) but unavailable on this host")]
    IoUringUnavailable,
}

/// Which runtime serves the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// glommio on io_uring.
    IoUring,
    /// tokio on epoll.
    Portable,
}

impl std::fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::IoUring => "io_uring (glommio)",
            Self::Portable => "portable (tokio, epoll)",
        })
    }
}

/// How the endpoint starts.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Where to listen (port 0 picks a free port).
    pub bind: SocketAddr,
    /// Executors (one listener each).
    pub cores: usize,
    /// `None`: io_uring when available; `Some(true)`: require it; `Some(false)`: never.
    pub io_uring: Option<bool>,
    /// Limits of connections.
    pub limits: ConnLimits,
}

/// A running endpoint.
pub struct EndpointHandle {
    /// The bound address.
    pub local_addr: SocketAddr,
    /// The runtime in use.
    pub runtime: RuntimeKind,
    /// Counters.
    pub counters: Arc<EndpointCounters>,
    /// Unauthenticated connections, counted against their caps.
    pub admission: Arc<Admission>,
    /// Descriptor numbers the endpoint keeps (set from the soft limit at start).
    pub descriptors: DescriptorBudget,
    stop: async_channel::Sender<()>,
    joiners: Vec<Box<dyn FnOnce() + Send>>,
}

impl std::fmt::Debug for EndpointHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointHandle")
            .field("local_addr", &self.local_addr)
            .field("runtime", &self.runtime)
            .finish_non_exhaustive()
    }
}

impl EndpointHandle {
    /// Stops accepting, ends every executor and waits for them.
    pub fn shutdown(self) {
        self.stop.close();
        for join in self.joiners {
            join();
        }
    }
}

/// Starts the endpoint; events go to `events`. The descriptor reserve is placed below the
/// soft descriptor limit in force now (see [`nofile::raise_soft_limit`]).
pub fn start(
    config: &EndpointConfig,
    keys: Arc<StaticKeys>,
    events: async_channel::Sender<ControlEvent>,
) -> Result<EndpointHandle, EndpointError> {
    let counters = Arc::new(EndpointCounters::default());
    let limits = config.limits;
    let admission = Arc::new(Admission::new(
        limits.max_unauthenticated,
        limits.max_unauthenticated_per_address,
    ));
    let soft_limit = nofile::soft_limit();
    let descriptors = DescriptorBudget::new(soft_limit, limits.descriptor_reserve);
    if descriptors.ceiling() < 64 {
        tracing::warn!(
            soft_limit,
            reserve = limits.descriptor_reserve,
            "the descriptor limit leaves the protocol endpoint fewer than 64 descriptors"
        );
    }
    let ctx = ConnContext {
        keys,
        events,
        counters: Arc::clone(&counters),
        limits,
        admission: Arc::clone(&admission),
        descriptors,
    };
    let ids = Arc::new(AtomicU64::new(1));
    let uring_ok = config.io_uring != Some(false) && monoio::utils::detect_uring();
    if config.io_uring == Some(true) && !uring_ok {
        return Err(EndpointError::IoUringUnavailable);
    }
    if uring_ok {
        match glommio_rt::start(config.cores, config.bind, ctx.clone(), Arc::clone(&ids)) {
            Ok(s) => {
                tracing::info!(local_addr = %s.local_addr, cores = config.cores, "protocol endpoint on io_uring (glommio)");
                return Ok(EndpointHandle {
                    local_addr: s.local_addr,
                    runtime: RuntimeKind::IoUring,
                    counters,
                    admission,
                    descriptors,
                    stop: s.stop,
                    joiners: s.joiners,
                });
            }
            Err(EndpointError::Bind(a, e)) => return Err(EndpointError::Bind(a, e)),
            Err(e) if config.io_uring == Some(true) => return Err(e),
            Err(e) => tracing::warn!("glommio failed ({e}); falling back to the portable runtime"),
        }
    }
    let s = portable_rt::start(config.cores, config.bind, ctx, ids)?;
    tracing::info!(local_addr = %s.local_addr, cores = config.cores, "protocol endpoint on the portable runtime (tokio, epoll)");
    Ok(EndpointHandle {
        local_addr: s.local_addr,
        runtime: RuntimeKind::Portable,
        counters,
        admission,
        descriptors,
        stop: s.stop,
        joiners: s.joiners,
    })
}

#[cfg(test)]
mod tests;
