//! The values a threshold rule compares, computed from the [`MetricSample`] a slave sends
//! with each heartbeat. Network rates come from the byte counters of two consecutive
//! samples of the node (every interface but `lo`, as the console's charts count them);
//! without a usable previous sample (the first one, a counter reset) they fall back to the
//! rates the slave computed itself.

use model::alert_rule::Metric;
use protocol::MetricSample;

/// The byte counters of one sample, summed over every interface but `lo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetCounters {
    /// When the sample was taken, Unix ms.
    pub at_ms: u64,
    /// Bytes received since boot.
    pub rx: u64,
    /// Bytes sent since boot.
    pub tx: u64,
}

fn real(sample: &MetricSample) -> impl Iterator<Item = &protocol::NetUsage> {
    sample.nets.iter().filter(|n| n.iface != "lo")
}

impl NetCounters {
    /// The counters of `sample`, taken at `at_ms`.
    pub fn of(sample: &MetricSample, at_ms: u64) -> Self {
        Self {
            at_ms,
            rx: real(sample).fold(0u64, |a, n| a.saturating_add(n.rx_bytes)),
            tx: real(sample).fold(0u64, |a, n| a.saturating_add(n.tx_bytes)),
        }
    }
}

/// Receive and send rates, bytes per second: from the counters of `prev` and `now` when
/// time went forward and no counter went back, else the slave's own rates in `sample`.
pub fn rates(prev: Option<&NetCounters>, now: &NetCounters, sample: &MetricSample) -> (f64, f64) {
    if let Some(p) = prev
        && now.at_ms > p.at_ms
        && now.rx >= p.rx
        && now.tx >= p.tx
    {
        let secs = (now.at_ms - p.at_ms) as f64 / 1000.0;
        return ((now.rx - p.rx) as f64 / secs, (now.tx - p.tx) as f64 / secs);
    }
    (
        real(sample).fold(0u64, |a, n| a.saturating_add(n.rx_bytes_per_sec)) as f64,
        real(sample).fold(0u64, |a, n| a.saturating_add(n.tx_bytes_per_sec)) as f64,
    )
}

fn pct(used: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        used as f64 * 100.0 / total as f64
    }
}

/// The values of `metric` in `sample`, each with its target: one value with an empty
/// target for a node-wide metric, one per mount (the mount point) for `disk_used_pct`,
/// none for an event. `rates` are the node's network rates (see [`rates`]).
pub fn values(metric: Metric, sample: &MetricSample, rates: (f64, f64)) -> Vec<(String, f64)> {
    let one = |v: f64| vec![(String::new(), v)];
    match metric {
        Metric::CpuTotalPct => one(f64::from(sample.cpu_total_pct)),
        Metric::MemUsedPct => one(pct(sample.mem_used_bytes, sample.mem_total_bytes)),
        Metric::SwapUsedPct => one(pct(sample.swap_used_bytes, sample.swap_total_bytes)),
        Metric::Load1 => one(f64::from(sample.load[0])),
        Metric::NetRxBytesPerSec => one(rates.0),
        Metric::NetTxBytesPerSec => one(rates.1),
        Metric::TcpEstablished => one(f64::from(sample.tcp_established)),
        Metric::DiskUsedPct => sample
            .disks
            .iter()
            .filter(|d| d.total_bytes > 0)
            .map(|d| (d.mount.clone(), pct(d.used_bytes, d.total_bytes)))
            .collect(),
        Metric::NodeOffline | Metric::ContainerExited | Metric::RolloutRolledBack => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{DiskUsage, NetUsage};

    fn net(iface: &str, rx: u64, tx: u64, per_sec: u64) -> NetUsage {
        NetUsage {
            iface: iface.into(),
            rx_bytes: rx,
            tx_bytes: tx,
            rx_bytes_per_sec: per_sec,
            tx_bytes_per_sec: per_sec,
        }
    }

    #[test]
    fn rates_come_from_counters_and_fall_back_to_the_slaves() {
        let mut s = MetricSample {
            nets: vec![
                net("eth0", 1_000, 500, 7),
                net("lo", 1_000_000, 1_000_000, 99),
            ],
            ..MetricSample::default()
        };
        let first = NetCounters::of(&s, 10_000);
        assert_eq!((first.rx, first.tx), (1_000, 500), "lo is not counted");
        assert_eq!(
            rates(None, &first, &s),
            (7.0, 7.0),
            "first sample: the slave's"
        );
        s.nets[0] = net("eth0", 3_000, 1_500, 7);
        let second = NetCounters::of(&s, 12_000);
        assert_eq!(rates(Some(&first), &second, &s), (1_000.0, 500.0));
        // A counter reset (reboot) falls back rather than going negative.
        s.nets[0] = net("eth0", 10, 10, 3);
        let reset = NetCounters::of(&s, 14_000);
        assert_eq!(rates(Some(&second), &reset, &s), (3.0, 3.0));
    }

    #[test]
    fn values_per_metric_and_per_mount() {
        let s = MetricSample {
            cpu_total_pct: 42.5,
            load: [1.5, 1.0, 0.5],
            mem_total_bytes: 200,
            mem_used_bytes: 50,
            swap_total_bytes: 0,
            swap_used_bytes: 0,
            tcp_established: 12,
            disks: vec![
                DiskUsage {
                    mount: "/".into(),
                    total_bytes: 100,
                    used_bytes: 91,
                },
                DiskUsage {
                    mount: "/data".into(),
                    total_bytes: 100,
                    used_bytes: 10,
                },
                DiskUsage {
                    mount: "/empty".into(),
                    total_bytes: 0,
                    used_bytes: 0,
                },
            ],
            ..MetricSample::default()
        };
        let v = |m| values(m, &s, (5.0, 6.0));
        assert_eq!(v(Metric::CpuTotalPct), vec![(String::new(), 42.5)]);
        assert_eq!(v(Metric::MemUsedPct), vec![(String::new(), 25.0)]);
        assert_eq!(
            v(Metric::SwapUsedPct),
            vec![(String::new(), 0.0)],
            "no swap"
        );
        assert_eq!(v(Metric::Load1), vec![(String::new(), 1.5)]);
        assert_eq!(v(Metric::TcpEstablished), vec![(String::new(), 12.0)]);
        assert_eq!(v(Metric::NetRxBytesPerSec), vec![(String::new(), 5.0)]);
        assert_eq!(v(Metric::NetTxBytesPerSec), vec![(String::new(), 6.0)]);
        assert_eq!(
            v(Metric::DiskUsedPct),
            vec![("/".to_owned(), 91.0), ("/data".to_owned(), 10.0)]
        );
        assert!(v(Metric::NodeOffline).is_empty());
    }
}
