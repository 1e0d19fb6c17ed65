//! The workload supervisor against the real Docker Engine: a `FROM scratch` image with the
//! host's static busybox serving a page with `httpd` is built here (`docker build`, no
//! registry), two workload managers (slaves of two clusters that both got node id 1) each
//! apply one replica of it with an HTTP health check, the engine picks the host ports, the
//! replicas turn healthy, and an empty desired state removes each manager's own replica
//! and never the other's.
//!
//! The managers' key fingerprints are the run's own (never a real slave's), so nothing but
//! this test's containers is theirs. Everything carries `commander.test=1` and the run
//! label, and is removed when the test ends, also when it fails. Without an engine or
//! busybox the test is skipped with a message, except under `CI=true`, where that fails.

use crate::support::*;
use protocol::Message;
use protocol::workload::{
    DesiredState, HealthProbe, LABEL_NODE, LABEL_OWNER, LABEL_PROJECT, LABEL_REPLICA,
    LABEL_REVISION, ObservedState, ProbeKind, ReplicaSpec, ReplicaState,
};
use slave::docker::ContainerRuntime;
use slave::docker::bollard_rt::BollardRuntime;
use slave::workload::{ManagerSettings, WorkloadManager};
use std::path::Path;
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

/// Builds `image` FROM scratch: busybox, the test page, httpd on 8080 as the default command.
fn build_image(image: &str, run: &str, busybox: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("busybox");
    std::fs::write(&bin, busybox).unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("index.html"), PAGE).unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\n\
         COPY busybox /bin/busybox\n\
         COPY index.html /www/index.html\n\
         CMD [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n",
    )
    .unwrap();
    let out = Command::new("docker")
        .args(["build", "-q", "-t", image])
        .args(["--label", "commander.test=1"])
        .args(["--label", &format!("commander.test.run={run}")])
        .arg(dir.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .expect("the docker CLI is needed to build the test image");
    assert!(
        out.status.success(),
        "docker build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn replica(run: &str, image: &str) -> ReplicaSpec {
    ReplicaSpec {
        id: format!("it-{run}-1-a"),
        project: format!("it-{run}"),
        revision: 1,
        image: image.into(),
        container_port: 8080,
        env: vec!["COMMANDER_TEST=1".into()],
        cmd: Vec::new(),
        volumes: Vec::new(),
        labels: labels(run).into_iter().collect(),
        memory_bytes: Some(64 << 20),
        nano_cpus: Some(500_000_000),
        registry_auth: None,
        health: HealthProbe {
            kind: ProbeKind::Http {
                path: "/index.html".into(),
                expected_status: 200,
            },
            interval_ms: 200,
            timeout_ms: 1000,
            healthy_threshold: 2,
            unhealthy_threshold: 3,
            start_period_ms: 1000,
        },
    }
}

/// The next observed state satisfying `pred`, within `limit`.
fn observed_until(
    out: &async_channel::Receiver<Message>,
    limit: Duration,
    what: &str,
    pred: impl Fn(&ObservedState) -> bool,
) -> ObservedState {
    block_on(async {
        let deadline = tokio::time::Instant::now() + limit;
        let mut last = None;
        loop {
            match tokio::time::timeout_at(deadline, out.recv()).await {
                Ok(Ok(Message::ObservedState(o))) if pred(&o) => return o,
                Ok(Ok(Message::ObservedState(o))) => last = Some(o),
                Ok(other) => panic!("unexpected {other:?}"),
                Err(_) => panic!("timed out waiting for {what}; last observed: {last:#?}"),
            }
        }
    })
}

/// A workload manager on the real engine, numbered `node` by its master, with `key` as its
/// key fingerprint; its observed states arrive on the returned receiver.
fn start_manager(
    dir: &Path,
    node: u64,
    key: &str,
) -> (WorkloadManager, async_channel::Receiver<Message>) {
    let manager = WorkloadManager::start(
        || async {
            BollardRuntime::connect(Path::new(SOCKET))
                .await
                .map(Rc::new)
        },
        ManagerSettings {
            data_dir: dir.to_path_buf(),
            bind_roots: Vec::new(),
            advertise_address: None,
            reconcile_interval: Duration::from_millis(500),
            node_id: Some(node),
            owner_key: key.to_string(),
            gateway_workers: 1,
            resend_every: slave::workload::manager::RESEND_EVERY,
        },
    )
    .unwrap();
    let (tx, out) = async_channel::unbounded();
    manager.connected(node, tx);
    (manager, out)
}

fn healthy_replica(o: &ObservedState, generation: u64) -> bool {
    if let Some(r) = o.replicas.first() {
        assert_ne!(r.state, ReplicaState::Exited, "{r:?}");
    }
    o.generation == generation
        && o.replicas
            .first()
            .is_some_and(|r| r.state == ReplicaState::Running && r.host_port.is_some() && r.healthy)
}

fn wait_gone(name: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    while cli_state(name).is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the replica's container {name} is still there"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Two slaves of two clusters share one engine, and both masters numbered them 1 (every
/// master numbers its first slave 1): each runs its replica, and when one is told to run
/// nothing it removes only its own container, never the other's.
#[test]
fn replicas_on_the_real_engine_turn_healthy_and_each_slave_removes_only_its_own() {
    let (Some(rt), Some(bb)) = (engine(), busybox()) else {
        return;
    };
    let run = unique();
    let image = format!("commander-test/httpd:{run}");
    let _cleanup = Cleanup {
        run: run.clone(),
        image: image.clone(),
    };
    build_image(&image, &run, &bb);
    // Keys no real slave has (a run's own), so nothing but this test's containers is ours.
    let key_a = protocol::keys::hex(&protocol::keys::fingerprint(&[1; 32])) + &run;
    let key_b = protocol::keys::hex(&protocol::keys::fingerprint(&[2; 32])) + &run;
    let node = 1;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (manager_a, out_a) = start_manager(dir_a.path(), node, &key_a);
    let (manager_b, out_b) = start_manager(dir_b.path(), node, &key_b);
    let spec = replica(&run, &image);
    let mut spec_b = spec.clone();
    spec_b.id = format!("it-{run}-1-b");
    manager_a.desired(DesiredState {
        generation: 1,
        replicas: vec![spec.clone()],
        gateways: Vec::new(),
    });
    manager_b.desired(DesiredState {
        generation: 1,
        replicas: vec![spec_b.clone()],
        gateways: Vec::new(),
    });

    let o = observed_until(
        &out_a,
        Duration::from_secs(60),
        "A's replica healthy",
        |o| healthy_replica(o, 1),
    );
    observed_until(
        &out_b,
        Duration::from_secs(60),
        "B's replica healthy",
        |o| healthy_replica(o, 1),
    );
    let r = &o.replicas[0];
    let port = r.host_port.unwrap();
    assert_ne!(port, 8080, "the engine picked the host port");
    assert!(fetch(port).contains("200 OK"));
    let name = format!("commander-{}", spec.id);
    let name_b = format!("commander-{}", spec_b.id);
    assert_eq!(cli_state(&name).as_deref(), Some("running"));
    let d = block_on(rt.inspect_container(&name)).unwrap();
    assert_eq!(d.id, r.container);
    assert_eq!(d.labels[LABEL_NODE], node.to_string());
    assert_eq!(d.labels[LABEL_OWNER], key_a);
    assert_eq!(d.labels[LABEL_PROJECT], spec.project);
    assert_eq!(d.labels[LABEL_REVISION], "1");
    assert_eq!(d.labels[LABEL_REPLICA], spec.id);
    assert_eq!(d.labels["commander.test.run"], run);
    assert_eq!(d.restart_policy, "no");
    assert_eq!(d.memory_bytes, 64 << 20);
    assert!(
        d.ports
            .iter()
            .any(|p| p.container_port == 8080 && p.host_port == Some(port)),
        "{:?}",
        d.ports
    );
    let d_b = block_on(rt.inspect_container(&name_b)).unwrap();
    assert_eq!(d_b.labels[LABEL_NODE], node.to_string());
    assert_eq!(d_b.labels[LABEL_OWNER], key_b);

    // A is told to run nothing: its container goes, B's stays, through several of A's
    // reconciles (every 500 ms), and B's replica stays healthy.
    manager_a.desired(DesiredState {
        generation: 2,
        ..DesiredState::default()
    });
    observed_until(&out_a, Duration::from_secs(10), "A at generation 2", |o| {
        o.generation == 2 && o.replicas.is_empty()
    });
    wait_gone(&name);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        cli_state(&name_b).as_deref(),
        Some("running"),
        "A removed B's replica"
    );
    observed_until(&out_b, Duration::from_secs(10), "B still healthy", |o| {
        healthy_replica(o, 1)
    });

    manager_b.desired(DesiredState {
        generation: 2,
        ..DesiredState::default()
    });
    observed_until(&out_b, Duration::from_secs(10), "B at generation 2", |o| {
        o.generation == 2 && o.replicas.is_empty()
    });
    wait_gone(&name_b);
}
