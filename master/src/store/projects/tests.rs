//! The project part of the store contract, run against both stores, and LMDB durability.

use super::super::{LmdbStore, MemoryStore};
use super::ProjectStore;
use crate::projects::controller::Controller;
use crate::projects::record::{MAX_REVISIONS, ProjectRecord};
use model::project::{ProjectInput, ProjectSpec};

fn spec(name: &str, image: &str) -> ProjectSpec {
    ProjectInput {
        name: name.into(),
        image: image.into(),
        replicas: 2,
        container_port: 8080,
        ..ProjectInput::default()
    }
    .validate()
    .expect("valid spec")
}

fn record(name: &str) -> ProjectRecord {
    ProjectRecord {
        name: name.into(),
        latest_revision: 1,
        controller: Controller::new(2).state,
        webhook_secret: None,
        seen_signatures: Vec::new(),
        assignments: Vec::new(),
        created_ms: 1_000,
        updated_ms: 1_000,
    }
}

fn exercise(store: &dyn ProjectStore) {
    assert!(store.list_projects().unwrap().is_empty());
    assert!(
        store
            .create_project(&record("web"), &spec("web", "app:v1"))
            .unwrap()
    );
    assert!(
        !store
            .create_project(&record("web"), &spec("web", "app:v9"))
            .unwrap(),
        "a taken name"
    );
    assert_eq!(
        store.project_revision("web", 1).unwrap().unwrap().image,
        "app:v1",
        "the refused create changed nothing"
    );
    assert!(
        store
            .create_project(&record("api"), &spec("api", "api:1"))
            .unwrap()
    );
    // A name that is a prefix of another does not see its revisions.
    assert!(
        store
            .create_project(&record("we"), &spec("we", "we:1"))
            .unwrap()
    );
    let names: Vec<String> = store
        .list_projects()
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, vec!["api", "we", "web"]);

    let mut web = store.get_project("web").unwrap().unwrap();
    web.latest_revision = 2;
    web.controller.previous = Some(1);
    web.controller.target = 2;
    assert!(
        store
            .update_project(&web, Some((2, &spec("web", "app:v2"))))
            .unwrap()
    );
    let revs: Vec<(u64, String)> = store
        .project_revisions("web")
        .unwrap()
        .into_iter()
        .map(|(r, s)| (r, s.image))
        .collect();
    assert_eq!(revs, vec![(1, "app:v1".into()), (2, "app:v2".into())]);
    assert_eq!(store.project_revisions("we").unwrap().len(), 1);
    assert_eq!(
        store.get_project("web").unwrap().unwrap().controller.target,
        2
    );
    // A record-only update keeps the history.
    web.updated_ms = 2_000;
    assert!(store.update_project(&web, None).unwrap());
    assert_eq!(store.project_revisions("web").unwrap().len(), 2);
    assert!(!store.update_project(&record("nope"), None).unwrap());

    assert!(store.delete_project("web").unwrap());
    assert!(!store.delete_project("web").unwrap());
    assert!(store.get_project("web").unwrap().is_none());
    assert!(store.project_revisions("web").unwrap().is_empty());
    assert!(store.project_revision("web", 1).unwrap().is_none());
    assert_eq!(store.project_revisions("we").unwrap().len(), 1);
}

/// The history is bounded, and the revisions the controller needs survive pruning.
fn exercise_pruning(store: &dyn ProjectStore) {
    let mut r = record("app");
    assert!(store.create_project(&r, &spec("app", "app:1")).unwrap());
    // The controller stays on revision 1 (say, every update failed and rolled back) while
    // many revisions are written.
    let total = MAX_REVISIONS as u64 + 20;
    for rev in 2..=total {
        r.latest_revision = rev;
        r.controller.target = 1;
        r.controller.previous = Some(rev);
        assert!(
            store
                .update_project(&r, Some((rev, &spec("app", &format!("app:{rev}")))))
                .unwrap()
        );
    }
    let kept: Vec<u64> = store
        .project_revisions("app")
        .unwrap()
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert_eq!(kept.len(), MAX_REVISIONS);
    assert_eq!(kept.first(), Some(&1), "the target is never pruned");
    assert_eq!(kept.last(), Some(&total));
    assert_eq!(
        kept[1],
        total - MAX_REVISIONS as u64 + 2,
        "the oldest others went"
    );
}

#[test]
fn memory_store_keeps_projects() {
    exercise(&MemoryStore::new());
    exercise_pruning(&MemoryStore::new());
}

#[test]
fn lmdb_store_keeps_projects_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (data, perf) = (dir.path().join("data"), dir.path().join("perf"));
    {
        let store = LmdbStore::open(&data, &perf).unwrap();
        exercise(&store);
        exercise_pruning(&store);
    }
    let store = LmdbStore::open(&data, &perf).unwrap();
    let names: Vec<String> = store
        .list_projects()
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, vec!["api", "app", "we"]);
    assert_eq!(store.project_revisions("app").unwrap().len(), MAX_REVISIONS);
    assert_eq!(
        store.project_revision("api", 1).unwrap().unwrap().image,
        "api:1"
    );
}
