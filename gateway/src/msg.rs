//! Messages between the controller and the workers (per-worker channels).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::GatewayConfig;
use crate::error::GatewayError;
use crate::limit::Limits;
use crate::stats::GatewayStats;

/// A reply slot (a bounded channel of one).
pub(crate) type Reply<T> = async_channel::Sender<T>;

/// One gateway as a worker must run it after the next commit.
pub(crate) struct PreparedGateway {
    /// The new configuration.
    pub cfg: Arc<GatewayConfig>,
    /// Limits shared by all workers.
    pub limits: Arc<Limits>,
    /// This worker's new SO_REUSEPORT listener, when the gateway is new or moved.
    pub listener: Option<std::net::TcpListener>,
    /// Health of each configured upstream (controller's view).
    pub health: Vec<(SocketAddr, bool)>,
}

/// Controller to worker.
pub(crate) enum ToWorker {
    /// Stage a configuration (bind listeners into this runtime); nothing changes yet.
    Prepare {
        epoch: u64,
        gateways: Vec<PreparedGateway>,
        removed: Vec<String>,
        reply: Reply<Result<(), GatewayError>>,
    },
    /// Switch to the staged configuration.
    Commit { epoch: u64, reply: Reply<()> },
    /// Drop the staged configuration.
    Abort { epoch: u64 },
    /// An upstream changed health.
    Health {
        gateway: String,
        addr: SocketAddr,
        up: bool,
    },
    /// Send this worker's counters.
    Snapshot { reply: Reply<Vec<GatewayStats>> },
    /// Stop accepting, give connections `drain` to finish, then exit.
    Shutdown { drain: Duration, reply: Reply<()> },
}

/// Worker to controller.
#[derive(Debug)]
pub(crate) enum FromWorker {
    /// `fall` consecutive connects to this upstream failed in one worker.
    PassiveDown { gateway: String, addr: SocketAddr },
}
