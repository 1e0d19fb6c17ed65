//! The controller thread: applies configurations to every worker in two phases (precommit,
//! then commit), runs the active health checks, turns passive ejections reported by workers
//! into cluster-wide health changes, and merges per-worker counters into [`Stats`].

mod bind;
mod health;
mod probe;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use async_channel::{Receiver, Sender};
use serde::Serialize;

use crate::config::{Config, GatewayConfig};
use crate::error::GatewayError;
use crate::limit::Limits;
use crate::msg::{FromWorker, PreparedGateway, Reply, ToWorker};
use crate::runtime::DriverKind;
use crate::stats::{GatewayStats, Stats};
use health::HealthEntry;

/// How long a worker may take to answer a control message.
const WORKER_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Each worker's staged gateways and the limits they share.
type Plan = (
    Vec<Vec<PreparedGateway>>,
    HashMap<String, Arc<Limits>>,
    HashMap<String, SocketAddr>,
);

/// What changed in an apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Gateways that did not exist before.
    pub added: Vec<String>,
    /// Gateways that are gone (their connections drain).
    pub removed: Vec<String>,
    /// Gateways whose settings or upstreams changed.
    pub changed: Vec<String>,
    /// Settings that only take effect on restart and were left as they were.
    pub warnings: Vec<String>,
}

/// Handle to controller messages.
pub(crate) enum ToController {
    Apply {
        cfg: Box<Config>,
        reply: Reply<Result<ApplyReport, GatewayError>>,
    },
    Stats {
        reply: Reply<Stats>,
    },
    Shutdown {
        drain: Duration,
        reply: Reply<()>,
    },
}

pub(crate) struct Controller {
    driver: DriverKind,
    workers: Vec<Sender<ToWorker>>,
    current: RefCell<Option<Config>>,
    limits: RefCell<HashMap<String, Arc<Limits>>>,
    /// Where each gateway is really bound (differs from the configuration for port 0).
    bound: RefCell<HashMap<String, SocketAddr>>,
    health: RefCell<HashMap<(String, SocketAddr), HealthEntry>>,
    epoch: Cell<u64>,
    stopped: Cell<bool>,
}

/// Runs the controller on the current thread until shutdown.
pub(crate) fn run(
    driver: DriverKind,
    workers: Vec<Sender<ToWorker>>,
    events: Receiver<FromWorker>,
    control: Receiver<ToController>,
) {
    let mut rt = match crate::runtime::build(driver) {
        Ok((rt, _)) => rt,
        Err(e) => {
            tracing::error!("gateway controller cannot start a runtime: {e}");
            return;
        }
    };
    let ctl = Rc::new(Controller {
        driver,
        workers,
        current: RefCell::new(None),
        limits: RefCell::new(HashMap::new()),
        bound: RefCell::new(HashMap::new()),
        health: RefCell::new(HashMap::new()),
        epoch: Cell::new(0),
        stopped: Cell::new(false),
    });
    rt.block_on(ctl.main(control, events));
}

impl Controller {
    async fn main(self: Rc<Self>, control: Receiver<ToController>, events: Receiver<FromWorker>) {
        monoio::spawn(health::events_loop(Rc::clone(&self), events));
        monoio::spawn(health::ticker(Rc::clone(&self)));
        let mut done = None;
        while let Ok(msg) = control.recv().await {
            match msg {
                ToController::Apply { cfg, reply } => {
                    let r = self.apply(*cfg).await;
                    let _ = reply.try_send(r);
                }
                ToController::Stats { reply } => {
                    let s = self.stats().await;
                    let _ = reply.try_send(s);
                }
                ToController::Shutdown { drain, reply } => {
                    self.shutdown(drain).await;
                    done = Some(reply);
                    break;
                }
            }
        }
        if done.is_none() {
            self.shutdown(Duration::ZERO).await;
        }
        for _ in 0..3 {
            monoio::time::sleep(Duration::from_millis(2)).await;
        }
        if let Some(r) = done {
            let _ = r.try_send(());
        }
    }

    fn next_epoch(&self) -> u64 {
        self.epoch.set(self.epoch.get() + 1);
        self.epoch.get()
    }

    async fn apply(self: &Rc<Self>, new: Config) -> Result<ApplyReport, GatewayError> {
        if self.stopped.get() {
            return Err(GatewayError::Stopped);
        }
        let old = self.current.borrow().clone();
        let mut report = ApplyReport::default();
        if let Some(old) = &old {
            restart_only_warnings(old, &new, &mut report);
        }
        let (plans, limits, new_bound) = self.plan(old.as_ref(), &new, &mut report)?;
        let removed = report.removed.clone();
        let epoch = self.next_epoch();
        self.precommit(epoch, plans, &removed).await?;
        self.commit(epoch).await?;
        *self.limits.borrow_mut() = limits;
        let mut bound = self.bound.borrow_mut();
        bound.retain(|name, _| new.gateway(name).is_some());
        bound.extend(new_bound);
        drop(bound);
        self.sync_health(&new);
        *self.current.borrow_mut() = Some(new);
        Ok(report)
    }

    /// Builds each worker's staged gateways, binding new listeners (errors here change
    /// nothing: the sockets are dropped).
    fn plan(
        &self,
        old: Option<&Config>,
        new: &Config,
        report: &mut ApplyReport,
    ) -> Result<Plan, GatewayError> {
        let n = self.workers.len();
        let mut plans: Vec<Vec<PreparedGateway>> = (0..n).map(|_| Vec::new()).collect();
        let mut limits = HashMap::new();
        let mut new_bound = HashMap::new();
        for g in &new.gateways {
            let before = old.and_then(|o| o.gateway(&g.name));
            match before {
                None => report.added.push(g.name.clone()),
                Some(b) if b != g => report.changed.push(g.name.clone()),
                Some(_) => {}
            }
            let mut listeners = if before.is_some() && self.same_listen(g) {
                None
            } else {
                let bound = bind::reuseport_listeners(g.listen, n).map_err(|source| {
                    GatewayError::Bind {
                        gateway: g.name.clone(),
                        addr: g.listen,
                        source,
                    }
                })?;
                new_bound.insert(g.name.clone(), bound.1);
                Some(bound)
            };
            let lim = self.limits_for(g);
            limits.insert(g.name.clone(), Arc::clone(&lim));
            let cfg = Arc::new(g.clone());
            let health = self.health_view(g);
            for plan in &mut plans {
                plan.push(PreparedGateway {
                    cfg: Arc::clone(&cfg),
                    limits: Arc::clone(&lim),
                    listener: listeners.as_mut().and_then(|(ls, _)| ls.pop()),
                    health: health.clone(),
                });
            }
        }
        if let Some(old) = old {
            report.removed = old
                .gateways
                .iter()
                .filter(|g| new.gateway(&g.name).is_none())
                .map(|g| g.name.clone())
                .collect();
        }
        Ok((plans, limits, new_bound))
    }

    /// True when `g` asks for the address its gateway is already bound to (the same
    /// configured address, or the port a `:0` address was given).
    fn same_listen(&self, g: &GatewayConfig) -> bool {
        let old = self.current.borrow();
        let configured = old
            .as_ref()
            .and_then(|o| o.gateway(&g.name))
            .map(|o| o.listen);
        configured == Some(g.listen) || self.bound.borrow().get(&g.name) == Some(&g.listen)
    }

    fn limits_for(&self, g: &GatewayConfig) -> Arc<Limits> {
        match self.limits.borrow().get(&g.name) {
            Some(l) if l.same_settings(&g.per_ip, g.max_conns) => Arc::clone(l),
            _ => Arc::new(Limits::new(g.per_ip, g.max_conns)),
        }
    }

    async fn precommit(
        &self,
        epoch: u64,
        plans: Vec<Vec<PreparedGateway>>,
        removed: &[String],
    ) -> Result<(), GatewayError> {
        let mut answers = Vec::new();
        for (w, gateways) in self.workers.iter().zip(plans) {
            let (tx, rx) = async_channel::bounded(1);
            let msg = ToWorker::Prepare {
                epoch,
                gateways,
                removed: removed.to_vec(),
                reply: tx,
            };
            w.send(msg).await.map_err(|_| GatewayError::Stopped)?;
            answers.push(rx);
        }
        let mut failure = None;
        for rx in answers {
            match answer(&rx).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failure = Some(e),
                Err(e) => failure = Some(e),
            }
        }
        if let Some(e) = failure {
            for w in &self.workers {
                let _ = w.try_send(ToWorker::Abort { epoch });
            }
            return Err(e);
        }
        Ok(())
    }

    async fn commit(&self, epoch: u64) -> Result<(), GatewayError> {
        let mut acks = Vec::new();
        for w in &self.workers {
            let (tx, rx) = async_channel::bounded(1);
            w.send(ToWorker::Commit { epoch, reply: tx })
                .await
                .map_err(|_| GatewayError::Stopped)?;
            acks.push(rx);
        }
        for rx in acks {
            answer(&rx).await?;
        }
        Ok(())
    }

    async fn stats(&self) -> Stats {
        let mut asks = Vec::new();
        for w in &self.workers {
            let (tx, rx) = async_channel::bounded(1);
            if w.send(ToWorker::Snapshot { reply: tx }).await.is_ok() {
                asks.push(rx);
            }
        }
        let mut merged: HashMap<String, GatewayStats> = HashMap::new();
        for rx in asks {
            for g in answer(&rx).await.unwrap_or_default() {
                match merged.get_mut(&g.name) {
                    Some(m) => m.absorb(&g),
                    None => {
                        merged.insert(g.name.clone(), g);
                    }
                }
            }
        }
        let mut out = Stats {
            driver: self.driver.to_string(),
            workers: self.workers.len(),
            gateways: Vec::new(),
        };
        let current = self.current.borrow();
        for g in current.iter().flat_map(|c| c.gateways.iter()) {
            if let Some(mut s) = merged.remove(&g.name) {
                self.annotate(g, &mut s);
                out.gateways.push(s);
            }
        }
        out
    }

    /// Puts upstreams in configuration order (draining ones last) with the controller's
    /// health verdicts.
    fn annotate(&self, g: &GatewayConfig, s: &mut GatewayStats) {
        let health = self.health.borrow();
        let mut ordered = Vec::with_capacity(s.upstreams.len());
        for u in &g.every_upstream() {
            let addr = u.addr.to_string();
            if let Some(pos) = s.upstreams.iter().position(|x| x.addr == addr) {
                let mut x = s.upstreams.swap_remove(pos);
                let up = health
                    .get(&(g.name.clone(), u.addr))
                    .is_none_or(|h| h.tracker.borrow().is_up());
                x.health = if up { "up" } else { "down" }.to_string();
                x.weight = u.weight;
                ordered.push(x);
            }
        }
        for mut x in s.upstreams.drain(..) {
            x.health = "draining".to_string();
            x.weight = 0;
            ordered.push(x);
        }
        s.upstreams = ordered;
    }

    async fn shutdown(&self, drain: Duration) {
        if self.stopped.replace(true) {
            return;
        }
        for h in self.health.borrow().values() {
            h.stop.set(true);
        }
        let mut acks = Vec::new();
        for w in &self.workers {
            let (tx, rx) = async_channel::bounded(1);
            if w.send(ToWorker::Shutdown { drain, reply: tx })
                .await
                .is_ok()
            {
                acks.push(rx);
            }
        }
        for rx in acks {
            let _ = rx.recv().await;
        }
    }

    fn broadcast_health(&self, gateway: &str, addr: SocketAddr, up: bool) {
        for w in &self.workers {
            let _ = w.try_send(ToWorker::Health {
                gateway: gateway.to_string(),
                addr,
                up,
            });
        }
    }
}

async fn answer<T>(rx: &Receiver<T>) -> Result<T, GatewayError> {
    match monoio::time::timeout(WORKER_ANSWER_TIMEOUT, rx.recv()).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(GatewayError::Stopped),
        Err(_) => Err(GatewayError::Timeout),
    }
}

fn restart_only_warnings(old: &Config, new: &Config, report: &mut ApplyReport) {
    let mut warn = |key: &str, changed: bool| {
        if changed {
            report
                .warnings
                .push(format!("`{key}` changed; it takes effect on restart"));
        }
    };
    warn("workers", old.workers != new.workers);
    warn("pin_cpus", old.pin_cpus != new.pin_cpus);
    warn("io_uring", old.io_uring != new.io_uring);
    warn("admin", old.admin != new.admin);
}
