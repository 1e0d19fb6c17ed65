//! Carries the replica core's decisions out through a [`ContainerRuntime`]: lists the
//! engine's containers as [`SeenContainer`]s (host ports and exit codes read back by
//! inspecting, remembered per container in [`Facts`]), creates a replica (checks, pull when
//! missing, create with the container port on an engine-picked host port, start, read the
//! port back) and removes one (stop with 10 s grace, remove).

use super::replica::{SeenContainer, container_form};
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
/// running ones and the exit code of the exited ones of `node`.
pub async fn list<R: ContainerRuntime>(
    rt: &R,
    node: u64,
    facts: &mut Facts,
) -> Result<Vec<SeenContainer>, DockerError> {
    let listed = rt.list_containers(true).await?;
    let mut seen = Vec::new();
    for c in listed {
        if !c.labels.contains_key(LABEL_NODE) {
            continue;
        }
        let mut s = SeenContainer {
            id: c.id,
            labels: c.labels,
            state: c.state,
            host_port: None,
            exit_code: None,
        };
        if s.replica_of(node).is_some() {
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

/// Fills in the host port or exit code, inspecting once per container.
async fn read_back<R: ContainerRuntime>(rt: &R, s: &mut SeenContainer, facts: &mut Facts) {
    match s.state.as_str() {
        "running" | "paused" => {
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

/// Creates and starts `spec`'s container on `node`; the error is a message for a person
/// (registry passwords never appear in it).
pub async fn create<R: ContainerRuntime>(
    rt: &R,
    spec: &ReplicaSpec,
    node: u64,
    ctx: &DockerCtx,
) -> Result<Created, String> {
    let form = container_form(spec, node);
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
