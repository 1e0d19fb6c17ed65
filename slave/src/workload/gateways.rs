//! The gateways a slave serves, run with the `gateway` crate as a library: one
//! [`GatewayHandle`] (per-core workers; io_uring where the kernel allows it, else the
//! library's epoll fallback, as inside Docker containers) holds every [`GatewaySpec`] of
//! the desired state as one gateway of its configuration.
//!
//! [`GatewayHost::reconcile`] is blocking (the library's control calls are): call it off
//! async threads. A changed spec is applied live (established connections are kept); a
//! removed one stops accepting and drains for [`DRAIN`]; a spec whose port cannot be bound
//! (or that is invalid) is reported `serving: false` with the reason and tried again at the
//! next reconcile, without holding the others back.

use gateway::cidr::Cidr;
use gateway::config::{Algorithm, Config, GatewayConfig, HealthConfig, RateLimit};
use gateway::{GatewayError, GatewayHandle};
use protocol::workload::{
    GatewayAlgorithm, GatewaySpec, MAX_UPSTREAMS_PER_GATEWAY, ObservedGateway, ObservedUpstream,
};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// How long a removed gateway (or a removed upstream) keeps its established connections.
pub const DRAIN: Duration = Duration::from_secs(5);

/// The gateways of this slave.
#[derive(Default)]
pub struct GatewayHost {
    workers: usize,
    handle: Option<GatewayHandle>,
    /// The gateways the running configuration holds.
    applied: Vec<GatewayConfig>,
    /// Why a desired gateway does not serve, by name.
    failed: HashMap<String, String>,
}

impl std::fmt::Debug for GatewayHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayHost")
            .field("workers", &self.workers)
            .field("running", &self.handle.is_some())
            .field("applied", &self.applied.len())
            .field("failed", &self.failed)
            .finish()
    }
}

impl GatewayHost {
    /// A host whose gateway runs `workers` worker threads (0: one per CPU), started when
    /// the first gateway is wanted.
    pub fn new(workers: usize) -> Self {
        Self {
            workers: if workers == 0 {
                gateway::config::default_workers()
            } else {
                workers
            },
            ..Self::default()
        }
    }

    /// Brings the running gateways to `specs` and reports each, in order, with its
    /// counters. Blocking.
    pub fn reconcile(&mut self, specs: &[GatewaySpec]) -> Vec<ObservedGateway> {
        self.failed.clear();
        let mut wanted = Vec::new();
        let mut ports: HashMap<u16, &str> = HashMap::new();
        for spec in specs {
            if let Some(other) = ports.get(&spec.port) {
                self.failed.insert(
                    spec.name.clone(),
                    format!("port {} is already used by gateway {other}", spec.port),
                );
                continue;
            }
            match gateway_config(spec) {
                Ok(g) => {
                    ports.insert(spec.port, &spec.name);
                    wanted.push(g);
                }
                Err(why) => {
                    self.failed.insert(spec.name.clone(), why);
                }
            }
        }
        if wanted != self.applied {
            self.apply(wanted);
        }
        let stats = match &self.handle {
            Some(h) if !self.applied.is_empty() => h.stats_blocking().ok(),
            _ => None,
        };
        specs
            .iter()
            .map(|spec| {
                let g = stats
                    .as_ref()
                    .and_then(|s| s.gateways.iter().find(|g| g.name == spec.name));
                self.observe(spec, g)
            })
            .collect()
    }

    /// Applies `wanted`, leaving out (and recording) each gateway the library refuses to
    /// bind or stage, until the rest applies.
    fn apply(&mut self, mut wanted: Vec<GatewayConfig>) {
        loop {
            let config = Config {
                workers: self.workers,
                pin_cpus: false,
                io_uring: true,
                admin: None,
                gateways: wanted.clone(),
            };
            let result = match &self.handle {
                Some(h) => h.apply_blocking(config).map(|_| ()),
                None if wanted.is_empty() => Ok(()),
                None => gateway::start(config).map(|h| {
                    tracing::info!(driver = %h.driver(), workers = h.workers(), "gateways started");
                    self.handle = Some(h);
                }),
            };
            let culprit = match &result {
                Ok(()) => {
                    self.applied = wanted;
                    return;
                }
                Err(GatewayError::Bind { gateway, .. } | GatewayError::Prepare { gateway, .. }) => {
                    Some(gateway.clone())
                }
                Err(_) => None,
            };
            let message = result.err().map(|e| e.to_string()).unwrap_or_default();
            tracing::warn!("gateway configuration refused: {message}");
            match culprit.and_then(|name| wanted.iter().position(|g| g.name == name)) {
                Some(i) => {
                    let g = wanted.remove(i);
                    self.failed.insert(g.name, message);
                }
                None => {
                    for g in &wanted {
                        self.failed.insert(g.name.clone(), message.clone());
                    }
                    // The gateway stopped or does not answer: start afresh next time.
                    self.handle = None;
                    self.applied.clear();
                    return;
                }
            }
        }
    }

    fn observe(
        &self,
        spec: &GatewaySpec,
        stats: Option<&gateway::stats::GatewayStats>,
    ) -> ObservedGateway {
        let serving = self.applied.iter().any(|g| g.name == spec.name);
        let mut o = ObservedGateway {
            name: spec.name.clone(),
            port: spec.port,
            serving,
            message: self.failed.get(&spec.name).cloned().unwrap_or_default(),
            active_conns: 0,
            total_conns: 0,
            refused_conns: 0,
            bytes_in: 0,
            bytes_out: 0,
            upstreams: Vec::new(),
        };
        let Some(s) = stats.filter(|_| serving) else {
            return o;
        };
        o.active_conns = s.active;
        o.total_conns = s.total;
        o.refused_conns = s.refused.values().sum();
        o.bytes_in = s.bytes_client_to_upstream;
        o.bytes_out = s.bytes_upstream_to_client;
        o.upstreams = spec
            .upstreams
            .iter()
            .map(|addr| {
                let key = addr
                    .parse::<SocketAddr>()
                    .map_or_else(|_| addr.clone(), |a| a.to_string());
                let u = s.upstream(&key);
                ObservedUpstream {
                    addr: addr.clone(),
                    healthy: u.is_some_and(|u| u.health == "up"),
                    active_conns: u.map_or(0, |u| u.active),
                    total_conns: u.map_or(0, |u| u.total),
                }
            })
            .collect();
        o
    }

    /// Stops every gateway, letting connections finish for up to `drain`. Blocking.
    pub fn shutdown(&mut self, drain: Duration) {
        if let Some(h) = self.handle.take() {
            h.shutdown(drain);
        }
        self.applied.clear();
    }
}

/// The library's configuration of one spec, or why it is invalid.
pub fn gateway_config(spec: &GatewaySpec) -> Result<GatewayConfig, String> {
    if spec.name.is_empty() || spec.name.len() > 128 || spec.name.chars().any(char::is_control) {
        return Err(format!("invalid gateway name {:?}", spec.name));
    }
    if spec.port == 0 {
        return Err("port must be in 1..=65535".into());
    }
    if spec.upstreams.len() > MAX_UPSTREAMS_PER_GATEWAY {
        return Err(format!("more than {MAX_UPSTREAMS_PER_GATEWAY} upstreams"));
    }
    let mut upstreams: Vec<SocketAddr> = Vec::with_capacity(spec.upstreams.len());
    for u in &spec.upstreams {
        let addr: SocketAddr = u
            .parse()
            .map_err(|_| format!("upstream {u:?} is not IP:PORT"))?;
        if addr.port() == 0 {
            return Err(format!("upstream {u:?} has port 0"));
        }
        if !upstreams.contains(&addr) {
            upstreams.push(addr);
        }
    }
    let cidrs = |list: &[String], what: &str| -> Result<Vec<Cidr>, String> {
        list.iter()
            .map(|c| c.parse::<Cidr>().map_err(|e| format!("{what} {c:?}: {e}")))
            .collect()
    };
    let listen = SocketAddr::from((Ipv4Addr::UNSPECIFIED, spec.port));
    let mut g = GatewayConfig::new(&spec.name, listen, &upstreams);
    g.algorithm = match spec.algorithm {
        GatewayAlgorithm::RoundRobin => Algorithm::RoundRobin,
        GatewayAlgorithm::LeastConn => Algorithm::LeastConn,
        GatewayAlgorithm::Hash => Algorithm::Hash,
    };
    g.allow = cidrs(&spec.allow, "allow")?;
    g.deny = cidrs(&spec.deny, "deny")?;
    g.per_ip.max_conns = spec.max_conns_per_ip.filter(|n| *n > 0);
    g.per_ip.rate = spec.conn_rate_per_ip.filter(|n| *n > 0).map(|n| RateLimit {
        per_second: f64::from(n),
        burst: n,
    });
    g.health = HealthConfig {
        enabled: spec.probe_upstreams,
        ..HealthConfig::default()
    };
    g.drain_timeout = DRAIN;
    Ok(g)
}

#[cfg(test)]
#[path = "gateways_tests.rs"]
mod tests;
