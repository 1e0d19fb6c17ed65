//! Tests of offline compaction and the store lock, on real LMDB files in temporary
//! directories.

use std::path::{Path, PathBuf};

use super::*;
use crate::store::{LmdbStore, SampleRow, Store};

struct Dirs {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    perf: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let perf = tmp.path().join("performance");
    Dirs {
        _tmp: tmp,
        data,
        perf,
    }
}

fn size(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("data.mdb")).unwrap().len()
}

/// Writes 40,000 samples of 200 bytes, then prunes all but the newest 100: the files keep
/// their size, LMDB only frees the pages.
fn fill_and_prune(d: &Dirs) {
    let store = LmdbStore::open(&d.data, &d.perf).unwrap();
    for chunk in 0..40u64 {
        let rows: Vec<SampleRow> = (0..1000u64)
            .map(|i| SampleRow {
                node_id: 1,
                taken_at_ms: chunk * 1000 + i,
                bytes: vec![7; 200],
            })
            .collect();
        store.append_samples(&rows).unwrap();
    }
    assert_eq!(store.prune_samples(39_900).unwrap(), 39_900);
    assert_eq!(store.next_task_id().unwrap(), 1);
    assert_eq!(store.next_task_id().unwrap(), 2);
}

#[test]
fn compaction_shrinks_the_files_and_keeps_every_record() {
    let d = dirs();
    fill_and_prune(&d);
    let before = size(&d.perf);
    let lock = StoreLock::acquire(&d.data, LockMode::Exclusive).unwrap();
    let record = compact_and_record(&d.data, &d.perf, 1234).unwrap();
    drop(lock);
    assert_eq!(record.error, None, "{record:?}");
    assert_eq!(record.envs.len(), 2);
    let perf = &record.envs[1];
    assert_eq!(perf.env, "performance");
    assert_eq!(perf.before_bytes, before);
    assert_eq!(perf.after_bytes, size(&d.perf));
    assert!(
        perf.after_bytes * 4 < perf.before_bytes,
        "not compacted: {perf:?}"
    );
    assert!(!d.perf.join(COPY_FILE).exists());
    assert_eq!(last(&d.data).unwrap(), Some(record));

    let store = LmdbStore::open(&d.data, &d.perf).unwrap();
    let kept = store.samples(1, 0, u64::MAX, 1000).unwrap();
    assert_eq!(kept.len(), 100);
    assert_eq!(kept[0].taken_at_ms, 39_900);
    assert!(kept.iter().all(|r| r.bytes == vec![7; 200]));
    assert_eq!(
        store.next_task_id().unwrap(),
        3,
        "the data env kept its counter"
    );
    // The reopened store takes writes as before.
    store
        .append_samples(&[SampleRow {
            node_id: 2,
            taken_at_ms: 5,
            bytes: vec![1],
        }])
        .unwrap();
    assert_eq!(store.latest_sample(2).unwrap().unwrap().bytes, vec![1]);
}

#[test]
fn a_directory_without_a_database_is_left_alone() {
    let d = dirs();
    std::fs::create_dir_all(&d.perf).unwrap();
    let done = compact_env(EnvKind::Performance, &d.perf).unwrap();
    assert_eq!((done.before_bytes, done.after_bytes), (0, 0));
    assert!(!d.perf.join("data.mdb").exists());
}

#[test]
fn a_failed_compaction_leaves_the_old_file_and_no_copy() {
    let d = dirs();
    std::fs::create_dir_all(&d.data).unwrap();
    let garbage = vec![0xAB; 64 * 1024];
    std::fs::write(d.data.join("data.mdb"), &garbage).unwrap();
    std::fs::write(d.data.join(COPY_FILE), b"left by a crash").unwrap();
    let record = compact_all(&d.data, &d.perf, 9);
    let error = record.error.expect("garbage must not compact");
    assert!(error.starts_with("data: "), "{error}");
    assert!(record.envs.is_empty());
    assert_eq!(std::fs::read(d.data.join("data.mdb")).unwrap(), garbage);
    assert!(!d.data.join(COPY_FILE).exists());
}

#[test]
fn the_lock_is_shared_by_users_and_exclusive_for_compaction() {
    let d = dirs();
    let master = StoreLock::acquire(&d.data, LockMode::Shared).unwrap();
    let cli = StoreLock::acquire(&d.data, LockMode::Shared).unwrap();
    let err = StoreLock::acquire(&d.data, LockMode::Exclusive).unwrap_err();
    assert!(
        matches!(
            err,
            LockError::Busy {
                wanted: LockMode::Exclusive,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("stop it first"), "{err}");

    // A failed upgrade keeps the shared lock: a compactor still cannot get in.
    let mut upgrading = master;
    assert!(upgrading.set(LockMode::Exclusive).is_err());
    assert_eq!(upgrading.mode(), LockMode::Shared);
    drop(cli);
    assert!(StoreLock::acquire(&d.data, LockMode::Exclusive).is_err());

    // Alone, it upgrades; then users wait for it.
    upgrading.set(LockMode::Exclusive).unwrap();
    let err = StoreLock::acquire(&d.data, LockMode::Shared).unwrap_err();
    assert!(err.to_string().contains("compaction"), "{err}");
    upgrading.set(LockMode::Shared).unwrap();
    let _user = StoreLock::acquire(&d.data, LockMode::Shared).unwrap();
}

#[test]
fn a_request_runs_once_at_start_and_is_withdrawn() {
    let d = dirs();
    fill_and_prune(&d);
    let mut lock = StoreLock::acquire(&d.data, LockMode::Shared).unwrap();
    assert_eq!(run_requested(&mut lock, &d.data, &d.perf, 1).unwrap(), None);

    let req = CompactionRequest {
        requested_at_ms: 77,
        requested_by: "admin".into(),
    };
    request(&d.data, &req).unwrap();
    assert_eq!(pending(&d.data).unwrap(), Some(req.clone()));

    // Someone else uses the store: postponed, the request stays.
    let other = StoreLock::acquire(&d.data, LockMode::Shared).unwrap();
    assert_eq!(run_requested(&mut lock, &d.data, &d.perf, 2).unwrap(), None);
    assert_eq!(pending(&d.data).unwrap(), Some(req));
    assert_eq!(lock.mode(), LockMode::Shared);
    drop(other);

    let before = size(&d.perf);
    let ran = run_requested(&mut lock, &d.data, &d.perf, 3)
        .unwrap()
        .expect("the request runs");
    assert_eq!(ran.finished_at_ms, 3);
    assert!(size(&d.perf) < before);
    assert_eq!(lock.mode(), LockMode::Shared);
    assert_eq!(pending(&d.data).unwrap(), None);
    assert_eq!(last(&d.data).unwrap(), Some(ran));
    assert!(!cancel(&d.data).unwrap(), "nothing left to cancel");
}

#[test]
fn a_corrupt_request_file_still_runs_and_a_corrupt_record_is_an_error() {
    let d = dirs();
    std::fs::create_dir_all(&d.data).unwrap();
    std::fs::write(d.data.join(REQUEST_FILE), b"{not json").unwrap();
    assert!(pending(&d.data).is_err());
    let mut lock = StoreLock::acquire(&d.data, LockMode::Shared).unwrap();
    let ran = run_requested(&mut lock, &d.data, &d.perf, 4).unwrap();
    assert!(ran.is_some());
    assert_eq!(pending(&d.data).unwrap(), None);
    std::fs::write(d.data.join(LAST_FILE), b"[]").unwrap();
    assert!(last(&d.data).is_err());
}
