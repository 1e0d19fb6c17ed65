//! A worker's view of its gateways: routes, upstream slots and counters. Single-threaded
//! (`Rc`, `Cell`): nothing here is shared with other threads.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use crate::balance::{Balancer, UpstreamView};
use crate::config::{DEFAULT_GROUP_LABEL, GatewayConfig};
use crate::failure::Cause;
use crate::health::PassiveCounter;
use crate::limit::{Limits, Refusal};
use crate::sni::SniTable;
use crate::stats::{GatewayStats, SniRejection, SniStats, UpstreamStats};

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
    /// Every distinct upstream of the gateway (default group's first, then the SNI groups').
    pub upstreams: Vec<Rc<UpstreamSlot>>,
    /// The upstream groups: `groups[0]` is the default (the gateway's `upstreams`), then one
    /// per `sni` entry, in order.
    pub groups: Vec<Group>,
    /// Server name to index in `groups`, when the gateway routes by SNI.
    pub sni: Option<SniTable>,
}

/// A set of upstreams balanced together: the default group or one SNI group. Its slots are
/// shared with the route's `upstreams`, so health and counters are per address.
pub(crate) struct Group {
    /// [`DEFAULT_GROUP_LABEL`] or the group's first name.
    pub label: String,
    pub slots: Vec<Rc<UpstreamSlot>>,
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
    /// Connections routed per upstream group (by label), when the gateway reads SNI.
    pub sni_routed: RefCell<BTreeMap<String, u64>>,
    /// Connections closed because their ClientHello did not come or was unusable.
    pub sni_rejected: [Cell<u64>; SniRejection::ALL.len()],
}

impl GatewayCounters {
    pub fn refuse(&self, r: Refusal) {
        bump(&self.refused[r.index()], 1);
    }

    pub fn fail(&self, c: Cause) {
        bump(&self.failures[c.index()], 1);
    }

    pub fn sni_routed(&self, label: &str) {
        let mut m = self.sni_routed.borrow_mut();
        match m.get_mut(label) {
            Some(n) => *n = n.wrapping_add(1),
            None => {
                m.insert(label.to_string(), 1);
            }
        }
    }

    pub fn sni_rejected(&self, r: SniRejection) {
        bump(&self.sni_rejected[r.index()], 1);
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
        let every = cfg.every_upstream();
        let mut upstreams = Vec::with_capacity(every.len());
        for u in &every {
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
            if !every.iter().any(|u| u.addr == s.addr) {
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
        if route.sni.is_some() || !c.sni_routed.borrow().is_empty() {
            let mut sni = SniStats::empty();
            for group in &route.groups {
                sni.routed.insert(group.label.clone(), 0);
            }
            for (label, n) in c.sni_routed.borrow().iter() {
                sni.routed.insert(label.clone(), *n);
            }
            for r in SniRejection::ALL {
                sni.rejected
                    .insert(r.label().to_string(), c.sni_rejected[r.index()].get());
            }
            g.sni = Some(sni);
        }
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
    let group = |label: String, members: &[crate::config::UpstreamConfig]| {
        let slots: Vec<_> = members
            .iter()
            .filter_map(|u| upstreams.iter().find(|s| s.addr == u.addr).cloned())
            .collect();
        let addrs: Vec<_> = slots.iter().map(|s| (s.addr, s.weight.get())).collect();
        Group {
            label,
            balancer: RefCell::new(Balancer::new(cfg.algorithm, &addrs)),
            slots,
        }
    };
    let mut groups = vec![group(DEFAULT_GROUP_LABEL.to_string(), &cfg.upstreams)];
    groups.extend(cfg.sni.iter().map(|g| group(g.label(), &g.upstreams)));
    let sni = (!cfg.sni.is_empty()).then(|| {
        SniTable::new(
            cfg.sni
                .iter()
                .enumerate()
                .map(|(i, g)| (g.names.as_slice(), i + 1)),
        )
    });
    Route {
        limited: limits.is_active(),
        groups,
        sni,
        cfg,
        limits,
        upstreams,
    }
}
