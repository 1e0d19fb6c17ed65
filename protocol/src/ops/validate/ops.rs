//! Checks of whole Docker operations and container forms.

use super::*;
use crate::ops::MAX_UPLOAD_LEN;
use crate::ops::docker::{ContainerCreate, DockerOp, ImportSource, RegistryAuth};
use std::collections::HashSet;

/// Registry credentials.
pub fn registry_auth(field: &str, a: &RegistryAuth) -> R {
    no_control(&format!("{field}.username"), &a.username, 256)?;
    if a.username.is_empty() {
        return err(&format!("{field}.username"), "must not be empty");
    }
    // The password is checked without echoing it in the message.
    if a.password.len() > 8192 || a.password.chars().any(char::is_control) {
        return err(
            &format!("{field}.password"),
            "longer than 8 KiB or contains control characters",
        );
    }
    if let Some(server) = &a.server {
        let f = format!("{field}.server");
        charset(&f, server, "a registry address has no spaces", 256, |c| {
            c.is_ascii_graphic()
        })?;
    }
    Ok(())
}

/// A user inside a container: `name`, `uid`, `name:group`, `uid:gid`.
fn container_user(field: &str, s: &str) -> R {
    const WHAT: &str = "a user is `name`, `uid` or `uid:gid`";
    charset(field, s, WHAT, 128, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':')
    })?;
    if s.matches(':').count() > 1 {
        return err(field, WHAT);
    }
    Ok(())
}

/// Everything in a container form.
pub fn container_create(c: &ContainerCreate) -> R {
    image_ref("image", &c.image)?;
    if let Some(name) = &c.name {
        container_name("name", name)?;
    }
    if c.cmd.len() > 1024 {
        return err("cmd", "at most 1024 arguments");
    }
    for (i, a) in c.cmd.iter().enumerate() {
        if a.len() > 64 * 1024 || a.contains('\0') {
            return err(&format!("cmd[{i}]"), "longer than 64 KiB or contains NUL");
        }
    }
    if c.env.len() > 1024 {
        return err("env", "at most 1024 variables");
    }
    for (i, e) in c.env.iter().enumerate() {
        container_env(&format!("env[{i}]"), e)?;
    }
    let mut published = HashSet::new();
    for (i, p) in c.ports.iter().enumerate() {
        let f = format!("ports[{i}]");
        let spec = port_mapping(&f, p)?;
        if !published.insert((spec.host_ip, spec.host_port, spec.proto)) {
            return err(
                &f,
                format!(
                    "host port {}/{} is mapped twice",
                    spec.host_port, spec.proto
                ),
            );
        }
    }
    for (i, v) in c.volumes.iter().enumerate() {
        volume_spec(&format!("volumes[{i}]"), v)?;
    }
    labels("labels", &c.labels)?;
    if c.memory_bytes.is_some_and(|m| m < 6 * 1024 * 1024) {
        return err("memory_bytes", "at least 6 MiB (the engine's minimum)");
    }
    if c.nano_cpus
        .is_some_and(|n| !(1_000_000..=1024 * 1_000_000_000).contains(&n))
    {
        return err("nano_cpus", "between 0.001 and 1024 CPUs (in billionths)");
    }
    if let Some(n) = &c.network {
        object_name("network", n)?;
        // The host's network namespace gives the container the host's loopback services
        // (the console, the gateway admin endpoint), any host port past the `ports` checks,
        // and raw access to host traffic: never granted through a container form.
        if n.eq_ignore_ascii_case("host") {
            return err(
                "network",
                "the host network is not allowed; use a bridge or user-defined network",
            );
        }
    }
    if let Some(w) = &c.workdir {
        absolute_path("workdir", w)?;
    }
    if let Some(u) = &c.user {
        container_user("user", u)?;
    }
    Ok(())
}

fn timeout(field: &str, t: Option<u32>) -> R {
    if t.is_some_and(|t| t > 3600) {
        return err(field, "at most 3600 seconds");
    }
    Ok(())
}

/// Every argument of a Docker operation.
pub fn docker_op(op: &DockerOp) -> R {
    match op {
        DockerOp::Info
        | DockerOp::ListContainers { .. }
        | DockerOp::ListImages { .. }
        | DockerOp::ListNetworks
        | DockerOp::ListVolumes => Ok(()),
        DockerOp::InspectContainer { id }
        | DockerOp::StartContainer { id }
        | DockerOp::PauseContainer { id }
        | DockerOp::UnpauseContainer { id }
        | DockerOp::RemoveContainer { id, .. }
        | DockerOp::Top { id }
        | DockerOp::Stats { id } => container_ref("id", id),
        DockerOp::StopContainer { id, timeout_secs }
        | DockerOp::RestartContainer { id, timeout_secs } => {
            container_ref("id", id)?;
            timeout("timeout_secs", *timeout_secs)
        }
        DockerOp::KillContainer { id, signal } => {
            container_ref("id", id)?;
            signal
                .as_deref()
                .map_or(Ok(()), |s| signal_name("signal", s))
        }
        DockerOp::RenameContainer { id, new_name } => {
            container_ref("id", id)?;
            container_name("new_name", new_name)
        }
        DockerOp::CreateContainer(c) => container_create(c),
        DockerOp::Logs(q) => {
            container_ref("id", &q.id)?;
            if !q.stdout && !q.stderr {
                return err("stdout", "ask for stdout, stderr or both");
            }
            if q.since_unix.is_some_and(|s| s < 0) {
                return err("since_unix", "must not be negative");
            }
            Ok(())
        }
        DockerOp::InspectImage { reference }
        | DockerOp::ImageHistory { reference }
        | DockerOp::RemoveImage { reference, .. } => image_target("reference", reference),
        DockerOp::PullImage(p) => {
            image_ref("reference", &p.reference)?;
            p.auth.as_ref().map_or(Ok(()), |a| registry_auth("auth", a))
        }
        DockerOp::TagImage {
            source,
            repo,
            tag: t,
        } => {
            image_target("source", source)?;
            repo_name("repo", repo)?;
            tag("tag", t)
        }
        DockerOp::Deploy(d) => {
            container_create(&d.container)?;
            d.auth.as_ref().map_or(Ok(()), |a| registry_auth("auth", a))
        }
        DockerOp::ImportImage(i) => {
            if i.total_len == 0 || i.total_len > MAX_UPLOAD_LEN {
                return err(
                    "total_len",
                    format!("must be in 1..={MAX_UPLOAD_LEN} bytes"),
                );
            }
            match &i.source {
                ImportSource::Load => Ok(()),
                ImportSource::RootFs { repo, tag: t } => {
                    repo_name("repo", repo)?;
                    tag("tag", t)
                }
            }
        }
        DockerOp::CreateNetwork(n) => {
            object_name("name", &n.name)?;
            n.driver
                .as_deref()
                .map_or(Ok(()), |d| driver_name("driver", d))?;
            labels("labels", &n.labels)
        }
        DockerOp::RemoveNetwork { id } => {
            object_name("id", id).or_else(|e| if hex(id) { Ok(()) } else { Err(e) })
        }
        DockerOp::CreateVolume(v) => {
            object_name("name", &v.name)?;
            v.driver
                .as_deref()
                .map_or(Ok(()), |d| driver_name("driver", d))?;
            labels("labels", &v.labels)
        }
        DockerOp::RemoveVolume { name, .. } => object_name("name", name),
    }
}
