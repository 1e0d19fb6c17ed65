//! The alert state machine, without sockets or clocks.

use super::*;
use model::alert::AlertRule;

fn fired(book: &mut AlertBook, node: u64, now: u64) -> AlertRecord {
    book.node_offline(node, &format!("host-{node}"), now)
        .expect("the alert fires")
}

#[test]
fn offline_fires_once_and_online_resolves() {
    let mut book = AlertBook::new(1);
    let alert = fired(&mut book, 2, 1_000);
    assert_eq!(
        (alert.id, alert.node, alert.node_name.as_str()),
        (1, 2, "host-2")
    );
    assert_eq!((alert.state, alert.fired_ms), (AlertState::Firing, 1_000));
    assert_eq!(alert.rule, AlertRule::NodeOffline);
    assert_eq!(
        book.node_offline(2, "host-2", 2_000),
        None,
        "already firing"
    );
    assert_eq!(book.active(), vec![alert.clone()]);

    let resolved = book.node_online(2, 5_000).expect("resolves");
    assert_eq!(resolved.id, alert.id);
    assert_eq!(resolved.state, AlertState::Resolved);
    assert_eq!(resolved.resolved_ms, Some(5_000));
    assert_eq!(resolved.resolution, Some(Resolution::Online));
    assert_eq!(book.active_count(), 0);
    assert_eq!(book.node_online(2, 6_000), None, "nothing left to resolve");

    // Offline again: a new alert with the next id.
    assert_eq!(fired(&mut book, 2, 7_000).id, 2);
}

#[test]
fn nodes_alert_independently_newest_first() {
    let mut book = AlertBook::new(10);
    fired(&mut book, 1, 100);
    fired(&mut book, 3, 200);
    fired(&mut book, 2, 300);
    let ids: Vec<(u64, u64)> = book.active().iter().map(|a| (a.id, a.node)).collect();
    assert_eq!(ids, vec![(12, 2), (11, 3), (10, 1)]);
    book.node_online(3, 400);
    assert_eq!(book.active_count(), 2);
}

#[test]
fn revoked_is_not_an_alert() {
    let mut book = AlertBook::new(1);
    // Revoking a node whose alert fires resolves it, as revoked.
    fired(&mut book, 4, 1_000);
    let resolved = book.node_revoked(4, 2_000).expect("resolves");
    assert_eq!(resolved.resolution, Some(Resolution::Revoked));
    // A revoked node never raises another alert (its session ends, its TTL expires).
    assert_eq!(book.node_offline(4, "host-4", 3_000), None);
    assert_eq!(book.node_revoked(5, 3_000), None, "nothing firing");
    assert_eq!(book.node_offline(5, "host-5", 3_000), None);
    assert_eq!(book.active_count(), 0);
}

#[test]
fn nodes_not_back_after_a_restart_are_overdue_once() {
    let mut book = AlertBook::new(1);
    book.expect(1, 10_000);
    book.expect(2, 10_000);
    book.expect(3, 12_000);
    assert!(book.overdue(9_999).is_empty());
    // Node 2 comes back in time: no longer expected.
    assert_eq!(book.node_online(2, 5_000), None);
    assert_eq!(book.overdue(10_000), vec![1]);
    assert!(book.overdue(11_000).is_empty(), "reported once");
    assert_eq!(book.overdue(20_000), vec![3]);
    // A node whose TTL expires first is not reported again by its start-up deadline.
    book.expect(4, 30_000);
    fired(&mut book, 4, 25_000);
    assert!(book.overdue(40_000).is_empty());
}

#[test]
fn restored_alerts_stay_active_and_ids_continue() {
    let mut book = AlertBook::new(1);
    let mut old = AlertRecord::offline(41, 7, "db", 500);
    book.restore(old.clone());
    old.id = 40;
    old.node = 8;
    old.state = AlertState::Resolved;
    book.restore(old);
    assert_eq!(book.active_count(), 1, "only the firing one");
    // Its node is expected in vain: the alert already fires.
    book.expect(7, 1_000);
    assert!(book.overdue(2_000).is_empty());
    assert_eq!(book.node_offline(7, "db", 2_000), None);
    let resolved = book.node_online(7, 3_000).expect("resolves");
    assert_eq!((resolved.id, resolved.fired_ms), (41, 500));
    assert_eq!(fired(&mut book, 9, 4_000).id, 42, "ids continue");
}

#[test]
fn a_resolution_never_predates_its_firing() {
    let mut book = AlertBook::new(1);
    fired(&mut book, 1, 5_000);
    // A clock step backwards must not give a negative duration.
    let resolved = book.node_online(1, 4_000).expect("resolves");
    assert_eq!(resolved.resolved_ms, Some(5_000));
}
