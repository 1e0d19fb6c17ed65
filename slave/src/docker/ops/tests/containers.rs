//! Containers: lists, the whole lifecycle, conflicts and missing images, validation before
//! the engine is asked, bind-mount confinement, top and stats, and a missing engine.

#![allow(clippy::unwrap_used)]

use super::{engine, form, run, run_with, state};
use crate::docker::StatsSample;
use crate::docker::ops::DockerCtx;
use protocol::ops::ErrorKind;
use protocol::ops::docker::*;
use protocol::ops::docker_reply::DockerReply;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
            DockerOp::CreateContainer(ContainerCreate {
                network: Some("host".into()),
                ..form("web", &[])
            }),
            "network",
        ),
        (
            DockerOp::Deploy(DeployRequest {
                container: ContainerCreate {
                    network: Some("Host".into()),
                    ..form("web", &[])
                },
                pull: PullPolicy::Missing,
                auth: None,
            }),
            "network",
        ),
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
            "symbolic link",
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
    use crate::docker::ops::{BindRootError, validate_bind_root};
    assert_eq!(
        validate_bind_root(&PathBuf::from("/etc/app")),
        Err(BindRootError::Exposes {
            root: "/etc/app".into(),
            exposed: "/etc".into()
        })
    );
    assert_eq!(
        validate_bind_root(&PathBuf::from("/srv/../etc")),
        Err(BindRootError::NotAbsolute("/srv/../etc".into()))
    );
    assert_eq!(validate_bind_root(&PathBuf::from("/srv/app")), Ok(()));
}

/// Finding 3: a bind source is resolved beneath its root without following links, and a
/// missing one is refused rather than left for the engine to create (through a link).
#[test]
fn bind_sources_are_resolved_beneath_the_root_without_links() {
    let rt = engine();
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir_all(root.join("x/real")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("x/link")).unwrap();
    std::os::unix::fs::symlink(root.join("x/real"), root.join("x/inner")).unwrap();
    let ctx = DockerCtx::new(std::slice::from_ref(&root));
    let op = |name: &str, v: String| {
        DockerOp::CreateContainer(ContainerCreate {
            volumes: vec![v],
            ..form(name, &[])
        })
    };
    let refused = |v: PathBuf, why: &str| {
        let e = run_with(
            &rt,
            op("web", format!("{}:/mnt", v.display())),
            &ctx,
            None,
            Duration::from_secs(5),
        )
        .err();
        assert_eq!(
            (e.kind, e.field.as_deref()),
            (ErrorKind::Refused, Some("volumes[0]")),
            "{}: {e}",
            v.display()
        );
        assert!(e.message.contains(why), "{}: {e}", v.display());
    };
    // The attack: a missing last part behind a link that leaves the root.
    refused(root.join("x/link/newdir"), "symbolic link");
    refused(root.join("x/link"), "symbolic link");
    // A link is refused even when it stays inside the root.
    refused(root.join("x/inner"), "symbolic link");
    // Missing sources are refused, not created.
    refused(root.join("x/missing"), "does not exist");
    refused(root.join("x/real/missing/deeper"), "does not exist");
    assert!(
        rt.state.borrow().calls.is_empty(),
        "the engine was never asked"
    );
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    // Real directories beneath the root, and the root itself, are fine.
    for (name, ok) in [("ok-1", root.join("x/real")), ("ok-2", root.clone())] {
        let r = run_with(
            &rt,
            op(name, format!("{}:/mnt", ok.display())),
            &ctx,
            None,
            Duration::from_secs(5),
        );
        assert!(matches!(r.reply(), DockerReply::Created { .. }));
    }
    use crate::docker::ops::{BeneathError, resolve_beneath};
    assert_eq!(
        resolve_beneath(&root, Path::new("x/../../etc")),
        Err(BeneathError::Escapes)
    );
}

/// Finding 3 (restart variant): a bind source checked at create and swapped for a link
/// afterwards is refused at start and restart, before the engine is asked.
#[test]
fn bind_sources_are_checked_again_at_start_and_restart() {
    let rt = engine();
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let d = root.join("app/d");
    std::fs::create_dir_all(&d).unwrap();
    let ctx = DockerCtx::new(std::slice::from_ref(&root));
    let create = DockerOp::CreateContainer(ContainerCreate {
        volumes: vec![format!("{}:/d", d.display()), "named:/n".into()],
        ..form("app-b", &[])
    });
    let five = Duration::from_secs(5);
    assert!(matches!(
        run_with(&rt, create, &ctx, None, five).reply(),
        DockerReply::Created { .. }
    ));
    let start = || DockerOp::StartContainer { id: "app-b".into() };
    let restart = || DockerOp::RestartContainer {
        id: "app-b".into(),
        timeout_secs: None,
    };
    // Unchanged: both go through.
    run_with(&rt, start(), &ctx, None, five).reply();
    run_with(&rt, restart(), &ctx, None, five).reply();
    // Another container replaces the directory with a link to the host's root.
    std::fs::remove_dir(&d).unwrap();
    std::os::unix::fs::symlink("/", &d).unwrap();
    let calls = rt.state.borrow().calls.len();
    for op in [start(), restart()] {
        let e = run_with(&rt, op, &ctx, None, five).err();
        assert_eq!(
            (e.kind, e.field.as_deref()),
            (ErrorKind::Refused, Some("id"))
        );
        assert!(e.message.contains("symbolic link"), "{e}");
    }
    let after: Vec<String> = rt.state.borrow().calls[calls..].to_vec();
    assert!(
        after
            .iter()
            .all(|c| !c.starts_with("start") && !c.starts_with("restart")),
        "the engine was not asked to start: {after:?}"
    );
    // Removed altogether: refused as missing.
    std::fs::remove_file(&d).unwrap();
    let e = run_with(&rt, start(), &ctx, None, five).err();
    assert!(e.message.contains("does not exist"), "{e}");
}

/// Finding 10: a root is checked where it resolves, so a root that is (or has become) a link
/// to `/` allows nothing, and a missing root is left out.
#[test]
fn bind_roots_are_resolved_before_they_are_checked() {
    let rt = engine();
    let dir = tempfile::tempdir().unwrap();
    let to_root = dir.path().join("srv");
    std::os::unix::fs::symlink("/", &to_root).unwrap();
    let ctx = DockerCtx::new(&[to_root.clone(), dir.path().join("missing")]);
    assert!(ctx.bind_roots.is_empty(), "{:?}", ctx.bind_roots);
    let op = DockerOp::CreateContainer(ContainerCreate {
        volumes: vec![format!("{}/etc:/x", to_root.display())],
        ..form("web", &[])
    });
    let e = run_with(&rt, op, &ctx, None, Duration::from_secs(5)).err();
    assert_eq!(e.kind, ErrorKind::Refused, "{e}");
    assert!(rt.state.borrow().calls.is_empty());
    let real = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(real.join("apps")).unwrap();
    let ctx = DockerCtx::new(&[real.join("apps/../apps")]);
    assert_eq!(ctx.bind_roots, vec![real.join("apps")]);
    use crate::docker::ops::{BindRootError, resolve_bind_root};
    assert!(matches!(
        resolve_bind_root(&to_root),
        Err(BindRootError::ResolvesToExposed { .. })
    ));
    assert!(matches!(
        resolve_bind_root(&dir.path().join("missing")),
        Err(BindRootError::Unresolvable { .. })
    ));
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
fn no_engine_is_reported_clearly() {
    let rt = engine();
    rt.state.borrow_mut().unavailable = true;
    let e = run(&rt, DockerOp::ListContainers { all: true }).err();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.message.contains("no Docker Engine on this slave"), "{e}");
}
