//! Control-side tests: endpoint events in, verdicts, node views and outbound messages out,
//! with the in-memory store and no sockets.

use super::*;
use crate::endpoint::{AuthVerdict, Outbound};
use crate::test_fixtures::*;
use protocol::RejectReason;
use protocol::{HelloAuth, RequestBody, ResponseBody};

#[tokio::test]
async fn enrol_heartbeat_expire_and_return() {
    let (c, store) = cluster();
    let (id, _rx) = enrolled(&c, [1; 32], 1).await;
    let view = c.node_views();
    assert_eq!(view.len(), 1);
    assert!(view[0].online);
    assert!(view[0].metrics.is_none());
    let sample = MetricSample {
        cpu_total_pct: 42.0,
        ..MetricSample::default()
    };
    c.handle(ControlEvent::Message {
        node_id: id,
        conn_id: 1,
        msg: Message::Heartbeat(protocol::Heartbeat { seq: 1, sample }),
    });
    assert_eq!(
        c.node_views()[0].metrics.as_ref().unwrap().cpu_total_pct,
        42.0
    );
    c.writer().flush().unwrap();
    assert!(
        store.latest_sample(id).unwrap().is_some(),
        "sample persisted"
    );

    c.tick(c.now_ms() + 2_900);
    assert!(c.node_views()[0].online, "still inside ttl + grace");
    c.tick(c.now_ms() + 3_100);
    assert!(!c.node_views()[0].online, "offline after ttl + grace");
    c.handle(ControlEvent::Message {
        node_id: id,
        conn_id: 1,
        msg: Message::Heartbeat(protocol::Heartbeat {
            seq: 2,
            sample: MetricSample::default(),
        }),
    });
    assert!(
        c.node_views()[0].online,
        "back online with the next heartbeat"
    );
}

#[tokio::test]
async fn tokens_are_one_time_and_checked() {
    let (c, _) = cluster();
    let secret = token_secret(&c);
    let (h, _rx) = conn(1);
    assert!(matches!(
        auth(&c, h, [1; 32], hello(HelloAuth::Enroll { secret })).await,
        AuthVerdict::Accept { .. }
    ));
    let (h, _rx) = conn(2);
    assert_eq!(
        rejected(auth(&c, h, [2; 32], hello(HelloAuth::Enroll { secret })).await),
        RejectReason::TokenInvalid
    );
    let (h, _rx) = conn(3);
    assert_eq!(
        rejected(auth(&c, h, [3; 32], hello(HelloAuth::Enroll { secret: [9; 32] })).await),
        RejectReason::TokenInvalid
    );
    assert_eq!(c.node_views().len(), 1);
}

#[tokio::test]
async fn resume_needs_the_enrolled_key_and_revocation_refuses() {
    let (c, _) = cluster();
    let (id, old_rx) = enrolled(&c, [1; 32], 1).await;
    let (h, _rx) = conn(2);
    assert_eq!(
        rejected(auth(&c, h, [7; 32], hello(HelloAuth::Resume { node_id: id })).await),
        RejectReason::UnknownNode
    );
    let (h, new_rx) = conn(3);
    assert!(
        matches!(auth(&c, h, [1; 32], hello(HelloAuth::Resume { node_id: id })).await, AuthVerdict::Accept { node_id, .. } if node_id == id)
    );
    assert!(
        matches!(old_rx.try_recv(), Ok(Outbound::Close)),
        "older session is closed"
    );
    assert!(c.revoke(id).await.unwrap());
    assert!(
        matches!(new_rx.try_recv(), Ok(Outbound::Close)),
        "revoked session is closed"
    );
    let (h, _rx) = conn(4);
    assert_eq!(
        rejected(auth(&c, h, [1; 32], hello(HelloAuth::Resume { node_id: id })).await),
        RejectReason::Revoked
    );
    assert!(c.node_views()[0].revoked);
    assert!(!c.node_views()[0].online);
}

#[tokio::test]
async fn version_without_overlap_is_refused() {
    let (c, _) = cluster();
    let secret = token_secret(&c);
    let (h, _rx) = conn(1);
    let mut hi = hello(HelloAuth::Enroll { secret });
    hi.min_version = 50;
    hi.max_version = 60;
    assert_eq!(
        rejected(auth(&c, h, [1; 32], hi).await),
        RejectReason::VersionUnsupported
    );
}

#[tokio::test]
async fn requests_route_responses_and_time_out() {
    let (c, _) = cluster();
    let (id, rx) = enrolled(&c, [1; 32], 1).await;
    let c2 = c.clone();
    let pending = tokio::spawn(async move {
        c2.request(id, RequestBody::Ping, Duration::from_secs(5))
            .await
    });
    let Outbound::Send(msg) = rx.recv().await.unwrap() else {
        panic!("expected a message");
    };
    let Message::Request(req) = *msg else {
        panic!("expected a request");
    };
    assert_eq!(req.body, RequestBody::Ping);
    c.handle(ControlEvent::Message {
        node_id: id,
        conn_id: 1,
        msg: Message::Response(protocol::Response {
            id: req.id,
            body: ResponseBody::Pong,
        }),
    });
    assert_eq!(
        pending.await.unwrap(),
        Ok(RequestOutcome::Done(ResponseBody::Pong))
    );

    let c3 = c.clone();
    let pending = tokio::spawn(async move {
        c3.request(id, RequestBody::Ping, Duration::from_millis(100))
            .await
    });
    let _ = rx.recv().await.unwrap();
    c.tick(c.now_ms() + 200);
    assert_eq!(pending.await.unwrap(), Ok(RequestOutcome::TimedOut));

    assert_eq!(
        c.request(99, RequestBody::Ping, Duration::from_secs(1))
            .await,
        Err(RequestError::UnknownNode(99))
    );
    c.handle(ControlEvent::Disconnected {
        node_id: id,
        conn_id: 1,
        reason: crate::endpoint::SessionEnd::ClosedByPeer,
    });
    assert_eq!(
        c.request(id, RequestBody::Ping, Duration::from_secs(1))
            .await,
        Err(RequestError::Offline(id))
    );
}

#[tokio::test]
async fn restart_keeps_nodes_and_latest_metrics() {
    let (c, store) = cluster();
    let (id, _rx) = enrolled(&c, [1; 32], 1).await;
    c.handle(ControlEvent::Message {
        node_id: id,
        conn_id: 1,
        msg: Message::HostInfo(host_info("box")),
    });
    c.handle(ControlEvent::Message {
        node_id: id,
        conn_id: 1,
        msg: Message::Heartbeat(protocol::Heartbeat {
            seq: 1,
            sample: MetricSample {
                cpu_total_pct: 5.0,
                ..MetricSample::default()
            },
        }),
    });
    c.writer().flush().unwrap();
    // Host info is saved off the async workers; wait until it is.
    wait_until("host info saved", || {
        store
            .get_node(id)
            .unwrap()
            .is_some_and(|n| n.hostname == "box")
    })
    .await;
    let again = reopened(&c);
    let v = again.node_views();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].hostname, "box");
    assert!(!v[0].online, "offline until it reconnects");
    assert_eq!(v[0].metrics.as_ref().unwrap().cpu_total_pct, 5.0);
    assert!(v[0].last_seen_ms.is_some());
}

#[test]
fn request_errors_say_whose_they_are_and_whether_to_retry() {
    let cases = [
        (RequestError::UnknownNode(1), Side::Master, false),
        (RequestError::Offline(1), Side::Slave, true),
        (RequestError::Busy(1), Side::Slave, true),
        (
            RequestError::OldProtocol {
                node: 1,
                version: 1,
            },
            Side::Slave,
            false,
        ),
    ];
    for (e, side, retry) in cases {
        assert_eq!((e.side(), e.retry_makes_sense()), (side, retry), "{e}");
    }
}
