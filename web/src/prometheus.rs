//! `GET /metrics`: the master in the Prometheus text exposition format (version 0.0.4), so
//! Prometheus or Grafana can scrape it with an API token (any scope) as its bearer token.
//!
//! Per node (labels `node` and `hostname`): online state, last heartbeat, and the latest
//! host metrics the node reported (CPU, load, memory, swap, per-mount file systems,
//! per-interface network counters, TCP sockets). For the master itself: its protocol
//! endpoint's connections and sessions, heartbeats, metric samples stored and lost, the
//! size of its two databases and failed audit writes. Values are read when scraped; the
//! encoding is `prometheus-client`'s.

use std::sync::atomic::AtomicU64;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use model::node::{MasterCounters, NodeView, StorageView};
use prometheus_client::encoding::prometheus_text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::api::ApiError;
use crate::auth::AuthContext;
use crate::state::AppState;

/// Where the exposition is served.
pub const METRICS_PATH: &str = "/metrics";

/// The `Content-Type` of the text exposition format 0.0.4.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Label set of a metric family: name and value pairs.
type Labels = Vec<(String, String)>;
/// A gauge of any value.
type FloatGauge = Gauge<f64, AtomicU64>;

/// Everything one scrape shows.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every node, as the cluster shows it.
    pub nodes: Vec<NodeView>,
    /// The master's own counters.
    pub counters: MasterCounters,
    /// Database sizes.
    pub storage: StorageView,
    /// Audit entries that could not be written since the master started.
    pub audit_write_failures: u64,
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "get /metrics",
    tag = "system",
    summary = "The master and every node's latest metrics in the Prometheus text format (0.0.4).",
    description = "Scrape it with an API token of any scope as the bearer token. Per node \
                   (labels `node`, `hostname`): `commander_node_online`, the latest host \
                   metrics; for the master: endpoint, heartbeat, sample, store and audit \
                   counters.",
    responses(
        (status = 200, description = "The exposition.", content_type = "text/plain", body = String),
        (status = "default", description = "An error; the body says what went wrong.", body = crate::api::ErrorBody),
    ),
)]
pub async fn metrics(
    State(state): State<AppState>,
    _ctx: AuthContext,
) -> Result<Response, ApiError> {
    let cluster = &state.services.cluster;
    let snapshot = Snapshot {
        nodes: cluster.nodes().await?,
        counters: cluster.master_counters(),
        storage: cluster.storage().await?,
        audit_write_failures: state.services.audit.write_health().write_failures,
    };
    Ok(([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], render(&snapshot)).into_response())
}

/// Metric families filled from one snapshot, registered in one registry.
struct Families {
    registry: Registry,
}

impl Families {
    fn new() -> Self {
        Self {
            registry: Registry::default(),
        }
    }

    /// A gauge family called `name`.
    fn gauge(&mut self, name: &str, help: &str) -> Family<Labels, FloatGauge> {
        let family = Family::<Labels, FloatGauge>::default();
        self.registry.register(name, help, family.clone());
        family
    }

    /// A counter family called `name` (the exposition adds `_total`).
    fn counter(&mut self, name: &str, help: &str) -> Family<Labels, Counter> {
        let family = Family::<Labels, Counter>::default();
        self.registry.register(name, help, family.clone());
        family
    }

    /// One unlabelled gauge.
    fn one_gauge(&mut self, name: &str, help: &str, value: f64) {
        self.gauge(name, help).get_or_create(&Vec::new()).set(value);
    }

    /// One unlabelled counter.
    fn one_counter(&mut self, name: &str, help: &str, value: u64) {
        self.counter(name, help)
            .get_or_create(&Vec::new())
            .inc_by(value);
    }
}

fn node_labels(n: &NodeView) -> Labels {
    vec![
        ("node".into(), n.id.to_string()),
        ("hostname".into(), n.hostname.clone()),
    ]
}

fn with(labels: &Labels, key: &str, value: &str) -> Labels {
    let mut l = labels.clone();
    l.push((key.into(), value.into()));
    l
}

/// The exposition of `s`.
pub fn render(s: &Snapshot) -> String {
    let mut f = Families::new();
    node_metrics(&mut f, &s.nodes);
    master_metrics(&mut f, s);
    let mut out = String::new();
    if let Err(e) = encode(&mut out, &f.registry) {
        // Writing into a String cannot fail; keep what was written.
        tracing::error!("cannot encode the metrics: {e}");
    }
    out
}

fn node_metrics(f: &mut Families, nodes: &[NodeView]) {
    let online = f.gauge(
        "commander_node_online",
        "Whether the node's heartbeat TTL has not expired (1) or has (0)",
    );
    let revoked = f.gauge(
        "commander_node_revoked",
        "Whether an operator revoked the node",
    );
    let last_seen = f.gauge(
        "commander_node_last_seen_timestamp_seconds",
        "When the node's last heartbeat arrived, Unix seconds (master clock)",
    );
    let cpu = f.gauge(
        "commander_node_cpu_usage_percent",
        "CPU busy share over the last interval, percent of all cores",
    );
    let cores = f.gauge(
        "commander_node_cpu_cores",
        "Logical CPUs reported by the node",
    );
    let load = f.gauge(
        "commander_node_load_average",
        "Load average over `period` (1m, 5m, 15m)",
    );
    let mem_total = f.gauge("commander_node_memory_total_bytes", "Physical memory");
    let mem_used = f.gauge(
        "commander_node_memory_used_bytes",
        "Memory in use (total minus available)",
    );
    let swap_total = f.gauge("commander_node_swap_total_bytes", "Swap size");
    let swap_used = f.gauge("commander_node_swap_used_bytes", "Swap in use");
    let fs_size = f.gauge(
        "commander_node_filesystem_size_bytes",
        "Size of the file system mounted at `mount`",
    );
    let fs_used = f.gauge(
        "commander_node_filesystem_used_bytes",
        "Used bytes of the file system mounted at `mount`",
    );
    let rx = f.counter(
        "commander_node_network_receive_bytes",
        "Bytes received on `interface` since the node booted",
    );
    let tx = f.counter(
        "commander_node_network_transmit_bytes",
        "Bytes sent on `interface` since the node booted",
    );
    let tcp_est = f.gauge(
        "commander_node_tcp_established",
        "TCP connections in the ESTABLISHED state",
    );
    let tcp_all = f.gauge("commander_node_tcp_sockets", "TCP sockets in any state");
    for n in nodes {
        let l = node_labels(n);
        online.get_or_create(&l).set(f64::from(u8::from(n.online)));
        revoked
            .get_or_create(&l)
            .set(f64::from(u8::from(n.revoked)));
        if let Some(ms) = n.last_seen_ms {
            last_seen.get_or_create(&l).set(ms as f64 / 1000.0);
        }
        // A node offline keeps its last sample in memory; only fresh data is exposed, so
        // a scrape never shows a dead node's old CPU as current.
        let Some(m) = n.metrics.as_ref().filter(|_| n.online) else {
            continue;
        };
        cpu.get_or_create(&l).set(f64::from(m.cpu_total_pct));
        cores.get_or_create(&l).set(m.cpu_per_core_pct.len() as f64);
        for (period, value) in ["1m", "5m", "15m"].iter().zip(m.load) {
            load.get_or_create(&with(&l, "period", period))
                .set(f64::from(value));
        }
        mem_total.get_or_create(&l).set(m.mem_total_bytes as f64);
        mem_used.get_or_create(&l).set(m.mem_used_bytes as f64);
        swap_total.get_or_create(&l).set(m.swap_total_bytes as f64);
        swap_used.get_or_create(&l).set(m.swap_used_bytes as f64);
        for d in &m.disks {
            let dl = with(&l, "mount", &d.mount);
            fs_size.get_or_create(&dl).set(d.total_bytes as f64);
            fs_used.get_or_create(&dl).set(d.used_bytes as f64);
        }
        for i in &m.nets {
            let il = with(&l, "interface", &i.iface);
            rx.get_or_create(&il).inc_by(i.rx_bytes);
            tx.get_or_create(&il).inc_by(i.tx_bytes);
        }
        tcp_est.get_or_create(&l).set(f64::from(m.tcp_established));
        tcp_all.get_or_create(&l).set(f64::from(m.tcp_total));
    }
}

fn master_metrics(f: &mut Families, s: &Snapshot) {
    let c = &s.counters;
    let nodes = f.gauge(
        "commander_master_nodes",
        "Enrolled nodes by `state` (online, offline, revoked)",
    );
    let count = |pred: fn(&NodeView) -> bool| s.nodes.iter().filter(|n| pred(n)).count() as f64;
    nodes
        .get_or_create(&vec![("state".into(), "online".into())])
        .set(count(|n| n.online && !n.revoked));
    nodes
        .get_or_create(&vec![("state".into(), "offline".into())])
        .set(count(|n| !n.online && !n.revoked));
    nodes
        .get_or_create(&vec![("state".into(), "revoked".into())])
        .set(count(|n| n.revoked));
    f.one_counter(
        "commander_master_slave_connections_accepted",
        "Slave connections accepted by the protocol endpoint",
        c.connections_accepted,
    );
    f.one_gauge(
        "commander_master_slave_connections_open",
        "Slave connections open now",
        c.connections_open as f64,
    );
    f.one_counter(
        "commander_master_sessions",
        "Slave sessions that passed authentication",
        c.sessions,
    );
    f.one_counter(
        "commander_master_slave_connections_rejected",
        "Slave connections refused (bad handshake, bad credentials, timeout, caps)",
        c.connections_rejected,
    );
    f.one_counter(
        "commander_master_bad_frames",
        "Frames or messages that failed validation and closed their session",
        c.bad_frames,
    );
    f.one_counter(
        "commander_master_received_bytes",
        "Bytes received from slaves",
        c.bytes_received,
    );
    f.one_counter(
        "commander_master_heartbeats",
        "Heartbeats received from slaves",
        c.heartbeats,
    );
    f.one_counter(
        "commander_master_samples_written",
        "Metric samples committed to the performance store",
        c.samples_written,
    );
    f.one_counter(
        "commander_master_samples_dropped",
        "Metric samples lost (store write failed, or not encodable or queueable)",
        c.samples_dropped,
    );
    let store = f.gauge(
        "commander_master_store_size_bytes",
        "On-disk size of the master's database `env` (data, performance)",
    );
    store
        .get_or_create(&vec![("env".into(), "data".into())])
        .set(s.storage.data_bytes as f64);
    store
        .get_or_create(&vec![("env".into(), "performance".into())])
        .set(s.storage.performance_bytes as f64);
    f.one_counter(
        "commander_audit_write_failures",
        "Audit entries that could not be written since the master started",
        s.audit_write_failures,
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use protocol::{DiskUsage, MetricSample, NetUsage};

    fn node(id: u64, hostname: &str, online: bool) -> NodeView {
        NodeView {
            id,
            hostname: hostname.into(),
            online,
            revoked: false,
            last_seen_ms: Some(1_700_000_000_500),
            agent_version: "0.1.0".into(),
            host: None,
            metrics: Some(MetricSample {
                taken_at_ms: 1,
                cpu_total_pct: 12.5,
                cpu_per_core_pct: vec![10.0, 15.0],
                load: [0.5, 0.25, 0.125],
                mem_total_bytes: 8 << 30,
                mem_used_bytes: 2 << 30,
                swap_total_bytes: 1 << 30,
                swap_used_bytes: 0,
                disks: vec![DiskUsage {
                    mount: "/".into(),
                    total_bytes: 100 << 30,
                    used_bytes: 40 << 30,
                }],
                nets: vec![NetUsage {
                    iface: "eth0".into(),
                    rx_bytes: 1000,
                    tx_bytes: 2000,
                    rx_bytes_per_sec: 10,
                    tx_bytes_per_sec: 20,
                }],
                tcp_established: 7,
                tcp_total: 9,
            }),
        }
    }

    #[test]
    fn nodes_and_master_counters_are_exposed_with_their_types() {
        let text = render(&Snapshot {
            nodes: vec![node(1, "web-1", true), node(2, "we\"ird\\name\n", false)],
            counters: MasterCounters {
                heartbeats: 42,
                samples_dropped: 3,
                ..MasterCounters::default()
            },
            storage: StorageView {
                data_bytes: 10,
                performance_bytes: 20,
            },
            audit_write_failures: 5,
        });
        for line in [
            "# TYPE commander_node_online gauge",
            "commander_node_online{node=\"1\",hostname=\"web-1\"} 1.0",
            "commander_node_cpu_usage_percent{node=\"1\",hostname=\"web-1\"} 12.5",
            "commander_node_load_average{node=\"1\",hostname=\"web-1\",period=\"5m\"} 0.25",
            "commander_node_filesystem_used_bytes{node=\"1\",hostname=\"web-1\",mount=\"/\"} 42949672960.0",
            "# TYPE commander_node_network_receive_bytes_total counter",
            "commander_node_network_receive_bytes_total{node=\"1\",hostname=\"web-1\",interface=\"eth0\"} 1000",
            "commander_node_tcp_established{node=\"1\",hostname=\"web-1\"} 7.0",
            "commander_master_heartbeats_total 42",
            "commander_master_samples_dropped_total 3",
            "commander_master_store_size_bytes{env=\"performance\"} 20.0",
            "commander_master_nodes{state=\"offline\"} 1.0",
            "commander_audit_write_failures_total 5",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // The offline node shows its state and last heartbeat, not its stale sample;
        // its odd host name is escaped.
        assert!(
            text.contains("hostname=\"we\\\"ird\\\\name\\n\"} 0.0"),
            "{text}"
        );
        assert!(!text.contains("commander_node_cpu_usage_percent{node=\"2\""));
    }
}
