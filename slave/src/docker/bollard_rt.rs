//! [`ContainerRuntime`] over the real Docker Engine with bollard (unix socket, API version
//! negotiated down to what the engine speaks, so old engines such as 20.10 work).
//!
//! Every argument reaches the engine as a structured API field or a validated URL path
//! segment; nothing is ever handed to a shell. Registry credentials go only into bollard's
//! `X-Registry-Auth` header.

use super::convert;
use super::{
    ContainerRuntime, DockerError, EngineFailure, LogStream, PullStream, StatsSample, Unreachable,
};
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{
    ContainerCreateBody, HostConfig, NetworkCreateRequest, PortBinding, PortMap,
    RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ImportImageOptionsBuilder,
    KillContainerOptionsBuilder, ListContainersOptionsBuilder, ListImagesOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    RemoveVolumeOptionsBuilder, RenameContainerOptionsBuilder, RestartContainerOptionsBuilder,
    StatsOptionsBuilder, StopContainerOptionsBuilder, TagImageOptionsBuilder,
};
use bytes::Bytes;
use futures_lite::StreamExt;
use protocol::ops::PullProgress;
use protocol::ops::docker::{
    ContainerCreate, ImportSource, LogsQuery, NetworkCreate, RegistryAuth, RestartPolicy,
    VolumeCreate,
};
use protocol::ops::docker_reply::{
    ContainerDetails, ContainerSummary, ContainerTop, EngineInfo, ImageDetails, ImageLayer,
    ImageSummary, LogEntry, LogStream as Stream, NetworkInfo, VolumeInfo,
};
use protocol::ops::validate;
use std::collections::HashMap;
use std::path::Path;

/// Seconds bollard waits for the engine's response headers (streams may last longer). Above
/// the longest stop timeout allowed (3600 s): each request's own deadline bounds it sooner.
const ENGINE_TIMEOUT_SECS: u64 = 3700;

/// The real engine.
#[derive(Debug, Clone)]
pub struct BollardRuntime {
    docker: Docker,
}

impl BollardRuntime {
    /// Connects to the engine at `socket` and negotiates the API version. A missing socket
    /// or a stopped engine is [`DockerError::Unavailable`].
    pub async fn connect(socket: &Path) -> Result<Self, DockerError> {
        let path = socket
            .to_str()
            .ok_or_else(|| DockerError::Unavailable(Unreachable::NonUtf8Path(socket.into())))?;
        if !socket.exists() {
            return Err(DockerError::Unavailable(Unreachable::NoSocket(
                socket.into(),
            )));
        }
        let docker =
            Docker::connect_with_unix(path, ENGINE_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                .map_err(convert::error)?
                .negotiate_version()
                .await
                .map_err(convert::error)?;
        Ok(Self { docker })
    }

    /// The underlying client.
    pub fn client(&self) -> &Docker {
        &self.docker
    }
}

fn invalid(e: validate::ValidationError) -> DockerError {
    DockerError::Argument(e)
}

/// Port bindings and exposed ports of a (validated) form.
fn ports(form: &ContainerCreate) -> Result<(Vec<String>, PortMap), DockerError> {
    let mut exposed = Vec::new();
    let mut map: PortMap = HashMap::new();
    for (i, p) in form.ports.iter().enumerate() {
        let spec = validate::port_mapping(&format!("ports[{i}]"), p).map_err(invalid)?;
        let key = format!("{}/{}", spec.container_port, spec.proto);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        map.entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: spec.host_ip.map(|ip| ip.to_string()),
                host_port: Some(spec.host_port.to_string()),
            });
    }
    Ok((exposed, map))
}

fn restart_policy(r: &RestartPolicy) -> bollard::models::RestartPolicy {
    let (name, retries) = match r {
        RestartPolicy::No => (RestartPolicyNameEnum::NO, None),
        RestartPolicy::Always => (RestartPolicyNameEnum::ALWAYS, None),
        RestartPolicy::UnlessStopped => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
        RestartPolicy::OnFailure { max_retries } => (
            RestartPolicyNameEnum::ON_FAILURE,
            Some(i64::from(*max_retries)),
        ),
    };
    bollard::models::RestartPolicy {
        name: Some(name),
        maximum_retry_count: retries,
    }
}

fn create_body(form: &ContainerCreate) -> Result<ContainerCreateBody, DockerError> {
    let (exposed, port_map) = ports(form)?;
    let mut binds = Vec::new();
    let mut mounts = Vec::new();
    for (i, v) in form.volumes.iter().enumerate() {
        let spec = validate::volume_spec(&format!("volumes[{i}]"), v).map_err(invalid)?;
        match spec.source {
            // A host path goes in `Mounts` (type bind), which the engine refuses when the
            // source is missing; legacy `Binds` would create it, following links.
            validate::MountSource::Bind(source) => mounts.push(bollard::models::Mount {
                typ: Some(bollard::models::MountType::BIND),
                source: Some(source),
                target: Some(spec.target),
                read_only: Some(spec.read_only),
                ..Default::default()
            }),
            validate::MountSource::Volume(name) => {
                let mode = if spec.read_only { "ro" } else { "rw" };
                binds.push(format!("{name}:{}:{mode}", spec.target));
            }
        }
    }
    let to_i64 = |v: Option<u64>| v.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
    let host = HostConfig {
        port_bindings: (!port_map.is_empty()).then_some(port_map),
        binds: (!binds.is_empty()).then_some(binds),
        mounts: (!mounts.is_empty()).then_some(mounts),
        restart_policy: Some(restart_policy(&form.restart)),
        memory: to_i64(form.memory_bytes),
        nano_cpus: to_i64(form.nano_cpus),
        network_mode: form.network.clone(),
        ..Default::default()
    };
    Ok(ContainerCreateBody {
        image: Some(form.image.clone()),
        cmd: (!form.cmd.is_empty()).then(|| form.cmd.clone()),
        env: (!form.env.is_empty()).then(|| form.env.clone()),
        labels: Some(form.labels.clone().into_iter().collect()),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        working_dir: form.workdir.clone(),
        user: form.user.clone(),
        host_config: Some(host),
        ..Default::default()
    })
}

/// Adds `publish` (TCP container ports) to `body`, each bound on all host addresses with an
/// empty host port: the engine picks a free one when the container starts.
fn publish_on_engine_ports(body: &mut ContainerCreateBody, publish: &[u16]) {
    for port in publish {
        let key = format!("{port}/tcp");
        let exposed = body.exposed_ports.get_or_insert_with(Vec::new);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        let host = body.host_config.get_or_insert_with(HostConfig::default);
        host.port_bindings
            .get_or_insert_with(HashMap::new)
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: None,
                host_port: Some(String::new()),
            });
    }
}

fn log_entry(out: LogOutput, timestamps: bool) -> LogEntry {
    let (stream, message) = match out {
        LogOutput::StdOut { message } => (Stream::Stdout, message),
        LogOutput::StdErr { message } => (Stream::Stderr, message),
        LogOutput::StdIn { message } | LogOutput::Console { message } => (Stream::Console, message),
    };
    let text = String::from_utf8_lossy(&message).into_owned();
    match text.split_once(' ') {
        Some((ts, rest)) if timestamps => LogEntry {
            stream,
            timestamp: Some(ts.to_string()),
            text: rest.to_string(),
        },
        _ => LogEntry {
            stream,
            timestamp: None,
            text,
        },
    }
}

/// Reads a file as a stream of chunks for an upload body (ends after the first error).
fn file_stream(
    file: tokio::fs::File,
) -> impl futures_lite::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures_lite::stream::unfold(Some(file), |state| async move {
        use tokio::io::AsyncReadExt;
        let mut file = state?;
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

impl ContainerRuntime for BollardRuntime {
    async fn info(&self) -> Result<EngineInfo, DockerError> {
        let info = self.docker.info().await.map_err(convert::error)?;
        let version = self.docker.version().await.map_err(convert::error)?;
        let client = self.docker.client_version().to_string();
        Ok(convert::engine_info(info, version, client))
    }

    async fn list_containers(&self, all: bool) -> Result<Vec<ContainerSummary>, DockerError> {
        let opts = ListContainersOptionsBuilder::new().all(all).build();
        let list = self.docker.list_containers(Some(opts)).await;
        Ok(list
            .map_err(convert::error)?
            .into_iter()
            .map(convert::container_summary)
            .collect())
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerDetails, DockerError> {
        let c = self.docker.inspect_container(id, None).await;
        Ok(convert::container_details(c.map_err(convert::error)?))
    }

    async fn create_container(
        &self,
        form: &ContainerCreate,
    ) -> Result<(String, Vec<String>), DockerError> {
        let body = create_body(form)?;
        let opts = form
            .name
            .as_deref()
            .map(|n| CreateContainerOptionsBuilder::new().name(n).build());
        let r = self.docker.create_container(opts, body).await;
        let r = r.map_err(convert::error)?;
        Ok((r.id, r.warnings))
    }

    async fn create_container_engine_ports(
        &self,
        form: &ContainerCreate,
        publish: &[u16],
    ) -> Result<(String, Vec<String>), DockerError> {
        let mut body = create_body(form)?;
        publish_on_engine_ports(&mut body, publish);
        let opts = form
            .name
            .as_deref()
            .map(|n| CreateContainerOptionsBuilder::new().name(n).build());
        let r = self.docker.create_container(opts, body).await;
        let r = r.map_err(convert::error)?;
        Ok((r.id, r.warnings))
    }

    async fn start_container(&self, id: &str) -> Result<(), DockerError> {
        let r = self.docker.start_container(id, None).await;
        r.map_err(convert::error)
    }

    async fn stop_container(&self, id: &str, timeout: Option<u32>) -> Result<(), DockerError> {
        let mut b = StopContainerOptionsBuilder::new();
        if let Some(t) = timeout {
            b = b.t(i32::try_from(t).unwrap_or(i32::MAX));
        }
        let r = self.docker.stop_container(id, Some(b.build())).await;
        r.map_err(convert::error)
    }

    async fn restart_container(&self, id: &str, timeout: Option<u32>) -> Result<(), DockerError> {
        let mut b = RestartContainerOptionsBuilder::new();
        if let Some(t) = timeout {
            b = b.t(i32::try_from(t).unwrap_or(i32::MAX));
        }
        let r = self.docker.restart_container(id, Some(b.build())).await;
        r.map_err(convert::error)
    }

    async fn pause_container(&self, id: &str) -> Result<(), DockerError> {
        self.docker
            .pause_container(id)
            .await
            .map_err(convert::error)
    }

    async fn unpause_container(&self, id: &str) -> Result<(), DockerError> {
        self.docker
            .unpause_container(id)
            .await
            .map_err(convert::error)
    }

    async fn kill_container(&self, id: &str, signal: Option<&str>) -> Result<(), DockerError> {
        let opts = KillContainerOptionsBuilder::new()
            .signal(signal.unwrap_or("SIGKILL"))
            .build();
        let r = self.docker.kill_container(id, Some(opts)).await;
        r.map_err(convert::error)
    }

    async fn remove_container(
        &self,
        id: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), DockerError> {
        let opts = RemoveContainerOptionsBuilder::new()
            .force(force)
            .v(volumes)
            .build();
        let r = self.docker.remove_container(id, Some(opts)).await;
        r.map_err(convert::error)
    }

    async fn rename_container(&self, id: &str, new_name: &str) -> Result<(), DockerError> {
        let opts = RenameContainerOptionsBuilder::new().name(new_name).build();
        let r = self.docker.rename_container(id, opts).await;
        r.map_err(convert::error)
    }

    fn logs<'a>(&'a self, q: &LogsQuery) -> LogStream<'a> {
        let tail = q.tail.map_or_else(|| "all".to_string(), |n| n.to_string());
        let mut b = LogsOptionsBuilder::new()
            .follow(q.follow)
            .stdout(q.stdout)
            .stderr(q.stderr)
            .timestamps(q.timestamps)
            .tail(&tail);
        if let Some(since) = q.since_unix {
            b = b.since(i32::try_from(since).unwrap_or(i32::MAX));
        }
        let timestamps = q.timestamps;
        let stream = self.docker.logs(&q.id, Some(b.build()));
        Box::pin(stream.map(move |item| {
            item.map(|o| log_entry(o, timestamps))
                .map_err(convert::error)
        }))
    }

    async fn top(&self, id: &str) -> Result<ContainerTop, DockerError> {
        let t = self.docker.top_processes(id, None).await;
        let t = t.map_err(convert::error)?;
        Ok(ContainerTop {
            titles: t.titles.unwrap_or_default(),
            processes: t.processes.unwrap_or_default(),
        })
    }

    async fn stats_sample(&self, id: &str) -> Result<StatsSample, DockerError> {
        // stream=false, one-shot=false: the engine takes two samples and fills `precpu`.
        let opts = StatsOptionsBuilder::new()
            .stream(false)
            .one_shot(false)
            .build();
        let mut s = Box::pin(self.docker.stats(id, Some(opts)));
        match s.next().await {
            Some(r) => Ok(convert::stats_sample(r.map_err(convert::error)?)),
            None => Err(DockerError::Engine(EngineFailure::NoStats)),
        }
    }

    async fn list_images(&self, all: bool) -> Result<Vec<ImageSummary>, DockerError> {
        let opts = ListImagesOptionsBuilder::new().all(all).build();
        let list = self.docker.list_images(Some(opts)).await;
        Ok(list
            .map_err(convert::error)?
            .into_iter()
            .map(convert::image_summary)
            .collect())
    }

    async fn inspect_image(&self, reference: &str) -> Result<ImageDetails, DockerError> {
        let i = self.docker.inspect_image(reference).await;
        Ok(convert::image_details(i.map_err(convert::error)?))
    }

    async fn image_history(&self, reference: &str) -> Result<Vec<ImageLayer>, DockerError> {
        let h = self.docker.image_history(reference).await;
        Ok(h.map_err(convert::error)?
            .into_iter()
            .map(convert::image_layer)
            .collect())
    }

    fn pull_image<'a>(&'a self, reference: &str, auth: Option<&RegistryAuth>) -> PullStream<'a> {
        let (name, tag, digest) = validate::split_reference(reference);
        let tag = digest.or(tag).unwrap_or("latest");
        let opts = CreateImageOptionsBuilder::new()
            .from_image(name)
            .tag(tag)
            .build();
        let credentials = auth.map(|a| bollard::auth::DockerCredentials {
            username: Some(a.username.clone()),
            password: Some(a.password.clone()),
            serveraddress: a.server.clone(),
            ..Default::default()
        });
        let stream = self.docker.create_image(Some(opts), None, credentials);
        Box::pin(stream.map(|item| {
            let info = item.map_err(convert::error)?;
            let detail = info.progress_detail.unwrap_or_default();
            let n = |v: Option<i64>| u64::try_from(v.unwrap_or(0)).unwrap_or(0);
            Ok(PullProgress {
                layer: info.id.unwrap_or_default(),
                status: info.status.unwrap_or_default(),
                current: n(detail.current),
                total: n(detail.total),
            })
        }))
    }

    async fn remove_image(
        &self,
        reference: &str,
        force: bool,
        prune: bool,
    ) -> Result<Vec<String>, DockerError> {
        let opts = RemoveImageOptionsBuilder::new()
            .force(force)
            .noprune(!prune)
            .build();
        let items = self.docker.remove_image(reference, Some(opts), None).await;
        let mut out = Vec::new();
        for i in items.map_err(convert::error)? {
            out.extend(i.untagged.map(|u| format!("Untagged: {u}")));
            out.extend(i.deleted.map(|d| format!("Deleted: {d}")));
        }
        Ok(out)
    }

    async fn tag_image(&self, source: &str, repo: &str, tag: &str) -> Result<(), DockerError> {
        let opts = TagImageOptionsBuilder::new().repo(repo).tag(tag).build();
        let r = self.docker.tag_image(source, Some(opts)).await;
        r.map_err(convert::error)
    }

    async fn import_image(
        &self,
        source: &ImportSource,
        tarball: &Path,
    ) -> Result<Vec<String>, DockerError> {
        let file = tokio::fs::File::open(tarball).await.map_err(|source| {
            DockerError::Engine(EngineFailure::Upload {
                path: tarball.into(),
                source,
            })
        })?;
        match source {
            ImportSource::RootFs { repo, tag } => {
                let opts = CreateImageOptionsBuilder::new()
                    .from_src("-")
                    .repo(repo)
                    .tag(tag)
                    .build();
                let body = bollard::body_try_stream(file_stream(file));
                let mut s = Box::pin(self.docker.create_image(Some(opts), Some(body), None));
                while let Some(item) = s.next().await {
                    item.map_err(convert::error)?;
                }
                Ok(vec![format!("{repo}:{tag}")])
            }
            ImportSource::Load => {
                let opts = ImportImageOptionsBuilder::new().quiet(true).build();
                let mut s = Box::pin(self.docker.import_image_stream(
                    opts,
                    file_stream(file),
                    None,
                ));
                let mut images = Vec::new();
                while let Some(item) = s.next().await {
                    let info = item.map_err(convert::error)?;
                    let text = info.stream.or(info.status).unwrap_or_default();
                    for line in text.lines() {
                        if let Some((_, name)) = line.split_once("Loaded image: ") {
                            images.push(name.trim().to_string());
                        } else if let Some((_, id)) = line.split_once("Loaded image ID: ") {
                            images.push(id.trim().to_string());
                        }
                    }
                }
                Ok(images)
            }
        }
    }

    async fn list_networks(&self) -> Result<Vec<NetworkInfo>, DockerError> {
        let list = self.docker.list_networks(None).await;
        Ok(list
            .map_err(convert::error)?
            .into_iter()
            .map(convert::network)
            .collect())
    }

    async fn create_network(&self, n: &NetworkCreate) -> Result<String, DockerError> {
        // Engines before API 1.44 accept duplicate names unless asked not to; refuse them
        // everywhere, since a name then no longer identifies one network.
        let existing = self
            .docker
            .list_networks(None)
            .await
            .map_err(convert::error)?;
        if existing
            .iter()
            .any(|x| x.name.as_deref() == Some(n.name.as_str()))
        {
            return Err(DockerError::Conflict(format!(
                "network with name {} already exists",
                n.name
            )));
        }
        let req = NetworkCreateRequest {
            name: n.name.clone(),
            driver: n.driver.clone(),
            internal: Some(n.internal),
            labels: Some(n.labels.clone().into_iter().collect()),
            ..Default::default()
        };
        let r = self.docker.create_network(req).await;
        Ok(r.map_err(convert::error)?.id)
    }

    async fn remove_network(&self, id: &str) -> Result<(), DockerError> {
        self.docker.remove_network(id).await.map_err(convert::error)
    }

    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>, DockerError> {
        let list = self
            .docker
            .list_volumes(None::<bollard::query_parameters::ListVolumesOptions>)
            .await;
        Ok(list
            .map_err(convert::error)?
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(convert::volume)
            .collect())
    }

    async fn create_volume(&self, v: &VolumeCreate) -> Result<String, DockerError> {
        let req = VolumeCreateRequest {
            name: Some(v.name.clone()),
            driver: v.driver.clone(),
            labels: Some(v.labels.clone().into_iter().collect()),
            ..Default::default()
        };
        let r = self.docker.create_volume(req).await;
        Ok(r.map_err(convert::error)?.name)
    }

    async fn remove_volume(&self, name: &str, force: bool) -> Result<(), DockerError> {
        let opts = RemoveVolumeOptionsBuilder::new().force(force).build();
        let r = self.docker.remove_volume(name, Some(opts)).await;
        r.map_err(convert::error)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Finding 3: host paths are sent as `Mounts` of type bind (a missing source is an
    /// error), never as `Binds` (which the engine creates); named volumes stay `Binds`.
    #[test]
    fn bind_sources_are_mounts_not_binds() {
        let form = ContainerCreate {
            image: "busybox:latest".into(),
            volumes: vec!["/srv/app:/app:ro".into(), "data:/data".into()],
            ..Default::default()
        };
        let host = create_body(&form).unwrap().host_config.unwrap();
        assert_eq!(host.binds, Some(vec!["data:/data:rw".to_string()]));
        let mounts = host.mounts.unwrap();
        assert_eq!(mounts.len(), 1);
        let m = &mounts[0];
        assert_eq!(m.typ, Some(bollard::models::MountType::BIND));
        assert_eq!(m.source.as_deref(), Some("/srv/app"));
        assert_eq!(m.target.as_deref(), Some("/app"));
        assert_eq!(m.read_only, Some(true));
    }
}
