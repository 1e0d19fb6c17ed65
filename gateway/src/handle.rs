//! Starting the gateway and the control API used by the slave and the standalone binary.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_channel::Sender;

use crate::config::Config;
use crate::control::{self, ApplyReport, ToController};
use crate::error::GatewayError;
use crate::runtime::{self, DriverKind};
use crate::stats::Stats;
use crate::worker::{self, WorkerSpec};

/// A running gateway: worker threads plus a controller thread. Cloning gives another handle
/// to the same gateway; the threads stop on [`GatewayHandle::shutdown`] or when the last
/// handle is dropped (without draining).
#[derive(Clone)]
pub struct GatewayHandle {
    inner: Arc<Inner>,
}

struct Inner {
    control: Sender<ToController>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    driver: DriverKind,
    workers: usize,
}

/// Starts the worker threads and the controller, then applies `config`.
pub fn start(config: Config) -> Result<GatewayHandle, GatewayError> {
    let want = runtime::preferred_driver(config.io_uring);
    let n = config.workers.max(1);
    let cpus = crate::config::default_workers();
    let (events_tx, events_rx) = async_channel::unbounded();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let mut threads = Vec::with_capacity(n + 1);
    let mut senders = Vec::with_capacity(n);
    for id in 0..n {
        let (tx, rx) = async_channel::unbounded();
        senders.push(tx);
        let spec = WorkerSpec {
            id,
            driver: want,
            pin_cpu: config.pin_cpus.then_some(id % cpus.max(1)),
            control: rx,
            events: events_tx.clone(),
        };
        let ready = ready_tx.clone();
        let t = std::thread::Builder::new()
            .name(format!("gw-worker-{id}"))
            .spawn(move || worker::run(spec, ready))
            .map_err(GatewayError::Spawn)?;
        threads.push(t);
    }
    drop(ready_tx);
    let driver = collect_ready(&ready_rx, n)?;
    tracing::info!("gateway data plane: {n} workers on the {driver} driver");
    let (ctl_tx, ctl_rx) = async_channel::unbounded();
    let t = std::thread::Builder::new()
        .name("gw-control".into())
        .spawn(move || control::run(driver, senders, events_rx, ctl_rx))
        .map_err(GatewayError::Spawn)?;
    threads.push(t);
    let handle = GatewayHandle {
        inner: Arc::new(Inner {
            control: ctl_tx,
            threads: Mutex::new(threads),
            driver,
            workers: n,
        }),
    };
    handle.apply_blocking(config)?;
    Ok(handle)
}

fn collect_ready(
    rx: &std::sync::mpsc::Receiver<std::io::Result<DriverKind>>,
    n: usize,
) -> Result<DriverKind, GatewayError> {
    let mut driver = None;
    for _ in 0..n {
        match rx.recv() {
            Ok(Ok(d)) => {
                driver.get_or_insert(d);
            }
            Ok(Err(e)) => return Err(GatewayError::Spawn(e)),
            Err(_) => return Err(GatewayError::Stopped),
        }
    }
    driver.ok_or(GatewayError::Stopped)
}

impl GatewayHandle {
    /// Applies a new configuration to every worker: new listeners are bound and staged in
    /// all workers first (precommit); only when every worker has staged it do they all
    /// switch (commit). Established connections are untouched; removed upstreams and
    /// gateways drain for their `drain_timeout`.
    pub async fn apply(&self, config: Config) -> Result<ApplyReport, GatewayError> {
        let (tx, rx) = async_channel::bounded(1);
        let msg = ToController::Apply {
            cfg: Box::new(config),
            reply: tx,
        };
        self.inner
            .control
            .send(msg)
            .await
            .map_err(|_| GatewayError::Stopped)?;
        rx.recv().await.map_err(|_| GatewayError::Stopped)?
    }

    /// [`GatewayHandle::apply`] for plain threads (do not call it inside an async runtime).
    pub fn apply_blocking(&self, config: Config) -> Result<ApplyReport, GatewayError> {
        futures_lite::future::block_on(self.apply(config))
    }

    /// Counters of every gateway and upstream, merged over the workers.
    pub async fn stats(&self) -> Result<Stats, GatewayError> {
        let (tx, rx) = async_channel::bounded(1);
        self.inner
            .control
            .send(ToController::Stats { reply: tx })
            .await
            .map_err(|_| GatewayError::Stopped)?;
        rx.recv().await.map_err(|_| GatewayError::Stopped)
    }

    /// [`GatewayHandle::stats`] for plain threads.
    pub fn stats_blocking(&self) -> Result<Stats, GatewayError> {
        futures_lite::future::block_on(self.stats())
    }

    /// The driver the workers run on.
    pub fn driver(&self) -> DriverKind {
        self.inner.driver
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Stops accepting, lets established connections finish for up to `drain`, then closes
    /// them and joins every thread. Blocking; idempotent.
    pub fn shutdown(&self, drain: Duration) {
        self.inner.shutdown(drain);
    }
}

impl Inner {
    fn shutdown(&self, drain: Duration) {
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        if threads.is_empty() {
            return;
        }
        let (tx, rx) = async_channel::bounded(1);
        if self
            .control
            .send_blocking(ToController::Shutdown { drain, reply: tx })
            .is_ok()
        {
            let _ = rx.recv_blocking();
        }
        self.control.close();
        for t in threads {
            if t.join().is_err() {
                tracing::error!("a gateway thread panicked");
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown(Duration::ZERO);
    }
}
