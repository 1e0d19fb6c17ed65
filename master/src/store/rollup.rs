//! Roll-up arithmetic: the chart metrics of one sample ([`Values`]), their min/avg/max over
//! a bucket ([`Rollup`]), merging buckets (minutes into hours, buckets into chart points),
//! and the compact binary encoding stored in the `rollup_1m` and `rollup_1h` databases.
//!
//! A non-finite value (NaN, infinity) is left out of its metric; each metric counts its own
//! values, so a mean is exact across merges.
//!
//! Encoding (little-endian), version 1: `u8` version, `u32` samples, then for each of the
//! [`SCALARS`] metrics an [`Agg`] (`u32` n, `f32` min, `f32` mean, `f32` max), then `u8`
//! disk count and for each disk `u8` mount length, the mount (UTF-8), an [`Agg`].

use model::history::{HistoryPoint, Stat};
use protocol::MetricSample;

/// Number of scalar chart metrics ([`Metric`]).
pub const SCALARS: usize = 7;
/// Most mounts a roll-up keeps (the first ones a slave reports).
pub const MAX_DISKS: usize = 8;
/// Longest mount point kept, bytes (longer ones are cut at a character boundary).
pub const MAX_MOUNT_BYTES: usize = 255;
/// Encoding version written first in every roll-up.
pub const ENCODING_VERSION: u8 = 1;
const AGG_BYTES: usize = 16;

/// The scalar chart metrics, in their stored order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// CPU busy, percent of all cores.
    CpuTotalPct,
    /// Memory in use, percent.
    MemUsedPct,
    /// Swap in use, percent (0 without swap).
    SwapUsedPct,
    /// Load average over one minute.
    Load1,
    /// Receive rate of every interface but loopback, bytes/s.
    NetRxBytesPerSec,
    /// Transmit rate of every interface but loopback, bytes/s.
    NetTxBytesPerSec,
    /// Established TCP connections.
    TcpEstablished,
}

/// The chart metrics of one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Values {
    /// The scalars, indexed by [`Metric`].
    pub scalars: [f64; SCALARS],
    /// Used percent by mount (at most [`MAX_DISKS`]).
    pub disks: Vec<(String, f64)>,
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Length of `mount` cut to [`MAX_MOUNT_BYTES`] at a character boundary.
fn bounded_len(mount: &str) -> usize {
    let mut end = mount.len().min(MAX_MOUNT_BYTES);
    while !mount.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// `mount` cut to [`MAX_MOUNT_BYTES`] at a character boundary.
fn bounded_mount(mount: &str) -> String {
    mount[..bounded_len(mount)].to_owned()
}

impl Values {
    /// The chart metrics of `s`.
    pub fn of(s: &MetricSample) -> Self {
        let real = || s.nets.iter().filter(|n| n.iface != "lo");
        let rx = real().fold(0u64, |a, n| a.saturating_add(n.rx_bytes_per_sec));
        let tx = real().fold(0u64, |a, n| a.saturating_add(n.tx_bytes_per_sec));
        Values {
            scalars: [
                f64::from(s.cpu_total_pct),
                pct(s.mem_used_bytes, s.mem_total_bytes),
                pct(s.swap_used_bytes, s.swap_total_bytes),
                f64::from(s.load[0]),
                rx as f64,
                tx as f64,
                f64::from(s.tcp_established),
            ],
            disks: s
                .disks
                .iter()
                .take(MAX_DISKS)
                .map(|d| (bounded_mount(&d.mount), pct(d.used_bytes, d.total_bytes)))
                .collect(),
        }
    }

    /// The raw point of a sample received at `t`: each metric's value as `avg`.
    pub fn point(&self, t: u64) -> HistoryPoint {
        let stat = |m: Metric| {
            let v = self.scalars[m as usize];
            v.is_finite().then(|| Stat::value(v))
        };
        HistoryPoint {
            t,
            samples: 1,
            cpu_total_pct: stat(Metric::CpuTotalPct),
            mem_used_pct: stat(Metric::MemUsedPct),
            swap_used_pct: stat(Metric::SwapUsedPct),
            load1: stat(Metric::Load1),
            net_rx_bytes_per_sec: stat(Metric::NetRxBytesPerSec),
            net_tx_bytes_per_sec: stat(Metric::NetTxBytesPerSec),
            tcp_established: stat(Metric::TcpEstablished),
            disk_used_pct: self
                .disks
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(m, v)| (m.clone(), Stat::value(*v)))
                .collect(),
        }
    }
}

/// Count, smallest, largest and sum of one metric's finite values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Agg {
    /// Values counted.
    pub n: u32,
    /// Smallest value (meaningless when `n` is 0).
    pub min: f64,
    /// Largest value (meaningless when `n` is 0).
    pub max: f64,
    /// Sum of the values.
    pub sum: f64,
}

impl Agg {
    /// Counts one value; non-finite values are left out.
    pub fn add(&mut self, v: f64) {
        if !v.is_finite() {
            return;
        }
        if self.n == 0 {
            (self.min, self.max) = (v, v);
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.n = self.n.saturating_add(1);
        self.sum += v;
    }

    /// Counts every value `other` counted.
    pub fn merge(&mut self, other: &Agg) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.n = self.n.saturating_add(other.n);
        self.sum += other.sum;
    }

    /// Min, mean and max; `None` when nothing was counted.
    pub fn stat(&self) -> Option<Stat> {
        (self.n > 0).then(|| Stat {
            min: Some(self.min),
            avg: self.sum / f64::from(self.n),
            max: Some(self.max),
        })
    }
}

/// Min/avg/max of every chart metric over one bucket of time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rollup {
    /// Raw samples summarised.
    pub samples: u64,
    /// The scalars, indexed by [`Metric`].
    pub scalars: [Agg; SCALARS],
    /// By mount, in the order first seen (at most [`MAX_DISKS`]).
    pub disks: Vec<(String, Agg)>,
}

/// A stored roll-up could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("roll-up: {0}")]
pub struct RollupCodecError(&'static str);

impl Rollup {
    /// Counts one sample's values.
    pub fn add(&mut self, v: &Values) {
        self.samples = self.samples.saturating_add(1);
        for (agg, value) in self.scalars.iter_mut().zip(v.scalars) {
            agg.add(value);
        }
        for (mount, value) in &v.disks {
            if let Some(agg) = self.disk(mount) {
                agg.add(*value);
            }
        }
    }

    /// Counts one stored sample read in place: the same values as [`Values::of`] without
    /// decoding the sample (no allocation once the mounts are known).
    pub fn add_archived(&mut self, s: &protocol::ArchivedMetricSample) {
        let real = || s.nets.iter().filter(|n| n.iface.as_str() != "lo");
        let rx = real().fold(0u64, |a, n| {
            a.saturating_add(n.rx_bytes_per_sec.to_native())
        });
        let tx = real().fold(0u64, |a, n| {
            a.saturating_add(n.tx_bytes_per_sec.to_native())
        });
        let scalars = [
            f64::from(s.cpu_total_pct.to_native()),
            pct(s.mem_used_bytes.to_native(), s.mem_total_bytes.to_native()),
            pct(
                s.swap_used_bytes.to_native(),
                s.swap_total_bytes.to_native(),
            ),
            f64::from(s.load[0].to_native()),
            rx as f64,
            tx as f64,
            f64::from(s.tcp_established.to_native()),
        ];
        self.samples = self.samples.saturating_add(1);
        for (agg, value) in self.scalars.iter_mut().zip(scalars) {
            agg.add(value);
        }
        for d in s.disks.iter().take(MAX_DISKS) {
            let mount = d.mount.as_str();
            let mount = &mount[..bounded_len(mount)];
            let used = pct(d.used_bytes.to_native(), d.total_bytes.to_native());
            if let Some(agg) = self.disk(mount) {
                agg.add(used);
            }
        }
    }

    /// Counts everything `other` counted.
    pub fn merge(&mut self, other: &Rollup) {
        self.samples = self.samples.saturating_add(other.samples);
        for (agg, o) in self.scalars.iter_mut().zip(&other.scalars) {
            agg.merge(o);
        }
        for (mount, o) in &other.disks {
            if let Some(agg) = self.disk(mount) {
                agg.merge(o);
            }
        }
    }

    /// The aggregate of `mount`, added if there is room.
    fn disk(&mut self, mount: &str) -> Option<&mut Agg> {
        let i = match self.disks.iter().position(|(m, _)| m == mount) {
            Some(i) => i,
            None if self.disks.len() < MAX_DISKS => {
                self.disks.push((bounded_mount(mount), Agg::default()));
                self.disks.len() - 1
            }
            None => return None,
        };
        self.disks.get_mut(i).map(|(_, agg)| agg)
    }

    /// The chart point starting at `t`.
    pub fn point(&self, t: u64) -> HistoryPoint {
        let stat = |m: Metric| self.scalars[m as usize].stat();
        HistoryPoint {
            t,
            samples: self.samples,
            cpu_total_pct: stat(Metric::CpuTotalPct),
            mem_used_pct: stat(Metric::MemUsedPct),
            swap_used_pct: stat(Metric::SwapUsedPct),
            load1: stat(Metric::Load1),
            net_rx_bytes_per_sec: stat(Metric::NetRxBytesPerSec),
            net_tx_bytes_per_sec: stat(Metric::NetTxBytesPerSec),
            tcp_established: stat(Metric::TcpEstablished),
            disk_used_pct: self
                .disks
                .iter()
                .filter_map(|(m, agg)| agg.stat().map(|s| (m.clone(), s)))
                .collect(),
        }
    }

    /// The stored form (see the module docs). Min, mean and max are stored as `f32`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + SCALARS * AGG_BYTES + self.disks.len() * 24);
        out.push(ENCODING_VERSION);
        out.extend_from_slice(
            &u32::try_from(self.samples)
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        for agg in &self.scalars {
            put_agg(&mut out, agg);
        }
        let disks = &self.disks[..self.disks.len().min(MAX_DISKS)];
        out.push(disks.len() as u8);
        for (mount, agg) in disks {
            let mount = bounded_mount(mount);
            out.push(mount.len() as u8);
            out.extend_from_slice(mount.as_bytes());
            put_agg(&mut out, agg);
        }
        out
    }

    /// Reads the stored form back, checking every length.
    pub fn decode(bytes: &[u8]) -> Result<Self, RollupCodecError> {
        let mut r = Reader(bytes);
        if r.u8()? != ENCODING_VERSION {
            return Err(RollupCodecError("unknown encoding version"));
        }
        let samples = u64::from(r.u32()?);
        let mut scalars = [Agg::default(); SCALARS];
        for agg in &mut scalars {
            *agg = r.agg()?;
        }
        let count = usize::from(r.u8()?);
        if count > MAX_DISKS {
            return Err(RollupCodecError("too many disks"));
        }
        let mut disks = Vec::with_capacity(count);
        for _ in 0..count {
            let len = usize::from(r.u8()?);
            let mount = std::str::from_utf8(r.take(len)?)
                .map_err(|_| RollupCodecError("mount is not UTF-8"))?
                .to_owned();
            disks.push((mount, r.agg()?));
        }
        if !r.0.is_empty() {
            return Err(RollupCodecError("trailing bytes"));
        }
        Ok(Rollup {
            samples,
            scalars,
            disks,
        })
    }
}

fn put_agg(out: &mut Vec<u8>, agg: &Agg) {
    let (min, mean, max) = match agg.n {
        0 => (0.0, 0.0, 0.0),
        n => (agg.min, agg.sum / f64::from(n), agg.max),
    };
    out.extend_from_slice(&agg.n.to_le_bytes());
    for v in [min, mean, max] {
        out.extend_from_slice(&(v as f32).to_le_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RollupCodecError> {
        if self.0.len() < n {
            return Err(RollupCodecError("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RollupCodecError> {
        self.take(N)?
            .try_into()
            .map_err(|_| RollupCodecError("truncated"))
    }

    fn u8(&mut self) -> Result<u8, RollupCodecError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, RollupCodecError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn f32(&mut self) -> Result<f64, RollupCodecError> {
        let v = f32::from_le_bytes(self.array()?);
        if v.is_finite() {
            Ok(f64::from(v))
        } else {
            Err(RollupCodecError("non-finite value"))
        }
    }

    fn agg(&mut self) -> Result<Agg, RollupCodecError> {
        let n = self.u32()?;
        let (min, mean, max) = (self.f32()?, self.f32()?, self.f32()?);
        Ok(Agg {
            n,
            min,
            max,
            sum: mean * f64::from(n),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{DiskUsage, NetUsage};

    fn sample(cpu: f32, mem_used: u64, rx: u64, disk_used: u64) -> MetricSample {
        let net = |iface: &str, rx| NetUsage {
            iface: iface.into(),
            rx_bytes: 0,
            tx_bytes: 0,
            rx_bytes_per_sec: rx,
            tx_bytes_per_sec: 1,
        };
        MetricSample {
            cpu_total_pct: cpu,
            load: [0.5, 0.0, 0.0],
            mem_total_bytes: 1000,
            mem_used_bytes: mem_used,
            nets: vec![net("lo", 1_000_000), net("eth0", rx), net("eth1", 1)],
            disks: vec![DiskUsage {
                mount: "/".into(),
                total_bytes: 200,
                used_bytes: disk_used,
            }],
            tcp_established: 7,
            ..MetricSample::default()
        }
    }

    #[test]
    fn values_are_the_chart_metrics() {
        let v = Values::of(&sample(12.5, 250, 10, 50));
        assert_eq!(
            v.scalars,
            [12.5, 25.0, 0.0, 0.5, 11.0, 2.0, 7.0],
            "cpu, mem %, swap % (no swap = 0), load1, rx and tx without lo, tcp"
        );
        assert_eq!(v.disks, [("/".to_owned(), 25.0)]);
        let p = v.point(9);
        assert_eq!((p.t, p.samples), (9, 1));
        assert_eq!(p.cpu_total_pct, Some(Stat::value(12.5)));
        assert_eq!(p.disk_used_pct["/"], Stat::value(25.0));
    }

    #[test]
    fn stored_samples_read_in_place_count_the_same() {
        let mut a = Rollup::default();
        let mut b = Rollup::default();
        for (cpu, mem, rx, disk) in [(10.0, 100, 5, 50), (f32::NAN, 900, 7, 150)] {
            let s = sample(cpu, mem, rx, disk);
            a.add(&Values::of(&s));
            let bytes = crate::samples::encode_sample(&s).unwrap();
            b.add_archived(crate::samples::access_sample(&bytes).unwrap());
        }
        assert_eq!(a, b);
        assert!(crate::samples::access_sample(&[1, 2, 3]).is_err());
    }

    #[test]
    fn min_avg_max_over_samples_and_merges() {
        let mut a = Rollup::default();
        for (cpu, mem) in [(10.0, 100), (30.0, 300), (20.0, 200)] {
            a.add(&Values::of(&sample(cpu, mem, 0, 20)));
        }
        let cpu = a.scalars[Metric::CpuTotalPct as usize].stat().unwrap();
        assert_eq!((cpu.min, cpu.avg, cpu.max), (Some(10.0), 20.0, Some(30.0)));
        let mem = a.point(0).mem_used_pct.unwrap();
        assert_eq!((mem.min, mem.avg, mem.max), (Some(10.0), 20.0, Some(30.0)));
        assert_eq!(a.samples, 3);

        // One more bucket of one sample: the mean weighs samples, not buckets.
        let mut b = Rollup::default();
        b.add(&Values::of(&sample(60.0, 0, 0, 200)));
        a.merge(&b);
        let cpu = a.point(0).cpu_total_pct.unwrap();
        assert_eq!((cpu.min, cpu.avg, cpu.max), (Some(10.0), 30.0, Some(60.0)));
        let disk = a.point(0).disk_used_pct["/"];
        assert_eq!((disk.min, disk.max), (Some(10.0), Some(100.0)));
        assert_eq!(a.samples, 4);
        // Merging an empty roll-up changes nothing.
        let before = a.clone();
        a.merge(&Rollup::default());
        assert_eq!(a, before);
    }

    #[test]
    fn non_finite_values_are_left_out() {
        let mut r = Rollup::default();
        r.add(&Values::of(&sample(f32::NAN, 100, 0, 0)));
        r.add(&Values::of(&sample(40.0, 100, 0, 0)));
        let cpu = r.point(0).cpu_total_pct.unwrap();
        assert_eq!((cpu.min, cpu.avg, cpu.max), (Some(40.0), 40.0, Some(40.0)));
        assert_eq!(r.scalars[Metric::CpuTotalPct as usize].n, 1);
        assert_eq!(r.scalars[Metric::MemUsedPct as usize].n, 2);
        let mut only_nan = Rollup::default();
        only_nan.add(&Values::of(&sample(f32::NAN, 0, 0, 0)));
        assert_eq!(only_nan.point(0).cpu_total_pct, None);
        assert_eq!(
            Values::of(&sample(f32::INFINITY, 0, 0, 0))
                .point(1)
                .cpu_total_pct,
            None
        );
    }

    #[test]
    fn disks_are_capped_and_mounts_bounded() {
        let mut s = sample(1.0, 1, 1, 1);
        s.disks = (0..12)
            .map(|i| DiskUsage {
                mount: format!("/m{i}{}", "é".repeat(200)),
                total_bytes: 100,
                used_bytes: i,
            })
            .collect();
        let mut r = Rollup::default();
        r.add(&Values::of(&s));
        assert_eq!(r.disks.len(), MAX_DISKS);
        assert!(r.disks.iter().all(|(m, _)| m.len() <= MAX_MOUNT_BYTES));
        let back = Rollup::decode(&r.encode()).unwrap();
        assert_eq!(back.disks.len(), MAX_DISKS);
        assert_eq!(back.disks[3].0, r.disks[3].0);
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let mut r = Rollup::default();
        r.add(&Values::of(&sample(10.0, 100, 5, 50)));
        r.add(&Values::of(&sample(20.0, 300, 15, 60)));
        let bytes = r.encode();
        let back = Rollup::decode(&bytes).unwrap();
        assert_eq!(back.samples, 2);
        assert_eq!(
            back.point(5),
            r.point(5),
            "exact for values f32 holds exactly"
        );
        assert_eq!(
            Rollup::decode(&Rollup::default().encode()).unwrap(),
            Rollup::default()
        );
        for cut in 0..bytes.len() {
            assert!(Rollup::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(Rollup::decode(&long).is_err());
        let mut version = bytes.clone();
        version[0] = 9;
        assert!(Rollup::decode(&version).is_err());
        let mut nan = bytes;
        nan[9..13].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(Rollup::decode(&nan).is_err());
    }
}
