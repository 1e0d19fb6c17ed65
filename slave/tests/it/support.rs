//! Helpers of the real-engine tests: connecting (skip or fail under `CI=true`), the
//! busybox root file system tar, a cleanup guard, operations run as the agent runs them, and
//! cross-checks through the `docker` CLI.

#![allow(clippy::unwrap_used, dead_code)]

use protocol::Message;
use protocol::ResponseBody;
use protocol::ops::OpError;
use protocol::ops::docker::DockerOp;
use protocol::ops::docker_reply::DockerReply;
use slave::docker::ContainerRuntime;
use slave::docker::bollard_rt::BollardRuntime;
use slave::docker::ops::{DockerCtx, Stop, execute};
use slave::remote::reply::ReplySink;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub const SOCKET: &str = "/var/run/docker.sock";
pub const BUSYBOX: &str = "/bin/busybox";
pub const PAGE: &str = "commander-test-ok\n";

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f)
}

/// The engine, or `None` (skip) when there is none outside CI.
pub fn engine() -> Option<BollardRuntime> {
    match block_on(BollardRuntime::connect(Path::new(SOCKET))) {
        Ok(rt) => Some(rt),
        Err(e) if in_ci() => panic!("CI=true but no Docker Engine answers: {e}"),
        Err(e) => {
            eprintln!("SKIPPED: {e} (this is a failure under CI=true)");
            None
        }
    }
}

/// Removes, when dropped (also while a failing test unwinds), every container, network and
/// volume carrying this run's label, and the test image.
pub struct Cleanup {
    pub run: String,
    pub image: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (run, image) = (self.run.clone(), self.image.clone());
        // A fresh thread: the test's own runtime may be unwinding.
        let done = std::thread::spawn(move || {
            block_on(async move {
                let Ok(rt) = BollardRuntime::connect(Path::new(SOCKET)).await else {
                    return;
                };
                let mine = |labels: &BTreeMap<String, String>| {
                    labels.get("commander.test.run") == Some(&run)
                };
                for c in rt.list_containers(true).await.unwrap_or_default() {
                    if mine(&c.labels) {
                        let _ = rt.remove_container(&c.id, true, true).await;
                    }
                }
                for n in rt.list_networks().await.unwrap_or_default() {
                    if mine(&n.labels) {
                        let _ = rt.remove_network(&n.id).await;
                    }
                }
                for v in rt.list_volumes().await.unwrap_or_default() {
                    if mine(&v.labels) {
                        let _ = rt.remove_volume(&v.name, true).await;
                    }
                }
                for tag in [image.clone(), format!("{image}-retag")] {
                    let _ = rt.remove_image(&tag, true, true).await;
                }
            })
        });
        let _ = done.join();
    }
}

pub fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// One ustar header block.
pub fn tar_header(name: &str, mode: u32, size: usize, kind: u8) -> [u8; 512] {
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

/// A root file system: `/bin/busybox`, `/www/index.html`, `/tmp`.
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

/// Runs one operation the way the agent does.
pub async fn op(
    rt: &BollardRuntime,
    op: DockerOp,
    upload: Option<&Path>,
) -> Result<DockerReply, OpError> {
    let (tx, rx) = async_channel::unbounded::<Message>();
    let sink = ReplySink::new(1, tx);
    let (_keep, cancel) = async_channel::bounded(1);
    let stop = Stop::new(
        cancel,
        tokio::time::Instant::now() + Duration::from_secs(120),
    );
    let r = execute(rt, op, upload, &sink, &DockerCtx::default(), &stop).await;
    drop(rx);
    r.map(|body| match body {
        ResponseBody::Docker(r) => *r,
        other => panic!("not a Docker reply: {other:?}"),
    })
}

/// `docker ps` (the CLI, independently of our code) state of container `name`.
pub fn cli_state(name: &str) -> Option<String> {
    let filter = format!("name=^/{name}$");
    let out = Command::new("docker")
        .args(["ps", "-a", "--filter", &filter, "--format", "{{.State}}"])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
            (!s.is_empty()).then_some(s)
        }
        Ok(o) => panic!("docker ps failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => panic!("the docker CLI is needed to cross-check states: {e}"),
    }
}

/// GET / on 127.0.0.1:`port`, retried until the server answers or 20 s pass.
pub fn fetch(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            Ok(body)
        })();
        match attempt {
            Ok(body) if body.contains(PAGE.trim()) => return body,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "container not reachable on {port}: {other:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn labels(run: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("commander.test".to_string(), "1".to_string()),
        ("commander.test.run".to_string(), run.to_string()),
    ])
}

pub fn busybox() -> Option<Vec<u8>> {
    match std::fs::read(BUSYBOX) {
        Ok(b) => Some(b),
        Err(e) if in_ci() => {
            panic!("CI=true but {BUSYBOX} is missing ({e}): install busybox-static")
        }
        Err(e) => {
            eprintln!("SKIPPED: {BUSYBOX}: {e}; install busybox-static (a failure under CI=true)");
            None
        }
    }
}
