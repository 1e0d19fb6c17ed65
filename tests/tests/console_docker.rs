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

use anyhow::{Context, bail};
use e2e::browser::{Browser, require_chromium, screenshot_dir};
use e2e::cluster::{ADMIN, ADMIN_PASSWORD, FAST_HEARTBEAT_YAML, STARTUP, console_login};
use e2e::process::{Proc, commander_bin};
use e2e::webdriver::Session;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);
const BUSYBOX: &str = "/bin/busybox";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn docker(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("run docker")?;
    if !out.status.success() {
        bail!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Removes the test's container and image when dropped.
struct Cleanup {
    container: String,
    image: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.container]);
        let _ = docker(&["rmi", "-f", &self.image]);
    }
}

/// Imports a busybox root file system as `image`, labelled `commander.test=1`.
fn import_busybox(image: &str) -> anyhow::Result<()> {
    let stage = tempfile::tempdir()?;
    let root = stage.path();
    std::fs::create_dir_all(root.join("bin"))?;
    std::fs::create_dir_all(root.join("tmp"))?;
    std::fs::copy(BUSYBOX, root.join("bin/busybox")).context("copy busybox")?;
    let tar = Command::new("tar")
        .arg("-C")
        .arg(root)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .context("run tar")?;
    let status = Command::new("docker")
        .args(["import", "--change", "LABEL commander.test=1", "-", image])
        .stdin(tar.stdout.context("tar stdout")?)
        .stdout(Stdio::null())
        .status()
        .context("docker import")?;
    anyhow::ensure!(status.success(), "docker import failed: {status}");
    Ok(())
}

/// Whether everything the test needs is here (an error under CI when not).
fn prerequisites() -> anyhow::Result<bool> {
    let engine = docker(&["version", "--format", "{{.Server.Version}}"]).is_ok();
    let busybox = Path::new(BUSYBOX).is_file();
    if engine && busybox {
        return Ok(true);
    }
    let what = if engine {
        "/bin/busybox (busybox-static)"
    } else {
        "a Docker Engine"
    };
    if in_ci() {
        bail!("console_docker: {what} is required under CI=true");
    }
    eprintln!("SKIPPED console_docker: {what} not found; under CI=true this fails");
    Ok(false)
}

/// Starts `commander up` on free ports; its console URL and address.
fn commander_up(dir: &Path) -> anyhow::Result<(Proc, String, SocketAddr)> {
    let config = dir.join("master.yaml");
    std::fs::write(&config, FAST_HEARTBEAT_YAML)?;
    let mut cmd = Command::new(commander_bin()?);
    cmd.args(["up", "--http-port", "0", "--tcp-port", "0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.join("data"));
    let mut proc = Proc::spawn("commander-up", cmd)?;
    let line = proc.wait_line("console: http://", STARTUP)?;
    let url = line
        .split_once("console: ")
        .map(|(_, u)| u.trim().trim_end_matches('/').to_owned())
        .context("console url")?;
    proc.wait_line("local slave started", STARTUP)?;
    let addr = url
        .trim_start_matches("http://")
        .parse()
        .context("console address")?;
    Ok((proc, url, addr))
}

fn shot(s: &Session, name: &str) -> anyhow::Result<()> {
    let path = screenshot_dir().join(format!("{name}.png"));
    s.screenshot(&path)?;
    eprintln!("screenshot: {}", path.display());
    Ok(())
}

/// Waits until `script` (a JS expression) is true in the page; fails early when the page
/// shows an error.
fn wait_js(s: &Session, script: &str, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    while s.execute(&format!("return Boolean({script});"))?.as_bool() != Some(true) {
        if Instant::now() >= deadline {
            let alert = s
                .execute("var a = document.getElementById('ops-alert'); return a && !a.hidden ? a.textContent : '';")?;
            bail!(
                "timed out waiting for {what} on {} (page error: {alert})",
                s.url()?
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

fn fill(s: &Session, css: &str, text: &str) -> anyhow::Result<()> {
    s.type_into(&s.wait(css, WAIT)?, text)
}

fn click(s: &Session, css: &str) -> anyhow::Result<()> {
    s.click(&s.wait(css, WAIT)?)
}

#[test]
fn docker_and_processes_pages_in_chromium() -> anyhow::Result<()> {
    let Some((chromium, driver)) = require_chromium("console_docker")? else {
        return Ok(());
    };
    if !prerequisites()? {
        return Ok(());
    }
    let run = format!("{}-{}", std::process::id(), e2e_suffix());
    let cleanup = Cleanup {
        container: format!("cmdr-ui-{run}"),
        image: format!("commander-test/busybox-ui:{run}"),
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
        let _ = shot(&browser.session, "docker-failure");
        if let Ok(html) = browser
            .session
            .execute("return document.documentElement.outerHTML;")
        {
            eprintln!("page at failure:\n{}", html.as_str().unwrap_or_default());
        }
    }
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    outcome
}

/// A short unique suffix (time-based) so parallel runs do not collide.
fn e2e_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{nanos:x}")
}

fn walk(s: &Session, base: &str, c: &Cleanup, sleeper: u32) -> anyhow::Result<()> {
    let name = &c.container;
    s.goto(&format!("{base}/login"))?;
    fill(s, "#username", ADMIN)?;
    fill(s, "#password", ADMIN_PASSWORD)?;
    click(s, "form[action='/login'] button[type=submit]")?;
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
