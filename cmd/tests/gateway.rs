//! The standalone binary: `--check`, start-up announcement, admin endpoint (`/stats`,
//! `/metrics`, `POST /reload`), SIGHUP reload, the io_uring switch-off variable, and a
//! clean exit on SIGTERM.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_commander-gateway");

struct Running {
    child: Child,
    ready: serde_json::Value,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn launch(config: &std::path::Path, env: &[(&str, &str)]) -> Running {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(config).arg("--drain").arg("1s");
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ready["event"], "ready");
    Running { child, ready }
}

fn http(addr: &str, method: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp[9..12].parse().unwrap();
    let body = resp
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args(["-s", sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn write_config(path: &std::path::Path, ups: &[SocketAddr], listen: &str) {
    let ups: Vec<String> = ups.iter().map(|a| format!("\"{a}\"")).collect();
    let yaml = format!(
        "workers: 2\nadmin: 127.0.0.1:0\ngateways:\n  - name: web\n    listen: \"{listen}\"\n    upstreams: [{}]\n",
        ups.join(", ")
    );
    std::fs::write(path, yaml).unwrap();
}

#[test]
fn check_flag_names_the_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gw.yaml");
    std::fs::write(
        &p,
        "gateways:\n  - name: a\n    listen: 127.0.0.1:1\n    algorithm: random\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&p)
        .arg("--check")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gateways[0].algorithm"), "{err}");
}

#[test]
fn admin_endpoint_sighup_and_sigterm() {
    let (a, b) = (tagged("a"), tagged("b"));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gw.yaml");
    write_config(&p, &[a[0].addr], "127.0.0.1:0");
    let mut run = launch(&p, &[]);
    let listen = run.ready["gateways"][0]["listen"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = run.ready["admin"].as_str().unwrap().to_string();
    let gw: SocketAddr = listen.parse().unwrap();
    assert_eq!(tag_of(&mut TcpStream::connect(gw).unwrap()), Some('a'));

    let (status, body) = http(&admin, "GET", "/stats");
    assert_eq!(status, 200);
    let stats: gateway::Stats = serde_json::from_str(&body).unwrap();
    assert!(stats.gateway("web").unwrap().total >= 1);
    let (status, metrics) = http(&admin, "GET", "/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("commander_gateway_connections_total{gateway=\"web\"}"));
    assert_eq!(http(&admin, "GET", "/nope").0, 404);
    assert_eq!(http(&admin, "GET", "/reload").0, 405);

    // POST /reload: switch to b (same bound port).
    write_config(&p, &[b[0].addr], &listen);
    let (status, body) = http(&admin, "POST", "/reload");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"changed\""), "{body}");
    assert_eq!(tag_of(&mut TcpStream::connect(gw).unwrap()), Some('b'));

    // A broken file is refused and the running configuration stays.
    std::fs::write(&p, "gateways: [{name: web}]\n").unwrap();
    let (status, body) = http(&admin, "POST", "/reload");
    assert_eq!(status, 500);
    assert!(body.contains("listen"), "{body}");
    assert_eq!(tag_of(&mut TcpStream::connect(gw).unwrap()), Some('b'));

    // SIGHUP: back to a.
    write_config(&p, &[a[0].addr], &listen);
    signal(&run.child, "HUP");
    assert!(wait_until(Duration::from_secs(10), || {
        tag_of(&mut TcpStream::connect(gw).unwrap()) == Some('a')
    }));

    signal(&run.child, "TERM");
    let status = run.child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn env_variable_forces_the_legacy_driver() {
    let a = tagged("a");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gw.yaml");
    write_config(&p, &[a[0].addr], "127.0.0.1:0");
    let run = launch(&p, &[("COMMANDER_DISABLE_IO_URING", "1")]);
    assert_eq!(run.ready["driver"], "legacy");
    let gw: SocketAddr = run.ready["gateways"][0]["listen"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(round_trip(gw, b"").unwrap(), b"a");
}
