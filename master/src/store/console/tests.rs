//! Tests of the console databases on a real LMDB environment.

use std::path::Path;

use crate::accounts::AuthStore;
use model::account::Lang;
use model::account::{SessionRecord, UserRecord};
use model::audit::{AuditEntry, AuditQuery, AuditResult};

use crate::store::{LmdbStore, Store};

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
