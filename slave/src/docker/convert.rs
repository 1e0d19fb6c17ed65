//! Conversions from bollard's engine models to Commander's protocol types, and from
//! bollard's errors to [`DockerError`]. Missing fields become empty values: the engine's API
//! makes almost everything optional, and older engines leave fields out.

use super::{DockerError, EngineFailure, StatsSample, Unreachable};
use bollard::models;
use protocol::ops::docker_reply::{
    ContainerDetails, ContainerState, ContainerSummary, EngineInfo, ImageDetails, ImageLayer,
    ImageSummary, MountInfo, NetworkInfo, PortMapping, VolumeInfo,
};
use std::collections::{BTreeMap, HashMap};

/// Maps a bollard error to the failure classes the master understands.
pub(crate) fn error(e: bollard::errors::Error) -> DockerError {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError {
            status_code,
            message,
        } => match status_code {
            404 => DockerError::NotFound(message),
            409 | 304 => DockerError::Conflict(message),
            400 => DockerError::Invalid(message),
            _ => DockerError::Engine(EngineFailure::Status {
                status: status_code,
                message,
            }),
        },
        E::SocketNotFoundError(path) => {
            DockerError::Unavailable(Unreachable::NoSocket(path.into()))
        }
        E::DockerStreamError { error } => DockerError::Engine(EngineFailure::Stream(error)),
        E::RequestTimeoutError => DockerError::Engine(EngineFailure::Timeout),
        e @ E::HyperLegacyError { .. } if is_connect(&e) => {
            DockerError::Unavailable(Unreachable::Connect(e))
        }
        e @ E::IOError { .. } if is_connect(&e) => {
            DockerError::Unavailable(Unreachable::Connect(e))
        }
        other => DockerError::Engine(EngineFailure::Client(other)),
    }
}

/// Whether a transport error means that nothing answers on the socket.
fn is_connect(e: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    match e {
        E::HyperLegacyError { err } => err.is_connect(),
        E::IOError { err } => is_unavailable(err.kind()),
        _ => false,
    }
}

fn is_unavailable(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        kind,
        K::NotFound | K::ConnectionRefused | K::PermissionDenied
    )
}

fn labels(map: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    map.unwrap_or_default().into_iter().collect()
}

fn u64_of(v: Option<i64>) -> u64 {
    v.map_or(0, |v| u64::try_from(v).unwrap_or(0))
}

/// Published ports of a container from its summary.
fn summary_ports(ports: Option<Vec<models::PortSummary>>) -> Vec<PortMapping> {
    ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| PortMapping {
            host_ip: p.ip.unwrap_or_default(),
            host_port: p.public_port,
            container_port: p.private_port,
            proto: p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into()),
        })
        .collect()
}

/// Ports from an inspect answer's `NetworkSettings.Ports` (`"80/tcp" → [bindings]`).
fn port_map(map: Option<models::PortMap>) -> Vec<PortMapping> {
    let mut out = Vec::new();
    for (key, bindings) in map.unwrap_or_default() {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(container_port) = port.parse::<u16>() else {
            continue;
        };
        let bindings = bindings.unwrap_or_default();
        if bindings.is_empty() {
            out.push(PortMapping {
                host_ip: String::new(),
                host_port: None,
                container_port,
                proto: proto.to_string(),
            });
        }
        for b in bindings {
            out.push(PortMapping {
                host_ip: b.host_ip.unwrap_or_default(),
                host_port: b.host_port.and_then(|p| p.parse().ok()),
                container_port,
                proto: proto.to_string(),
            });
        }
    }
    out.sort_by(|a, b| (a.container_port, &a.host_ip).cmp(&(b.container_port, &b.host_ip)));
    out
}

pub(crate) fn container_summary(c: models::ContainerSummary) -> ContainerSummary {
    ContainerSummary {
        id: c.id.unwrap_or_default(),
        names: c
            .names
            .unwrap_or_default()
            .into_iter()
            .map(|n| n.trim_start_matches('/').to_string())
            .collect(),
        image: c.image.unwrap_or_default(),
        image_id: c.image_id.unwrap_or_default(),
        command: c.command.unwrap_or_default(),
        created_unix: c.created.unwrap_or(0),
        state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        status: c.status.unwrap_or_default(),
        ports: summary_ports(c.ports),
        labels: labels(c.labels),
    }
}

fn state(s: Option<models::ContainerState>) -> ContainerState {
    let s = s.unwrap_or_default();
    ContainerState {
        status: s.status.map(|v| v.to_string()).unwrap_or_default(),
        running: s.running.unwrap_or(false),
        paused: s.paused.unwrap_or(false),
        restarting: s.restarting.unwrap_or(false),
        oom_killed: s.oom_killed.unwrap_or(false),
        pid: s.pid.unwrap_or(0),
        exit_code: s.exit_code.unwrap_or(0),
        error: s.error.unwrap_or_default(),
        started_at: s.started_at.unwrap_or_default(),
        finished_at: s.finished_at.unwrap_or_default(),
        health: s
            .health
            .and_then(|h| h.status)
            .map(|h| h.to_string())
            .filter(|h| !h.is_empty() && h != "none"),
    }
}

fn mounts(m: Option<Vec<models::MountPoint>>) -> Vec<MountInfo> {
    m.unwrap_or_default()
        .into_iter()
        .map(|m| MountInfo {
            kind: m.typ.map(|t| t.to_string()).unwrap_or_default(),
            source: m
                .name
                .filter(|n| !n.is_empty())
                .or(m.source)
                .unwrap_or_default(),
            destination: m.destination.unwrap_or_default(),
            read_only: !m.rw.unwrap_or(true),
        })
        .collect()
}

pub(crate) fn container_details(c: models::ContainerInspectResponse) -> ContainerDetails {
    let config = c.config.unwrap_or_default();
    let host = c.host_config.unwrap_or_default();
    let net = c.network_settings.unwrap_or_default();
    ContainerDetails {
        id: c.id.unwrap_or_default(),
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: config.image.unwrap_or_default(),
        image_id: c.image.unwrap_or_default(),
        created: c.created.map(|d| d.to_string()).unwrap_or_default(),
        state: state(c.state),
        path: c.path.unwrap_or_default(),
        args: c.args.unwrap_or_default(),
        env: config.env.unwrap_or_default(),
        labels: labels(config.labels),
        ports: port_map(net.ports),
        mounts: mounts(c.mounts),
        restart_policy: host
            .restart_policy
            .and_then(|r| r.name)
            .map(|n| n.to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "no".into()),
        restart_count: c.restart_count.unwrap_or(0),
        memory_bytes: u64_of(host.memory),
        nano_cpus: u64_of(host.nano_cpus),
        networks: net
            .networks
            .unwrap_or_default()
            .into_iter()
            .map(|(name, e)| (name, e.ip_address.unwrap_or_default()))
            .collect(),
    }
}

pub(crate) fn engine_info(
    info: models::SystemInfo,
    version: models::SystemVersion,
    client_api: String,
) -> EngineInfo {
    let n = |v: Option<i64>| u32::try_from(v.unwrap_or(0)).unwrap_or(0);
    EngineInfo {
        version: version.version.or(info.server_version).unwrap_or_default(),
        api_version: version.api_version.unwrap_or_default(),
        client_api_version: client_api,
        os: info.operating_system.unwrap_or_default(),
        kernel: info.kernel_version.unwrap_or_default(),
        arch: info.architecture.unwrap_or_default(),
        name: info.name.unwrap_or_default(),
        ncpu: n(info.ncpu),
        mem_total_bytes: u64_of(info.mem_total),
        storage_driver: info.driver.unwrap_or_default(),
        cgroup_version: info
            .cgroup_version
            .map(|v| v.to_string())
            .unwrap_or_default(),
        containers: n(info.containers),
        running: n(info.containers_running),
        paused: n(info.containers_paused),
        stopped: n(info.containers_stopped),
        images: n(info.images),
    }
}

pub(crate) fn image_summary(i: models::ImageSummary) -> ImageSummary {
    ImageSummary {
        id: i.id,
        repo_tags: i.repo_tags,
        repo_digests: i.repo_digests,
        created_unix: i.created,
        size_bytes: u64::try_from(i.size).unwrap_or(0),
        containers: i.containers,
        labels: i.labels.into_iter().collect(),
    }
}

pub(crate) fn image_details(i: models::ImageInspect) -> ImageDetails {
    let config = i.config.unwrap_or_default();
    ImageDetails {
        id: i.id.unwrap_or_default(),
        repo_tags: i.repo_tags.unwrap_or_default(),
        repo_digests: i.repo_digests.unwrap_or_default(),
        created: i.created.map(|d| d.to_string()).unwrap_or_default(),
        author: i.author.unwrap_or_default(),
        architecture: i.architecture.unwrap_or_default(),
        os: i.os.unwrap_or_default(),
        size_bytes: u64_of(i.size),
        cmd: config.cmd.unwrap_or_default(),
        entrypoint: config.entrypoint.unwrap_or_default(),
        env: config.env.unwrap_or_default(),
        exposed_ports: config.exposed_ports.unwrap_or_default(),
        workdir: config.working_dir.unwrap_or_default(),
        labels: labels(config.labels),
        layers: i.root_fs.and_then(|r| r.layers).unwrap_or_default(),
    }
}

pub(crate) fn image_layer(h: models::ImageHistoryResponseItem) -> ImageLayer {
    ImageLayer {
        id: h.id,
        created_unix: h.created,
        created_by: h.created_by,
        size_bytes: u64::try_from(h.size).unwrap_or(0),
        tags: h.tags,
        comment: h.comment,
    }
}

pub(crate) fn network(n: models::Network) -> NetworkInfo {
    NetworkInfo {
        id: n.id.unwrap_or_default(),
        name: n.name.unwrap_or_default(),
        driver: n.driver.unwrap_or_default(),
        scope: n.scope.unwrap_or_default(),
        internal: n.internal.unwrap_or(false),
        created: n.created.map(|d| d.to_string()).unwrap_or_default(),
        labels: labels(n.labels),
    }
}

pub(crate) fn volume(v: models::Volume) -> VolumeInfo {
    VolumeInfo {
        name: v.name,
        driver: v.driver,
        mountpoint: v.mountpoint,
        created: v.created_at.map(|d| d.to_string()).unwrap_or_default(),
        labels: v.labels.into_iter().collect(),
    }
}

/// The raw counters of an engine stats answer.
pub(crate) fn stats_sample(s: models::ContainerStatsResponse) -> StatsSample {
    let cpu = s.cpu_stats.unwrap_or_default();
    let pre = s.precpu_stats.unwrap_or_default();
    let usage = cpu.cpu_usage.unwrap_or_default();
    let mem = s.memory_stats.unwrap_or_default();
    let mem_stats = mem.stats.unwrap_or_default();
    let inactive = mem_stats
        .get("inactive_file")
        .or_else(|| mem_stats.get("total_inactive_file"))
        .copied()
        .unwrap_or(0);
    let (mut net_rx, mut net_tx) = (0u64, 0u64);
    for n in s.networks.unwrap_or_default().values() {
        net_rx = net_rx.saturating_add(n.rx_bytes.unwrap_or(0));
        net_tx = net_tx.saturating_add(n.tx_bytes.unwrap_or(0));
    }
    let (mut blk_read, mut blk_write) = (0u64, 0u64);
    let blkio = s.blkio_stats.unwrap_or_default();
    for e in blkio.io_service_bytes_recursive.unwrap_or_default() {
        let v = e.value.unwrap_or(0);
        match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => blk_read = blk_read.saturating_add(v),
            Some("write") => blk_write = blk_write.saturating_add(v),
            _ => {}
        }
    }
    StatsSample {
        cpu_total: usage.total_usage.unwrap_or(0),
        precpu_total: pre.cpu_usage.and_then(|u| u.total_usage).unwrap_or(0),
        system: cpu.system_cpu_usage.unwrap_or(0),
        presystem: pre.system_cpu_usage.unwrap_or(0),
        online_cpus: cpu.online_cpus.unwrap_or(0),
        percpu_len: usage
            .percpu_usage
            .map_or(0, |v| u32::try_from(v.len()).unwrap_or(0)),
        mem_usage: mem.usage.unwrap_or(0),
        mem_inactive_file: inactive,
        mem_limit: mem.limit.unwrap_or(0),
        net_rx,
        net_tx,
        blk_read,
        blk_write,
        pids: s.pids_stats.and_then(|p| p.current).unwrap_or(0),
        read_at: s.read.map(|d| d.to_string()).unwrap_or_default(),
    }
}
