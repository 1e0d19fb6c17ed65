//! One sample message per operation and per answer, for the golden-bytes tests in `codec`
//! and the JSON round trips below. Names are derived from the variant names, so a new
//! variant without a sample fails `codec`'s coverage test.

#![allow(clippy::unwrap_used)]

use super::docker::*;
use super::docker_reply::*;
use super::host::*;
use super::*;
use crate::message::{Message, MetricSample, Request, RequestBody, Response, ResponseBody};
use std::collections::BTreeMap;

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([("commander.test".to_string(), "1".to_string())])
}

fn process() -> ProcessInfo {
    ProcessInfo {
        pid: 4242,
        ppid: 1,
        uid: 1000,
        user: "app".into(),
        name: "sleep".into(),
        command: "sleep 30".into(),
        state: "S".into(),
        cpu_pct: 0.5,
        rss_bytes: 1 << 20,
        threads: 1,
        start_time_ms: 1_700_000_000_000,
    }
}

fn socket() -> SocketInfo {
    SocketInfo {
        proto: SocketProto::Tcp6,
        state: "LISTEN".into(),
        local: "[::]:8080".into(),
        remote: "[::]:0".into(),
        pid: Some(4242),
        command: Some("httpd".into()),
        uid: 0,
    }
}

fn env_var(k: &str, v: &str) -> EnvVar {
    EnvVar {
        key: k.into(),
        value: v.into(),
        redacted: false,
    }
}

fn container_form() -> ContainerCreate {
    ContainerCreate {
        image: "busybox:latest".into(),
        name: Some("web-1".into()),
        cmd: vec!["httpd".into(), "-f".into(), "-p".into(), "80".into()],
        env: vec!["A=b".into()],
        ports: vec!["8080:80/tcp".into()],
        volumes: vec!["data:/data".into(), "/srv/www:/www:ro".into()],
        restart: RestartPolicy::OnFailure { max_retries: 3 },
        labels: labels(),
        memory_bytes: Some(64 << 20),
        nano_cpus: Some(500_000_000),
        network: Some("backend".into()),
        workdir: Some("/www".into()),
        user: Some("1000:1000".into()),
        start: true,
    }
}

fn auth() -> Option<RegistryAuth> {
    Some(RegistryAuth {
        server: Some("registry.example:5000".into()),
        username: "ci".into(),
        password: "s3cret".into(),
    })
}

/// Every host operation, one sample each.
pub(crate) fn host_ops() -> Vec<HostOp> {
    vec![
        HostOp::ListProcesses(ProcessQuery {
            sort: ProcessSort::Rss,
            descending: true,
            filter: Some("sleep".into()),
            user: Some("app".into()),
            offset: 20,
            limit: 10,
        }),
        HostOp::ProcessDetails { pid: 4242 },
        HostOp::Signal(SignalRequest {
            pid: 4242,
            signal: 15,
            force: false,
        }),
        HostOp::Sockets(SocketQuery {
            listening: true,
            established: false,
        }),
        HostOp::GetEnv,
        HostOp::SetEnv(EnvEdit {
            set: vec![env_var("JAVA_OPTS", "-Xmx1g")],
            unset: vec!["HTTP_PROXY".into()],
        }),
        HostOp::GetHosts,
        HostOp::PutHosts {
            content: "127.0.0.1 localhost\n10.0.0.5 db\n".into(),
        },
        HostOp::RestoreHosts,
        HostOp::Disks,
        HostOp::Performance,
    ]
}

/// Every host answer, one sample each.
pub(crate) fn host_replies() -> Vec<HostReply> {
    vec![
        HostReply::Processes(ProcessPage {
            total: 31,
            offset: 20,
            processes: vec![process()],
            cpu_window_ms: 5000,
        }),
        HostReply::Process(ProcessDetails {
            info: process(),
            args: vec!["sleep".into(), "30".into()],
            exe: Some("/usr/bin/sleep".into()),
            cwd: Some("/".into()),
            nice: 0,
            vsize_bytes: 8 << 20,
            open_fds: Some(3),
            children: vec![],
            sockets: vec![socket()],
        }),
        HostReply::Signalled {
            pid: 4242,
            signal: 15,
        },
        HostReply::Sockets(vec![socket()]),
        HostReply::Env(EnvProfile {
            inherited: vec![
                env_var("PATH", "/usr/bin"),
                EnvVar {
                    key: "COMMANDER_JOIN_TOKEN".into(),
                    value: "<redacted>".into(),
                    redacted: true,
                },
            ],
            set: vec![env_var("JAVA_OPTS", "-Xmx1g")],
            unset: vec![],
        }),
        HostReply::Hosts(HostsFile {
            path: "/etc/hosts".into(),
            content: "127.0.0.1 localhost\n".into(),
            entries: vec![HostsEntry {
                line: 1,
                ip: "127.0.0.1".into(),
                names: vec!["localhost".into()],
            }],
            previous_saved_ms: Some(1_700_000_000_000),
        }),
        HostReply::Disks(vec![MountUsage {
            mount: "/".into(),
            device: "/dev/sda1".into(),
            fs_type: "ext4".into(),
            read_only: false,
            total_bytes: 100 << 30,
            used_bytes: 40 << 30,
            avail_bytes: 55 << 30,
            inodes_total: 1 << 20,
            inodes_used: 1 << 16,
        }]),
        HostReply::Performance(MetricSample {
            taken_at_ms: 1_700_000_000_123,
            cpu_total_pct: 3.5,
            ..Default::default()
        }),
    ]
}

/// Every Docker operation, one sample each.
pub(crate) fn docker_ops() -> Vec<DockerOp> {
    let id = || "web-1".to_string();
    vec![
        DockerOp::Info,
        DockerOp::ListContainers { all: true },
        DockerOp::InspectContainer { id: id() },
        DockerOp::CreateContainer(container_form()),
        DockerOp::StartContainer { id: id() },
        DockerOp::StopContainer {
            id: id(),
            timeout_secs: Some(5),
        },
        DockerOp::RestartContainer {
            id: id(),
            timeout_secs: None,
        },
        DockerOp::PauseContainer { id: id() },
        DockerOp::UnpauseContainer { id: id() },
        DockerOp::KillContainer {
            id: id(),
            signal: Some("SIGTERM".into()),
        },
        DockerOp::RemoveContainer {
            id: id(),
            force: true,
            volumes: true,
        },
        DockerOp::RenameContainer {
            id: id(),
            new_name: "web-2".into(),
        },
        DockerOp::Logs(LogsQuery {
            id: id(),
            tail: Some(100),
            follow: true,
            stdout: true,
            stderr: false,
            timestamps: true,
            since_unix: Some(1_700_000_000),
        }),
        DockerOp::Top { id: id() },
        DockerOp::Stats { id: id() },
        DockerOp::ListImages { all: false },
        DockerOp::InspectImage {
            reference: "busybox:latest".into(),
        },
        DockerOp::ImageHistory {
            reference: "busybox:latest".into(),
        },
        DockerOp::PullImage(PullRequest {
            reference: "registry.example:5000/team/app:v1".into(),
            auth: auth(),
        }),
        DockerOp::RemoveImage {
            reference: "busybox:old".into(),
            force: false,
            prune: true,
        },
        DockerOp::TagImage {
            source: "busybox:latest".into(),
            repo: "mirror/busybox".into(),
            tag: "v1".into(),
        },
        DockerOp::Deploy(DeployRequest {
            container: container_form(),
            pull: PullPolicy::Missing,
            auth: None,
        }),
        DockerOp::ImportImage(ImportRequest {
            source: ImportSource::RootFs {
                repo: "commander-test/busybox".into(),
                tag: "1".into(),
            },
            total_len: 2_000_000,
        }),
        DockerOp::ListNetworks,
        DockerOp::CreateNetwork(NetworkCreate {
            name: "backend".into(),
            driver: Some("bridge".into()),
            internal: true,
            labels: labels(),
        }),
        DockerOp::RemoveNetwork {
            id: "backend".into(),
        },
        DockerOp::ListVolumes,
        DockerOp::CreateVolume(VolumeCreate {
            name: "data".into(),
            driver: None,
            labels: labels(),
        }),
        DockerOp::RemoveVolume {
            name: "data".into(),
            force: false,
        },
    ]
}

fn port() -> PortMapping {
    PortMapping {
        host_ip: "0.0.0.0".into(),
        host_port: Some(8080),
        container_port: 80,
        proto: "tcp".into(),
    }
}

fn log_batch() -> LogBatch {
    LogBatch {
        entries: vec![LogEntry {
            stream: LogStream::Stderr,
            timestamp: Some("2024-01-01T00:00:00.000000001Z".into()),
            text: "listening on :80\n".into(),
        }],
    }
}

/// Every Docker answer, one sample each.
pub(crate) fn docker_replies() -> Vec<DockerReply> {
    vec![
        DockerReply::Done,
        DockerReply::Info(EngineInfo {
            version: "28.2.2".into(),
            api_version: "1.50".into(),
            client_api_version: "1.50".into(),
            ncpu: 2,
            containers: 3,
            running: 1,
            ..Default::default()
        }),
        DockerReply::Containers(vec![ContainerSummary {
            id: "abc123".into(),
            names: vec!["web-1".into()],
            image: "busybox:latest".into(),
            image_id: "sha256:00".into(),
            command: "httpd -f".into(),
            created_unix: 1_700_000_000,
            state: "running".into(),
            status: "Up 3 minutes".into(),
            ports: vec![port()],
            labels: labels(),
        }]),
        DockerReply::Container(ContainerDetails {
            id: "abc123".into(),
            name: "web-1".into(),
            image: "busybox:latest".into(),
            image_id: "sha256:00".into(),
            created: "2024-01-01T00:00:00Z".into(),
            state: ContainerState {
                status: "running".into(),
                running: true,
                pid: 4242,
                health: Some("healthy".into()),
                ..Default::default()
            },
            path: "httpd".into(),
            args: vec!["-f".into()],
            env: vec!["A=b".into()],
            labels: labels(),
            ports: vec![port()],
            mounts: vec![MountInfo {
                kind: "volume".into(),
                source: "data".into(),
                destination: "/data".into(),
                read_only: false,
            }],
            restart_policy: "on-failure".into(),
            restart_count: 0,
            memory_bytes: 64 << 20,
            nano_cpus: 500_000_000,
            networks: BTreeMap::from([("bridge".to_string(), "172.17.0.2".to_string())]),
        }),
        DockerReply::Created {
            id: "abc123".into(),
            warnings: vec![],
            started: true,
            pulled: false,
        },
        DockerReply::Logs(log_batch()),
        DockerReply::LogsEnd {
            entries: 12,
            reason: LogsEndReason::Cancelled,
        },
        DockerReply::Top(ContainerTop {
            titles: vec!["PID".into(), "CMD".into()],
            processes: vec![vec!["4242".into(), "httpd -f".into()]],
        }),
        DockerReply::Stats(ContainerStats {
            cpu_pct: 12.5,
            online_cpus: 2,
            mem_usage_bytes: 1 << 20,
            mem_limit_bytes: 64 << 20,
            mem_pct: 1.5625,
            net_rx_bytes: 100,
            net_tx_bytes: 200,
            block_read_bytes: 4096,
            block_write_bytes: 0,
            pids: 1,
            read_at: "2024-01-01T00:00:00Z".into(),
        }),
        DockerReply::Images(vec![ImageSummary {
            id: "sha256:00".into(),
            repo_tags: vec!["busybox:latest".into()],
            repo_digests: vec![],
            created_unix: 1_700_000_000,
            size_bytes: 2_000_000,
            containers: -1,
            labels: BTreeMap::new(),
        }]),
        DockerReply::Image(ImageDetails {
            id: "sha256:00".into(),
            repo_tags: vec!["busybox:latest".into()],
            repo_digests: vec![],
            created: "2024-01-01T00:00:00Z".into(),
            author: String::new(),
            architecture: "amd64".into(),
            os: "linux".into(),
            size_bytes: 2_000_000,
            cmd: vec!["sh".into()],
            entrypoint: vec![],
            env: vec![],
            exposed_ports: vec!["80/tcp".into()],
            workdir: String::new(),
            labels: labels(),
            layers: vec!["sha256:11".into()],
        }),
        DockerReply::History(vec![ImageLayer {
            id: "sha256:00".into(),
            created_unix: 1_700_000_000,
            created_by: "Imported from -".into(),
            size_bytes: 2_000_000,
            tags: vec!["busybox:latest".into()],
            comment: String::new(),
        }]),
        DockerReply::Pulled {
            reference: "busybox:latest".into(),
            id: Some("sha256:00".into()),
        },
        DockerReply::ImagesRemoved(vec!["Untagged: busybox:old".into()]),
        DockerReply::Imported(vec!["commander-test/busybox:1".into()]),
        DockerReply::Networks(vec![NetworkInfo {
            id: "n1".into(),
            name: "backend".into(),
            driver: "bridge".into(),
            scope: "local".into(),
            internal: true,
            created: "2024-01-01T00:00:00Z".into(),
            labels: labels(),
        }]),
        DockerReply::NetworkCreated { id: "n1".into() },
        DockerReply::Volumes(vec![VolumeInfo {
            name: "data".into(),
            driver: "local".into(),
            mountpoint: "/var/lib/docker/volumes/data/_data".into(),
            created: "2024-01-01T00:00:00Z".into(),
            labels: labels(),
        }]),
        DockerReply::VolumeCreated {
            name: "data".into(),
        },
    ]
}

fn request(id: u64, body: RequestBody) -> Message {
    Message::Request(Request {
        id,
        timeout_ms: 30_000,
        body,
    })
}

fn response(id: u64, body: ResponseBody) -> Message {
    Message::Response(Response { id, body })
}

/// Named golden samples of every operation, answer, progress event, failure and cancel.
pub(crate) fn op_samples() -> Vec<(String, Message)> {
    let mut out = Vec::new();
    for op in host_ops() {
        out.push((
            format!("request_host_{}", op.name()),
            request(10, RequestBody::Host(Box::new(op))),
        ));
    }
    for r in host_replies() {
        out.push((
            format!("response_host_{}", r.name()),
            response(10, ResponseBody::Host(Box::new(r))),
        ));
    }
    for op in docker_ops() {
        let name = format!("request_docker_{}", op.name());
        out.push((name, request(11, RequestBody::Docker(Box::new(op)))));
    }
    for r in docker_replies() {
        let name = format!("response_docker_{}", r.name());
        out.push((name, response(11, ResponseBody::Docker(Box::new(r)))));
    }
    let events = [
        (
            "step",
            ProgressEvent::Step {
                step: "pull".into(),
            },
        ),
        (
            "pull",
            ProgressEvent::Pull(PullProgress {
                layer: "a1b2c3".into(),
                status: "Downloading".into(),
                current: 1024,
                total: 4096,
            }),
        ),
        ("logs", ProgressEvent::Logs(log_batch())),
    ];
    for (seq, (name, event)) in events.into_iter().enumerate() {
        let body = ResponseBody::Progress(Box::new(Progress {
            seq: seq as u32,
            event,
        }));
        out.push((format!("response_progress_{name}"), response(12, body)));
    }
    let failed = OpError {
        kind: ErrorKind::InvalidArgument,
        field: Some("ports[0]".into()),
        message: "host port \"0\" is not in 1..=65535".into(),
    };
    out.push((
        "response_failed".into(),
        response(13, ResponseBody::Failed(Box::new(failed))),
    ));
    out.push((
        "request_cancel".into(),
        request(14, RequestBody::Cancel { id: 12 }),
    ));
    out.push((
        "response_cancelled".into(),
        response(14, ResponseBody::Cancelled { found: true }),
    ));
    out.push((
        "request_host_info".into(),
        request(15, RequestBody::HostInfo),
    ));
    out.push(("response_pong".into(), response(16, ResponseBody::Pong)));
    out
}

#[test]
fn every_operation_and_answer_has_a_sample() {
    use std::collections::BTreeSet;
    let names = |v: Vec<&'static str>| v.into_iter().collect::<BTreeSet<_>>();
    let all = |n: &[&'static str]| n.iter().copied().collect::<BTreeSet<_>>();
    assert_eq!(
        names(host_ops().iter().map(HostOp::name).collect()),
        all(HostOp::NAMES)
    );
    assert_eq!(
        names(host_replies().iter().map(HostReply::name).collect()),
        all(HostReply::NAMES)
    );
    assert_eq!(
        names(docker_ops().iter().map(DockerOp::name).collect()),
        all(DockerOp::NAMES)
    );
    assert_eq!(
        names(docker_replies().iter().map(DockerReply::name).collect()),
        all(DockerReply::NAMES)
    );
    assert_eq!(host_ops().len(), HostOp::NAMES.len());
    assert_eq!(docker_ops().len(), DockerOp::NAMES.len());
}

#[test]
fn every_sample_passes_validation() {
    for op in host_ops() {
        validate::host_op(&op).unwrap_or_else(|e| panic!("{}: {e}", op.name()));
    }
    for op in docker_ops() {
        validate::docker_op(&op).unwrap_or_else(|e| panic!("{}: {e}", op.name()));
    }
}

#[test]
fn json_round_trips_except_secrets() {
    for op in host_ops() {
        let json = serde_json::to_string(&op).unwrap();
        assert_eq!(serde_json::from_str::<HostOp>(&json).unwrap(), op, "{json}");
    }
    for r in host_replies() {
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            serde_json::from_str::<HostReply>(&json).unwrap(),
            r,
            "{json}"
        );
    }
    for r in docker_replies() {
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            serde_json::from_str::<DockerReply>(&json).unwrap(),
            r,
            "{json}"
        );
    }
    for op in docker_ops() {
        let json = serde_json::to_string(&op).unwrap();
        assert!(!json.contains("s3cret"), "password serialised: {json}");
        let back: DockerOp = serde_json::from_str(&json).unwrap();
        if !matches!(op, DockerOp::PullImage(_)) {
            assert_eq!(back, op, "{json}");
        }
    }
}

#[test]
fn credentials_never_show_in_debug_output() {
    for op in docker_ops() {
        let req = request(1, RequestBody::Docker(Box::new(op)));
        assert!(!format!("{req:?}").contains("s3cret"));
        let bytes = crate::codec::encode_message(&req).unwrap();
        let archived = crate::codec::access_message(&bytes).unwrap();
        assert!(!format!("{archived:?}").contains("s3cret"));
    }
}

#[test]
fn json_forms_take_defaults() {
    let c: ContainerCreate = serde_json::from_str(
        r#"{"image":"busybox","ports":["8080:80/tcp"],"restart":"unless_stopped"}"#,
    )
    .unwrap();
    assert!(c.start);
    assert_eq!(c.restart, RestartPolicy::UnlessStopped);
    let q: LogsQuery = serde_json::from_str(r#"{"id":"x","tail":10}"#).unwrap();
    assert!(q.stdout && q.stderr && !q.follow);
    let a: RegistryAuth =
        serde_json::from_str(r#"{"username":"u","password":"p","server":null}"#).unwrap();
    assert_eq!(a.password, "p");
}
