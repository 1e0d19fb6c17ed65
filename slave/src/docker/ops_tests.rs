//! Every Docker operation against the fake runtime: results, engine rules (conflicts, not
//! found), validation before any engine call, bind-mount confinement, progress, followed
//! logs with cancel and deadline, stats arithmetic.

#![allow(clippy::unwrap_used)]

use super::StatsSample;
use super::fake::FakeRuntime;
use super::ops::{DockerCtx, PullThrottle, Stop, execute, with_tag};
use crate::remote::reply::ReplySink;
use protocol::ops::docker::*;
use protocol::ops::docker_reply::{DockerReply, LogEntry, LogStream, LogsEndReason};
use protocol::ops::{ErrorKind, OpError, ProgressEvent, PullProgress};
use protocol::{Message, Response, ResponseBody};
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Run {
    result: Result<ResponseBody, OpError>,
    progress: Vec<ProgressEvent>,
}

impl Run {
    fn reply(self) -> DockerReply {
        match self.result {
            Ok(ResponseBody::Docker(r)) => *r,
            other => panic!("not a Docker reply: {other:?}"),
        }
    }

    fn err(self) -> OpError {
        self.result.unwrap_err()
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f)
}

/// Runs `op` with a 10 s deadline; `cancel_after` sends a cancel after that long.
fn run_with(
    rt: &FakeRuntime,
    op: DockerOp,
    ctx: &DockerCtx,
    cancel_after: Option<Duration>,
    deadline: Duration,
) -> Run {
    let (tx, rx) = async_channel::unbounded();
    let sink = ReplySink::new(1, tx);
    let (cancel_tx, cancel_rx) = async_channel::bounded(1);
    let result = block_on(async {
        let stop = Stop::new(cancel_rx, tokio::time::Instant::now() + deadline);
        if let Some(after) = cancel_after {
            tokio::task::spawn_local(async move {
                tokio::time::sleep(after).await;
                let _ = cancel_tx.send(()).await;
            });
        } else {
            drop(cancel_tx); // A closed cancel channel means "never cancelled".
        }
        execute(rt, op, None, &sink, ctx, &stop).await
    });
    let progress = std::iter::from_fn(|| rx.try_recv().ok())
        .filter_map(|m| match m {
            Message::Response(Response {
                body: ResponseBody::Progress(p),
                ..
            }) => Some(p.event),
            _ => None,
        })
        .collect();
    Run { result, progress }
}

fn run(rt: &FakeRuntime, op: DockerOp) -> Run {
    run_with(rt, op, &DockerCtx::default(), None, Duration::from_secs(10))
}

fn form(name: &str, ports: &[&str]) -> ContainerCreate {
    ContainerCreate {
        image: "busybox".into(),
        name: Some(name.into()),
        cmd: vec!["httpd".into(), "-f".into()],
        env: vec!["A=1".into()],
        ports: ports.iter().map(|p| p.to_string()).collect(),
        labels: [("commander.test".to_string(), "1".to_string())].into(),
        ..Default::default()
    }
}

fn engine() -> FakeRuntime {
    FakeRuntime::with_images(&["busybox:latest"])
}

fn state(rt: &FakeRuntime, name: &str) -> String {
    rt.container(name)
        .map(|c| c.state)
        .unwrap_or_else(|| "gone".into())
}

#[test]
fn info_and_lists() {
    let rt = engine();
    run(&rt, DockerOp::CreateContainer(form("web", &[])));
    let DockerReply::Info(i) = run(&rt, DockerOp::Info).reply() else {
        panic!()
    };
    assert_eq!((i.containers, i.running, i.images), (1, 1, 1));
    let DockerReply::Containers(c) = run(&rt, DockerOp::ListContainers { all: true }).reply()
    else {
        panic!()
    };
    assert_eq!(c[0].names, vec!["web"]);
    let DockerReply::Images(i) = run(&rt, DockerOp::ListImages { all: false }).reply() else {
        panic!()
    };
    assert_eq!(i[0].repo_tags, vec!["busybox:latest"]);
    assert_eq!(
        run(&rt, DockerOp::ListNetworks).reply(),
        DockerReply::Networks(vec![])
    );
    assert_eq!(
        run(&rt, DockerOp::ListVolumes).reply(),
        DockerReply::Volumes(vec![])
    );
}

#[test]
fn create_and_run_then_the_whole_lifecycle() {
    let rt = engine();
    let DockerReply::Created {
        id,
        started,
        pulled,
        ..
    } = run(
        &rt,
        DockerOp::CreateContainer(form("web", &["8080:80/tcp"])),
    )
    .reply()
    else {
        panic!()
    };
    assert!(started && !pulled);
    assert_eq!(state(&rt, &id), "running");
    let DockerReply::Container(d) =
        run(&rt, DockerOp::InspectContainer { id: "web".into() }).reply()
    else {
        panic!()
    };
    assert_eq!(
        (d.env.clone(), d.labels["commander.test"].as_str()),
        (vec!["A=1".to_string()], "1")
    );
    let id_of = || "web".to_string();
    let done = |op| assert_eq!(run(&rt, op).reply(), DockerReply::Done);
    done(DockerOp::PauseContainer { id: id_of() });
    assert_eq!(state(&rt, "web"), "paused");
    let again = run(&rt, DockerOp::PauseContainer { id: id_of() }).err();
    assert_eq!(again.kind, ErrorKind::Conflict, "{again}");
    done(DockerOp::UnpauseContainer { id: id_of() });
    assert_eq!(
        run(&rt, DockerOp::UnpauseContainer { id: id_of() })
            .err()
            .kind,
        ErrorKind::Conflict
    );
    done(DockerOp::StopContainer {
        id: id_of(),
        timeout_secs: Some(1),
    });
    assert_eq!(state(&rt, "web"), "exited");
    done(DockerOp::StartContainer { id: id_of() });
    done(DockerOp::RestartContainer {
        id: id_of(),
        timeout_secs: None,
    });
    done(DockerOp::KillContainer {
        id: id_of(),
        signal: Some("SIGTERM".into()),
    });
    assert_eq!(state(&rt, "web"), "exited");
    assert!(
        rt.state
            .borrow()
            .calls
            .iter()
            .any(|c| c == "kill_container SIGTERM web")
    );
    done(DockerOp::StartContainer { id: id_of() });
    done(DockerOp::RenameContainer {
        id: id_of(),
        new_name: "web-2".into(),
    });
    assert_eq!(state(&rt, "web"), "gone");
    let busy = run(
        &rt,
        DockerOp::RemoveContainer {
            id: "web-2".into(),
            force: false,
            volumes: false,
        },
    )
    .err();
    assert_eq!(busy.kind, ErrorKind::Conflict);
    done(DockerOp::RemoveContainer {
        id: "web-2".into(),
        force: true,
        volumes: true,
    });
    let gone = run(&rt, DockerOp::InspectContainer { id: "web-2".into() }).err();
    assert_eq!(gone.kind, ErrorKind::NotFound);
}

#[test]
fn create_conflicts_and_missing_images() {
    let rt = engine();
    run(&rt, DockerOp::CreateContainer(form("web", &[])));
    assert_eq!(
        run(&rt, DockerOp::CreateContainer(form("web", &[])))
            .err()
            .kind,
        ErrorKind::Conflict
    );
    let missing = ContainerCreate {
        image: "nginx:1".into(),
        ..form("web2", &[])
    };
    assert_eq!(
        run(&rt, DockerOp::CreateContainer(missing)).err().kind,
        ErrorKind::NotFound
    );
    let created_only = ContainerCreate {
        start: false,
        ..form("idle", &[])
    };
    let DockerReply::Created { started, .. } =
        run(&rt, DockerOp::CreateContainer(created_only)).reply()
    else {
        panic!()
    };
    assert!(!started);
    assert_eq!(state(&rt, "idle"), "created");
    assert_eq!(
        run(
            &rt,
            DockerOp::RenameContainer {
                id: "idle".into(),
                new_name: "web".into()
            }
        )
        .err()
        .kind,
        ErrorKind::Conflict
    );
}

#[test]
fn a_container_that_cannot_start_is_removed_again() {
    let rt = engine();
    run(&rt, DockerOp::CreateContainer(form("first", &["8080:80"])));
    let e = run(
        &rt,
        DockerOp::CreateContainer(form("second", &["8080:81/tcp"])),
    )
    .err();
    assert!(
        e.message.contains("failed to start") && e.message.contains("allocated"),
        "{e}"
    );
    assert_eq!(state(&rt, "second"), "gone");
    assert!(
        rt.state
            .borrow()
            .calls
            .iter()
            .any(|c| c.starts_with("remove_container force=true"))
    );
}

#[test]
fn validation_happens_before_the_engine_is_asked() {
    let rt = engine();
    let bad = [
        (DockerOp::StartContainer { id: "../x".into() }, "id"),
        (DockerOp::CreateContainer(form("web", &["80"])), "ports[0]"),
        (
            DockerOp::RenameContainer {
                id: "a".into(),
                new_name: "b c".into(),
            },
            "new_name",
        ),
        (
            DockerOp::PullImage(PullRequest {
                reference: "UPPER".into(),
                auth: None,
            }),
            "reference",
        ),
        (
            DockerOp::KillContainer {
                id: "a".into(),
                signal: Some("9; rm".into()),
            },
            "signal",
        ),
    ];
    for (op, field) in bad {
        let e = run(&rt, op).err();
        assert_eq!(
            (e.kind, e.field.as_deref()),
            (ErrorKind::InvalidArgument, Some(field))
        );
    }
    assert!(rt.state.borrow().calls.is_empty());
}

#[test]
fn bind_mounts_are_confined_to_the_roots() {
    let rt = engine();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::os::unix::fs::symlink("/etc", root.path().join("escape")).unwrap();
    let ctx = DockerCtx::new(&[root.path().to_path_buf()]);
    let with = |v: String| ContainerCreate {
        volumes: vec!["named:/n".into(), v],
        ..form("web", &[])
    };
    let op = |v: String| DockerOp::CreateContainer(with(v));
    let ok = run_with(
        &rt,
        op(format!("{}:/data:ro", data.display())),
        &ctx,
        None,
        Duration::from_secs(5),
    );
    assert!(matches!(ok.reply(), DockerReply::Created { .. }));
    for (v, why) in [
        ("/etc:/x".to_string(), "outside"),
        (
            format!("{}:/x", root.path().join("escape").display()),
            "resolves",
        ),
    ] {
        let e = run_with(&rt, op(v), &ctx, None, Duration::from_secs(5)).err();
        assert_eq!(
            (e.kind, e.field.as_deref()),
            (ErrorKind::Refused, Some("volumes[1]"))
        );
        assert!(e.message.contains(why), "{e}");
    }
    let e = run(&rt, op(format!("{}:/data", data.display()))).err();
    assert!(e.message.contains("disabled"), "no roots configured: {e}");
    assert!(super::ops::check_bind_root(&PathBuf::from("/etc/app")).is_err());
    assert!(super::ops::check_bind_root(&PathBuf::from("/srv/app")).is_ok());
}

fn with_logs(rt: &FakeRuntime, name: &str, n: usize) {
    run(rt, DockerOp::CreateContainer(form(name, &[])));
    let mut st = rt.state.borrow_mut();
    let c = st.containers.iter_mut().find(|c| c.name == name).unwrap();
    for i in 0..n {
        let stream = if i % 2 == 0 {
            LogStream::Stdout
        } else {
            LogStream::Stderr
        };
        c.logs.push(LogEntry {
            stream,
            timestamp: None,
            text: format!("line {i}\n"),
        });
    }
}

#[test]
fn logs_tail_streams_and_timestamps() {
    let rt = engine();
    with_logs(&rt, "web", 10);
    let q = LogsQuery {
        id: "web".into(),
        tail: Some(3),
        timestamps: true,
        ..Default::default()
    };
    let DockerReply::Logs(b) = run(&rt, DockerOp::Logs(q)).reply() else {
        panic!()
    };
    let texts: Vec<&str> = b.entries.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts, vec!["line 7\n", "line 8\n", "line 9\n"]);
    assert!(b.entries.iter().all(|e| e.timestamp.is_some()));
    let q = LogsQuery {
        id: "web".into(),
        stderr: false,
        ..Default::default()
    };
    let DockerReply::Logs(b) = run(&rt, DockerOp::Logs(q)).reply() else {
        panic!()
    };
    assert!(b.entries.iter().all(|e| e.stream != LogStream::Stderr));
    let q = LogsQuery {
        id: "nope".into(),
        ..Default::default()
    };
    assert_eq!(run(&rt, DockerOp::Logs(q)).err().kind, ErrorKind::NotFound);
}

#[test]
fn followed_logs_end_by_cancel_deadline_or_exit() {
    let rt = engine();
    with_logs(&rt, "web", 5);
    let follow = || {
        DockerOp::Logs(LogsQuery {
            id: "web".into(),
            follow: true,
            ..Default::default()
        })
    };
    let r = run_with(
        &rt,
        follow(),
        &DockerCtx::default(),
        Some(Duration::from_millis(300)),
        Duration::from_secs(10),
    );
    let sent: usize = r
        .progress
        .iter()
        .map(|p| match p {
            ProgressEvent::Logs(b) => b.entries.len(),
            other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(sent, 6, "5 lines plus the start line");
    assert_eq!(
        r.reply(),
        DockerReply::LogsEnd {
            entries: 6,
            reason: LogsEndReason::Cancelled
        }
    );
    let r = run_with(
        &rt,
        follow(),
        &DockerCtx::default(),
        None,
        Duration::from_millis(200),
    );
    assert!(matches!(
        r.reply(),
        DockerReply::LogsEnd {
            reason: LogsEndReason::Deadline,
            ..
        }
    ));
    run(
        &rt,
        DockerOp::StopContainer {
            id: "web".into(),
            timeout_secs: None,
        },
    );
    let started = Instant::now();
    let r = run(&rt, follow());
    assert!(matches!(
        r.reply(),
        DockerReply::LogsEnd {
            entries: 6,
            reason: LogsEndReason::Ended
        }
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn top_and_stats() {
    let rt = engine();
    run(&rt, DockerOp::CreateContainer(form("web", &[])));
    let DockerReply::Top(t) = run(&rt, DockerOp::Top { id: "web".into() }).reply() else {
        panic!()
    };
    assert_eq!(t.processes[0][1], "httpd -f");
    rt.state.borrow_mut().stats = StatsSample {
        cpu_total: 300,
        precpu_total: 100,
        system: 2000,
        presystem: 1000,
        online_cpus: 4,
        mem_usage: 1000,
        mem_inactive_file: 200,
        mem_limit: 4000,
        net_rx: 7,
        ..Default::default()
    };
    let DockerReply::Stats(s) = run(&rt, DockerOp::Stats { id: "web".into() }).reply() else {
        panic!()
    };
    assert!((s.cpu_pct - 80.0).abs() < 1e-9, "{}", s.cpu_pct);
    assert_eq!((s.mem_usage_bytes, s.net_rx_bytes), (800, 7));
    assert!((s.mem_pct - 20.0).abs() < 1e-9);
    rt.state.borrow_mut().stats = StatsSample::default();
    let DockerReply::Stats(s) = run(&rt, DockerOp::Stats { id: "web".into() }).reply() else {
        panic!()
    };
    assert_eq!((s.cpu_pct, s.mem_pct), (0.0, 0.0));
    run(
        &rt,
        DockerOp::StopContainer {
            id: "web".into(),
            timeout_secs: None,
        },
    );
    assert_eq!(
        run(&rt, DockerOp::Top { id: "web".into() }).err().kind,
        ErrorKind::Conflict
    );
}

#[test]
fn images_pull_tag_history_remove() {
    let rt = engine();
    rt.state.borrow_mut().registry.push("team/app:v1".into());
    let auth = RegistryAuth {
        server: None,
        username: "ci".into(),
        password: "s3cret".into(),
    };
    let pull = DockerOp::PullImage(PullRequest {
        reference: "team/app:v1".into(),
        auth: Some(auth),
    });
    let r = run(&rt, pull);
    let n = r.progress.len();
    assert!(
        (4..24).contains(&n),
        "throttled progress, status changes kept: {n}"
    );
    assert!(
        r.progress
            .iter()
            .any(|p| matches!(p, ProgressEvent::Pull(p) if p.status == "Pull complete"))
    );
    let DockerReply::Pulled { reference, id } = r.reply() else {
        panic!()
    };
    assert_eq!(reference, "team/app:v1");
    assert!(id.is_some());
    assert_eq!(rt.state.borrow().pull_users, vec!["ci"]);
    let unknown = DockerOp::PullImage(PullRequest {
        reference: "team/none".into(),
        auth: None,
    });
    assert_eq!(run(&rt, unknown).err().kind, ErrorKind::NotFound);
    assert!(
        rt.state
            .borrow()
            .calls
            .iter()
            .any(|c| c == "pull_image team/none:latest")
    );
    let tag = DockerOp::TagImage {
        source: "team/app:v1".into(),
        repo: "mirror/app".into(),
        tag: "v1".into(),
    };
    assert_eq!(run(&rt, tag).reply(), DockerReply::Done);
    let DockerReply::Image(i) = run(
        &rt,
        DockerOp::InspectImage {
            reference: "mirror/app:v1".into(),
        },
    )
    .reply() else {
        panic!()
    };
    assert_eq!(i.repo_tags, vec!["team/app:v1", "mirror/app:v1"]);
    let DockerReply::History(h) = run(
        &rt,
        DockerOp::ImageHistory {
            reference: "team/app:v1".into(),
        },
    )
    .reply() else {
        panic!()
    };
    assert_eq!(h.len(), 1);
    run(&rt, DockerOp::CreateContainer(form("web", &[])));
    let rm = |force| DockerOp::RemoveImage {
        reference: "busybox".into(),
        force,
        prune: true,
    };
    assert_eq!(run(&rt, rm(false)).err().kind, ErrorKind::Conflict);
    let DockerReply::ImagesRemoved(r) = run(&rt, rm(true)).reply() else {
        panic!()
    };
    assert_eq!(r[0], "Untagged: busybox:latest");
    let gone = run(
        &rt,
        DockerOp::InspectImage {
            reference: "busybox".into(),
        },
    )
    .err();
    assert_eq!(gone.kind, ErrorKind::NotFound);
}

#[test]
fn deploy_pulls_only_when_needed() {
    let rt = FakeRuntime::new();
    rt.state.borrow_mut().registry.push("busybox:latest".into());
    let deploy = |name: &str, pull| {
        DockerOp::Deploy(DeployRequest {
            container: form(name, &[]),
            pull,
            auth: None,
        })
    };
    let r = run(&rt, deploy("app-a", PullPolicy::Missing));
    let steps: Vec<&str> = r
        .progress
        .iter()
        .filter_map(|p| match p {
            ProgressEvent::Step { step } => Some(step.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(steps, vec!["pull", "create"], "{:?}", r.result);
    assert!(
        r.progress
            .iter()
            .any(|p| matches!(p, ProgressEvent::Pull(_)))
    );
    assert!(matches!(
        r.reply(),
        DockerReply::Created {
            pulled: true,
            started: true,
            ..
        }
    ));
    let r = run(&rt, deploy("app-b", PullPolicy::Missing));
    assert!(matches!(
        r.reply(),
        DockerReply::Created { pulled: false, .. }
    ));
    let r = run(&rt, deploy("app-c", PullPolicy::Always));
    assert!(matches!(
        r.reply(),
        DockerReply::Created { pulled: true, .. }
    ));
    let missing = DockerOp::Deploy(DeployRequest {
        container: ContainerCreate {
            image: "other".into(),
            ..form("app-d", &[])
        },
        pull: PullPolicy::Never,
        auth: None,
    });
    assert_eq!(run(&rt, missing).err().kind, ErrorKind::NotFound);
}

#[test]
fn import_networks_and_volumes() {
    let rt = engine();
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("rootfs.tar");
    std::fs::write(&tar, vec![0u8; 1024]).unwrap();
    let (tx, _rx) = async_channel::unbounded();
    let sink = ReplySink::new(1, tx);
    let import = DockerOp::ImportImage(ImportRequest {
        source: ImportSource::RootFs {
            repo: "t/bb".into(),
            tag: "1".into(),
        },
        total_len: 1024,
    });
    let (_keep, cancel) = async_channel::bounded(1);
    let r = block_on(async {
        let stop = Stop::new(cancel, tokio::time::Instant::now() + Duration::from_secs(5));
        execute(&rt, import, Some(&tar), &sink, &DockerCtx::default(), &stop).await
    });
    assert_eq!(
        r.unwrap(),
        ResponseBody::Docker(Box::new(DockerReply::Imported(vec!["t/bb:1".into()])))
    );
    let net = NetworkCreate {
        name: "backend".into(),
        internal: true,
        ..Default::default()
    };
    let DockerReply::NetworkCreated { id } = run(&rt, DockerOp::CreateNetwork(net.clone())).reply()
    else {
        panic!()
    };
    assert_eq!(
        run(&rt, DockerOp::CreateNetwork(net)).err().kind,
        ErrorKind::Conflict
    );
    let DockerReply::Networks(n) = run(&rt, DockerOp::ListNetworks).reply() else {
        panic!()
    };
    assert!(n[0].internal);
    assert_eq!(
        run(&rt, DockerOp::RemoveNetwork { id }).reply(),
        DockerReply::Done
    );
    assert_eq!(
        run(
            &rt,
            DockerOp::RemoveNetwork {
                id: "backend".into()
            }
        )
        .err()
        .kind,
        ErrorKind::NotFound
    );
    let vol = VolumeCreate {
        name: "data".into(),
        ..Default::default()
    };
    let DockerReply::VolumeCreated { name } = run(&rt, DockerOp::CreateVolume(vol)).reply() else {
        panic!()
    };
    let DockerReply::Volumes(v) = run(&rt, DockerOp::ListVolumes).reply() else {
        panic!()
    };
    assert_eq!(v[0].name, name);
    assert_eq!(
        run(
            &rt,
            DockerOp::RemoveVolume {
                name: name.clone(),
                force: false
            }
        )
        .reply(),
        DockerReply::Done
    );
    assert_eq!(
        run(&rt, DockerOp::RemoveVolume { name, force: false })
            .err()
            .kind,
        ErrorKind::NotFound
    );
}

#[test]
fn no_engine_is_reported_clearly() {
    let rt = engine();
    rt.state.borrow_mut().unavailable = true;
    let e = run(&rt, DockerOp::ListContainers { all: true }).err();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.message.contains("no Docker Engine on this slave"), "{e}");
}

#[test]
fn pull_progress_throttle_and_default_tag() {
    let mut t = PullThrottle::default();
    let p = |layer: &str, status: &str, current| PullProgress {
        layer: layer.into(),
        status: status.into(),
        current,
        total: 100,
    };
    let t0 = Instant::now();
    assert!(t.should_send(&p("a", "Downloading", 1), t0));
    assert!(!t.should_send(&p("a", "Downloading", 2), t0 + Duration::from_millis(10)));
    assert!(t.should_send(&p("b", "Downloading", 2), t0 + Duration::from_millis(10)));
    assert!(t.should_send(&p("a", "Downloading", 3), t0 + Duration::from_millis(300)));
    assert!(t.should_send(&p("a", "Downloading", 100), t0 + Duration::from_millis(310)));
    assert!(t.should_send(&p("a", "Extracting", 1), t0 + Duration::from_millis(320)));
    assert_eq!(with_tag("busybox"), "busybox:latest");
    assert_eq!(with_tag("reg:5000/a"), "reg:5000/a:latest");
    assert_eq!(with_tag("a:1"), "a:1");
    assert_eq!(with_tag("a@sha256:00"), "a@sha256:00");
}
