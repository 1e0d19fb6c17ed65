//! Child processes that are killed when dropped, with their output captured line by line.

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Path of the `commander` binary the suite drives.
///
/// The suite is an integration test of the `commander` package (`cmd/tests/e2e/`), so cargo
/// builds the package's binaries, once per run and with the same dependency features as the
/// rest of the run, before it starts the test executable. Cargo names the binary in
/// `CARGO_BIN_EXE_commander` and puts it in the profile directory (`target/debug/`), the
/// parent of the test executable's `deps/` directory.
pub fn commander_bin() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("CARGO_BIN_EXE_commander") {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe().context("path of the test executable")?;
    let Some(profile_dir) = exe.parent().and_then(Path::parent) else {
        bail!("{} has no profile directory", exe.display());
    };
    let bin = profile_dir.join("commander");
    if !bin.is_file() {
        bail!(
            "{} missing: run the suite with `cargo test -p commander --test e2e`, which builds it",
            bin.display()
        );
    }
    Ok(bin)
}

/// A running child; killed and reaped on drop.
pub struct Proc {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `cmd` with stdout and stderr captured.
    pub fn spawn(name: &str, mut cmd: Command) -> anyhow::Result<Self> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().with_context(|| format!("spawn {name}"))?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let lines = Arc::clone(&lines);
            let tag = name.to_owned();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if std::env::var_os("E2E_VERBOSE").is_some() {
                        eprintln!("[{tag}] {line}");
                    }
                    lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            });
        }
        Ok(Self {
            name: name.to_owned(),
            child,
            lines,
        })
    }

    /// Waits for an output line containing `needle` and returns it.
    pub fn wait_line(&mut self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return Ok(l);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before printing {needle:?}:\n{}",
                    self.name,
                    self.lines().join("\n")
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not print {needle:?} within {timeout:?}:\n{}",
                    self.name,
                    self.lines().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
