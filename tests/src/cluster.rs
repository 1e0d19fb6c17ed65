//! A master and slaves as separate `commander` processes on loopback.

use crate::http::{get_json, post_json, remember_token};
use crate::process::{Proc, commander_bin};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Heartbeat timing short enough for tests: offline within about 1.6 s.
pub const FAST_HEARTBEAT_YAML: &str =
    "heartbeat: { intervalMs: 300, ttlMs: 1000, graceMs: 500, jitterMs: 100 }\n";

/// How long a test waits for a process to say something.
pub const STARTUP: Duration = Duration::from_secs(30);

/// A running master process and what it printed.
pub struct MasterProc {
    /// The process.
    pub proc: Proc,
    /// Console and API address.
    pub http: SocketAddr,
    /// Protocol address.
    pub tcp: SocketAddr,
    /// The join token it printed.
    pub token: String,
    /// A console session token of [`ADMIN`] (also remembered for `http`, see `crate::http`).
    pub api_token: String,
}

/// The console administrator the tests register at a master's first start.
pub const ADMIN: &str = "e2e-admin";
/// Their password.
pub const ADMIN_PASSWORD: &str = "End-to-end secret 1";

/// Registers [`ADMIN`] if the console has no user yet, logs in, and remembers the token
/// for `http`. Returns the token.
pub fn console_login(http: SocketAddr) -> anyhow::Result<String> {
    let creds = serde_json::json!({ "username": ADMIN, "password": ADMIN_PASSWORD });
    let (status, body) = post_json(http, "/api/v1/auth/register", &creds)?;
    // 201 at the first start, 403 once registered (a restarted master).
    anyhow::ensure!(
        status == 201 || status == 403,
        "register: status {status} {body}"
    );
    let (status, body) = post_json(http, "/api/v1/auth/login", &creds)?;
    anyhow::ensure!(status == 200, "login: status {status} {body}");
    let token = body["token"]
        .as_str()
        .context("login answered no token")?
        .to_owned();
    remember_token(http, &token);
    Ok(token)
}

/// Writes the fast-heartbeat config into `dir` and returns its path.
pub fn write_config(dir: &Path, extra: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("master.yaml");
    std::fs::write(&path, format!("{FAST_HEARTBEAT_YAML}{extra}"))?;
    Ok(path)
}

fn after<'a>(line: &'a str, marker: &str) -> anyhow::Result<&'a str> {
    line.split_once(marker)
        .map(|(_, rest)| rest.trim())
        .with_context(|| format!("no {marker:?} in {line:?}"))
}

/// Starts `commander master` with the given data dir and TCP port (0 for any).
pub fn start_master(
    data_dir: &Path,
    config: &Path,
    tcp_port: u16,
    envs: &[(&str, &str)],
) -> anyhow::Result<MasterProc> {
    start_master_with(&commander_bin()?, data_dir, config, tcp_port, envs)
}

/// [`start_master`] with the `commander` binary at `bin` (benchmarks: a release build).
pub fn start_master_with(
    bin: &Path,
    data_dir: &Path,
    config: &Path,
    tcp_port: u16,
    envs: &[(&str, &str)],
) -> anyhow::Result<MasterProc> {
    let mut cmd = Command::new(bin);
    cmd.args([
        "master",
        "--http-port",
        "0",
        "--tcp-port",
        &tcp_port.to_string(),
    ])
    .arg("--config")
    .arg(config)
    .arg("--data-dir")
    .arg(data_dir);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut proc = Proc::spawn("master", cmd)?;
    let api = proc.wait_line("api: http://", STARTUP)?;
    let http: SocketAddr = after(&api, "api: http://")?
        .trim_end_matches("/api/v1/nodes")
        .parse()
        .context("http addr")?;
    let ep = proc.wait_line("slaves dial: ", STARTUP)?;
    let tcp: SocketAddr = after(&ep, "slaves dial: ")?.parse().context("tcp addr")?;
    let tok = proc.wait_line("join token", STARTUP)?;
    let token = after(&tok, "): ")?.to_owned();
    let api_token = console_login(http)?;
    Ok(MasterProc {
        proc,
        http,
        tcp,
        token,
        api_token,
    })
}

/// Runs `commander token create` against a master's data dir.
pub fn create_token(data_dir: &Path) -> anyhow::Result<String> {
    create_token_with(&commander_bin()?, data_dir)
}

/// [`create_token`] with the `commander` binary at `bin`.
pub fn create_token_with(bin: &Path, data_dir: &Path) -> anyhow::Result<String> {
    let out = Command::new(bin)
        .args(["token", "create", "--data-dir"])
        .arg(data_dir)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "token create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// Starts `commander slave`.
pub fn start_slave(
    name: &str,
    data_dir: &Path,
    join: Option<&str>,
    master: Option<&str>,
    envs: &[(&str, &str)],
) -> anyhow::Result<Proc> {
    let mut cmd = Command::new(commander_bin()?);
    cmd.arg("slave").arg("--data-dir").arg(data_dir);
    if let Some(t) = join {
        cmd.args(["--join", t]);
    }
    if let Some(m) = master {
        cmd.args(["--master", m]);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Proc::spawn(name, cmd)
}

/// The node id a slave got at enrolment (from its data dir).
pub fn node_id_of(slave_dir: &Path) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(slave_dir.join("enrollment"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("node_id="))
        .context("no node_id")?
        .parse()
        .context("node_id")
}

/// `GET /api/v1/nodes` as a list (with the token remembered for `http`).
pub fn nodes(http: SocketAddr) -> anyhow::Result<Vec<serde_json::Value>> {
    let v = get_json(http, "/api/v1/nodes")?;
    v.as_array().cloned().context("nodes is not an array")
}

/// The node with `id` in a nodes list.
pub fn node(list: &[serde_json::Value], id: u64) -> Option<&serde_json::Value> {
    list.iter().find(|n| n["id"].as_u64() == Some(id))
}

/// Whether node `id` is online and has reported metrics and host facts.
pub fn online_with_metrics(list: &[serde_json::Value], id: u64) -> bool {
    node(list, id).is_some_and(|n| {
        n["online"] == serde_json::Value::Bool(true)
            && n["metrics"].is_object()
            && n["host"].is_object()
    })
}
