//! The gateway service over the memory store with fake edges: validation naming the
//! field, unknown nodes, ports unique per node across standalone and project gateways, the
//! listing of both kinds with their stats, and the audit trail.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use model::ManualClock;
use model::audit::{AuditEntry, AuditPage, AuditQuery, AuditResult};
use model::ops::{BoxFuture, Caller};
use model::project::api::{GatewayStats, ProjectFailure, ReplicaView};
use model::project::gateway::{GatewayKind, StandaloneGatewayInput, StandaloneGatewayPatch};
use model::service::AuditLog;

use super::GatewayService;
use crate::projects::events::ProjectEvents;
use crate::projects::service::{NodeDirectory, ObservedProjects, ProjectService};
use crate::store::MemoryStore;

#[derive(Default)]
struct Log(Mutex<Vec<AuditEntry>>);

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

/// Reports stats for the gateway named `reported` only.
struct Observed {
    reported: &'static str,
}

impl ObservedProjects for Observed {
    fn replicas(&self, _project: &str) -> Vec<ReplicaView> {
        Vec::new()
    }

    fn upstreams(&self, project: &str) -> Vec<String> {
        vec![format!("10.0.0.9:3{}", project.len())]
    }

    fn gateway_stats(&self, name: &str) -> Option<GatewayStats> {
        (name == self.reported).then(|| GatewayStats {
            serving: true,
            message: String::new(),
            active_conns: 1,
            total_conns: 7,
            refused_conns: 2,
            bytes_in: 100,
            bytes_out: 200,
            upstreams: Vec::new(),
            reported_ms: 5,
        })
    }
}

struct Fixture {
    projects: Arc<ProjectService>,
    gateways: GatewayService,
    log: Arc<Log>,
}

fn fixture() -> Fixture {
    let log = Arc::new(Log::default());
    let projects = Arc::new(ProjectService::new(
        Arc::new(MemoryStore::new()),
        log.clone(),
        Arc::new(ManualClock::new(1_000)),
        Arc::new(Nodes(BTreeSet::from([1, 2]))),
        Arc::new(Observed {
            reported: "project/web",
        }),
        Arc::new(ProjectEvents::new()),
    ));
    let gateways = GatewayService::new(Arc::clone(&projects), log.clone());
    Fixture {
        projects,
        gateways,
        log,
    }
}

fn caller() -> Caller {
    Caller {
        user: "alice".into(),
        client: "192.0.2.7".into(),
        via: String::new(),
    }
}

fn gateway(name: &str, node: u64, port: u16) -> StandaloneGatewayInput {
    StandaloneGatewayInput {
        name: name.into(),
        node,
        port,
        upstreams: vec!["10.0.0.5:8080".into()],
        ..StandaloneGatewayInput::default()
    }
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn status<T: std::fmt::Debug>(r: Result<T, ProjectFailure>) -> u16 {
    r.expect_err("refused").http_status()
}

#[test]
fn ports_are_unique_per_node_across_both_kinds() {
    let fx = fixture();
    run(async {
        let c = caller();
        fx.gateways
            .create(&c, gateway("edge", 1, 8080))
            .await
            .expect("created");
        assert_eq!(
            status(fx.gateways.create(&c, gateway("dup", 1, 8080)).await),
            409
        );
        assert_eq!(
            status(fx.gateways.create(&c, gateway("edge", 2, 9000)).await),
            409,
            "name"
        );
        fx.gateways
            .create(&c, gateway("other", 2, 8080))
            .await
            .expect("the same port on another node");

        // A project's gateway and a standalone one exclude each other, both ways.
        let web = serde_json::from_str(
            r#"{"name":"web","image":"app:v1","replicas":1,"container_port":80,
                "gateway":{"node":1,"port":12225}}"#,
        )
        .expect("input");
        fx.projects.create(&c, web).await.expect("project");
        assert_eq!(
            status(fx.gateways.create(&c, gateway("g", 1, 12225)).await),
            409
        );
        let clash = serde_json::from_str(
            r#"{"name":"api","image":"api:1","replicas":1,"container_port":80,
                "gateway":{"node":1,"port":8080}}"#,
        )
        .expect("input");
        assert_eq!(status(fx.projects.create(&c, clash).await), 409);

        // Moving within its own port is no clash; onto another's is.
        let same = StandaloneGatewayPatch {
            upstreams: Some(vec!["10.0.0.6:80".into(), "10.0.0.7:80".into()]),
            ..StandaloneGatewayPatch::default()
        };
        let moved = fx
            .gateways
            .update(&c, "edge", &same)
            .await
            .expect("own port");
        assert_eq!(moved.upstreams, ["10.0.0.6:80", "10.0.0.7:80"]);
        let onto = StandaloneGatewayPatch {
            node: Some(2),
            ..StandaloneGatewayPatch::default()
        };
        assert_eq!(status(fx.gateways.update(&c, "edge", &onto).await), 409);
        let onto_project = StandaloneGatewayPatch {
            port: Some(12225),
            ..StandaloneGatewayPatch::default()
        };
        assert_eq!(
            status(fx.gateways.update(&c, "edge", &onto_project).await),
            409
        );
    });
}

#[test]
fn bad_fields_and_unknown_nodes_are_400_naming_the_field_and_unknown_names_404() {
    let fx = fixture();
    run(async {
        let c = caller();
        let field = |r: Result<_, ProjectFailure>| match r {
            Err(ProjectFailure::Invalid(e)) => e.field,
            other => panic!("expected a 400, got {other:?}"),
        };
        assert_eq!(
            field(fx.gateways.create(&c, gateway("edge", 9, 80)).await),
            "node"
        );
        let mut bad = gateway("edge", 1, 80);
        bad.upstreams = vec!["10.0.0.1:80".into(), "nowhere".into()];
        assert_eq!(field(fx.gateways.create(&c, bad).await), "upstreams[1]");
        fx.gateways
            .create(&c, gateway("edge", 1, 80))
            .await
            .expect("created");
        let to_nowhere = StandaloneGatewayPatch {
            node: Some(7),
            ..StandaloneGatewayPatch::default()
        };
        assert_eq!(
            field(fx.gateways.update(&c, "edge", &to_nowhere).await),
            "node"
        );
        let patch = StandaloneGatewayPatch::default();
        assert_eq!(status(fx.gateways.update(&c, "nope", &patch).await), 404);
        fx.gateways.delete(&c, "edge").await.expect("deleted");
        assert_eq!(status(fx.gateways.delete(&c, "edge").await), 404);
        assert!(fx.gateways.list().await.expect("list").is_empty());
    });
    let entries = fx.log.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let trail: Vec<(&str, &str, AuditResult)> = entries
        .iter()
        .map(|e| (e.action.as_str(), e.target.as_str(), e.result))
        .collect();
    assert_eq!(
        trail,
        [
            ("gateway.create", "gateway/edge", AuditResult::Denied),
            ("gateway.create", "gateway/edge", AuditResult::Denied),
            ("gateway.create", "gateway/edge", AuditResult::Ok),
            ("gateway.update", "gateway/edge", AuditResult::Denied),
            ("gateway.update", "gateway/nope", AuditResult::Failed),
            ("gateway.delete", "gateway/edge", AuditResult::Ok),
            ("gateway.delete", "gateway/edge", AuditResult::Failed),
        ]
    );
}

#[test]
fn the_list_shows_project_and_standalone_gateways_with_their_stats() {
    let fx = fixture();
    run(async {
        let c = caller();
        let web = serde_json::from_str(
            r#"{"name":"web","image":"app:v1","replicas":1,"container_port":80,
                "gateway":{"node":2,"port":12225,"deny":["10.9.0.0/16"]}}"#,
        )
        .expect("input");
        fx.projects.create(&c, web).await.expect("project");
        let plain = serde_json::from_str(
            r#"{"name":"plain","image":"app:v1","replicas":1,"container_port":80}"#,
        )
        .expect("input");
        fx.projects.create(&c, plain).await.expect("project");
        fx.gateways
            .create(&c, gateway("edge", 1, 80))
            .await
            .expect("created");
        let list = fx.gateways.list().await.expect("list");
        let names: Vec<&str> = list.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(
            names,
            ["project/web", "edge"],
            "a project without gateway has none"
        );
        assert_eq!(list[0].kind, GatewayKind::Project);
        assert_eq!(list[0].project.as_deref(), Some("web"));
        assert_eq!((list[0].node, list[0].port), (2, 12225));
        assert_eq!(list[0].upstreams, ["10.0.0.9:33"]);
        assert_eq!(list[0].deny, ["10.9.0.0/16"]);
        assert_eq!(list[0].stats.as_ref().map(|s| s.total_conns), Some(7));
        assert_eq!(list[1].kind, GatewayKind::Standalone);
        assert_eq!(list[1].upstreams, ["10.0.0.5:8080"]);
        assert_eq!(list[1].stats, None, "null before any report");
    });
}
