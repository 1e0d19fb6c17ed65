//! Metric history: the tiers the master keeps in `dbPath.performance`, what a history
//! query answers, and how a query picks its tier.
//!
//! Three tiers: [`Tier::Raw`] (every sample as received), [`Tier::Minute`] and
//! [`Tier::Hour`] (roll-ups with min/avg/max of each chart metric per minute or hour).
//! Each is kept for its own period ([`TierRetention`]). A query by node and time range picks
//! the finest tier that both still covers the range and does not hand out more detail than
//! the points asked for: see [`pick_tier`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One minute, ms.
pub const MINUTE_MS: u64 = 60_000;
/// One hour, ms.
pub const HOUR_MS: u64 = 3_600_000;
/// One day, ms.
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// A resolution of the stored metric history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Tier {
    /// Every sample as received.
    #[serde(rename = "raw")]
    Raw,
    /// One roll-up per node and minute.
    #[serde(rename = "1m")]
    Minute,
    /// One roll-up per node and hour.
    #[serde(rename = "1h")]
    Hour,
}

impl Tier {
    /// Every tier, finest first.
    pub const ALL: [Tier; 3] = [Tier::Raw, Tier::Minute, Tier::Hour];

    /// Width of one roll-up bucket, ms; 0 for raw samples.
    pub const fn bucket_ms(self) -> u64 {
        match self {
            Tier::Raw => 0,
            Tier::Minute => MINUTE_MS,
            Tier::Hour => HOUR_MS,
        }
    }

    /// The name in the API and in logs: `raw`, `1m`, `1h`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Minute => "1m",
            Tier::Hour => "1h",
        }
    }
}

/// How long each tier is kept, ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierRetention {
    /// Raw samples.
    pub raw_ms: u64,
    /// 1-minute roll-ups.
    pub minute_ms: u64,
    /// 1-hour roll-ups.
    pub hour_ms: u64,
}

impl TierRetention {
    /// How long `tier` is kept, ms.
    pub const fn of(&self, tier: Tier) -> u64 {
        match tier {
            Tier::Raw => self.raw_ms,
            Tier::Minute => self.minute_ms,
            Tier::Hour => self.hour_ms,
        }
    }
}

/// The tier a query of `[from_ms, to_ms]` at `points` points answers from at `now_ms`:
///
/// - raw when one point spans less than a minute (`(to - from + 1) / points`, rounded
///   up) and raw samples are still kept back to `from_ms`;
/// - else 1-minute when one point spans less than an hour and 1-minute roll-ups are kept
///   back to `from_ms`;
/// - else 1-hour.
///
/// So a range that raw data would show at finer detail than the points asked gets
/// roll-ups instead (fewer rows read, min and max kept), and a range older than a tier's
/// retention goes to the next coarser one. `points` 0 counts as 1.
pub fn pick_tier(
    from_ms: u64,
    to_ms: u64,
    points: usize,
    now_ms: u64,
    keep: &TierRetention,
) -> Tier {
    let span = to_ms.saturating_sub(from_ms).saturating_add(1);
    let step = span.div_ceil(points.max(1) as u64);
    let kept = |tier: Tier| from_ms >= now_ms.saturating_sub(keep.of(tier));
    if step < MINUTE_MS && kept(Tier::Raw) {
        Tier::Raw
    } else if step < HOUR_MS && kept(Tier::Minute) {
        Tier::Minute
    } else {
        Tier::Hour
    }
}

/// One metric over one point: the value of a raw sample (`avg` alone), or the smallest,
/// mean and largest value over a roll-up's samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stat {
    /// Smallest value (roll-ups only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Mean value (the value itself for a raw sample).
    pub avg: f64,
    /// Largest value (roll-ups only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Stat {
    /// The value of one raw sample.
    pub fn value(v: f64) -> Self {
        Self {
            min: None,
            avg: v,
            max: None,
        }
    }
}

/// One point of a history answer. A metric is `null` when no sample of the point had a
/// finite value for it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryPoint {
    /// Start of the point, Unix ms (the sample's receive time for raw points).
    pub t: u64,
    /// Raw samples the point summarises.
    pub samples: u64,
    /// CPU busy, percent of all cores.
    pub cpu_total_pct: Option<Stat>,
    /// Memory in use, percent of physical memory.
    pub mem_used_pct: Option<Stat>,
    /// Swap in use, percent of swap (0 without swap).
    pub swap_used_pct: Option<Stat>,
    /// Load average over one minute.
    pub load1: Option<Stat>,
    /// Receive rate over every interface but loopback, bytes/s.
    pub net_rx_bytes_per_sec: Option<Stat>,
    /// Transmit rate over every interface but loopback, bytes/s.
    pub net_tx_bytes_per_sec: Option<Stat>,
    /// Established TCP connections.
    pub tcp_established: Option<Stat>,
    /// Used share of each mount, percent, by mount point (at most the first 8 mounts a
    /// slave reports).
    pub disk_used_pct: BTreeMap<String, Stat>,
}

/// What `GET /api/v1/nodes/{node}/metrics` answers (less the echo of the query).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricHistory {
    /// The tier the points come from.
    pub tier: Tier,
    /// Time one point spans, ms (raw points: the slice of the range each stands for).
    pub step_ms: u64,
    /// Points, oldest first.
    pub points: Vec<HistoryPoint>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEEP: TierRetention = TierRetention {
        raw_ms: DAY_MS,
        minute_ms: 7 * DAY_MS,
        hour_ms: 90 * DAY_MS,
    };
    const NOW: u64 = 1_000 * DAY_MS;

    fn pick(range_ms: u64, points: usize) -> Tier {
        pick_tier(NOW - range_ms, NOW, points, NOW, &KEEP)
    }

    #[test]
    fn short_ranges_are_raw_long_ones_roll_up() {
        assert_eq!(pick(15 * MINUTE_MS, 300), Tier::Raw);
        assert_eq!(pick(HOUR_MS, 300), Tier::Raw);
        // 6 h at 300 points: 72 s a point, more than a minute.
        assert_eq!(pick(6 * HOUR_MS, 300), Tier::Minute);
        // ... but at 600 points, 36 s a point: raw still covers it.
        assert_eq!(pick(6 * HOUR_MS, 600), Tier::Raw);
        assert_eq!(pick(DAY_MS, 300), Tier::Minute);
        assert_eq!(pick(7 * DAY_MS, 300), Tier::Minute);
        assert_eq!(pick(30 * DAY_MS, 300), Tier::Hour);
        // 7 days at 100 points: 100.8 minutes a point.
        assert_eq!(pick(7 * DAY_MS, 100), Tier::Hour);
        assert_eq!(pick(0, 0), Tier::Raw);
    }

    #[test]
    fn ranges_older_than_a_tier_go_coarser() {
        // 15 minutes two days ago: raw samples are gone (kept one day).
        let from = NOW - 2 * DAY_MS;
        let t = pick_tier(from, from + 15 * MINUTE_MS, 300, NOW, &KEEP);
        assert_eq!(t, Tier::Minute);
        // 15 minutes ten days ago: only hours are left.
        let from = NOW - 10 * DAY_MS;
        let t = pick_tier(from, from + 15 * MINUTE_MS, 300, NOW, &KEEP);
        assert_eq!(t, Tier::Hour);
        // Exactly at the raw boundary still counts as kept.
        let from = NOW - DAY_MS;
        assert_eq!(pick_tier(from, from + 1000, 300, NOW, &KEEP), Tier::Raw);
        assert_eq!(
            pick_tier(from - 1, from + 1000, 300, NOW, &KEEP),
            Tier::Minute
        );
        // A clock near zero does not underflow.
        assert_eq!(pick_tier(0, 1000, 300, 5, &KEEP), Tier::Raw);
    }

    #[test]
    fn stats_serialise_min_max_only_when_present() {
        let raw = serde_json::to_value(Stat::value(2.5)).unwrap();
        assert_eq!(raw, serde_json::json!({ "avg": 2.5 }));
        let r = Stat {
            min: Some(1.0),
            avg: 2.0,
            max: Some(3.0),
        };
        let v = serde_json::to_value(r).unwrap();
        assert_eq!(v, serde_json::json!({ "min": 1.0, "avg": 2.0, "max": 3.0 }));
        assert_eq!(serde_json::to_value(Tier::Minute).unwrap(), "1m");
        assert_eq!(Tier::Hour.as_str(), "1h");
    }
}
