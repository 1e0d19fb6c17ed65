//! Golden-bytes tests: each message type's encoding is pinned by a file under `golden/`.
//! A change that alters the wire format fails here; regenerate with `UPDATE_GOLDEN=1` only
//! together with a protocol version bump.

use super::*;
use crate::message::*;
use crate::workload::*;

fn base_samples() -> Vec<(&'static str, Message)> {
    let host = HostInfo {
        hostname: "node-1".into(),
        os: "Debian GNU/Linux 12".into(),
        kernel: "6.1.0".into(),
        arch: "x86_64".into(),
        cpu_model: "Test CPU".into(),
        cpu_cores: 2,
        mem_total_bytes: 1 << 34,
        swap_total_bytes: 0,
        disks: vec![DiskInfo {
            mount: "/".into(),
            device: "/dev/sda1".into(),
            fs_type: "ext4".into(),
            total_bytes: 1 << 40,
        }],
        docker_version: Some("28.2.2".into()),
        boot_time_unix: 1_700_000_000,
    };
    let sample = MetricSample {
        taken_at_ms: 1_700_000_000_123,
        cpu_total_pct: 12.5,
        cpu_per_core_pct: vec![10.0, 15.0],
        load: [0.5, 0.25, 0.125],
        mem_total_bytes: 1 << 34,
        mem_used_bytes: 1 << 33,
        swap_total_bytes: 0,
        swap_used_bytes: 0,
        disks: vec![DiskUsage {
            mount: "/".into(),
            total_bytes: 100,
            used_bytes: 40,
        }],
        nets: vec![NetUsage {
            iface: "eth0".into(),
            rx_bytes: 1000,
            tx_bytes: 2000,
            rx_bytes_per_sec: 10,
            tx_bytes_per_sec: 20,
        }],
        tcp_established: 3,
        tcp_total: 7,
    };
    vec![
        (
            "hello_enroll",
            Message::Hello(Hello {
                min_version: 1,
                max_version: 1,
                auth: HelloAuth::Enroll { secret: [5; 32] },
                agent_version: "0.1.0".into(),
            }),
        ),
        (
            "hello_resume",
            Message::Hello(Hello {
                min_version: 1,
                max_version: 2,
                auth: HelloAuth::Resume { node_id: 7 },
                agent_version: "0.1.0".into(),
            }),
        ),
        (
            "welcome",
            Message::Welcome(Welcome {
                version: 1,
                node_id: 7,
                heartbeat_interval_ms: 5000,
            }),
        ),
        (
            "reject",
            Message::Reject(Reject {
                reason: RejectReason::Revoked,
                message: "node 7 was revoked".into(),
            }),
        ),
        ("host_info", Message::HostInfo(host.clone())),
        (
            "heartbeat",
            Message::Heartbeat(Heartbeat { seq: 9, sample }),
        ),
        (
            "request_ping",
            Message::Request(Request {
                id: 1,
                timeout_ms: 1000,
                body: RequestBody::Ping,
            }),
        ),
        (
            "response_host_info",
            Message::Response(Response {
                id: 2,
                body: ResponseBody::HostInfo(host),
            }),
        ),
        (
            "response_error",
            Message::Response(Response {
                id: 3,
                body: ResponseBody::Error {
                    message: "boom".into(),
                },
            }),
        ),
        (
            "chunk",
            Message::Chunk(Chunk {
                id: 4,
                seq: 0,
                last: true,
                data: b"abc".to_vec(),
            }),
        ),
        (
            "desired_state",
            Message::DesiredState(DesiredState {
                generation: 3,
                replicas: vec![ReplicaSpec {
                    id: "web-3-a1b2c3".into(),
                    project: "web".into(),
                    revision: 3,
                    image: "web:1".into(),
                    container_port: 80,
                    env: vec!["A=b".into()],
                    cmd: vec!["httpd".into(), "-f".into()],
                    volumes: vec!["/srv/web:/data:ro".into()],
                    labels: vec![("team".into(), "blue".into())],
                    memory_bytes: Some(64 << 20),
                    nano_cpus: Some(500_000_000),
                    registry_auth: Some(RegistryAuth {
                        server: Some("registry.example".into()),
                        username: "ci".into(),
                        password: "s3cret".into(),
                    }),
                    health: HealthProbe {
                        kind: ProbeKind::Http {
                            path: "/".into(),
                            expected_status: 200,
                        },
                        interval_ms: 2000,
                        timeout_ms: 1000,
                        healthy_threshold: 1,
                        unhealthy_threshold: 3,
                        start_period_ms: 0,
                    },
                }],
                gateways: vec![GatewaySpec {
                    name: "project/web".into(),
                    port: 12225,
                    algorithm: GatewayAlgorithm::RoundRobin,
                    upstreams: vec!["10.0.0.2:32768".into()],
                    allow: vec!["10.0.0.0/8".into()],
                    deny: vec![],
                    max_conns_per_ip: Some(100),
                    conn_rate_per_ip: None,
                    probe_upstreams: false,
                }],
            }),
        ),
        (
            "observed_state",
            Message::ObservedState(ObservedState {
                generation: 3,
                advertise_address: "172.18.0.1".into(),
                replicas: vec![ObservedReplica {
                    id: "web-3-a1b2c3".into(),
                    container: "abc123".into(),
                    state: ReplicaState::Running,
                    host_port: Some(32768),
                    healthy: true,
                    exit_code: None,
                    message: String::new(),
                }],
                gateways: vec![ObservedGateway {
                    name: "project/web".into(),
                    port: 12225,
                    serving: true,
                    message: String::new(),
                    active_conns: 1,
                    total_conns: 10,
                    refused_conns: 0,
                    bytes_in: 100,
                    bytes_out: 2000,
                    upstreams: vec![ObservedUpstream {
                        addr: "10.0.0.2:32768".into(),
                        healthy: true,
                        active_conns: 1,
                        total_conns: 10,
                    }],
                }],
            }),
        ),
    ]
}

/// The base messages plus one sample per operation, answer and progress event
/// (`crate::ops::samples`).
fn samples() -> Vec<(String, Message)> {
    let mut all: Vec<(String, Message)> = base_samples()
        .into_iter()
        .map(|(n, m)| (n.to_string(), m))
        .collect();
    all.extend(crate::ops::samples::op_samples());
    all
}

fn golden_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(format!("{name}.hex"))
}

#[test]
fn golden_bytes_per_message_type() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (name, msg) in samples() {
        let bytes = encode_message(&msg).unwrap();
        let hex = crate::keys::hex(&bytes);
        let path = golden_path(&name);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, format!("{hex}\n")).unwrap();
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("golden file {} missing: {e}", path.display()));
        assert_eq!(hex, want.trim(), "encoding of {name} changed");
        assert_eq!(decode_message(&bytes).unwrap(), msg, "round trip of {name}");
    }
}

#[test]
fn every_variant_has_a_golden_sample() {
    let names: std::collections::BTreeSet<_> = samples().iter().map(|(_, m)| m.name()).collect();
    assert_eq!(names.len(), 10, "one sample per Message variant: {names:?}");
    let files: std::collections::BTreeSet<_> = samples().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        files.len(),
        samples().len(),
        "golden sample names are unique"
    );
    // 12 base messages + 11 host ops + 8 host answers + 29 Docker ops + 19 Docker answers
    // + 3 progress events + failed, cancel, cancelled, host-info request and pong.
    assert_eq!(files.len(), 12 + 11 + 8 + 29 + 19 + 3 + 5);
    let golden = std::fs::read_dir(golden_path("x").parent().unwrap())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "hex"))
        })
        .count();
    assert_eq!(
        golden,
        files.len(),
        "a golden file per sample and no stale ones"
    );
}

#[test]
fn request_and_response_bodies_have_samples() {
    let mut req = std::collections::HashSet::new();
    let mut resp = std::collections::HashSet::new();
    for (_, m) in samples() {
        match m {
            Message::Request(r) => {
                req.insert(std::mem::discriminant(&r.body));
            }
            Message::Response(r) => {
                resp.insert(std::mem::discriminant(&r.body));
            }
            _ => {}
        }
    }
    // Ping, HostInfo, Host, Docker, Cancel.
    assert_eq!(req.len(), 5);
    // Pong, HostInfo, Error, Host, Docker, Progress, Failed, Cancelled; Streamed is covered
    // by the streaming tests of the slave and the master's pending table.
    assert_eq!(resp.len(), 8);
}

#[test]
fn streamed_bodies_round_trip() {
    for (_, m) in samples() {
        if let Message::Response(r) = m {
            let bytes = encode_response_body(&r.body).unwrap();
            assert_eq!(decode_response_body(&bytes).unwrap(), r.body);
            for len in 0..bytes.len().min(256) {
                let _ = decode_response_body(&bytes[..len]);
            }
        }
    }
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(decode_message(&[]).is_err());
    assert!(decode_message(&[0xFF; 64]).is_err());
    let bytes = encode_message(&base_samples()[4].1).unwrap();
    // rkyv has no checksum (integrity is the session's job): a prefix may happen to be a
    // valid archive, but reading any prefix must never panic or read out of bounds.
    for len in 0..bytes.len() {
        let _ = decode_message(&bytes[..len]);
    }
}

#[test]
fn direction_rules() {
    for (_, m) in samples() {
        assert!(m.is_from_slave() || m.is_from_master(), "{}", m.name());
    }
    assert!(
        !Message::Welcome(Welcome {
            version: 1,
            node_id: 1,
            heartbeat_interval_ms: 1
        })
        .is_from_slave()
    );
}
