//! `promtool check metrics` (Debian's `prometheus` package) on a Prometheus text exposition:
//! used by every test of a `/metrics` endpoint (the master's, the gateway's).

use std::io::Write;
use std::process::{Command, Stdio};

/// Panics unless `promtool check metrics` accepts `text`. Without promtool this panics
/// under `CI=true` and, elsewhere, prints that the check was skipped and returns.
pub fn assert_accepts(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(
                !crate::console::in_ci(),
                "CI=true but promtool cannot run ({e}): apt-get install prometheus"
            );
            eprintln!(
                "SKIPPED: promtool check metrics (no promtool: {e}); a failure under CI=true"
            );
            return;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .expect("cannot write to promtool");
    }
    let out = child.wait_with_output().expect("promtool did not finish");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
