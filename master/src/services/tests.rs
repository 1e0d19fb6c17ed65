//! Tests of the master's services: sample series, live broadcast, compaction, backups and
//! resets with their audit entries, on the memory store and on LMDB in a temporary
//! directory.

use super::cluster::sample_series;
use super::data::DataFiles;
use super::*;
use crate::accounts::{
    AccountService, AccountSettings, AuthStore, HashCost, LockoutPolicy, MemoryAuthStore,
};
use crate::endpoint::ControlEvent;
use crate::samples::encode_sample;
use crate::store::Store;
use crate::store::{LmdbStore, MemoryStore, SampleRow};
use crate::test_fixtures::{cluster_on, node_record as node};
use model::data::DataEnv;
use model::service::{AuditLog, Cluster as _, DataAdmin};
use protocol::MetricSample;
use protocol::{Heartbeat, Message};
use std::io::Read;
use std::time::Duration;

fn sample(cpu: f32) -> MetricSample {
    MetricSample {
        cpu_total_pct: cpu,
        ..MetricSample::default()
    }
}

fn row(node_id: u64, at: u64) -> SampleRow {
    SampleRow {
        node_id,
        taken_at_ms: at,
        bytes: encode_sample(&sample(at as f32)).unwrap(),
    }
}

#[test]
fn series_takes_the_first_sample_of_each_slice() {
    let store = MemoryStore::new();
    let rows: Vec<SampleRow> = (0..100).map(|i| row(1, 1000 + i * 10)).collect();
    store.append_samples(&rows).unwrap();
    store.append_samples(&[row(2, 1500)]).unwrap();
    // 100 samples over 1000..=1990, 10 slices of 100 ms: one sample per slice.
    let s = sample_series(&store, 1, 1000, 1999, 10).unwrap();
    let times: Vec<u64> = s.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, (0..10).map(|i| 1000 + i * 100).collect::<Vec<_>>());
    assert_eq!(s[3].1.cpu_total_pct, 1300.0);
    // More slices than samples: every sample once.
    assert_eq!(sample_series(&store, 1, 0, 5000, 2000).unwrap().len(), 100);
    // A window with a gap: empty slices are skipped in one lookup.
    assert_eq!(sample_series(&store, 2, 0, u64::MAX, 600).unwrap().len(), 1);
    assert!(sample_series(&store, 1, 5, 4, 10).unwrap().is_empty());
    assert!(sample_series(&store, 1, 0, 10, 0).unwrap().is_empty());
    assert!(
        sample_series(&store, 3, 0, u64::MAX, 10)
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn heartbeats_reach_live_listeners_until_closed() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    store.put_node(&node(1)).unwrap();
    let cluster = cluster_on(&store);
    let beat = |seq, cpu| ControlEvent::Message {
        node_id: 1,
        conn_id: 1,
        msg: Message::Heartbeat(Heartbeat {
            seq,
            sample: sample(cpu),
        }),
    };
    cluster.handle(beat(1, 1.0)); // nobody listens: nothing is sent
    let mut rx = cluster.live_samples().unwrap();
    cluster.handle(beat(2, 2.0));
    let got = rx.recv().await.unwrap();
    assert_eq!((got.node_id, got.sample.cpu_total_pct), (1, 2.0));
    assert!(
        rx.try_recv().is_err(),
        "the earlier heartbeat was not queued"
    );
    assert_eq!(cluster.node(1).await.unwrap().unwrap().hostname, "h1");
    assert!(cluster.node(9).await.unwrap().is_none());
    cluster.close_live();
    assert!(rx.recv().await.is_err());
    assert!(cluster.live_samples().is_none());
    cluster.handle(beat(3, 3.0)); // still fine with the broadcast closed
    let latest = cluster.node(1).await.unwrap().unwrap().metrics.unwrap();
    assert_eq!(latest.cpu_total_pct, 3.0);
}

/// The data service over `cluster`, auditing into an in-memory account store.
fn data_service(cluster: &Cluster) -> (DataService, Arc<AccountService>, StoreFiles) {
    let store: Arc<dyn AuthStore> = Arc::new(MemoryAuthStore::new());
    let clock: Arc<dyn model::Clock> = Arc::new(model::ManualClock::new(10 * 86_400_000));
    let settings = AccountSettings {
        jwt_secret: vec![7; 32],
        session_ttl: Duration::from_secs(60),
        lockout: LockoutPolicy::default(),
        hash_cost: HashCost::FAST_FOR_TESTS,
    };
    let accounts = Arc::new(AccountService::new(
        Arc::clone(&store),
        settings,
        Arc::clone(&clock),
    ));
    let audit: Arc<dyn AuditLog> = accounts.clone();
    let files = Arc::new(StoreFiles::new(
        Arc::clone(cluster.store()),
        Arc::clone(&clock),
    ));
    let data = DataService::new(files, store, audit, clock);
    let raw = StoreFiles::new(Arc::clone(cluster.store()), clock_for_raw());
    (data, accounts, raw)
}

fn clock_for_raw() -> Arc<dyn model::Clock> {
    Arc::new(model::ManualClock::new(10 * 86_400_000))
}

fn lmdb_cluster(dir: &std::path::Path) -> Cluster {
    let store = LmdbStore::open(&dir.join("data"), &dir.join("performance")).unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    store.put_node(&node(1)).unwrap();
    let rows: Vec<SampleRow> = (0..500).map(|i| row(1, 1000 + i)).collect();
    store.append_samples(&rows).unwrap();
    cluster_on(&store)
}

#[tokio::test]
async fn compaction_measures_copies_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = lmdb_cluster(dir.path());
    let (_service, _accounts, data) = data_service(&cluster);
    let report = DataFiles::compact(&data).await.unwrap();
    assert_eq!(report.envs.len(), 2);
    for env in &report.envs {
        assert!(env.compacted_bytes > 0, "{env:?}");
        assert!(env.compacted_bytes <= env.live_bytes, "{env:?}");
    }
    assert!(report.scheduled);
    for (sub, expected) in [
        (
            "data",
            &["compact-on-start.json", "data.mdb", "lock.mdb"][..],
        ),
        ("performance", &["data.mdb", "lock.mdb"][..]),
    ] {
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, expected, "{sub}");
    }
}

#[tokio::test]
async fn compaction_is_scheduled_cancelled_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = lmdb_cluster(dir.path());
    let (_service, _accounts, data) = data_service(&cluster);
    let status = data.compaction_status().await.unwrap();
    assert_eq!(status, model::data::CompactionStatus::default());
    DataFiles::compact(&data).await.unwrap();
    let status = data.compaction_status().await.unwrap();
    assert!(status.scheduled.unwrap().requested_at_ms > 0);
    assert!(data.cancel_compaction().await.unwrap());
    assert!(!data.cancel_compaction().await.unwrap());
    assert_eq!(data.compaction_status().await.unwrap().scheduled, None);

    // What the next start records shows up as the last compaction.
    let record = crate::store::compaction::CompactionRecord {
        finished_at_ms: 42,
        envs: vec![crate::store::compaction::EnvCompaction {
            env: "performance".into(),
            before_bytes: 9,
            after_bytes: 3,
            took_ms: 1,
        }],
        error: Some("performance: disk full".into()),
    };
    std::fs::write(
        dir.path().join("data/compaction-last.json"),
        serde_json::to_vec(&record).unwrap(),
    )
    .unwrap();
    let last = data.compaction_status().await.unwrap().last.unwrap();
    assert_eq!(last.finished_at_ms, 42);
    assert_eq!(last.envs[0].after_bytes, 3);
    assert_eq!(last.error.as_deref(), Some("performance: disk full"));
}

#[tokio::test]
async fn backup_is_a_readable_lmdb_copy_and_unlinked() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = lmdb_cluster(dir.path());
    let (_service, _accounts, data) = data_service(&cluster);
    let mut backup = DataFiles::backup(&data, DataEnv::Performance)
        .await
        .unwrap();
    let mut bytes = Vec::new();
    backup.file.read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes.len() as u64, backup.len);
    let names: Vec<_> = std::fs::read_dir(dir.path().join("performance"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "no scratch file left: {names:?}");
    // Restore it into a fresh directory and read the samples back.
    let restore = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(restore.path().join("performance")).unwrap();
    std::fs::write(restore.path().join("performance/data.mdb"), &bytes).unwrap();
    let restored = LmdbStore::open(
        &restore.path().join("data"),
        &restore.path().join("performance"),
    )
    .unwrap();
    assert_eq!(restored.samples(1, 0, u64::MAX, 10_000).unwrap().len(), 500);
}

#[tokio::test]
async fn reset_removes_old_samples_and_operations_do_not_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = lmdb_cluster(dir.path());
    let (service, _accounts, data) = data_service(&cluster);
    let caller = model::ops::Caller {
        user: "admin".into(),
        client: "192.0.2.1".into(),
        via: String::new(),
    };
    assert_eq!(data.reset_samples(1100).await.unwrap(), 100);
    assert_eq!(data.reset_samples(u64::MAX).await.unwrap(), 400);
    let held = service.permit().unwrap();
    assert!(matches!(
        DataAdmin::compact(&service, &caller).await,
        Err(model::ServiceError::Conflict(_))
    ));
    drop(held);
    assert!(data.reset_samples(u64::MAX).await.is_ok());
}

#[tokio::test]
async fn every_data_operation_is_audited_by_the_service() {
    use model::audit::{AuditQuery, AuditResult};
    use model::data::ResetCategory;
    use model::ops::Caller;
    let dir = tempfile::tempdir().unwrap();
    let cluster = lmdb_cluster(dir.path());
    let (data, accounts, _raw) = data_service(&cluster);
    let caller = Caller {
        user: "admin".into(),
        client: "192.0.2.1".into(),
        via: String::new(),
    };
    DataAdmin::compact(&data, &caller).await.unwrap();
    assert!(DataAdmin::cancel_compaction(&data, &caller).await.unwrap());
    DataAdmin::backup(&data, &caller, DataEnv::Data)
        .await
        .unwrap();
    assert_eq!(
        DataAdmin::reset(&data, &caller, ResetCategory::Samples, 0)
            .await
            .unwrap(),
        500
    );
    // A conflicting operation is refused and audited as failed.
    let held = data.permit().unwrap();
    assert!(DataAdmin::compact(&data, &caller).await.is_err());
    drop(held);
    let page = accounts.query(AuditQuery::default()).await.unwrap();
    let seen: Vec<(String, AuditResult, String)> = page
        .entries
        .iter()
        .rev()
        .map(|r| (r.entry.action.clone(), r.entry.result, r.entry.user.clone()))
        .collect();
    let expected = [
        ("data.compact", AuditResult::Ok),
        ("data.compact_cancel", AuditResult::Ok),
        ("data.backup", AuditResult::Ok),
        ("data.reset", AuditResult::Ok),
        ("data.compact", AuditResult::Failed),
    ];
    assert_eq!(seen.len(), expected.len(), "{seen:?}");
    for ((action, result, user), (want_action, want_result)) in seen.iter().zip(expected) {
        assert_eq!((action.as_str(), *result), (want_action, want_result));
        assert_eq!(user, "admin");
    }
}
