//! The metric history's tiers over any [`Store`]: the roll-up pass, retention by age and
//! by size, and the query that picks its tier. Everything takes `now` as an argument.
//!
//! The heartbeat path only queues raw samples ([`super::StoreWriter`]); [`maintain`] runs
//! off it, every [`MAINTAIN_INTERVAL_MS`] on a blocking thread of the master:
//!
//! 1. [`roll_up`]: for each node, every complete minute since its newest 1-minute roll-up
//!    (or since its oldest raw sample) becomes one `rollup_1m` row, then every complete
//!    hour since its newest 1-hour roll-up becomes one `rollup_1h` row (from the minutes).
//!    A bucket counts as complete [`LATENESS_MS`] after its end, so samples still queued
//!    in the writer land first.
//! 2. [`prune_by_age`]: each tier loses its rows older than its retention.
//! 3. [`prune_by_size`]: while the three tiers together take more than the size cap, the
//!    oldest rows of the finest tier that still has rows go first (raw, then 1-minute,
//!    then 1-hour), down to 1/16 under the cap.

use model::history::{HOUR_MS, HistoryPoint, MetricHistory, Tier, TierRetention};

use super::rollup::{Rollup, Values};
use super::{SampleRow, Store, StoreError};
use crate::samples::{access_sample, decode_sample};

/// How often the master rolls up and prunes, ms.
pub const MAINTAIN_INTERVAL_MS: u64 = 60_000;
/// How long after its end a bucket is rolled up, ms.
pub const LATENESS_MS: u64 = 5_000;
/// Rows read from the store at a time.
const PAGE_ROWS: usize = 4096;

/// Retention of the tiers and the size cap (`metrics.*` in the master's configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryPolicy {
    /// How long each tier is kept.
    pub keep: TierRetention,
    /// Most bytes the three tiers may take together.
    pub max_bytes: u64,
}

/// Default raw retention: 24 hours.
pub const DEFAULT_RAW_HOURS: u64 = 24;
/// Default 1-minute roll-up retention: 7 days.
pub const DEFAULT_MINUTE_DAYS: u64 = 7;
/// Default 1-hour roll-up retention: 90 days.
pub const DEFAULT_HOUR_DAYS: u64 = 90;
/// Default size cap of the three tiers: 8 GiB, half the `performance` map.
pub const DEFAULT_MAX_BYTES: u64 = 8 << 30;

impl Default for HistoryPolicy {
    fn default() -> Self {
        Self {
            keep: TierRetention {
                raw_ms: DEFAULT_RAW_HOURS * HOUR_MS,
                minute_ms: DEFAULT_MINUTE_DAYS * model::history::DAY_MS,
                hour_ms: DEFAULT_HOUR_DAYS * model::history::DAY_MS,
            },
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// What one [`maintain`] pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaintainReport {
    /// 1-minute roll-ups written.
    pub minutes: u64,
    /// 1-hour roll-ups written.
    pub hours: u64,
    /// Rows removed for their age.
    pub aged: u64,
    /// Rows removed for the size cap.
    pub capped: u64,
}

/// Rolls up, then prunes by age, then by size.
pub fn maintain(
    store: &dyn Store,
    policy: &HistoryPolicy,
    now_ms: u64,
) -> Result<MaintainReport, StoreError> {
    let (minutes, hours) = roll_up(store, now_ms)?;
    let aged = prune_by_age(store, &policy.keep, now_ms)?;
    let capped = prune_by_size(store, policy.max_bytes)?;
    Ok(MaintainReport {
        minutes,
        hours,
        aged,
        capped,
    })
}

/// Writes the 1-minute and 1-hour roll-ups of every bucket complete at `now_ms` and not
/// rolled up yet; returns how many of each were written.
pub fn roll_up(store: &dyn Store, now_ms: u64) -> Result<(u64, u64), StoreError> {
    let cutoff = now_ms.saturating_sub(LATENESS_MS);
    // Roll-ups of many nodes share a transaction; the minutes are all written before the
    // hours read them.
    let mut minutes = Batch::new(store, Tier::Minute);
    for node in store.series_nodes(Tier::Raw)? {
        roll_node(store, node, Tier::Raw, &mut minutes, cutoff)?;
    }
    let minutes = minutes.finish()?;
    let mut hours = Batch::new(store, Tier::Hour);
    for node in store.series_nodes(Tier::Minute)? {
        roll_node(store, node, Tier::Minute, &mut hours, cutoff)?;
    }
    Ok((minutes, hours.finish()?))
}

/// Roll-up rows of one tier, appended [`PAGE_ROWS`] at a time.
struct Batch<'a> {
    store: &'a dyn Store,
    tier: Tier,
    rows: Vec<SampleRow>,
    written: u64,
}

impl<'a> Batch<'a> {
    fn new(store: &'a dyn Store, tier: Tier) -> Self {
        Self {
            store,
            tier,
            rows: Vec::new(),
            written: 0,
        }
    }

    fn push(&mut self, row: SampleRow) -> Result<(), StoreError> {
        self.rows.push(row);
        if self.rows.len() >= PAGE_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.store.append_series(self.tier, &self.rows)?;
        self.written += self.rows.len() as u64;
        self.rows.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<u64, StoreError> {
        self.flush()?;
        Ok(self.written)
    }
}

/// Counts a row of `tier` into `into`; an undecodable row is logged and skipped. A raw
/// sample is read in place (no allocation).
fn add_row(tier: Tier, row: &SampleRow, into: &mut Rollup) {
    let outcome = match tier {
        Tier::Raw => access_sample(&row.bytes)
            .map(|s| into.add_archived(s))
            .map_err(|e| e.to_string()),
        Tier::Minute | Tier::Hour => Rollup::decode(&row.bytes)
            .map(|r| into.merge(&r))
            .map_err(|e| e.to_string()),
    };
    if let Err(e) = outcome {
        let (node, at) = (row.node_id, row.taken_at_ms);
        tracing::warn!(
            node,
            at,
            tier = tier.as_str(),
            "undecodable row skipped: {e}"
        );
    }
}

/// Whether a row counted anything (a bucket of only undecodable rows is not written).
fn counted(r: &Rollup) -> bool {
    r.samples > 0
}

/// Rolls `src` rows of `node` up into `out`'s buckets ending at or before `cutoff`.
fn roll_node(
    store: &dyn Store,
    node: u64,
    src: Tier,
    out: &mut Batch<'_>,
    cutoff: u64,
) -> Result<(), StoreError> {
    let width = out.tier.bucket_ms();
    let end = cutoff / width * width; // buckets [b, b + width) with b + width <= end
    let start = match store.latest_in_series(out.tier, node)? {
        Some(last) => last.taken_at_ms.saturating_add(width),
        None => match store.series(src, node, 0, u64::MAX, 1)?.first() {
            Some(first) => first.taken_at_ms / width * width,
            None => return Ok(()),
        },
    };
    if start >= end {
        return Ok(());
    }
    let mut current: Option<(u64, Rollup)> = None;
    let mut from = start;
    loop {
        let page = store.series(src, node, from, end - 1, PAGE_ROWS)?;
        let Some(last) = page.last() else { break };
        let next = last.taken_at_ms.saturating_add(1);
        for row in &page {
            let bucket = row.taken_at_ms / width * width;
            if current.as_ref().is_some_and(|(b, _)| *b != bucket)
                && let Some((b, r)) = current.take()
                && counted(&r)
            {
                out.push(rollup_row(node, b, &r))?;
            }
            let (_, r) = current.get_or_insert_with(|| (bucket, Rollup::default()));
            add_row(src, row, r);
        }
        if page.len() < PAGE_ROWS || next >= end {
            break;
        }
        from = next;
    }
    if let Some((b, r)) = current
        && counted(&r)
    {
        out.push(rollup_row(node, b, &r))?;
    }
    Ok(())
}

fn rollup_row(node_id: u64, bucket: u64, r: &Rollup) -> SampleRow {
    SampleRow {
        node_id,
        taken_at_ms: bucket,
        bytes: r.encode(),
    }
}

/// Removes each tier's rows older than its retention; returns how many.
pub fn prune_by_age(
    store: &dyn Store,
    keep: &TierRetention,
    now_ms: u64,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    for tier in Tier::ALL {
        removed += store.prune_series(tier, now_ms.saturating_sub(keep.of(tier)))?;
    }
    Ok(removed)
}

/// Bytes the three tiers take together.
pub fn total_bytes(store: &dyn Store) -> Result<u64, StoreError> {
    let mut total = 0u64;
    for tier in Tier::ALL {
        total = total.saturating_add(store.series_usage(tier)?.bytes);
    }
    Ok(total)
}

/// Oldest and newest row time of a tier over every node; `None` when it is empty.
fn time_span(store: &dyn Store, tier: Tier) -> Result<Option<(u64, u64)>, StoreError> {
    let mut span: Option<(u64, u64)> = None;
    for node in store.series_nodes(tier)? {
        let first = store.series(tier, node, 0, u64::MAX, 1)?;
        let last = store.latest_in_series(tier, node)?;
        if let (Some(first), Some(last)) = (first.first(), last) {
            let (lo, hi) = span.unwrap_or((u64::MAX, 0));
            span = Some((lo.min(first.taken_at_ms), hi.max(last.taken_at_ms)));
        }
    }
    Ok(span)
}

/// While the tiers take more than `max_bytes`, removes the oldest rows of the finest tier
/// that has rows, until they take at most `max_bytes - max_bytes / 16`; returns how many
/// rows went. Each step removes the oldest share of the tier's time span that the excess
/// is of the tier's bytes (rows spread evenly over time), at least one millisecond's worth.
pub fn prune_by_size(store: &dyn Store, max_bytes: u64) -> Result<u64, StoreError> {
    let mut total = total_bytes(store)?;
    if total <= max_bytes {
        return Ok(0);
    }
    let target = max_bytes - max_bytes / 16;
    let mut removed = 0;
    for tier in Tier::ALL {
        // Bounded: each step removes at least the oldest millisecond of the tier.
        for _ in 0..64 {
            if total <= target {
                return Ok(removed);
            }
            let usage = store.series_usage(tier)?;
            let Some((oldest, newest)) = time_span(store, tier)? else {
                break;
            };
            if usage.rows == 0 || usage.bytes == 0 {
                break;
            }
            let excess = total - target;
            let share = (excess as f64 / usage.bytes as f64).min(1.0);
            let span = (newest - oldest).saturating_add(1);
            let cut = ((span as f64 * share).ceil() as u64).clamp(1, span);
            let n = store.prune_series(tier, oldest.saturating_add(cut))?;
            removed += n;
            total = total_bytes(store)?;
            tracing::info!(
                tier = tier.as_str(),
                removed = n,
                total_bytes = total,
                max_bytes,
                "metric history over its size cap; oldest rows removed"
            );
        }
    }
    Ok(removed)
}

/// The history of `node` over `[from_ms, to_ms]` in at most `points` points, from the tier
/// [`model::history::pick_tier`] picks at `now_ms`.
///
/// Raw: the first sample of each of `points` equal slices of the range (each point a
/// sample, `avg` only). Roll-ups: the tier's buckets merged into points of
/// `step_ms` (a multiple of the bucket width, at least one bucket, aligned to it), each
/// with min/avg/max over its buckets.
pub fn history(
    store: &dyn Store,
    node: u64,
    from_ms: u64,
    to_ms: u64,
    points: usize,
    keep: &TierRetention,
    now_ms: u64,
) -> Result<MetricHistory, StoreError> {
    let tier = model::history::pick_tier(from_ms, to_ms, points, now_ms, keep);
    let points = points.max(1);
    let span = to_ms.saturating_sub(from_ms).saturating_add(1);
    let step = span.div_ceil(points as u64).max(1);
    if from_ms > to_ms {
        return Ok(MetricHistory {
            tier,
            step_ms: step,
            points: Vec::new(),
        });
    }
    if tier == Tier::Raw {
        let points = raw_points(store, node, from_ms, to_ms, points)?;
        return Ok(MetricHistory {
            tier,
            step_ms: step,
            points,
        });
    }
    let width = tier.bucket_ms();
    let step = step.div_ceil(width).max(1) * width;
    let first = from_ms / width * width;
    let mut out: Vec<HistoryPoint> = Vec::new();
    let mut current: Option<(u64, Rollup)> = None;
    let mut from = first;
    loop {
        let page = store.series(tier, node, from, to_ms, PAGE_ROWS)?;
        let Some(last) = page.last() else { break };
        let next = last.taken_at_ms.saturating_add(1);
        for row in &page {
            let t = first + (row.taken_at_ms - first) / step * step;
            if current.as_ref().is_some_and(|(b, _)| *b != t)
                && let Some((b, r)) = current.take()
                && counted(&r)
            {
                out.push(r.point(b));
            }
            let (_, r) = current.get_or_insert_with(|| (t, Rollup::default()));
            add_row(tier, row, r);
        }
        if page.len() < PAGE_ROWS || next > to_ms {
            break;
        }
        from = next;
    }
    if let Some((b, r)) = current
        && counted(&r)
    {
        out.push(r.point(b));
    }
    Ok(MetricHistory {
        tier,
        step_ms: step,
        points: out,
    })
}

/// At most `points` raw samples spread over `[from, to]`: the first sample of each of
/// `points` equal slices. Empty stretches cost one lookup, so this is at most `points`
/// seeks.
fn raw_points(
    store: &dyn Store,
    node: u64,
    from: u64,
    to: u64,
    points: usize,
) -> Result<Vec<HistoryPoint>, StoreError> {
    let mut out = Vec::new();
    let span = (to - from).saturating_add(1);
    let step = span.div_ceil(points as u64).max(1);
    let mut start = from;
    while let Some(row) = store.samples(node, start, to, 1)?.pop() {
        match decode_sample(&row.bytes) {
            Ok(sample) => out.push(Values::of(&sample).point(row.taken_at_ms)),
            Err(e) => tracing::warn!(node, at = row.taken_at_ms, "undecodable sample: {e}"),
        }
        let slice = (row.taken_at_ms - from) / step;
        let next = from.saturating_add(slice.saturating_add(1).saturating_mul(step));
        if next > to || next <= row.taken_at_ms || out.len() >= points {
            break;
        }
        start = next;
    }
    Ok(out)
}
