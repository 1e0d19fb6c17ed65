//! Images: pull with throttled progress, tag, history, remove, deploy (which pulls only
//! when needed) and import from a tarball.

#![allow(clippy::unwrap_used)]

use super::{block_on, engine, form, run};
use crate::docker::fake::FakeRuntime;
use crate::docker::ops::{DockerCtx, PullThrottle, Stop, execute, with_tag};
use crate::remote::reply::ReplySink;
use protocol::ResponseBody;
use protocol::ops::docker::*;
use protocol::ops::docker_reply::DockerReply;
use protocol::ops::{ErrorKind, ProgressEvent, PullProgress};
use std::time::{Duration, Instant};

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
fn import_an_image_from_a_tarball() {
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
