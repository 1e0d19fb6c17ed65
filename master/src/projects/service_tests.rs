//! The projects service over the memory store with fake edges.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use model::ManualClock;
use model::audit::{AuditEntry, AuditPage, AuditQuery, AuditResult};
use model::ops::{BoxFuture, Caller};
use model::project::ProjectStatus;
use model::project::api::{ProjectFailure, ProjectPatch, ReplicaView};
use model::service::AuditLog;

use super::{NodeDirectory, ObservedProjects, ProjectService, hmac_sha256_hex};
use crate::store::MemoryStore;

#[derive(Default)]
struct Log(Mutex<Vec<AuditEntry>>);

impl Log {
    fn entries(&self) -> Vec<AuditEntry> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl AuditLog for Log {
    fn record(&self, entry: AuditEntry) -> BoxFuture<'_, ()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
        Box::pin(async {})
    }

    fn query(&self, _q: AuditQuery) -> BoxFuture<'_, Result<AuditPage, model::StoreFailure>> {
        Box::pin(async { Ok(AuditPage::default()) })
    }

    fn write_health(&self) -> model::audit::AuditWriteHealth {
        model::audit::AuditWriteHealth::default()
    }
}

struct Nodes(BTreeSet<u64>);

impl NodeDirectory for Nodes {
    fn is_enrolled(&self, id: u64) -> bool {
        self.0.contains(&id)
    }
}

#[derive(Default)]
struct Observed(Mutex<Vec<ReplicaView>>);

impl ObservedProjects for Observed {
    fn replicas(&self, _project: &str) -> Vec<ReplicaView> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn upstreams(&self, _project: &str) -> Vec<String> {
        Vec::new()
    }

    fn gateway_stats(&self, _name: &str) -> Option<model::project::api::GatewayStats> {
        None
    }
}

struct Fixture {
    service: ProjectService,
    log: Arc<Log>,
    observed: Arc<Observed>,
}

fn fixture() -> Fixture {
    let log = Arc::new(Log::default());
    let observed = Arc::new(Observed::default());
    let service = ProjectService::new(
        Arc::new(MemoryStore::new()),
        log.clone(),
        Arc::new(ManualClock::new(1_000)),
        Arc::new(Nodes(BTreeSet::from([1, 2, 3]))),
        observed.clone(),
        Arc::new(super::super::events::ProjectEvents::new()),
    );
    Fixture {
        service,
        log,
        observed,
    }
}

fn alice() -> Caller {
    Caller {
        user: "alice".into(),
        client: "192.0.2.7".into(),
        via: String::new(),
    }
}

fn input(json: &str) -> model::project::ProjectInput {
    serde_json::from_str(json).expect("test input parses")
}

const WEB: &str = r#"{"name":"web","image":"app:v1","replicas":4,"container_port":80,
    "health":{"type":"http","path":"/"},"gateway":{"node":1,"port":12225}}"#;

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn create_answers_the_project_and_its_webhook_secret_once_and_audits() {
    let fx = fixture();
    run(async {
        let created = fx
            .service
            .create(&alice(), input(WEB))
            .await
            .expect("created");
        assert_eq!(created.project.name, "web");
        assert_eq!(created.project.revision, 1);
        assert_eq!(created.project.replicas_desired, 4);
        assert_eq!(created.project.status, ProjectStatus::Deploying);
        assert_eq!(created.webhook_secret.len(), 64);
        let shown = serde_json::to_value(fx.service.get("web").await.expect("get")).expect("json");
        assert!(!shown.to_string().contains(&created.webhook_secret));
        assert_eq!(shown["gateway"]["port"], 12225);
        let dup = fx
            .service
            .create(&alice(), input(WEB))
            .await
            .expect_err("taken");
        assert_eq!(dup.http_status(), 409);
    });
    let entries = fx.log.entries();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (
            entries[0].action.as_str(),
            entries[0].target.as_str(),
            entries[0].result
        ),
        ("project.create", "project/web", AuditResult::Ok)
    );
    assert_eq!(entries[1].result, AuditResult::Denied);
}

#[test]
fn gateway_nodes_must_exist_and_ports_must_be_free() {
    let fx = fixture();
    run(async {
        fx.service
            .create(&alice(), input(WEB))
            .await
            .expect("created");
        let clash = input(
            r#"{"name":"api","image":"api:1","replicas":1,"container_port":80,
                "gateway":{"node":1,"port":12225}}"#,
        );
        assert_eq!(
            fx.service
                .create(&alice(), clash)
                .await
                .expect_err("port taken")
                .http_status(),
            409
        );
        let other_node = input(
            r#"{"name":"api","image":"api:1","replicas":1,"container_port":80,
                "gateway":{"node":2,"port":12225}}"#,
        );
        fx.service
            .create(&alice(), other_node)
            .await
            .expect("another node's port");
        let nowhere = input(
            r#"{"name":"db","image":"db:1","replicas":1,"container_port":5432,
                "gateway":{"node":9,"port":5432}}"#,
        );
        match fx.service.create(&alice(), nowhere).await {
            Err(ProjectFailure::Invalid(e)) => assert_eq!(e.field, "gateway.node"),
            other => panic!("expected gateway.node refused, got {other:?}"),
        }
        // Moving a project's own gateway to the port it already has is no clash.
        let same = ProjectPatch {
            replicas: Some(2),
            ..ProjectPatch::default()
        };
        fx.service
            .update(&alice(), "web", &same)
            .await
            .expect("own port");
    });
}

#[test]
fn an_image_change_makes_a_revision_and_a_scale_does_not() {
    let fx = fixture();
    run(async {
        fx.service
            .create(&alice(), input(WEB))
            .await
            .expect("created");
        let scaled = fx.service.scale(&alice(), "web", 6).await.expect("scaled");
        assert_eq!((scaled.revision, scaled.replicas_desired), (1, 6));
        let patch: ProjectPatch = serde_json::from_str(r#"{"image":"app:v2"}"#).expect("patch");
        let updated = fx
            .service
            .update(&alice(), "web", &patch)
            .await
            .expect("updated");
        assert_eq!((updated.revision, updated.image.as_str()), (2, "app:v2"));
        assert_eq!(updated.status, ProjectStatus::Updating);
        assert_eq!(updated.replicas_desired, 6, "the scale survived the update");
        let revs = fx.service.revisions("web").await.expect("revisions");
        assert_eq!(revs.iter().map(|(r, _)| *r).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(revs[0].1.replicas, 6, "scaled in place");

        // Pause, resume, and a rollback to revision 1.
        let paused = fx.service.pause(&alice(), "web").await.expect("paused");
        assert_eq!(paused.status, ProjectStatus::Paused);
        assert_eq!(
            fx.service
                .pause(&alice(), "web")
                .await
                .expect_err("twice")
                .http_status(),
            409
        );
        fx.service.resume(&alice(), "web").await.expect("resumed");
        let back = fx
            .service
            .rollback(&alice(), "web", None)
            .await
            .expect("rolled back");
        assert_eq!((back.revision, back.image.as_str()), (1, "app:v1"));
        assert_eq!(back.status, ProjectStatus::RollingBack);
        let missing = fx.service.rollback(&alice(), "web", Some(7)).await;
        assert_eq!(missing.expect_err("no revision 7").http_status(), 404);
    });
    let actions: Vec<String> = fx.log.entries().into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"project.scale".to_owned()));
    assert!(actions.contains(&"project.rollback".to_owned()));
}

#[test]
fn status_follows_the_observed_replicas() {
    let fx = fixture();
    run(async {
        fx.service
            .create(&alice(), input(WEB))
            .await
            .expect("created");
        let replicas: Vec<ReplicaView> = (0..4)
            .map(|i| ReplicaView {
                node: 1 + i % 3,
                container: format!("c{i}"),
                host_port: Some(32_000 + i as u16),
                state: "running".into(),
                healthy: true,
                revision: 1,
            })
            .collect();
        *fx.observed.0.lock().unwrap_or_else(|e| e.into_inner()) = replicas;
        let shown = fx.service.get("web").await.expect("get");
        // The controller still says first deployment until the reconciler steps it; with
        // every replica healthy the status is ready.
        assert_eq!(shown.status, ProjectStatus::Ready);
        assert_eq!(shown.replicas.len(), 4);
    });
}

#[test]
fn the_webhook_needs_a_valid_fresh_signature() {
    let fx = fixture();
    run(async {
        let created = fx
            .service
            .create(&alice(), input(WEB))
            .await
            .expect("created");
        let key = created.webhook_secret;
        let body = br#"{"image":"app:v2"}"#;
        let good = format!(
            "sha256={}",
            hmac_sha256_hex(key.as_bytes(), body).expect("hmac")
        );

        let unsigned = fx.service.webhook("198.51.100.1", "web", None, body).await;
        assert_eq!(unsigned.expect_err("unsigned").http_status(), 401);
        let wrong = format!(
            "sha256={}",
            hmac_sha256_hex(b"other key", body).expect("hmac")
        );
        let forged = fx
            .service
            .webhook("198.51.100.1", "web", Some(&wrong), body)
            .await;
        assert_eq!(forged.expect_err("forged").http_status(), 401);
        let tampered = fx
            .service
            .webhook("198.51.100.1", "web", Some(&good), br#"{"image":"evil:1"}"#)
            .await;
        assert_eq!(tampered.expect_err("tampered").http_status(), 401);

        let deployed = fx
            .service
            .webhook("198.51.100.1", "web", Some(&good), body)
            .await
            .expect("signed");
        assert_eq!((deployed.revision, deployed.image.as_str()), (2, "app:v2"));
        let replayed = fx
            .service
            .webhook("198.51.100.1", "web", Some(&good), body)
            .await;
        assert_eq!(replayed.expect_err("replay").http_status(), 401);

        let bad_body = br#"{"image":"a b"}"#;
        let sig = format!(
            "sha256={}",
            hmac_sha256_hex(key.as_bytes(), bad_body).expect("hmac")
        );
        let refused = fx
            .service
            .webhook("198.51.100.1", "web", Some(&sig), bad_body)
            .await;
        assert_eq!(refused.expect_err("bad image").http_status(), 400);
    });
    let webhook: Vec<AuditResult> = fx
        .log
        .entries()
        .into_iter()
        .filter(|e| e.action == "project.webhook")
        .map(|e| e.result)
        .collect();
    assert_eq!(webhook.len(), 6, "every call audited");
    assert_eq!(webhook.iter().filter(|r| **r == AuditResult::Ok).count(), 1);
    assert!(
        webhook.iter().all(|r| *r != AuditResult::Failed),
        "refused calls are denied, not failed: {webhook:?}"
    );
}

#[test]
fn delete_removes_and_unknown_names_are_404() {
    let fx = fixture();
    run(async {
        fx.service
            .create(&alice(), input(WEB))
            .await
            .expect("created");
        fx.service.delete(&alice(), "web").await.expect("deleted");
        assert_eq!(
            fx.service.get("web").await.expect_err("gone").http_status(),
            404
        );
        assert_eq!(
            fx.service
                .delete(&alice(), "web")
                .await
                .expect_err("gone")
                .http_status(),
            404
        );
        assert!(fx.service.list().await.expect("list").is_empty());
    });
}

#[test]
fn commands_write_the_projects_timeline() {
    use model::project::api::ProjectEventKind as K;
    let fx = fixture();
    run(async {
        fx.service
            .create(&alice(), input(WEB))
            .await
            .expect("created");
        fx.service.scale(&alice(), "web", 6).await.expect("scaled");
        let patch: ProjectPatch = serde_json::from_str(r#"{"image":"app:v2"}"#).expect("patch");
        fx.service
            .update(&alice(), "web", &patch)
            .await
            .expect("updated");
        fx.service.pause(&alice(), "web").await.expect("paused");
        fx.service.resume(&alice(), "web").await.expect("resumed");
        // A refused command leaves no event.
        fx.service
            .resume(&alice(), "web")
            .await
            .expect_err("nothing paused");
    });
    let kinds: Vec<K> = fx
        .service
        .events()
        .list("web")
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [K::Created, K::Scaled, K::Updated, K::Paused, K::Resumed]
    );
    let updated = &fx.service.events().list("web")[2];
    assert_eq!(updated.revision, Some(2));
    assert!(updated.message.contains("app:v2"), "{}", updated.message);
    run(async { fx.service.delete(&alice(), "web").await.expect("deleted") });
    let after: Vec<K> = fx
        .service
        .events()
        .list("web")
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(after, [K::Deleted]);
}
