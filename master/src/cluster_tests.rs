//! Control-side tests: endpoint events in, verdicts, node views and outbound messages out,
//! with the in-memory store and no sockets.

use super::*;
use crate::store::MemoryStore;
use crate::tokens::issue_join_token;
use protocol::{Hello, HelloAuth, ResponseBody};

fn timing() -> ClusterTiming {
    ClusterTiming {
        heartbeat_interval: Duration::from_millis(500),
        ttl: Duration::from_secs(2),
        grace: Duration::from_secs(1),
        jitter: Duration::ZERO,
        retention: Duration::from_secs(3600),
    }
}

fn cluster() -> (Cluster, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    (Cluster::open(Arc::clone(&store), timing()).unwrap(), store)
}

fn conn(id: u64) -> (ConnHandle, async_channel::Receiver<Outbound>) {
    let (tx, rx) = async_channel::bounded(16);
    let handle = ConnHandle {
        conn_id: id,
        peer_addr: "127.0.0.1:1".parse().unwrap(),
        outbound: tx,
    };
    (handle, rx)
}

fn hello(auth: HelloAuth) -> Hello {
    Hello {
        min_version: 1,
        max_version: 1,
        auth,
        agent_version: "t".into(),
    }
}

async fn auth(c: &Cluster, conn: ConnHandle, key: [u8; 32], hello: Hello) -> AuthVerdict {
    let (tx, rx) = async_channel::bounded(1);
    c.handle(ControlEvent::Authenticate {
        conn,
        peer_static: key,
        hello,
        reply: tx,
    });
    rx.recv().await.unwrap()
}

fn token_secret(store: &Arc<dyn Store>) -> [u8; 32] {
    issue_join_token(
        store.as_ref(),
        "127.0.0.1:1",
        [0; 32],
        Duration::from_secs(60),
        now_ms(),
        "t",
    )
    .unwrap()
    .secret
}

async fn enrolled(
    c: &Cluster,
    store: &Arc<dyn Store>,
    key: [u8; 32],
    conn_id: u64,
) -> (u64, async_channel::Receiver<Outbound>) {
    let (h, rx) = conn(conn_id);
    let secret = token_secret(store);
    match auth(c, h, key, hello(HelloAuth::Enroll { secret })).await {
        AuthVerdict::Accept {
            node_id, version, ..
        } => {
            assert_eq!(version, 1);
            (node_id, rx)
        }
        AuthVerdict::Reject(r) => panic!("rejected: {r:?}"),
    }
}

fn rejected(v: AuthVerdict) -> RejectReason {
    match v {
        AuthVerdict::Reject(r) => r.reason,
        AuthVerdict::Accept { .. } => panic!("accepted"),
    }
}

#[tokio::test]
async fn enrol_heartbeat_expire_and_return() {
    let (c, store) = cluster();
    let (id, _rx) = enrolled(&c, &store, [1; 32], 1).await;
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

    c.tick(now_ms() + 2_900);
    assert!(c.node_views()[0].online, "still inside ttl + grace");
    c.tick(now_ms() + 3_100);
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
    let (c, store) = cluster();
    let secret = token_secret(&store);
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
    let (c, store) = cluster();
    let (id, old_rx) = enrolled(&c, &store, [1; 32], 1).await;
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
    let (c, store) = cluster();
    let secret = token_secret(&store);
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
    let (c, store) = cluster();
    let (id, rx) = enrolled(&c, &store, [1; 32], 1).await;
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
    c.tick(now_ms() + 200);
    assert_eq!(pending.await.unwrap(), Ok(RequestOutcome::TimedOut));

    assert_eq!(
        c.request(99, RequestBody::Ping, Duration::from_secs(1))
            .await,
        Err(RequestError::UnknownNode(99))
    );
    c.handle(ControlEvent::Disconnected {
        node_id: id,
        conn_id: 1,
        reason: "test".into(),
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
    let (id, _rx) = enrolled(&c, &store, [1; 32], 1).await;
    c.handle(ControlEvent::Message {
        node_id: id,
        conn_id: 1,
        msg: Message::HostInfo(protocol::HostInfo {
            hostname: "box".into(),
            os: String::new(),
            kernel: String::new(),
            arch: String::new(),
            cpu_model: String::new(),
            cpu_cores: 1,
            mem_total_bytes: 0,
            swap_total_bytes: 0,
            disks: vec![],
            docker_version: None,
            boot_time_unix: 0,
        }),
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
    for _ in 0..100 {
        if store
            .get_node(id)
            .unwrap()
            .is_some_and(|n| n.hostname == "box")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let again = Cluster::open(Arc::clone(&store), timing()).unwrap();
    let v = again.node_views();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].hostname, "box");
    assert!(!v[0].online, "offline until it reconnects");
    assert_eq!(v[0].metrics.as_ref().unwrap().cpu_total_pct, 5.0);
    assert!(v[0].last_seen_ms.is_some());
}

#[path = "cluster_alerts_tests.rs"]
mod alerts;
