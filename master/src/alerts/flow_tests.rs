//! Alerts end to end inside the master, without sockets: heartbeats through the cluster's
//! real ingest path, the live broadcast, the evaluator task, the rule engine and a
//! recording [`Notifier`]; TTL expiry through the cluster's tick.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use model::alert::{AlertRule, AlertState, Notification, NotificationStatus};
use model::alert_rule::RuleInput;
use model::audit::{AuditEntry, AuditPage, AuditQuery};
use model::ops::{BoxFuture, Caller};
use model::service::{AlertRules, AuditLog};
use protocol::{Message, MetricSample};

use super::notify::Notifier;
use super::service::{AlertHub, AlertingService};
use crate::cluster::Cluster;
use crate::endpoint::ControlEvent;
use crate::test_fixtures::*;

#[derive(Default)]
struct Recorder(Mutex<Vec<(Vec<String>, Notification)>>);

impl Recorder {
    fn all(&self) -> Vec<(Vec<String>, Notification)> {
        self.0.lock().unwrap().clone()
    }
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

impl Notifier for Recorder {
    fn notify(&self, channels: &[String], notification: Notification) {
        self.0
            .lock()
            .unwrap()
            .push((channels.to_vec(), notification));
    }
}

#[derive(Default)]
struct Log(Mutex<Vec<AuditEntry>>);

impl AuditLog for Log {
    fn record(&self, entry: AuditEntry) -> BoxFuture<'_, ()> {
        self.0.lock().unwrap().push(entry);
        Box::pin(async {})
    }
    fn query(&self, _q: AuditQuery) -> BoxFuture<'_, Result<AuditPage, model::StoreFailure>> {
        Box::pin(async { Ok(AuditPage::default()) })
    }
    fn write_health(&self) -> model::audit::AuditWriteHealth {
        model::audit::AuditWriteHealth::default()
    }
}

fn caller() -> Caller {
    Caller {
        user: "admin".into(),
        client: "127.0.0.1".into(),
        via: String::new(),
    }
}

fn beat(c: &Cluster, node_id: u64, seq: u64, cpu: f32) {
    c.handle(ControlEvent::Message {
        node_id,
        conn_id: 1,
        msg: Message::Heartbeat(protocol::Heartbeat {
            seq,
            sample: MetricSample {
                cpu_total_pct: cpu,
                ..MetricSample::default()
            },
        }),
    });
}

struct Rig {
    cluster: Cluster,
    clock: Arc<model::ManualClock>,
    recorder: Arc<Recorder>,
    audit: Arc<Log>,
    service: AlertingService,
}

fn rig() -> Rig {
    let (cluster, store, clock) = clocked_cluster();
    let recorder = Arc::new(Recorder::default());
    let audit = Arc::new(Log::default());
    let hub = AlertHub::new(&cluster, recorder.clone(), 3_000);
    let service =
        AlertingService::open(store, audit.clone(), clock.clone(), Arc::clone(&hub)).unwrap();
    super::evaluator::spawn(hub, None, Duration::from_millis(10)).unwrap();
    Rig {
        cluster,
        clock,
        recorder,
        audit,
        service,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_crossing_notifies_once_and_resolves_once() {
    let r = rig();
    let (node, _rx) = enrolled(&r.cluster, [1; 32], 1).await;
    let input: RuleInput = serde_json::from_value(serde_json::json!({
        "name": "cpu hot", "metric": "cpu_total_pct", "op": ">", "threshold": 90,
        "for_s": 2, "channels": ["ops"], "severity": "critical"
    }))
    .unwrap();
    let rule = r.service.create_rule(&caller(), input).await.unwrap();
    assert!(rule.id > 4, "after the built-in rules");
    assert_eq!(r.audit.0.lock().unwrap()[0].action, "alert_rule.create");
    // Above the threshold for 0, 1, 2, 3 s: pending, then firing at 2 s, once.
    for (i, cpu) in [95.0, 96.0, 97.0, 98.0].into_iter().enumerate() {
        beat(&r.cluster, node, i as u64, cpu);
        r.clock.advance(Duration::from_secs(1));
    }
    wait_until("the firing notification", || r.recorder.count() >= 1).await;
    let active = r.cluster.active_alerts();
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(
        (active[0].rule, active[0].node),
        (AlertRule::Threshold, node)
    );
    // More samples above, then one below: the resolution, once.
    for (i, cpu) in [99.0, 93.0, 10.0].into_iter().enumerate() {
        beat(&r.cluster, node, 10 + i as u64, cpu);
        r.clock.advance(Duration::from_secs(1));
    }
    wait_until("the resolved notification", || r.recorder.count() >= 2).await;
    let got = r.recorder.all();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, vec!["ops"]);
    assert_eq!(got[0].1.status, NotificationStatus::Firing);
    assert_eq!(got[0].1.rule, "cpu hot");
    // The value that fired it: the sample at 2 s (97), or a later one above the threshold
    // when the evaluator, running on its own task, caught up on a newer sample first.
    let fired = got[0].1.value.unwrap_or_default();
    assert!((97.0..=99.0).contains(&fired), "{got:?}");
    assert_eq!(got[1].1.status, NotificationStatus::Resolved);
    assert_eq!(got[1].1.alert_id, got[0].1.alert_id);
    assert!(r.cluster.active_alerts().is_empty());
    r.cluster.alert_writer().flush();
    let stored = r.cluster.store().list_alerts(None, 10).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].state, AlertState::Resolved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slave_past_its_ttl_notifies_offline_once_and_recovery_once() {
    let r = rig();
    // The built-in "slave offline" rule carries the channels.
    let rules = r.service.rules().await.unwrap();
    let offline = rules.iter().find(|x| x.name == "slave offline").unwrap();
    let mut input: RuleInput = serde_json::from_value(serde_json::json!({
        "name": "slave offline", "metric": "node_offline", "channels": ["pager"],
        "severity": "critical"
    }))
    .unwrap();
    input.enabled = Some(true);
    r.service
        .update_rule(&caller(), offline.id, input)
        .await
        .unwrap();
    let (node, _rx) = enrolled(&r.cluster, [2; 32], 1).await;
    beat(&r.cluster, node, 1, 5.0);
    // The slave stops: past TTL + grace (3 s) its alert fires, once, however many ticks.
    for _ in 0..8 {
        r.clock.advance(Duration::from_secs(1));
        r.cluster.tick(r.cluster.now_ms());
    }
    wait_until("the offline notification", || r.recorder.count() >= 1).await;
    // It comes back.
    beat(&r.cluster, node, 2, 5.0);
    wait_until("the recovery notification", || r.recorder.count() >= 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = r.recorder.all();
    assert_eq!(got.len(), 2, "exactly one firing and one recovery: {got:?}");
    assert_eq!(got[0].1.status, NotificationStatus::Firing);
    assert_eq!(got[1].1.status, NotificationStatus::Resolved);
    assert_eq!(got[0].1.alert_id, got[1].1.alert_id);
    assert_eq!(
        (got[0].0.clone(), got[0].1.node),
        (vec!["pager".to_owned()], Some(node))
    );
    assert_eq!(got[0].1.rule, "slave offline");
}
