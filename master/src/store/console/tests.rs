//! Tests of the console databases on a real LMDB environment.

use std::path::Path;

use crate::accounts::AuthStore;
use model::account::Lang;
use model::account::{SessionRecord, UserRecord};
use model::audit::{AuditEntry, AuditQuery, AuditResult};

use crate::accounts::AuditLimits;
use crate::accounts::audit::MAX_AUDIT_ENTRY_BYTES;
use crate::store::{LmdbStore, Store, StoreOptions};
use model::audit::AuditId;
use model::cluster::NodeRecord;
use model::task::{TaskProgress, TaskRecord, TaskState};

fn node(id: u64) -> NodeRecord {
    NodeRecord {
        id,
        public_key: [id as u8; 32],
        hostname: format!("node-{id}"),
        agent_version: "1".into(),
        enrolled_at_ms: 1,
        last_seen_ms: 1,
        revoked: false,
        host_info: None,
    }
}

fn open(dir: &Path) -> LmdbStore {
    LmdbStore::open(&dir.join("data"), &dir.join("perf")).unwrap()
}

fn user(name: &str) -> UserRecord {
    UserRecord {
        username: name.into(),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into(),
        created_at_ms: 1_000,
        password_changed_at_ms: 1_000,
        session_epoch: 1,
        lang: Lang::En,
    }
}

fn session(id: &str, user: &str, expires_at_ms: u64) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        username: user.into(),
        epoch: 1,
        created_at_ms: 0,
        expires_at_ms,
        csrf: "c".repeat(64),
        client: "127.0.0.1".into(),
    }
}

fn entry(at_ms: u64, action: &str) -> AuditEntry {
    AuditEntry {
        at_ms,
        user: "admin".into(),
        action: action.into(),
        target: "admin".into(),
        client: "127.0.0.1".into(),
        result: AuditResult::Ok,
        detail: String::new(),
        via: String::new(),
    }
}

#[test]
fn registration_closes_once_and_survives_deleting_users_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        assert!(!store.registration_closed().unwrap());
        assert!(store.register_first_user(&user("admin")).unwrap());
        assert!(!store.register_first_user(&user("mallory")).unwrap());
        assert_eq!(store.user("mallory").unwrap(), None);
        assert_eq!(store.user("admin").unwrap(), Some(user("admin")));

        let mut changed = user("admin");
        changed.lang = Lang::ZhCn;
        changed.session_epoch = 2;
        assert!(store.update_user(&changed).unwrap());
        assert!(!store.update_user(&user("ghost")).unwrap());
        assert_eq!(store.user("admin").unwrap(), Some(changed));

        // Wipe the accounts behind the store's back: registration stays closed.
        let mut wtxn = store.data.write_txn().unwrap();
        store.console.users.clear(&mut wtxn).unwrap();
        wtxn.commit().unwrap();
        assert!(store.registration_closed().unwrap());
        assert!(!store.register_first_user(&user("mallory")).unwrap());
    }
    let store = open(dir.path());
    assert!(store.registration_closed().unwrap());
    assert_eq!(
        store.schema_version().unwrap(),
        crate::store::schema::SCHEMA_VERSION
    );
}

#[test]
fn sessions_put_get_delete_prune() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.put_session(&session("a", "admin", 100)).unwrap();
    store.put_session(&session("b", "admin", 200)).unwrap();
    store.put_session(&session("c", "other", 300)).unwrap();
    assert_eq!(
        store.session("a").unwrap(),
        Some(session("a", "admin", 100))
    );
    assert_eq!(store.session("zz").unwrap(), None);
    assert_eq!(store.prune_sessions(100).unwrap(), 1);
    assert_eq!(store.session("a").unwrap(), None);
    assert!(store.delete_session("c").unwrap());
    assert!(!store.delete_session("c").unwrap());
    store.put_session(&session("d", "admin", 400)).unwrap();
    assert_eq!(store.delete_sessions_of("admin").unwrap(), 2);
    assert_eq!(store.session("b").unwrap(), None);
}

#[test]
fn audit_ids_are_unique_ordered_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let first_ids = {
        let store = open(dir.path());
        // Three entries in the same millisecond never collide.
        let ids: Vec<_> = ["a.one", "a.two", "b.three"]
            .iter()
            .map(|a| store.append_audit(&entry(5_000, a)).unwrap())
            .collect();
        assert!(ids[0] < ids[1] && ids[1] < ids[2]);
        ids
    };
    let store = open(dir.path());
    let later = store.append_audit(&entry(4_000, "a.four")).unwrap();
    assert!(
        first_ids.iter().all(|id| *id != later),
        "sequence continues after a restart"
    );

    let page = store.query_audit(&AuditQuery::default()).unwrap();
    let actions: Vec<&str> = page
        .entries
        .iter()
        .map(|r| r.entry.action.as_str())
        .collect();
    assert_eq!(actions, ["b.three", "a.two", "a.one", "a.four"]);
    assert_eq!(page.next, None);

    let q = AuditQuery {
        action: Some("a".into()),
        limit: 2,
        ..AuditQuery::default()
    };
    let page = store.query_audit(&q).unwrap();
    let actions: Vec<&str> = page
        .entries
        .iter()
        .map(|r| r.entry.action.as_str())
        .collect();
    assert_eq!(actions, ["a.two", "a.one"]);
    let page = store
        .query_audit(&AuditQuery {
            before: page.next,
            ..q
        })
        .unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].entry.action, "a.four");

    let q = AuditQuery {
        since_ms: Some(4_500),
        until_ms: Some(5_000),
        ..AuditQuery::default()
    };
    assert_eq!(store.query_audit(&q).unwrap().entries.len(), 3);
}

#[test]
fn pruning_the_audit_log_keeps_newer_entries_and_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(store.register_first_user(&user("admin")).unwrap());
    for at in [1_000, 2_000, 2_000, 3_000] {
        store.append_audit(&entry(at, "x.y")).unwrap();
    }
    assert_eq!(store.prune_audit(2_000).unwrap(), 1);
    assert_eq!(store.prune_audit(2_000).unwrap(), 0);
    assert_eq!(store.prune_audit(3_000).unwrap(), 2);
    let left = store.query_audit(&AuditQuery::default()).unwrap().entries;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].entry.at_ms, 3_000);
    assert!(store.user("admin").unwrap().is_some());
    assert!(store.registration_closed().unwrap());
    assert_eq!(store.prune_audit(u64::MAX).unwrap(), 1);
}

fn open_bounded(dir: &Path, data_map_size: usize, audit: AuditLimits) -> LmdbStore {
    let options = StoreOptions {
        data_map_size,
        audit,
        no_sync: true,
    };
    LmdbStore::open_with(&dir.join("data"), &dir.join("perf"), &options).unwrap()
}

/// An entry about as large as the accounts service lets through (2 KiB of detail).
fn big_entry(i: u64) -> AuditEntry {
    AuditEntry {
        detail: format!("{i:08}{}", "é".repeat(1_000)),
        ..entry(1_000_000 + i, "auth.register")
    }
}

/// Every id in the audit database, oldest first, and the bytes of its pages.
fn audit_contents(store: &LmdbStore) -> (Vec<AuditId>, u64) {
    let rtxn = store.data.read_txn().unwrap();
    let ids = store
        .console
        .audit
        .iter(&rtxn)
        .unwrap()
        .map(|item| AuditId::from_key(item.unwrap().0).unwrap())
        .collect();
    let stat = store.console.audit.stat(&rtxn).unwrap();
    (ids, super::db_bytes(&stat))
}

fn task(id: u64) -> TaskRecord {
    TaskRecord {
        id,
        node: 1,
        action: "docker.pull_image".into(),
        target: "node/1/image/busybox:1".into(),
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

/// Issue 11 finding 1: an audit flood filled the whole `data` map (`MDB_MAP_FULL`), after
/// which audit writes and other data writes failed. Now the audit log stays under
/// `audit.maxBytes`: 8 times the map is written through a 4 MiB map with a 1 MiB cap, every
/// append succeeds, the newest entries are kept, and nodes, tasks, users and sessions can
/// still be written.
#[test]
fn audit_flood_stays_under_its_cap_and_other_data_writes_succeed() {
    const MAP: usize = 4 << 20;
    const CAP: u64 = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let limits = AuditLimits {
        max_bytes: CAP,
        ..AuditLimits::default()
    };
    let store = open_bounded(dir.path(), MAP, limits);
    let mut ids = Vec::new();
    let mut written = 0u64;
    let mut peak = 0u64;
    for i in 0.. {
        let e = big_entry(i);
        written += serde_json::to_vec(&e).unwrap().len() as u64;
        ids.push(store.append_audit(&e).unwrap());
        if i % 64 == 0 {
            peak = peak.max(audit_contents(&store).1);
        }
        if written > 8 * MAP as u64 {
            break;
        }
    }
    let (kept, bytes) = audit_contents(&store);
    eprintln!(
        "wrote {} entries ({written} bytes of JSON) through a {MAP}-byte map: {} kept in \
         {bytes} bytes of pages (peak {peak}, cap {CAP})",
        ids.len(),
        kept.len()
    );
    assert!(peak <= CAP && bytes <= CAP, "peak {peak}, now {bytes}");
    assert!(bytes >= CAP / 2, "pruned far below the cap: {bytes}");
    // The newest entries, without a gap.
    assert!(kept.len() > 100 && kept.len() < ids.len() / 4);
    assert_eq!(kept, ids[ids.len() - kept.len()..]);
    let page = store.query_audit(&AuditQuery::default()).unwrap();
    assert_eq!(page.entries[0].id, *ids.last().unwrap());

    // Everything else in the environment can still be written.
    store.put_node(&node(1)).unwrap();
    for id in 1..=200 {
        assert_eq!(store.next_task_id().unwrap(), id);
        store.put_task(&task(id)).unwrap();
    }
    assert!(store.register_first_user(&user("admin")).unwrap());
    for n in 0..200 {
        store
            .put_session(&session(&format!("{n:032x}"), "admin", 1 << 40))
            .unwrap();
    }
    assert_eq!(store.list_tasks(None, 500).unwrap().len(), 200);
    assert!(store.get_node(1).unwrap().is_some());
    store.append_audit(&big_entry(u64::MAX >> 8)).unwrap();
}

#[test]
fn audit_count_and_age_bounds_keep_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let limits = AuditLimits {
        max_entries: 50,
        max_age_ms: Some(10_000),
        ..AuditLimits::default()
    };
    let store = open_bounded(dir.path(), 8 << 20, limits);
    let ids: Vec<_> = (0..500)
        .map(|i| store.append_audit(&entry(1_000 + i, "x.y")).unwrap())
        .collect();
    assert_eq!(audit_contents(&store).0, ids[450..]);

    // An entry 10 s after the newest: the ones more than 10 s older than it go.
    let late = store.append_audit(&entry(1_499 + 10_000, "x.y")).unwrap();
    assert_eq!(audit_contents(&store).0, [ids[499], late]);
}

#[test]
fn oversized_audit_entries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let huge = AuditEntry {
        detail: "x".repeat(MAX_AUDIT_ENTRY_BYTES),
        ..entry(1, "x.y")
    };
    let err = store.append_audit(&huge).unwrap_err();
    assert!(err.0.contains("limit"), "{err}");
    assert!(audit_contents(&store).0.is_empty());
}
