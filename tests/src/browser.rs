//! Headless Chromium for end-to-end tests: finds Debian's `chromium` and `chromedriver`,
//! starts chromedriver on a free loopback port and opens a WebDriver [`Session`]; both end
//! when the [`Browser`] is dropped.
//!
//! Without Chromium a test is skipped with a message, except under `CI=true`, where it is a
//! failure (`.ci/run` installs the packages when they are missing).

use crate::process::Proc;
use crate::webdriver::{Session, call};
use anyhow::{Context, bail};
use serde_json::json;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where screenshots go: `target/e2e-screenshots/` of the workspace (or of
/// `CARGO_TARGET_DIR`).
pub fn screenshot_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        })
        .join("e2e-screenshots")
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// Chromium and chromedriver, or `None` (skip) when missing outside CI.
pub fn require_chromium(test: &str) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
    let browser = find_program(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = find_program(&["chromedriver"]);
    match (browser, driver) {
        (Some(b), Some(d)) => Ok(Some((b, d))),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => bail!(
            "{test}: chromium and chromedriver are required under CI=true \
             (apt-get install chromium chromium-driver)"
        ),
        _ => {
            eprintln!(
                "SKIPPED {test}: chromium or chromedriver not found \
                 (apt-get install chromium chromium-driver); under CI=true this fails"
            );
            Ok(None)
        }
    }
}

/// A free loopback port (bound, read, released: chromedriver cannot take port 0).
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// chromedriver and one headless Chromium session.
pub struct Browser {
    /// The session.
    pub session: Session,
    _driver: Proc,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width`×`height` pixels.
    pub fn start(browser: &Path, driver: &Path, width: u32, height: u32) -> anyhow::Result<Self> {
        let port = free_port()?;
        let mut cmd = Command::new(driver);
        cmd.arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1");
        let mut proc = Proc::spawn("chromedriver", cmd)?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(30);
        while call(addr, "GET", "/status", None)
            .ok()
            .and_then(|v| v["ready"].as_bool())
            != Some(true)
        {
            if Instant::now() >= deadline || !proc.is_running() {
                bail!("chromedriver did not start:\n{}", proc.lines().join("\n"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir()?;
        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--lang=en-US".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": browser.to_string_lossy(),
                "args": args,
                "prefs": { "intl.accept_languages": "en-US,en" },
            },
        });
        let session = Session::new(addr, capabilities)
            .with_context(|| format!("chromedriver output:\n{}", proc.lines().join("\n")))?;
        Ok(Self {
            session,
            _driver: proc,
            _profile: profile,
        })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.session.quit();
    }
}
