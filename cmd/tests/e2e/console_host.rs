//! The host pages of the console in headless Chromium against a real master and slave on
//! loopback, each edit checked afterwards in the file it changed:
//!
//! - environment profile: an edit made earlier (with a secret, shown redacted) is listed;
//!   add a variable, save, reload and see it back; remove it and save, and the profile
//!   file holds exactly what it held before (the secret's real value kept);
//! - hosts file: edit and save after the confirmation, a refused edit explained on the page
//!   with the file untouched, restore the previous version after the confirmation;
//! - processes: find the test's `sleep`, open its details, send SIGTERM after the
//!   confirmation, and see it die of that signal.
//!
//! Only files the test made are touched: the slave's configuration names a hosts file in a
//! temporary directory (`hostsFile:`; `commander up` has no such setting, so this test runs
//! `commander master` and `commander slave`), and the environment profile lives in the
//! slave's temporary data directory. Without Chromium the test is skipped with a message, a
//! failure under `CI=true`.

use anyhow::Context;
use e2e::browser::{Browser, require_chromium};
use e2e::console::{
    click, confirm, fill, login, report_failure, shot, text_of, wait_css, wait_error, wait_js,
};
use e2e::http::request;
use e2e::ops::Rig;
use e2e::webdriver::Session;
use serde_json::json;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

const ORIGINAL_HOSTS: &str = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n";
const ADDED_HOSTS: &str = "10.1.2.3 db.e2e.test db\n";

#[test]
fn host_pages_in_chromium() -> anyhow::Result<()> {
    let Some((chromium, driver)) = require_chromium("console_host")? else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let hosts = tmp.path().join("hosts");
    std::fs::write(&hosts, ORIGINAL_HOSTS)?;
    let rig = Rig::start(tmp.path(), &format!("hostsFile: {}\n", hosts.display()))?;
    let base = format!("http://{}", rig.master.http);
    let profile = tmp.path().join("slave").join("env.profile");

    // An edit made before, with a secret: the page shows it redacted and must keep it.
    let seed = json!({"set": [
        {"key": "COMMANDER_E2E_KEEP", "value": "kept", "redacted": false},
        {"key": "COMMANDER_E2E_TOKEN", "value": "s3cret", "redacted": false},
    ], "unset": ["COMMANDER_E2E_GONE"]});
    let r = request(
        rig.master.http,
        "PUT",
        &rig.path("/env"),
        Some(&seed.to_string()),
    )?;
    anyhow::ensure!(r.status == 200, "seed the profile: {} {}", r.status, r.body);
    let before = std::fs::read_to_string(&profile)
        .with_context(|| format!("the profile at {}", profile.display()))?;
    anyhow::ensure!(before.contains("COMMANDER_E2E_TOKEN=s3cret"), "{before}");

    let mut sleeper = std::process::Command::new("sleep")
        .arg("986543.5")
        .spawn()
        .context("start sleep")?;
    let pid = sleeper.id();
    e2e::wait_for("sleep to exec", Duration::from_secs(5), || {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.starts_with(b"sleep\0"))
            .then_some(())
    })?;

    let browser = Browser::start(&chromium, &driver, 1366, 1000)?;
    let s = &browser.session;
    let node = rig.node;
    let outcome = (|| {
        login(s, &base)?;
        environment(s, &format!("{base}/slaves/{node}/env"), &profile, &before)?;
        hosts_file(s, &format!("{base}/slaves/{node}/hosts"), &hosts)?;
        signal(s, &format!("{base}/slaves/{node}/processes"), pid)
    })();
    if outcome.is_err() {
        report_failure(s, "host-failure");
    }
    let ended = e2e::wait_for("the sleep to end", Duration::from_secs(10), || {
        sleeper.try_wait().ok().flatten()
    });
    let status = match ended {
        Ok(status) => status,
        Err(e) => {
            let _ = sleeper.kill();
            let _ = sleeper.wait();
            return outcome.and(Err(e));
        }
    };
    outcome?;
    anyhow::ensure!(status.signal() == Some(15), "sleep ended by {status:?}");
    Ok(())
}

/// The edit rows' keys and values as `KEY=VALUE` lines (a redacted value shows as
/// `KEY=(redacted)`).
fn edit_rows(s: &Session) -> anyhow::Result<String> {
    Ok(s.execute(
        "return Array.prototype.map.call(document.querySelectorAll('#env-set tr'), function (r) { var i = r.querySelectorAll('input'); return i[0].value + '=' + (i[1].value || (i[1].placeholder ? '(redacted)' : '')); }).join('\\n');",
    )?
    .as_str()
    .unwrap_or_default()
    .to_owned())
}

fn environment(s: &Session, url: &str, profile: &Path, before: &str) -> anyhow::Result<()> {
    s.goto(url)?;
    wait_js(
        s,
        "document.querySelectorAll('#env-set tr').length === 2 && document.querySelectorAll('#env-inherited tbody tr').length > 0",
        "the stored edits and the inherited environment",
    )?;
    let rows = edit_rows(s)?;
    anyhow::ensure!(
        rows == "COMMANDER_E2E_KEEP=kept\nCOMMANDER_E2E_TOKEN=(redacted)",
        "edit rows: {rows:?}"
    );
    let unset =
        s.execute("return document.querySelector('#env-form textarea[name=unset]').value;")?;
    anyhow::ensure!(unset == "COMMANDER_E2E_GONE", "unset: {unset}");

    // Add a variable and save; after a reload it is there, and in the slave's profile.
    click(s, "#env-add")?;
    fill(
        s,
        "#env-set tr:last-child td:nth-child(1) input",
        "COMMANDER_E2E_ADDED",
    )?;
    fill(
        s,
        "#env-set tr:last-child td:nth-child(2) input",
        "from the browser",
    )?;
    click(s, "#env-form button[type=submit]")?;
    wait_js(
        s,
        "!document.getElementById('ops-notice').hidden",
        "the saved notice",
    )?;
    s.goto(url)?;
    wait_js(
        s,
        "document.querySelectorAll('#env-set tr').length === 3",
        "three edits after the reload",
    )?;
    let rows = edit_rows(s)?;
    anyhow::ensure!(
        rows.lines()
            .any(|l| l == "COMMANDER_E2E_ADDED=from the browser"),
        "edit rows after saving: {rows:?}"
    );
    let saved = std::fs::read_to_string(profile)?;
    anyhow::ensure!(
        saved.contains("set COMMANDER_E2E_ADDED=from the browser")
            && saved.contains("set COMMANDER_E2E_TOKEN=s3cret"),
        "profile after saving: {saved}"
    );
    s.window_size(1366, 1400)?;
    shot(s, "host-env")?;
    s.window_size(1366, 1000)?;

    // Remove it again and save: the profile is what it was.
    click(
        s,
        "#env-set tr:last-child td.row-actions button, #env-set tr:last-child button",
    )?;
    wait_js(
        s,
        "document.querySelectorAll('#env-set tr').length === 2",
        "the row removed",
    )?;
    click(s, "#env-form button[type=submit]")?;
    e2e::wait_for("the profile restored", Duration::from_secs(20), || {
        (std::fs::read_to_string(profile).ok()? == before).then_some(())
    })
    .with_context(|| {
        format!(
            "profile now: {}",
            std::fs::read_to_string(profile).unwrap_or_default()
        )
    })?;
    Ok(())
}

fn hosts_file(s: &Session, url: &str, hosts: &Path) -> anyhow::Result<()> {
    let path = hosts.display().to_string();
    s.goto(url)?;
    wait_js(
        s,
        &format!(
            "document.getElementById('hosts-path').textContent === {path:?} && document.querySelectorAll('#hosts-entries tbody tr').length === 2"
        ),
        "the test's hosts file in the editor",
    )?;
    let shown = s.execute("return document.getElementById('hosts-content').value;")?;
    anyhow::ensure!(shown == ORIGINAL_HOSTS, "editor shows {shown}");

    // Edit and save, after the confirmation naming the file.
    let edited = format!("{ORIGINAL_HOSTS}{ADDED_HOSTS}");
    fill(s, "#hosts-content", &edited)?;
    click(s, "#hosts-form button[type=submit]")?;
    confirm(s, &path)?;
    wait_js(
        s,
        "document.getElementById('hosts-entries').textContent.indexOf('db.e2e.test') >= 0 && !document.getElementById('hosts-restore').disabled",
        "the new entry listed",
    )?;
    anyhow::ensure!(std::fs::read_to_string(hosts)? == edited, "file not saved");
    s.window_size(1366, 1300)?;
    shot(s, "host-hosts")?;
    s.window_size(1366, 1000)?;

    // A refused edit (localhost gone) is explained on the page; the file stays.
    fill(s, "#hosts-content", "10.0.0.1 db\n")?;
    click(s, "#hosts-form button[type=submit]")?;
    confirm(s, &path)?;
    let message = wait_error(s, "the refused edit's message")?;
    anyhow::ensure!(
        message.contains("HTTP 400") && message.contains("content") && !message.contains("{\""),
        "the page says {message:?}"
    );
    let notice = s.execute("return document.getElementById('ops-notice').hidden;")?;
    anyhow::ensure!(
        notice.as_bool() == Some(true),
        "the earlier \"saved\" notice still shows beside the error"
    );
    anyhow::ensure!(
        std::fs::read_to_string(hosts)? == edited,
        "a refused edit changed the file"
    );
    shot(s, "host-hosts-refused")?;

    // Restore the previous version, after the confirmation.
    click(s, "#hosts-restore")?;
    confirm(s, &path)?;
    wait_js(
        s,
        "document.getElementById('hosts-entries').textContent.indexOf('db.e2e.test') < 0 && document.querySelectorAll('#hosts-entries tbody tr').length === 2",
        "the restored entries",
    )?;
    let shown = s.execute("return document.getElementById('hosts-content').value;")?;
    anyhow::ensure!(shown == ORIGINAL_HOSTS, "editor after restore: {shown}");
    anyhow::ensure!(
        std::fs::read_to_string(hosts)? == ORIGINAL_HOSTS,
        "file not restored"
    );
    Ok(())
}

fn signal(s: &Session, url: &str, pid: u32) -> anyhow::Result<()> {
    s.goto(url)?;
    fill(s, "#process-filter input[name=filter]", "986543.5")?;
    click(s, "#process-filter button[type=submit]")?;
    let row = format!("#processes tr[data-pid='{pid}']");
    wait_css(s, &row, "the sleep process")?;
    click(s, &format!("{row} button"))?;
    wait_js(
        s,
        "!document.getElementById('process-details').hidden",
        "the process details",
    )?;
    let title = text_of(s, "#process-details .detail-pid")?;
    anyhow::ensure!(title.contains(&pid.to_string()), "details of {title:?}");
    s.execute("var f = document.getElementById('signal-form'); f.elements.signal.value = '15'; return true;")?;
    click(s, "#signal-form button[type=submit]")?;
    confirm(s, &pid.to_string())?;
    wait_js(
        s,
        "document.getElementById('process-details').hidden && !document.getElementById('ops-notice').hidden",
        "the signal's notice",
    )?;
    shot(s, "host-processes-signalled")
}
