//! The rules of a project's specification, each error naming its field.

use super::spec::*;
use super::*;

fn input(json: &str) -> ProjectInput {
    serde_json::from_str(json).expect("test input parses")
}

fn field_of(json: &str) -> String {
    match input(json).validate() {
        Ok(spec) => panic!("accepted: {spec:?}"),
        Err(e) => e.field,
    }
}

const MINIMAL: &str = r#"{"name":"web","image":"busybox:1.36","replicas":4,"container_port":8080}"#;

#[test]
fn a_minimal_project_gets_every_default() {
    let spec = input(MINIMAL).validate().expect("valid");
    assert_eq!(spec.health, HealthCheck::default_tcp());
    assert_eq!(spec.update, UpdateStrategy::default_rolling());
    assert_eq!(spec.gateway, None);
    assert!(spec.env.is_empty() && spec.cmd.is_empty());
}

#[test]
fn the_issue_s_short_forms_are_complete() {
    let spec = input(
        r#"{"name":"web","image":"app:v1","replicas":2,"container_port":80,
            "health":{"type":"http","path":"/"},"gateway":{"node":1,"port":12225}}"#,
    )
    .validate()
    .expect("valid");
    assert_eq!(
        spec.health.probe,
        Probe::Http {
            path: "/".into(),
            expected_status: 200
        }
    );
    let gw = spec.gateway.expect("gateway");
    assert_eq!(
        (gw.node, gw.port, gw.algorithm),
        (1, 12225, Algorithm::RoundRobin)
    );
}

#[test]
fn canary_defaults_and_rules() {
    let spec = input(
        r#"{"name":"web","image":"app:v1","replicas":3,"container_port":80,
            "update":{"strategy":"canary"}}"#,
    )
    .validate()
    .expect("valid");
    assert_eq!(
        spec.update,
        UpdateStrategy::Canary {
            canaries: 1,
            promotion: Promotion::Auto,
            healthy_period_s: DEFAULT_CANARY_PERIOD_S,
            deadline_s: DEFAULT_DEADLINE_S,
            auto_rollback: true,
        }
    );
    assert_eq!(
        field_of(
            r#"{"name":"web","image":"app:v1","replicas":3,"container_port":80,
                "update":{"strategy":"canary","max_surge":2}}"#
        ),
        "update.strategy"
    );
    assert_eq!(
        field_of(
            r#"{"name":"web","image":"app:v1","replicas":3,"container_port":80,
                "update":{"strategy":"canary","canaries":0}}"#
        ),
        "update.canaries"
    );
}

#[test]
fn every_rule_names_its_field() {
    let cases = [
        (
            r#"{"name":"Web","image":"a","replicas":1,"container_port":1}"#,
            "name",
        ),
        (
            r#"{"name":"web-","image":"a","replicas":1,"container_port":1}"#,
            "name",
        ),
        (
            r#"{"name":"1web","image":"a","replicas":1,"container_port":1}"#,
            "name",
        ),
        (
            r#"{"name":"web","image":"a b","replicas":1,"container_port":1}"#,
            "image",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1001,"container_port":1}"#,
            "replicas",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":0}"#,
            "container_port",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"env":["=x"]}"#,
            "env[0]",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"cmd":["a\u0000b"]}"#,
            "cmd[0]",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"volumes":["data:relative"]}"#,
            "volumes[0]",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"labels":{"commander.project":"x"}}"#,
            "labels.commander.project",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"resources":{"memory_bytes":0}}"#,
            "resources.memory_bytes",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"health":{"type":"http","path":"x"}}"#,
            "health.path",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"health":{"type":"tcp","path":"/"}}"#,
            "health.path",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"health":{"type":"http","expected_status":42}}"#,
            "health.expected_status",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"health":{"type":"tcp","interval_s":2,"timeout_s":5}}"#,
            "health.timeout_s",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"health":{"type":"tcp","interval_s":0}}"#,
            "health.interval_s",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"update":{"strategy":"rolling","max_surge":0,"max_unavailable":0}}"#,
            "update.max_surge",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"update":{"strategy":"rolling","deadline_s":1}}"#,
            "update.deadline_s",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"gateway":{"node":0,"port":80}}"#,
            "gateway.node",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"gateway":{"node":1,"port":0}}"#,
            "gateway.port",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"gateway":{"node":1,"port":80,"allow":["10.0.0.0/8","10.0.0.0/33"]}}"#,
            "gateway.allow[1]",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"gateway":{"node":1,"port":80,"deny":["nope"]}}"#,
            "gateway.deny[0]",
        ),
        (
            r#"{"name":"web","image":"a","replicas":1,"container_port":1,"gateway":{"node":1,"port":80,"max_conns_per_ip":0}}"#,
            "gateway.max_conns_per_ip",
        ),
    ];
    for (json, field) in cases {
        assert_eq!(field_of(json), field, "for {json}");
    }
}

#[test]
fn unknown_fields_and_oversized_lists_are_refused() {
    let typo = r#"{"name":"web","image":"a","replicas":1,"container_port":1,"replica":3}"#;
    assert!(serde_json::from_str::<ProjectInput>(typo).is_err());
    let mut big = input(MINIMAL);
    big.env = vec!["A=1".to_owned(); MAX_LIST_ENTRIES + 1];
    assert_eq!(big.validate().expect_err("too many").field, "env");
}

#[test]
fn cidrs_parse_both_families() {
    assert_eq!(
        Cidr::parse("10.1.0.0/16").map(|c| c.to_string()).as_deref(),
        Some("10.1.0.0/16")
    );
    assert_eq!(Cidr::parse("::1").map(|c| c.prefix), Some(128));
    assert_eq!(Cidr::parse("192.0.2.1").map(|c| c.prefix), Some(32));
    assert!(Cidr::parse("::/129").is_none());
    assert!(Cidr::parse("1.2.3.4/").is_none());
}

#[test]
fn credentials_are_kept_for_the_store_but_never_printed() {
    let spec = input(
        r#"{"name":"web","image":"a","replicas":1,"container_port":1,
            "registry_auth":{"username":"ci","password":"s3cret"}}"#,
    )
    .validate()
    .expect("valid");
    let creds = spec.registry_auth.clone().expect("credentials");
    assert_eq!(creds.password, "s3cret");
    assert!(!format!("{spec:?}").contains("s3cret"));
    let stored = serde_json::to_string(&spec).expect("serialises");
    let back: ProjectSpec = serde_json::from_str(&stored).expect("round trip");
    assert_eq!(back, spec);
}

#[test]
fn only_container_changes_make_a_new_revision() {
    let a = input(MINIMAL).validate().expect("valid");
    let mut b = a.clone();
    b.replicas = 9;
    b.update = UpdateStrategy::Canary {
        canaries: 2,
        promotion: Promotion::Manual,
        healthy_period_s: 5,
        deadline_s: 60,
        auto_rollback: false,
    };
    assert!(!needs_new_revision(&a, &b));
    b.image = "busybox:1.37".into();
    assert!(needs_new_revision(&a, &b));
    let mut c = a.clone();
    c.env.push("A=1".into());
    assert!(needs_new_revision(&a, &c));
}

#[test]
fn status_names_are_the_api_s() {
    let all = [
        ProjectStatus::Deploying,
        ProjectStatus::Ready,
        ProjectStatus::Updating,
        ProjectStatus::RollingBack,
        ProjectStatus::Paused,
        ProjectStatus::Degraded,
    ];
    for s in all {
        assert_eq!(serde_json::to_value(s).expect("json"), s.as_str());
    }
}

mod api {
    use super::super::api::{ProjectFailure, ProjectPatch};
    use super::*;

    const FULL: &str = r#"{"name":"web","image":"app:v1","replicas":3,"container_port":80,
        "env":["A=1"],"cmd":["serve","--port","80"],"volumes":["data:/data:ro"],
        "resources":{"memory_bytes":67108864,"nano_cpus":500000000},"labels":{"team":"a"},
        "registry_auth":{"username":"ci","password":"pw"},
        "health":{"type":"http","path":"/healthz","expected_status":204,"interval_s":3,
                  "timeout_s":1,"healthy_threshold":2,"unhealthy_threshold":4,"start_period_s":7},
        "update":{"strategy":"canary","canaries":2,"promotion":"manual","healthy_period_s":9,
                  "deadline_s":60,"auto_rollback":false},
        "gateway":{"node":2,"port":12225,"algorithm":"hash","allow":["10.0.0.0/8"],
                   "deny":["10.9.0.0/16"],"max_conns_per_ip":5,"conn_rate_per_ip":7}}"#;

    fn patch(json: &str) -> ProjectPatch {
        serde_json::from_str(json).expect("test patch parses")
    }

    #[test]
    fn a_spec_goes_back_to_the_input_it_came_from() {
        let spec = input(FULL).validate().expect("valid");
        assert_eq!(spec.to_input().validate().expect("valid again"), spec);
        let minimal = input(MINIMAL).validate().expect("valid");
        assert_eq!(minimal.to_input().validate().expect("valid again"), minimal);
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let spec = input(FULL).validate().expect("valid");
        let image = spec
            .patched(&patch(r#"{"image":"app:v2"}"#))
            .expect("valid");
        assert_eq!(image.image, "app:v2");
        assert!(needs_new_revision(&spec, &image));
        assert_eq!(
            ProjectSpec {
                image: spec.image.clone(),
                ..image.clone()
            },
            spec,
            "nothing else changed"
        );
        let scaled = spec.patched(&patch(r#"{"replicas":9}"#)).expect("valid");
        assert_eq!(scaled.replicas, 9);
        assert!(!needs_new_revision(&spec, &scaled));
        assert_eq!(scaled.registry_auth, spec.registry_auth, "credentials kept");
    }

    #[test]
    fn a_null_gateway_removes_it_and_an_absent_one_keeps_it() {
        let spec = input(FULL).validate().expect("valid");
        assert!(spec.patched(&patch("{}")).expect("valid").gateway.is_some());
        assert!(
            spec.patched(&patch(r#"{"gateway":null}"#))
                .expect("valid")
                .gateway
                .is_none()
        );
        let moved = spec
            .patched(&patch(r#"{"gateway":{"node":3,"port":80}}"#))
            .expect("valid");
        assert_eq!(moved.gateway.map(|g| (g.node, g.port)), Some((3, 80)));
    }

    #[test]
    fn a_patch_is_validated_and_cannot_rename() {
        let spec = input(FULL).validate().expect("valid");
        let err = spec
            .patched(&patch(r#"{"replicas":100000}"#))
            .expect_err("too many");
        assert_eq!(err.field, "replicas");
        assert_eq!(ProjectFailure::from(err).http_status(), 400);
        assert!(serde_json::from_str::<ProjectPatch>(r#"{"name":"other"}"#).is_err());
    }

    #[test]
    fn failures_map_to_statuses() {
        assert_eq!(ProjectFailure::NotFound("x".into()).http_status(), 404);
        assert_eq!(ProjectFailure::Conflict("x".into()).http_status(), 409);
        assert_eq!(ProjectFailure::Unauthorized("x".into()).http_status(), 401);
        assert_eq!(ProjectFailure::Store("x".into()).http_status(), 500);
    }
}
