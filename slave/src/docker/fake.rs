//! An in-memory [`ContainerRuntime`] for unit tests. It keeps the engine's rules that
//! matter to callers: names are unique, a paused container cannot be paused again, a
//! running one is not removed without `force`, a host port is allocated once, images must
//! exist to be run, and pulls report per-layer progress. `calls` records what was asked.

use super::{
    ContainerRuntime, DockerError, EngineFailure, LogStream, PullStream, StatsSample, Unreachable,
};

/// The socket path the fake names when it plays a missing engine.
const FAKE_SOCKET: &str = "/var/run/docker.sock";
use futures_lite::stream;
use protocol::ops::docker::{
    ContainerCreate, ImportSource, LogsQuery, NetworkCreate, RegistryAuth, VolumeCreate,
};
use protocol::ops::docker_reply::{
    ContainerDetails, ContainerState, ContainerSummary, ContainerTop, EngineInfo, ImageDetails,
    ImageLayer, ImageSummary, LogEntry, LogStream as Stream, NetworkInfo, VolumeInfo,
};
use protocol::ops::{PullProgress, validate};
use std::cell::RefCell;
use std::path::Path;

/// A container of the fake engine.
#[derive(Debug, Clone)]
pub struct FakeContainer {
    /// Engine id.
    pub id: String,
    /// Name.
    pub name: String,
    /// How it was created.
    pub form: ContainerCreate,
    /// `created`, `running`, `paused` or `exited`.
    pub state: String,
    /// Its log.
    pub logs: Vec<LogEntry>,
    /// Container ports published on host ports the fake engine picks at start
    /// ([`ContainerRuntime::create_container_engine_ports`]).
    pub engine_ports: Vec<u16>,
    /// `(container port, host port)` of `engine_ports` while it runs.
    pub published: Vec<(u16, u16)>,
    /// Exit code reported once it is `exited` (tests set it).
    pub exit_code: i64,
}

/// An image of the fake engine.
#[derive(Debug, Clone)]
pub struct FakeImage {
    /// Image id.
    pub id: String,
    /// `repo:tag` names.
    pub tags: Vec<String>,
}

/// Everything the fake engine holds; tests read and change it freely.
#[derive(Debug, Default)]
pub struct FakeState {
    /// Containers.
    pub containers: Vec<FakeContainer>,
    /// Images.
    pub images: Vec<FakeImage>,
    /// Networks.
    pub networks: Vec<NetworkInfo>,
    /// Volumes.
    pub volumes: Vec<VolumeInfo>,
    /// References a pull can find (`repo:tag`).
    pub registry: Vec<String>,
    /// The reading `stats_sample` returns.
    pub stats: StatsSample,
    /// Every call, as `"op target"`.
    pub calls: Vec<String>,
    /// Registry user names seen by pulls (passwords are not kept).
    pub pull_users: Vec<String>,
    /// Behave as if no engine were running.
    pub unavailable: bool,
    next_id: u64,
    next_host_port: u16,
}

/// The fake engine.
#[derive(Debug, Default)]
pub struct FakeRuntime {
    /// Its state.
    pub state: RefCell<FakeState>,
}

fn not_running(c: &FakeContainer) -> DockerError {
    DockerError::Conflict(format!("Container {} is not running", c.id))
}

/// `reference` as stored: with `:latest` when it has no tag.
fn full(reference: &str) -> String {
    super::ops::with_tag(reference)
}

impl FakeRuntime {
    /// An empty engine.
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine holding `images` (`repo:tag`).
    pub fn with_images(images: &[&str]) -> Self {
        let rt = Self::new();
        for i in images {
            rt.add_image(i);
        }
        rt
    }

    /// Adds an image; returns its id.
    pub fn add_image(&self, reference: &str) -> String {
        let mut st = self.state.borrow_mut();
        st.next_id += 1;
        let id = format!("sha256:{:064x}", st.next_id);
        st.images.push(FakeImage {
            id: id.clone(),
            tags: vec![full(reference)],
        });
        id
    }

    /// The container named or identified by `r`, as it is now.
    pub fn container(&self, r: &str) -> Option<FakeContainer> {
        let st = self.state.borrow();
        find(&st, r).ok().map(|i| st.containers[i].clone())
    }

    fn enter(&self, call: String) -> Result<std::cell::RefMut<'_, FakeState>, DockerError> {
        let mut st = self.state.borrow_mut();
        if st.unavailable {
            return Err(DockerError::Unavailable(Unreachable::NoSocket(
                FAKE_SOCKET.into(),
            )));
        }
        st.calls.push(call);
        Ok(st)
    }

    fn with_container<T>(
        &self,
        call: &str,
        r: &str,
        f: impl FnOnce(&mut FakeState, usize) -> Result<T, DockerError>,
    ) -> Result<T, DockerError> {
        let mut st = self.enter(format!("{call} {r}"))?;
        let i = find(&st, r)?;
        f(&mut st, i)
    }
}

fn find(st: &FakeState, r: &str) -> Result<usize, DockerError> {
    st.containers
        .iter()
        .position(|c| c.name == r || c.id.starts_with(r))
        .ok_or_else(|| DockerError::NotFound(format!("No such container: {r}")))
}

fn find_image(st: &FakeState, r: &str) -> Result<usize, DockerError> {
    let name = full(r);
    st.images
        .iter()
        .position(|i| {
            i.tags.contains(&name) || i.id == r || i.id.trim_start_matches("sha256:").starts_with(r)
        })
        .ok_or_else(|| DockerError::NotFound(format!("No such image: {r}")))
}

fn host_ports(form: &ContainerCreate) -> Vec<(u16, &'static str)> {
    form.ports
        .iter()
        .filter_map(|p| validate::port_mapping("ports", p).ok())
        .map(|s| (s.host_port, s.proto))
        .collect()
}

/// The engine-picked ports of a container while it runs or is paused.
fn published_ports(c: &FakeContainer) -> Vec<protocol::ops::docker_reply::PortMapping> {
    if c.state != "running" && c.state != "paused" {
        return Vec::new();
    }
    c.published
        .iter()
        .map(
            |&(container_port, host_port)| protocol::ops::docker_reply::PortMapping {
                host_ip: "0.0.0.0".into(),
                host_port: Some(host_port),
                container_port,
                proto: "tcp".into(),
            },
        )
        .collect()
}

impl ContainerRuntime for FakeRuntime {
    async fn info(&self) -> Result<EngineInfo, DockerError> {
        let st = self.enter("info".into())?;
        let count = |s: &str| st.containers.iter().filter(|c| c.state == s).count() as u32;
        Ok(EngineInfo {
            version: "fake-1.0".into(),
            api_version: "1.41".into(),
            client_api_version: "1.41".into(),
            containers: st.containers.len() as u32,
            running: count("running"),
            paused: count("paused"),
            stopped: count("exited") + count("created"),
            images: st.images.len() as u32,
            ..Default::default()
        })
    }

    async fn list_containers(&self, all: bool) -> Result<Vec<ContainerSummary>, DockerError> {
        let st = self.enter(format!("list_containers all={all}"))?;
        Ok(st
            .containers
            .iter()
            .filter(|c| all || c.state == "running")
            .map(|c| ContainerSummary {
                id: c.id.clone(),
                names: vec![c.name.clone()],
                image: c.form.image.clone(),
                image_id: String::new(),
                command: c.form.cmd.join(" "),
                created_unix: 0,
                state: c.state.clone(),
                status: c.state.clone(),
                ports: published_ports(c),
                labels: c.form.labels.clone(),
            })
            .collect())
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerDetails, DockerError> {
        self.with_container("inspect_container", id, |st, i| {
            let c = &st.containers[i];
            Ok(ContainerDetails {
                id: c.id.clone(),
                name: c.name.clone(),
                image: c.form.image.clone(),
                image_id: String::new(),
                created: String::new(),
                state: ContainerState {
                    status: c.state.clone(),
                    running: c.state == "running" || c.state == "paused",
                    paused: c.state == "paused",
                    exit_code: c.exit_code,
                    ..Default::default()
                },
                path: c.form.cmd.first().cloned().unwrap_or_default(),
                args: c.form.cmd.iter().skip(1).cloned().collect(),
                env: c.form.env.clone(),
                labels: c.form.labels.clone(),
                ports: published_ports(c),
                mounts: c
                    .form
                    .volumes
                    .iter()
                    .filter_map(|v| validate::volume_spec("volumes", v).ok())
                    .map(|spec| {
                        let (kind, source) = match spec.source {
                            validate::MountSource::Bind(p) => ("bind", p),
                            validate::MountSource::Volume(n) => ("volume", n),
                        };
                        protocol::ops::docker_reply::MountInfo {
                            kind: kind.into(),
                            source,
                            destination: spec.target,
                            read_only: spec.read_only,
                        }
                    })
                    .collect(),
                restart_policy: String::new(),
                restart_count: 0,
                memory_bytes: c.form.memory_bytes.unwrap_or(0),
                nano_cpus: c.form.nano_cpus.unwrap_or(0),
                networks: Default::default(),
            })
        })
    }

    async fn create_container(
        &self,
        form: &ContainerCreate,
    ) -> Result<(String, Vec<String>), DockerError> {
        self.create_container_engine_ports(form, &[]).await
    }

    async fn create_container_engine_ports(
        &self,
        form: &ContainerCreate,
        publish: &[u16],
    ) -> Result<(String, Vec<String>), DockerError> {
        let mut st = self.enter(format!("create_container {}", form.image))?;
        find_image(&st, &form.image)?;
        st.next_id += 1;
        let id = format!("{:064x}", st.next_id);
        let name = form
            .name
            .clone()
            .unwrap_or_else(|| format!("fake_{}", st.next_id));
        if st.containers.iter().any(|c| c.name == name) {
            return Err(DockerError::Conflict(format!(
                "Conflict. The container name \"/{name}\" is already in use"
            )));
        }
        st.containers.push(FakeContainer {
            id: id.clone(),
            name,
            form: form.clone(),
            state: "created".into(),
            logs: Vec::new(),
            engine_ports: publish.to_vec(),
            published: Vec::new(),
            exit_code: 0,
        });
        Ok((id, Vec::new()))
    }

    async fn start_container(&self, id: &str) -> Result<(), DockerError> {
        self.with_container("start_container", id, |st, i| {
            match st.containers[i].state.as_str() {
                "running" => return Ok(()),
                "paused" => {
                    return Err(DockerError::Conflict(
                        "cannot start a paused container, try unpause instead".into(),
                    ));
                }
                _ => {}
            }
            let mine = host_ports(&st.containers[i].form);
            let taken = st.containers.iter().enumerate().any(|(j, c)| {
                j != i
                    && c.state != "exited"
                    && c.state != "created"
                    && host_ports(&c.form).iter().any(|p| mine.contains(p))
            });
            if taken {
                return Err(DockerError::Engine(EngineFailure::Status {
                    status: 500,
                    message: "port is already allocated".into(),
                }));
            }
            let mut published = Vec::new();
            for &port in &st.containers[i].engine_ports {
                st.next_host_port = st.next_host_port.max(32767).wrapping_add(1);
                published.push((port, st.next_host_port));
            }
            let c = &mut st.containers[i];
            c.published = published;
            c.state = "running".into();
            c.logs.push(LogEntry {
                stream: Stream::Stdout,
                timestamp: None,
                text: format!("started {}\n", c.name),
            });
            Ok(())
        })
    }

    async fn stop_container(&self, id: &str, _timeout: Option<u32>) -> Result<(), DockerError> {
        self.with_container("stop_container", id, |st, i| {
            st.containers[i].state = "exited".into();
            Ok(())
        })
    }

    async fn restart_container(&self, id: &str, _t: Option<u32>) -> Result<(), DockerError> {
        self.with_container("restart_container", id, |st, i| {
            st.containers[i].state = "running".into();
            Ok(())
        })
    }

    async fn pause_container(&self, id: &str) -> Result<(), DockerError> {
        self.with_container("pause_container", id, |st, i| {
            let c = &mut st.containers[i];
            match c.state.as_str() {
                "running" => {
                    c.state = "paused".into();
                    Ok(())
                }
                "paused" => Err(DockerError::Conflict(format!(
                    "Container {} is already paused",
                    c.id
                ))),
                _ => Err(not_running(c)),
            }
        })
    }

    async fn unpause_container(&self, id: &str) -> Result<(), DockerError> {
        self.with_container("unpause_container", id, |st, i| {
            let c = &mut st.containers[i];
            if c.state != "paused" {
                return Err(DockerError::Conflict(format!(
                    "Container {} is not paused",
                    c.id
                )));
            }
            c.state = "running".into();
            Ok(())
        })
    }

    async fn kill_container(&self, id: &str, signal: Option<&str>) -> Result<(), DockerError> {
        let call = format!("kill_container {}", signal.unwrap_or("SIGKILL"));
        self.with_container(&call, id, |st, i| {
            let c = &mut st.containers[i];
            if c.state != "running" {
                return Err(not_running(c));
            }
            c.state = "exited".into();
            Ok(())
        })
    }

    async fn remove_container(
        &self,
        id: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), DockerError> {
        let call = format!("remove_container force={force} volumes={volumes}");
        self.with_container(&call, id, |st, i| {
            let c = &st.containers[i];
            if !force && (c.state == "running" || c.state == "paused") {
                return Err(DockerError::Conflict(format!(
                    "You cannot remove a running container {}. Stop the container before \
                     attempting removal or force remove",
                    c.id
                )));
            }
            st.containers.remove(i);
            Ok(())
        })
    }

    async fn rename_container(&self, id: &str, new_name: &str) -> Result<(), DockerError> {
        self.with_container("rename_container", id, |st, i| {
            if st.containers.iter().any(|c| c.name == new_name) {
                return Err(DockerError::Conflict(format!(
                    "Conflict. The container name \"/{new_name}\" is already in use"
                )));
            }
            st.containers[i].name = new_name.to_string();
            Ok(())
        })
    }

    fn logs<'a>(&'a self, q: &LogsQuery) -> LogStream<'a> {
        let found = self.with_container("logs", &q.id, |st, i| Ok(st.containers[i].clone()));
        let c = match found {
            Ok(c) => c,
            Err(e) => return Box::pin(stream::once(Err(e))),
        };
        let mut entries: Vec<LogEntry> = c
            .logs
            .into_iter()
            .filter(|e| match e.stream {
                Stream::Stdout | Stream::Console => q.stdout,
                Stream::Stderr => q.stderr,
            })
            .collect();
        if let Some(n) = q.tail {
            let skip = entries.len().saturating_sub(n as usize);
            entries.drain(..skip);
        }
        for e in &mut entries {
            e.timestamp = q.timestamps.then(|| "2024-01-01T00:00:00Z".to_string());
        }
        let head = stream::iter(entries.into_iter().map(Ok));
        if q.follow && c.state == "running" {
            Box::pin(futures_lite::StreamExt::chain(head, stream::pending()))
        } else {
            Box::pin(head)
        }
    }

    async fn top(&self, id: &str) -> Result<ContainerTop, DockerError> {
        self.with_container("top", id, |st, i| {
            let c = &st.containers[i];
            if c.state != "running" && c.state != "paused" {
                return Err(not_running(c));
            }
            Ok(ContainerTop {
                titles: vec!["PID".into(), "CMD".into()],
                processes: vec![vec!["1".into(), c.form.cmd.join(" ")]],
            })
        })
    }

    async fn stats_sample(&self, id: &str) -> Result<StatsSample, DockerError> {
        self.with_container("stats", id, |st, _| Ok(st.stats.clone()))
    }

    async fn list_images(&self, _all: bool) -> Result<Vec<ImageSummary>, DockerError> {
        let st = self.enter("list_images".into())?;
        Ok(st
            .images
            .iter()
            .map(|i| ImageSummary {
                id: i.id.clone(),
                repo_tags: i.tags.clone(),
                repo_digests: vec![],
                created_unix: 0,
                size_bytes: 1000,
                containers: -1,
                labels: Default::default(),
            })
            .collect())
    }

    async fn inspect_image(&self, reference: &str) -> Result<ImageDetails, DockerError> {
        let st = self.enter(format!("inspect_image {reference}"))?;
        let i = &st.images[find_image(&st, reference)?];
        Ok(ImageDetails {
            id: i.id.clone(),
            repo_tags: i.tags.clone(),
            repo_digests: vec![],
            created: String::new(),
            author: String::new(),
            architecture: "amd64".into(),
            os: "linux".into(),
            size_bytes: 1000,
            cmd: vec![],
            entrypoint: vec![],
            env: vec![],
            exposed_ports: vec![],
            workdir: String::new(),
            labels: Default::default(),
            layers: vec![],
        })
    }

    async fn image_history(&self, reference: &str) -> Result<Vec<ImageLayer>, DockerError> {
        let st = self.enter(format!("image_history {reference}"))?;
        let i = &st.images[find_image(&st, reference)?];
        Ok(vec![ImageLayer {
            id: i.id.clone(),
            created_unix: 0,
            created_by: "fake".into(),
            size_bytes: 1000,
            tags: i.tags.clone(),
            comment: String::new(),
        }])
    }

    fn pull_image<'a>(&'a self, reference: &str, auth: Option<&RegistryAuth>) -> PullStream<'a> {
        let reference = full(reference);
        let found = self.enter(format!("pull_image {reference}")).map(|mut st| {
            st.pull_users.extend(auth.map(|a| a.username.clone()));
            st.registry.contains(&reference)
        });
        match found {
            Err(e) => Box::pin(stream::once(Err(e))),
            Ok(false) => Box::pin(stream::once(Err(DockerError::NotFound(format!(
                "pull access denied for {reference}, repository does not exist"
            ))))),
            Ok(true) => {
                let mut events = Vec::new();
                for layer in ["l1", "l2"] {
                    let ev = |status: &str, current, total| PullProgress {
                        layer: layer.into(),
                        status: status.into(),
                        current,
                        total,
                    };
                    events.push(ev("Pulling fs layer", 0, 0));
                    for n in 1..=10 {
                        events.push(ev("Downloading", n * 100, 1000));
                    }
                    events.push(ev("Pull complete", 0, 0));
                }
                self.add_image(&reference);
                Box::pin(stream::iter(events.into_iter().map(Ok)))
            }
        }
    }

    async fn remove_image(
        &self,
        r: &str,
        force: bool,
        _prune: bool,
    ) -> Result<Vec<String>, DockerError> {
        let mut st = self.enter(format!("remove_image {r}"))?;
        let i = find_image(&st, r)?;
        let img = st.images[i].clone();
        let used = st
            .containers
            .iter()
            .any(|c| img.tags.contains(&full(&c.form.image)));
        if used && !force {
            return Err(DockerError::Conflict(format!(
                "conflict: unable to remove repository reference \"{r}\" - container is using its referenced image"
            )));
        }
        st.images.remove(i);
        let mut out: Vec<String> = img.tags.iter().map(|t| format!("Untagged: {t}")).collect();
        out.push(format!("Deleted: {}", img.id));
        Ok(out)
    }

    async fn tag_image(&self, source: &str, repo: &str, tag: &str) -> Result<(), DockerError> {
        let mut st = self.enter(format!("tag_image {source} {repo}:{tag}"))?;
        let i = find_image(&st, source)?;
        st.images[i].tags.push(format!("{repo}:{tag}"));
        Ok(())
    }

    async fn import_image(
        &self,
        source: &ImportSource,
        tarball: &Path,
    ) -> Result<Vec<String>, DockerError> {
        let len = std::fs::metadata(tarball)
            .map_err(|source| {
                DockerError::Engine(EngineFailure::Upload {
                    path: tarball.into(),
                    source,
                })
            })?
            .len();
        self.enter(format!("import_image {len}"))?;
        let name = match source {
            ImportSource::RootFs { repo, tag } => format!("{repo}:{tag}"),
            ImportSource::Load => "loaded:latest".into(),
        };
        self.add_image(&name);
        Ok(vec![name])
    }

    async fn list_networks(&self) -> Result<Vec<NetworkInfo>, DockerError> {
        Ok(self.enter("list_networks".into())?.networks.clone())
    }

    async fn create_network(&self, n: &NetworkCreate) -> Result<String, DockerError> {
        let mut st = self.enter(format!("create_network {}", n.name))?;
        if st.networks.iter().any(|x| x.name == n.name) {
            return Err(DockerError::Conflict(format!(
                "network with name {} already exists",
                n.name
            )));
        }
        st.next_id += 1;
        let id = format!("net{}", st.next_id);
        st.networks.push(NetworkInfo {
            id: id.clone(),
            name: n.name.clone(),
            driver: n.driver.clone().unwrap_or_else(|| "bridge".into()),
            scope: "local".into(),
            internal: n.internal,
            created: String::new(),
            labels: n.labels.clone(),
        });
        Ok(id)
    }

    async fn remove_network(&self, id: &str) -> Result<(), DockerError> {
        let mut st = self.enter(format!("remove_network {id}"))?;
        let before = st.networks.len();
        st.networks.retain(|n| n.id != id && n.name != id);
        if st.networks.len() == before {
            return Err(DockerError::NotFound(format!("network {id} not found")));
        }
        Ok(())
    }

    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>, DockerError> {
        Ok(self.enter("list_volumes".into())?.volumes.clone())
    }

    async fn create_volume(&self, v: &VolumeCreate) -> Result<String, DockerError> {
        let mut st = self.enter(format!("create_volume {}", v.name))?;
        if !st.volumes.iter().any(|x| x.name == v.name) {
            st.volumes.push(VolumeInfo {
                name: v.name.clone(),
                driver: v.driver.clone().unwrap_or_else(|| "local".into()),
                mountpoint: format!("/var/lib/docker/volumes/{}/_data", v.name),
                created: String::new(),
                labels: v.labels.clone(),
            });
        }
        Ok(v.name.clone())
    }

    async fn remove_volume(&self, name: &str, _force: bool) -> Result<(), DockerError> {
        let mut st = self.enter(format!("remove_volume {name}"))?;
        let before = st.volumes.len();
        st.volumes.retain(|v| v.name != name);
        if st.volumes.len() == before {
            return Err(DockerError::NotFound(format!("get {name}: no such volume")));
        }
        Ok(())
    }
}
