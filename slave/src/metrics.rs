//! Host metrics from procfs: CPU, load, memory, disks, network and TCP counts.
//!
//! [`MetricSampler`] keeps the previous CPU jiffies and network counters, so CPU shares and
//! byte rates are deltas over the interval between two calls (the first call measures CPU
//! since boot and reports zero rates). It runs every few seconds on every slave, so it reads
//! only `/proc/stat`, `/proc/meminfo`, `/proc/loadavg`, `/proc/self/mounts`, `/proc/net/dev`
//! and the kernel's TCP counters (`/proc/net/snmp`, `/proc/net/sockstat{,6}`: constant cost,
//! however many sockets the host has), calls `statvfs` once per real mount and never scans
//! processes or sockets.
//!
//! The arithmetic lives in pure functions ([`cpu_busy_pct`], [`counter_rate`],
//! [`net_usage`], [`real_mounts`], [`parse_net_dev`], [`snmp_curr_estab`],
//! [`sockstat_tcp`]) tested without `/proc`.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use procfs::{Current, CurrentSI};
use protocol::{DiskUsage, MetricSample, NetUsage};

/// Why a sample could not be taken. Only the essentials (CPU, memory, load) fail a sample;
/// disks, interfaces and TCP counts that cannot be read are left empty or zero.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A procfs file could not be read or parsed.
    #[error("cannot read {what}: {source}")]
    Proc {
        /// Which file.
        what: &'static str,
        /// procfs's error.
        #[source]
        source: procfs::ProcError,
    },
}

/// Cumulative CPU time of one CPU (or all), in clock ticks since boot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuJiffies {
    /// Idle plus I/O wait.
    pub idle: u64,
    /// All states (guest time is already inside user and nice).
    pub total: u64,
}

impl CpuJiffies {
    fn from_cpu_time(t: &procfs::CpuTime) -> Self {
        let iowait = t.iowait.unwrap_or(0);
        let idle = t.idle.saturating_add(iowait);
        let total = [
            t.user,
            t.nice,
            t.system,
            t.irq.unwrap_or(0),
            t.softirq.unwrap_or(0),
            t.steal.unwrap_or(0),
        ]
        .iter()
        .fold(idle, |acc, v| acc.saturating_add(*v));
        Self { idle, total }
    }
}

/// Busy share between two snapshots, percent in `0.0..=100.0`. When the counters went
/// backwards (CPU hot-plug, a reset) `cur` is measured since zero; no elapsed ticks gives 0.
pub fn cpu_busy_pct(prev: CpuJiffies, cur: CpuJiffies) -> f32 {
    let prev = if cur.total < prev.total || cur.idle < prev.idle {
        CpuJiffies::default()
    } else {
        prev
    };
    let total = cur.total - prev.total;
    if total == 0 {
        return 0.0;
    }
    let idle = (cur.idle - prev.idle).min(total);
    let pct = (total - idle) as f64 * 100.0 / total as f64;
    pct.clamp(0.0, 100.0) as f32
}

/// Per-second rate of a monotonically increasing counter over `elapsed_ms`. A counter that
/// went backwards was reset (driver reload, wrap), so its current value is the increase.
/// No elapsed time gives 0.
pub fn counter_rate(prev: u64, cur: u64, elapsed_ms: u64) -> u64 {
    if elapsed_ms == 0 {
        return 0;
    }
    let delta = if cur >= prev { cur - prev } else { cur };
    let rate = u128::from(delta) * 1000 / u128::from(elapsed_ms);
    u64::try_from(rate).unwrap_or(u64::MAX)
}

/// Byte counters of one network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetCounters {
    /// Interface name.
    pub iface: String,
    /// Received bytes since boot.
    pub rx_bytes: u64,
    /// Transmitted bytes since boot.
    pub tx_bytes: u64,
}

/// Parses `/proc/net/dev` into `out` (cleared first), skipping `lo` and malformed lines.
pub fn parse_net_dev(text: &str, out: &mut Vec<NetCounters>) {
    out.clear();
    for line in text.lines() {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name == "lo" || name.contains('|') {
            continue;
        }
        let mut fields = rest.split_ascii_whitespace();
        // Receive: bytes packets errs drop fifo frame compressed multicast; then transmit.
        let rx = fields.next().and_then(|v| v.parse::<u64>().ok());
        let tx = fields.nth(7).and_then(|v| v.parse::<u64>().ok());
        if let (Some(rx_bytes), Some(tx_bytes)) = (rx, tx) {
            out.push(NetCounters {
                iface: name.to_string(),
                rx_bytes,
                tx_bytes,
            });
        }
    }
}

/// Builds per-interface usage from the current counters and the previous ones.
/// `elapsed_ms` is `None` on the first sample: rates are then 0. An interface absent from
/// `prev` (new since last time) also reports 0.
pub fn net_usage(
    prev: &[NetCounters],
    cur: &[NetCounters],
    elapsed_ms: Option<u64>,
) -> Vec<NetUsage> {
    cur.iter()
        .map(|c| {
            let before = prev.iter().find(|p| p.iface == c.iface);
            let (rx_rate, tx_rate) = match (before, elapsed_ms) {
                (Some(p), Some(ms)) => (
                    counter_rate(p.rx_bytes, c.rx_bytes, ms),
                    counter_rate(p.tx_bytes, c.tx_bytes, ms),
                ),
                _ => (0, 0),
            };
            NetUsage {
                iface: c.iface.clone(),
                rx_bytes: c.rx_bytes,
                tx_bytes: c.tx_bytes,
                rx_bytes_per_sec: rx_rate,
                tx_bytes_per_sec: tx_rate,
            }
        })
        .collect()
}

/// One line of `/proc/self/mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Device or source (`/dev/sda1`, `pool/data`, `overlay`).
    pub device: String,
    /// Mount point.
    pub mount: String,
    /// File-system type.
    pub fs_type: String,
}

/// File-system types that hold no user data (kernel interfaces, memory-backed, container
/// plumbing) or that are network file systems, whose `statvfs` can hang on a dead server.
const SKIPPED_FS_TYPES: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "tmpfs",
    "ramfs",
    "cgroup",
    "cgroup2",
    "cpuset",
    "mqueue",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
    "efivarfs",
    "rpc_pipefs",
    "nsfs",
    "selinuxfs",
    "squashfs",
    "iso9660",
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "9p",
    "ceph",
    "glusterfs",
    "afs",
    "sshfs",
    "fuse.sshfs",
    "fuse.lxcfs",
    "fuse.gvfsd-fuse",
    "fuse.portal",
    "fuse.snapfuse",
    "fuse.rclone",
    "zram",
    "none",
];

/// Whether a mount holds real, local data worth reporting. `overlay` counts only as `/` (the
/// root of a container); Docker's per-container overlays elsewhere do not.
pub fn is_real_mount(m: &Mount) -> bool {
    if SKIPPED_FS_TYPES.contains(&m.fs_type.as_str()) {
        return false;
    }
    if m.fs_type == "overlay" || m.fs_type == "aufs" {
        return m.mount == "/";
    }
    !["/proc/", "/sys/", "/dev/", "/run/"]
        .iter()
        .any(|p| m.mount.starts_with(p))
}

/// Undoes the octal escapes of `/proc/self/mounts` (`\040` for a space, `\011`, `\012`,
/// `\134`).
fn unescape_mount_field(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let code = bytes.get(i + 1..i + 4).and_then(|oct| {
            if !oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                return None;
            }
            u8::from_str_radix(std::str::from_utf8(oct).ok()?, 8).ok()
        });
        match (bytes[i], code) {
            (b'\\', Some(c)) => {
                out.push(c);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/self/mounts`, skipping malformed lines.
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_ascii_whitespace();
            let (device, mount, fs_type) = (f.next()?, f.next()?, f.next()?);
            Some(Mount {
                device: unescape_mount_field(device),
                mount: unescape_mount_field(mount),
                fs_type: fs_type.to_string(),
            })
        })
        .collect()
}

/// Keeps the real mounts ([`is_real_mount`]) and one mount per device: the one with the
/// shortest mount point (so `/` wins over a bind mount of the same disk elsewhere).
pub fn real_mounts(all: Vec<Mount>) -> Vec<Mount> {
    let mut out: Vec<Mount> = Vec::new();
    for m in all.into_iter().filter(is_real_mount) {
        match out.iter_mut().find(|o| o.device == m.device) {
            Some(existing) if m.mount.len() < existing.mount.len() => *existing = m,
            Some(_) => {}
            None => out.push(m),
        }
    }
    out
}

/// Reads and filters the mounts of this host (as seen by this process).
pub fn read_real_mounts(buf: &mut String) -> Vec<Mount> {
    buf.clear();
    match File::open("/proc/self/mounts").and_then(|mut f| f.read_to_string(buf)) {
        Ok(_) => real_mounts(parse_mounts(buf)),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read /proc/self/mounts");
            Vec::new()
        }
    }
}

/// Size and used bytes of the file system mounted at `path` (as `df` computes them:
/// used = blocks − free blocks), or `None` when `statvfs` fails.
pub fn statvfs_usage(path: &Path) -> Option<(u64, u64)> {
    crate::hostops::disks::fs_stats(path).map(|st| (st.total, st.used))
}

/// `CurrEstab` of `/proc/net/snmp` (the values line after the `Tcp:` header line): TCP
/// connections in the ESTABLISHED or CLOSE-WAIT state, IPv4 and IPv6 together (RFC 1213's
/// `tcpCurrEstab`, as Netdata and `netstat -s` read it). `None` when the file lacks it.
pub fn snmp_curr_estab(text: &str) -> Option<u32> {
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let header = tcp.next()?;
    let values = tcp.next()?;
    let at = header.split_whitespace().position(|f| f == "CurrEstab")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// TCP sockets of a `/proc/net/sockstat` (`TCP: inuse N orphan O tw T ...`) or
/// `/proc/net/sockstat6` (`TCP6: inuse N`) text: `inuse` (every state but TIME-WAIT,
/// listeners included) plus `tw` (TIME-WAIT) where given; 0 when the line is missing.
pub fn sockstat_tcp(text: &str, family: &str) -> u32 {
    let Some(line) = text
        .lines()
        .find(|l| l.split_once(':').is_some_and(|(name, _)| name == family))
    else {
        return 0;
    };
    let fields: Vec<&str> = line.split_whitespace().collect();
    let value = |key: &str| -> u32 {
        fields
            .windows(2)
            .find(|w| w[0] == key)
            .and_then(|w| w[1].parse().ok())
            .unwrap_or(0)
    };
    value("inuse").saturating_add(value("tw"))
}

/// Samples host metrics, remembering what rates and CPU shares need from the previous call.
#[derive(Debug, Default)]
pub struct MetricSampler {
    prev_total: CpuJiffies,
    prev_cores: Vec<CpuJiffies>,
    prev_net: Vec<NetCounters>,
    cur_net: Vec<NetCounters>,
    prev_at_ms: Option<u64>,
    text: String,
}

impl MetricSampler {
    /// A sampler with no history: its first sample measures CPU since boot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one sample at `now_ms` (Unix milliseconds, also used as the interval clock).
    pub fn sample(&mut self, now_ms: u64) -> Result<MetricSample, MetricsError> {
        let stat = procfs::KernelStats::current().map_err(|source| MetricsError::Proc {
            what: "/proc/stat",
            source,
        })?;
        let mem = procfs::Meminfo::current().map_err(|source| MetricsError::Proc {
            what: "/proc/meminfo",
            source,
        })?;
        let load = procfs::LoadAverage::current().map_err(|source| MetricsError::Proc {
            what: "/proc/loadavg",
            source,
        })?;

        let total = CpuJiffies::from_cpu_time(&stat.total);
        let cores: Vec<CpuJiffies> = stat
            .cpu_time
            .iter()
            .map(CpuJiffies::from_cpu_time)
            .collect();
        if self.prev_cores.len() != cores.len() {
            self.prev_cores = vec![CpuJiffies::default(); cores.len()];
        }
        let cpu_total_pct = cpu_busy_pct(self.prev_total, total);
        let cpu_per_core_pct = self
            .prev_cores
            .iter()
            .zip(&cores)
            .map(|(p, c)| cpu_busy_pct(*p, *c))
            .collect();
        self.prev_total = total;
        self.prev_cores = cores;

        let available = mem.mem_available.unwrap_or_else(|| {
            mem.mem_free
                .saturating_add(mem.buffers)
                .saturating_add(mem.cached)
        });

        let disks = read_real_mounts(&mut self.text)
            .into_iter()
            .filter_map(|m| {
                let (total_bytes, used_bytes) = statvfs_usage(Path::new(&m.mount))?;
                (total_bytes > 0).then_some(DiskUsage {
                    mount: m.mount,
                    total_bytes,
                    used_bytes,
                })
            })
            .collect();

        let elapsed = self.prev_at_ms.map(|prev| now_ms.saturating_sub(prev));
        self.read_net();
        let nets = net_usage(&self.prev_net, &self.cur_net, elapsed);
        std::mem::swap(&mut self.prev_net, &mut self.cur_net);
        self.prev_at_ms = Some(now_ms);

        let (tcp_established, tcp_total) = self.read_tcp();

        Ok(MetricSample {
            taken_at_ms: now_ms,
            cpu_total_pct,
            cpu_per_core_pct,
            load: [load.one, load.five, load.fifteen],
            mem_total_bytes: mem.mem_total,
            mem_used_bytes: mem.mem_total.saturating_sub(available),
            swap_total_bytes: mem.swap_total,
            swap_used_bytes: mem.swap_total.saturating_sub(mem.swap_free),
            disks,
            nets,
            tcp_established,
            tcp_total,
        })
    }

    /// (established, total) TCP sockets from the kernel's counters. Not from
    /// `/proc/net/tcp{,6}`: producing those walks every bucket of the established hash
    /// table (sized by memory, not by sockets) on each read, which cost most of a slave's
    /// sampling CPU even on an idle host. A missing file (no IPv6) counts zero.
    fn read_tcp(&mut self) -> (u32, u32) {
        let read = |path: &str, text: &mut String| {
            text.clear();
            File::open(path)
                .and_then(|mut f| f.read_to_string(text))
                .is_ok()
        };
        let established = if read("/proc/net/snmp", &mut self.text) {
            snmp_curr_estab(&self.text).unwrap_or(0)
        } else {
            0
        };
        let mut total = 0u32;
        if read("/proc/net/sockstat", &mut self.text) {
            total = total.saturating_add(sockstat_tcp(&self.text, "TCP"));
        }
        if read("/proc/net/sockstat6", &mut self.text) {
            total = total.saturating_add(sockstat_tcp(&self.text, "TCP6"));
        }
        (established, total.max(established))
    }

    fn read_net(&mut self) {
        self.text.clear();
        match File::open("/proc/net/dev").and_then(|mut f| f.read_to_string(&mut self.text)) {
            Ok(_) => parse_net_dev(&self.text, &mut self.cur_net),
            Err(e) => {
                tracing::debug!(error = %e, "cannot read /proc/net/dev");
                self.cur_net.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn j(idle: u64, total: u64) -> CpuJiffies {
        CpuJiffies { idle, total }
    }

    #[test]
    fn cpu_pct_from_two_snapshots() {
        assert_eq!(cpu_busy_pct(j(0, 0), j(50, 100)), 50.0);
        assert_eq!(cpu_busy_pct(j(50, 100), j(50, 200)), 100.0);
        assert_eq!(cpu_busy_pct(j(50, 100), j(150, 200)), 0.0);
        assert_eq!(
            cpu_busy_pct(j(50, 100), j(50, 100)),
            0.0,
            "no ticks elapsed"
        );
        // Counters went backwards: measured since zero.
        assert_eq!(cpu_busy_pct(j(900, 1000), j(30, 40)), 25.0);
        // Idle moving more than total (iowait quirk) is clamped.
        assert_eq!(cpu_busy_pct(j(0, 100), j(300, 200)), 0.0);
    }

    #[test]
    fn rates_handle_resets_and_zero_elapsed() {
        assert_eq!(counter_rate(1_000, 6_000, 5_000), 1_000);
        assert_eq!(counter_rate(1_000, 1_000, 5_000), 0);
        assert_eq!(
            counter_rate(10_000, 500, 1_000),
            500,
            "reset: the new value is the delta"
        );
        assert_eq!(counter_rate(0, 100, 0), 0);
        assert_eq!(counter_rate(0, u64::MAX, 1), u64::MAX, "saturates");
    }

    #[test]
    fn net_dev_parsing_and_rates() {
        let text = "Inter-|   Receive                                                |  Transmit\n \
face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0\n  \
eth0: 117669966    4060    0    0    0     0          0         0   301950    2608    0    0    0     0       0          0\n\
docker0:       0       0    0    0    0     0          0         0        0       0    0    2    0     0       0          0\n\
broken: 1 2\n";
        let mut cur = Vec::new();
        parse_net_dev(text, &mut cur);
        assert_eq!(cur.len(), 2);
        assert_eq!(
            cur[0],
            NetCounters {
                iface: "eth0".into(),
                rx_bytes: 117669966,
                tx_bytes: 301950
            }
        );
        assert_eq!(cur[1].iface, "docker0");

        let prev = vec![NetCounters {
            iface: "eth0".into(),
            rx_bytes: 117669966 - 20_000,
            tx_bytes: 301950 - 2_000,
        }];
        let usage = net_usage(&prev, &cur, Some(2_000));
        assert_eq!(usage[0].rx_bytes_per_sec, 10_000);
        assert_eq!(usage[0].tx_bytes_per_sec, 1_000);
        assert_eq!(usage[1].rx_bytes_per_sec, 0, "new interface");
        let first = net_usage(&[], &cur, None);
        assert!(
            first
                .iter()
                .all(|u| u.rx_bytes_per_sec == 0 && u.tx_bytes_per_sec == 0)
        );
    }

    #[test]
    fn mounts_are_filtered_and_deduplicated() {
        let text = "proc /proc proc rw 0 0\n\
sysfs /sys sysfs rw 0 0\n\
tmpfs /dev/shm tmpfs rw 0 0\n\
/dev/vda1 /var/lib/docker ext4 rw 0 0\n\
/dev/vda1 / ext4 rw 0 0\n\
cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n\
overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0\n\
/dev/vdb1 /mnt/my\\040data xfs rw 0 0\n\
server:/export /mnt/nfs nfs4 rw 0 0\n\
pool/data /data zfs rw 0 0\n\
garbage\n";
        let real = real_mounts(parse_mounts(text));
        let mounts: Vec<&str> = real.iter().map(|m| m.mount.as_str()).collect();
        assert_eq!(mounts, ["/", "/mnt/my data", "/data"]);
        assert_eq!(real[0].device, "/dev/vda1");

        let container = "overlay / overlay rw 0 0\n/dev/vda1 /etc/hosts ext4 rw 0 0\n";
        let real = real_mounts(parse_mounts(container));
        assert_eq!(real.len(), 2);
        assert_eq!(real[0].fs_type, "overlay");
        assert_eq!(unescape_mount_field("a\\134b\\0"), "a\\b\\0");
    }

    #[test]
    fn tcp_counts_come_from_the_kernel_counters() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs\n\
Tcp: 1 200 120000 -1 2142 2046 8 40 12 38291\n\
Udp: InDatagrams NoPorts\nUdp: 5 0\n";
        assert_eq!(snmp_curr_estab(snmp), Some(12));
        assert_eq!(snmp_curr_estab("Tcp: CurrEstab\n"), None);
        assert_eq!(snmp_curr_estab("Tcp: A CurrEstab\nTcp: 1\n"), None);
        assert_eq!(snmp_curr_estab("Tcp: CurrEstab\nTcp: x\n"), None);
        let sockstat =
            "sockets: used 211\nTCP: inuse 9 orphan 0 tw 4 alloc 14 mem 2\nUDP: inuse 3 mem 1\n";
        assert_eq!(sockstat_tcp(sockstat, "TCP"), 13);
        assert_eq!(sockstat_tcp("TCP6: inuse 2\nUDP6: inuse 1\n", "TCP6"), 2);
        assert_eq!(sockstat_tcp(sockstat, "TCP6"), 0);
        assert_eq!(sockstat_tcp("TCP: inuse lots\n", "TCP"), 0);
    }

    #[test]
    fn real_sampler_gives_sane_values() {
        let mut s = MetricSampler::new();
        // The time between samples is passed in, so no waiting is needed.
        let first = s.sample(1_000).unwrap();
        let second = s.sample(1_100).unwrap();
        for m in [&first, &second] {
            assert!(
                (0.0..=100.0).contains(&m.cpu_total_pct),
                "{}",
                m.cpu_total_pct
            );
            assert!(!m.cpu_per_core_pct.is_empty());
            assert!(m.cpu_per_core_pct.iter().all(|p| (0.0..=100.0).contains(p)));
            assert!(m.load.iter().all(|l| *l >= 0.0));
            assert!(m.mem_total_bytes > 0 && m.mem_used_bytes <= m.mem_total_bytes);
            assert!(m.swap_used_bytes <= m.swap_total_bytes);
            assert!(!m.disks.is_empty(), "no real mount found");
            assert!(m.disks.iter().all(|d| d.used_bytes <= d.total_bytes));
            assert!(m.nets.iter().all(|n| n.iface != "lo"));
            assert!(m.tcp_established <= m.tcp_total);
        }
        assert_eq!(second.taken_at_ms, 1_100);
        assert!(first.nets.iter().all(|n| n.rx_bytes_per_sec == 0));
    }
}
