//! The standalone gateway, run both as `commander-gateway` and as `commander gateway` (one
//! function serves both, and every test runs against each): `--check`, start-up
//! announcement, relaying to an echo upstream, admin endpoint (`/stats`, `/metrics`,
//! `POST /reload`), SIGHUP reload, the io_uring switch-off variable, a clean exit on
//! SIGTERM, and configuration errors that name the key and its line and column.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The two ways to start the gateway.
const BINS: [Bin; 2] = [Bin::Standalone, Bin::Subcommand];

#[derive(Debug, Clone, Copy)]
enum Bin {
    /// `commander-gateway ...`
    Standalone,
    /// `commander gateway ...`
    Subcommand,
}

impl Bin {
    fn command(self) -> Command {
        match self {
            Bin::Standalone => Command::new(env!("CARGO_BIN_EXE_commander-gateway")),
            Bin::Subcommand => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_commander"));
                c.arg("gateway");
                c
            }
        }
    }
}

/// A loopback upstream that writes its one-letter tag, then echoes until EOF; its thread
/// ends with the test process.
struct Upstream {
    addr: SocketAddr,
}

fn tagged(tags: &str) -> Vec<Upstream> {
    tags.chars()
        .map(|tag| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            std::thread::spawn(move || {
                for mut s in l.incoming().map_while(Result::ok) {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 4096];
                        if s.write_all(tag.to_string().as_bytes()).is_err() {
                            return;
                        }
                        while let Ok(n @ 1..) = s.read(&mut buf) {
                            if s.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    });
                }
            });
            Upstream { addr }
        })
        .collect()
}

fn tag_of(s: &mut TcpStream) -> Option<char> {
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(1) => Some(b[0] as char),
        _ => None,
    }
}

fn round_trip(addr: SocketAddr, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(msg)?;
    s.shutdown(Shutdown::Write)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}

fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

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

fn launch(bin: Bin, config: &std::path::Path, env: &[(&str, &str)]) -> Running {
    let mut cmd = bin.command();
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
    // A script's POST carries the admin's custom header (a cross-site page cannot).
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Commander-Admin: 1\r\n\r\n"
    )
    .unwrap();
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

/// Runs `bin --config FILE [--check]` on `yaml`, expects a failure and returns its
/// standard error.
fn failure(bin: Bin, yaml: &str, check: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gw.yaml");
    std::fs::write(&p, yaml).unwrap();
    let mut cmd = bin.command();
    cmd.arg("--config").arg(&p);
    if check {
        cmd.arg("--check");
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success(), "{bin:?} accepted {yaml:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_flag_names_the_bad_key() {
    for bin in BINS {
        let err = failure(
            bin,
            "gateways:\n  - name: a\n    listen: 127.0.0.1:1\n    algorithm: random\n",
            true,
        );
        assert!(err.contains("gateways[0].algorithm"), "{bin:?}: {err}");
    }
}

#[test]
fn invalid_file_names_the_key_and_its_position() {
    let yaml =
        "workers: 1\ngateways:\n  - name: a\n    listen: 127.0.0.1:0\n    health: {rise: many}\n";
    for bin in BINS {
        for check in [true, false] {
            let err = failure(bin, yaml, check);
            assert!(err.contains("gateways[0].health.rise"), "{bin:?}: {err}");
            assert!(err.contains("line 5 column"), "{bin:?}: {err}");
        }
        let err = failure(bin, "gateways:\n  - name: a\n    listn: x\n", false);
        assert!(
            err.contains("listn") && err.contains("line 3"),
            "{bin:?}: {err}"
        );
    }
}

#[test]
fn relays_to_an_echo_upstream_and_stops_on_sigterm() {
    for bin in BINS {
        let up = tagged("e");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gw.yaml");
        write_config(&p, &[up[0].addr], "127.0.0.1:0");
        let mut run = launch(bin, &p, &[]);
        let gw: SocketAddr = run.ready["gateways"][0]["listen"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(round_trip(gw, b"hello").unwrap(), b"ehello", "{bin:?}");
        signal(&run.child, "TERM");
        assert!(run.child.wait().unwrap().success(), "{bin:?}");
    }
}

#[test]
fn admin_endpoint_sighup_and_sigterm() {
    for bin in BINS {
        admin_endpoint_sighup_and_sigterm_of(bin);
    }
}

fn admin_endpoint_sighup_and_sigterm_of(bin: Bin) {
    let (a, b) = (tagged("a"), tagged("b"));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gw.yaml");
    write_config(&p, &[a[0].addr], "127.0.0.1:0");
    let mut run = launch(bin, &p, &[]);
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
    for bin in BINS {
        let a = tagged("a");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gw.yaml");
        write_config(&p, &[a[0].addr], "127.0.0.1:0");
        let run = launch(bin, &p, &[("COMMANDER_DISABLE_IO_URING", "1")]);
        assert_eq!(run.ready["driver"], "legacy", "{bin:?}");
        let gw: SocketAddr = run.ready["gateways"][0]["listen"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(round_trip(gw, b"").unwrap(), b"a", "{bin:?}");
    }
}
