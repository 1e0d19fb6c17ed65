//! `GET /api/v1/nodes/{node}/metrics` over the master's real cluster service and an
//! in-memory store holding every tier: the tier it picks for 15 minutes, a day and 30 days,
//! min/avg/max only from roll-ups, and the 400s and 404s of its query.

use crate::console::common::*;
use axum::http::StatusCode;
use master::cluster::{Cluster as MasterCluster, ClusterTiming};
use master::services::DataFiles;
use master::store::history::{HistoryPolicy, roll_up};
use master::store::rollup::{Rollup, Values};
use master::store::{MemoryStore, SampleRow, Store, Tier};
use model::ServiceError;
use model::alert::{AlertList, AlertQuery, AlertRecord};
use model::clock::ManualClock;
use model::cluster::NodeRecord;
use model::data::{BackupFile, CompactReport, CompactionStatus, DataEnv};
use model::history::{DAY_MS, HOUR_MS, MINUTE_MS, MetricHistory};
use model::node::{LiveSample, NodeView, StorageView};
use model::ops::BoxFuture;
use model::service::Cluster;
use protocol::MetricSample;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// The master's cluster service for nodes and history; the fake for the rest.
struct Real {
    cluster: MasterCluster,
    fake: Fake,
}

impl Cluster for Real {
    fn nodes(&self) -> BoxFuture<'_, Result<Vec<NodeView>, ServiceError>> {
        self.cluster.nodes()
    }
    fn node(&self, id: u64) -> BoxFuture<'_, Result<Option<NodeView>, ServiceError>> {
        self.cluster.node(id)
    }
    fn storage(&self) -> BoxFuture<'_, Result<StorageView, ServiceError>> {
        self.cluster.storage()
    }
    fn sample_series(
        &self,
        id: u64,
        from_ms: u64,
        to_ms: u64,
        points: usize,
    ) -> BoxFuture<'_, Result<Vec<(u64, MetricSample)>, ServiceError>> {
        self.cluster.sample_series(id, from_ms, to_ms, points)
    }
    fn metric_history(
        &self,
        id: u64,
        from_ms: u64,
        to_ms: u64,
        points: usize,
    ) -> BoxFuture<'_, Result<MetricHistory, ServiceError>> {
        self.cluster.metric_history(id, from_ms, to_ms, points)
    }
    fn live_samples(&self) -> Option<broadcast::Receiver<LiveSample>> {
        self.fake.live_samples()
    }
    fn alerts(&self, query: AlertQuery) -> BoxFuture<'_, Result<AlertList, ServiceError>> {
        self.fake.alerts(query)
    }
    fn alert_events(&self) -> Option<broadcast::Receiver<AlertRecord>> {
        self.fake.alert_events()
    }
    fn master_counters(&self) -> model::node::MasterCounters {
        self.cluster.master_counters()
    }
}

impl DataFiles for Real {
    fn compact(&self) -> BoxFuture<'_, Result<CompactReport, ServiceError>> {
        self.fake.compact()
    }
    fn compaction_status(&self) -> BoxFuture<'_, Result<CompactionStatus, ServiceError>> {
        self.fake.compaction_status()
    }
    fn cancel_compaction(&self) -> BoxFuture<'_, Result<bool, ServiceError>> {
        self.fake.cancel_compaction()
    }
    fn backup(&self, env: DataEnv) -> BoxFuture<'_, Result<BackupFile, ServiceError>> {
        self.fake.backup(env)
    }
    fn reset_samples(&self, older_than_ms: u64) -> BoxFuture<'_, Result<u64, ServiceError>> {
        self.fake.reset_samples(older_than_ms)
    }
}

/// The master's clock for these tests: the app's start, on a minute boundary.
const NOW: u64 = START_MS / MINUTE_MS * MINUTE_MS;

/// Node 5 with two hours of raw samples (every 10 s), rolled up, and 40 days of hours.
fn backend() -> Real {
    let store = Arc::new(MemoryStore::new());
    store
        .put_node(&NodeRecord {
            id: 5,
            public_key: [5; 32],
            hostname: "five".into(),
            agent_version: "0.1.0".into(),
            enrolled_at_ms: NOW - 50 * DAY_MS,
            last_seen_ms: NOW,
            revoked: false,
            host_info: None,
        })
        .unwrap();
    let rows: Vec<SampleRow> = (0..720u64)
        .map(|i| {
            let mut s = metrics();
            s.cpu_total_pct = (i % 6) as f32 * 10.0; // 0..50 within each minute
            SampleRow {
                node_id: 5,
                taken_at_ms: NOW - 2 * HOUR_MS + i * 10_000,
                bytes: master::samples::encode_sample(&s).unwrap(),
            }
        })
        .collect();
    store.append_samples(&rows).unwrap();
    roll_up(store.as_ref(), NOW + 60_000).unwrap();
    let mut hour = Rollup::default();
    hour.add(&Values::of(&metrics()));
    let hours: Vec<SampleRow> = (1..40 * 24)
        .map(|i| SampleRow {
            node_id: 5,
            taken_at_ms: NOW / HOUR_MS * HOUR_MS - 2 * HOUR_MS - i * HOUR_MS,
            bytes: hour.encode(),
        })
        .collect();
    store.append_series(Tier::Hour, &hours).unwrap();
    let timing = ClusterTiming {
        heartbeat_interval: Duration::from_secs(5),
        ttl: Duration::from_secs(15),
        grace: Duration::from_secs(10),
        jitter: Duration::ZERO,
        history: HistoryPolicy::default(),
    };
    let clock = Arc::new(ManualClock::new(NOW));
    let cluster = MasterCluster::open(store, timing, clock).unwrap();
    Real {
        cluster,
        fake: Fake::Nodes(Vec::new()),
    }
}

/// `range_ms` up to now (`to` is inclusive, so it ends a millisecond before).
fn window(range_ms: u64, points: &str) -> String {
    format!(
        "/api/v1/nodes/5/metrics?from={}&to={}{points}",
        NOW - range_ms,
        NOW - 1
    )
}

#[tokio::test]
async fn history_picks_raw_minutes_or_hours_by_range() {
    let (app, s) = TestApp::ready_over(backend()).await;
    let get = |path: String| app.send(Req::get(&path).bearer(&s.token));

    let r = get(window(15 * MINUTE_MS, "")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = r.json();
    assert_eq!(
        (body["node"].clone(), body["tier"].clone()),
        (json!(5), json!("raw"))
    );
    assert_eq!(
        body["step_ms"], 3000,
        "15 minutes at the default 300 points"
    );
    let points = body["points"].as_array().unwrap();
    assert_eq!(points.len(), 90, "a sample every 10 s");
    assert_eq!(points[1]["cpu_total_pct"], json!({ "avg": 10.0 }));
    assert_eq!(points[1]["mem_used_pct"], json!({ "avg": 18.75 }));
    assert_eq!(points[1]["samples"], 1);

    // A day: 1-minute roll-ups, five to a point, with min and max.
    let body = get(window(DAY_MS, "&points=288")).await.json();
    assert_eq!(
        (body["tier"].clone(), body["step_ms"].clone()),
        (json!("1m"), json!(5 * MINUTE_MS))
    );
    let points = body["points"].as_array().unwrap();
    assert_eq!(points.len(), 24, "two hours of minutes");
    assert_eq!(points[0]["samples"], 30);
    assert_eq!(
        points[0]["cpu_total_pct"],
        json!({ "min": 0.0, "avg": 25.0, "max": 50.0 })
    );

    // The same day at 2000 points still fits raw samples (43 s a point).
    let body = get(window(DAY_MS, "&points=2000")).await.json();
    assert_eq!(body["tier"], "raw");

    // Thirty days: 1-hour roll-ups.
    let body = get(window(30 * DAY_MS, "&points=100")).await.json();
    assert_eq!(
        (body["tier"].clone(), body["step_ms"].clone()),
        (json!("1h"), json!(8 * HOUR_MS))
    );
    let points = body["points"].as_array().unwrap();
    assert!(points.len() >= 89, "{}", points.len());
    let cpu = &points[0]["cpu_total_pct"];
    assert_eq!(
        (cpu["min"].clone(), cpu["max"].clone()),
        (json!(12.5), json!(12.5))
    );
}

#[tokio::test]
async fn history_refuses_bad_queries_naming_the_field() {
    let (app, s) = TestApp::ready_over(backend()).await;
    let get = |path: String| app.send(Req::get(&path).bearer(&s.token));
    for (path, status, field) in [
        (
            window(DAY_MS, "&points=0"),
            StatusCode::BAD_REQUEST,
            "points",
        ),
        (
            window(DAY_MS, "&points=2001"),
            StatusCode::BAD_REQUEST,
            "points",
        ),
        (
            window(DAY_MS, "&points=many"),
            StatusCode::BAD_REQUEST,
            "points",
        ),
        (window(367 * DAY_MS, ""), StatusCode::BAD_REQUEST, "from"),
        (
            format!("/api/v1/nodes/5/metrics?from={NOW}&to=1"),
            StatusCode::BAD_REQUEST,
            "from",
        ),
        (
            "/api/v1/nodes/5/metrics?from=-1".into(),
            StatusCode::BAD_REQUEST,
            "from",
        ),
        (
            "/api/v1/nodes/5/metrics?to=soon".into(),
            StatusCode::BAD_REQUEST,
            "to",
        ),
        (
            "/api/v1/nodes/6/metrics".into(),
            StatusCode::NOT_FOUND,
            "node",
        ),
        (
            "/api/v1/nodes/five/metrics".into(),
            StatusCode::NOT_FOUND,
            "node",
        ),
    ] {
        let r = get(path.clone()).await;
        assert_eq!(r.status, status, "{path}: {}", r.body);
        let error = r.json()["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains(field), "{path}: {error:?} names {field}");
    }
    // The longest window is fine, and an unauthenticated call is not.
    let r = get(window(366 * DAY_MS, "")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["tier"], "1h");
    let r = app.send(Req::get(&window(DAY_MS, ""))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
