//! Idle footprint of the real slave agent, and the size of each release binary.

use crate::procstat::{TICKS_PER_SEC, cpu_ticks, rss_bytes};
use crate::report::{machine_line, now_utc};
use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Flags of `footprint`.
#[derive(Debug, clap::Args)]
pub struct FootprintArgs {
    /// Seconds the idle slave is observed.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Heartbeat (and so sampling) interval the master asks of the slave, ms
    /// (`heartbeat.intervalMs`; the master's default is 5000).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    interval_ms: u64,
}

fn read_line_with(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    marker: &str,
) -> anyhow::Result<String> {
    for line in lines {
        let line = line?;
        if let Some((_, rest)) = line.split_once(marker) {
            return Ok(rest.trim().to_owned());
        }
    }
    bail!("process exited before printing {marker:?}")
}

/// Runs the footprint benchmark and returns the markdown report.
pub fn run(bin_dir: &Path, args: &FootprintArgs) -> anyhow::Result<String> {
    let master_bin = bin_dir.join("commander");
    let slave_bin = bin_dir.join("commander-slave");
    for b in [&master_bin, &slave_bin] {
        if !b.exists() {
            bail!(
                "{} not found: run `cargo build --release --workspace` first",
                b.display()
            );
        }
    }
    let tmp =
        std::env::temp_dir().join(format!("commander-bench-footprint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let config = tmp.join("master.yaml");
    // The TTL must exceed the interval; keep the default 15 s unless the interval is long.
    let ttl_ms = (args.interval_ms * 3).max(15_000);
    std::fs::write(
        &config,
        format!(
            "heartbeat: {{intervalMs: {}, ttlMs: {ttl_ms}}}\n",
            args.interval_ms
        ),
    )?;
    let mut master = Command::new(&master_bin)
        .args([
            "master",
            "--http-port",
            "0",
            "--tcp-port",
            "0",
            "--data-dir",
        ])
        .arg(tmp.join("master"))
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut lines = BufReader::new(master.stdout.take().context("stdout")?).lines();
    let token = read_line_with(&mut lines, "join token (one use, valid 24 h): ")?;
    std::thread::spawn(move || for _ in lines {});
    let mut slave = Command::new(&slave_bin)
        .args(["--join", &token, "--data-dir"])
        .arg(tmp.join("slave"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    // Let it enrol and settle before measuring.
    std::thread::sleep(Duration::from_secs(3));
    let pid = slave.id();
    let t0 = Instant::now();
    let c0 = cpu_ticks(pid)?;
    let mut peak = 0;
    while t0.elapsed() < Duration::from_secs(args.seconds) {
        peak = peak.max(rss_bytes(pid)?.0);
        std::thread::sleep(Duration::from_millis(500));
    }
    let c1 = cpu_ticks(pid)?;
    let elapsed = t0.elapsed().as_secs_f64();
    let (rss, hwm) = rss_bytes(pid)?;
    let cpu_pct = (c1 - c0) as f64 / TICKS_PER_SEC as f64 / elapsed * 100.0;
    let _ = slave.kill();
    let _ = slave.wait();
    let _ = master.kill();
    let _ = master.wait();
    let _ = std::fs::remove_dir_all(&tmp);
    let mut sizes = String::new();
    for name in ["commander", "commander-slave", "commander-gateway"] {
        let p = bin_dir.join(name);
        match std::fs::metadata(&p) {
            Ok(m) => sizes.push_str(&format!(
                "| `{name}` | {:.1} MiB |\n",
                m.len() as f64 / 1048576.0
            )),
            Err(_) => sizes.push_str(&format!("| `{name}` | not built |\n")),
        }
    }
    Ok(format!(
        "### Slave idle footprint and binary sizes, {} ({})\n\n`commander-bench footprint --seconds {} --interval-ms {}` (release profile, symbols stripped)\n\n\
| slave RSS now | slave RSS peak (sampled / VmHWM) | slave CPU over {:.0} s ({} ms heartbeat, one sample each) |\n|---|---|---|\n\
| {:.1} MiB | {:.1} MiB / {:.1} MiB | {:.3} % of one core |\n\n| binary | size |\n|---|---|\n{}",
        now_utc(),
        machine_line(),
        args.seconds,
        args.interval_ms,
        elapsed,
        args.interval_ms,
        rss as f64 / 1048576.0,
        peak as f64 / 1048576.0,
        hwm as f64 / 1048576.0,
        cpu_pct,
        sizes
    ))
}
