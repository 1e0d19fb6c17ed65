//! The Docker operations against the real Docker Engine of this machine, through
//! `BollardRuntime` and the same `ops::execute` the agent uses (no master yet).
//!
//! The image is built here: a root file system tar assembled in memory from the host's
//! static `/bin/busybox` (Debian package `busybox-static`) plus an index page, imported
//! through the engine's API. No registry is needed. Everything created carries the label
//! `commander.test=1` and a per-test run label, and is removed when the test ends, also when
//! it fails. Without an engine or without busybox the tests are skipped with a message,
//! except under `CI=true`, where that is a failure.

#![allow(clippy::unwrap_used)]

use protocol::ops::docker::*;
use protocol::ops::docker_reply::{DockerReply, LogsEndReason};
use protocol::ops::{ErrorKind, OpError};
use protocol::{Message, ResponseBody};
use slave::docker::bollard_rt::BollardRuntime;
use slave::docker::ops::{DockerCtx, Stop, execute};
use slave::docker::{ContainerRuntime, DockerError};
use slave::remote::reply::ReplySink;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SOCKET: &str = "/var/run/docker.sock";
const BUSYBOX: &str = "/bin/busybox";
const PAGE: &str = "commander-test-ok\n";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f)
}

/// The engine, or `None` (skip) when there is none outside CI.
fn engine() -> Option<BollardRuntime> {
    match block_on(BollardRuntime::connect(Path::new(SOCKET))) {
        Ok(rt) => Some(rt),
        Err(e) if in_ci() => panic!("CI=true but no Docker Engine answers: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: {e} (this is a failure under CI=true)");
            None
        }
    }
}

/// Removes, when dropped (also while a failing test unwinds), every container, network and
/// volume carrying this run's label, and the test image.
struct Cleanup {
    run: String,
    image: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (run, image) = (self.run.clone(), self.image.clone());
        // A fresh thread: the test's own runtime may be unwinding.
        let done = std::thread::spawn(move || {
            block_on(async move {
                let Ok(rt) = BollardRuntime::connect(Path::new(SOCKET)).await else {
                    return;
                };
                let mine = |labels: &BTreeMap<String, String>| {
                    labels.get("commander.test.run") == Some(&run)
                };
                for c in rt.list_containers(true).await.unwrap_or_default() {
                    if mine(&c.labels) {
                        let _ = rt.remove_container(&c.id, true, true).await;
                    }
                }
                for n in rt.list_networks().await.unwrap_or_default() {
                    if mine(&n.labels) {
                        let _ = rt.remove_network(&n.id).await;
                    }
                }
                for v in rt.list_volumes().await.unwrap_or_default() {
                    if mine(&v.labels) {
                        let _ = rt.remove_volume(&v.name, true).await;
                    }
                }
                for tag in [image.clone(), format!("{image}-retag")] {
                    let _ = rt.remove_image(&tag, true, true).await;
                }
            })
        });
        let _ = done.join();
    }
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// One ustar header block.
fn tar_header(name: &str, mode: u32, size: usize, kind: u8) -> [u8; 512] {
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], at: usize, v: &[u8]| h[at..at + v.len()].copy_from_slice(v);
    put(&mut h, 0, name.as_bytes());
    put(&mut h, 100, format!("{mode:07o}\0").as_bytes());
    put(&mut h, 108, b"0000000\0");
    put(&mut h, 116, b"0000000\0");
    put(&mut h, 124, format!("{size:011o}\0").as_bytes());
    put(&mut h, 136, b"00000000000\0");
    put(&mut h, 148, b"        ");
    h[156] = kind;
    put(&mut h, 257, b"ustar\0");
    put(&mut h, 263, b"00");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A root file system: `/bin/busybox`, `/www/index.html`, `/tmp`.
fn rootfs_tar(busybox: &[u8]) -> Vec<u8> {
    let mut tar = Vec::new();
    let file = |tar: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]| {
        tar.extend_from_slice(&tar_header(name, mode, data.len(), b'0'));
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    };
    for (dir, mode) in [("bin/", 0o755), ("www/", 0o755), ("tmp/", 0o1777)] {
        tar.extend_from_slice(&tar_header(dir, mode, 0, b'5'));
    }
    file(&mut tar, "bin/busybox", 0o755, busybox);
    file(&mut tar, "www/index.html", 0o644, PAGE.as_bytes());
    tar.resize(tar.len() + 1024, 0);
    tar
}

/// Runs one operation the way the agent does.
async fn op(
    rt: &BollardRuntime,
    op: DockerOp,
    upload: Option<&Path>,
) -> Result<DockerReply, OpError> {
    let (tx, rx) = async_channel::unbounded::<Message>();
    let sink = ReplySink::new(1, tx);
    let (_keep, cancel) = async_channel::bounded(1);
    let stop = Stop::new(
        cancel,
        tokio::time::Instant::now() + Duration::from_secs(120),
    );
    let r = execute(rt, op, upload, &sink, &DockerCtx::default(), &stop).await;
    drop(rx);
    r.map(|body| match body {
        ResponseBody::Docker(r) => *r,
        other => panic!("not a Docker reply: {other:?}"),
    })
}

/// `docker ps` (the CLI, independently of our code) state of container `name`.
fn cli_state(name: &str) -> Option<String> {
    let filter = format!("name=^/{name}$");
    let out = Command::new("docker")
        .args(["ps", "-a", "--filter", &filter, "--format", "{{.State}}"])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
            (!s.is_empty()).then_some(s)
        }
        Ok(o) => panic!("docker ps failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => panic!("the docker CLI is needed to cross-check states: {e}"),
    }
}

/// GET / on 127.0.0.1:`port`, retried until the server answers or 20 s pass.
fn fetch(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            Ok(body)
        })();
        match attempt {
            Ok(body) if body.contains(PAGE.trim()) => return body,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "container not reachable on {port}: {other:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn labels(run: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("commander.test".to_string(), "1".to_string()),
        ("commander.test.run".to_string(), run.to_string()),
    ])
}

fn busybox() -> Option<Vec<u8>> {
    match std::fs::read(BUSYBOX) {
        Ok(b) => Some(b),
        Err(e) if in_ci() => {
            panic!("CI=true but {BUSYBOX} is missing ({e}): install busybox-static")
        }
        Err(e) => {
            eprintln!("SKIPPED: {BUSYBOX}: {e}; install busybox-static (a failure under CI=true)");
            None
        }
    }
}

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
        let DockerReply::Logs(b) = op(&rt, DockerOp::Logs(logs), None).await.unwrap() else {
            panic!()
        };
        assert!(
            b.entries.iter().any(|e| e.text.contains("response:200")),
            "{b:?}"
        );
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
