//! The project and gateway pages in headless Chromium against a real `commander up`
//! (master plus local slave) and this machine's Docker Engine (issue 12, "the same flows
//! driven once in Chromium"): create a project through the form with a gateway on the local
//! slave, wait on the page for it to show ready (and the gateway answers), scale it, update
//! its image, roll back to the first revision after the confirmation, view the gateways
//! pages, create and delete a standalone gateway, delete the project after the
//! confirmation (and Docker no longer lists its replicas).
//! Screenshots in English and Chinese land in `target/e2e-screenshots/`.
//!
//! The two images are a root file system of Debian's static `/bin/busybox` imported with
//! `docker import` (`CMD busybox httpd -f -p 80 -h /www`, an index page saying `v1` or
//! `v2`), labelled `commander.test=1`; they and every container of the project are removed
//! when the test ends, also when it fails. Without Chromium, Docker or busybox the test is
//! skipped with a message, a failure under `CI=true`.

use e2e::browser::{Browser, require_chromium};
use e2e::cluster::console_login;
use e2e::console::{
    DockerGuard, WAIT, click, commander_up, docker, docker_prerequisites, fill,
    import_busybox_httpd, login, report_failure, run_id, shot, text_of, wait_css, wait_gone,
    wait_js,
};
use e2e::ops::free_port;
use e2e::webdriver::Session;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// What the walk works with.
struct Plan {
    project: String,
    v1: String,
    v2: String,
    gateway_port: u16,
    standalone_port: u16,
}

/// Removes, when dropped, every container of the project (label `commander.project`).
struct ProjectContainers(String);

impl ProjectContainers {
    fn list(&self) -> Vec<String> {
        docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=commander.project={}", self.0),
        ])
        .map(|out| out.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
    }
}

impl Drop for ProjectContainers {
    fn drop(&mut self) {
        for c in self.list() {
            let _ = docker(&["rm", "-f", &c]);
        }
    }
}

#[test]
fn project_pages_in_chromium() -> anyhow::Result<()> {
    let Some((chromium, driver)) = require_chromium("console_projects")? else {
        return Ok(());
    };
    if !docker_prerequisites("console_projects")? {
        return Ok(());
    }
    let run = run_id();
    let plan = Plan {
        project: format!("web-{run}"),
        v1: format!("commander-test/busybox-httpd:v1-{run}"),
        v2: format!("commander-test/busybox-httpd:v2-{run}"),
        gateway_port: free_port()?,
        standalone_port: free_port()?,
    };
    let _images = DockerGuard {
        run,
        containers: Vec::new(),
        images: vec![plan.v1.clone(), plan.v2.clone()],
        networks: Vec::new(),
        volumes: Vec::new(),
    };
    let replicas = ProjectContainers(plan.project.clone());
    import_busybox_httpd(&plan.v1, "v1\n")?;
    import_busybox_httpd(&plan.v2, "v2\n")?;
    let dir = tempfile::tempdir()?;
    let (_up, base, addr) = commander_up(dir.path())?;
    console_login(addr)?;
    let browser = Browser::start(&chromium, &driver, 1366, 1000)?;
    let outcome = walk(&browser.session, &base, &plan, &replicas);
    if outcome.is_err() {
        report_failure(&browser.session, "projects-failure");
    }
    outcome
}

/// `GET /` through the gateway until the page says `want` (the replicas' index page).
fn gateway_says(port: u16, want: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut body = String::new();
            if s.write_all(b"GET / HTTP/1.0\r\n\r\n").is_ok() && s.read_to_string(&mut body).is_ok()
            {
                if body.lines().any(|l| l.trim() == want) {
                    return Ok(());
                }
                last = body;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    anyhow::bail!("the gateway on port {port} never answered {want:?} (last: {last:?})")
}

/// Waits until the project page shows `status` on revision `revision` with `replicas`
/// healthy of as many wanted.
fn wait_project(s: &Session, status: &str, revision: u64, replicas: u32) -> anyhow::Result<()> {
    wait_js(
        s,
        &format!(
            "document.querySelector(\"#project-status[data-status='{status}']\") !== null \
             && document.getElementById('project-revision').textContent.trim() === '{revision}' \
             && document.querySelectorAll(\"#replicas tr.replica[data-healthy='true']\").length === {replicas}"
        ),
        &format!("the project {status} on revision {revision} with {replicas} healthy replicas"),
    )
}

/// Sets a `<select>` to `value`.
fn select(s: &Session, id: &str, value: &str) -> anyhow::Result<()> {
    s.execute(&format!(
        "document.getElementById({id:?}).value = {value:?}; return true;"
    ))?;
    Ok(())
}

/// Switches the console's language with the top bar's buttons.
fn language(s: &Session, code: &str) -> anyhow::Result<()> {
    click(s, &format!("button[name=lang][value='{code}']"))?;
    wait_js(
        s,
        &format!("document.documentElement.lang === '{code}'"),
        code,
    )
}

/// A full-page screenshot at the top of a tall window.
fn tall_shot(s: &Session, name: &str) -> anyhow::Result<()> {
    s.window_size(1366, 2200)?;
    s.execute("window.scrollTo(0, 0); return true;")?;
    std::thread::sleep(Duration::from_millis(300));
    shot(s, name)?;
    s.window_size(1366, 1000)
}

fn walk(s: &Session, base: &str, plan: &Plan, replicas: &ProjectContainers) -> anyhow::Result<()> {
    let name = &plan.project;
    login(s, base)?;

    // The menu leads to the projects; the form creates one with a gateway on the slave.
    click(s, "nav.mainnav a[href='/projects']")?;
    click(s, "#new-project")?;
    s.wait("#project-form", WAIT)?;
    tall_shot(s, "project-form-en")?;
    fill(s, "#f-name", name)?;
    fill(s, "#f-image", &plan.v1)?;
    fill(s, "#f-replicas", "2")?;
    fill(s, "#f-container-port", "80")?;
    select(s, "f-probe", "http")?;
    fill(s, "#f-health-path", "/")?;
    fill(s, "#f-interval", "2")?;
    fill(s, "#f-timeout", "1")?;
    fill(s, "#f-deadline", "60")?;
    click(s, "#f-gateway")?;
    select(s, "f-gateway-node", "1")?;
    fill(s, "#f-gateway-port", &plan.gateway_port.to_string())?;
    click(s, "#submit-project")?;

    // The secret is shown once, with its copy button.
    s.wait("#webhook-secret", WAIT)?;
    let secret = s
        .execute("return document.getElementById('secret-value').value;")?
        .as_str()
        .unwrap_or_default()
        .to_owned();
    anyhow::ensure!(secret.len() >= 16, "webhook secret {secret:?}");
    shot(s, "project-created-en")?;

    // Ready, seen on the page (live region) and through the gateway.
    wait_project(s, "ready", 1, 2)?;
    gateway_says(plan.gateway_port, "v1")?;
    wait_css(
        s,
        "#timeline tr[data-kind='healthy']",
        "a healthy event on the timeline",
    )?;
    tall_shot(s, "project-ready-en")?;
    s.goto(&format!("{base}/projects"))?;
    wait_css(
        s,
        &format!("#project-{name}[data-status='ready']"),
        "the project ready in the list",
    )?;
    shot(s, "projects-en")?;

    // Scale to 3.
    s.goto(&format!("{base}/projects/{name}"))?;
    fill(s, "#scale-replicas", "3")?;
    click(s, "#scale-button")?;
    wait_css(s, "#notice", "the scale notice")?;
    wait_project(s, "ready", 1, 3)?;

    // Update the image: revision 2, served through the gateway.
    click(s, "#edit-project")?;
    s.wait("#project-form", WAIT)?;
    let image = s
        .execute("return document.getElementById('f-image').value;")?
        .as_str()
        .unwrap_or_default()
        .to_owned();
    anyhow::ensure!(image == plan.v1, "the edit form shows the image: {image}");
    fill(s, "#f-image", &plan.v2)?;
    click(s, "#submit-project")?;
    wait_css(s, "#notice", "the saved notice")?;
    wait_project(s, "ready", 2, 3)?;
    gateway_says(plan.gateway_port, "v2")?;

    // Roll back to revision 1, after the confirmation.
    click(s, "#revision-1 .rollback-to")?;
    s.wait("#confirm-button", WAIT)?;
    let question = text_of(s, "#question")?;
    anyhow::ensure!(question.contains("revision 1"), "question: {question}");
    shot(s, "project-rollback-confirm-en")?;
    click(s, "#confirm-button")?;
    wait_css(s, "#notice", "the rollback notice")?;
    wait_project(s, "ready", 1, 3)?;
    gateway_says(plan.gateway_port, "v1")?;
    wait_css(
        s,
        "#timeline tr[data-kind='rolling_back']",
        "the rollback on the timeline",
    )?;
    tall_shot(s, "project-rolled-back-en")?;

    // The gateways pages: listed, serving, with the replicas as upstreams.
    s.goto(&format!("{base}/gateways"))?;
    let row = format!("tr.gateway[data-name='project/{name}']");
    wait_css(
        s,
        &format!("{row}[data-serving='serving']"),
        "the project's gateway serving",
    )?;
    shot(s, "gateways-en")?;
    click(s, &format!("{row} a"))?;
    wait_js(
        s,
        "document.querySelectorAll(\"#upstreams tr.upstream[data-health='healthy']\").length === 3",
        "three healthy upstreams",
    )?;
    shot(s, "gateway-en")?;
    // A standalone gateway: created from its form, shown, deleted after the confirmation.
    s.goto(&format!("{base}/gateways"))?;
    click(s, "#new-gateway")?;
    s.wait("#gateway-form", WAIT)?;
    fill(s, "#g-name", "edge")?;
    select(s, "g-node", "1")?;
    fill(s, "#g-port", &plan.standalone_port.to_string())?;
    fill(s, "#g-upstreams", "127.0.0.1:9")?;
    shot(s, "gateway-form-en")?;
    click(s, "#submit-gateway")?;
    wait_css(s, "#notice", "the gateway created")?;
    wait_css(s, "#delete-gateway", "the standalone gateway's actions")?;
    click(s, "#delete-gateway")?;
    s.wait("#confirm-button", WAIT)?;
    click(s, "#confirm-button")?;
    wait_css(s, &row, "the gateways list after the deletion")?;
    wait_gone(
        s,
        "tr.gateway[data-name='edge']",
        "the standalone gateway gone",
    )?;

    s.goto(&format!("{base}/"))?;
    wait_css(s, "#card-projects", "the home page's project count")?;
    let count = text_of(s, "#card-projects .card-value")?;
    anyhow::ensure!(count == "1", "home counts {count} projects");
    shot(s, "home-projects-en")?;

    // The same pages in Chinese.
    language(s, "zh-CN")?;
    shot(s, "home-projects-zh")?;
    s.goto(&format!("{base}/projects"))?;
    wait_css(s, &format!("#project-{name}"), "the list in Chinese")?;
    shot(s, "projects-zh")?;
    s.goto(&format!("{base}/projects/{name}"))?;
    wait_css(s, "#timeline tbody tr", "the timeline in Chinese")?;
    tall_shot(s, "project-detail-zh")?;
    s.goto(&format!("{base}/projects/new"))?;
    s.wait("#project-form", WAIT)?;
    tall_shot(s, "project-form-zh")?;
    s.goto(&format!("{base}/gateways"))?;
    wait_css(s, &row, "the gateways in Chinese")?;
    shot(s, "gateways-zh")?;
    click(s, &format!("{row} a"))?;
    wait_css(s, "#gateway-facts", "the gateway in Chinese")?;
    shot(s, "gateway-zh")?;

    // Delete, after the confirmation (in Chinese): gone from the list and from Docker.
    s.goto(&format!("{base}/projects/{name}"))?;
    click(s, "#delete-project")?;
    s.wait("#confirm-button", WAIT)?;
    shot(s, "project-delete-confirm-zh")?;
    click(s, "#confirm-button")?;
    wait_css(s, "#projects-empty", "the empty list after the deletion")?;
    wait_gone(s, &format!("#project-{name}"), "the project gone")?;
    shot(s, "projects-deleted-zh")?;
    language(s, "en")?;
    let deadline = Instant::now() + WAIT;
    while !replicas.list().is_empty() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "Docker still lists the project's containers: {:?}",
            replicas.list()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    Ok(())
}
