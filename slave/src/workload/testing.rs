//! Spec builders shared by the workload tests.

use protocol::workload::{GatewayAlgorithm, GatewaySpec, HealthProbe, ProbeKind, ReplicaSpec};

/// A replica of `project` at `revision` running `image` on container port 80, TCP-checked.
pub fn replica_spec(id: &str, project: &str, revision: u64, image: &str) -> ReplicaSpec {
    ReplicaSpec {
        id: id.into(),
        project: project.into(),
        revision,
        image: image.into(),
        container_port: 80,
        env: vec!["MODE=test".into()],
        cmd: Vec::new(),
        volumes: Vec::new(),
        labels: Vec::new(),
        memory_bytes: None,
        nano_cpus: None,
        registry_auth: None,
        health: HealthProbe {
            kind: ProbeKind::Tcp,
            interval_ms: 200,
            timeout_ms: 500,
            healthy_threshold: 1,
            unhealthy_threshold: 2,
            start_period_ms: 0,
        },
    }
}

/// A round-robin gateway on `port` with `upstreams`, no limits, no probing.
pub fn gateway_spec(name: &str, port: u16, upstreams: &[&str]) -> GatewaySpec {
    GatewaySpec {
        name: name.into(),
        port,
        algorithm: GatewayAlgorithm::RoundRobin,
        upstreams: upstreams.iter().map(|u| (*u).to_string()).collect(),
        allow: Vec::new(),
        deny: Vec::new(),
        max_conns_per_ip: None,
        conn_rate_per_ip: None,
        probe_upstreams: false,
    }
}
