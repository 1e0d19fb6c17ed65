//! Docker management through the master's REST API, against the real Docker Engine of this
//! machine: a master and a slave on loopback; an image imported from a busybox tarball
//! (uploaded to the master, streamed to the slave in chunks, a task); a container run with
//! a port mapping and reached; its logs (also followed), stats and processes read; renamed,
//! paused and unpaused, restarted, stopped and removed, with `docker ps` checked at each
//! step; bad input refused before anything is sent; then the audit log holds one entry per
//! call with the right fields. Everything carries `commander.test=1` and is removed when the
//! test ends, also when it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::ops::*;
use serde_json::{Value, json};
use std::time::Duration;

#[test]
fn containers_through_the_rest_api_against_the_real_engine() -> anyhow::Result<()> {
    if !e2e::docker::available()? {
        return Ok(());
    }
    let Some(bb) = busybox()? else {
        return Ok(());
    };
    let run = unique();
    let repo = "commander-test/ops-busybox";
    let image = format!("{repo}:{run}");
    let _cleanup = Cleanup {
        run: run.clone(),
        images: vec![image.clone(), format!("{image}-retag")],
    };
    let tmp = tempfile::tempdir()?;
    let mut rig = Rig::start(tmp.path(), "")?;
    let http = rig.master.http;

    let (s, info) = rig.call(
        "GET",
        "/docker/info",
        None,
        ("docker.info", "/docker", "ok"),
    )?;
    assert_eq!(s, 200, "{info}");
    assert!(
        info["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{info}"
    );

    // Import: the tarball goes up in one request and down to the slave in chunks.
    let tar = rootfs_tar(&bb);
    assert!(tar.len() > 3 * protocol_chunk(), "more than a few chunks");
    let path = rig.path(&format!("/docker/images/import?repo={repo}&tag={run}"));
    let (s, accepted) = post_bytes(http, &path, &tar)?;
    assert_eq!(s, 202, "{accepted}");
    rig.expect(("docker.import_image", &format!("/image/{repo}"), "ok"));
    let task = rig.wait_task(accepted["task"].as_u64().unwrap())?;
    assert_eq!(task["state"], "succeeded", "{task}");
    assert_eq!(task["result"], json!([image]), "{task}");
    assert_eq!(task["progress"]["uploaded_bytes"], tar.len());
    let (s, images) = rig.call(
        "GET",
        "/docker/images",
        None,
        ("docker.list_images", "/images", "ok"),
    )?;
    assert_eq!(s, 200);
    assert!(images.to_string().contains(&image), "{images}");
    let enc = image.replace('/', "%2F");
    let (s, history) = rig.call(
        "GET",
        &format!("/docker/images/{enc}/history"),
        None,
        ("docker.image_history", &format!("/image/{image}"), "ok"),
    )?;
    assert!(
        s == 200 && history.as_array().is_some_and(|h| !h.is_empty()),
        "{history}"
    );
    let (s, tagged) = rig.call(
        "POST",
        &format!("/docker/images/{enc}/tag"),
        Some(json!({"repo": repo, "tag": format!("{run}-retag")})),
        ("docker.tag_image", &format!("/image/{image}"), "ok"),
    )?;
    assert_eq!(
        (s, tagged["image"].clone()),
        (201, json!(format!("{image}-retag")))
    );

    // Bad input: a 400 naming the field, before anything is sent.
    let name = format!("cmdr-ops-{run}");
    let port = free_port()?;
    let labels = json!({"commander.test": "1", "commander.test.run": run});
    let bad = json!({"image": image, "name": name, "ports": [format!("{port}:80/tcp"), "0:80"], "labels": labels});
    let (s, e) = rig.call(
        "POST",
        "/docker/containers",
        Some(bad),
        (
            "docker.create_container",
            &format!("/image/{image}"),
            "denied",
        ),
    )?;
    assert_eq!((s, e["field"].clone()), (400, json!("ports[1]")), "{e}");
    assert_eq!(cli_state(&name)?, None, "nothing was created");

    // Run it with a port mapping and reach it.
    let form = json!({
        "image": image, "name": name,
        "cmd": ["/bin/busybox", "httpd", "-f", "-v", "-p", "80", "-h", "/www"],
        "env": ["COMMANDER_TEST=1"], "ports": [format!("127.0.0.1:{port}:80/tcp")],
        "labels": labels, "memory_bytes": 64 << 20, "restart": "no"
    });
    let (s, created) = rig.call(
        "POST",
        "/docker/containers",
        Some(form),
        ("docker.create_container", &format!("/image/{image}"), "ok"),
    )?;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    wait_cli_state(&name, Some("running"))?;
    assert!(fetch(port)?.contains("200 OK"));
    let c = |rest: &str| format!("/docker/containers/{name}{rest}");
    let target = format!("/container/{name}");

    let (s, listed) = rig.call(
        "GET",
        "/docker/containers?all=true",
        None,
        ("docker.list_containers", "/containers", "ok"),
    )?;
    assert!(s == 200 && listed.to_string().contains(&id), "{listed}");
    let (s, details) = rig.call(
        "GET",
        &c(""),
        None,
        ("docker.inspect_container", &target, "ok"),
    )?;
    assert_eq!((s, details["id"].clone()), (200, json!(id)), "{details}");
    assert!(
        details["ports"].to_string().contains(&port.to_string()),
        "{details}"
    );

    // Logs (the request above was logged by httpd -v) and stats.
    let mut polls = 0;
    let logs = e2e::wait_for("httpd log line", Duration::from_secs(20), || {
        polls += 1;
        let r = e2e::http::request(http, "GET", &rig.path(&c("/logs?tail=50")), None).ok()?;
        let v: Value = serde_json::from_str(&r.body).ok()?;
        v["entries"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
            .then_some(v)
    })?;
    for _ in 0..polls {
        rig.expect(("docker.logs", &target, "ok"));
    }
    assert!(logs.to_string().contains("response:200"), "{logs}");
    let (s, stats) = rig.call("GET", &c("/stats"), None, ("docker.stats", &target, "ok"))?;
    assert_eq!(s, 200, "{stats}");
    assert!(
        stats["mem_usage_bytes"].as_u64().is_some_and(|m| m > 0),
        "{stats}"
    );
    assert_eq!(stats["mem_limit_bytes"], 64 << 20, "{stats}");
    let (s, top) = rig.call("GET", &c("/top"), None, ("docker.top", &target, "ok"))?;
    assert!(s == 200 && top.to_string().contains("httpd"), "{top}");

    // Rename, pause and unpause, restart: `docker ps` agrees at each step.
    let renamed = format!("{name}-2");
    let (s, _) = rig.call(
        "POST",
        &c("/rename"),
        Some(json!({"name": renamed})),
        ("docker.rename_container", &target, "ok"),
    )?;
    assert_eq!(s, 204);
    wait_cli_state(&renamed, Some("running"))?;
    assert_eq!(cli_state(&name)?, None);
    let name = renamed;
    let c = |rest: &str| format!("/docker/containers/{name}{rest}");
    let target = format!("/container/{name}");
    for (verb, state) in [("pause", "paused"), ("unpause", "running")] {
        let (s, e) = rig.call(
            "POST",
            &c(&format!("/{verb}")),
            None,
            (&format!("docker.{verb}_container"), &target, "ok"),
        )?;
        assert_eq!(s, 204, "{verb}: {e}");
        wait_cli_state(&name, Some(state))?;
    }
    let (s, e) = rig.call(
        "POST",
        &c("/pause"),
        None,
        ("docker.pause_container", &target, "ok"),
    )?;
    assert_eq!(s, 204, "{e}");
    let (s, e) = rig.call(
        "POST",
        &c("/pause"),
        None,
        ("docker.pause_container", &target, "failed"),
    )?;
    assert_eq!(s, 409, "pausing a paused container conflicts: {e}");
    rig.call(
        "POST",
        &c("/unpause"),
        None,
        ("docker.unpause_container", &target, "ok"),
    )?;
    let (s, e) = rig.call(
        "POST",
        &c("/restart?timeout=1"),
        None,
        ("docker.restart_container", &target, "ok"),
    )?;
    assert_eq!(s, 204, "{e}");
    wait_cli_state(&name, Some("running"))?;
    fetch(port)?;

    // A followed log streams until the container stops.
    let follow_path = rig.path(&c("/logs?follow=true&tail=0"));
    let follower = std::thread::spawn(move || e2e::http::request(http, "GET", &follow_path, None));
    std::thread::sleep(Duration::from_secs(1));
    fetch(port)?;
    std::thread::sleep(Duration::from_millis(500));
    rig.expect(("docker.logs", &target, "ok"));
    let (s, e) = rig.call(
        "POST",
        &c("/stop?timeout=1"),
        None,
        ("docker.stop_container", &target, "ok"),
    )?;
    assert_eq!(s, 204, "{e}");
    wait_cli_state(&name, Some("exited"))?;
    let followed = follower.join().expect("follower")?;
    assert_eq!(followed.status, 200, "{}", followed.body);
    assert!(followed.body.contains("event: logs"), "{}", followed.body);
    assert!(followed.body.contains("event: end"), "{}", followed.body);

    // Remove; unknown objects are 404s.
    let (s, _) = rig.call(
        "DELETE",
        &c(""),
        None,
        ("docker.remove_container", &target, "ok"),
    )?;
    assert_eq!(s, 204);
    wait_cli_state(&name, None)?;
    let (s, e) = rig.call(
        "GET",
        &c(""),
        None,
        ("docker.inspect_container", &target, "failed"),
    )?;
    assert_eq!(s, 404, "{e}");
    let (s, removed) = rig.call(
        "DELETE",
        &format!("/docker/images/{enc}?force=true"),
        None,
        ("docker.remove_image", &format!("/image/{image}"), "ok"),
    )?;
    assert!(
        s == 200 && removed.to_string().contains("Untagged"),
        "{removed}"
    );

    rig.check_audit()
}

/// The protocol's chunk size (the import must take several).
fn protocol_chunk() -> usize {
    256 * 1024
}
