//! Tests of the argument checks: good values pass, bad ones fail naming their field.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::ops::docker::{
    ContainerCreate, DeployRequest, DockerOp, ImportRequest, ImportSource, LogsQuery, PullPolicy,
    PullRequest, RegistryAuth,
};
use crate::ops::host::{EnvEdit, EnvVar, HostOp, ProcessQuery, SignalRequest};

fn field_of<T: std::fmt::Debug>(r: R<T>) -> String {
    r.unwrap_err().field
}

#[test]
fn container_refs_and_names() {
    for ok in ["web", "a", "0123abcdef", "my_app.v2-1"] {
        container_ref("id", ok).unwrap();
    }
    for bad in [
        "",
        "-x",
        ".x",
        "a/b",
        "a b",
        "x?y",
        "../etc",
        &"a".repeat(129),
    ] {
        assert_eq!(field_of(container_ref("id", bad)), "id", "{bad:?}");
    }
    assert!(container_name("name", "a").is_err());
    container_name("name", "ab").unwrap();
}

#[test]
fn image_references() {
    for ok in [
        "busybox",
        "busybox:1.36",
        "library/busybox:latest",
        "registry.example:5000/team/app:v1.2_3",
        "localhost/app",
        "ghcr.io/o/r@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "a__b/c-d--e.f",
    ] {
        image_ref("image", ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "",
        "Busybox",
        "busybox:",
        "busybox:-x",
        "a//b",
        "a/../b",
        "a b",
        "x?y",
        "app@sha256:xyz",
        "reg.example:0/app",
        "-app",
        "app_",
        "a___b",
    ] {
        assert_eq!(field_of(image_ref("image", bad)), "image", "{bad:?}");
    }
    image_target("reference", "sha256:0123456789ab").unwrap();
    image_target("reference", "0123456789ab").unwrap();
    assert_eq!(
        split_reference("reg:5000/a/b:t@sha256:00"),
        ("reg:5000/a/b", Some("t"), Some("sha256:00"))
    );
    assert_eq!(split_reference("reg:5000/a"), ("reg:5000/a", None, None));
}

#[test]
fn port_mappings() {
    let p = port_mapping("ports[0]", "8080:80/tcp").unwrap();
    assert_eq!((p.host_port, p.container_port, p.proto), (8080, 80, "tcp"));
    assert_eq!(port_mapping("p", "53:53/udp").unwrap().proto, "udp");
    assert_eq!(port_mapping("p", "1:2").unwrap().proto, "tcp");
    let p = port_mapping("p", "127.0.0.1:8080:80").unwrap();
    assert_eq!(p.host_ip, Some("127.0.0.1".parse().unwrap()));
    let p = port_mapping("p", "[::1]:8080:80/tcp").unwrap();
    assert_eq!(p.host_ip, Some("::1".parse().unwrap()));
    for bad in [
        "80",
        "0:80",
        "8080:0",
        "8080:65536",
        "a:80",
        "8080:80/icmp",
        "1.2.3:80:80",
        "::1:80:80",
        "1:2:3:4",
        "8080:80; rm -rf /",
    ] {
        assert_eq!(
            field_of(port_mapping("ports[3]", bad)),
            "ports[3]",
            "{bad:?}"
        );
    }
}

#[test]
fn volumes_and_paths() {
    let v = volume_spec("v", "/srv/data:/data:ro").unwrap();
    assert_eq!(v.source, MountSource::Bind("/srv/data".into()));
    assert!(v.read_only);
    let v = volume_spec("v", "dbdata:/var/lib/db").unwrap();
    assert_eq!(v.source, MountSource::Volume("dbdata".into()));
    for bad in [
        "/srv/../etc:/x",
        "rel/path:/x",
        "/a:b",
        "/a:/",
        "/a:/b:rx",
        "/a",
        "/a:/b:ro:x",
        "/a\n:/b",
    ] {
        assert_eq!(
            field_of(volume_spec("volumes[1]", bad)),
            "volumes[1]",
            "{bad:?}"
        );
    }
}

#[test]
fn env_labels_signals() {
    container_env("env[0]", "A_B=x=y").unwrap();
    container_env("env[0]", "spring.profile=prod").unwrap();
    for bad in ["NOEQUALS", "=x", "1A=x", "A B=x", "A=\0"] {
        assert_eq!(field_of(container_env("env[2]", bad)), "env[2]", "{bad:?}");
    }
    env_key("k", "PATH").unwrap();
    assert!(env_key("k", "A.B").is_err());
    let mut l = BTreeMap::new();
    l.insert("commander.test".to_string(), "1".to_string());
    labels("labels", &l).unwrap();
    l.insert("bad key".to_string(), "1".to_string());
    assert_eq!(field_of(labels("labels", &l)), "labels.bad key");
    for ok in ["SIGTERM", "TERM", "9", "SIGRTMIN+3", "KILL"] {
        signal_name("signal", ok).unwrap();
    }
    for bad in ["SIGFOO", "0", "65", "-1", "SIGRTMIN+99", "TERM;", ""] {
        assert!(signal_name("signal", bad).is_err(), "{bad:?}");
    }
}

#[test]
fn container_form_names_the_field() {
    let good = ContainerCreate {
        image: "busybox:latest".into(),
        name: Some("web-1".into()),
        cmd: vec!["httpd".into(), "-f".into()],
        env: vec!["A=1".into()],
        ports: vec!["8080:80/tcp".into()],
        volumes: vec!["/srv/x:/x".into()],
        memory_bytes: Some(64 << 20),
        nano_cpus: Some(500_000_000),
        ..Default::default()
    };
    container_create(&good).unwrap();
    let cases: Vec<(&str, ContainerCreate)> = vec![
        (
            "image",
            ContainerCreate {
                image: "BAD".into(),
                ..good.clone()
            },
        ),
        (
            "name",
            ContainerCreate {
                name: Some("a/b".into()),
                ..good.clone()
            },
        ),
        (
            "ports[1]",
            ContainerCreate {
                ports: vec!["8080:80".into(), "8080:81/tcp".into()],
                ..good.clone()
            },
        ),
        (
            "env[0]",
            ContainerCreate {
                env: vec!["x".into()],
                ..good.clone()
            },
        ),
        (
            "memory_bytes",
            ContainerCreate {
                memory_bytes: Some(1),
                ..good.clone()
            },
        ),
        (
            "nano_cpus",
            ContainerCreate {
                nano_cpus: Some(1),
                ..good.clone()
            },
        ),
        (
            "workdir",
            ContainerCreate {
                workdir: Some("rel".into()),
                ..good.clone()
            },
        ),
        (
            "user",
            ContainerCreate {
                user: Some("a b".into()),
                ..good.clone()
            },
        ),
        (
            "cmd[1]",
            ContainerCreate {
                cmd: vec!["a".into(), "\0".into()],
                ..good.clone()
            },
        ),
        (
            "network",
            ContainerCreate {
                network: Some("host".into()),
                ..good.clone()
            },
        ),
        (
            "network",
            ContainerCreate {
                network: Some("HOST".into()),
                ..good.clone()
            },
        ),
    ];
    for (field, c) in cases {
        assert_eq!(field_of(container_create(&c)), field);
        let op = DockerOp::Deploy(DeployRequest {
            container: c,
            pull: PullPolicy::Missing,
            auth: None,
        });
        assert_eq!(field_of(docker_op(&op)), field);
    }
}

#[test]
fn container_networks_other_than_host_are_allowed() {
    for n in ["bridge", "none", "my-net", "hostnet", "host-1"] {
        let c = ContainerCreate {
            image: "busybox:latest".into(),
            network: Some(n.into()),
            ..Default::default()
        };
        container_create(&c).unwrap_or_else(|e| panic!("{n}: {e}"));
    }
}

#[test]
fn docker_ops_name_their_fields() {
    let cases = [
        ("id", DockerOp::StartContainer { id: "a/b".into() }),
        (
            "timeout_secs",
            DockerOp::StopContainer {
                id: "a".into(),
                timeout_secs: Some(7200),
            },
        ),
        (
            "signal",
            DockerOp::KillContainer {
                id: "a".into(),
                signal: Some("NOPE".into()),
            },
        ),
        (
            "new_name",
            DockerOp::RenameContainer {
                id: "a".into(),
                new_name: "x y".into(),
            },
        ),
        (
            "stdout",
            DockerOp::Logs(LogsQuery {
                id: "a".into(),
                stdout: false,
                stderr: false,
                ..Default::default()
            }),
        ),
        (
            "reference",
            DockerOp::PullImage(PullRequest {
                reference: "A".into(),
                auth: None,
            }),
        ),
        (
            "auth.username",
            DockerOp::PullImage(PullRequest {
                reference: "a".into(),
                auth: Some(RegistryAuth {
                    server: None,
                    username: String::new(),
                    password: "p".into(),
                }),
            }),
        ),
        (
            "repo",
            DockerOp::TagImage {
                source: "a".into(),
                repo: "B".into(),
                tag: "t".into(),
            },
        ),
        (
            "tag",
            DockerOp::TagImage {
                source: "a".into(),
                repo: "b".into(),
                tag: "-t".into(),
            },
        ),
        (
            "total_len",
            DockerOp::ImportImage(ImportRequest {
                source: ImportSource::Load,
                total_len: 0,
            }),
        ),
        (
            "name",
            DockerOp::RemoveVolume {
                name: "../x".into(),
                force: false,
            },
        ),
    ];
    for (field, op) in cases {
        assert_eq!(field_of(docker_op(&op)), field, "{op:?}");
    }
}

#[test]
fn host_ops_name_their_fields() {
    let sig = |pid, signal| {
        HostOp::Signal(SignalRequest {
            pid,
            signal,
            force: false,
        })
    };
    assert_eq!(field_of(host_op(&sig(10, 0))), "signal");
    assert_eq!(field_of(host_op(&sig(10, 65))), "signal");
    assert_eq!(field_of(host_op(&sig(0, 9))), "pid");
    host_op(&sig(10, 15)).unwrap();
    let var = |k: &str, v: &str| EnvVar {
        key: k.into(),
        value: v.into(),
        redacted: false,
    };
    let edit = |set, unset| HostOp::SetEnv(EnvEdit { set, unset });
    assert_eq!(
        field_of(host_op(&edit(vec![var("1X", "v")], vec![]))),
        "set[0].key"
    );
    assert_eq!(
        field_of(host_op(&edit(vec![var("X", "a\nb")], vec![]))),
        "set[0].value"
    );
    assert_eq!(
        field_of(host_op(&edit(vec![var("X", "a"), var("X", "b")], vec![]))),
        "set[1].key"
    );
    assert_eq!(
        field_of(host_op(&edit(vec![var("X", "a")], vec!["X".into()]))),
        "unset[0]"
    );
    let q = ProcessQuery {
        user: Some("a;b".into()),
        ..Default::default()
    };
    assert_eq!(field_of(host_op(&HostOp::ListProcesses(q))), "user");
}

#[test]
fn hosts_files() {
    let good = "127.0.0.1\tlocalhost\n::1 localhost ip6-localhost # v6\n\n# comment\n\
                10.0.0.5 db.internal db\nfe80::1%eth0 router\n";
    let entries = hosts_content("content", good).unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[2].line, 5);
    assert_eq!(entries[2].names, vec!["db.internal", "db"]);
    for (bad, needle) in [
        ("127.0.0.1 localhost\n10.0.0.300 x\n", "line 2"),
        ("127.0.0.1 localhost\n10.0.0.1\n", "line 2"),
        ("127.0.0.1 localhost\n10.0.0.1 bad_name-\n", "line 2"),
        ("127.0.0.1 localhost\n10.0.0.1 a..b\n", "line 2"),
        ("127.0.0.1 localhost\r\n", "line 1"),
        ("10.0.0.1 web\n", "localhost"),
    ] {
        let e = hosts_content("content", bad).unwrap_err();
        assert_eq!(e.field, "content");
        assert!(e.message.contains(needle), "{bad:?}: {}", e.message);
    }
}
