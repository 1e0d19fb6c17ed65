//! The contract every [`Store`] implementation must meet, run against both, plus the
//! LMDB-only checks (durability across reopen, schema key, corrupt records).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::schema::{self, SCHEMA_VERSION};
use super::*;
use model::cluster::{EnrollRefusal, JoinTokenRecord, NodeRecord};

const NOW: u64 = 1_700_000_000_000;

fn token(seed: u8, expires_at_ms: u64) -> JoinTokenRecord {
    JoinTokenRecord {
        secret_hash: [seed; 32],
        created_at_ms: NOW - 1000,
        expires_at_ms,
        used_by: None,
        note: format!("token {seed}"),
    }
}

fn key(seed: u8) -> [u8; 32] {
    let mut k = [seed; 32];
    k[0] = 0xee;
    k
}

fn row(node_id: u64, taken_at_ms: u64) -> SampleRow {
    SampleRow {
        node_id,
        taken_at_ms,
        bytes: format!("{node_id}@{taken_at_ms}").into_bytes(),
    }
}

fn times(rows: &[SampleRow]) -> Vec<u64> {
    rows.iter().map(|r| r.taken_at_ms).collect()
}

/// The whole contract. Expects an empty store.
fn exercise(store: &dyn Store) {
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    exercise_enrolment(store);
    exercise_nodes(store);
    exercise_samples(store);
    super::alerts::tests::exercise_alerts(store);
    super::alert_rules::tests::exercise_alert_rules(store);
}

fn exercise_enrolment(store: &dyn Store) {
    assert!(store.list_nodes().unwrap().is_empty());
    store.put_join_token(&token(1, NOW + 60_000)).unwrap();
    store.put_join_token(&token(2, NOW + 60_000)).unwrap();
    store.put_join_token(&token(3, NOW)).unwrap(); // expires exactly now
    store.put_join_token(&token(4, NOW + 60_000)).unwrap();

    let first = store
        .enroll_node(&[1; 32], &key(1), "0.1.0", NOW)
        .unwrap()
        .unwrap();
    assert_eq!(first.id, 1);
    assert_eq!(first.public_key, key(1));
    assert_eq!(first.agent_version, "0.1.0");
    assert_eq!((first.enrolled_at_ms, first.last_seen_ms), (NOW, NOW));
    assert!(!first.revoked);

    let refused = |secret: u8, k: u8| store.enroll_node(&[secret; 32], &key(k), "0.1.0", NOW);
    assert_eq!(refused(1, 9).unwrap(), Err(EnrollRefusal::TokenUsed));
    assert_eq!(refused(3, 9).unwrap(), Err(EnrollRefusal::TokenExpired));
    assert_eq!(refused(99, 9).unwrap(), Err(EnrollRefusal::UnknownToken));
    assert_eq!(
        refused(2, 1).unwrap(),
        Err(EnrollRefusal::KeyAlreadyEnrolled { node_id: 1 })
    );
    // Refusals wrote nothing: token 2 is still usable and the next id is 2.
    let second = store
        .enroll_node(&[2; 32], &key(2), "0.2.0", NOW + 5)
        .unwrap()
        .unwrap();
    assert_eq!(second.id, 2);

    let tokens = store.list_join_tokens().unwrap();
    let used: Vec<_> = tokens
        .iter()
        .map(|t| (t.secret_hash[0], t.used_by))
        .collect();
    assert_eq!(used, [(1, Some(1)), (2, Some(2)), (3, None), (4, None)]);
    assert_eq!(tokens[0].note, "token 1");
}

fn exercise_nodes(store: &dyn Store) {
    assert_eq!(store.node_by_key(&key(2)).unwrap().map(|n| n.id), Some(2));
    assert_eq!(store.node_by_key(&key(77)).unwrap(), None);
    assert_eq!(
        store.get_node(1).unwrap().map(|n| n.public_key),
        Some(key(1))
    );
    assert_eq!(store.get_node(42).unwrap(), None);

    assert!(store.set_revoked(1, true).unwrap());
    assert!(store.get_node(1).unwrap().unwrap().revoked);
    assert!(!store.set_revoked(42, true).unwrap());
    // A revoked node keeps its key: it cannot re-enrol under a new id.
    assert_eq!(
        store.enroll_node(&[4; 32], &key(1), "0.1.0", NOW).unwrap(),
        Err(EnrollRefusal::KeyAlreadyEnrolled { node_id: 1 })
    );
    // update_node changes only what it is told to, never the key, and keeps the flag.
    let mut change = |n: &mut NodeRecord| {
        n.last_seen_ms = NOW + 5;
        n.public_key = key(99);
    };
    assert!(store.update_node(1, &mut change).unwrap());
    let updated = store.get_node(1).unwrap().unwrap();
    assert_eq!(
        (updated.last_seen_ms, updated.revoked, updated.public_key),
        (NOW + 5, true, key(1))
    );
    assert_eq!(store.node_by_key(&key(1)).unwrap().map(|n| n.id), Some(1));
    assert!(!store.update_node(42, &mut change).unwrap());
    assert!(store.set_revoked(1, false).unwrap());

    // Updating a node, including a key change, keeps the key index in step.
    let mut node = store.get_node(2).unwrap().unwrap();
    node.hostname = "web-2".into();
    node.last_seen_ms = NOW + 10;
    node.public_key = key(22);
    store.put_node(&node).unwrap();
    assert_eq!(store.node_by_key(&key(22)).unwrap(), Some(node.clone()));
    assert_eq!(store.node_by_key(&key(2)).unwrap(), None);
    node.public_key = key(1);
    assert!(matches!(
        store.put_node(&node),
        Err(StoreError::KeyInUse { owner: 1 })
    ));

    // put_node with a high id moves the counter past it.
    let imported = NodeRecord {
        id: 10,
        public_key: key(10),
        hostname: "imported".into(),
        agent_version: String::new(),
        enrolled_at_ms: 1,
        last_seen_ms: 1,
        revoked: false,
        host_info: None,
    };
    store.put_node(&imported).unwrap();
    let next = store
        .enroll_node(&[4; 32], &key(4), "0.1.0", NOW)
        .unwrap()
        .unwrap();
    assert_eq!(next.id, 11);

    let ids: Vec<u64> = store.list_nodes().unwrap().iter().map(|n| n.id).collect();
    assert_eq!(ids, [1, 2, 10, 11]);
}

fn exercise_samples(store: &dyn Store) {
    assert_eq!(store.latest_sample(1).unwrap(), None);
    store.append_samples(&[]).unwrap();
    // Out of order, interleaved across nodes, and node 256 (key bytes differ beyond the last).
    let batch: Vec<SampleRow> = [(2, 50), (1, 30), (1, 10), (256, 5), (1, 20), (2, 40)]
        .into_iter()
        .map(|(n, t)| row(n, t))
        .collect();
    store.append_samples(&batch).unwrap();
    store.append_samples(&[row(1, 40), row(1, 300)]).unwrap();

    let all = store.samples(1, 0, u64::MAX, usize::MAX).unwrap();
    assert_eq!(times(&all), [10, 20, 30, 40, 300]);
    assert!(all.iter().all(|r| r.node_id == 1));
    assert_eq!(all[0].bytes, b"1@10");
    assert_eq!(times(&store.samples(1, 20, 40, 100).unwrap()), [20, 30, 40]);
    assert_eq!(times(&store.samples(1, 11, 39, 100).unwrap()), [20, 30]);
    assert_eq!(times(&store.samples(1, 0, u64::MAX, 2).unwrap()), [10, 20]);
    assert!(store.samples(1, 0, u64::MAX, 0).unwrap().is_empty());
    assert!(store.samples(1, 40, 20, 10).unwrap().is_empty());
    assert!(store.samples(3, 0, u64::MAX, 10).unwrap().is_empty());

    assert_eq!(store.latest_sample(1).unwrap(), Some(row(1, 300)));
    assert_eq!(store.latest_sample(2).unwrap(), Some(row(2, 50)));
    assert_eq!(store.latest_sample(256).unwrap(), Some(row(256, 5)));
    assert_eq!(store.latest_sample(3).unwrap(), None);

    // Same node and millisecond: the second write wins.
    let mut again = row(2, 50);
    again.bytes = b"replaced".to_vec();
    store.append_samples(&[again.clone()]).unwrap();
    assert_eq!(store.latest_sample(2).unwrap(), Some(again));

    // Prune removes strictly older rows of every node.
    assert_eq!(store.prune_samples(30).unwrap(), 3); // (1,10) (1,20) (256,5)
    assert_eq!(
        times(&store.samples(1, 0, u64::MAX, 100).unwrap()),
        [30, 40, 300]
    );
    assert_eq!(
        times(&store.samples(2, 0, u64::MAX, 100).unwrap()),
        [40, 50]
    );
    assert_eq!(store.latest_sample(256).unwrap(), None);
    assert_eq!(store.prune_samples(30).unwrap(), 0);
    assert_eq!(store.prune_samples(u64::MAX).unwrap(), 5);
    assert_eq!(store.latest_sample(1).unwrap(), None);
}

#[test]
fn memory_store_meets_contract() {
    let store = MemoryStore::new();
    exercise(&store);
    assert_eq!(store.sizes(), StoreSizes::default());
    assert_eq!(store.env_dir(EnvKind::Data), None);
    exercise_copies(&store);
}

/// Compacted copies: written once to a new file, refused over an existing one.
fn exercise_copies(store: &dyn Store) {
    let dir = tempfile::tempdir().unwrap();
    for env in [EnvKind::Data, EnvKind::Performance] {
        let dest = dir.path().join(format!("{env:?}.copy"));
        let len = store.copy_compacted(env, &dest).unwrap();
        assert!(len > 0);
        assert_eq!(std::fs::metadata(&dest).unwrap().len(), len);
        assert!(
            store.copy_compacted(env, &dest).is_err(),
            "never overwrites"
        );
        assert_eq!(std::fs::metadata(&dest).unwrap().len(), len);
    }
    let missing = dir.path().join("no/such/dir/copy");
    assert!(store.copy_compacted(EnvKind::Data, &missing).is_err());
}

fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("data"), dir.join("performance"))
}

fn open(dir: &Path) -> LmdbStore {
    let (data, perf) = paths(dir);
    LmdbStore::open(&data, &perf).unwrap()
}

#[test]
fn lmdb_store_meets_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    exercise(&store);
    let sizes = store.sizes();
    assert!(
        sizes.data_bytes > 0 && sizes.performance_bytes > 0,
        "{sizes:?}"
    );
    assert_eq!(store.env_dir(EnvKind::Data), Some(dir.path().join("data")));
    exercise_copies(&store);
}

#[test]
fn lmdb_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.put_join_token(&token(1, NOW + 1)).unwrap();
    store.put_join_token(&token(2, NOW + 1)).unwrap();
    let node = store
        .enroll_node(&[1; 32], &key(1), "0.1.0", NOW)
        .unwrap()
        .unwrap();
    store.set_revoked(node.id, true).unwrap();
    store
        .append_samples(&[row(1, 1), row(1, 2), row(2, 1)])
        .unwrap();
    let (nodes, tokens) = (
        store.list_nodes().unwrap(),
        store.list_join_tokens().unwrap(),
    );
    // A second open of the same directories in this process is refused, not corrupting.
    let (data, perf) = paths(dir.path());
    assert!(LmdbStore::open(&data, &perf).is_err());
    drop(store);

    let store = open(dir.path());
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.list_nodes().unwrap(), nodes);
    assert!(store.get_node(1).unwrap().unwrap().revoked);
    assert_eq!(store.list_join_tokens().unwrap(), tokens);
    assert_eq!(tokens[0].used_by, Some(1));
    assert_eq!(
        store.enroll_node(&[1; 32], &key(5), "0.1.0", NOW).unwrap(),
        Err(EnrollRefusal::TokenUsed)
    );
    assert_eq!(store.node_by_key(&key(1)).unwrap().map(|n| n.id), Some(1));
    // The id counter survived: the next enrolment gets id 2.
    let second = store
        .enroll_node(&[2; 32], &key(2), "0.1.0", NOW)
        .unwrap()
        .unwrap();
    assert_eq!(second.id, 2);
    assert_eq!(times(&store.samples(1, 0, 10, 10).unwrap()), [1, 2]);
    assert_eq!(store.latest_sample(2).unwrap(), Some(row(2, 1)));
}

#[test]
fn lmdb_schema_version_key_present_and_too_new_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(store.schema_version().unwrap(), 1);
    let future = (SCHEMA_VERSION + 1).to_be_bytes();
    store
        .put_raw(
            schema::META_DB,
            schema::SCHEMA_VERSION_KEY.as_bytes(),
            &future,
        )
        .unwrap();
    drop(store);
    let (data, perf) = paths(dir.path());
    match LmdbStore::open(&data, &perf) {
        Err(StoreError::SchemaTooNew {
            env: "data",
            found,
            supported,
        }) => assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION)),
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn lmdb_corrupt_records_are_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.put_join_token(&token(1, NOW + 1)).unwrap();
    store
        .enroll_node(&[1; 32], &key(1), "0.1.0", NOW)
        .unwrap()
        .unwrap();
    store
        .put_raw(schema::NODES_DB, &schema::node_id_bytes(1), b"{not json")
        .unwrap();

    let expect_key = |result: Result<_, StoreError>, want: &str| match result {
        Err(StoreError::Corrupt { key, .. }) => assert_eq!(key, want),
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(_) => panic!("expected an error"),
    };
    expect_key(store.get_node(1).map(drop), "nodes/1");
    expect_key(store.node_by_key(&key(1)).map(drop), "nodes/1");
    expect_key(store.list_nodes().map(drop), "nodes/1");
    expect_key(store.set_revoked(1, true).map(drop), "nodes/1");
    let err = store.get_node(1).unwrap_err().to_string();
    assert!(err.contains("nodes/1"), "{err}");

    // Repair by overwriting the record.
    let fixed = NodeRecord {
        id: 1,
        public_key: key(1),
        hostname: "fixed".into(),
        agent_version: String::new(),
        enrolled_at_ms: 0,
        last_seen_ms: 0,
        revoked: false,
        host_info: None,
    };
    store.put_node(&fixed).unwrap();
    assert_eq!(store.get_node(1).unwrap(), Some(fixed));

    store
        .put_raw(schema::JOIN_TOKENS_DB, &[7; 32], b"[]")
        .unwrap();
    expect_key(
        store.list_join_tokens().map(drop),
        &format!("join_tokens/{}", "07".repeat(32)),
    );
    expect_key(
        store.enroll_node(&[7; 32], &key(7), "x", NOW).map(drop),
        &format!("join_tokens/{}", "07".repeat(32)),
    );
    store
        .put_raw(schema::NODE_KEYS_DB, &key(9), b"short")
        .unwrap();
    assert!(matches!(
        store.node_by_key(&key(9)),
        Err(StoreError::Corrupt { .. })
    ));
    store.put_raw(schema::SAMPLES_DB, b"bad key", b"").unwrap();
    assert!(matches!(
        store.prune_samples(10),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn lmdb_writer_flush_makes_rows_visible_and_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<LmdbStore> = Arc::new(open(dir.path()));
    let writer = StoreWriter::spawn(store.clone());
    for t in 0..2_000 {
        writer.submit(row(t % 4, t)).unwrap();
    }
    writer.flush().unwrap();
    assert_eq!(writer.written(), 2_000);
    assert!(writer.batches() >= 1);
    assert_eq!(
        store.samples(3, 0, u64::MAX, usize::MAX).unwrap().len(),
        500
    );
    assert_eq!(store.latest_sample(3).unwrap(), Some(row(3, 1_999)));
    writer.submit(row(9, 1)).unwrap();
    writer.shutdown();
    drop(store);

    let store = open(dir.path());
    assert_eq!(
        store.samples(0, 0, u64::MAX, usize::MAX).unwrap().len(),
        500
    );
    assert_eq!(store.latest_sample(9).unwrap(), Some(row(9, 1)));
}
