//! The alert part of the store contract (run by `store::tests` against both stores), and
//! LMDB durability and upgrade of an environment that predates the `alerts` database.

use super::super::{LmdbStore, Store, schema};
use model::alert::{AlertRecord, AlertRule, AlertState, Resolution};

fn alert(id: u64, node: u64) -> AlertRecord {
    let alert = AlertRecord::offline(id, node, &format!("host-{node}"), 1_700_000_000_000 + id);
    assert_eq!(alert.rule, AlertRule::NodeOffline);
    assert_eq!(alert.state, AlertState::Firing);
    alert
}

fn ids(alerts: &[AlertRecord]) -> Vec<u64> {
    alerts.iter().map(|a| a.id).collect()
}

/// Put, replace (resolve), page newest first, count and prune the oldest.
pub(in crate::store) fn exercise_alerts(store: &dyn Store) {
    assert!(store.list_alerts(None, 10).unwrap().is_empty());
    assert_eq!(store.alert_count().unwrap(), 0);
    assert_eq!(store.prune_alerts(5).unwrap(), 0);
    for id in 1..=6 {
        store.put_alert(&alert(id, id % 2)).unwrap();
    }
    let mut resolved = alert(3, 1);
    resolved.state = AlertState::Resolved;
    resolved.resolved_ms = Some(resolved.fired_ms + 5_000);
    resolved.resolution = Some(Resolution::Online);
    store.put_alert(&resolved).unwrap();
    assert_eq!(store.alert_count().unwrap(), 6, "a resolution replaces");
    assert_eq!(ids(&store.list_alerts(None, 4).unwrap()), vec![6, 5, 4, 3]);
    let older = store.list_alerts(Some(4), 10).unwrap();
    assert_eq!(ids(&older), vec![3, 2, 1]);
    assert_eq!(older[0], resolved);
    assert!(store.list_alerts(Some(1), 10).unwrap().is_empty());
    assert!(store.list_alerts(None, 0).unwrap().is_empty());

    assert_eq!(store.prune_alerts(4).unwrap(), 2, "the two oldest go");
    assert_eq!(ids(&store.list_alerts(None, 10).unwrap()), vec![6, 5, 4, 3]);
    assert_eq!(store.prune_alerts(4).unwrap(), 0);
    assert_eq!(store.prune_alerts(0).unwrap(), 4);
    assert_eq!(store.alert_count().unwrap(), 0);
}

#[test]
fn lmdb_keeps_alerts_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (data, perf) = (dir.path().join("data"), dir.path().join("perf"));
    {
        let store = LmdbStore::open(&data, &perf).unwrap();
        for id in 1..=3 {
            store.put_alert(&alert(id, 7)).unwrap();
        }
    }
    let store = LmdbStore::open(&data, &perf).unwrap();
    let kept = store.list_alerts(None, 10).unwrap();
    assert_eq!(ids(&kept), vec![3, 2, 1]);
    assert_eq!(kept[0].node_name, "host-7");
}

#[test]
fn lmdb_environment_without_alerts_database_gains_it_at_the_same_version() {
    use heed::types::{Bytes, Str};
    let dir = tempfile::tempdir().unwrap();
    let (data, perf) = (dir.path().join("data"), dir.path().join("perf"));
    std::fs::create_dir_all(&data).unwrap();
    {
        // A version-1 environment as written before alerts existed: only `meta`.
        // SAFETY: a fresh temporary directory, mapped by nothing else in this process.
        #[allow(unsafe_code)]
        let env = unsafe {
            heed::EnvOpenOptions::new()
                .read_txn_without_tls()
                .max_dbs(schema::DATA_MAX_DBS)
                .open(&data)
                .unwrap()
        };
        let wtxn = env.write_txn().unwrap();
        env.create_databases_and_commit(wtxn, |o, w| {
            let meta = o.create_database::<Str, Bytes>(w, Some(schema::META_DB))?;
            let version = schema::SCHEMA_VERSION.to_be_bytes();
            meta.put(w, schema::SCHEMA_VERSION_KEY, &version)?;
            Ok::<_, heed::Error>(heed::CommitOrAbort::<_, ()>::Commit(meta))
        })
        .unwrap();
        env.prepare_for_closing().wait();
    }
    let store = LmdbStore::open(&data, &perf).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::SCHEMA_VERSION);
    assert_eq!(store.alert_count().unwrap(), 0);
    store.put_alert(&alert(1, 1)).unwrap();
    assert_eq!(ids(&store.list_alerts(None, 10).unwrap()), vec![1]);
}
