//! Validation of rules and silences: every error names its field.

use super::*;
use serde_json::json;

fn input(v: serde_json::Value) -> RuleInput {
    serde_json::from_value(v).expect("parses")
}

fn field(v: serde_json::Value) -> String {
    input(v).validate().expect_err("refused").field
}

#[test]
fn a_full_rule_is_accepted_and_serialised_in_api_names() {
    let rule = input(json!({
        "name": " cpu hot ", "metric": "cpu_total_pct", "scope": {"node": 3}, "op": ">",
        "threshold": 90.0, "for_s": 120, "recover_threshold": 80.0, "severity": "critical",
        "channels": ["ops", "ops", "dingtalk"]
    }))
    .validate()
    .unwrap();
    assert_eq!(rule.name, "cpu hot");
    assert_eq!(rule.channels, vec!["ops", "dingtalk"]);
    let out = serde_json::to_value(&rule).unwrap();
    assert_eq!(out["metric"], "cpu_total_pct");
    assert_eq!(out["scope"], json!({"node": 3}));
    assert_eq!(out["op"], ">");
    assert_eq!(out["severity"], "critical");
    let back: AlertRuleRecord = serde_json::from_value(out).unwrap();
    assert_eq!(back, rule);
    assert_eq!(rule.condition(), "cpu_total_pct > 90 for 120 s");
}

#[test]
fn defaults_fill_the_optional_fields() {
    let rule = input(json!({"name": "load", "metric": "load1", "op": "<=", "threshold": 0.5}))
        .validate()
        .unwrap();
    assert_eq!(rule.scope, Scope::All(true));
    assert_eq!(rule.recover_threshold, 0.5, "defaults to the threshold");
    assert_eq!(
        (rule.for_s, rule.severity, rule.enabled),
        (0, Severity::Warning, true)
    );
    let event = input(json!({"name": "off", "metric": "node_offline"}))
        .validate()
        .unwrap();
    assert!(event.metric.is_event());
}

#[test]
fn every_error_names_its_field() {
    let ok = json!({"name": "n", "metric": "mem_used_pct", "op": ">", "threshold": 50});
    let with = |k: &str, v: serde_json::Value| {
        let mut o = ok.clone();
        o[k] = v;
        field(o)
    };
    assert_eq!(with("name", json!("")), "name");
    assert_eq!(with("name", json!("x".repeat(65))), "name");
    assert_eq!(with("metric", json!("cpu")), "metric");
    assert_eq!(with("op", json!("==")), "op");
    assert_eq!(with("threshold", json!(101)), "threshold");
    assert_eq!(with("recover_threshold", json!(60)), "recover_threshold");
    assert_eq!(with("for_s", json!(MAX_FOR_S + 1)), "for_s");
    assert_eq!(with("severity", json!("loud")), "severity");
    assert_eq!(with("channels", json!([""])), "channels");
    assert_eq!(with("channels", json!(["c".repeat(65)])), "channels");
    assert_eq!(with("scope", json!({"all": false})), "scope");
    assert_eq!(with("scope", json!({"node": 0})), "scope");
    assert_eq!(with("scope", json!({"label": "novalue"})), "scope");
    assert_eq!(with("scope", json!({"project": ""})), "scope");
    assert_eq!(with("scope", json!({"all": true, "node": 1})), "scope");
    assert_eq!(with("scope", json!({"pod": "x"})), "scope");
    assert_eq!(with("scope", json!("all")), "scope");
    let mut no_op = ok.clone();
    no_op.as_object_mut().unwrap().remove("op");
    assert_eq!(field(no_op), "op");
    // A lower-bound rule recovers above its threshold, not below.
    assert_eq!(
        field(
            json!({"name": "n", "metric": "load1", "op": "<", "threshold": 2, "recover_threshold": 1})
        ),
        "recover_threshold"
    );
    let label = input(
        json!({"name": "n", "metric": "load1", "op": "<", "threshold": 2,
        "scope": {"label": "role=db"}}),
    )
    .validate()
    .unwrap();
    assert_eq!(label.scope, Scope::Label("role=db".into()));
}

#[test]
fn silences_are_checked_and_match_by_id_name_or_kind() {
    let now = 1_000_000;
    let s = |v: serde_json::Value| {
        serde_json::from_value::<SilenceInput>(v)
            .unwrap()
            .validate("admin", now)
    };
    let silence = s(json!({"rule": "disk nearly full", "node": 2, "until": now + 60_000})).unwrap();
    assert_eq!(silence.created_by, "admin");
    assert!(silence.matches(Some(4), "disk nearly full", "threshold", 2, now));
    assert!(
        !silence.matches(Some(4), "disk nearly full", "threshold", 3, now),
        "other node"
    );
    assert!(
        !silence.matches(Some(4), "disk nearly full", "threshold", 2, now + 60_000),
        "expired"
    );
    let by_id = s(json!({"rule": "4", "until": now + 1})).unwrap();
    assert!(by_id.matches(Some(4), "x", "threshold", 9, now));
    let by_kind = s(json!({"rule": "node_offline", "until": now + 1})).unwrap();
    assert!(by_kind.matches(None, "slave offline", "node_offline", 9, now));
    assert_eq!(
        s(json!({"rule": "", "until": now + 1})).unwrap_err().field,
        "rule"
    );
    assert_eq!(s(json!({"rule": "r"})).unwrap_err().field, "until");
    assert_eq!(
        s(json!({"rule": "r", "until": now})).unwrap_err().field,
        "until"
    );
    assert_eq!(
        s(json!({"rule": "r", "until": now + MAX_SILENCE_MS + 1}))
            .unwrap_err()
            .field,
        "until"
    );
    assert_eq!(
        s(json!({"rule": "r", "node": 0, "until": now + 1}))
            .unwrap_err()
            .field,
        "node"
    );
}
