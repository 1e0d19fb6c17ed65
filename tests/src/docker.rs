//! Docker helpers for multi-host tests: an image holding the `commander` binary (assembled
//! from the binary and the shared libraries it links, imported with `docker import`, since
//! no registry is reachable), a private network, and labelled containers that are removed
//! when their guard drops.
//!
//! Without a Docker Engine the tests that need one are skipped with a message, except under
//! `CI=true`, where a missing engine is a failure.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Label on everything these helpers create.
pub const LABEL: &str = "commander.test=1";

/// Runs the `docker` CLI; its trimmed standard output, or an error with its standard error.
pub fn docker(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("run docker")?;
    if !out.status.success() {
        bail!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Whether a Docker Engine answers. Under `CI=true` its absence is an error; elsewhere the
/// caller skips (and says so).
pub fn available() -> anyhow::Result<bool> {
    let ok = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok && std::env::var("CI").is_ok_and(|v| v == "true") {
        bail!("CI=true but no Docker Engine answers: the multi-host tests cannot run");
    }
    if !ok {
        eprintln!("SKIPPED: no Docker Engine on this machine (this is a failure under CI=true)");
    }
    Ok(ok)
}

/// The libraries `bin` loads, from `ldd`.
fn shared_libraries(bin: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let out = Command::new("ldd").arg(bin).output().context("run ldd")?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| {
            let path = l
                .split("=>")
                .nth(1)
                .unwrap_or(l)
                .split_whitespace()
                .next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

/// An imported image, removed on drop.
pub struct Image {
    /// Image reference.
    pub name: String,
}

impl Image {
    /// Builds an image with `bin` at `/commander` plus its libraries.
    pub fn with_binary(bin: &Path, tag: &str) -> anyhow::Result<Self> {
        let stage = tempfile::tempdir()?;
        let root = stage.path();
        std::fs::copy(bin, root.join("commander")).context("copy binary")?;
        for lib in shared_libraries(bin)? {
            let dest = root.join(lib.strip_prefix("/").unwrap_or(&lib));
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::copy(&lib, &dest).with_context(|| format!("copy {}", lib.display()))?;
        }
        std::fs::create_dir_all(root.join("tmp"))?;
        let name = format!("commander-test:{tag}");
        let tar = Command::new("tar")
            .arg("-C")
            .arg(root)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .context("run tar")?;
        let status = Command::new("docker")
            .args(["import", "--change", &format!("LABEL {LABEL}"), "-", &name])
            .stdin(tar.stdout.context("tar stdout")?)
            .stdout(Stdio::null())
            .status()
            .context("docker import")?;
        if !status.success() {
            bail!("docker import failed: {status}");
        }
        Ok(Self { name })
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.name]);
    }
}

/// A private bridge network, removed on drop.
pub struct Network {
    /// Network name.
    pub name: String,
    /// The host's address on it (what containers dial to reach the host).
    pub gateway: String,
}

impl Network {
    /// Creates a labelled network.
    pub fn create(name: &str) -> anyhow::Result<Self> {
        let _ = docker(&["network", "rm", name]);
        docker(&["network", "create", "--label", LABEL, name])?;
        let gateway = docker(&[
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Gateway}}",
            name,
        ])?;
        Ok(Self {
            name: name.to_owned(),
            gateway,
        })
    }

    /// Cuts a container off this network.
    pub fn disconnect(&self, container: &Container) -> anyhow::Result<()> {
        docker(&["network", "disconnect", "-f", &self.name, &container.name]).map(|_| ())
    }

    /// Joins a container to this network again.
    pub fn connect(&self, container: &Container) -> anyhow::Result<()> {
        docker(&["network", "connect", &self.name, &container.name]).map(|_| ())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = docker(&["network", "rm", &self.name]);
    }
}

/// A running container, removed (forcibly) on drop.
pub struct Container {
    /// Container name.
    pub name: String,
}

impl Container {
    /// `docker run -d` of `image` on `network` with `args`.
    pub fn run(
        name: &str,
        image: &Image,
        network: &Network,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        Self::run_with(name, image, network, &[], args)
    }

    /// `docker run -d` of `image` on `network` with extra `docker run` options (mounts,
    /// environment) and `args`.
    pub fn run_with(
        name: &str,
        image: &Image,
        network: &Network,
        options: &[&str],
        args: &[&str],
    ) -> anyhow::Result<Self> {
        let _ = docker(&["rm", "-f", name]);
        let mut all = vec![
            "run",
            "-d",
            "--name",
            name,
            "--label",
            LABEL,
            "--network",
            &network.name,
        ];
        all.extend_from_slice(options);
        all.push(&image.name);
        all.extend_from_slice(args);
        docker(&all)?;
        Ok(Self {
            name: name.to_owned(),
        })
    }

    /// The container's output so far.
    pub fn logs(&self) -> String {
        Command::new("docker")
            .args(["logs", &self.name])
            .output()
            .map(|o| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .unwrap_or_default()
    }

    /// `docker kill`.
    pub fn kill(&self) -> anyhow::Result<()> {
        docker(&["kill", &self.name]).map(|_| ())
    }

    /// `docker stop` (SIGTERM, then SIGKILL after `secs`).
    pub fn stop(&self, secs: u32) -> anyhow::Result<()> {
        docker(&["stop", "-t", &secs.to_string(), &self.name]).map(|_| ())
    }

    /// `docker start` of a stopped container.
    pub fn start(&self) -> anyhow::Result<()> {
        docker(&["start", &self.name]).map(|_| ())
    }

    /// The container's address on `network`.
    pub fn ip(&self, network: &Network) -> anyhow::Result<String> {
        docker(&[
            "inspect",
            "-f",
            &format!(
                "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
                network.name
            ),
            &self.name,
        ])
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
    }
}
