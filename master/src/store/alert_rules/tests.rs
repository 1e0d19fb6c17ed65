//! The rule and silence part of the store contract (run by `store::tests` against both
//! stores), and LMDB durability across a reopen.

use super::super::{LmdbStore, Store};
use model::alert_rule::{AlertRuleRecord, SilenceRecord};

fn silence(rule: &str) -> SilenceRecord {
    SilenceRecord {
        id: 0,
        rule: rule.into(),
        node: Some(2),
        until_ms: 99,
        comment: String::new(),
        created_by: "admin".into(),
        created_ms: 1,
    }
}

/// Seed once, allocate ids never reused, replace, delete, list by id.
pub(in crate::store) fn exercise_alert_rules(store: &dyn Store) {
    let builtins = AlertRuleRecord::builtins();
    assert!(store.seed_alert_rules(&builtins).unwrap());
    assert!(!store.seed_alert_rules(&builtins).unwrap(), "once ever");
    let rules = store.list_alert_rules().unwrap();
    let ids: Vec<u64> = rules.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![1, 2, 3, 4]);
    let mut new = builtins[3].clone();
    new.id = 0;
    new.name = "mine".into();
    let created = store.put_alert_rule(&new).unwrap();
    assert_eq!(created.id, 5);
    let mut changed = created.clone();
    changed.threshold = 70.0;
    assert_eq!(store.put_alert_rule(&changed).unwrap().id, 5);
    assert!(store.delete_alert_rule(5).unwrap());
    assert!(!store.delete_alert_rule(5).unwrap());
    assert_eq!(
        store.put_alert_rule(&new).unwrap().id,
        6,
        "ids are not reused"
    );
    let rules = store.list_alert_rules().unwrap();
    assert_eq!(rules.len(), 5);
    assert!(
        !store.seed_alert_rules(&builtins).unwrap(),
        "deleting does not reseed"
    );

    let s = store.put_silence(&silence("mine")).unwrap();
    assert_eq!(s.id, 1);
    assert_eq!(store.put_silence(&silence("other")).unwrap().id, 2);
    assert_eq!(store.list_silences().unwrap().len(), 2);
    assert!(store.delete_silence(1).unwrap());
    assert!(!store.delete_silence(1).unwrap());
    assert_eq!(store.list_silences().unwrap()[0].rule, "other");
    assert_eq!(
        store.list_alert_rules().unwrap().len(),
        5,
        "kinds are apart"
    );
}

#[test]
fn rules_and_silences_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (data, perf) = (dir.path().join("data"), dir.path().join("perf"));
    {
        let store = LmdbStore::open(&data, &perf).unwrap();
        exercise_alert_rules(&store);
    }
    let store = LmdbStore::open(&data, &perf).unwrap();
    assert_eq!(store.list_alert_rules().unwrap().len(), 5);
    assert_eq!(store.list_silences().unwrap().len(), 1);
    assert_eq!(store.put_silence(&silence("x")).unwrap().id, 3);
}
