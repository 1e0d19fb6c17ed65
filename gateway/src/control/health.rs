//! The controller's side of upstream health: one check task per upstream with active checks,
//! passive ejections reported by workers, timed re-admission when checks are off.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_channel::Receiver;

use super::{Controller, probe};
use crate::config::{Config, GatewayConfig, HealthConfig, ProxyProtocol};
use crate::health::{HealthTracker, Transition};
use crate::msg::FromWorker;

/// Period of the timed re-admission check.
const TICK: Duration = Duration::from_millis(100);

/// Health of one upstream of one gateway.
pub(crate) struct HealthEntry {
    pub tracker: Rc<RefCell<HealthTracker>>,
    pub stop: Rc<Cell<bool>>,
    settings: (HealthConfig, Option<ProxyProtocol>),
}

impl Controller {
    /// Each configured upstream's current verdict (new upstreams start up).
    pub(super) fn health_view(&self, g: &GatewayConfig) -> Vec<(SocketAddr, bool)> {
        let health = self.health.borrow();
        g.every_upstream()
            .iter()
            .map(|u| {
                let up = health
                    .get(&(g.name.clone(), u.addr))
                    .is_none_or(|h| h.tracker.borrow().is_up());
                (u.addr, up)
            })
            .collect()
    }

    /// Starts, restarts or stops check tasks to match `cfg`, keeping verdicts of upstreams
    /// that stay.
    pub(super) fn sync_health(self: &Rc<Self>, cfg: &Config) {
        let mut old = std::mem::take(&mut *self.health.borrow_mut());
        let mut next = HashMap::new();
        for g in &cfg.gateways {
            let settings = (g.health.clone(), g.proxy_protocol);
            for u in &g.every_upstream() {
                let key = (g.name.clone(), u.addr);
                let entry = match old.remove(&key) {
                    Some(e) if e.settings == settings => e,
                    Some(e) => {
                        e.stop.set(true);
                        e.tracker.borrow_mut().reconfigure(
                            g.health.rise,
                            g.health.fall,
                            g.health.enabled,
                            g.health.interval,
                        );
                        self.start_checks(g, u.addr, Rc::clone(&e.tracker))
                    }
                    None => {
                        let t = HealthTracker::new(
                            g.health.rise,
                            g.health.fall,
                            g.health.enabled,
                            g.health.interval,
                        );
                        self.start_checks(g, u.addr, Rc::new(RefCell::new(t)))
                    }
                };
                next.insert(key, entry);
            }
        }
        for e in old.values() {
            e.stop.set(true);
        }
        *self.health.borrow_mut() = next;
    }

    fn start_checks(
        self: &Rc<Self>,
        g: &GatewayConfig,
        addr: SocketAddr,
        tracker: Rc<RefCell<HealthTracker>>,
    ) -> HealthEntry {
        let stop = Rc::new(Cell::new(false));
        if g.health.enabled {
            monoio::spawn(check_loop(
                Rc::clone(self),
                g.name.clone(),
                addr,
                (g.health.clone(), g.proxy_protocol),
                Rc::clone(&tracker),
                Rc::clone(&stop),
            ));
        }
        HealthEntry {
            tracker,
            stop,
            settings: (g.health.clone(), g.proxy_protocol),
        }
    }

    fn on_transition(&self, gateway: &str, addr: SocketAddr, t: Transition, why: &str) {
        let up = t == Transition::Up;
        if up {
            tracing::info!("gateway {gateway}: upstream {addr} is up ({why})");
        } else {
            tracing::warn!("gateway {gateway}: upstream {addr} is down ({why})");
        }
        self.broadcast_health(gateway, addr, up);
    }
}

async fn check_loop(
    ctl: Rc<Controller>,
    gateway: String,
    addr: SocketAddr,
    settings: (HealthConfig, Option<ProxyProtocol>),
    tracker: Rc<RefCell<HealthTracker>>,
    stop: Rc<Cell<bool>>,
) {
    let (cfg, pp) = settings;
    while !stop.get() {
        let ok = probe::probe(addr, &cfg, pp).await;
        if stop.get() {
            break;
        }
        let t = tracker.borrow_mut().on_check(ok, Instant::now());
        if let Some(t) = t {
            ctl.on_transition(&gateway, addr, t, "active check");
        }
        monoio::time::sleep(cfg.interval).await;
    }
}

/// Passive ejections from workers become cluster-wide.
pub(super) async fn events_loop(ctl: Rc<Controller>, events: Receiver<FromWorker>) {
    while let Ok(FromWorker::PassiveDown { gateway, addr }) = events.recv().await {
        let tracker = ctl
            .health
            .borrow()
            .get(&(gateway.clone(), addr))
            .map(|h| Rc::clone(&h.tracker));
        let t = tracker.and_then(|t| t.borrow_mut().on_passive_ejection(Instant::now()));
        match t {
            Some(t) => ctl.on_transition(&gateway, addr, t, "failed connects"),
            // Already down here: make sure every worker agrees.
            None => ctl.broadcast_health(&gateway, addr, false),
        }
    }
}

/// Re-admits passively ejected upstreams of gateways without active checks.
pub(super) async fn ticker(ctl: Rc<Controller>) {
    while !ctl.stopped.get() {
        monoio::time::sleep(TICK).await;
        let now = Instant::now();
        let mut changes = Vec::new();
        for ((g, a), h) in ctl.health.borrow().iter() {
            if let Some(t) = h.tracker.borrow_mut().poll(now) {
                changes.push((g.clone(), *a, t));
            }
        }
        for (g, a, t) in changes {
            ctl.on_transition(&g, a, t, "ejection cool-down over");
        }
    }
}
