//! Host operations through the master's REST API against a real slave on loopback: start a
//! sleep process, find it in the process list, read its details, signal it (and see it
//! die); a refused signal to pid 1; sockets, disks, a performance sample, the environment
//! profile; edit and restore a hosts file in a temporary path the slave's configuration
//! file names (`hostsFile:`), with a bad edit refused and the file untouched; an offline
//! slave answered at once; then one audit entry per call with the right fields.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::ops::*;
use serde_json::json;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

#[test]
fn host_operations_through_the_rest_api() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let hosts = tmp.path().join("hosts");
    let original = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n";
    std::fs::write(&hosts, original)?;
    let mut rig = Rig::start(tmp.path(), &format!("hostsFile: {}\n", hosts.display()))?;

    // A process to find and signal.
    let mut sleeper = std::process::Command::new("sleep").arg("1234.5").spawn()?;
    let pid = sleeper.id();
    // Right after spawn the child's command line can still be ours; wait for the exec.
    e2e::wait_for("sleep to exec", std::time::Duration::from_secs(5), || {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.starts_with(b"sleep\0"))
            .then_some(())
    })?;
    let (s, page) = rig.call(
        "GET",
        "/processes?filter=1234.5&sort=pid&limit=0",
        None,
        ("host.list_processes", "/processes", "ok"),
    )?;
    assert_eq!(s, 200, "{page}");
    let row = page["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == pid)
        .unwrap_or_else(|| panic!("pid {pid} not in {page}"))
        .clone();
    assert_eq!(row["command"], "sleep 1234.5");
    assert!(row["rss_bytes"].as_u64().is_some_and(|r| r > 0), "{row}");
    let (s, all) = rig.call(
        "GET",
        "/processes?sort=rss&limit=5",
        None,
        ("host.list_processes", "/processes", "ok"),
    )?;
    assert_eq!(
        (s, all["processes"].as_array().unwrap().len()),
        (200, 5),
        "{all}"
    );
    assert!(all["total"].as_u64().unwrap() > 5);
    let target = format!("/process/{pid}");
    let (s, details) = rig.call(
        "GET",
        &format!("/processes/{pid}"),
        None,
        ("host.process_details", &target, "ok"),
    )?;
    assert_eq!(s, 200, "{details}");
    assert_eq!(details["args"], json!(["sleep", "1234.5"]));
    let (s, signalled) = rig.call(
        "POST",
        &format!("/processes/{pid}/signal"),
        Some(json!({"signal": "SIGTERM"})),
        ("host.signal", &target, "ok"),
    )?;
    assert_eq!((s, signalled), (200, json!({"pid": pid, "signal": 15})));
    let status = sleeper.wait()?;
    assert_eq!(status.signal(), Some(15), "{status:?}");
    let (s, e) = rig.call(
        "POST",
        "/processes/1/signal",
        Some(json!({"signal": 15})),
        ("host.signal", "/process/1", "failed"),
    )?;
    assert_eq!(s, 403, "pid 1 needs force: {e}");
    let (s, e) = rig.call(
        "POST",
        &format!("/processes/{pid}/signal"),
        Some(json!({"signal": 99})),
        ("host.signal", &target, "denied"),
    )?;
    assert_eq!((s, e["field"].clone()), (400, json!("signal")), "{e}");

    // Sockets: the master's protocol port is listening.
    let (s, sockets) = rig.call(
        "GET",
        "/sockets?established=false",
        None,
        ("host.sockets", "/sockets", "ok"),
    )?;
    assert_eq!(s, 200);
    let port = format!(":{}", rig.master.tcp.port());
    assert!(
        sockets
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["state"] == "LISTEN"
                && x["local"].as_str().is_some_and(|l| l.ends_with(&port))),
        "{port} not listening in {sockets}"
    );
    let (s, disks) = rig.call("GET", "/disks", None, ("host.disks", "/disks", "ok"))?;
    assert!(
        s == 200 && disks.as_array().is_some_and(|d| !d.is_empty()),
        "{disks}"
    );
    let (s, perf) = rig.call(
        "GET",
        "/performance",
        None,
        ("host.performance", "/performance", "ok"),
    )?;
    assert!(
        s == 200 && perf["mem_total_bytes"].as_u64().is_some_and(|m| m > 0),
        "{perf}"
    );

    // The environment profile.
    let (s, env) = rig.call("GET", "/env", None, ("host.get_env", "/env", "ok"))?;
    assert!(s == 200 && env["inherited"].is_array(), "{env}");
    let edit =
        json!({"set": [{"key": "COMMANDER_E2E", "value": "1"}], "unset": ["COMMANDER_NOPE"]});
    let (s, env) = rig.call("PUT", "/env", Some(edit), ("host.set_env", "/env", "ok"))?;
    assert_eq!(s, 200, "{env}");
    assert_eq!(env["set"][0]["key"], "COMMANDER_E2E");
    assert_eq!(env["unset"], json!(["COMMANDER_NOPE"]));

    // The hosts file: view, edit, a refused edit, restore.
    let (s, file) = rig.call("GET", "/hosts", None, ("host.get_hosts", "/hosts", "ok"))?;
    assert_eq!(
        (s, file["content"].clone()),
        (200, json!(original)),
        "{file}"
    );
    assert_eq!(file["path"], hosts.display().to_string());
    let edited = format!("{original}10.1.2.3 db.e2e.test db\n");
    let (s, file) = rig.call(
        "PUT",
        "/hosts",
        Some(json!({"content": edited})),
        ("host.put_hosts", "/hosts", "ok"),
    )?;
    assert_eq!(s, 200, "{file}");
    assert_eq!(std::fs::read_to_string(&hosts)?, edited);
    assert!(
        file["entries"].to_string().contains("db.e2e.test"),
        "{file}"
    );
    let (s, e) = rig.call(
        "PUT",
        "/hosts",
        Some(json!({"content": "10.0.0.1 db\n"})),
        ("host.put_hosts", "/hosts", "denied"),
    )?;
    assert_eq!((s, e["field"].clone()), (400, json!("content")), "{e}");
    assert_eq!(
        std::fs::read_to_string(&hosts)?,
        edited,
        "a refused edit changes nothing"
    );
    let (s, file) = rig.call(
        "POST",
        "/hosts/restore",
        None,
        ("host.restore_hosts", "/hosts", "ok"),
    )?;
    assert_eq!(s, 200, "{file}");
    assert_eq!(std::fs::read_to_string(&hosts)?, original);

    // An offline slave is answered at once (the killed slave's session closes at once).
    rig.slave.kill();
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    let (s, e) = rig.call("GET", "/disks", None, ("host.disks", "/disks", "failed"))?;
    assert_eq!(s, 503, "{e}");
    assert!(
        e["error"].as_str().is_some_and(|m| m.contains("offline")),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "at once: {:?}",
        started.elapsed()
    );

    rig.check_audit()
}
