//! The Docker and host-operation pages in headless Chromium against a real `commander up`
//! (master plus local slave) and this machine's Docker Engine: deploy a container from the
//! Docker page, see it running (and `docker inspect` agrees), read its logs and live stats on
//! its page, remove it after the confirmation; then find a process on the processes page.
//! Screenshots land in `target/e2e-screenshots/`.
//!
//! The image is a root file system of Debian's static `/bin/busybox` imported with
//! `docker import`, labelled `commander.test=1`; the image and the container are removed
//! when the test ends, also when it fails. Without Chromium, Docker or busybox the test is
//! skipped with a message, a failure under `CI=true`.

use anyhow::Context;
use e2e::browser::{Browser, require_chromium};
use e2e::cluster::console_login;
use e2e::console::{
    DockerGuard, WAIT, click, commander_up, docker, docker_prerequisites, fill, import_busybox,
    login, report_failure, run_id, shot, wait_js,
};
use e2e::webdriver::Session;
use std::process::Command;
use std::time::Duration;

/// What the test creates in Docker.
struct Cleanup {
    container: String,
    image: String,
}

#[test]
fn docker_and_processes_pages_in_chromium() -> anyhow::Result<()> {
    let Some((chromium, driver)) = require_chromium("console_docker")? else {
        return Ok(());
    };
    if !docker_prerequisites("console_docker")? {
        return Ok(());
    }
    let run = run_id();
    let cleanup = Cleanup {
        container: format!("cmdr-ui-{run}"),
        image: format!("commander-test/busybox-ui:{run}"),
    };
    let _guard = DockerGuard {
        run,
        containers: vec![cleanup.container.clone()],
        images: vec![cleanup.image.clone()],
        networks: Vec::new(),
        volumes: Vec::new(),
    };
    import_busybox(&cleanup.image)?;
    let dir = tempfile::tempdir()?;
    let (_up, base, addr) = commander_up(dir.path())?;
    console_login(addr)?;
    let mut sleeper = Command::new("sleep")
        .arg("987654")
        .spawn()
        .context("start sleep")?;
    let browser = Browser::start(&chromium, &driver, 1366, 1000)?;
    let outcome = walk(&browser.session, &base, &cleanup, sleeper.id());
    if outcome.is_err() {
        report_failure(&browser.session, "docker-failure");
    }
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    outcome
}

fn walk(s: &Session, base: &str, c: &Cleanup, sleeper: u32) -> anyhow::Result<()> {
    let name = &c.container;
    login(s, base)?;
    s.wait("a[href='/slaves/1']", WAIT)?;

    // The Docker overview links each slave to its Docker page.
    s.goto(&format!("{base}/docker"))?;
    click(s, "a[href='/docker/1']")?;
    s.wait("#deploy-form", WAIT)?;
    wait_js(
        s,
        "document.querySelectorAll('#engine-facts th').length > 3",
        "the engine facts",
    )?;

    // Deploy from the form.
    fill(s, "#deploy-form input[name=image]", &c.image)?;
    fill(s, "#deploy-form input[name=name]", name)?;
    fill(
        s,
        "#deploy-form textarea[name=cmd]",
        "/bin/busybox\nsh\n-c\necho hello-from-the-console; i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done",
    )?;
    fill(s, "#deploy-form textarea[name=labels]", "commander.test=1")?;
    click(s, "#deploy-form button[type=submit]")?;
    let row = format!("#containers tr[data-name='{name}'][data-state='running']");
    wait_js(
        s,
        &format!("document.querySelector(\"{row}\") !== null"),
        "the deployed container running in the list",
    )?;
    let running = docker(&["inspect", "-f", "{{.State.Running}}", name])?;
    anyhow::ensure!(running == "true", "docker inspect says running={running}");
    std::thread::sleep(Duration::from_millis(500));
    s.window_size(1366, 1600)?;
    shot(s, "docker-node")?;
    // Usable on a narrow screen: the table scrolls inside its box, the page does not.
    s.window_size(390, 1400)?;
    std::thread::sleep(Duration::from_millis(300));
    let overflow = s.execute(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
    )?;
    anyhow::ensure!(
        overflow.as_i64().unwrap_or(0) <= 1,
        "the page scrolls sideways on a phone: {overflow}"
    );
    shot(s, "docker-node-narrow")?;
    s.window_size(1366, 1000)?;

    // Its page: details, logs, live stats.
    click(s, &format!("{row} a.cname"))?;
    s.wait("#logs-output", WAIT)?;
    wait_js(
        s,
        "document.getElementById('logs-output').textContent.indexOf('hello-from-the-console') >= 0",
        "the container's logs",
    )?;
    wait_js(
        s,
        "Number(document.getElementById('ops').getAttribute('data-stats') || 0) >= 2",
        "two stats readings",
    )?;
    // Follow: new lines arrive without reloading.
    let before = s
        .execute("return Number(document.getElementById('logs-output').getAttribute('data-lines') || 0);")?
        .as_u64()
        .unwrap_or(0);
    click(s, "#logs-form input[name=follow]")?;
    wait_js(
        s,
        &format!(
            "Number(document.getElementById('logs-output').getAttribute('data-lines') || 0) > {before} + 2"
        ),
        "followed log lines",
    )?;
    let facts = s.text(&s.find("#container-facts")?)?;
    anyhow::ensure!(facts.contains(&c.image), "facts: {facts}");
    s.window_size(1366, 1800)?;
    s.execute("window.scrollTo(0, 0); return true;")?;
    std::thread::sleep(Duration::from_millis(500));
    shot(s, "docker-container")?;
    s.window_size(1366, 1000)?;

    // Remove it, after the confirmation.
    click(s, "#container-actions button[data-action=remove]")?;
    s.accept_alert()?;
    s.wait("#deploy-form", WAIT)?;
    wait_js(
        s,
        &format!(
            "document.querySelector(\"#containers tr[data-name='{name}']\") === null && document.querySelector('#containers tbody tr') !== null"
        ),
        "the container gone from the list",
    )?;
    let gone = docker(&["ps", "-a", "--filter", &format!("name=^{name}$"), "-q"])?;
    anyhow::ensure!(gone.is_empty(), "docker still lists {name}: {gone}");

    // Processes: find the test's sleep by its command line.
    s.goto(&format!("{base}/slaves/1/processes"))?;
    fill(s, "#process-filter input[name=filter]", "987654")?;
    click(s, "#process-filter button[type=submit]")?;
    let pid_row = format!("#processes tr[data-pid='{sleeper}']");
    wait_js(
        s,
        &format!("document.querySelector(\"{pid_row}\") !== null"),
        "the sleep process",
    )?;
    click(s, &format!("{pid_row} button"))?;
    wait_js(
        s,
        "!document.getElementById('process-details').hidden",
        "the process details",
    )?;
    shot(s, "processes")?;

    // Ports in use list something (the master listens).
    s.goto(&format!("{base}/slaves/1/ports"))?;
    wait_js(
        s,
        "document.querySelectorAll('#ports tbody tr td.mono').length > 0",
        "listening sockets",
    )?;
    shot(s, "ports")?;
    Ok(())
}
