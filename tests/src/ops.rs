//! Helpers of the remote-operations suites: a master and one slave on loopback (the slave
//! with a configuration file, so the test chooses its hosts file), the operations REST API
//! with a record of every call for the audit check, a busybox root file system tarball,
//! the `docker` CLI as an independent witness, and cleanup of everything a test created.
//!
//! Without a Docker Engine or `/bin/busybox` (Debian `busybox-static`) the Docker suite is
//! skipped with a message, except under `CI=true`, where that is a failure.

use crate::cluster::{
    MasterProc, STARTUP, node_id_of, nodes, online_with_metrics, start_master, start_slave,
    write_config,
};
use crate::http::{HttpResponse, request, token_for};
use crate::process::Proc;
use crate::wait_for;
use anyhow::{Context, bail};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The static busybox the test image is made of.
pub const BUSYBOX: &str = "/bin/busybox";
/// The page the test image serves.
pub const PAGE: &str = "commander-ops-test-ok\n";

/// What the audit log should hold for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// `host.signal`, `docker.stop_container`, ...
    pub action: String,
    /// `node/1/container/web`, ...
    pub target: String,
    /// `ok`, `failed` or `denied`.
    pub result: String,
}

/// A master, one slave, and the calls made so far.
pub struct Rig {
    /// The master.
    pub master: MasterProc,
    /// The slave.
    pub slave: Proc,
    /// The slave's node id.
    pub node: u64,
    /// Every operation call made through [`Rig::call`], in order.
    pub expected: Vec<Expected>,
}

impl Rig {
    /// Starts a master and a slave whose configuration file holds `slave_yaml`, and waits
    /// until the node is online.
    pub fn start(dir: &Path, slave_yaml: &str) -> anyhow::Result<Self> {
        let config = write_config(dir, "")?;
        let master = start_master(&dir.join("master"), &config, 0, &[])?;
        let slave_config = dir.join("slave.yaml");
        std::fs::write(&slave_config, slave_yaml)?;
        let slave_dir = dir.join("slave");
        let config_env = slave_config.display().to_string();
        let slave = start_slave(
            "slave",
            &slave_dir,
            Some(&master.token),
            None,
            &[("COMMANDER_SLAVE_CONFIG", &config_env)],
        )?;
        let node = wait_for("slave enrolled", STARTUP, || node_id_of(&slave_dir).ok())?;
        wait_for("node online", STARTUP, || {
            online_with_metrics(&nodes(master.http).ok()?, node).then_some(())
        })?;
        Ok(Self {
            master,
            slave,
            node,
            expected: Vec::new(),
        })
    }

    /// `/api/v1/nodes/<node><rest>`.
    pub fn path(&self, rest: &str) -> String {
        format!("/api/v1/nodes/{}{rest}", self.node)
    }

    /// The audit target `node/<node><rest>`.
    pub fn target(&self, rest: &str) -> String {
        format!("node/{}{rest}", self.node)
    }

    /// Calls the API and remembers the audit entry it should leave.
    pub fn call(
        &mut self,
        method: &str,
        rest: &str,
        body: Option<Value>,
        audit: (&str, &str, &str),
    ) -> anyhow::Result<(u16, Value)> {
        let path = self.path(rest);
        let text = body.map(|b| b.to_string());
        let r = request(self.master.http, method, &path, text.as_deref())?;
        self.expect(audit);
        Ok((r.status, parse(&r)?))
    }

    /// Remembers an audit entry (for calls made otherwise).
    pub fn expect(&mut self, (action, target, result): (&str, &str, &str)) {
        self.expected.push(Expected {
            action: action.to_owned(),
            target: self.target(target),
            result: result.to_owned(),
        });
    }

    /// Polls a task until it ends; returns it.
    pub fn wait_task(&self, id: u64) -> anyhow::Result<Value> {
        wait_for(
            &format!("task {id} ended"),
            Duration::from_secs(120),
            || {
                let r = request(
                    self.master.http,
                    "GET",
                    &format!("/api/v1/tasks/{id}"),
                    None,
                )
                .ok()?;
                let task: Value = serde_json::from_str(&r.body).ok()?;
                let state = task["state"].as_str()?.to_owned();
                (state != "queued" && state != "running").then_some(task)
            },
        )
    }

    /// Checks that the audit log holds exactly the expected entries of node operations, in
    /// order, by the test's user from loopback (tasks write theirs when they end, so this
    /// waits a little for them).
    pub fn check_audit(&self) -> anyhow::Result<()> {
        let mut last = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = request(self.master.http, "GET", "/api/v1/audit?limit=500", None)?;
            let page: Value = serde_json::from_str(&r.body)?;
            let mut entries: Vec<Value> = page["entries"]
                .as_array()
                .context("audit entries")?
                .iter()
                .filter(|e| {
                    e["action"]
                        .as_str()
                        .is_some_and(|a| a.starts_with("host.") || a.starts_with("docker."))
                })
                .cloned()
                .collect();
            entries.reverse();
            for e in &entries {
                anyhow::ensure!(e["user"] == crate::cluster::ADMIN, "user of {e}");
                anyhow::ensure!(e["client"] == "127.0.0.1", "client of {e}");
                anyhow::ensure!(e["at_ms"].as_u64().is_some_and(|t| t > 0), "time of {e}");
            }
            let got: Vec<Expected> = entries
                .iter()
                .map(|e| Expected {
                    action: e["action"].as_str().unwrap_or_default().to_owned(),
                    target: e["target"].as_str().unwrap_or_default().to_owned(),
                    result: e["result"].as_str().unwrap_or_default().to_owned(),
                })
                .collect();
            if same_entries(&got, &self.expected) {
                return Ok(());
            }
            if Instant::now() > deadline {
                last.extend(got);
                bail!(
                    "audit log differs\n  expected: {:#?}\n  found: {last:#?}",
                    self.expected
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The same entries; a task's entry (written when it ends) may come later than the calls
/// made after it, so entries are compared as multisets, and the calls' order otherwise.
fn same_entries(got: &[Expected], expected: &[Expected]) -> bool {
    let mut a = got.to_vec();
    let mut b = expected.to_vec();
    let key = |e: &Expected| (e.action.clone(), e.target.clone(), e.result.clone());
    a.sort_by_key(key);
    b.sort_by_key(key);
    a == b
}

/// A response body as JSON (`null` when empty, a string when not JSON).
pub fn parse(r: &HttpResponse) -> anyhow::Result<Value> {
    if r.body.trim().is_empty() {
        return Ok(Value::Null);
    }
    Ok(serde_json::from_str(&r.body).unwrap_or(Value::String(r.body.clone())))
}

/// `POST path` with raw `bytes` (an image tarball) and the token remembered for `addr`.
pub fn post_bytes(addr: SocketAddr, path: &str, bytes: &[u8]) -> anyhow::Result<(u16, Value)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let token = token_for(addr).context("no token")?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        bytes.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(bytes)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").context("malformed response")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no status")?;
    let json = serde_json::from_str(body.trim()).unwrap_or(Value::String(body.to_owned()));
    Ok((status, json))
}

/// One ustar header block.
fn tar_header(name: &str, mode: u32, size: usize, kind: u8) -> [u8; 512] {
    let mut h = [0u8; 512];
    let put = |h: &mut [u8; 512], at: usize, v: &[u8]| h[at..at + v.len()].copy_from_slice(v);
    put(&mut h, 0, name.as_bytes());
    put(&mut h, 100, format!("{mode:07o}\0").as_bytes());
    put(&mut h, 108, b"0000000\0");
    put(&mut h, 116, b"0000000\0");
    put(&mut h, 124, format!("{size:011o}\0").as_bytes());
    put(&mut h, 136, b"00000000000\0");
    put(&mut h, 148, b"        ");
    h[156] = kind;
    put(&mut h, 257, b"ustar\0");
    put(&mut h, 263, b"00");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    h
}

/// A root file system tarball: `/bin/busybox`, `/www/index.html` ([`PAGE`]), `/tmp`.
pub fn rootfs_tar(busybox: &[u8]) -> Vec<u8> {
    let mut tar = Vec::new();
    let file = |tar: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]| {
        tar.extend_from_slice(&tar_header(name, mode, data.len(), b'0'));
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    };
    for (dir, mode) in [("bin/", 0o755), ("www/", 0o755), ("tmp/", 0o1777)] {
        tar.extend_from_slice(&tar_header(dir, mode, 0, b'5'));
    }
    file(&mut tar, "bin/busybox", 0o755, busybox);
    file(&mut tar, "www/index.html", 0o644, PAGE.as_bytes());
    tar.resize(tar.len() + 1024, 0);
    tar
}

/// The busybox binary, or `None` (skip) outside CI when it is missing.
pub fn busybox() -> anyhow::Result<Option<Vec<u8>>> {
    match std::fs::read(BUSYBOX) {
        Ok(b) => Ok(Some(b)),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            bail!("CI=true but {BUSYBOX} is missing ({e}): install busybox-static")
        }
        Err(e) => {
            eprintln!("SKIPPED: {BUSYBOX}: {e}; install busybox-static (a failure under CI=true)");
            Ok(None)
        }
    }
}

/// `docker ps -a` state of the container named exactly `name`, if there is one.
pub fn cli_state(name: &str) -> anyhow::Result<Option<String>> {
    let filter = format!("name=^/{name}$");
    let out = Command::new("docker")
        .args(["ps", "-a", "--filter", &filter, "--format", "{{.State}}"])
        .stdin(Stdio::null())
        .output()
        .context("the docker CLI is needed to cross-check")?;
    anyhow::ensure!(
        out.status.success(),
        "docker ps: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok((!s.is_empty()).then_some(s))
}

/// Waits until `docker ps` shows container `name` in `state` (`None`: gone).
pub fn wait_cli_state(name: &str, state: Option<&str>) -> anyhow::Result<()> {
    let want = state.map(str::to_owned);
    wait_for(
        &format!("docker ps: {name} {state:?}"),
        Duration::from_secs(20),
        || (cli_state(name).ok()? == want).then_some(()),
    )
}

/// `GET /` on 127.0.0.1:`port` until the page answers (20 s at most).
pub fn fetch(port: u16) -> anyhow::Result<String> {
    wait_for(
        &format!("page on port {port}"),
        Duration::from_secs(20),
        || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
            let mut body = String::new();
            s.read_to_string(&mut body).ok()?;
            body.contains(PAGE.trim()).then_some(body)
        },
    )
}

/// A free TCP port on loopback.
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// A string unique to this test run.
pub fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// Removes, when dropped (also while a failing test unwinds), every container labelled
/// with this run and the images given.
pub struct Cleanup {
    /// Value of the `commander.test.run` label.
    pub run: String,
    /// Image references to remove.
    pub images: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let filter = format!("label=commander.test.run={}", self.run);
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter", &filter])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for id in ids.split_whitespace() {
            let _ = Command::new("docker").args(["rm", "-f", id]).output();
        }
        for image in &self.images {
            let _ = Command::new("docker").args(["rmi", "-f", image]).output();
        }
    }
}
