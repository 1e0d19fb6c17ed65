//! Projects across hosts (issue 12): the master on the host, three slaves in containers on a
//! private Docker network (io_uring blocked there: the fallback runtimes serve), each slave
//! driving the host's Docker Engine through its socket. Through the REST API only: a project
//! of 4 replicas behind a gateway spreads 2-1-1 or better; requests through the gateway (a
//! new connection each) never fail while v1 → v2 rolls out, nor while a broken v3 fails its
//! health check and rolls back by itself; scaling to 6 and back to 2; a stopped slave's
//! replicas rescheduled, and the surplus removed when it returns; the signed deploy webhook
//! starts an update and an unsigned call is refused; deleting removes every replica.
//!
//! The app images are busybox httpd on `FROM scratch` (no registry here): v1 and v2 answer
//! "v1" / "v2"; v3 serves an empty directory, so its `GET /` answers 404 and fails the check.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use e2e::cluster::*;
use e2e::console::{HTTPD_CMD, docker_prerequisites, import_busybox_httpd, import_busybox_with};
use e2e::docker::{Container, Image, Network, docker};
use e2e::http::{get_json, post_json, request, request_as};
use e2e::wait_for;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(90);
const GATEWAY_PORT: u16 = 12225;
/// Grace period of a lost node in this suite's master configuration.
const NODE_GRACE_SECS: u64 = 8;

/// Removes every container of the project from the host's engine, also when the test fails.
struct ProjectContainers(String);

impl Drop for ProjectContainers {
    fn drop(&mut self) {
        if let Ok(ids) = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=commander.project={}", self.0),
        ]) {
            for id in ids.split_whitespace() {
                let _ = docker(&["rm", "-f", id]);
            }
        }
    }
}

/// An image removed on drop.
struct AppImage(String);

impl Drop for AppImage {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.0]);
    }
}

/// busybox httpd serving `answer` as `/index.html` (none: an empty directory), removed
/// when dropped.
fn app_image(name: &str, answer: Option<&str>) -> anyhow::Result<AppImage> {
    match answer {
        Some(page) => import_busybox_httpd(name, page)?,
        None => import_busybox_with(name, &[("www/.empty", "")], &[HTTPD_CMD])?,
    }
    Ok(AppImage(name.to_owned()))
}

/// `GET /` through the gateway on a new connection: the body, or why it failed.
fn fetch(addr: SocketAddr) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: app\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no response: {text:?}"))?;
    if !head.starts_with("HTTP/1.") || !head.contains(" 200 ") {
        return Err(format!("status: {head:?}"));
    }
    Ok(body.trim().to_owned())
}

/// Answers counted by body, and the failures.
type LoadOutcome = (BTreeMap<String, u64>, Vec<String>);

/// Requests through the gateway, one new connection each, until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<LoadOutcome>>,
}

impl Load {
    fn start(addr: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let (s, o) = (Arc::clone(&stop), Arc::clone(&ok));
        let thread = std::thread::spawn(move || {
            let mut bodies = BTreeMap::new();
            let mut failures = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match fetch(addr) {
                    Ok(body) => {
                        *bodies.entry(body).or_insert(0) += 1;
                        o.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => failures.push(e),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (bodies, failures)
        });
        Self {
            stop,
            ok,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> LoadOutcome {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map(|t| t.join().expect("load thread"))
            .unwrap_or_default()
    }
}

fn project(http: SocketAddr, name: &str) -> anyhow::Result<Value> {
    get_json(http, &format!("/api/v1/projects/{name}"))
}

fn put_json(http: SocketAddr, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
    let r = request(http, "PUT", path, Some(&body.to_string()))?;
    Ok((
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    ))
}

/// The project once it is `ready` on `revision` with `count` healthy replicas of it.
fn wait_ready(http: SocketAddr, name: &str, revision: u64, count: usize) -> anyhow::Result<Value> {
    wait_for(
        &format!("{name} ready on revision {revision} with {count} replicas"),
        WAIT,
        || {
            let p = project(http, name).ok()?;
            let replicas = p["replicas"].as_array()?;
            let healthy = replicas
                .iter()
                .filter(|r| r["healthy"] == true && r["revision"] == revision)
                .count();
            (p["status"] == "ready"
                && p["revision"] == revision
                && healthy == count
                && replicas.len() == count)
                .then_some(p)
        },
    )
    .map_err(|e| {
        let last = project(http, name)
            .map(|p| p.to_string())
            .unwrap_or_default();
        anyhow::anyhow!("{e}; last: {last}")
    })
}

fn per_node(p: &Value) -> BTreeMap<u64, usize> {
    let mut out = BTreeMap::new();
    for r in p["replicas"].as_array().into_iter().flatten() {
        *out.entry(r["node"].as_u64().unwrap_or(0)).or_insert(0) += 1;
    }
    out
}

fn event_kinds(http: SocketAddr, name: &str) -> Vec<String> {
    get_json(http, &format!("/api/v1/projects/{name}/events"))
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect()
}

/// The project's timeline as `kind node replica message` lines, for failure messages.
fn timeline(http: SocketAddr, name: &str) -> Vec<String> {
    get_json(http, &format!("/api/v1/projects/{name}/events"))
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {} {}",
                e["at_ms"], e["kind"], e["node"], e["replica"], e["message"]
            )
        })
        .collect()
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    master::projects::service::hmac_sha256_hex(key.as_bytes(), body).expect("hmac")
}

#[test]
fn projects_spread_update_roll_back_scale_reschedule_and_deploy_by_webhook() -> anyhow::Result<()> {
    if !docker_prerequisites("projects_cluster")? {
        return Ok(());
    }
    let pid = std::process::id();
    let project_name = format!("web{pid}");
    let v1 = app_image(&format!("cmdr-e2e-app:v1-{pid}"), Some("v1"))?;
    let v2 = app_image(&format!("cmdr-e2e-app:v2-{pid}"), Some("v2"))?;
    let v3 = app_image(&format!("cmdr-e2e-app:v3-{pid}"), None)?;
    // Declared after the images: dropped before them, so no image is left dangling.
    let _cleanup = ProjectContainers(project_name.clone());
    let image = Image::with_binary(&e2e::commander_bin()?, &format!("projects{pid}"))?;
    let net = Network::create(&format!("cmdr-projects-{pid}"))?;
    let tmp = tempfile::tempdir()?;
    let mdir = tmp.path().join("master");
    let config = write_config(
        tmp.path(),
        &format!(
            "projects: {{ reconcileIntervalMs: 300, nodeGraceSecs: {NODE_GRACE_SECS}, drainMs: 1500 }}\n"
        ),
    )?;
    let master = start_master(&mdir, &config, 0, &[])?;
    let dial = format!("{}:{}", net.gateway, master.tcp.port());
    // Replicas are published on the host: other hosts reach them at the network's gateway.
    let slave_yaml = tmp.path().join("slave.yaml");
    std::fs::write(
        &slave_yaml,
        format!("workloads:\n  advertiseAddress: {}\n", net.gateway),
    )?;
    let mount_config = format!("{}:/slave.yaml:ro", slave_yaml.display());
    let mut slaves = Vec::new();
    for i in 1..=3 {
        let token = if i == 1 {
            master.token.clone()
        } else {
            create_token(&mdir)?
        };
        slaves.push(Container::run_with(
            &format!("cmdr-projects-{pid}-s{i}"),
            &image,
            &net,
            &[
                "-v",
                "/var/run/docker.sock:/var/run/docker.sock",
                "-v",
                &mount_config,
            ],
            &[
                "/commander",
                "slave",
                "--config",
                "/slave.yaml",
                "--join",
                &token,
                "--master",
                &dial,
                "--data-dir",
                "/data",
            ],
        )?);
    }
    let http = master.http;
    let listed = wait_for("three slaves online", WAIT, || {
        let list = nodes(http).ok()?;
        let ids: Vec<u64> = list.iter().filter_map(|n| n["id"].as_u64()).collect();
        (ids.len() == 3 && ids.iter().all(|id| online_with_metrics(&list, *id))).then_some(list)
    })
    .map_err(|e| {
        let logs: Vec<String> = slaves.iter().map(Container::logs).collect();
        anyhow::anyhow!("{e}\n{}", logs.join("\n---\n"))
    })?;
    let node_of = |c: &Container| -> u64 {
        let short = docker(&["inspect", "-f", "{{.Config.Hostname}}", &c.name]).unwrap();
        listed
            .iter()
            .find(|n| n["hostname"].as_str() == Some(short.as_str()))
            .and_then(|n| n["id"].as_u64())
            .expect("node of container")
    };
    let gateway_node = node_of(&slaves[0]);
    let lost_node = node_of(&slaves[2]);
    let gateway: SocketAddr = format!("{}:{GATEWAY_PORT}", slaves[0].ip(&net)?).parse()?;

    // Create: 4 replicas behind a gateway on the first slave.
    let (status, created) = post_json(
        http,
        "/api/v1/projects",
        &json!({
            "name": project_name,
            "image": v1.0,
            "replicas": 4,
            "container_port": 80,
            // Timeouts generous enough that a loaded CI machine does not make healthy
            // replicas flap out of the gateway.
            "health": {"type": "http", "path": "/", "interval_s": 2, "timeout_s": 2,
                       "unhealthy_threshold": 5},
            "update": {"strategy": "rolling", "max_surge": 1, "max_unavailable": 0,
                       "deadline_s": 15},
            "gateway": {"node": gateway_node, "port": GATEWAY_PORT},
        }),
    )?;
    anyhow::ensure!(status == 201 || status == 202, "create: {status} {created}");
    let secret = created["webhook_secret"]
        .as_str()
        .context("webhook secret")?
        .to_owned();
    let p = wait_ready(http, &project_name, 1, 4)?;
    let spread = per_node(&p);
    assert_eq!(spread.len(), 3, "4 replicas over 3 slaves: {spread:?}");
    assert!(
        spread.values().all(|c| *c <= 2),
        "2-1-1 or better: {spread:?}"
    );
    wait_for("the gateway answers v1", WAIT, || {
        (fetch(gateway).ok()? == "v1").then_some(())
    })?;
    assert_eq!(p["gateway"]["upstreams"].as_array().map(Vec::len), Some(4));

    // v1 → v2 under load: no failed request.
    let load = Load::start(gateway);
    let (status, body) = put_json(
        http,
        &format!("/api/v1/projects/{project_name}"),
        &json!({"image": v2.0}),
    )?;
    assert_eq!(status, 200, "update: {body}");
    wait_ready(http, &project_name, 2, 4)?;
    wait_for("the gateway answers v2", WAIT, || {
        (fetch(gateway).ok()? == "v2").then_some(())
    })?;
    let served = load.ok.load(Ordering::Relaxed);
    let (bodies, failures) = load.finish();
    eprintln!("update v1 → v2: {served} requests {bodies:?}");
    assert!(
        failures.is_empty(),
        "failed during the update: {failures:?}\ntimeline: {:?}",
        timeline(http, &project_name)
    );
    assert!(
        bodies.contains_key("v1") && bodies.contains_key("v2"),
        "{bodies:?}"
    );

    // A broken v3: rolled back to v2 by itself, still no failed request.
    let load = Load::start(gateway);
    let (status, body) = put_json(
        http,
        &format!("/api/v1/projects/{project_name}"),
        &json!({"image": v3.0}),
    )?;
    assert_eq!(status, 200, "update to v3: {body}");
    wait_for("rollout of v3 failed and rolled back", WAIT, || {
        let kinds = event_kinds(http, &project_name);
        (kinds.iter().any(|k| k == "rollout_failed") && kinds.iter().any(|k| k == "rolling_back"))
            .then_some(())
    })?;
    let p = wait_ready(http, &project_name, 2, 4)?;
    let (bodies, failures) = load.finish();
    eprintln!("broken v3 rolled back: {bodies:?}");
    assert!(
        failures.is_empty(),
        "failed during the rollback: {failures:?}\ntimeline: {:?}",
        timeline(http, &project_name)
    );
    assert!(!bodies.contains_key(""), "{bodies:?}");
    assert_eq!(p["image"], v2.0);

    // Scale to 6 and back to 2, spread kept even.
    let scale = |n: u64| {
        post_json(
            http,
            &format!("/api/v1/projects/{project_name}/scale"),
            &json!({"replicas": n}),
        )
    };
    let (status, body) = scale(6)?;
    assert_eq!(status, 200, "scale 6: {body}");
    let p = wait_ready(http, &project_name, 2, 6)?;
    assert!(
        per_node(&p).values().all(|c| *c == 2),
        "6 over 3: {:?}",
        per_node(&p)
    );
    let (status, body) = scale(2)?;
    assert_eq!(status, 200, "scale 2: {body}");
    let p = wait_ready(http, &project_name, 2, 2)?;
    assert!(
        per_node(&p).values().all(|c| *c == 1),
        "2 over 3: {:?}",
        per_node(&p)
    );
    let (status, _) = scale(3)?;
    assert_eq!(status, 200);
    wait_ready(http, &project_name, 2, 3)?;

    // The third slave stops: its replica is replaced elsewhere after the grace period.
    slaves[2].stop(2)?;
    let started = std::time::Instant::now();
    wait_for(
        "replicas of the stopped slave rescheduled",
        Duration::from_secs(NODE_GRACE_SECS + 60),
        || {
            let p = project(http, &project_name).ok()?;
            let live = p["replicas"]
                .as_array()?
                .iter()
                .filter(|r| r["node"] != lost_node && r["healthy"] == true)
                .count();
            (live == 3).then_some(())
        },
    )?;
    eprintln!(
        "rescheduled {:.1} s after the slave stopped (grace {NODE_GRACE_SECS} s)",
        started.elapsed().as_secs_f64()
    );
    slaves[2].start()?;
    wait_for("the slave is back online", WAIT, || {
        online_with_metrics(&nodes(http).ok()?, lost_node).then_some(())
    })?;
    wait_ready(http, &project_name, 2, 3)?;
    let engine_count = |project: &str| -> usize {
        docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=commander.project={project}"),
        ])
        .map(|s| s.split_whitespace().count())
        .unwrap_or(usize::MAX)
    };
    wait_for("surplus containers removed", WAIT, || {
        (engine_count(&project_name) == 3).then_some(())
    })?;

    // Deploy webhook: unsigned refused, signed starts an update to v1.
    let path = format!("/api/v1/projects/{project_name}/webhook");
    let body = json!({"image": v1.0}).to_string();
    let unsigned = request_as(http, None, "POST", &path, Some(&body))?;
    assert_eq!(unsigned.status, 401, "unsigned webhook: {}", unsigned.body);
    let signed = signed_post(http, &path, &body, &hmac_hex(&secret, body.as_bytes()))?;
    assert!(
        signed.0 == 200 || signed.0 == 202,
        "signed webhook: {} {}",
        signed.0,
        signed.1
    );
    let replay = signed_post(http, &path, &body, &hmac_hex(&secret, body.as_bytes()))?;
    assert_eq!(replay.0, 401, "replayed webhook: {}", replay.1);
    // Revisions: 1 v1, 2 v2, 3 the broken v3, 4 v1 again by the webhook.
    wait_ready(http, &project_name, 4, 3)?;
    wait_for("the gateway answers v1 again", WAIT, || {
        (fetch(gateway).ok()? == "v1").then_some(())
    })?;

    // Delete: every replica and the gateway go.
    let r = request(
        http,
        "DELETE",
        &format!("/api/v1/projects/{project_name}"),
        None,
    )?;
    assert!(
        r.status == 200 || r.status == 204,
        "delete: {} {}",
        r.status,
        r.body
    );
    wait_for("every replica removed", WAIT, || {
        (engine_count(&project_name) == 0).then_some(())
    })?;
    wait_for("the gateway stopped", WAIT, || {
        fetch(gateway).is_err().then_some(())
    })?;
    drop(master);
    Ok(())
}

/// `POST path` with the webhook signature and no other credentials.
fn signed_post(
    http: SocketAddr,
    path: &str,
    body: &str,
    hex: &str,
) -> anyhow::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&http, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\nContent-Type: application/json\r\nX-Commander-Signature: sha256={hex}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("status")?;
    Ok((status, text))
}
