//! Fixtures shared by the master's unit tests: heartbeat timing, a cluster over the
//! in-memory store with a manual clock, node records, a simulated slave's connection and
//! its admission, and a readiness wait. Nothing here sleeps for a fixed time: tests move
//! the [`ManualClock`] and wait for conditions.

use crate::cluster::{Cluster, ClusterTiming};
use crate::endpoint::{AuthVerdict, ConnHandle, ControlEvent, Outbound};
use crate::store::{MemoryStore, Store};
use crate::tokens::issue_join_token;
use model::ManualClock;
use model::cluster::NodeRecord;
use protocol::{Hello, HelloAuth, RejectReason};
use std::sync::Arc;
use std::time::Duration;

/// Where every manual clock of these tests starts, Unix ms (a December 2023 instant).
pub const START_MS: u64 = 1_700_000_000_000;

/// Heartbeat timing of the tests: a 2 s TTL plus 1 s grace, no jitter.
pub fn timing() -> ClusterTiming {
    ClusterTiming {
        heartbeat_interval: Duration::from_millis(500),
        ttl: Duration::from_secs(2),
        grace: Duration::from_secs(1),
        jitter: Duration::ZERO,
        history: crate::store::history::HistoryPolicy::default(),
    }
}

/// A clock at [`START_MS`] that moves only when told to.
pub fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(START_MS))
}

/// A cluster over `store` with [`timing`] and a manual clock at [`START_MS`].
pub fn cluster_on(store: &Arc<dyn Store>) -> Cluster {
    Cluster::open(Arc::clone(store), timing(), manual_clock()).unwrap()
}

/// A cluster over a fresh in-memory store (see [`cluster_on`]), and that store.
pub fn cluster() -> (Cluster, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    (cluster_on(&store), store)
}

/// A cluster over a fresh in-memory store, that store, and the cluster's clock to move.
pub fn clocked_cluster() -> (Cluster, Arc<dyn Store>, Arc<ManualClock>) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = manual_clock();
    let c = Cluster::open(Arc::clone(&store), timing(), clock.clone()).unwrap();
    (c, store, clock)
}

/// The same cluster after a restart: a new [`Cluster`] over its store, with its clock.
pub fn reopened(c: &Cluster) -> Cluster {
    Cluster::open(Arc::clone(c.store()), timing(), Arc::clone(c.clock())).unwrap()
}

/// Node `id`'s record, enrolled and last seen at 1 ms, named `h{id}`.
pub fn node_record(id: u64) -> NodeRecord {
    NodeRecord {
        id,
        public_key: [id as u8; 32],
        hostname: format!("h{id}"),
        agent_version: "t".into(),
        enrolled_at_ms: 1,
        last_seen_ms: 1,
        revoked: false,
        host_info: None,
    }
}

/// Connection `id` of a simulated slave, with room for `queue` outbound messages, and
/// what the master sends on it.
pub fn conn_with_queue(id: u64, queue: usize) -> (ConnHandle, async_channel::Receiver<Outbound>) {
    let (tx, rx) = async_channel::bounded(queue);
    let handle = ConnHandle {
        conn_id: id,
        peer_addr: "127.0.0.1:1".parse().unwrap(),
        outbound: tx,
    };
    (handle, rx)
}

/// Connection `id` with a small outbound queue (see [`conn_with_queue`]).
pub fn conn(id: u64) -> (ConnHandle, async_channel::Receiver<Outbound>) {
    conn_with_queue(id, 16)
}

/// A hello speaking protocol version 1 only.
pub fn hello(auth: HelloAuth) -> Hello {
    Hello {
        min_version: 1,
        max_version: 1,
        auth,
        agent_version: "t".into(),
    }
}

/// The cluster's verdict on a session with static key `key` saying `hello`.
pub async fn auth(c: &Cluster, conn: ConnHandle, key: [u8; 32], hello: Hello) -> AuthVerdict {
    let (tx, rx) = async_channel::bounded(1);
    c.handle(ControlEvent::Authenticate {
        conn,
        peer_static: key,
        hello,
        reply: tx,
    });
    rx.recv().await.unwrap()
}

/// The secret of a new join token in `c`'s store, valid for a minute of `c`'s clock.
pub fn token_secret(c: &Cluster) -> [u8; 32] {
    issue_join_token(
        c.store().as_ref(),
        "127.0.0.1:1",
        [0; 32],
        Duration::from_secs(60),
        c.now_ms(),
        "t",
    )
    .unwrap()
    .secret
}

/// Enrols a node with static key `key` on connection `conn_id` (protocol version 1); its
/// id and what the master sends it.
pub async fn enrolled(
    c: &Cluster,
    key: [u8; 32],
    conn_id: u64,
) -> (u64, async_channel::Receiver<Outbound>) {
    let (h, rx) = conn(conn_id);
    let secret = token_secret(c);
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

/// Why a session was refused (panics if it was accepted).
pub fn rejected(v: AuthVerdict) -> RejectReason {
    match v {
        AuthVerdict::Reject(r) => r.reason,
        AuthVerdict::Accept { .. } => panic!("accepted"),
    }
}

/// Waits until `ready` holds, letting other tasks and blocking writes run; panics with
/// `what` after 10 s.
pub async fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::task::yield_now().await;
        std::thread::yield_now();
    }
}

/// Host facts naming the host `hostname`, everything else empty.
pub fn host_info(hostname: &str) -> protocol::HostInfo {
    protocol::HostInfo {
        hostname: hostname.into(),
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
    }
}
