//! `projects`: a release master and three slaves on this host (one Docker Engine shared by
//! the three, each touching only the containers labelled with its node id), a tiny HTTP
//! image built here (busybox httpd, `FROM scratch`). Measures, through the REST API:
//!
//! - create → every replica healthy, for `--replicas` replicas with the image present;
//! - an image update's duration (v1 → v2, rolling, one extra replica at a time);
//! - the rescheduling delay after a slave is killed, beyond the configured grace period;
//! - requests per second (a new connection each, `--clients` threads) through the
//!   project's gateway on a slave, against the standalone `commander gateway` in front of
//!   the same replicas, in the same run.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use e2e::cluster::{create_token_with, start_master_with, write_config};
use e2e::console::import_busybox_httpd;
use e2e::http::{get_json, post_json, request};
use e2e::{Proc, wait_for};
use serde_json::{Value, json};

use crate::report::{machine_line, now_utc};

/// Flags of `projects`.
#[derive(Debug, clap::Args)]
pub struct ProjectsArgs {
    /// Replicas of the project.
    #[arg(long, default_value_t = 4)]
    replicas: u32,
    /// Create → healthy runs (each deletes the project afterwards).
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Grace period of a lost node, seconds.
    #[arg(long, default_value_t = 5)]
    grace_secs: u64,
    /// Seconds of each requests-per-second measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Client threads of the requests-per-second measurement.
    #[arg(long, default_value_t = 4)]
    clients: u32,
}

const WAIT: Duration = Duration::from_secs(120);

struct Cleanup {
    images: Vec<String>,
    project_label: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(out) = Command::new("docker")
            .args(["ps", "-aq", "--filter", &self.project_label])
            .output()
        {
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("docker").args(["rm", "-f", id]).output();
            }
        }
        for image in &self.images {
            let _ = Command::new("docker").args(["rmi", "-f", image]).output();
        }
    }
}

fn fetch(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut raw = Vec::with_capacity(256);
    s.read_to_end(&mut raw).is_ok() && raw.starts_with(b"HTTP/1.") && raw.len() > 12
}

/// Requests per second through `addr` over `seconds` with `clients` threads; and errors.
fn rps(addr: SocketAddr, seconds: u64, clients: u32) -> (f64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (stop, ok, failed) = (Arc::clone(&stop), Arc::clone(&ok), Arc::clone(&failed));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if fetch(addr) {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    (
        ok.load(Ordering::Relaxed) as f64 / elapsed,
        failed.load(Ordering::Relaxed),
    )
}

fn ready(http: SocketAddr, name: &str, revision: u64, count: usize) -> Option<Value> {
    let p = get_json(http, &format!("/api/v1/projects/{name}")).ok()?;
    let replicas = p["replicas"].as_array()?;
    let healthy = replicas
        .iter()
        .filter(|r| r["healthy"] == true && r["revision"] == revision)
        .count();
    (p["status"] == "ready" && healthy == count && replicas.len() == count).then_some(p)
}

fn start_slave(bin: &Path, dir: &Path, token: &str, dial: &str) -> anyhow::Result<Proc> {
    std::fs::create_dir_all(dir)?;
    let config = dir.join("slave.yaml");
    std::fs::write(&config, "workloads:\n  advertiseAddress: 127.0.0.1\n")?;
    let mut cmd = Command::new(bin);
    cmd.arg("slave")
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--join", token, "--master", dial])
        .env("RUST_LOG", "warn");
    Proc::spawn("slave", cmd)
}

/// Runs the projects benchmark and returns the markdown report.
pub fn run(bin_dir: &Path, args: &ProjectsArgs) -> anyhow::Result<String> {
    let bin = bin_dir.join("commander");
    if !bin.exists() {
        bail!(
            "{} not found: run `cargo build --release -p commander` first",
            bin.display()
        );
    }
    let pid = std::process::id();
    let name = format!("bench{pid}");
    let (v1, v2) = (
        format!("cmdr-bench-app:v1-{pid}"),
        format!("cmdr-bench-app:v2-{pid}"),
    );
    let _cleanup = Cleanup {
        images: vec![v1.clone(), v2.clone()],
        project_label: format!("label=commander.project={name}"),
    };
    import_busybox_httpd(&v1, "v1")?;
    import_busybox_httpd(&v2, "v2")?;
    let tmp = tempfile::tempdir()?;
    let mdir = tmp.path().join("master");
    let config = write_config(
        tmp.path(),
        &format!(
            "projects: {{ reconcileIntervalMs: 200, nodeGraceSecs: {}, drainMs: 1000 }}\n",
            args.grace_secs
        ),
    )?;
    let master = start_master_with(&bin, &mdir, &config, 0, &[("RUST_LOG", "warn")])?;
    let http = master.http;
    let dial = master.tcp.to_string();
    let mut slaves = Vec::new();
    for i in 0..3 {
        let token = if i == 0 {
            master.token.clone()
        } else {
            create_token_with(&bin, &mdir)?
        };
        slaves.push(start_slave(
            &bin,
            &tmp.path().join(format!("slave{i}")),
            &token,
            &dial,
        )?);
    }
    let node_ids: Vec<u64> = wait_for("three slaves online", WAIT, || {
        let list = get_json(http, "/api/v1/nodes").ok()?;
        let ids: Vec<u64> = list
            .as_array()?
            .iter()
            .filter(|n| n["online"] == true)
            .filter_map(|n| n["id"].as_u64())
            .collect();
        (ids.len() == 3).then_some(ids)
    })?;
    let gateway_node = node_ids[0];
    let port = free_port()?;
    let gateway: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let n = args.replicas as usize;
    let spec = |image: &str| {
        json!({
            "name": name, "image": image, "replicas": args.replicas, "container_port": 80,
            "health": {"type": "http", "path": "/", "interval_s": 1, "timeout_s": 1},
            "update": {"strategy": "rolling", "max_surge": 1, "max_unavailable": 0},
            "gateway": {"node": gateway_node, "port": port},
        })
    };

    // create → all healthy
    let mut creates = Vec::new();
    for run in 0..args.runs {
        let started = Instant::now();
        let (status, body) = post_json(http, "/api/v1/projects", &spec(&v1))?;
        anyhow::ensure!(status == 201 || status == 202, "create: {status} {body}");
        wait_for("all replicas healthy", WAIT, || ready(http, &name, 1, n))?;
        creates.push(started.elapsed().as_secs_f64());
        if run + 1 < args.runs {
            let r = request(http, "DELETE", &format!("/api/v1/projects/{name}"), None)?;
            anyhow::ensure!(r.status < 300, "delete: {} {}", r.status, r.body);
            wait_for("replicas removed", WAIT, || {
                let out = Command::new("docker")
                    .args([
                        "ps",
                        "-aq",
                        "--filter",
                        &format!("label=commander.project={name}"),
                    ])
                    .output()
                    .ok()?;
                out.stdout.iter().all(u8::is_ascii_whitespace).then_some(())
            })?;
        }
    }
    wait_for("the gateway answers", WAIT, || fetch(gateway).then_some(()))?;

    // update v1 → v2
    let started = Instant::now();
    let r = request(
        http,
        "PUT",
        &format!("/api/v1/projects/{name}"),
        Some(&json!({"image": v2}).to_string()),
    )?;
    anyhow::ensure!(r.status == 200, "update: {} {}", r.status, r.body);
    let p = wait_for("update complete", WAIT, || ready(http, &name, 2, n))?;
    let update_s = started.elapsed().as_secs_f64();

    // requests per second: the project's gateway, then the standalone gateway in front of
    // the same replicas
    let upstreams: Vec<String> = p["gateway"]["upstreams"]
        .as_array()
        .context("upstreams")?
        .iter()
        .filter_map(|u| u.as_str().map(str::to_owned))
        .collect();
    let (project_rps, project_errors) = rps(gateway, args.seconds, args.clients);
    let standalone_port = free_port()?;
    let gw_config = tmp.path().join("gateway.yaml");
    std::fs::write(
        &gw_config,
        format!(
            "admin: 127.0.0.1:0\ngateways:\n  - name: bench\n    listen: 127.0.0.1:{standalone_port}\n    upstreams: [{}]\n",
            upstreams.join(", ")
        ),
    )?;
    let mut cmd = Command::new(&bin);
    cmd.arg("gateway")
        .arg("--config")
        .arg(&gw_config)
        .env("RUST_LOG", "warn");
    let _standalone = Proc::spawn("gateway", cmd)?;
    let standalone: SocketAddr = format!("127.0.0.1:{standalone_port}").parse()?;
    wait_for("the standalone gateway answers", WAIT, || {
        fetch(standalone).then_some(())
    })?;
    let (standalone_rps, standalone_errors) = rps(standalone, args.seconds, args.clients);

    // a slave killed: rescheduling delay beyond the grace period
    let victim_node = node_ids[2];
    let on_victim = p["replicas"]
        .as_array()
        .map(|r| r.iter().filter(|r| r["node"] == victim_node).count())
        .unwrap_or(0);
    slaves[2].kill();
    let killed = Instant::now();
    wait_for("replicas rescheduled", WAIT, || {
        let p = get_json(http, &format!("/api/v1/projects/{name}")).ok()?;
        let live = p["replicas"]
            .as_array()?
            .iter()
            .filter(|r| r["node"] != victim_node && r["healthy"] == true)
            .count();
        (live == n).then_some(())
    })?;
    let reschedule_s = killed.elapsed().as_secs_f64();
    let _ = request(http, "DELETE", &format!("/api/v1/projects/{name}"), None);

    let mut by = BTreeMap::new();
    for (i, c) in creates.iter().enumerate() {
        by.insert(
            format!("create → {n} healthy, run {}", i + 1),
            format!("{c:.2} s"),
        );
    }
    let mut table = format!(
        "### projects ({})\n\n{}; command: `target/release/commander-bench projects --replicas {} --runs {} --grace-secs {} --seconds {} --clients {}`\n\n| measure | value |\n|---|---|\n",
        now_utc(),
        machine_line(),
        args.replicas,
        args.runs,
        args.grace_secs,
        args.seconds,
        args.clients
    );
    for (k, v) in by {
        table.push_str(&format!("| {k} | {v} |\n"));
    }
    table.push_str(&format!(
        "| update v1 → v2 ({n} replicas, surge 1) | {update_s:.2} s |\n\
         | slave killed → {on_victim} replica(s) healthy elsewhere | {reschedule_s:.2} s (grace {} s; {:.2} s beyond it) |\n\
         | requests/s through the project gateway ({} clients, new connection each) | {project_rps:.0} ({project_errors} errors) |\n\
         | requests/s through the standalone gateway, same replicas | {standalone_rps:.0} ({standalone_errors} errors) |\n\
         | ratio project / standalone | {:.2} |\n",
        args.grace_secs,
        (reschedule_s - args.grace_secs as f64).max(0.0),
        args.clients,
        project_rps / standalone_rps.max(1.0),
    ));
    drop(master);
    Ok(table)
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
