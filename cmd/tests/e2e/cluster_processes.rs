//! A master and two slaves as separate processes on loopback: both come online with
//! metrics; a killed slave goes offline; a restarted master keeps the node list and the
//! survivor comes back. One slave runs on io_uring and the other with io_uring disabled.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::cluster::*;
use e2e::wait_for;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn master_and_two_slaves_survive_kill_and_restart() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mdir = tmp.path().join("master");
    let config = write_config(tmp.path(), "")?;
    let mut master = start_master(&mdir, &config, 0, &[])?;
    let token2 = create_token(&mdir)?;
    let (s1dir, s2dir) = (tmp.path().join("s1"), tmp.path().join("s2"));
    let _s1 = start_slave("slave1", &s1dir, Some(&master.token), None, &[])?;
    let mut s2 = start_slave(
        "slave2",
        &s2dir,
        Some(&token2),
        None,
        &[("COMMANDER_DISABLE_IO_URING", "1")],
    )?;

    let (id1, id2) = wait_for("both slaves enrolled", WAIT, || {
        Some((node_id_of(&s1dir).ok()?, node_id_of(&s2dir).ok()?))
    })?;
    assert_ne!(id1, id2);
    wait_for("both nodes online with metrics", WAIT, || {
        let list = nodes(master.http).ok()?;
        (list.len() == 2 && online_with_metrics(&list, id1) && online_with_metrics(&list, id2))
            .then_some(())
    })?;
    s2.wait_line("legacy epoll driver", WAIT)?;

    s2.kill();
    wait_for("killed slave offline", WAIT, || {
        let list = nodes(master.http).ok()?;
        let n2 = node(&list, id2)?;
        (n2["online"] == false && online_with_metrics(&list, id1)).then_some(())
    })?;

    let tcp_port = master.tcp.port();
    let old_token = master.api_token.clone();
    master.proc.kill();
    let master = start_master(&mdir, &config, tcp_port, &[])?;
    // Sessions and the signing secret survive the restart: the old token still works.
    let r = e2e::http::request_as(master.http, Some(&old_token), "GET", "/api/v1/nodes", None)?;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = wait_for("survivor back online after master restart", WAIT, || {
        let list = nodes(master.http).ok()?;
        online_with_metrics(&list, id1).then_some(list)
    })?;
    assert_eq!(list.len(), 2, "node list intact: {list:?}");
    let n2 = node(&list, id2).expect("node 2 kept");
    assert_eq!(n2["online"], false);
    assert!(
        n2["hostname"].as_str().is_some_and(|h| !h.is_empty()),
        "host facts kept: {n2}"
    );
    assert!(
        n2["metrics"].is_object(),
        "latest metrics kept across restart: {n2}"
    );
    Ok(())
}

#[test]
fn portable_master_serves_slaves_and_revoked_node_is_refused() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mdir = tmp.path().join("master");
    let config = write_config(tmp.path(), "")?;
    let master = start_master(&mdir, &config, 0, &[("COMMANDER_DISABLE_IO_URING", "1")])?;
    assert!(
        master.proc.lines().iter().any(|l| l.contains("portable")),
        "master logs the fallback runtime"
    );
    // The API needs the console token; the first start offered registration once.
    let r = e2e::http::request_as(master.http, None, "GET", "/api/v1/nodes", None)?;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("\"error\""), "{}", r.body);
    assert!(
        master
            .proc
            .lines()
            .iter()
            .any(|l| l.contains("create the administrator account")),
        "the first start points at registration"
    );
    let (status, _) = e2e::http::post_json(
        master.http,
        "/api/v1/auth/register",
        &serde_json::json!({ "username": "second", "password": "Another secret 2" }),
    )?;
    assert_eq!(status, 403, "registration happens once");
    let audit = e2e::http::get_json(master.http, "/api/v1/audit?action=auth")?;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    // The refused second registration is counted, not audited (issue 11: no audit entry per
    // attempt against closed registration).
    assert_eq!(actions, ["auth.login", "auth.register"], "{audit}");
    let (status, _) =
        e2e::http::post_json(master.http, "/api/v1/auth/logout", &serde_json::json!({}))?;
    assert_eq!(status, 200);
    let r = e2e::http::request(master.http, "GET", "/api/v1/nodes", None)?;
    assert_eq!(r.status, 401, "a logged-out token is refused");
    e2e::cluster::console_login(master.http)?;
    let sdir = tmp.path().join("s");
    let mut slave = start_slave("slave", &sdir, Some(&master.token), None, &[])?;
    let id = wait_for("enrolled", WAIT, || node_id_of(&sdir).ok())?;
    wait_for("online", WAIT, || {
        online_with_metrics(&nodes(master.http).ok()?, id).then_some(())
    })?;

    // A used token cannot enrol a second slave.
    let mut reuse = start_slave(
        "reuse",
        &tmp.path().join("r"),
        Some(&master.token),
        None,
        &[],
    )?;
    reuse.wait_line("join token already used", WAIT)?;

    slave.kill();
    let out = std::process::Command::new(e2e::commander_bin()?)
        .args(["node", "revoke", &id.to_string(), "--data-dir"])
        .arg(&mdir)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut again = start_slave("revoked", &sdir, None, None, &[])?;
    again.wait_line("revoked", WAIT)?;
    wait_for("revoked slave exits", WAIT, || {
        (!again.is_running()).then_some(())
    })?;
    Ok(())
}
