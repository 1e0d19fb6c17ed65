//! The rule engine with time passed in: pending → firing → resolved, one notification per
//! transition, `for_s`, hysteresis, silences, rule edits and deletion, per-mount disks,
//! rates, offline nodes and stale data.

use super::*;
use model::alert::NotificationStatus;
use model::alert_rule::{Op, RuleInput};
use protocol::{DiskUsage, NetUsage};

const STALE: u64 = 30_000;

fn engine() -> RuleEngine {
    RuleEngine::new(AlertIds::new(1), STALE)
}

fn rule(id: u64, json: serde_json::Value) -> AlertRuleRecord {
    let input: RuleInput = serde_json::from_value(json).unwrap();
    let mut rule = input.validate().unwrap();
    rule.id = id;
    rule
}

fn cpu_rule(id: u64, op: &str, threshold: f64, for_s: u64, recover: f64) -> AlertRuleRecord {
    rule(
        id,
        serde_json::json!({"name": format!("cpu-{id}"), "metric": "cpu_total_pct", "op": op,
            "threshold": threshold, "for_s": for_s, "recover_threshold": recover,
            "channels": ["ops"]}),
    )
}

fn cpu(pct: f32) -> MetricSample {
    MetricSample {
        cpu_total_pct: pct,
        ..MetricSample::default()
    }
}

fn statuses(out: &Output) -> Vec<NotificationStatus> {
    out.notices.iter().map(|n| n.notification.status).collect()
}

/// Feeds `values` one second apart from `start`; returns every output merged.
fn feed(e: &mut RuleEngine, node: u64, start: u64, values: &[f32]) -> Output {
    let mut all = Output::default();
    for (i, v) in values.iter().enumerate() {
        all.extend(e.sample(node, "web-1", &cpu(*v), start + i as u64 * 1_000));
    }
    all
}

#[test]
fn pending_then_firing_after_for_s_then_resolved_once_each() {
    let mut e = engine();
    assert!(e.set_rule(cpu_rule(1, ">", 90.0, 3, 90.0), 0).is_empty());
    // 0 s: pending; 1 s, 2 s: still pending (for_s 3).
    let out = feed(&mut e, 7, 10_000, &[95.0, 96.0, 97.0]);
    assert!(out.is_empty(), "pending announces nothing: {out:?}");
    assert_eq!(e.pending_count(), 1);
    // 3 s after the first: fires, once.
    let out = e.sample(7, "web-1", &cpu(93.0), 13_000);
    assert_eq!(statuses(&out), vec![NotificationStatus::Firing]);
    let n = &out.notices[0];
    assert_eq!(n.channels, vec!["ops"]);
    assert_eq!(n.notification.rule, "cpu-1");
    assert_eq!(n.notification.node, Some(7));
    assert_eq!(n.notification.metric, "cpu_total_pct");
    assert_eq!(
        (n.notification.value, n.notification.threshold),
        (Some(93.0), Some(90.0))
    );
    assert_eq!(n.notification.started_at, 13_000);
    assert!(
        n.notification.summary.contains("web-1"),
        "{}",
        n.notification.summary
    );
    let fired = out.records[0].clone();
    assert_eq!(
        (fired.rule, fired.state),
        (AlertRule::Threshold, AlertState::Firing)
    );
    assert_eq!(e.active(), vec![fired.clone()]);
    // Still above: no repeat, however many samples.
    let out = feed(&mut e, 7, 14_000, &[99.0, 98.0, 97.0, 96.0]);
    assert!(out.is_empty(), "no notification per sample");
    // Back below: resolves once.
    let out = e.sample(7, "web-1", &cpu(50.0), 20_000);
    assert_eq!(statuses(&out), vec![NotificationStatus::Resolved]);
    let resolved = &out.records[0];
    assert_eq!(
        (resolved.id, resolved.state),
        (fired.id, AlertState::Resolved)
    );
    assert_eq!(resolved.resolution, Some(Resolution::Recovered));
    assert_eq!(out.notices[0].notification.ended_at, Some(20_000));
    assert!(feed(&mut e, 7, 21_000, &[10.0, 20.0]).is_empty());
    assert!(e.active().is_empty());
}

#[test]
fn a_dip_during_pending_restarts_the_wait() {
    let mut e = engine();
    e.set_rule(cpu_rule(1, ">=", 90.0, 2, 90.0), 0);
    let out = feed(&mut e, 1, 0, &[90.0, 95.0, 10.0, 95.0, 95.0]);
    assert!(out.is_empty(), "the dip at 2 s reset pending");
    assert_eq!(
        statuses(&e.sample(1, "", &cpu(95.0), 5_000)),
        vec![NotificationStatus::Firing]
    );
}

#[test]
fn for_zero_fires_on_the_first_sample() {
    let mut e = engine();
    e.set_rule(cpu_rule(1, ">", 90.0, 0, 90.0), 0);
    assert_eq!(
        statuses(&e.sample(1, "", &cpu(91.0), 1)),
        vec![NotificationStatus::Firing]
    );
}

#[test]
fn hysteresis_keeps_firing_until_past_the_recover_threshold() {
    let mut e = engine();
    e.set_rule(cpu_rule(1, ">", 90.0, 0, 80.0), 0);
    assert_eq!(
        statuses(&e.sample(1, "", &cpu(91.0), 0)),
        vec![NotificationStatus::Firing]
    );
    // Between 80 and 90: still firing, no flapping.
    assert!(feed(&mut e, 1, 1_000, &[85.0, 89.0, 81.0, 92.0, 80.5]).is_empty());
    assert_eq!(e.active().len(), 1);
    assert_eq!(
        statuses(&e.sample(1, "", &cpu(80.0), 9_000)),
        vec![NotificationStatus::Resolved]
    );
    // A lower-bound rule: fires below, recovers above its (higher) recover threshold.
    let mut e = engine();
    e.set_rule(cpu_rule(2, "<", 5.0, 0, 10.0), 0);
    assert_eq!(
        statuses(&e.sample(1, "", &cpu(4.0), 0)),
        vec![NotificationStatus::Firing]
    );
    assert!(e.sample(1, "", &cpu(8.0), 1_000).is_empty());
    assert_eq!(
        statuses(&e.sample(1, "", &cpu(10.0), 2_000)),
        vec![NotificationStatus::Resolved]
    );
}

#[test]
fn silences_suppress_notifications_but_not_alerts_and_expire() {
    let mut e = engine();
    e.set_rule(cpu_rule(1, ">", 90.0, 0, 90.0), 0);
    let silence = |rule: &str, node, until_ms| SilenceRecord {
        id: 1,
        rule: rule.into(),
        node,
        until_ms,
        comment: String::new(),
        created_by: "admin".into(),
        created_ms: 0,
    };
    // Silenced by name on node 1 until 10 s.
    e.set_silences(vec![silence("cpu-1", Some(1), 10_000)]);
    let out = e.sample(1, "", &cpu(95.0), 1_000);
    assert_eq!(out.records.len(), 1, "the alert still shows");
    assert!(out.records[0].silenced);
    assert!(out.notices.is_empty(), "but nobody is told");
    // Another node is not covered by the silence.
    assert_eq!(
        statuses(&e.sample(2, "", &cpu(95.0), 1_000)),
        vec![NotificationStatus::Firing]
    );
    // Resolving a silenced alert whose firing was never announced announces nothing.
    let out = e.sample(1, "", &cpu(10.0), 2_000);
    assert_eq!(out.records.len(), 1);
    assert!(out.notices.is_empty());
    // Fires again while silenced, and the silence ends while it still fires: the firing
    // notification goes out then, once.
    assert!(e.sample(1, "", &cpu(95.0), 3_000).notices.is_empty());
    assert!(e.tick(9_999).is_empty());
    assert_eq!(statuses(&e.tick(10_000)), vec![NotificationStatus::Firing]);
    assert!(e.tick(11_000).is_empty());
    assert!(e.sample(1, "", &cpu(96.0), 11_000).is_empty());
    assert_eq!(
        statuses(&e.sample(1, "", &cpu(1.0), 12_000)),
        vec![NotificationStatus::Resolved]
    );
    // A silence by rule id covers every node.
    e.set_silences(vec![silence("1", None, 100_000)]);
    assert!(e.sample(3, "", &cpu(99.0), 13_000).notices.is_empty());
}

#[test]
fn editing_a_firing_rule_so_it_no_longer_holds_resolves_it() {
    let mut e = engine();
    e.set_rule(cpu_rule(1, ">", 90.0, 0, 90.0), 0);
    e.sample(1, "", &cpu(93.0), 1_000);
    // Threshold raised above the last value: resolves at once, without a new sample.
    let out = e.set_rule(cpu_rule(1, ">", 95.0, 0, 95.0), 2_000);
    assert_eq!(statuses(&out), vec![NotificationStatus::Resolved]);
    assert_eq!(out.records[0].resolution, Some(Resolution::Recovered));
    assert!(e.active().is_empty());
    // An edit that still holds (channels changed) keeps it firing; its resolution goes
    // to the new channels.
    e.sample(1, "", &cpu(99.0), 3_000);
    let mut edited = cpu_rule(1, ">", 95.0, 0, 95.0);
    edited.channels = vec!["pager".into()];
    assert!(e.set_rule(edited.clone(), 4_000).is_empty());
    assert_eq!(e.active().len(), 1);
    // Disabling resolves.
    edited.enabled = false;
    let out = e.set_rule(edited, 5_000);
    assert_eq!(out.notices[0].channels, vec!["pager"]);
    assert_eq!(out.records[0].resolution, Some(Resolution::RuleDeleted));
    assert!(e.sample(1, "", &cpu(99.0), 6_000).is_empty(), "disabled");
}

#[test]
fn deleting_a_rule_resolves_its_alerts_and_drops_pending() {
    let mut e = engine();
    e.set_rule(cpu_rule(1, ">", 90.0, 0, 90.0), 0);
    e.set_rule(cpu_rule(2, ">", 90.0, 60, 90.0), 0);
    let out = e.sample(1, "", &cpu(93.0), 1_000);
    assert_eq!(out.records.len(), 1, "rule 1 fires, rule 2 pends");
    assert_eq!(e.pending_count(), 1);
    let out = e.remove_rule(1, 2_000);
    assert_eq!(statuses(&out), vec![NotificationStatus::Resolved]);
    assert_eq!(out.records[0].resolution, Some(Resolution::RuleDeleted));
    assert!(e.remove_rule(2, 2_000).is_empty());
    assert_eq!(e.pending_count(), 0);
    assert!(e.sample(1, "", &cpu(99.0), 100_000).is_empty());
}

fn disks(root: u64, data: u64) -> MetricSample {
    let d = |mount: &str, used| DiskUsage {
        mount: mount.into(),
        total_bytes: 100,
        used_bytes: used,
    };
    MetricSample {
        disks: vec![d("/", root), d("/data", data)],
        ..MetricSample::default()
    }
}

#[test]
fn disk_rules_alert_per_mount() {
    let mut e = engine();
    let mut builtin = AlertRuleRecord::builtins().pop().unwrap();
    builtin.id = 4;
    builtin.channels = vec!["ops".into()];
    assert_eq!(builtin.metric, Metric::DiskUsedPct);
    e.set_rule(builtin, 0);
    assert!(
        e.sample(1, "db", &disks(95, 10), 0).is_empty(),
        "pending 60 s"
    );
    let out = e.sample(1, "db", &disks(95, 92), 60_000);
    assert_eq!(out.records.len(), 1, "/ fires; /data only now pending");
    assert_eq!(out.records[0].target, "/");
    assert_eq!(out.records[0].node_name, "db");
    let out = e.sample(1, "db", &disks(95, 92), 120_000);
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].target, "/data");
    assert_eq!(e.active().len(), 2);
    // 86 is still above the recovery threshold 85 of the built-in rule.
    let out = e.sample(1, "db", &disks(86, 80), 121_000);
    assert_eq!(out.records.len(), 1);
    assert_eq!(
        (out.records[0].target.as_str(), out.records[0].state),
        ("/data", AlertState::Resolved)
    );
    // A mount that disappears: no data.
    let gone = MetricSample::default();
    let out = e.sample(1, "db", &gone, 122_000);
    assert_eq!(out.records[0].resolution, Some(Resolution::NoData));
    assert!(e.active().is_empty());
}

#[test]
fn network_rates_need_the_previous_sample() {
    let mut e = engine();
    e.set_rule(
        rule(
            1,
            serde_json::json!({"name": "rx", "metric": "net_rx_bytes_per_sec", "op": ">",
                "threshold": 1000}),
        ),
        0,
    );
    let s = |rx: u64, at: u64| MetricSample {
        taken_at_ms: at,
        nets: vec![NetUsage {
            iface: "eth0".into(),
            rx_bytes: rx,
            tx_bytes: 0,
            rx_bytes_per_sec: 0,
            tx_bytes_per_sec: 0,
        }],
        ..MetricSample::default()
    };
    assert!(e.sample(1, "", &s(0, 1_000), 1_000).is_empty());
    assert!(
        e.sample(1, "", &s(1_000, 2_000), 2_000).is_empty(),
        "1000 B/s is not > 1000"
    );
    let out = e.sample(1, "", &s(5_000, 4_000), 4_000);
    assert_eq!(out.records[0].value, Some(2_000.0), "4000 B over 2 s");
}

#[test]
fn offline_nodes_and_stale_data_never_fire() {
    let mut e = engine();
    e.set_rule(cpu_rule(1, ">", 90.0, 10, 90.0), 0);
    e.set_rule(cpu_rule(2, ">", 90.0, 0, 90.0), 0);
    let out = e.sample(1, "", &cpu(99.0), 0);
    assert_eq!(out.records.len(), 1, "rule 2 fires, rule 1 pends");
    // The node goes offline: rule 2 resolves (no data), rule 1's pending is dropped.
    let out = e.node_offline(1, 5_000);
    assert_eq!(statuses(&out), vec![NotificationStatus::Resolved]);
    assert_eq!(out.records[0].resolution, Some(Resolution::NoData));
    assert_eq!(e.pending_count(), 0);
    // Time passes: nothing fires on the last sample.
    assert!(e.tick(60_000).is_empty());
    // Back with a high value: pending starts again from scratch.
    assert_eq!(e.sample(1, "", &cpu(99.0), 61_000).records.len(), 1);
    assert_eq!(e.pending_count(), 1);
    // A node that stops sending (no offline signal yet) goes stale after STALE.
    assert!(e.tick(61_000 + STALE).is_empty());
    let out = e.tick(61_001 + STALE);
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].resolution, Some(Resolution::NoData));
    assert_eq!(e.pending_count(), 0);
}

#[test]
fn scopes_pick_nodes() {
    let mut e = engine();
    let scoped = |id, scope: serde_json::Value| {
        rule(
            id,
            serde_json::json!({"name": format!("r{id}"), "metric": "cpu_total_pct", "op": ">",
                "threshold": 50, "scope": scope}),
        )
    };
    e.set_rule(scoped(1, serde_json::json!({"node": 2})), 0);
    e.set_rule(scoped(2, serde_json::json!({"label": "role=db"})), 0);
    e.set_rule(scoped(3, serde_json::json!({"project": "web"})), 0);
    assert_eq!(e.sample(1, "", &cpu(99.0), 0).records.len(), 0);
    let map = BTreeMap::from([("web".to_owned(), BTreeSet::from([1]))]);
    e.set_project_nodes(map, 0);
    let out = e.sample(1, "", &cpu(99.0), 1_000);
    assert_eq!(
        out.records.iter().map(|r| r.rule_id).collect::<Vec<_>>(),
        vec![Some(3)]
    );
    let out = e.sample(2, "", &cpu(99.0), 1_000);
    assert_eq!(
        out.records.iter().map(|r| r.rule_id).collect::<Vec<_>>(),
        vec![Some(1)]
    );
    // Node 1 leaves the project: its alert resolves.
    let out = e.set_project_nodes(BTreeMap::new(), 2_000);
    assert_eq!(out.records[0].resolution, Some(Resolution::NoData));
    assert_eq!(out.records[0].node, 1);
}

#[test]
fn node_offline_alerts_notify_the_event_rules_channels_once() {
    let mut e = engine();
    let mut offline = rule(
        7,
        serde_json::json!({"name": "slave offline", "metric": "node_offline",
        "severity": "critical", "channels": ["pager"]}),
    );
    e.set_rule(offline.clone(), 0);
    e.set_rule(cpu_rule(1, ">", 90.0, 0, 90.0), 0);
    e.sample(3, "db", &cpu(99.0), 0);
    let fired = AlertRecord::offline(50, 3, "db", 1_000);
    let out = e.builtin_alert(&fired, 1_000);
    // The threshold alert resolves (no data), then the offline notification.
    assert_eq!(
        statuses(&out),
        vec![NotificationStatus::Resolved, NotificationStatus::Firing]
    );
    assert_eq!(out.notices[1].channels, vec!["pager"]);
    assert_eq!(out.notices[1].notification.alert_id, 50);
    assert!(e.builtin_alert(&fired, 2_000).is_empty(), "once");
    let mut resolved = fired.clone();
    resolved.state = AlertState::Resolved;
    resolved.resolved_ms = Some(9_000);
    let out = e.builtin_alert(&resolved, 9_000);
    assert_eq!(statuses(&out), vec![NotificationStatus::Resolved]);
    assert!(e.builtin_alert(&resolved, 9_000).is_empty(), "once");
    // Without an enabled node_offline rule nobody is told.
    offline.enabled = false;
    e.set_rule(offline, 10_000);
    assert!(
        e.builtin_alert(&AlertRecord::offline(51, 3, "db", 11_000), 11_000)
            .is_empty()
    );
}

#[test]
fn project_events_fire_once_and_resolve_when_ready() {
    let mut e = engine();
    // No event rule: no alert.
    assert!(
        e.project_event(
            "web",
            Some(EventKind::ContainerExited),
            false,
            Some(2),
            "exit code 1",
            0
        )
        .is_empty()
    );
    e.set_rule(
        rule(
            9,
            serde_json::json!({"name": "container exited",
        "metric": "container_exited", "channels": ["ops"]}),
        ),
        0,
    );
    let out = e.project_event(
        "web",
        Some(EventKind::ContainerExited),
        false,
        Some(2),
        "exit code 1",
        1_000,
    );
    assert_eq!(statuses(&out), vec![NotificationStatus::Firing]);
    let alert = &out.records[0];
    assert_eq!(
        (alert.rule, alert.target.as_str(), alert.node),
        (AlertRule::ContainerExited, "web", 2)
    );
    assert!(alert.summary.contains("exit code 1"));
    // More exits of the same project: still one alert.
    assert!(
        e.project_event(
            "web",
            Some(EventKind::ContainerExited),
            false,
            Some(3),
            "",
            2_000
        )
        .is_empty()
    );
    // Rolled back: not covered by a rule here.
    assert!(
        e.project_event(
            "web",
            Some(EventKind::RolloutRolledBack),
            false,
            None,
            "",
            2_000
        )
        .is_empty()
    );
    let out = e.project_event("web", None, true, None, "", 3_000);
    assert_eq!(statuses(&out), vec![NotificationStatus::Resolved]);
    assert!(e.active().is_empty());
}

#[test]
fn restored_alerts_resolve_from_new_samples_and_ids_continue() {
    let mut e = engine();
    e.set_rule(cpu_rule(1, ">", 90.0, 0, 90.0), 0);
    let mut old = AlertRecord::offline(40, 1, "web", 0);
    old.rule = AlertRule::Threshold;
    old.rule_id = Some(1);
    old.value = Some(95.0);
    e.restore(old, 1_000);
    assert_eq!(e.active().len(), 1);
    let out = e.sample(1, "", &cpu(10.0), 2_000);
    assert_eq!(out.records[0].id, 40);
    assert_eq!(statuses(&out), vec![NotificationStatus::Resolved]);
    assert_eq!(e.sample(1, "", &cpu(99.0), 3_000).records[0].id, 41);
    assert_eq!(Op::Gt.as_str(), ">");
}
