//! Multi-host cluster: the master on the host, two slaves in Docker containers on a private
//! network (where Docker's seccomp profile decides whether io_uring is available). One slave
//! is cut off the network and comes back (with a new address: identity is its key, not its
//! IP); the other is killed and goes offline.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::cluster::*;
use e2e::docker::{self, Container, Image, Network};
use e2e::wait_for;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn slaves_in_containers_survive_partition_and_kill() -> anyhow::Result<()> {
    if !docker::available()? {
        return Ok(());
    }
    let pid = std::process::id();
    let image = Image::with_binary(&e2e::commander_bin()?, &format!("p{pid}"))?;
    let net = Network::create(&format!("cmdr-test-{pid}"))?;
    let tmp = tempfile::tempdir()?;
    let mdir = tmp.path().join("master");
    let config = write_config(tmp.path(), "")?;
    let master = start_master(&mdir, &config, 0, &[])?;
    let dial = format!("{}:{}", net.gateway, master.tcp.port());
    let token2 = create_token(&mdir)?;

    let s1 = Container::run(
        &format!("cmdr-test-{pid}-s1"),
        &image,
        &net,
        &[
            "/commander",
            "slave",
            "--join",
            &master.token,
            "--master",
            &dial,
            "--data-dir",
            "/data",
        ],
    )?;
    let s2 = Container::run(
        &format!("cmdr-test-{pid}-s2"),
        &image,
        &net,
        &[
            "/commander",
            "slave",
            "--join",
            &token2,
            "--master",
            &dial,
            "--data-dir",
            "/data",
        ],
    )?;

    let both = wait_for("both containers online with metrics", WAIT, || {
        let list = nodes(master.http).ok()?;
        let ids: Vec<u64> = list.iter().filter_map(|n| n["id"].as_u64()).collect();
        (ids.len() == 2 && ids.iter().all(|id| online_with_metrics(&list, *id))).then_some(list)
    })
    .map_err(|e| anyhow::anyhow!("{e}\ns1: {}\ns2: {}", s1.logs(), s2.logs()))?;
    for c in [&s1, &s2] {
        let logs = c.logs();
        assert!(logs.contains("slave runtime:"), "runtime logged: {logs}");
        eprintln!(
            "{}: {}",
            c.name,
            logs.lines()
                .find(|l| l.contains("slave runtime:"))
                .unwrap_or("")
        );
    }
    // Container host names are their ids' prefixes; map node ids to containers that way.
    let id_of = |c: &Container| -> u64 {
        let short = docker_hostname(&c.name);
        both.iter()
            .find(|n| n["hostname"].as_str() == Some(short.as_str()))
            .and_then(|n| n["id"].as_u64())
            .expect("node for container")
    };
    let (id1, id2) = (id_of(&s1), id_of(&s2));

    net.disconnect(&s2)?;
    wait_for("partitioned slave offline", WAIT, || {
        let list = nodes(master.http).ok()?;
        (node(&list, id2)?["online"] == false && online_with_metrics(&list, id1)).then_some(())
    })?;
    net.connect(&s2)?;
    wait_for(
        "partitioned slave back online",
        Duration::from_secs(120),
        || online_with_metrics(&nodes(master.http).ok()?, id2).then_some(()),
    )
    .map_err(|e| anyhow::anyhow!("{e}\ns2: {}", s2.logs()))?;

    s1.kill()?;
    wait_for("killed container offline", WAIT, || {
        let list = nodes(master.http).ok()?;
        (node(&list, id1)?["online"] == false && online_with_metrics(&list, id2)).then_some(())
    })?;
    Ok(())
}

fn docker_hostname(container: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["inspect", "-f", "{{.Config.Hostname}}", container])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
