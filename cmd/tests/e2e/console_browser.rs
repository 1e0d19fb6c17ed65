//! The web console in headless Chromium against a real `commander up` (master plus local
//! slave): register, see the local slave, join a second slave with a token and kill it to
//! see its offline alert arrive on the alerts page (no reload) and in the home count, watch
//! live metrics on the detail page, follow the tasks page's event stream, run a data
//! action, switch to Chinese and back, log out. Screenshots of the main pages land in
//! `target/e2e-screenshots/` for a person to look at.
//!
//! Needs Debian's `chromium` and `chromium-driver`: skipped with a message when they are
//! missing, a failure under `CI=true`.

use anyhow::bail;
use e2e::browser::{Browser, require_chromium, screenshot_dir};
use e2e::cluster::{create_token, node_id_of, start_slave};
use e2e::console::commander_up;
use e2e::webdriver::Session;
use std::path::Path;
use std::time::{Duration, Instant};

const USER: &str = "console-admin";
const PASSWORD: &str = "Browser test 42!";
const WAIT: Duration = Duration::from_secs(30);

fn shot(s: &Session, name: &str) -> anyhow::Result<()> {
    let path = screenshot_dir().join(format!("{name}.png"));
    s.screenshot(&path)?;
    eprintln!("screenshot: {}", path.display());
    Ok(())
}

/// Waits until `script` (a JS expression) is true in the page.
fn wait_js(s: &Session, script: &str, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    while s.execute(&format!("return Boolean({script});"))?.as_bool() != Some(true) {
        if Instant::now() >= deadline {
            bail!("timed out waiting for {what} on {}", s.url()?);
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

fn html_lang(s: &Session) -> anyhow::Result<String> {
    Ok(s.execute("return document.documentElement.lang;")?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

fn samples_seen(s: &Session) -> anyhow::Result<u64> {
    Ok(s.execute(
        "return Number(document.getElementById('charts').getAttribute('data-samples') || 0);",
    )?
    .as_u64()
    .unwrap_or(0))
}

#[test]
fn console_in_chromium_register_live_metrics_language_logout() -> anyhow::Result<()> {
    let Some((chromium, driver)) = require_chromium("console_in_chromium")? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let (_up, base, _) = commander_up(dir.path())?;
    let browser = Browser::start(&chromium, &driver, 1366, 1000)?;
    let outcome = walk(&browser.session, &base, dir.path());
    if outcome.is_err() {
        // Leave evidence for whoever reads the failure.
        let _ = shot(&browser.session, "failure");
        if let Ok(html) = browser
            .session
            .execute("return document.documentElement.outerHTML;")
        {
            eprintln!("page at failure:\n{}", html.as_str().unwrap_or_default());
        }
    }
    outcome
}

/// A second slave joins with a token and is killed: its offline alert appears on the
/// alerts page without a reload (pushed over SSE, with the frame's toast and badge), then
/// in the home page's count. The heartbeat TTL is short (`FAST_HEARTBEAT_YAML`).
fn offline_alert(s: &Session, base: &str, dir: &Path) -> anyhow::Result<()> {
    let token = create_token(&dir.join("data"))?;
    let slave_dir = dir.join("slave-2");
    let mut slave = start_slave("slave-2", &slave_dir, Some(&token), None, &[])?;
    let deadline = Instant::now() + WAIT;
    let id = loop {
        match node_id_of(&slave_dir) {
            Ok(id) => break id,
            Err(e) if Instant::now() >= deadline => {
                bail!(
                    "the second slave did not enrol: {e}\n{}",
                    slave.lines().join("\n")
                )
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    s.goto(&format!("{base}/"))?;
    wait_js(
        s,
        &format!("document.querySelector(\"a[href='/slaves/{id}']\") !== null"),
        "the second slave on the home page",
    )?;

    s.goto(&format!("{base}/alerts"))?;
    s.wait("#alerts-live", WAIT)?;
    wait_js(
        s,
        "document.getElementById('alert-badge').getAttribute('data-live') === 'on'",
        "the alert stream",
    )?;
    s.execute("window.commanderNotReloaded = true; return true;")?;
    slave.kill();
    wait_js(
        s,
        &format!(
            "document.querySelector('#alerts-active tr[data-node=\"{id}\"][data-state=\"firing\"]') !== null"
        ),
        "the offline alert on the alerts page",
    )?;
    anyhow::ensure!(
        s.execute("return window.commanderNotReloaded === true;")?
            .as_bool()
            == Some(true),
        "the alerts page was reloaded"
    );
    wait_js(
        s,
        "!document.getElementById('alert-toast').hidden",
        "the alert toast",
    )?;
    let toast = s.text(&s.find("#alert-toast .toast-text")?)?;
    anyhow::ensure!(toast.contains("is offline"), "toast: {toast}");
    wait_js(
        s,
        "document.getElementById('alert-badge').textContent === '1'",
        "the alert badge",
    )?;
    shot(s, "alerts")?;

    s.goto(&format!("{base}/"))?;
    wait_js(
        s,
        "document.querySelector('#card-alerts .card-value').textContent === '1'",
        "the home page's alert count",
    )?;
    shot(s, "home-alert")?;
    Ok(())
}

/// The whole walk through the console.
fn walk(s: &Session, base: &str, dir: &Path) -> anyhow::Result<()> {
    // First start: every page leads to registration.
    s.goto(&format!("{base}/"))?;
    s.wait("form[action='/register']", WAIT)?;
    anyhow::ensure!(s.url()?.ends_with("/register"), "at {}", s.url()?);
    fill(s, "#username", USER)?;
    fill(s, "#password", PASSWORD)?;
    fill(s, "#confirm", PASSWORD)?;
    click(s, "form[action='/register'] button[type=submit]")?;

    // Home: the local slave appears (the table refreshes itself every 5 s).
    s.wait("a[href='/slaves/1']", WAIT)?;
    wait_js(
        s,
        "document.querySelector('.badge-online') !== null",
        "the local slave online",
    )?;
    shot(s, "home")?;

    offline_alert(s, base, dir)?;

    // Slave detail: history first, then live samples over SSE.
    click(s, "a[href='/slaves/1']")?;
    s.wait("canvas#chart-cpu", WAIT)?;
    wait_js(
        s,
        "document.getElementById('live-status').classList.contains('on')",
        "the live stream",
    )?;
    let first = samples_seen(s)?;
    wait_js(
        s,
        &format!(
            "Number(document.getElementById('charts').getAttribute('data-samples')) >= {}",
            first + 5
        ),
        "five more live samples",
    )?;
    let cpu = s.text(&s.find("#now-cpu")?)?;
    anyhow::ensure!(cpu.ends_with('%'), "current CPU {cpu:?}");
    let drawn = s.execute("return Chart.getChart('chart-cpu').data.datasets[0].data.length;")?;
    anyhow::ensure!(
        drawn.as_u64().unwrap_or(0) >= 5,
        "cpu chart has {drawn} points"
    );
    s.window_size(1366, 1500)?;
    std::thread::sleep(Duration::from_millis(500));
    shot(s, "slave-detail")?;

    s.window_size(1366, 1000)?;

    // Records: the registration and login are in the audit log.
    s.goto(&format!("{base}/records"))?;
    s.wait("table.audit", WAIT)?;
    let audit = s.text(&s.find("table.audit")?)?;
    anyhow::ensure!(audit.contains("auth.register"), "audit: {audit}");
    shot(s, "records")?;

    // Tasks follow the task event stream (polling only if it fails).
    s.goto(&format!("{base}/records/tasks"))?;
    wait_js(
        s,
        "document.getElementById('ops').getAttribute('data-task-stream') === 'on'",
        "the task event stream",
    )?;

    // Data: compaction reports sizes; a reset asks for confirmation first.
    s.goto(&format!("{base}/data"))?;
    click(s, "#compact-button")?;
    s.wait("#compact-report", WAIT)?;
    shot(s, "data")?;
    fill(s, "#reset-form input[name=older_than_days]", "3650")?;
    click(s, "#reset-form button[type=submit]")?;
    s.wait("#confirm-reset", WAIT)?;
    shot(s, "data-confirm")?;
    click(s, "a[href='/data']")?;
    s.wait("#reset-form", WAIT)?;

    // API tokens: one is created and shown once, with its copy button.
    s.goto(&format!("{base}/tokens"))?;
    s.wait("#create-token", WAIT)?;
    fill(s, "#token-name", "ci deploy")?;
    click(s, "#create-token input[name=scope][value=operate]")?;
    click(s, "#create-token button[type=submit]")?;
    s.wait("#token-secret", WAIT)?;
    let secret = s.execute("return document.getElementById('token-secret').value;")?;
    anyhow::ensure!(
        secret.as_str().unwrap_or_default().starts_with("cmdr_"),
        "token {secret}"
    );
    shot(s, "tokens")?;

    // Chinese and back: the choice follows the user across pages.
    s.goto(&format!("{base}/slaves/1"))?;
    click(s, "button[name=lang][value='zh-CN']")?;
    wait_js(s, "document.documentElement.lang === 'zh-CN'", "Chinese")?;
    s.wait("canvas#chart-cpu", WAIT)?;
    let nav = s.text(&s.find("nav.mainnav")?)?;
    anyhow::ensure!(nav.contains("首页") && nav.contains("节点"), "nav: {nav}");
    wait_js(
        s,
        "document.getElementById('live-status').textContent === '实时'",
        "the live stream in Chinese",
    )?;
    std::thread::sleep(Duration::from_secs(2));
    s.window_size(1366, 1500)?;
    std::thread::sleep(Duration::from_millis(500));
    shot(s, "slave-detail-zh")?;
    s.window_size(1366, 1000)?;
    s.goto(&format!("{base}/"))?;
    anyhow::ensure!(html_lang(s)? == "zh-CN", "the language is remembered");
    shot(s, "home-zh")?;
    s.goto(&format!("{base}/tokens"))?;
    s.wait("table#tokens", WAIT)?;
    let tokens = s.text(&s.find("table#tokens")?)?;
    anyhow::ensure!(tokens.contains("ci deploy"), "tokens: {tokens}");
    anyhow::ensure!(
        s.find_all("#token-secret")?.is_empty(),
        "the secret is shown once"
    );
    shot(s, "tokens-zh")?;
    click(s, "button[name=lang][value='en']")?;
    wait_js(s, "document.documentElement.lang === 'en'", "English")?;

    // Log out: the session ends and pages lead to the login form again.
    click(s, "form.logout button[type=submit]")?;
    s.wait("form[action='/login']", WAIT)?;
    shot(s, "login")?;
    s.goto(&format!("{base}/slaves/1"))?;
    s.wait("form[action='/login']", WAIT)?;
    anyhow::ensure!(s.url()?.ends_with("/login"), "at {}", s.url()?);

    // And back in through the login form.
    fill(s, "#username", USER)?;
    fill(s, "#password", PASSWORD)?;
    click(s, "form[action='/login'] button[type=submit]")?;
    s.wait("a[href='/slaves/1']", WAIT)?;
    Ok(())
}
