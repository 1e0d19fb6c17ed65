//! Docker operations against the fake runtime, continued: logs (tail, streams, following
//! with cancel and deadline), top and stats, images (pull progress, tag, remove), deploy,
//! import, networks and volumes, and a missing engine.

#![allow(clippy::unwrap_used)]

use super::StatsSample;
use super::fake::FakeRuntime;
use super::ops::{DockerCtx, PullThrottle, Stop, execute, with_tag};
use super::ops_tests::{block_on, engine, form, run, run_with};
use crate::remote::reply::ReplySink;
use protocol::ResponseBody;
use protocol::ops::docker::*;
use protocol::ops::docker_reply::{DockerReply, LogEntry, LogStream, LogsEndReason};
use protocol::ops::{ErrorKind, ProgressEvent, PullProgress};
use std::time::{Duration, Instant};

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
