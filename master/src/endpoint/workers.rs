//! The listener-per-core bootstrap both runtimes share: start one worker per core, the
//! first binding the configured address (possibly port 0) and every other one the address
//! it got, each reporting readiness before the next starts; a failure half-way stops the
//! workers already running.

use super::EndpointError;
use std::net::SocketAddr;
use std::sync::mpsc;

/// Waits for a worker to end; returns why it failed, if it did.
pub(crate) type Join = Box<dyn FnOnce() -> Option<String> + Send>;

/// One worker just spawned by a runtime.
pub(crate) struct Worker {
    /// Reports the address the worker listens on, or why it cannot listen.
    pub(crate) ready: mpsc::Receiver<Result<SocketAddr, EndpointError>>,
    /// Waits for the worker to end.
    pub(crate) join: Join,
}

/// Workers started by one runtime, stoppable together.
pub(crate) struct Started {
    /// The address every worker listens on.
    pub(crate) local_addr: SocketAddr,
    /// Closed to stop every worker.
    pub(crate) stop: async_channel::Sender<()>,
    /// Waits for each worker to end.
    pub(crate) joiners: Vec<Box<dyn FnOnce() + Send>>,
}

impl Started {
    /// Stops what already started and returns `err`, for a start that failed half-way.
    pub(crate) fn abort(self, err: EndpointError) -> EndpointError {
        self.stop.close();
        for join in self.joiners {
            join();
        }
        err
    }
}

/// Starts `cores` workers with `spawn(core, address)`, one after the other: the first is
/// given `addr`, the others the address the first bound. `stop` is the sender whose
/// closing ends every worker (each holds a receiver of it).
pub(crate) fn start_workers(
    cores: usize,
    addr: SocketAddr,
    stop: async_channel::Sender<()>,
    mut spawn: impl FnMut(usize, SocketAddr) -> Result<Worker, EndpointError>,
) -> Result<Started, EndpointError> {
    let mut started = Started {
        local_addr: addr,
        stop,
        joiners: Vec::new(),
    };
    let mut bound = addr;
    for core in 0..cores.max(1) {
        let worker = match spawn(core, bound) {
            Ok(w) => w,
            Err(e) => return Err(started.abort(e)),
        };
        match worker.ready.recv() {
            Ok(Ok(local)) => bound = local,
            Ok(Err(e)) => return Err(started.abort(e)),
            Err(_) => {
                let why = (worker.join)().unwrap_or_else(|| "worker exited early".into());
                return Err(started.abort(EndpointError::Runtime(why)));
            }
        }
        let join = worker.join;
        started.joiners.push(Box::new(move || {
            if let Some(e) = join() {
                tracing::warn!("protocol worker ended with {e}");
            }
        }));
    }
    started.local_addr = bound;
    Ok(started)
}
