//! A worker's view of its gateways: routes, upstream slots and counters. Single-threaded
//! (`Rc`, `Cell`): nothing here is shared with other threads.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use crate::balance::{Balancer, UpstreamView};
use crate::config::GatewayConfig;
use crate::failure::Cause;
use crate::health::PassiveCounter;
use crate::limit::{Limits, Refusal};
use crate::stats::{GatewayStats, UpstreamStats};

/// Adds to a counter cell.
pub(crate) fn bump(c: &Cell<u64>, n: u64) {
    c.set(c.get().wrapping_add(n));
}

/// Subtracts from a counter cell, never below zero.
pub(crate) fn drop_one(c: &Cell<u64>) {
    c.set(c.get().saturating_sub(1));
}

/// One upstream as seen by one worker.
pub(crate) struct UpstreamSlot {
    pub addr: SocketAddr,
    pub weight: Cell<u32>,
    pub up: Cell<bool>,
    pub draining: Cell<bool>,
    pub drain_deadline: Cell<Option<Instant>>,
    pub active: Cell<u64>,
    pub total: Cell<u64>,
    pub failures: Cell<u64>,
    pub bytes_up: Cell<u64>,
    pub bytes_down: Cell<u64>,
    pub passive: Cell<PassiveCounter>,
}

impl UpstreamSlot {
    pub fn new(addr: SocketAddr, weight: u32, up: bool) -> Self {
        Self {
            addr,
            weight: Cell::new(weight),
            up: Cell::new(up),
            draining: Cell::new(false),
            drain_deadline: Cell::new(None),
            active: Cell::new(0),
            total: Cell::new(0),
            failures: Cell::new(0),
            bytes_up: Cell::new(0),
            bytes_down: Cell::new(0),
            passive: Cell::new(PassiveCounter::default()),
        }
    }

    fn snapshot(&self) -> UpstreamStats {
        let health = if self.draining.get() {
            "draining"
        } else if self.up.get() {
            "up"
        } else {
            "down"
        };
        UpstreamStats {
            addr: self.addr.to_string(),
            weight: if self.draining.get() {
                0
            } else {
                self.weight.get()
            },
            health: health.to_string(),
            active: self.active.get(),
            total: self.total.get(),
            connect_failures: self.failures.get(),
            bytes_client_to_upstream: self.bytes_up.get(),
            bytes_upstream_to_client: self.bytes_down.get(),
        }
    }
}

impl UpstreamView for Rc<UpstreamSlot> {
    fn weight(&self) -> u32 {
        self.weight.get()
    }
    fn eligible(&self) -> bool {
        self.up.get() && !self.draining.get()
    }
    fn active(&self) -> u64 {
        self.active.get()
    }
}

/// The routing table of a gateway at one epoch.
pub(crate) struct Route {
    pub cfg: Arc<GatewayConfig>,
    pub limits: Arc<Limits>,
    pub limited: bool,
    pub upstreams: Vec<Rc<UpstreamSlot>>,
    pub balancer: RefCell<Balancer>,
}

/// Per-gateway counters of one worker.
#[derive(Default)]
pub(crate) struct GatewayCounters {
    pub active: Cell<u64>,
    pub total: Cell<u64>,
    pub bytes_up: Cell<u64>,
    pub bytes_down: Cell<u64>,
    pub refused: [Cell<u64>; Refusal::ALL.len()],
    pub failures: [Cell<u64>; Cause::ALL.len()],
    pub idle_timeouts: Cell<u64>,
    pub drain_kills: Cell<u64>,
}

impl GatewayCounters {
    pub fn refuse(&self, r: Refusal) {
        bump(&self.refused[r.index()], 1);
    }

    pub fn fail(&self, c: Cause) {
        bump(&self.failures[c.index()], 1);
    }
}

/// A listener of this worker and the means to stop its accept loop.
pub(crate) struct ListenerCtl {
    /// A duplicate of the listening socket, used only to shut it down.
    pub ctl: std::net::TcpListener,
    pub stop: Rc<Cell<bool>>,
    pub local: SocketAddr,
}

impl ListenerCtl {
    /// Ends the accept loop: `shutdown(SHUT_RD)` on a listening socket wakes a pending accept
    /// with an error and takes the socket out of the SO_REUSEPORT group.
    pub fn stop(&self) {
        self.stop.set(true);
        if let Err(e) = socket2::SockRef::from(&self.ctl).shutdown(std::net::Shutdown::Read) {
            tracing::debug!("listener {} shutdown: {e}", self.local);
        }
    }
}

/// A gateway in one worker.
pub(crate) struct GatewayRt {
    pub name: String,
    pub route: RefCell<Rc<Route>>,
    pub counters: GatewayCounters,
    pub listener: RefCell<Option<ListenerCtl>>,
    pub draining: RefCell<Vec<Rc<UpstreamSlot>>>,
    pub removed_deadline: Cell<Option<Instant>>,
}

impl GatewayRt {
    pub fn new(name: &str, route: Route) -> Self {
        Self {
            name: name.to_string(),
            route: RefCell::new(Rc::new(route)),
            counters: GatewayCounters::default(),
            listener: RefCell::new(None),
            draining: RefCell::new(Vec::new()),
            removed_deadline: Cell::new(None),
        }
    }

    /// Stops accepting (established connections carry on).
    pub fn stop_listener(&self) {
        if let Some(l) = self.listener.borrow_mut().take() {
            l.stop();
        }
    }

    /// The slot for `addr`, configured or draining.
    pub fn slot(&self, addr: SocketAddr) -> Option<Rc<UpstreamSlot>> {
        let route = self.route.borrow();
        if let Some(s) = route.upstreams.iter().find(|s| s.addr == addr) {
            return Some(Rc::clone(s));
        }
        self.draining
            .borrow()
            .iter()
            .find(|s| s.addr == addr)
            .cloned()
    }

    /// Builds the next route from `cfg`, reusing slots by address so counters and
    /// in-flight connections carry over; slots that leave start draining.
    pub fn next_route(
        &self,
        cfg: Arc<GatewayConfig>,
        limits: Arc<Limits>,
        health: &[(SocketAddr, bool)],
        now: Instant,
    ) -> Route {
        let health: HashMap<_, _> = health.iter().copied().collect();
        let old = self.route.borrow().clone();
        let mut draining = self.draining.borrow_mut();
        let mut upstreams = Vec::with_capacity(cfg.upstreams.len());
        for u in &cfg.upstreams {
            let reused = old
                .upstreams
                .iter()
                .find(|s| s.addr == u.addr)
                .cloned()
                .or_else(|| {
                    let pos = draining.iter().position(|s| s.addr == u.addr)?;
                    Some(draining.swap_remove(pos))
                });
            let slot = reused.unwrap_or_else(|| Rc::new(UpstreamSlot::new(u.addr, u.weight, true)));
            slot.weight.set(u.weight);
            slot.draining.set(false);
            slot.drain_deadline.set(None);
            slot.up.set(health.get(&u.addr).copied().unwrap_or(true));
            upstreams.push(slot);
        }
        for s in &old.upstreams {
            if !cfg.upstreams.iter().any(|u| u.addr == s.addr) {
                s.draining.set(true);
                s.drain_deadline.set(Some(now + cfg.drain_timeout));
                draining.push(Rc::clone(s));
            }
        }
        draining.retain(|s| s.active.get() > 0);
        route_from(cfg, limits, upstreams)
    }

    /// This worker's counters.
    pub fn snapshot(&self) -> GatewayStats {
        let listen = self
            .listener
            .borrow()
            .as_ref()
            .map(|l| l.local.to_string())
            .unwrap_or_default();
        let c = &self.counters;
        let mut g = GatewayStats::named(&self.name, listen);
        g.active = c.active.get();
        g.total = c.total.get();
        g.bytes_client_to_upstream = c.bytes_up.get();
        g.bytes_upstream_to_client = c.bytes_down.get();
        g.idle_timeouts = c.idle_timeouts.get();
        g.drain_kills = c.drain_kills.get();
        for r in Refusal::ALL {
            g.refused
                .insert(r.label().to_string(), c.refused[r.index()].get());
        }
        for cause in Cause::ALL {
            g.errors
                .insert(cause.label().to_string(), c.failures[cause.index()].get());
        }
        let route = self.route.borrow();
        g.upstreams = route.upstreams.iter().map(|s| s.snapshot()).collect();
        g.upstreams
            .extend(self.draining.borrow().iter().map(|s| s.snapshot()));
        g
    }
}

/// A route over fresh or reused slots.
pub(crate) fn route_from(
    cfg: Arc<GatewayConfig>,
    limits: Arc<Limits>,
    upstreams: Vec<Rc<UpstreamSlot>>,
) -> Route {
    let addrs: Vec<_> = upstreams.iter().map(|s| (s.addr, s.weight.get())).collect();
    Route {
        limited: limits.is_active(),
        balancer: RefCell::new(Balancer::new(cfg.algorithm, &addrs)),
        cfg,
        limits,
        upstreams,
    }
}
