//! `history`: the metric history's tiers in a real LMDB store, without a master process.
//!
//! 1. Ingest: a day of raw samples (the ingest benchmark's 50-value heartbeat) of every
//!    simulated slave, at the heartbeat interval, through the master's [`StoreWriter`]
//!    (group commits, as the heartbeat path feeds it): samples per second.
//! 2. Roll-up: the master's roll-up pass over that day (1-minute and 1-hour tiers):
//!    samples rolled per second.
//! 3. Older tiers written directly (1-minute roll-ups back to `--minute-days`, 1-hour ones
//!    back to `--days`), then the query each node's chart makes for 15 minutes, 24 hours,
//!    7 days and 30 days at 300 points, timed per call (p50, p99, max) with the tier picked.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use master::samples::encode_sample;
use master::store::history::{HistoryPolicy, history, roll_up, total_bytes};
use master::store::rollup::{Rollup, Values};
use master::store::{LmdbStore, SampleRow, Store, StoreWriter, Tier};
use model::history::{DAY_MS, HOUR_MS, MINUTE_MS};

use crate::ingest::sample;
use crate::report::{machine_line, now_utc};

/// Options of `commander-bench history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Simulated slaves.
    #[arg(long, default_value_t = 100)]
    pub slaves: u64,
    /// Days of history (1-hour roll-ups) to query over.
    #[arg(long, default_value_t = 30)]
    pub days: u64,
    /// Days of 1-minute roll-ups.
    #[arg(long, default_value_t = 7)]
    pub minute_days: u64,
    /// Heartbeat interval of the raw day, ms.
    #[arg(long, default_value_t = 5000)]
    pub interval_ms: u64,
    /// Queries per node and range.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the benchmark in a temporary directory and returns the markdown report.
pub fn run(args: &HistoryArgs) -> anyhow::Result<String> {
    let dir = tempfile::Builder::new()
        .prefix("commander-bench-history-")
        .tempdir()?;
    let store: Arc<dyn Store> = Arc::new(LmdbStore::open(
        &dir.path().join("data"),
        &dir.path().join("performance"),
    )?);
    let now = now_ms() / MINUTE_MS * MINUTE_MS;
    let day_start = now - DAY_MS;
    let bytes = encode_sample(&sample(now))?;

    // 1. A day of raw samples through the writer, slave by slave in time order.
    eprintln!("ingesting a day of samples of {} slaves", args.slaves);
    let writer = StoreWriter::spawn(Arc::clone(&store));
    let started = Instant::now();
    let mut rows = 0u64;
    let mut t = day_start;
    while t < now {
        for node in 1..=args.slaves {
            // Spread the slaves over the interval, as their heartbeats are.
            let at = t + node * args.interval_ms / (args.slaves + 1);
            let row = SampleRow {
                node_id: node,
                taken_at_ms: at,
                bytes: bytes.clone(),
            };
            writer
                .submit(row)
                .map_err(|e| anyhow::anyhow!("store writer: {e}"))?;
            rows += 1;
        }
        t += args.interval_ms;
    }
    writer
        .flush()
        .map_err(|e| anyhow::anyhow!("store writer: {e}"))?;
    let ingest = started.elapsed().as_secs_f64();
    let batches = writer.batches();
    writer.shutdown();

    // 2. The roll-up pass over that day.
    eprintln!("rolling up {rows} samples");
    let started = Instant::now();
    let (minutes, hours) = roll_up(store.as_ref(), now + 60_000)?;
    let rollup = started.elapsed().as_secs_f64();

    // 3. Older roll-ups written directly.
    eprintln!("writing {} days of roll-ups", args.days);
    let mut r = Rollup::default();
    r.add(&Values::of(&sample(now)));
    let encoded = r.encode();
    for node in 1..=args.slaves {
        let minutes: Vec<SampleRow> = (1..=(args.minute_days.saturating_sub(1)) * 1440)
            .map(|i| SampleRow {
                node_id: node,
                taken_at_ms: day_start - i * MINUTE_MS,
                bytes: encoded.clone(),
            })
            .collect();
        for chunk in minutes.chunks(4096) {
            store.append_series(Tier::Minute, chunk)?;
        }
        let hours: Vec<SampleRow> = (1..=(args.days.saturating_sub(1)) * 24)
            .map(|i| SampleRow {
                node_id: node,
                taken_at_ms: day_start / HOUR_MS * HOUR_MS - i * HOUR_MS,
                bytes: encoded.clone(),
            })
            .collect();
        store.append_series(Tier::Hour, &hours)?;
    }
    let usage = |tier| store.series_usage(tier).map(|u| u.rows);
    let (raw_rows, minute_rows, hour_rows) =
        (usage(Tier::Raw)?, usage(Tier::Minute)?, usage(Tier::Hour)?);
    let size = total_bytes(store.as_ref())?;

    // 4. Queries.
    let keep = HistoryPolicy::default().keep;
    let mut lines = String::new();
    for (name, range) in [
        ("15 min", 15 * MINUTE_MS),
        ("24 h", DAY_MS),
        ("7 d", 7 * DAY_MS),
        ("30 d", 30 * DAY_MS),
    ] {
        let mut times = Vec::new();
        let (mut tier, mut points) = (Tier::Raw, 0);
        for _ in 0..args.repeat {
            for node in 1..=args.slaves {
                let started = Instant::now();
                let h = history(store.as_ref(), node, now - range, now, 300, &keep, now)?;
                times.push(started.elapsed().as_secs_f64() * 1000.0);
                (tier, points) = (h.tier, h.points.len());
            }
        }
        times.sort_by(f64::total_cmp);
        lines.push_str(&format!(
            "| {name} | {} | {points} | {:.2} ms | {:.2} ms | {:.2} ms |\n",
            tier.as_str(),
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times.last().copied().unwrap_or(0.0),
        ));
    }
    let cmd = format!(
        "commander-bench history --slaves {} --days {} --minute-days {} --interval-ms {} --repeat {}",
        args.slaves, args.days, args.minute_days, args.interval_ms, args.repeat
    );
    Ok(format!(
        "### Metric history tiers, {} ({})\n\n`{cmd}` (release build; LMDB on {})\n\n\
| phase | rows | time | rate |\n|---|---|---|---|\n\
| ingest: raw samples through the store writer ({batches} group commits) | {rows} | {ingest:.2} s | {:.0} samples/s |\n\
| roll-up pass over them (1-minute then 1-hour) | {minutes} minutes + {hours} hours written | {rollup:.2} s | {:.0} samples/s |\n\n\
Stored: {raw_rows} raw samples (1 day), {minute_rows} 1-minute roll-ups ({} days), {hour_rows} 1-hour roll-ups ({} days); {:.1} MiB of pages.\n\n\
Query of one node's chart at 300 points ({} queries per range):\n\n\
| range | tier | points | p50 | p99 | max |\n|---|---|---|---|---|---|\n{lines}",
        now_utc(),
        machine_line(),
        dir_fs(dir.path()),
        rows as f64 / ingest,
        rows as f64 / rollup,
        args.minute_days,
        args.days,
        size as f64 / 1048576.0,
        args.slaves * u64::from(args.repeat),
    ))
}

/// The file system of `path`, from /proc/mounts (best effort).
fn dir_fs(path: &Path) -> String {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut best = ("?".to_owned(), 0);
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (Some(_), Some(at), Some(fs)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if path.starts_with(at) && at.len() >= best.1 {
            best = (format!("{fs} at {at}"), at.len());
        }
    }
    best.0
}
