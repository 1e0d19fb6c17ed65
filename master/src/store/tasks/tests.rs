//! The task part of the store contract, run against both stores, and LMDB durability.

use super::super::{LmdbStore, MemoryStore, Store};
use model::task::{TaskProgress, TaskRecord, TaskState};

fn task(id: u64, node: u64) -> TaskRecord {
    TaskRecord {
        id,
        node,
        action: "docker.pull_image".into(),
        target: format!("node/{node}/image/busybox:1"),
        user: "admin".into(),
        client: "192.0.2.1".into(),
        state: TaskState::Queued,
        created_ms: 1_700_000_000_000 + id,
        started_ms: None,
        finished_ms: None,
        progress: TaskProgress::default(),
        result: None,
        error: None,
    }
}

fn exercise(store: &dyn Store) {
    assert!(store.list_tasks(None, 10).unwrap().is_empty());
    assert_eq!(store.get_task(1).unwrap(), None);
    let ids: Vec<u64> = (0..5).map(|_| store.next_task_id().unwrap()).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    for id in &ids {
        store.put_task(&task(*id, id % 2)).unwrap();
    }
    let mut done = task(3, 1);
    done.state = TaskState::Succeeded;
    done.result = Some(serde_json::json!({"id": "sha256:1"}));
    store.put_task(&done).unwrap();
    assert_eq!(store.get_task(3).unwrap(), Some(done));
    let newest: Vec<u64> = store
        .list_tasks(None, 3)
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(newest, vec![5, 4, 3]);
    let older: Vec<u64> = store
        .list_tasks(Some(3), 10)
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(older, vec![2, 1]);
    assert!(store.list_tasks(Some(1), 10).unwrap().is_empty());
}

#[test]
fn memory_store_keeps_tasks() {
    exercise(&MemoryStore::new());
}

#[test]
fn lmdb_store_keeps_tasks_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (data, perf) = (dir.path().join("data"), dir.path().join("perf"));
    {
        let store = LmdbStore::open(&data, &perf).unwrap();
        exercise(&store);
    }
    let store = LmdbStore::open(&data, &perf).unwrap();
    assert_eq!(store.next_task_id().unwrap(), 6, "ids are never reused");
    assert_eq!(store.list_tasks(None, 100).unwrap().len(), 5);
    assert_eq!(
        store.get_task(3).unwrap().unwrap().state,
        TaskState::Succeeded
    );
}

/// Pruning keeps the newest tasks and never gives an id out again.
fn exercise_pruning(store: &dyn Store) {
    for _ in 0..5 {
        let id = store.next_task_id().unwrap();
        store.put_task(&task(id, 1)).unwrap();
    }
    assert_eq!(store.prune_tasks(10).unwrap(), 0);
    assert_eq!(store.prune_tasks(2).unwrap(), 3);
    let kept: Vec<u64> = store
        .list_tasks(None, 10)
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(kept, vec![5, 4]);
    assert_eq!(store.get_task(1).unwrap(), None);
    assert_eq!(store.next_task_id().unwrap(), 6);
    assert_eq!(store.prune_tasks(0).unwrap(), 2);
    assert!(store.list_tasks(None, 10).unwrap().is_empty());
}

#[test]
fn memory_store_prunes_tasks() {
    exercise_pruning(&MemoryStore::new());
}

#[test]
fn lmdb_store_prunes_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(&dir.path().join("data"), &dir.path().join("perf")).unwrap();
    exercise_pruning(&store);
}
