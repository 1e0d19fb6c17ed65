//! A worker thread: one monoio runtime, one SO_REUSEPORT listener per gateway, the accept
//! loops, the connections, a sweeper for idle and drain timeouts, and the control channel
//! through which the controller stages, commits and inspects configurations.

mod conn;
mod state;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};

use crate::error::GatewayError;
use crate::msg::{FromWorker, PreparedGateway, ToWorker};
use crate::relay::PipePool;
use crate::runtime::{self, DriverKind};
use conn::{ConnEntry, KillReason};
use state::{GatewayRt, ListenerCtl, route_from};

/// Sweeper period bounds (idle timeouts are checked at `idle_timeout / 8` within these).
const SWEEP_MIN: Duration = Duration::from_millis(10);
const SWEEP_MAX: Duration = Duration::from_millis(250);
/// How often worker 0 forgets idle per-address limit entries.
const LIMITS_SWEEP_EVERY: Duration = Duration::from_secs(10);

/// What a worker thread needs at start.
pub(crate) struct WorkerSpec {
    pub id: usize,
    pub driver: DriverKind,
    pub pin_cpu: Option<usize>,
    pub control: Receiver<ToWorker>,
    pub events: Sender<FromWorker>,
}

struct Staged {
    cfg: std::sync::Arc<crate::config::GatewayConfig>,
    limits: std::sync::Arc<crate::limit::Limits>,
    listener: Option<(monoio::net::TcpListener, ListenerCtl)>,
    health: Vec<(std::net::SocketAddr, bool)>,
}

struct Pending {
    epoch: u64,
    staged: Vec<Staged>,
    removed: Vec<String>,
}

/// The state of one worker thread.
pub(crate) struct Worker {
    id: usize,
    driver: DriverKind,
    gateways: RefCell<HashMap<String, Rc<GatewayRt>>>,
    retired: RefCell<Vec<Rc<GatewayRt>>>,
    pending: RefCell<Option<Pending>>,
    conns: RefCell<HashMap<u64, ConnEntry>>,
    next_id: Cell<u64>,
    live_listeners: Cell<usize>,
    pipes: Rc<PipePool>,
    events: Sender<FromWorker>,
    shutdown_at: Cell<Option<Instant>>,
    stopping: Cell<bool>,
    last_limits_sweep: Cell<Instant>,
}

/// Runs a worker on the current thread until it is told to shut down; `ready` gets the
/// driver in use (or the error that prevented start).
pub(crate) fn run(spec: WorkerSpec, ready: std::sync::mpsc::Sender<std::io::Result<DriverKind>>) {
    if let Some(cpu) = spec.pin_cpu {
        match monoio::utils::bind_to_cpu_set([cpu]) {
            Ok(()) => tracing::debug!("worker {} pinned to CPU {cpu}", spec.id),
            Err(e) => tracing::warn!("worker {}: cannot pin to CPU {cpu}: {e:?}", spec.id),
        }
    }
    let (mut rt, driver) = match runtime::build(spec.driver) {
        Ok(x) => x,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    tracing::info!("gateway worker {} running on the {driver} driver", spec.id);
    let _ = ready.send(Ok(driver));
    let w = Rc::new(Worker {
        id: spec.id,
        driver,
        gateways: RefCell::new(HashMap::new()),
        retired: RefCell::new(Vec::new()),
        pending: RefCell::new(None),
        conns: RefCell::new(HashMap::new()),
        next_id: Cell::new(0),
        live_listeners: Cell::new(0),
        pipes: Rc::new(PipePool::default()),
        events: spec.events,
        shutdown_at: Cell::new(None),
        stopping: Cell::new(false),
        last_limits_sweep: Cell::new(Instant::now()),
    });
    rt.block_on(w.main(spec.control));
}

impl Worker {
    async fn main(self: Rc<Self>, control: Receiver<ToWorker>) {
        monoio::spawn(sweeper(Rc::clone(&self)));
        let mut drain = Duration::ZERO;
        let mut reply = None;
        while let Ok(msg) = control.recv().await {
            if let ToWorker::Shutdown { drain: d, reply: r } = msg {
                drain = d;
                reply = Some(r);
                break;
            }
            self.handle(msg);
        }
        self.shut_down(drain).await;
        if let Some(r) = reply {
            let _ = r.send(()).await;
        }
    }

    fn handle(self: &Rc<Self>, msg: ToWorker) {
        match msg {
            ToWorker::Prepare {
                epoch,
                gateways,
                removed,
                reply,
            } => {
                let res = self.prepare(epoch, gateways, removed);
                let _ = reply.try_send(res);
            }
            ToWorker::Commit { epoch, reply } => {
                self.commit(epoch);
                let _ = reply.try_send(());
            }
            ToWorker::Abort { epoch } => {
                let mut p = self.pending.borrow_mut();
                if p.as_ref().is_some_and(|p| p.epoch == epoch) {
                    *p = None;
                }
            }
            ToWorker::Health { gateway, addr, up } => self.set_health(&gateway, addr, up),
            ToWorker::Snapshot { reply } => {
                let gws = self
                    .gateways
                    .borrow()
                    .values()
                    .map(|g| g.snapshot())
                    .collect();
                let _ = reply.try_send(gws);
            }
            ToWorker::Shutdown { .. } => {}
        }
    }

    fn prepare(
        &self,
        epoch: u64,
        gateways: Vec<PreparedGateway>,
        removed: Vec<String>,
    ) -> Result<(), GatewayError> {
        let mut staged = Vec::with_capacity(gateways.len());
        for g in gateways {
            let listener = match g.listener {
                Some(std) => Some(self.adopt(std).map_err(|source| GatewayError::Prepare {
                    worker: self.id,
                    gateway: g.cfg.name.clone(),
                    source,
                })?),
                None => None,
            };
            staged.push(Staged {
                cfg: g.cfg,
                limits: g.limits,
                listener,
                health: g.health,
            });
        }
        *self.pending.borrow_mut() = Some(Pending {
            epoch,
            staged,
            removed,
        });
        Ok(())
    }

    /// Registers a listening socket with this thread's runtime.
    fn adopt(
        &self,
        std: std::net::TcpListener,
    ) -> std::io::Result<(monoio::net::TcpListener, ListenerCtl)> {
        std.set_nonblocking(self.driver == DriverKind::Legacy)?;
        let local = std.local_addr()?;
        let ctl = std.try_clone()?;
        let listener = monoio::net::TcpListener::from_std(std)?;
        let ctl = ListenerCtl {
            ctl,
            stop: Rc::new(Cell::new(false)),
            local,
        };
        Ok((listener, ctl))
    }

    fn commit(self: &Rc<Self>, epoch: u64) {
        let pending = match self.pending.borrow_mut().take() {
            Some(p) if p.epoch == epoch => p,
            other => {
                tracing::error!("worker {}: commit of unknown epoch {epoch}", self.id);
                drop(other);
                return;
            }
        };
        let now = Instant::now();
        for s in pending.staged {
            self.commit_gateway(s, now);
        }
        for name in pending.removed {
            let gw = self.gateways.borrow_mut().remove(&name);
            if let Some(gw) = gw {
                gw.stop_listener();
                let drain = gw.route.borrow().cfg.drain_timeout;
                gw.removed_deadline.set(Some(now + drain));
                self.retired.borrow_mut().push(gw);
            }
        }
    }

    fn commit_gateway(self: &Rc<Self>, s: Staged, now: Instant) {
        let existing = self.gateways.borrow().get(&s.cfg.name).cloned();
        let gw = match existing {
            Some(gw) => {
                let next = gw.next_route(s.cfg, s.limits, &s.health, now);
                *gw.route.borrow_mut() = Rc::new(next);
                gw
            }
            None => {
                let slots = s
                    .cfg
                    .every_upstream()
                    .iter()
                    .map(|u| {
                        let up = s.health.iter().find(|h| h.0 == u.addr).is_none_or(|h| h.1);
                        Rc::new(state::UpstreamSlot::new(u.addr, u.weight, up))
                    })
                    .collect();
                let name = s.cfg.name.clone();
                let gw = Rc::new(GatewayRt::new(&name, route_from(s.cfg, s.limits, slots)));
                self.gateways.borrow_mut().insert(name, Rc::clone(&gw));
                gw
            }
        };
        if let Some((listener, ctl)) = s.listener {
            gw.stop_listener();
            let stop = Rc::clone(&ctl.stop);
            *gw.listener.borrow_mut() = Some(ctl);
            monoio::spawn(conn::accept_loop(
                Rc::clone(self),
                Rc::clone(&gw),
                listener,
                stop,
            ));
        }
    }

    fn set_health(&self, gateway: &str, addr: std::net::SocketAddr, up: bool) {
        let gw = self.gateways.borrow().get(gateway).cloned();
        if let Some(slot) = gw.and_then(|g| g.slot(addr)) {
            slot.up.set(up);
            if up {
                slot.passive.set(Default::default());
            }
        }
    }

    fn register(&self, entry: ConnEntry) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1));
        self.conns.borrow_mut().insert(id, entry);
        id
    }

    fn deregister(&self, id: u64) {
        self.conns.borrow_mut().remove(&id);
    }

    /// Stops every listener, lets connections finish until `drain` runs out, then cuts them.
    async fn shut_down(&self, drain: Duration) {
        self.shutdown_at.set(Some(Instant::now() + drain));
        for gw in self.gateways.borrow().values() {
            gw.stop_listener();
        }
        while !self.conns.borrow().is_empty() || self.live_listeners.get() > 0 {
            monoio::time::sleep(SWEEP_MIN).await;
        }
        self.stopping.set(true);
        self.gateways.borrow_mut().clear();
        self.retired.borrow_mut().clear();
        self.pending.borrow_mut().take();
        self.pipes.clear();
        // Let the ring submit the close operations queued by the drops above.
        for _ in 0..3 {
            monoio::time::sleep(Duration::from_millis(2)).await;
        }
        tracing::debug!("worker {} stopped", self.id);
    }

    fn sweep_period(&self) -> Duration {
        let min_idle = self
            .gateways
            .borrow()
            .values()
            .map(|g| g.route.borrow().cfg.idle_timeout)
            .min()
            .unwrap_or(SWEEP_MAX);
        (min_idle / 8).clamp(SWEEP_MIN, SWEEP_MAX)
    }

    /// Fires kill switches for idle connections and for those past a drain deadline.
    fn sweep(&self, now: Instant) {
        let shutdown = self.shutdown_at.get();
        for e in self.conns.borrow_mut().values_mut() {
            let bytes = e.activity.get();
            let connected = e.slot.borrow().is_some();
            if bytes != e.last_bytes || !connected {
                e.last_bytes = bytes;
                e.last_change = now;
            } else if now.duration_since(e.last_change) >= e.idle_timeout {
                e.kill.fire(KillReason::Idle);
            }
            let slot_deadline = e
                .slot
                .borrow()
                .as_ref()
                .and_then(|s| s.drain_deadline.get());
            let past = |d: Option<Instant>| d.is_some_and(|d| now >= d);
            if past(slot_deadline) || past(e.gw.removed_deadline.get()) || past(shutdown) {
                e.kill.fire(KillReason::Drain);
            }
        }
        self.retired
            .borrow_mut()
            .retain(|g| g.counters.active.get() > 0);
        for gw in self.gateways.borrow().values() {
            gw.draining.borrow_mut().retain(|s| s.active.get() > 0);
        }
        if self.id == 0 && now.duration_since(self.last_limits_sweep.get()) >= LIMITS_SWEEP_EVERY {
            self.last_limits_sweep.set(now);
            for gw in self.gateways.borrow().values() {
                gw.route.borrow().limits.sweep(now);
            }
        }
    }
}

async fn sweeper(w: Rc<Worker>) {
    while !w.stopping.get() {
        monoio::time::sleep(w.sweep_period()).await;
        w.sweep(Instant::now());
    }
}
