//! Administration commands against a real master's data directory: `commander user
//! reset-password` (while the master runs: old sessions end, the new password logs in) and
//! compaction (refused while the master runs, scheduled from the API and done at the next
//! start, and `commander db compact` with the master stopped).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use anyhow::Context;
use e2e::cluster::{ADMIN, ADMIN_PASSWORD, STARTUP, start_master, write_config};
use e2e::http::{get_json, post_json, request_as};
use e2e::process::commander_bin;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn commander(args: &[&str], data_dir: &Path, stdin: Option<&str>) -> anyhow::Result<Output> {
    let mut child = Command::new(commander_bin()?)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawn commander")?;
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.unwrap_or("").as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn login(http: std::net::SocketAddr, password: &str) -> anyhow::Result<(u16, serde_json::Value)> {
    let creds = serde_json::json!({ "username": ADMIN, "password": password });
    post_json(http, "/api/v1/auth/login", &creds)
}

#[test]
fn password_reset_while_running_and_compaction_at_the_next_start() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let config = write_config(dir.path(), "")?;
    let mut master = start_master(&data, &config, 0, &[])?;
    let http = master.http;
    let old_token = master.api_token.clone();

    // Compaction now is refused while the master uses the store, with the reason.
    let out = commander(&["db", "compact"], &data, None)?;
    assert!(!out.status.success());
    assert!(text(&out).contains("stop it first"), "{}", text(&out));

    // A weak password is refused and changes nothing.
    let out = commander(
        &[
            "user",
            "reset-password",
            "--username",
            ADMIN,
            "--password-stdin",
        ],
        &data,
        Some("short\n"),
    )?;
    assert!(!out.status.success());
    assert!(
        text(&out).to_lowercase().contains("password"),
        "{}",
        text(&out)
    );
    let r = request_as(http, Some(&old_token), "GET", "/api/v1/auth/me", None)?;
    assert_eq!(r.status, 200, "{}", r.body);

    // An unknown user is named.
    let out = commander(
        &["user", "reset-password", "--username", "nobody"],
        &data,
        None,
    )?;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no user named \"nobody\""),
        "{}",
        text(&out)
    );

    // A generated password: printed once, the running master refuses the old session and
    // the old password, and accepts the new one.
    let out = commander(
        &["user", "reset-password", "--username", ADMIN],
        &data,
        None,
    )?;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout)?;
    let new_password = stdout
        .lines()
        .find_map(|l| l.split_once(&format!("new password for {ADMIN}: ")))
        .map(|(_, p)| p.trim().to_owned())
        .with_context(|| format!("no password printed: {stdout}"))?;
    assert!(stdout.contains("session(s) ended"), "{stdout}");
    let r = request_as(http, Some(&old_token), "GET", "/api/v1/auth/me", None)?;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(login(http, ADMIN_PASSWORD)?.0, 401);
    let (status, body) = login(http, &new_password)?;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().context("token")?.to_owned();
    e2e::http::remember_token(http, &token);
    let audit = get_json(http, "/api/v1/audit?action=auth.password_reset")?;
    assert_eq!(audit["entries"][0]["target"], ADMIN, "{audit}");

    // Schedule a compaction from the API; it is reported as pending.
    let (status, report) = post_json(http, "/api/v1/data/compact", &serde_json::json!({}))?;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["scheduled"], true);
    let status_now = get_json(http, "/api/v1/data/compact")?;
    assert!(status_now["scheduled"]["requested_at_ms"].as_u64().unwrap() > 0);

    // A chosen password from standard input (the one the helpers log in with).
    let out = commander(
        &[
            "user",
            "reset-password",
            "--username",
            ADMIN,
            "--password-stdin",
        ],
        &data,
        Some(&format!("{ADMIN_PASSWORD}\n")),
    )?;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !text(&out).contains(ADMIN_PASSWORD),
        "the password is not echoed"
    );
    assert_eq!(login(http, &new_password)?.0, 401);

    // Crash the master; the next start compacts before it opens the store.
    master.proc.kill();
    let mut master = start_master(&data, &config, 0, &[])?;
    master
        .proc
        .wait_line("compacted data: ", STARTUP)
        .context("start-up compaction")?;
    master.proc.wait_line("compacted performance: ", STARTUP)?;
    let http = master.http;
    let status_now = get_json(http, "/api/v1/data/compact")?;
    assert!(status_now["scheduled"].is_null(), "{status_now}");
    let last = &status_now["last"];
    assert!(last["error"].is_null(), "{status_now}");
    assert_eq!(
        last["envs"].as_array().map(Vec::len),
        Some(2),
        "{status_now}"
    );

    // Stopped: compaction now works from the command line.
    master.proc.kill();
    let out = commander(&["db", "compact"], &data, None)?;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout)?;
    assert!(stdout.contains("data: "), "{stdout}");
    assert!(stdout.contains("performance: "), "{stdout}");
    Ok(())
}
