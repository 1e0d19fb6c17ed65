//! Statistics: per-gateway and per-upstream counters as reported to callers, the merge of
//! per-worker snapshots, and the Prometheus text rendering.
//!
//! Workers count in their own single-threaded cells; the controller asks each worker for a
//! snapshot (a message, out of band) and sums them here.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::failure::Cause;
use crate::limit::Refusal;

/// Everything the gateway reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// `io_uring` or `legacy`.
    pub driver: String,
    /// Worker threads.
    pub workers: usize,
    /// Per gateway, in configuration order.
    pub gateways: Vec<GatewayStats>,
}

/// One gateway's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GatewayStats {
    /// Name.
    pub name: String,
    /// Bound address (the real port when the configuration said 0).
    pub listen: String,
    /// Connections open now.
    pub active: u64,
    /// Connections accepted and admitted since start.
    pub total: u64,
    /// Bytes from clients to upstreams.
    pub bytes_client_to_upstream: u64,
    /// Bytes from upstreams to clients.
    pub bytes_upstream_to_client: u64,
    /// Refused connections by reason (`acl`, `rate`, `per_ip_conns`, `max_conns`,
    /// `no_upstream`, `connect_failed`).
    pub refused: BTreeMap<String, u64>,
    /// Failures by cause (see [`crate::failure`]): every failed connect attempt, and every
    /// connection that ended with an error. Each cause belongs to one side
    /// ([`Cause::side`]): the client, an upstream, or the gateway itself.
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    /// Connections closed by the idle timeout.
    pub idle_timeouts: u64,
    /// Connections cut when a drain timeout ran out.
    pub drain_kills: u64,
    /// Upstreams, configured ones first, then draining ones.
    pub upstreams: Vec<UpstreamStats>,
    /// SNI routing, for a gateway with `sni` groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<SniStats>,
}

/// Counters of a gateway that routes by the ClientHello's server name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SniStats {
    /// Connections routed per upstream group: each group by its first name, the default
    /// group (the gateway's own `upstreams`: no SNI or no match) as `_default`.
    pub routed: BTreeMap<String, u64>,
    /// Connections closed before routing, by reason (see [`SniRejection`]).
    pub rejected: BTreeMap<String, u64>,
}

impl SniStats {
    /// No group yet, every rejection reason at zero.
    pub fn empty() -> Self {
        Self {
            routed: BTreeMap::new(),
            rejected: SniRejection::ALL
                .iter()
                .map(|r| (r.label().to_string(), 0))
                .collect(),
        }
    }

    /// Rejections for `reason`.
    pub fn rejected_for(&self, reason: SniRejection) -> u64 {
        self.rejected.get(reason.label()).copied().unwrap_or(0)
    }

    /// Connections routed to the group labelled `label`.
    pub fn routed_to(&self, label: &str) -> u64 {
        self.routed.get(label).copied().unwrap_or(0)
    }

    fn absorb(&mut self, other: &SniStats) {
        for (k, v) in &other.routed {
            *self.routed.entry(k.clone()).or_insert(0) += v;
        }
        for (k, v) in &other.rejected {
            *self.rejected.entry(k.clone()).or_insert(0) += v;
        }
    }
}

/// Why a connection to a gateway with `sni` groups was closed before an upstream was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SniRejection {
    /// The first bytes were not a TLS handshake record.
    NotTls,
    /// TLS records, but not a well-formed ClientHello.
    Malformed,
    /// The ClientHello exceeded `sni_max_hello`.
    TooLarge,
    /// The server name is not a valid host name.
    InvalidName,
    /// The ClientHello did not arrive within `sni_peek_timeout`.
    PeekTimeout,
    /// The client closed (or reset) the connection before its ClientHello was complete.
    ClientClosed,
}

impl SniRejection {
    /// Every reason, in a fixed order.
    pub const ALL: [SniRejection; 6] = [
        Self::NotTls,
        Self::Malformed,
        Self::TooLarge,
        Self::InvalidName,
        Self::PeekTimeout,
        Self::ClientClosed,
    ];

    /// Label used in statistics.
    pub fn label(self) -> &'static str {
        match self {
            Self::NotTls => "not_tls",
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::InvalidName => "invalid_name",
            Self::PeekTimeout => "peek_timeout",
            Self::ClientClosed => "client_closed",
        }
    }

    /// Position in [`SniRejection::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The reason for a ClientHello the reader refused.
    pub fn from_hello_error(e: &crate::sni::HelloError) -> Self {
        use crate::sni::HelloError;
        match e {
            HelloError::NotTls(_) => Self::NotTls,
            HelloError::Malformed(_) => Self::Malformed,
            HelloError::TooLarge { .. } => Self::TooLarge,
            HelloError::InvalidName(_) => Self::InvalidName,
        }
    }
}

/// One upstream's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpstreamStats {
    /// Address.
    pub addr: String,
    /// Weight (0 for a draining upstream no longer configured).
    pub weight: u32,
    /// `up`, `down` or `draining`.
    pub health: String,
    /// Connections open now (including connects in progress).
    pub active: u64,
    /// Connections established since start.
    pub total: u64,
    /// Failed connect attempts.
    pub connect_failures: u64,
    /// Bytes sent to it.
    pub bytes_client_to_upstream: u64,
    /// Bytes received from it.
    pub bytes_upstream_to_client: u64,
}

impl GatewayStats {
    /// An empty record with every refusal reason and failure cause present.
    pub fn named(name: &str, listen: String) -> Self {
        Self {
            name: name.to_string(),
            listen,
            refused: Refusal::ALL
                .iter()
                .map(|r| (r.label().to_string(), 0))
                .collect(),
            errors: Cause::ALL
                .iter()
                .map(|c| (c.label().to_string(), 0))
                .collect(),
            ..Self::default()
        }
    }

    /// Refusals for `reason`.
    pub fn refused_for(&self, reason: Refusal) -> u64 {
        self.refused.get(reason.label()).copied().unwrap_or(0)
    }

    /// Failures for `cause`.
    pub fn errors_for(&self, cause: Cause) -> u64 {
        self.errors.get(cause.label()).copied().unwrap_or(0)
    }

    /// The upstream with this address.
    pub fn upstream(&self, addr: &str) -> Option<&UpstreamStats> {
        self.upstreams.iter().find(|u| u.addr == addr)
    }

    /// Adds another worker's counters for the same gateway.
    pub fn absorb(&mut self, other: &GatewayStats) {
        self.active += other.active;
        self.total += other.total;
        self.bytes_client_to_upstream += other.bytes_client_to_upstream;
        self.bytes_upstream_to_client += other.bytes_upstream_to_client;
        self.idle_timeouts += other.idle_timeouts;
        self.drain_kills += other.drain_kills;
        for (k, v) in &other.refused {
            *self.refused.entry(k.clone()).or_insert(0) += v;
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_insert(0) += v;
        }
        match (&mut self.sni, &other.sni) {
            (Some(mine), Some(theirs)) => mine.absorb(theirs),
            (None, Some(theirs)) => self.sni = Some(theirs.clone()),
            _ => {}
        }
        for u in &other.upstreams {
            match self.upstreams.iter_mut().find(|x| x.addr == u.addr) {
                Some(x) => x.absorb(u),
                None => self.upstreams.push(u.clone()),
            }
        }
    }
}

impl UpstreamStats {
    fn absorb(&mut self, other: &UpstreamStats) {
        self.active += other.active;
        self.total += other.total;
        self.connect_failures += other.connect_failures;
        self.bytes_client_to_upstream += other.bytes_client_to_upstream;
        self.bytes_upstream_to_client += other.bytes_upstream_to_client;
        self.weight = self.weight.max(other.weight);
    }
}

impl Stats {
    /// The gateway called `name`.
    pub fn gateway(&self, name: &str) -> Option<&GatewayStats> {
        self.gateways.iter().find(|g| g.name == name)
    }

    /// Prometheus text exposition format (version 0.0.4).
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        gateway_metrics(&mut out, &self.gateways);
        sni_metrics(&mut out, &self.gateways);
        upstream_metrics(&mut out, &self.gateways);
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn gateway_metrics(out: &mut String, gws: &[GatewayStats]) {
    type Getter = fn(&GatewayStats) -> u64;
    let simple: [(&str, &str, &str, Getter); 4] = [
        (
            "commander_gateway_connections_active",
            "gauge",
            "Connections open now.",
            |g| g.active,
        ),
        (
            "commander_gateway_connections_total",
            "counter",
            "Connections admitted.",
            |g| g.total,
        ),
        (
            "commander_gateway_idle_timeouts_total",
            "counter",
            "Connections closed idle.",
            |g| g.idle_timeouts,
        ),
        (
            "commander_gateway_drain_kills_total",
            "counter",
            "Connections cut by drain.",
            |g| g.drain_kills,
        ),
    ];
    for (name, kind, help, get) in simple {
        header(out, name, kind, help);
        for g in gws {
            let _ = writeln!(out, "{name}{{gateway=\"{}\"}} {}", esc(&g.name), get(g));
        }
    }
    let name = "commander_gateway_bytes_total";
    header(out, name, "counter", "Bytes relayed, by direction.");
    for g in gws {
        let n = esc(&g.name);
        let _ = writeln!(
            out,
            "{name}{{gateway=\"{n}\",direction=\"client_to_upstream\"}} {}",
            g.bytes_client_to_upstream
        );
        let _ = writeln!(
            out,
            "{name}{{gateway=\"{n}\",direction=\"upstream_to_client\"}} {}",
            g.bytes_upstream_to_client
        );
    }
    let name = "commander_gateway_refused_total";
    header(out, name, "counter", "Connections refused, by reason.");
    for g in gws {
        for (reason, v) in &g.refused {
            let _ = writeln!(
                out,
                "{name}{{gateway=\"{}\",reason=\"{}\"}} {v}",
                esc(&g.name),
                esc(reason)
            );
        }
    }
    let name = "commander_gateway_errors_total";
    header(
        out,
        name,
        "counter",
        "Failed connects and connections ended by an error, by side and cause.",
    );
    for g in gws {
        for (cause, v) in &g.errors {
            let side = Cause::from_label(cause).map_or("unknown", |c| c.side().label());
            let _ = writeln!(
                out,
                "{name}{{gateway=\"{}\",side=\"{side}\",cause=\"{}\"}} {v}",
                esc(&g.name),
                esc(cause)
            );
        }
    }
}

/// SNI counters; the families appear only when some gateway routes by SNI.
fn sni_metrics(out: &mut String, gws: &[GatewayStats]) {
    let with_sni: Vec<(&GatewayStats, &SniStats)> = gws
        .iter()
        .filter_map(|g| g.sni.as_ref().map(|s| (g, s)))
        .collect();
    if with_sni.is_empty() {
        return;
    }
    let name = "commander_gateway_sni_routed_total";
    header(
        out,
        name,
        "counter",
        "Connections routed by the ClientHello's server name, by upstream group (_default: no SNI or no match).",
    );
    for (g, s) in &with_sni {
        for (group, v) in &s.routed {
            let _ = writeln!(
                out,
                "{name}{{gateway=\"{}\",group=\"{}\"}} {v}",
                esc(&g.name),
                esc(group)
            );
        }
    }
    let name = "commander_gateway_sni_rejected_total";
    header(
        out,
        name,
        "counter",
        "Connections closed before routing because the ClientHello was missing, late or unusable, by reason.",
    );
    for (g, s) in &with_sni {
        for (reason, v) in &s.rejected {
            let _ = writeln!(
                out,
                "{name}{{gateway=\"{}\",reason=\"{}\"}} {v}",
                esc(&g.name),
                esc(reason)
            );
        }
    }
}

fn upstream_metrics(out: &mut String, gws: &[GatewayStats]) {
    type Getter = fn(&UpstreamStats) -> u64;
    let simple: [(&str, &str, &str, Getter); 6] = [
        (
            "commander_upstream_connections_active",
            "gauge",
            "Open connections.",
            |u| u.active,
        ),
        (
            "commander_upstream_connections_total",
            "counter",
            "Established.",
            |u| u.total,
        ),
        (
            "commander_upstream_connect_failures_total",
            "counter",
            "Failed connects.",
            |u| u.connect_failures,
        ),
        ("commander_upstream_up", "gauge", "1 when healthy.", |u| {
            u64::from(u.health == "up")
        }),
        (
            "commander_upstream_draining",
            "gauge",
            "1 while draining.",
            |u| u64::from(u.health == "draining"),
        ),
        (
            "commander_upstream_weight",
            "gauge",
            "Configured weight.",
            |u| u64::from(u.weight),
        ),
    ];
    for (name, kind, help, get) in simple {
        header(out, name, kind, help);
        for g in gws {
            for u in &g.upstreams {
                let _ = writeln!(out, "{name}{{{}}} {}", labels(g, u), get(u));
            }
        }
    }
    let name = "commander_upstream_bytes_total";
    header(out, name, "counter", "Bytes relayed, by direction.");
    for g in gws {
        for u in &g.upstreams {
            let l = labels(g, u);
            let _ = writeln!(
                out,
                "{name}{{{l},direction=\"client_to_upstream\"}} {}",
                u.bytes_client_to_upstream
            );
            let _ = writeln!(
                out,
                "{name}{{{l},direction=\"upstream_to_client\"}} {}",
                u.bytes_upstream_to_client
            );
        }
    }
}

fn labels(g: &GatewayStats, u: &UpstreamStats) -> String {
    format!("gateway=\"{}\",upstream=\"{}\"", esc(&g.name), esc(&u.addr))
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(active: u64) -> GatewayStats {
        let mut g = GatewayStats::named("web", "127.0.0.1:80".into());
        g.active = active;
        g.total = 10;
        *g.refused.get_mut("rate").unwrap() = 2;
        *g.errors.get_mut("connect_refused").unwrap() = 3;
        g.upstreams.push(UpstreamStats {
            addr: "10.0.0.1:80".into(),
            weight: 1,
            health: "up".into(),
            active,
            total: 5,
            ..UpstreamStats::default()
        });
        g
    }

    #[test]
    fn absorb_sums_workers() {
        let mut a = sample(1);
        let mut b = sample(2);
        b.upstreams.push(UpstreamStats {
            addr: "10.0.0.2:80".into(),
            ..Default::default()
        });
        a.absorb(&b);
        assert_eq!((a.active, a.total), (3, 20));
        assert_eq!(a.refused_for(Refusal::Rate), 4);
        assert_eq!(a.refused_for(Refusal::Acl), 0);
        assert_eq!(a.errors_for(Cause::ConnectRefused), 6);
        assert_eq!(a.errors_for(Cause::ClientRead), 0);
        assert_eq!(a.upstream("10.0.0.1:80").unwrap().active, 3);
        assert_eq!(a.upstreams.len(), 2);
    }

    #[test]
    fn prometheus_text_has_types_and_escaped_labels() {
        let mut g = sample(4);
        g.name = "we\"b".into();
        let s = Stats {
            driver: "io_uring".into(),
            workers: 2,
            gateways: vec![g],
        };
        let text = s.to_prometheus();
        assert!(text.contains("# TYPE commander_gateway_connections_active gauge"));
        assert!(text.contains("commander_gateway_connections_active{gateway=\"we\\\"b\"} 4"));
        assert!(
            text.contains("commander_gateway_refused_total{gateway=\"we\\\"b\",reason=\"rate\"} 2")
        );
        assert!(
            text.contains("commander_upstream_up{gateway=\"we\\\"b\",upstream=\"10.0.0.1:80\"} 1")
        );
        assert!(text.contains("# TYPE commander_gateway_errors_total counter"));
        assert!(text.contains(
            "commander_gateway_errors_total{gateway=\"we\\\"b\",side=\"upstream\",cause=\"connect_refused\"} 3"
        ));
        assert!(text.contains(
            "commander_gateway_errors_total{gateway=\"we\\\"b\",side=\"client\",cause=\"client_read\"} 0"
        ));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<u64>().is_ok(), "bad sample line {line}");
        }
    }

    #[test]
    fn sni_counters_sum_and_render_only_where_configured() {
        let with_sni = |n: u64| {
            let mut g = sample(0);
            let mut sni = SniStats::empty();
            sni.routed.insert("_default".into(), n);
            sni.routed.insert("a.example".into(), 2 * n);
            *sni.rejected.get_mut("malformed").unwrap() = n;
            g.sni = Some(sni);
            g
        };
        let mut a = with_sni(1);
        a.absorb(&with_sni(2));
        a.absorb(&sample(0));
        let sni = a.sni.clone().unwrap();
        assert_eq!(
            (sni.routed_to("_default"), sni.routed_to("a.example")),
            (3, 6)
        );
        assert_eq!(sni.rejected_for(SniRejection::Malformed), 3);
        assert_eq!(sni.rejected_for(SniRejection::PeekTimeout), 0);
        let mut plain = sample(0);
        plain.name = "plain".into();
        let s = Stats {
            driver: "legacy".into(),
            workers: 1,
            gateways: vec![a, plain.clone()],
        };
        let text = s.to_prometheus();
        assert!(
            text.contains(
                "commander_gateway_sni_routed_total{gateway=\"web\",group=\"a.example\"} 6"
            )
        );
        assert!(text.contains(
            "commander_gateway_sni_rejected_total{gateway=\"web\",reason=\"peek_timeout\"} 0"
        ));
        assert!(!text.contains("gateway=\"plain\",group="));
        let json = serde_json::to_string(&plain).unwrap();
        assert!(!json.contains("sni"), "{json}");
        let only_plain = Stats {
            gateways: vec![plain],
            ..s
        };
        assert!(!only_plain.to_prometheus().contains("sni"));
    }
}
