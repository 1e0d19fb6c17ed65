//! The Docker operations against the real Docker Engine of this machine, through
//! `BollardRuntime` and the same `ops::execute` the agent uses (no master yet).
//!
//! The image is built here: a root file system tar assembled in memory from the host's
//! static `/bin/busybox` (Debian package `busybox-static`) plus an index page, imported
//! through the engine's API. No registry is needed. Everything created carries the label
//! `commander.test=1` and a per-test run label, and is removed when the test ends, also when
//! it fails. Without an engine or without busybox the tests are skipped with a message,
//! except under `CI=true`, where that is a failure.

use crate::support::*;
use protocol::ResponseBody;
use protocol::ops::docker::*;
use protocol::ops::docker_reply::{DockerReply, LogsEndReason};
use protocol::ops::{ErrorKind, OpError};
use slave::docker::bollard_rt::BollardRuntime;
use slave::docker::ops::{DockerCtx, Stop, execute};
use slave::docker::{ContainerRuntime, DockerError};
use slave::remote::reply::ReplySink;
use std::path::PathBuf;
use std::time::Duration;

#[test]
fn container_lifecycle_against_the_real_engine() {
    let (Some(rt), Some(bb)) = (engine(), busybox()) else {
        return;
    };
    let run = unique();
    let image = format!("commander-test/busybox:{run}");
    let _cleanup = Cleanup {
        run: run.clone(),
        image: image.clone(),
    };
    let dir = tempfile::tempdir().unwrap();
    let tar: PathBuf = dir.path().join("rootfs.tar");
    std::fs::write(&tar, rootfs_tar(&bb)).unwrap();
    let name = format!("cmdr-test-{run}");
    let port = free_port();
    block_on(async {
        let DockerReply::Info(info) = op(&rt, DockerOp::Info, None).await.unwrap() else {
            panic!()
        };
        assert!(
            !info.version.is_empty() && !info.client_api_version.is_empty(),
            "{info:?}"
        );

        // Import the image from the tarball, as an upload would be.
        let (repo, tag) = image.split_once(':').unwrap();
        let import = DockerOp::ImportImage(ImportRequest {
            source: ImportSource::RootFs {
                repo: repo.into(),
                tag: tag.into(),
            },
            total_len: std::fs::metadata(&tar).unwrap().len(),
        });
        let imported = op(&rt, import, Some(&tar)).await.unwrap();
        assert_eq!(imported, DockerReply::Imported(vec![image.clone()]));
        let DockerReply::Images(images) = op(&rt, DockerOp::ListImages { all: false }, None)
            .await
            .unwrap()
        else {
            panic!()
        };
        assert!(images.iter().any(|i| i.repo_tags.contains(&image)));
        let DockerReply::History(h) = op(
            &rt,
            DockerOp::ImageHistory {
                reference: image.clone(),
            },
            None,
        )
        .await
        .unwrap() else {
            panic!()
        };
        assert!(!h.is_empty());
        let retag = DockerOp::TagImage {
            source: image.clone(),
            repo: repo.into(),
            tag: format!("{tag}-retag"),
        };
        assert_eq!(op(&rt, retag, None).await.unwrap(), DockerReply::Done);

        // Create and run with a port mapping; reach it.
        let form = ContainerCreate {
            image: image.clone(),
            name: Some(name.clone()),
            cmd: [
                "/bin/busybox",
                "httpd",
                "-f",
                "-v",
                "-p",
                "80",
                "-h",
                "/www",
            ]
            .map(String::from)
            .to_vec(),
            env: vec!["COMMANDER_TEST=1".into()],
            ports: vec![format!("127.0.0.1:{port}:80/tcp")],
            labels: labels(&run),
            memory_bytes: Some(64 << 20),
            nano_cpus: Some(500_000_000),
            restart: RestartPolicy::No,
            ..Default::default()
        };
        let DockerReply::Created { id, started, .. } =
            op(&rt, DockerOp::CreateContainer(form), None)
                .await
                .unwrap()
        else {
            panic!()
        };
        assert!(started);
        assert_eq!(cli_state(&name).as_deref(), Some("running"));
        assert!(fetch(port).contains("200 OK"));
        let DockerReply::Container(d) =
            op(&rt, DockerOp::InspectContainer { id: name.clone() }, None)
                .await
                .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (d.id.as_str(), d.memory_bytes, d.nano_cpus),
            (id.as_str(), 64 << 20, 500_000_000)
        );
        assert!(
            d.ports
                .iter()
                .any(|p| p.host_port == Some(port) && p.container_port == 80),
            "{:?}",
            d.ports
        );
        assert!(d.env.contains(&"COMMANDER_TEST=1".to_string()));

        // Logs carry the request we made; a followed log is cancelled by its deadline.
        let logs = LogsQuery {
            id: name.clone(),
            tail: Some(50),
            ..Default::default()
        };
        // httpd writes its log line after the response and the engine's log driver
        // delivers it a moment later: wait for it (bounded) instead of reading once.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let DockerReply::Logs(b) = op(&rt, DockerOp::Logs(logs.clone()), None).await.unwrap()
            else {
                panic!()
            };
            if b.entries.iter().any(|e| e.text.contains("response:200")) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{b:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (tx, _rx) = async_channel::unbounded();
        let (_keep, cancel) = async_channel::bounded(1);
        let stop = Stop::new(
            cancel,
            tokio::time::Instant::now() + Duration::from_millis(500),
        );
        let follow = DockerOp::Logs(LogsQuery {
            id: name.clone(),
            follow: true,
            ..Default::default()
        });
        let r = execute(
            &rt,
            follow,
            None,
            &ReplySink::new(2, tx),
            &DockerCtx::default(),
            &stop,
        )
        .await
        .unwrap();
        assert!(
            matches!(r, ResponseBody::Docker(ref r) if matches!(**r, DockerReply::LogsEnd { reason: LogsEndReason::Deadline, entries } if entries >= 1)),
            "{r:?}"
        );

        // Top and stats.
        let DockerReply::Top(t) = op(&rt, DockerOp::Top { id: name.clone() }, None)
            .await
            .unwrap()
        else {
            panic!()
        };
        assert!(
            t.processes.iter().flatten().any(|c| c.contains("httpd")),
            "{t:?}"
        );
        let DockerReply::Stats(s) = op(&rt, DockerOp::Stats { id: name.clone() }, None)
            .await
            .unwrap()
        else {
            panic!()
        };
        assert!(s.cpu_pct.is_finite() && s.cpu_pct >= 0.0, "{s:?}");
        assert_eq!(s.mem_limit_bytes, 64 << 20);
        assert!(
            s.mem_usage_bytes > 0 && s.mem_pct > 0.0 && s.pids >= 1,
            "{s:?}"
        );
        assert!(s.net_rx_bytes > 0, "the request was received: {s:?}");

        // Rename, pause and unpause, restart, stop, remove; the CLI agrees at each step.
        let renamed = format!("{name}-renamed");
        let rename = DockerOp::RenameContainer {
            id: name.clone(),
            new_name: renamed.clone(),
        };
        assert_eq!(op(&rt, rename, None).await.unwrap(), DockerReply::Done);
        assert_eq!(cli_state(&name), None);
        assert_eq!(cli_state(&renamed).as_deref(), Some("running"));
        let id = || renamed.clone();
        op(&rt, DockerOp::PauseContainer { id: id() }, None)
            .await
            .unwrap();
        assert_eq!(cli_state(&renamed).as_deref(), Some("paused"));
        let again = op(&rt, DockerOp::PauseContainer { id: id() }, None)
            .await
            .unwrap_err();
        assert_eq!(again.kind, ErrorKind::Conflict, "{again}");
        op(&rt, DockerOp::UnpauseContainer { id: id() }, None)
            .await
            .unwrap();
        assert_eq!(cli_state(&renamed).as_deref(), Some("running"));
        op(
            &rt,
            DockerOp::RestartContainer {
                id: id(),
                timeout_secs: Some(1),
            },
            None,
        )
        .await
        .unwrap();
        assert_eq!(cli_state(&renamed).as_deref(), Some("running"));
        assert!(fetch(port).contains(PAGE.trim()));
        let busy = op(
            &rt,
            DockerOp::RemoveContainer {
                id: id(),
                force: false,
                volumes: false,
            },
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(busy.kind, ErrorKind::Conflict, "{busy}");
        op(
            &rt,
            DockerOp::StopContainer {
                id: id(),
                timeout_secs: Some(1),
            },
            None,
        )
        .await
        .unwrap();
        assert_eq!(cli_state(&renamed).as_deref(), Some("exited"));
        op(
            &rt,
            DockerOp::RemoveContainer {
                id: id(),
                force: false,
                volumes: true,
            },
            None,
        )
        .await
        .unwrap();
        assert_eq!(cli_state(&renamed), None);
        let gone = op(&rt, DockerOp::InspectContainer { id: id() }, None)
            .await
            .unwrap_err();
        assert_eq!(gone.kind, ErrorKind::NotFound);

        // The image goes last.
        let rm = DockerOp::RemoveImage {
            reference: format!("{image}-retag"),
            force: false,
            prune: true,
        };
        let DockerReply::ImagesRemoved(r) = op(&rt, rm, None).await.unwrap() else {
            panic!()
        };
        assert!(r.iter().any(|l| l.starts_with("Untagged:")), "{r:?}");
    });
}

#[test]
fn failures_are_classified() {
    let (Some(rt), Some(bb)) = (engine(), busybox()) else {
        return;
    };
    let run = unique();
    let image = format!("commander-test/busybox:{run}");
    let _cleanup = Cleanup {
        run: run.clone(),
        image: image.clone(),
    };
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("rootfs.tar");
    std::fs::write(&tar, rootfs_tar(&bb)).unwrap();
    let port = free_port();
    block_on(async {
        let (repo, tag) = image.split_once(':').unwrap();
        let source = ImportSource::RootFs {
            repo: repo.into(),
            tag: tag.into(),
        };
        rt.import_image(&source, &tar).await.unwrap();
        let missing = op(
            &rt,
            DockerOp::StartContainer {
                id: format!("cmdr-none-{run}"),
            },
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(missing.kind, ErrorKind::NotFound, "{missing}");
        let no_image = ContainerCreate {
            image: "commander-test/none:0".into(),
            ..Default::default()
        };
        let e = op(&rt, DockerOp::CreateContainer(no_image), None)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
        // Nothing listens on port 1: the pull fails fast and says why.
        let pull = DockerOp::PullImage(PullRequest {
            reference: "127.0.0.1:1/none:x".into(),
            auth: None,
        });
        let e = op(&rt, pull, None).await.unwrap_err();
        assert_ne!(
            e.kind,
            ErrorKind::Unavailable,
            "the engine itself answered: {e}"
        );
        // Two containers on one host port: the second fails to start and is removed.
        let form = |n: &str| ContainerCreate {
            image: image.clone(),
            name: Some(format!("cmdr-test-{run}-{n}")),
            cmd: ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]
                .map(String::from)
                .to_vec(),
            ports: vec![format!("127.0.0.1:{port}:80/tcp")],
            labels: labels(&run),
            ..Default::default()
        };
        op(&rt, DockerOp::CreateContainer(form("a")), None)
            .await
            .unwrap();
        let e = op(&rt, DockerOp::CreateContainer(form("b")), None)
            .await
            .unwrap_err();
        assert!(e.message.contains("failed to start"), "{e}");
        assert_eq!(
            cli_state(&format!("cmdr-test-{run}-b")),
            None,
            "the failed container was removed"
        );
        // Networks and volumes.
        let net = NetworkCreate {
            name: format!("cmdr-test-{run}"),
            internal: true,
            labels: labels(&run),
            ..Default::default()
        };
        let DockerReply::NetworkCreated { id } =
            op(&rt, DockerOp::CreateNetwork(net.clone()), None)
                .await
                .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            op(&rt, DockerOp::CreateNetwork(net), None)
                .await
                .unwrap_err()
                .kind,
            ErrorKind::Conflict
        );
        let DockerReply::Networks(n) = op(&rt, DockerOp::ListNetworks, None).await.unwrap() else {
            panic!()
        };
        assert!(n.iter().any(|n| n.id == id && n.internal));
        op(&rt, DockerOp::RemoveNetwork { id }, None).await.unwrap();
        let vol = VolumeCreate {
            name: format!("cmdr-test-{run}"),
            labels: labels(&run),
            ..Default::default()
        };
        let DockerReply::VolumeCreated { name } =
            op(&rt, DockerOp::CreateVolume(vol), None).await.unwrap()
        else {
            panic!()
        };
        let DockerReply::Volumes(v) = op(&rt, DockerOp::ListVolumes, None).await.unwrap() else {
            panic!()
        };
        assert!(v.iter().any(|v| v.name == name));
        op(
            &rt,
            DockerOp::RemoveVolume {
                name: name.clone(),
                force: false,
            },
            None,
        )
        .await
        .unwrap();
        let gone = op(&rt, DockerOp::RemoveVolume { name, force: false }, None)
            .await
            .unwrap_err();
        assert_eq!(gone.kind, ErrorKind::NotFound, "{gone}");
    });
}

#[test]
fn a_missing_engine_is_reported_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let e = block_on(BollardRuntime::connect(&dir.path().join("docker.sock"))).unwrap_err();
    assert!(matches!(e, DockerError::Unavailable(_)), "{e:?}");
    let op = OpError::from(e);
    assert_eq!(op.kind, ErrorKind::Unavailable);
    assert!(
        op.message.starts_with("no Docker Engine on this slave"),
        "{op}"
    );
    // A socket file nobody listens on.
    let path = dir.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let e = block_on(BollardRuntime::connect(&path)).unwrap_err();
    assert!(matches!(e, DockerError::Unavailable(_)), "{e:?}");
}
