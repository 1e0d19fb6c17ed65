//! Helpers of the console suites in headless Chromium: start `commander up` on free ports,
//! log in through the form, wait on the DOM (never on a fixed delay), fill and click,
//! answer `confirm()` and `prompt()` dialogs, read the page's error box, take screenshots
//! into `target/e2e-screenshots/`, and the `docker` CLI as the independent witness, with a
//! guard that removes every Docker object a test made, also when it fails.

use crate::browser::screenshot_dir;
use crate::cluster::{ADMIN, ADMIN_PASSWORD, FAST_HEARTBEAT_YAML, STARTUP};
use crate::process::{Proc, commander_bin};
use crate::webdriver::Session;
use anyhow::{Context, bail};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a test waits for the page to show something.
pub const WAIT: Duration = Duration::from_secs(60);
/// The static busybox the test images are made of (Debian `busybox-static`).
pub const BUSYBOX: &str = "/bin/busybox";
/// The label on everything the tests create in Docker.
pub const TEST_LABEL: &str = "commander.test=1";

/// Whether this is a CI run (a missing prerequisite is then a failure).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

pub use crate::docker::docker;

/// Whether a Docker Engine and `/bin/busybox` are here. Without them the caller skips
/// (said on stderr); under `CI=true` their absence is an error.
pub fn docker_prerequisites(test: &str) -> anyhow::Result<bool> {
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
        bail!("{test}: {what} is required under CI=true");
    }
    eprintln!("SKIPPED {test}: {what} not found; under CI=true this fails");
    Ok(false)
}

/// Imports a busybox root file system as `image` with `docker import`, labelled
/// [`TEST_LABEL`].
pub fn import_busybox(image: &str) -> anyhow::Result<()> {
    import_busybox_with(image, &[], &[])
}

/// The Dockerfile change making busybox httpd serve `/www` on port 80 in the foreground.
pub const HTTPD_CMD: &str = r#"CMD ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]"#;

/// Imports a busybox root file system serving `page` over HTTP as `image`: its command is
/// `busybox httpd -f -p 80 -h /www` and `/www/index.html` holds `page`.
pub fn import_busybox_httpd(image: &str, page: &str) -> anyhow::Result<()> {
    import_busybox_with(image, &[("www/index.html", page)], &[HTTPD_CMD])
}

/// Imports a busybox root file system plus `files` (`(path, content)`, relative to the
/// root) as `image`, labelled [`TEST_LABEL`], with extra Dockerfile `changes`.
pub fn import_busybox_with(
    image: &str,
    files: &[(&str, &str)],
    changes: &[&str],
) -> anyhow::Result<()> {
    let stage = tempfile::tempdir()?;
    let root = stage.path();
    std::fs::create_dir_all(root.join("bin"))?;
    std::fs::create_dir_all(root.join("tmp"))?;
    std::fs::copy(BUSYBOX, root.join("bin/busybox")).context("copy busybox")?;
    for (path, content) in files {
        let file = root.join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&file, content)?;
    }
    let tar = Command::new("tar")
        .arg("-C")
        .arg(root)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .context("run tar")?;
    let mut import = Command::new("docker");
    import
        .arg("import")
        .args(["--change", &format!("LABEL {TEST_LABEL}")]);
    for change in changes {
        import.args(["--change", change]);
    }
    let status = import
        .args(["-", image])
        .stdin(tar.stdout.context("tar stdout")?)
        .stdout(Stdio::null())
        .status()
        .context("docker import")?;
    anyhow::ensure!(status.success(), "docker import failed: {status}");
    Ok(())
}

/// Starts `commander up` (master plus local slave) on free ports with its data in `dir`;
/// the process, the console URL and the console address.
pub fn commander_up(dir: &Path) -> anyhow::Result<(Proc, String, SocketAddr)> {
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

/// A short unique suffix (process id and time) so parallel runs do not collide.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{nanos:x}", std::process::id())
}

/// Saves a screenshot `name.png` under `target/e2e-screenshots/`.
pub fn shot(s: &Session, name: &str) -> anyhow::Result<()> {
    let path = screenshot_dir().join(format!("{name}.png"));
    s.screenshot(&path)?;
    eprintln!("screenshot: {}", path.display());
    Ok(())
}

/// After a failure: a screenshot `name.png` and the page's HTML on stderr.
pub fn report_failure(s: &Session, name: &str) {
    let _ = shot(s, name);
    if let Ok(html) = s.execute("return document.documentElement.outerHTML;") {
        eprintln!("page at failure:\n{}", html.as_str().unwrap_or_default());
    }
}

/// The text of the page's error box (`#ops-alert`), empty when it is hidden.
pub fn page_error(s: &Session) -> anyhow::Result<String> {
    Ok(s.execute(
        "var a = document.getElementById('ops-alert'); return a && !a.hidden ? a.textContent : '';",
    )?
    .as_str()
    .unwrap_or_default()
    .to_owned())
}

/// Waits until `script` (a JS expression) is true in the page.
pub fn wait_js(s: &Session, script: &str, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    while s.execute(&format!("return Boolean({script});"))?.as_bool() != Some(true) {
        if Instant::now() >= deadline {
            let alert = page_error(s).unwrap_or_default();
            bail!(
                "timed out waiting for {what} on {} (page error: {alert})",
                s.url()?
            );
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    Ok(())
}

/// Waits until an element matching `css` exists.
pub fn wait_css(s: &Session, css: &str, what: &str) -> anyhow::Result<()> {
    wait_js(
        s,
        &format!("document.querySelector({css:?}) !== null"),
        what,
    )
}

/// Waits until no element matches `css`.
pub fn wait_gone(s: &Session, css: &str, what: &str) -> anyhow::Result<()> {
    wait_js(
        s,
        &format!("document.querySelector({css:?}) === null"),
        what,
    )
}

/// Waits until the error box shows a message and returns it.
pub fn wait_error(s: &Session, what: &str) -> anyhow::Result<String> {
    wait_js(
        s,
        "!document.getElementById('ops-alert').hidden && document.getElementById('ops-alert').textContent.length > 0",
        what,
    )?;
    page_error(s)
}

/// Types `text` into the element matching `css` (cleared first).
pub fn fill(s: &Session, css: &str, text: &str) -> anyhow::Result<()> {
    s.type_into(&s.wait(css, WAIT)?, text)
}

/// Clicks the element matching `css`.
pub fn click(s: &Session, css: &str) -> anyhow::Result<()> {
    s.click(&s.wait(css, WAIT)?)
}

/// The rendered text of the element matching `css`.
pub fn text_of(s: &Session, css: &str) -> anyhow::Result<String> {
    s.text(&s.wait(css, WAIT)?)
}

/// Waits for the `confirm()` dialog, checks its message mentions `mentions`, accepts it.
pub fn confirm(s: &Session, mentions: &str) -> anyhow::Result<()> {
    let message = s.wait_alert(Duration::from_secs(10))?;
    if !message.contains(mentions) {
        s.dismiss_alert()?;
        bail!("the confirmation {message:?} does not mention {mentions:?}");
    }
    s.accept_alert()
}

/// Waits for the `prompt()` dialog, answers `answer` and accepts it; returns its message.
pub fn answer_prompt(s: &Session, answer: &str) -> anyhow::Result<String> {
    let message = s.wait_alert(Duration::from_secs(10))?;
    s.send_alert_text(answer)?;
    s.accept_alert()?;
    Ok(message)
}

/// Logs in through the form at `base/login` as the tests' administrator.
pub fn login(s: &Session, base: &str) -> anyhow::Result<()> {
    s.goto(&format!("{base}/login"))?;
    fill(s, "#username", ADMIN)?;
    fill(s, "#password", ADMIN_PASSWORD)?;
    click(s, "form[action='/login'] button[type=submit]")?;
    wait_css(s, "a[href^='/slaves/']", "the home page after login")
}

/// Removes, when dropped (also while a failing test unwinds), the Docker objects a test
/// made: containers, networks and volumes labelled `commander.test.run=<run>` or named
/// here, and the images named here.
#[derive(Debug, Default)]
pub struct DockerGuard {
    /// Value of the `commander.test.run` label.
    pub run: String,
    /// Container names.
    pub containers: Vec<String>,
    /// Image references.
    pub images: Vec<String>,
    /// Network names.
    pub networks: Vec<String>,
    /// Volume names.
    pub volumes: Vec<String>,
}

impl DockerGuard {
    /// The label selecting this run's objects: `commander.test.run=<run>`.
    pub fn run_label(&self) -> String {
        format!("commander.test.run={}", self.run)
    }

    fn labelled(&self, kind: &[&str]) -> Vec<String> {
        let filter = format!("label={}", self.run_label());
        let mut args = kind.to_vec();
        args.extend(["--filter", &filter]);
        docker(&args)
            .map(|out| out.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

impl Drop for DockerGuard {
    fn drop(&mut self) {
        let mut containers = self.labelled(&["ps", "-aq"]);
        containers.extend(self.containers.iter().cloned());
        for c in &containers {
            let _ = docker(&["rm", "-f", c]);
        }
        let mut networks = self.labelled(&["network", "ls", "-q"]);
        networks.extend(self.networks.iter().cloned());
        for n in &networks {
            let _ = docker(&["network", "rm", n]);
        }
        let mut volumes = self.labelled(&["volume", "ls", "-q"]);
        volumes.extend(self.volumes.iter().cloned());
        for v in &volumes {
            let _ = docker(&["volume", "rm", "-f", v]);
        }
        for i in &self.images {
            let _ = docker(&["rmi", "-f", i]);
        }
    }
}
