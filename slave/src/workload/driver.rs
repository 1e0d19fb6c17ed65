//! Carries the replica core's decisions out through a [`ContainerRuntime`]: lists the
//! engine's containers as [`SeenContainer`]s (host ports from the listing, else read back
//! by inspecting; exit codes by inspecting; remembered per container in [`Facts`]), creates a replica (checks, pull when
//! missing, create with the container port on an engine-picked host port, start, read the
//! port back) and removes one (stop with 10 s grace, remove).

use super::replica::{Owner, SeenContainer, container_form};
use crate::docker::ops::{DockerCtx, confine_binds, with_tag};
use crate::docker::{ContainerRuntime, DockerError};
use futures_lite::StreamExt;
use protocol::ops::docker::RegistryAuth as PullAuth;
use protocol::ops::docker_reply::PortMapping;
use protocol::ops::validate;
use protocol::workload::{LABEL_NODE, ReplicaSpec};
use std::collections::HashMap;

/// Seconds a removed replica gets to stop before it is killed.
pub const STOP_GRACE_SECS: u32 = 10;

/// What inspecting told about containers, kept while they exist (a replica's container is
/// never restarted, so its host port does not change).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    host_ports: HashMap<String, u16>,
    exit_codes: HashMap<String, i64>,
}

impl Facts {
    /// Remembers `container`'s host port (after a creation).
    pub fn note_port(&mut self, container: &str, port: u16) {
        self.host_ports.insert(container.to_string(), port);
    }
}

/// Every container of the engine that carries a [`LABEL_NODE`], with the host port of the
/// running ones and the exit code of the exited ones of `owner`.
pub async fn list<R: ContainerRuntime>(
    rt: &R,
    owner: &Owner,
    facts: &mut Facts,
) -> Result<Vec<SeenContainer>, DockerError> {
    let listed = rt.list_containers(true).await?;
    let mut seen = Vec::new();
    for c in listed {
        if !c.labels.contains_key(LABEL_NODE) {
            continue;
        }
        let mut s = SeenContainer {
            host_port: published_port(&c.ports),
            id: c.id,
            labels: c.labels,
            state: c.state,
            exit_code: None,
        };
        if s.replica_of(owner).is_some() {
            read_back(rt, &mut s, facts).await;
        }
        seen.push(s);
    }
    facts
        .host_ports
        .retain(|id, _| seen.iter().any(|s| &s.id == id));
    facts
        .exit_codes
        .retain(|id, _| seen.iter().any(|s| &s.id == id));
    Ok(seen)
}

/// Fills in the host port (when the listing lacks it) or the exit code, inspecting once
/// per container. The listing's port is fresh (a container restarted by hand may have been
/// given another one), so it wins.
async fn read_back<R: ContainerRuntime>(rt: &R, s: &mut SeenContainer, facts: &mut Facts) {
    match s.state.as_str() {
        "running" | "paused" => {
            if let Some(p) = s.host_port {
                facts.host_ports.insert(s.id.clone(), p);
                return;
            }
            if let Some(p) = facts.host_ports.get(&s.id) {
                s.host_port = Some(*p);
                return;
            }
            if let Ok(d) = rt.inspect_container(&s.id).await
                && let Some(p) = published_port(&d.ports)
            {
                facts.host_ports.insert(s.id.clone(), p);
                s.host_port = Some(p);
            }
        }
        "exited" | "dead" => {
            if let Some(code) = facts.exit_codes.get(&s.id) {
                s.exit_code = Some(*code);
                return;
            }
            if let Ok(d) = rt.inspect_container(&s.id).await {
                facts.exit_codes.insert(s.id.clone(), d.state.exit_code);
                s.exit_code = Some(d.state.exit_code);
            }
        }
        _ => {}
    }
}

/// The host port of a replica container's one published TCP port, the IPv4 binding first
/// (engines may pick different ports for IPv4 and IPv6).
pub fn published_port(ports: &[PortMapping]) -> Option<u16> {
    let tcp = || {
        ports
            .iter()
            .filter(|p| p.proto == "tcp" && p.host_port.is_some())
    };
    tcp()
        .find(|p| !p.host_ip.contains(':'))
        .or_else(|| tcp().next())
        .and_then(|p| p.host_port)
}

/// A replica that was created and started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// Engine id.
    pub container: String,
    /// The host port the engine picked, when inspecting told.
    pub host_port: Option<u16>,
}

/// Creates and starts `spec`'s container for `owner`; the error is a message for a person
/// (registry passwords never appear in it).
pub async fn create<R: ContainerRuntime>(
    rt: &R,
    spec: &ReplicaSpec,
    owner: &Owner,
    ctx: &DockerCtx,
) -> Result<Created, String> {
    let form = container_form(spec, owner);
    validate::container_create(&form).map_err(|e| format!("invalid replica: {e}"))?;
    if spec.container_port == 0 {
        return Err("invalid replica: container_port must be in 1..=65535".into());
    }
    confine_binds(&form, ctx).map_err(|e| e.message)?;
    match rt.inspect_image(&form.image).await {
        Ok(_) => {}
        Err(DockerError::NotFound(_)) => pull(rt, &form.image, spec).await?,
        Err(e) => return Err(format!("cannot inspect image {}: {e}", form.image)),
    }
    let (id, _warnings) = rt
        .create_container_engine_ports(&form, &[spec.container_port])
        .await
        .map_err(|e| format!("cannot create the container: {e}"))?;
    if let Err(e) = rt.start_container(&id).await {
        if let Err(rm) = rt.remove_container(&id, true, true).await {
            tracing::warn!(id, "cannot remove the replica that failed to start: {rm}");
        }
        return Err(format!("the container failed to start: {e}"));
    }
    let host_port = match rt.inspect_container(&id).await {
        Ok(d) => published_port(&d.ports),
        Err(e) => {
            tracing::warn!(id, "cannot inspect the new replica: {e}");
            None
        }
    };
    Ok(Created {
        container: id,
        host_port,
    })
}

async fn pull<R: ContainerRuntime>(rt: &R, image: &str, spec: &ReplicaSpec) -> Result<(), String> {
    let auth = spec.registry_auth.as_ref().map(|a| PullAuth {
        server: a.server.clone(),
        username: a.username.clone(),
        password: a.password.clone(),
    });
    if let Some(a) = &auth {
        validate::registry_auth("registry_auth", a)
            .map_err(|e| format!("invalid registry credentials: {e}"))?;
    }
    let reference = with_tag(image);
    tracing::info!(
        replica = spec.id,
        image = reference,
        "pulling the replica's image"
    );
    let mut stream = rt.pull_image(&reference, auth.as_ref());
    while let Some(item) = stream.next().await {
        item.map_err(|e| format!("cannot pull image {reference}: {e}"))?;
    }
    Ok(())
}

/// Stops `container` (killed after [`STOP_GRACE_SECS`]) and removes it. Gone already is
/// success.
pub async fn remove<R: ContainerRuntime>(rt: &R, container: &str) -> Result<(), DockerError> {
    match rt.stop_container(container, Some(STOP_GRACE_SECS)).await {
        Ok(()) | Err(DockerError::Conflict(_)) => {}
        Err(DockerError::NotFound(_)) => return Ok(()),
        Err(e) => tracing::warn!(container, "stopping the replica failed: {e}"),
    }
    match rt.remove_container(container, true, true).await {
        Ok(()) | Err(DockerError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::docker::fake::FakeRuntime;
    use crate::workload::testing::replica_spec;
    use protocol::workload::RegistryAuth;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn owner() -> Owner {
        Owner {
            node: 3,
            key: "0c".repeat(32),
        }
    }

    #[test]
    fn create_publishes_on_an_engine_port_and_reads_it_back() {
        let rt = FakeRuntime::with_images(&["app:v1"]);
        let spec = replica_spec("web-1-a", "web", 1, "app:v1");
        let c = block_on(create(&rt, &spec, &owner(), &DockerCtx::default())).unwrap();
        let made = rt.container("commander-web-1-a").unwrap();
        assert_eq!(made.id, c.container);
        assert_eq!(made.engine_ports, vec![80]);
        assert!(made.form.ports.is_empty(), "no user-style mapping");
        assert_eq!(c.host_port, Some(made.published[0].1));
    }

    #[test]
    fn binds_are_confined_like_user_containers() {
        let rt = FakeRuntime::with_images(&["app:v1"]);
        let mut spec = replica_spec("web-1-a", "web", 1, "app:v1");
        spec.volumes = vec!["/etc:/host-etc".into()];
        let e = block_on(create(&rt, &spec, &owner(), &DockerCtx::default())).unwrap_err();
        assert!(e.contains("bind mounts are disabled"), "{e}");
        let root = tempfile::tempdir().unwrap();
        let ctx = DockerCtx::new(&[root.path().to_path_buf()]);
        let e = block_on(create(&rt, &spec, &owner(), &ctx)).unwrap_err();
        assert!(e.contains("outside the allowed bind roots"), "{e}");
        std::fs::create_dir(root.path().join("data")).unwrap();
        let inside = format!("{}:/data:ro", ctx.bind_roots[0].join("data").display());
        spec.volumes = vec![inside, "named-vol:/cache".into()];
        block_on(create(&rt, &spec, &owner(), &ctx)).unwrap();
        assert!(rt.container("commander-web-1-a").is_some());
    }

    #[test]
    fn a_failed_pull_says_why_without_the_password() {
        let rt = FakeRuntime::new();
        let mut spec = replica_spec("web-1-a", "web", 1, "private/app:v1");
        spec.registry_auth = Some(RegistryAuth {
            server: Some("registry.example".into()),
            username: "deployer".into(),
            password: "hunter2-secret".into(),
        });
        let e = block_on(create(&rt, &spec, &owner(), &DockerCtx::default())).unwrap_err();
        assert!(e.contains("cannot pull image private/app:v1"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        assert_eq!(rt.state.borrow().pull_users, vec!["deployer".to_string()]);
        assert!(rt.state.borrow().containers.is_empty());
    }

    #[test]
    fn invalid_specs_are_refused_before_the_engine() {
        let rt = FakeRuntime::with_images(&["app:v1"]);
        let mut spec = replica_spec("bad id/../x", "web", 1, "app:v1");
        let e = block_on(create(&rt, &spec, &owner(), &DockerCtx::default())).unwrap_err();
        assert!(e.starts_with("invalid replica"), "{e}");
        spec.id = "web-1-a".into();
        spec.container_port = 0;
        let e = block_on(create(&rt, &spec, &owner(), &DockerCtx::default())).unwrap_err();
        assert!(e.contains("container_port"), "{e}");
        assert!(
            rt.state
                .borrow()
                .calls
                .iter()
                .all(|c| !c.starts_with("create"))
        );
    }

    #[test]
    fn remove_stops_then_removes_and_gone_is_fine() {
        let rt = FakeRuntime::with_images(&["app:v1"]);
        let spec = replica_spec("web-1-a", "web", 1, "app:v1");
        let c = block_on(create(&rt, &spec, &owner(), &DockerCtx::default())).unwrap();
        block_on(remove(&rt, &c.container)).unwrap();
        assert!(rt.container(&c.container).is_none());
        let calls = rt.state.borrow().calls.clone();
        let stop = calls.iter().position(|c| c.starts_with("stop_container"));
        let rm = calls.iter().position(|c| c.starts_with("remove_container"));
        assert!(stop.is_some() && stop < rm, "{calls:?}");
        block_on(remove(&rt, &c.container)).unwrap();
    }

    #[test]
    fn the_ipv4_binding_is_preferred() {
        let m = |ip: &str, port| PortMapping {
            host_ip: ip.into(),
            host_port: Some(port),
            container_port: 80,
            proto: "tcp".into(),
        };
        assert_eq!(published_port(&[m("::", 2), m("0.0.0.0", 1)]), Some(1));
        assert_eq!(published_port(&[m("::", 2)]), Some(2));
        assert_eq!(published_port(&[]), None);
    }
}
