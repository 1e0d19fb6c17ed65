//! Alerts through the cluster: a TTL expiry fires, a heartbeat resolves, a revocation is
//! not an alert, a restart keeps firing alerts and notices nodes that do not come back;
//! with the in-memory store and no sockets.

use super::*;
use crate::endpoint::{AuthVerdict, ControlEvent};
use crate::test_fixtures::*;
use model::alert::{AlertQuery, AlertState, Resolution};
use protocol::{HelloAuth, Message, MetricSample, RejectReason};
use std::time::Duration;

fn heartbeat(c: &Cluster, node_id: u64, seq: u64) {
    c.handle(ControlEvent::Message {
        node_id,
        conn_id: 1,
        msg: Message::Heartbeat(protocol::Heartbeat {
            seq,
            sample: MetricSample::default(),
        }),
    });
}

fn stored(c: &Cluster) -> Vec<model::alert::AlertRecord> {
    c.alert_writer().flush();
    c.store().list_alerts(None, 100).unwrap()
}

#[tokio::test]
async fn ttl_expiry_fires_and_a_heartbeat_resolves() {
    let (c, _) = cluster();
    let (id, _rx) = enrolled(&c, [1; 32], 1).await;
    let mut events = c.subscribe_alerts().unwrap();
    c.tick(c.now_ms() + 2_900);
    assert!(c.active_alerts().is_empty(), "inside ttl + grace");
    c.tick(c.now_ms() + 3_100);
    let fired = events.try_recv().unwrap();
    assert_eq!((fired.node, fired.state), (id, AlertState::Firing));
    assert_eq!(c.active_alerts(), vec![fired.clone()]);
    c.tick(c.now_ms() + 10_000);
    assert!(events.try_recv().is_err(), "fired once");
    assert_eq!(stored(&c), vec![fired.clone()], "kept in the history");

    heartbeat(&c, id, 1);
    let resolved = events.try_recv().unwrap();
    assert_eq!(
        (resolved.id, resolved.state),
        (fired.id, AlertState::Resolved)
    );
    assert_eq!(resolved.resolution, Some(Resolution::Online));
    assert!(c.active_alerts().is_empty());
    assert_eq!(
        stored(&c),
        vec![resolved],
        "the resolution replaces the record"
    );

    let list = c
        .alert_list(AlertQuery {
            before: None,
            limit: 10,
            ..AlertQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (list.active.len(), list.history.len(), list.total),
        (0, 1, 1)
    );
    assert_eq!(list.next, None);
}

#[tokio::test]
async fn revocation_is_not_an_alert_and_resolves_one() {
    let (c, _) = cluster();
    let (quiet, _rx) = enrolled(&c, [1; 32], 1).await;
    let (loud, _rx2) = enrolled(&c, [2; 32], 2).await;
    // Revoked while online: its TTL ends with the session, and no alert fires.
    assert!(c.revoke(quiet).await.unwrap());
    c.tick(c.now_ms() + 3_100);
    let active = c.active_alerts();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].node, loud);
    // Revoked while its alert fires: the alert resolves as revoked.
    assert!(c.revoke(loud).await.unwrap());
    assert!(c.active_alerts().is_empty());
    let history = stored(&c);
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].resolution, Some(Resolution::Revoked));
}

#[tokio::test]
async fn a_key_revoked_behind_the_masters_back_raises_no_alert() {
    let (c, store) = cluster();
    let (id, _rx) = enrolled(&c, [1; 32], 1).await;
    // `commander node revoke` writes the store only; the slave's next session is refused.
    store.set_revoked(id, true).unwrap();
    let (h, _rx2) = conn(2);
    assert_eq!(
        rejected(auth(&c, h, [1; 32], hello(HelloAuth::Resume { node_id: id })).await),
        RejectReason::Revoked
    );
    c.tick(c.now_ms() + 10_000);
    assert!(c.active_alerts().is_empty());
    assert!(c.node_views()[0].revoked);
}

#[tokio::test]
async fn ttl_expiry_and_host_facts_keep_a_revocation_written_by_another_process() {
    let (c, store, clock) = clocked_cluster();
    let (id, _rx) = enrolled(&c, [1; 32], 1).await;
    // `commander node revoke` while the node is connected: the cluster's copy still says
    // not revoked. Neither new host facts nor the TTL expiry may write that copy back.
    store.set_revoked(id, true).unwrap();
    // A heartbeat a second later: the expiry saves that time as `last_seen_ms`, which
    // tells when its write has landed.
    clock.advance(Duration::from_secs(1));
    heartbeat(&c, id, 1);
    let seen = c.now_ms();
    c.tick(seen + 3_100);
    c.handle(ControlEvent::Message {
        node_id: id,
        conn_id: 1,
        msg: Message::HostInfo(host_info("renamed")),
    });
    // Both writes run on the blocking pool; wait for both.
    wait_until("the expiry and the host facts are saved", || {
        let n = store.get_node(id).unwrap().unwrap();
        n.hostname == "renamed" && n.last_seen_ms == seen
    })
    .await;
    let n = store.get_node(id).unwrap().unwrap();
    assert!(n.revoked, "the revocation was overwritten: {n:?}");
}

#[tokio::test]
async fn a_restart_keeps_firing_alerts_and_notices_nodes_that_stay_away() {
    let (c, store) = cluster();
    let (gone, _rx) = enrolled(&c, [1; 32], 1).await;
    let (back, _rx2) = enrolled(&c, [2; 32], 2).await;
    let (away, _rx3) = enrolled(&c, [3; 32], 3).await;
    let (revoked, _rx4) = enrolled(&c, [4; 32], 4).await;
    c.tick(c.now_ms() + 3_100);
    assert_eq!(c.active_alerts().len(), 4);
    heartbeat(&c, back, 1);
    heartbeat(&c, away, 1);
    heartbeat(&c, revoked, 1);
    c.alert_writer().flush();
    drop(c);
    // While the master is down, one node is revoked.
    store.set_revoked(revoked, true).unwrap();

    let c = cluster_on(&store);
    let active = c.active_alerts();
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0].node, gone, "still firing after the restart");
    let first_id = active[0].id;
    assert_eq!(c.state().alerts.awaited(), vec![back, away]);
    // `back` reconnects in time; `away` does not: its alert fires after ttl + grace.
    let (h, _rx5) = conn(5);
    assert!(matches!(
        auth(&c, h, [2; 32], hello(HelloAuth::Resume { node_id: back })).await,
        AuthVerdict::Accept { .. }
    ));
    assert_eq!(c.state().alerts.awaited(), vec![away]);
    c.tick(c.now_ms() + 2_000);
    assert_eq!(c.active_alerts().len(), 1);
    // (`back` sends no heartbeat after its session opened, so its TTL expires too.)
    c.tick(c.now_ms() + 3_100);
    let mut nodes: Vec<u64> = c.active_alerts().iter().map(|a| a.node).collect();
    nodes.sort_unstable();
    assert_eq!(nodes, vec![gone, back, away]);
    assert!(
        c.active_alerts()[0].id > first_id + 4,
        "ids continue after the stored ones"
    );
    // Its old alert resolves when `gone` reconnects.
    let (h, _rx6) = conn(6);
    assert!(matches!(
        auth(&c, h, [1; 32], hello(HelloAuth::Resume { node_id: gone })).await,
        AuthVerdict::Accept { .. }
    ));
    let resolved = stored(&c).into_iter().find(|a| a.id == first_id).unwrap();
    assert_eq!(resolved.state, AlertState::Resolved);
}

#[tokio::test]
async fn the_list_pages_through_the_history() {
    let (c, store) = cluster();
    for id in 1..=5 {
        store
            .put_alert(&model::alert::AlertRecord {
                state: AlertState::Resolved,
                resolved_ms: Some(id + 1),
                resolution: Some(Resolution::Online),
                ..model::alert::AlertRecord::offline(id, 9, "", id)
            })
            .unwrap();
    }
    let page = |before, limit| {
        c.alert_list(AlertQuery {
            before,
            limit,
            ..AlertQuery::default()
        })
    };
    let first = page(None, 2).await.unwrap();
    let ids: Vec<u64> = first.history.iter().map(|a| a.id).collect();
    assert_eq!((ids, first.next, first.total), (vec![5, 4], Some(4), 5));
    let last = page(Some(2), 2).await.unwrap();
    assert_eq!((last.history.len(), last.next), (1, None));
    let none = page(None, 0).await.unwrap();
    assert!(none.history.is_empty() && none.next.is_none());
    assert_eq!(none.total, 5);
    // Closing for shutdown ends the alert broadcast.
    c.close_live();
    assert!(c.subscribe_alerts().is_none());
}
