//! Docker operations against the fake runtime (containers; more in `ops_tests_more`): results, engine rules (conflicts, not
//! found), validation before any engine call, bind-mount confinement, progress, followed
//! logs with cancel and deadline, stats arithmetic.

#![allow(clippy::unwrap_used)]

use super::fake::FakeRuntime;
use super::ops::{DockerCtx, Stop, execute};
use crate::remote::reply::ReplySink;
use protocol::ops::docker::*;
use protocol::ops::docker_reply::DockerReply;
use protocol::ops::{ErrorKind, OpError, ProgressEvent};
use protocol::{Message, Response, ResponseBody};
use std::path::PathBuf;
use std::time::Duration;

pub(super) struct Run {
    pub(super) result: Result<ResponseBody, OpError>,
    pub(super) progress: Vec<ProgressEvent>,
}

impl Run {
    pub(super) fn reply(self) -> DockerReply {
        match self.result {
            Ok(ResponseBody::Docker(r)) => *r,
            other => panic!("not a Docker reply: {other:?}"),
        }
    }

    pub(super) fn err(self) -> OpError {
        self.result.unwrap_err()
    }
}

pub(super) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f)
}

/// Runs `op` with a 10 s deadline; `cancel_after` sends a cancel after that long.
pub(super) fn run_with(
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

pub(super) fn run(rt: &FakeRuntime, op: DockerOp) -> Run {
    run_with(rt, op, &DockerCtx::default(), None, Duration::from_secs(10))
}

pub(super) fn form(name: &str, ports: &[&str]) -> ContainerCreate {
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

pub(super) fn engine() -> FakeRuntime {
    FakeRuntime::with_images(&["busybox:latest"])
}

pub(super) fn state(rt: &FakeRuntime, name: &str) -> String {
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
