//! The manager end to end against the fake engine: desired state in → containers created
//! with the labels → observed state out; strays removed, foreign containers kept, a
//! hand-removed replica re-created, an exit reported, the state re-applied after a restart.

#![allow(clippy::unwrap_used)]

use super::manager::{Input, ManagerSettings, run};
use super::store::StateStore;
use super::testing::{gateway_spec, replica_spec};
use crate::docker::ContainerRuntime;
use crate::docker::fake::FakeRuntime;
use protocol::Message;
use protocol::ops::docker::ContainerCreate;
use protocol::workload::{
    DesiredState, LABEL_NODE, LABEL_OWNER, LABEL_PROJECT, LABEL_REPLICA, LABEL_REVISION,
    ObservedState, RegistryAuth, ReplicaState,
};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

const NODE: u64 = 3;
/// This slave's key fingerprint (the owner label of its containers).
const OUR_KEY: &str = "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a";
/// Another cluster's slave: its master numbered it `NODE` too.
const THEIR_KEY: &str = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b";
const WAIT: Duration = Duration::from_secs(10);

fn settings(dir: &std::path::Path, node_id: Option<u64>) -> ManagerSettings {
    ManagerSettings {
        data_dir: dir.to_path_buf(),
        bind_roots: Vec::new(),
        advertise_address: Some("127.0.0.1".parse().unwrap()),
        reconcile_interval: Duration::from_millis(100),
        node_id,
        owner_key: OUR_KEY.into(),
        gateway_workers: 1,
        resend_every: Duration::from_millis(300),
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f)
}

/// Starts the manager on the current `LocalSet` against `fake`.
fn start(fake: &Rc<FakeRuntime>, settings: ManagerSettings) -> async_channel::Sender<Input> {
    let (tx, rx) = async_channel::unbounded();
    let fake = Rc::clone(fake);
    let connect = move || {
        let fake = Rc::clone(&fake);
        async move { Ok::<_, crate::docker::DockerError>(fake) }
    };
    tokio::task::spawn_local(run(connect, settings, rx));
    tx
}

/// The next observed state satisfying `pred`, within [`WAIT`].
async fn observed_until(
    out: &async_channel::Receiver<Message>,
    what: &str,
    pred: impl Fn(&ObservedState) -> bool,
) -> ObservedState {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = None;
    loop {
        match tokio::time::timeout_at(deadline, out.recv()).await {
            Ok(Ok(Message::ObservedState(o))) => {
                if pred(&o) {
                    return o;
                }
                last = Some(o);
            }
            Ok(Ok(other)) => panic!("unexpected {}", other.name()),
            Ok(Err(_)) => panic!("the manager's channel closed"),
            Err(_) => panic!("timed out waiting for {what}; last observed: {last:#?}"),
        }
    }
}

/// Waits until the fake engine satisfies `pred`.
async fn engine_until(fake: &FakeRuntime, what: &str, pred: impl Fn(&FakeRuntime) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !pred(fake) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A replica container made by the slave numbered [`NODE`] whose key is `owner_key`.
fn labelled_form(name: &str, owner_key: &str, replica: &str) -> ContainerCreate {
    ContainerCreate {
        image: "app:v1".into(),
        name: Some(name.into()),
        labels: BTreeMap::from([
            (LABEL_NODE.to_string(), NODE.to_string()),
            (LABEL_OWNER.to_string(), owner_key.to_string()),
            (LABEL_REPLICA.to_string(), replica.to_string()),
        ]),
        ..ContainerCreate::default()
    }
}

fn running(o: &ObservedState, id: &str) -> bool {
    o.replicas
        .iter()
        .any(|r| r.id == id && r.state == ReplicaState::Running && r.host_port.is_some())
}

#[test]
fn desired_in_containers_out_observed_back() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Rc::new(FakeRuntime::with_images(&["app:v1"]));
    fake.state
        .borrow_mut()
        .registry
        .push("private/app:v2".into());
    block_on(async {
        // Another cluster's slave's replica on the same engine (its master numbered it
        // like ours), and a stray of ours.
        let (foreign, _) = fake
            .create_container(&labelled_form("commander-other", THEIR_KEY, "x-1-a"))
            .await
            .unwrap();
        fake.start_container(&foreign).await.unwrap();
        let (stray, _) = fake
            .create_container(&labelled_form("commander-stray", OUR_KEY, "old-1-a"))
            .await
            .unwrap();
        fake.start_container(&stray).await.unwrap();

        let inbox = start(&fake, settings(dir.path(), None));
        let (out_tx, out) = async_channel::unbounded();
        inbox
            .send(Input::Connected {
                node_id: NODE,
                out: out_tx,
            })
            .await
            .unwrap();
        let mut pulled = replica_spec("web-2-b", "web", 2, "private/app:v2");
        pulled.registry_auth = Some(RegistryAuth {
            server: None,
            username: "deployer".into(),
            password: "s3cret".into(),
        });
        let desired = DesiredState {
            generation: 1,
            replicas: vec![
                replica_spec("web-1-a", "web", 1, "app:v1"),
                pulled,
                replica_spec("web-1-c", "web", 1, "missing/app:v9"),
            ],
            gateways: Vec::new(),
        };
        inbox
            .send(Input::Desired(Box::new(desired.clone())))
            .await
            .unwrap();
        let o = observed_until(&out, "two replicas running, one failed", |o| {
            o.generation == 1
                && running(o, "web-1-a")
                && running(o, "web-2-b")
                && o.replicas
                    .iter()
                    .any(|r| r.id == "web-1-c" && r.state == ReplicaState::Exited)
        })
        .await;
        assert_eq!(o.advertise_address, "127.0.0.1");
        let failed = o.replicas.iter().find(|r| r.id == "web-1-c").unwrap();
        assert!(failed.message.contains("pull"), "{}", failed.message);
        assert!(!failed.message.contains("s3cret"));

        // Containers carry our labels; the pulled one used the credentials.
        let a = fake.container("commander-web-1-a").unwrap();
        assert_eq!(a.state, "running");
        assert_eq!(a.form.labels[LABEL_NODE], "3");
        assert_eq!(a.form.labels[LABEL_OWNER], OUR_KEY);
        assert_eq!(a.form.labels[LABEL_PROJECT], "web");
        assert_eq!(a.form.labels[LABEL_REVISION], "1");
        assert_eq!(a.form.labels[LABEL_REPLICA], "web-1-a");
        assert_eq!(a.form.restart, protocol::ops::docker::RestartPolicy::No);
        assert_eq!(a.engine_ports, vec![80]);
        let port_a = o.replicas[0].host_port.unwrap();
        assert_eq!(a.published, vec![(80, port_a)]);
        assert_eq!(fake.state.borrow().pull_users, vec!["deployer".to_string()]);

        // The stray of ours went; the other node's container stayed.
        engine_until(&fake, "the stray removed", |f| {
            f.container("commander-stray").is_none()
        })
        .await;
        assert_eq!(fake.container("commander-other").unwrap().state, "running");

        // Removed by hand: created again, with a new container.
        let old_id = a.id.clone();
        fake.remove_container("commander-web-1-a", true, true)
            .await
            .unwrap();
        let o = observed_until(&out, "web-1-a re-created", |o| {
            o.replicas.iter().any(|r| {
                r.id == "web-1-a" && r.state == ReplicaState::Running && r.container != old_id
            })
        })
        .await;
        assert_eq!(o.generation, 1);

        // Exits: reported with the code, left in place.
        {
            let mut st = fake.state.borrow_mut();
            let b = st
                .containers
                .iter_mut()
                .find(|c| c.name == "commander-web-2-b")
                .unwrap();
            b.state = "exited".into();
            b.exit_code = 3;
        }
        observed_until(&out, "web-2-b exited with 3", |o| {
            o.replicas.iter().any(|r| {
                r.id == "web-2-b" && r.state == ReplicaState::Exited && r.exit_code == Some(3)
            })
        })
        .await;
        assert!(
            fake.container("commander-web-2-b").is_some(),
            "left for the master"
        );

        // Stored on disk as received.
        assert_eq!(StateStore::new(dir.path()).load().unwrap(), Some(desired));

        // Nothing desired: every container of ours goes, the foreign one stays.
        inbox
            .send(Input::Desired(Box::new(DesiredState {
                generation: 2,
                ..DesiredState::default()
            })))
            .await
            .unwrap();
        observed_until(&out, "generation 2, no replicas", |o| {
            o.generation == 2 && o.replicas.is_empty()
        })
        .await;
        engine_until(&fake, "our containers removed", |f| {
            f.state
                .borrow()
                .containers
                .iter()
                .all(|c| c.name == "commander-other")
        })
        .await;
    });
}

#[test]
fn observed_state_is_resent_on_reconnect_and_not_sent_while_away() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Rc::new(FakeRuntime::with_images(&["app:v1"]));
    block_on(async {
        let inbox = start(&fake, settings(dir.path(), Some(NODE)));
        let (tx1, out1) = async_channel::unbounded();
        inbox
            .send(Input::Connected {
                node_id: NODE,
                out: tx1,
            })
            .await
            .unwrap();
        observed_until(&out1, "a first report right after connecting", |_| true).await;
        inbox.send(Input::Disconnected).await.unwrap();
        inbox
            .send(Input::Desired(Box::new(DesiredState {
                generation: 5,
                replicas: vec![replica_spec("api-1-a", "api", 1, "app:v1")],
                gateways: Vec::new(),
            })))
            .await
            .unwrap();
        // Applied while away (the master is down but the replica still starts).
        engine_until(&fake, "the replica created while disconnected", |f| {
            f.container("commander-api-1-a")
                .is_some_and(|c| c.state == "running")
        })
        .await;
        while let Ok(m) = out1.try_recv() {
            if let Message::ObservedState(o) = m {
                assert!(o.generation < 5, "nothing sent after the disconnect");
            }
        }
        let (tx2, out2) = async_channel::unbounded();
        inbox
            .send(Input::Connected {
                node_id: NODE,
                out: tx2,
            })
            .await
            .unwrap();
        observed_until(&out2, "the state right after reconnecting", |o| {
            o.generation == 5 && running(o, "api-1-a")
        })
        .await;
    });
}

#[test]
fn stored_state_is_re_applied_after_a_restart_without_a_master() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Rc::new(FakeRuntime::with_images(&["app:v1"]));
    StateStore::new(dir.path())
        .save(&DesiredState {
            generation: 9,
            replicas: vec![replica_spec("web-3-a", "web", 3, "app:v1")],
            gateways: Vec::new(),
        })
        .unwrap();
    block_on(async {
        let _inbox = start(&fake, settings(dir.path(), Some(NODE)));
        engine_until(&fake, "the stored replica running", |f| {
            f.container("commander-web-3-a")
                .is_some_and(|c| c.state == "running" && c.form.labels[LABEL_NODE] == "3")
        })
        .await;
    });
}

#[test]
fn without_a_known_desired_state_nothing_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(super::store::STATE_FILE), b"garbage").unwrap();
    let fake = Rc::new(FakeRuntime::with_images(&["app:v1"]));
    block_on(async {
        let (ours, _) = fake
            .create_container(&labelled_form("commander-web-1-a", OUR_KEY, "web-1-a"))
            .await
            .unwrap();
        fake.start_container(&ours).await.unwrap();
        let inbox = start(&fake, settings(dir.path(), Some(NODE)));
        let (tx, out) = async_channel::unbounded();
        inbox
            .send(Input::Connected {
                node_id: NODE,
                out: tx,
            })
            .await
            .unwrap();
        let o = observed_until(&out, "a report", |_| true).await;
        assert_eq!(o.generation, 0);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            fake.container("commander-web-1-a").unwrap().state,
            "running",
            "kept until the master says"
        );
    });
}

#[test]
fn gateways_of_the_desired_state_are_served_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Rc::new(FakeRuntime::new());
    let backend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = backend.local_addr().unwrap().to_string();
    let port = std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    block_on(async {
        let inbox = start(&fake, settings(dir.path(), Some(NODE)));
        let (tx, out) = async_channel::unbounded();
        inbox
            .send(Input::Connected {
                node_id: NODE,
                out: tx,
            })
            .await
            .unwrap();
        inbox
            .send(Input::Desired(Box::new(DesiredState {
                generation: 4,
                replicas: Vec::new(),
                gateways: vec![gateway_spec("standalone", port, &[upstream.as_str()])],
            })))
            .await
            .unwrap();
        let o = observed_until(&out, "the gateway serving at generation 4", |o| {
            o.generation == 4 && o.gateways.first().is_some_and(|g| g.serving)
        })
        .await;
        assert_eq!(o.gateways[0].port, port);
        assert_eq!(o.gateways[0].upstreams[0].addr, upstream);
        std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        inbox
            .send(Input::Desired(Box::new(DesiredState {
                generation: 5,
                ..DesiredState::default()
            })))
            .await
            .unwrap();
        observed_until(&out, "no gateway at generation 5", |o| {
            o.generation == 5 && o.gateways.is_empty()
        })
        .await;
    });
    drop(backend);
}

#[test]
fn an_unchanged_state_is_sent_again_after_the_resend_interval() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Rc::new(FakeRuntime::new());
    block_on(async {
        let inbox = start(&fake, settings(dir.path(), Some(NODE)));
        let (tx, out) = async_channel::unbounded();
        inbox
            .send(Input::Connected {
                node_id: NODE,
                out: tx,
            })
            .await
            .unwrap();
        let first = observed_until(&out, "a first report", |_| true).await;
        let t = Instant::now();
        let again = observed_until(&out, "the same report again", |_| true).await;
        assert_eq!(again, first, "nothing changed");
        assert!(
            t.elapsed() >= Duration::from_millis(250),
            "not before the interval: {:?}",
            t.elapsed()
        );
    });
}
