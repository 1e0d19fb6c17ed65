//! Starting and stopping the processes of the gateway benchmark: the HTTP backend (nginx),
//! the iperf3 server, and the three proxies, each with `workers` threads or processes, placed
//! on CPUs as [`Placement`] says.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::place::{CpuGroup, Placement};

/// Size every proxy may give a splice pipe (`tune.pipesize` for HAProxy; the commander
/// gateway's own `relay::PIPE_SIZE` is the same), so that none gets bigger pipes than another.
pub const PIPE_SIZE: usize = 1024 * 1024;
/// Relay buffer size of every proxy where it is configurable: HAProxy `tune.bufsize`, nginx
/// `proxy_buffer_size`; the commander gateway's `relay::COPY_BUF` is the same.
pub const BUF_SIZE: usize = 64 * 1024;

/// A child process killed on drop.
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    /// The proxy's cgroup in fair mode (dropped after the process, which empties it).
    pub group: Option<CpuGroup>,
}

impl Drop for Proc {
    /// SIGTERM first so that nginx's master stops its workers (SIGKILL would orphan them),
    /// SIGKILL if it is still there after 5 s.
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Starts `cmd` with stdout and stderr going to `<dir>/<name>.log`.
    fn spawn(name: &str, dir: &Path, cmd: &mut Command) -> anyhow::Result<Self> {
        let log = dir.join(format!("{}.log", name.replace(' ', "_")));
        let out = std::fs::File::create(&log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Self {
            name: name.to_string(),
            child,
            log,
            group: None,
        })
    }

    /// Fails (quoting its log) if the process has already exited.
    pub fn check(&mut self) -> anyhow::Result<()> {
        if let Some(st) = self.child.try_wait()? {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            bail!("{} exited early ({st}):\n{log}", self.name);
        }
        Ok(())
    }
}

/// A free loopback port (bound and released; good enough for a benchmark).
pub fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Waits until `addr` accepts connections.
pub fn wait_listening(addr: SocketAddr, p: &mut Proc) -> anyhow::Result<()> {
    let end = Instant::now() + Duration::from_secs(15);
    while Instant::now() < end {
        p.check()?;
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = std::fs::read_to_string(&p.log).unwrap_or_default();
    bail!("{} did not listen on {addr} within 15 s:\n{log}", p.name)
}

/// The tools the benchmark needs, and the missing ones.
pub fn missing_tools() -> Vec<&'static str> {
    let mut missing = Vec::new();
    for tool in ["wrk", "iperf3", "haproxy", "nginx"] {
        if which(tool).is_none() {
            missing.push(tool);
        }
    }
    if stream_module().is_none() {
        missing.push("nginx stream module (libnginx-mod-stream)");
    }
    missing
}

pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn stream_module() -> Option<PathBuf> {
    [
        "/usr/lib/nginx/modules/ngx_stream_module.so",
        "/usr/lib64/nginx/modules/ngx_stream_module.so",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

fn nginx_cmd(name: &str, dir: &Path, conf: &str, mut cmd: Command) -> anyhow::Result<Command> {
    let file = dir.join(format!("{name}.conf"));
    std::fs::write(&file, conf)?;
    cmd.arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&file)
        .arg("-e")
        .arg(dir.join(format!("{name}.err")));
    Ok(cmd)
}

/// Starts a proxy: in fair mode inside a fresh cgroup, pinned to the proxy CPUs.
fn spawn_proxy(name: &str, dir: &Path, place: &Placement, cmd: &Command) -> anyhow::Result<Proc> {
    let group = if place.is_fair() {
        let g = CpuGroup::create(name)?;
        g.set_quota(place.quota_pct)?;
        Some(g)
    } else {
        None
    };
    let mut p = Proc::spawn(name, dir, &mut place.proxy(cmd, group.as_ref()))?;
    p.group = group;
    Ok(p)
}

fn nginx_head(name: &str, dir: &Path, workers: usize) -> String {
    format!(
        "worker_processes {workers};\ndaemon off;\npid {pid};\nerror_log {err} warn;\nworker_rlimit_nofile 16000;\nevents {{ worker_connections 65536; }}\n",
        pid = dir.join(format!("{name}.pid")).display(),
        err = dir.join(format!("{name}.err")).display()
    )
}

/// nginx answering `GET /` with a tiny 200, keep-alive without limit.
pub fn http_backend(
    dir: &Path,
    addr: SocketAddr,
    workers: usize,
    place: &Placement,
) -> anyhow::Result<Proc> {
    let tmp = dir.join("nginx-tmp");
    std::fs::create_dir_all(&tmp)?;
    let conf = format!(
        "{head}http {{\n  access_log off;\n  client_body_temp_path {t};\n  proxy_temp_path {t};\n  fastcgi_temp_path {t};\n  uwsgi_temp_path {t};\n  scgi_temp_path {t};\n  keepalive_requests 100000000;\n  server {{ listen {addr} reuseport; location / {{ return 200 \"ok\\n\"; }} }}\n}}\n",
        head = nginx_head("backend", dir, workers),
        t = tmp.display()
    );
    let mut cmd = nginx_cmd("backend", dir, &conf, place.load("nginx"))?;
    let mut p = Proc::spawn("backend", dir, &mut cmd)?;
    wait_listening(addr, &mut p)?;
    Ok(p)
}

/// `iperf3 -s` on `addr`.
pub fn iperf_server(dir: &Path, addr: SocketAddr, place: &Placement) -> anyhow::Result<Proc> {
    let mut p = Proc::spawn(
        "iperf3-server",
        dir,
        place.load("iperf3").args([
            "-s",
            "-B",
            &addr.ip().to_string(),
            "-p",
            &addr.port().to_string(),
        ]),
    )?;
    wait_listening(addr, &mut p)?;
    Ok(p)
}

/// The two listeners every proxy gets: HTTP and iperf3.
#[derive(Clone, Copy)]
pub struct Pair {
    pub http: SocketAddr,
    pub iperf: SocketAddr,
}

pub fn nginx_stream(
    dir: &Path,
    front: Pair,
    back: Pair,
    workers: usize,
    place: &Placement,
) -> anyhow::Result<Proc> {
    let module = stream_module().context("nginx stream module")?;
    let conf = format!(
        "load_module {};\n{head}stream {{\n  proxy_buffer_size {BUF_SIZE};\n  server {{ listen {} reuseport; proxy_pass {}; }}\n  server {{ listen {} reuseport; proxy_pass {}; }}\n}}\n",
        module.display(),
        front.http,
        back.http,
        front.iperf,
        back.iperf,
        head = nginx_head("stream", dir, workers),
    );
    let cmd = nginx_cmd("stream", dir, &conf, Command::new("nginx"))?;
    let mut p = spawn_proxy("nginx stream", dir, place, &cmd)?;
    wait_listening(front.http, &mut p)?;
    Ok(p)
}

pub fn haproxy(
    dir: &Path,
    front: Pair,
    back: Pair,
    workers: usize,
    place: &Placement,
) -> anyhow::Result<Proc> {
    let conf = format!(
        "global\n  nbthread {workers}\n  maxconn 4000\n  tune.bufsize {BUF_SIZE}\n  tune.pipesize {PIPE_SIZE}\n\ndefaults\n  mode tcp\n  option splice-auto\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\nlisten http\n  bind {}\n  server s1 {}\n\nlisten iperf\n  bind {}\n  server s1 {}\n",
        front.http, back.http, front.iperf, back.iperf
    );
    let file = dir.join("haproxy.cfg");
    std::fs::write(&file, conf)?;
    let mut cmd = Command::new("haproxy");
    cmd.arg("-db").arg("-f").arg(&file);
    let mut p = spawn_proxy("haproxy", dir, place, &cmd)?;
    wait_listening(front.http, &mut p)?;
    Ok(p)
}

pub fn commander(
    bin: &Path,
    dir: &Path,
    front: Pair,
    back: Pair,
    workers: usize,
    relay: &str,
    place: &Placement,
) -> anyhow::Result<Proc> {
    let conf = format!(
        "workers: {workers}\ngateways:\n  - name: http\n    listen: {}\n    upstreams: [{}]\n    relay: {relay}\n  - name: iperf\n    listen: {}\n    upstreams: [{}]\n    relay: {relay}\n",
        front.http, back.http, front.iperf, back.iperf
    );
    let file = dir.join("commander-gateway.yaml");
    std::fs::write(&file, conf)?;
    let mut cmd = Command::new(bin);
    cmd.arg("--config").arg(&file).env("RUST_LOG", "warn");
    let mut p = spawn_proxy("commander-gateway", dir, place, &cmd)?;
    wait_listening(front.http, &mut p)?;
    Ok(p)
}

/// Runs a command to completion and returns its stdout.
pub fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.stderr(Stdio::inherit()).output()?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// First line of `tool -v`/`-V` style output, for the record.
pub fn version(tool: &str, flag: &str) -> String {
    Command::new(tool)
        .arg(flag)
        .output()
        .ok()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s.lines().next().unwrap_or("").trim().to_string()
        })
        .unwrap_or_default()
}
