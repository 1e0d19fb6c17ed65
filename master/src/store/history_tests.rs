//! The metric history's tiers against both stores: roll-ups, retention by age and by size,
//! the query's tier choice, and an old (pre-tier) LMDB environment opening and filling its
//! tiers. Time is passed in everywhere.

use std::convert::Infallible;

use heed::types::{Bytes, Str};
use heed::{CommitOrAbort, EnvOpenOptions};
use model::history::{DAY_MS, HOUR_MS, MINUTE_MS, Stat, Tier, TierRetention};
use protocol::MetricSample;

use super::history::{self, LATENESS_MS};
use super::rollup::Rollup;
use super::schema;
use super::*;
use crate::samples::encode_sample;

/// An hour boundary.
const T0: u64 = 1_700_000_000_000 / HOUR_MS * HOUR_MS;

const KEEP: TierRetention = TierRetention {
    raw_ms: DAY_MS,
    minute_ms: 7 * DAY_MS,
    hour_ms: 90 * DAY_MS,
};

fn sample(cpu: f32) -> MetricSample {
    MetricSample {
        cpu_total_pct: cpu,
        mem_total_bytes: 1000,
        mem_used_bytes: 500,
        tcp_established: 3,
        ..MetricSample::default()
    }
}

fn raw(node_id: u64, at: u64, cpu: f32) -> SampleRow {
    SampleRow {
        node_id,
        taken_at_ms: at,
        bytes: encode_sample(&sample(cpu)).unwrap(),
    }
}

/// Samples of `node` every 10 s over `[from, to)`, CPU = seconds into the minute.
fn fill(store: &dyn Store, node: u64, from: u64, to: u64) {
    let rows: Vec<SampleRow> = (from..to)
        .step_by(10_000)
        .map(|t| raw(node, t, ((t % MINUTE_MS) / 1000) as f32))
        .collect();
    store.append_samples(&rows).unwrap();
}

fn rollup_at(store: &dyn Store, tier: Tier, node: u64, at: u64) -> Rollup {
    let rows = store.series(tier, node, at, at, 1).unwrap();
    Rollup::decode(&rows[0].bytes).unwrap()
}

fn cpu(r: &Rollup) -> Stat {
    r.point(0).cpu_total_pct.unwrap()
}

fn each_store(test: impl Fn(&dyn Store)) {
    test(&MemoryStore::new());
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(&dir.path().join("data"), &dir.path().join("performance")).unwrap();
    test(&store);
}

fn rolls_minutes_then_hours(store: &dyn Store) {
    // Two hours and a half of node 1, ten minutes of node 2.
    fill(store, 1, T0, T0 + 150 * MINUTE_MS);
    fill(store, 2, T0 + 30 * MINUTE_MS, T0 + 40 * MINUTE_MS);
    let now = T0 + 150 * MINUTE_MS;

    // Before the lateness has passed the last minute is not complete yet.
    let (minutes, hours) = history::roll_up(store, now).unwrap();
    // Node 1: minutes 0..149 and hours 0 and 1; node 2: minutes 30..40 and hour 0.
    assert_eq!((minutes, hours), (149 + 10, 2 + 1));
    let m = rollup_at(store, Tier::Minute, 1, T0 + 5 * MINUTE_MS);
    assert_eq!(m.samples, 6);
    // CPU 0, 10, ... 50 within each minute.
    assert_eq!(
        cpu(&m),
        Stat {
            min: Some(0.0),
            avg: 25.0,
            max: Some(50.0)
        }
    );
    let mem = m.point(0).mem_used_pct.unwrap();
    assert_eq!((mem.min, mem.avg, mem.max), (Some(50.0), 50.0, Some(50.0)));
    let h = rollup_at(store, Tier::Hour, 1, T0 + HOUR_MS);
    assert_eq!(h.samples, 360);
    assert_eq!(cpu(&h), cpu(&m), "an hour of identical minutes");
    assert_eq!(rollup_at(store, Tier::Hour, 2, T0).samples, 60);

    // Nothing new: nothing written. Once the lateness passes, the last minute comes.
    assert_eq!(history::roll_up(store, now).unwrap(), (0, 0));
    assert_eq!(history::roll_up(store, now + LATENESS_MS).unwrap(), (1, 0));
    assert_eq!(
        store.series_usage(Tier::Minute).unwrap().rows,
        150 + 10,
        "one row per node and minute"
    );

    // New samples in the next hours roll up from where the tiers stopped.
    fill(store, 1, T0 + 150 * MINUTE_MS, T0 + 181 * MINUTE_MS);
    fill(store, 2, T0 + 60 * MINUTE_MS, T0 + 61 * MINUTE_MS);
    let (minutes, hours) = history::roll_up(store, T0 + 181 * MINUTE_MS + LATENESS_MS).unwrap();
    assert_eq!((minutes, hours), (31 + 1, 1 + 1));
    let h = rollup_at(store, Tier::Hour, 1, T0 + 2 * HOUR_MS);
    assert_eq!(h.samples, 360);
    assert_eq!(rollup_at(store, Tier::Hour, 2, T0 + HOUR_MS).samples, 6);
}

#[test]
fn roll_ups_of_minutes_and_hours() {
    each_store(rolls_minutes_then_hours);
}

fn node_two_hour_zero_completes(store: &dyn Store) {
    fill(store, 2, T0 + 30 * MINUTE_MS, T0 + 40 * MINUTE_MS);
    assert_eq!(history::roll_up(store, T0 + HOUR_MS).unwrap(), (10, 0));
    assert_eq!(
        history::roll_up(store, T0 + HOUR_MS + LATENESS_MS).unwrap(),
        (0, 1)
    );
    let h = rollup_at(store, Tier::Hour, 2, T0);
    assert_eq!(h.samples, 60);
}

#[test]
fn an_hour_rolls_up_once_complete() {
    each_store(node_two_hour_zero_completes);
}

fn prunes_by_age(store: &dyn Store) {
    let now = T0 + 100 * DAY_MS;
    for (tier, age) in [
        (Tier::Raw, KEEP.raw_ms),
        (Tier::Minute, KEEP.minute_ms),
        (Tier::Hour, KEEP.hour_ms),
    ] {
        let rows = [
            raw(1, now - age - 1, 1.0),
            raw(1, now - age, 1.0),
            raw(2, now - age - 5, 1.0),
            raw(2, now - 1, 1.0),
        ];
        store.append_series(tier, &rows).unwrap();
    }
    assert_eq!(history::prune_by_age(store, &KEEP, now).unwrap(), 6);
    for (tier, age) in [
        (Tier::Raw, KEEP.raw_ms),
        (Tier::Minute, KEEP.minute_ms),
        (Tier::Hour, KEEP.hour_ms),
    ] {
        let one: Vec<u64> = store
            .series(tier, 1, 0, u64::MAX, 10)
            .unwrap()
            .iter()
            .map(|r| r.taken_at_ms)
            .collect();
        assert_eq!(one, [now - age], "{tier:?}");
        assert_eq!(store.series_nodes(tier).unwrap(), [1, 2]);
    }
    assert_eq!(history::prune_by_age(store, &KEEP, now).unwrap(), 0);
}

#[test]
fn retention_by_age_per_tier() {
    each_store(prunes_by_age);
}

fn prunes_by_size(store: &dyn Store) {
    // A day of raw samples of two nodes every 10 s (17,280 rows), rolled up.
    for node in [1, 2] {
        fill(store, node, T0, T0 + DAY_MS);
    }
    history::roll_up(store, T0 + DAY_MS + LATENESS_MS).unwrap();
    let usage = |tier| store.series_usage(tier).unwrap();
    let (raw0, minute0, hour0) = (usage(Tier::Raw), usage(Tier::Minute), usage(Tier::Hour));
    assert_eq!(raw0.rows, 2 * 8640);
    assert_eq!((minute0.rows, hour0.rows), (2 * 1440, 2 * 24));
    let total = history::total_bytes(store).unwrap();

    // Under the cap: nothing goes.
    assert_eq!(history::prune_by_size(store, total).unwrap(), 0);

    // Half the raw tier over the cap: the oldest raw samples go, roll-ups stay.
    let cap = total - raw0.bytes / 2;
    let removed = history::prune_by_size(store, cap).unwrap();
    assert!(removed > 0);
    assert!(history::total_bytes(store).unwrap() <= cap);
    assert_eq!(usage(Tier::Minute).rows, minute0.rows);
    assert_eq!(usage(Tier::Hour).rows, hour0.rows);
    for node in [1, 2] {
        let oldest = store.series(Tier::Raw, node, 0, u64::MAX, 1).unwrap()[0].taken_at_ms;
        assert!(oldest > T0 + 6 * HOUR_MS, "the oldest went first: {oldest}");
        let newest = store.latest_sample(node).unwrap().unwrap().taken_at_ms;
        assert_eq!(newest, T0 + DAY_MS - 10_000, "the newest stayed");
        // No hole: every sample after the oldest kept is still there.
        let kept = store
            .series(Tier::Raw, node, 0, u64::MAX, usize::MAX)
            .unwrap();
        assert_eq!(kept.len() as u64, (newest - oldest) / 10_000 + 1);
    }

    // A cap below the roll-ups alone: raw is emptied first, then the oldest minutes.
    let cap = (minute0.bytes + hour0.bytes) * 3 / 4;
    history::prune_by_size(store, cap).unwrap();
    assert_eq!(usage(Tier::Raw).rows, 0);
    assert!(usage(Tier::Minute).rows < minute0.rows);
    assert_eq!(usage(Tier::Hour).rows, hour0.rows);
    assert!(history::total_bytes(store).unwrap() <= cap);
    let newest_minute = store.latest_in_series(Tier::Minute, 1).unwrap().unwrap();
    assert_eq!(newest_minute.taken_at_ms, T0 + DAY_MS - MINUTE_MS);
}

#[test]
fn retention_by_size_takes_the_finest_tier_oldest_first() {
    each_store(prunes_by_size);
}

fn picks_tiers(store: &dyn Store) {
    // Forty days of hours, eight of minutes, two of raw samples; now is the end.
    let now = T0 + 40 * DAY_MS;
    fill(store, 1, now - 2 * DAY_MS, now);
    history::roll_up(store, now + LATENESS_MS).unwrap();
    // Older minutes and hours written directly (as an earlier master would have).
    let mut r = Rollup::default();
    r.add(&super::rollup::Values::of(&sample(80.0)));
    r.add(&super::rollup::Values::of(&sample(20.0)));
    let minutes: Vec<SampleRow> = (0..6 * 1440)
        .map(|i| SampleRow {
            node_id: 1,
            taken_at_ms: now - 8 * DAY_MS + i * MINUTE_MS,
            bytes: r.encode(),
        })
        .collect();
    store.append_series(Tier::Minute, &minutes).unwrap();
    let hours: Vec<SampleRow> = (0..38 * 24)
        .map(|i| SampleRow {
            node_id: 1,
            taken_at_ms: T0 + i * HOUR_MS,
            bytes: r.encode(),
        })
        .collect();
    store.append_series(Tier::Hour, &hours).unwrap();
    let query = |range: u64, points| {
        history::history(store, 1, now - range, now - 1, points, &KEEP, now).unwrap()
    };

    let h = query(15 * MINUTE_MS, 300);
    assert_eq!((h.tier, h.step_ms), (Tier::Raw, 3000));
    assert_eq!(h.points.len(), 90, "one sample every 10 s");
    let p = &h.points[1];
    assert_eq!(p.cpu_total_pct, Some(Stat::value(10.0)));
    assert_eq!(p.t, now - 15 * MINUTE_MS + 10_000);

    let h = query(DAY_MS, 300);
    assert_eq!((h.tier, h.step_ms), (Tier::Minute, 5 * MINUTE_MS));
    assert_eq!(h.points.len(), 288);
    let p = &h.points[0];
    assert_eq!(p.t % (5 * MINUTE_MS), (now - DAY_MS) % (5 * MINUTE_MS));
    assert_eq!(p.samples, 30, "five minutes of six samples");
    let c = p.cpu_total_pct.unwrap();
    assert_eq!((c.min, c.avg, c.max), (Some(0.0), 25.0, Some(50.0)));

    // A week: 1-minute roll-ups written by hand for the older days.
    let h = query(7 * DAY_MS, 300);
    assert_eq!((h.tier, h.step_ms), (Tier::Minute, 34 * MINUTE_MS));
    let c = h.points[0].cpu_total_pct.unwrap();
    assert_eq!((c.min, c.avg, c.max), (Some(20.0), 50.0, Some(80.0)));

    let h = query(30 * DAY_MS, 300);
    assert_eq!((h.tier, h.step_ms), (Tier::Hour, 3 * HOUR_MS));
    assert_eq!(h.points.len(), 240);
    assert!(
        h.points
            .iter()
            .all(|p| p.cpu_total_pct.unwrap().max.is_some())
    );

    // Raw is gone past its retention: the same 15 minutes a week ago come from minutes.
    let old = now - 7 * DAY_MS;
    let h = history::history(store, 1, old, old + 15 * MINUTE_MS, 300, &KEEP, now).unwrap();
    assert_eq!(
        (h.tier, h.step_ms, h.points.len()),
        (Tier::Minute, MINUTE_MS, 16)
    );
    // Unknown node, inverted range: no points.
    assert!(
        history::history(store, 9, now - HOUR_MS, now, 300, &KEEP, now)
            .unwrap()
            .points
            .is_empty()
    );
    assert!(
        history::history(store, 1, now, now - 1, 300, &KEEP, now)
            .unwrap()
            .points
            .is_empty()
    );
}

#[test]
fn queries_pick_their_tier() {
    each_store(picks_tiers);
}

#[test]
fn maintain_rolls_up_before_pruning() {
    each_store(|store| {
        fill(store, 1, T0, T0 + 2 * HOUR_MS);
        let policy = history::HistoryPolicy {
            keep: TierRetention {
                raw_ms: HOUR_MS,
                ..KEEP
            },
            max_bytes: u64::MAX,
        };
        let report = history::maintain(store, &policy, T0 + 2 * HOUR_MS + LATENESS_MS).unwrap();
        assert_eq!((report.minutes, report.hours, report.capped), (120, 2, 0));
        // Raw samples before now - 1 h (T0 + 1 h + 5 s): the first hour and T0 + 1 h itself,
        // rolled up first.
        assert_eq!(report.aged, 361);
        assert_eq!(rollup_at(store, Tier::Minute, 1, T0).samples, 6);
    });
}

/// A performance environment as a build before the tiers wrote it: `meta` at version 1
/// and `samples` only.
#[test]
fn pre_tier_store_opens_and_fills_its_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let perf = dir.path().join("performance");
    std::fs::create_dir_all(&perf).unwrap();
    {
        // SAFETY: a fresh temporary directory, mapped once here and closed before reopening.
        #[allow(unsafe_code)]
        let env = unsafe {
            EnvOpenOptions::new()
                .read_txn_without_tls()
                .map_size(64 << 20)
                .max_dbs(4)
                .open(&perf)
                .unwrap()
        };
        let wtxn = env.write_txn().unwrap();
        let outcome = env
            .create_databases_and_commit(wtxn, |o, w| {
                let meta = o.create_database::<Str, Bytes>(w, Some(schema::META_DB))?;
                meta.put(w, schema::SCHEMA_VERSION_KEY, &1u32.to_be_bytes())?;
                let samples = o.create_database::<Bytes, Bytes>(w, Some(schema::SAMPLES_DB))?;
                for i in 0..180u64 {
                    let at = T0 + i * 20_000;
                    let bytes = encode_sample(&sample(i as f32)).unwrap();
                    samples.put(w, &schema::sample_key(4, at), &bytes)?;
                }
                Ok::<_, heed::Error>(CommitOrAbort::<_, Infallible>::Commit(()))
            })
            .unwrap();
        assert!(matches!(outcome, CommitOrAbort::Commit(())));
        env.prepare_for_closing().wait();
    }
    let store = LmdbStore::open(&dir.path().join("data"), &perf).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::SCHEMA_VERSION);
    assert_eq!(store.series_usage(Tier::Minute).unwrap().rows, 0);
    assert_eq!(
        store.samples(4, 0, u64::MAX, usize::MAX).unwrap().len(),
        180
    );
    // The first pass fills both tiers from the old samples.
    assert_eq!(history::roll_up(&store, T0 + 2 * HOUR_MS).unwrap(), (60, 1));
    let m = rollup_at(&store, Tier::Minute, 4, T0 + MINUTE_MS);
    assert_eq!(
        cpu(&m),
        Stat {
            min: Some(3.0),
            avg: 4.0,
            max: Some(5.0)
        }
    );
    assert_eq!(rollup_at(&store, Tier::Hour, 4, T0).samples, 180);
}
