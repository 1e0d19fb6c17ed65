//! `commander gateway --config FILE` and `commander-gateway --config FILE`: the gateway on
//! its own, like HAProxy. Both binaries call [`run`], so they behave the same.
//!
//! SIGHUP or `POST /reload` on the admin endpoint re-reads the file and applies it live;
//! SIGTERM or SIGINT stop accepting, let connections drain for `--drain`, and exit.
//! Once running it prints one JSON line on stdout with the bound addresses
//! (`{"event":"ready",...}`), which scripts and tests wait for.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use gateway::admin::ReloadError;
use gateway::{Config, GatewayHandle};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Flags of the standalone gateway.
#[derive(Args, Debug, Clone)]
pub struct GatewayArgs {
    /// YAML configuration file.
    #[arg(long, short, env = "COMMANDER_GATEWAY_CONFIG")]
    pub config: PathBuf,
    /// Only validate the configuration and exit.
    #[arg(long)]
    pub check: bool,
    /// Longest time established connections may take to finish on SIGTERM.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub drain: Duration,
}

/// Text that is not a duration such as `250ms`, `10s` or `1m`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a duration")]
struct NotADuration(String);

fn parse_duration(s: &str) -> Result<Duration, NotADuration> {
    gateway::config::parse_duration(s).ok_or_else(|| NotADuration(s.to_owned()))
}

/// Runs the gateway until SIGTERM or SIGINT (or only checks the file with `--check`).
/// Expects logging to go to standard error ([`plumbing::tracing::Output::Stderr`]):
/// standard output carries the `ready` line.
pub fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let config = load(&args.config)?;
    if args.check {
        println!(
            "{}: OK ({} gateways)",
            args.config.display(),
            config.gateways.len()
        );
        return Ok(());
    }
    let admin_cfg = config.admin.clone();
    let gw = gateway::start(config).context("starting the gateway")?;
    let reload: gateway::admin::ReloadFn = {
        let (gw, path) = (gw.clone(), args.config.clone());
        Arc::new(move || reload(&gw, &path))
    };
    let admin = match admin_cfg {
        Some(a) => Some(
            gateway::admin::serve(&a, gw.clone(), Arc::clone(&reload))
                .with_context(|| format!("admin endpoint on {}", a.bind))?,
        ),
        None => None,
    };
    // Handlers first: a signal sent as soon as the `ready` line is read must not meet the
    // default action (which kills the process without draining).
    let mut signals = Signals::new([SIGHUP, SIGINT, SIGTERM]).context("signal handlers")?;
    announce(&gw, admin.as_ref().map(|a| a.local_addr()))?;
    for sig in signals.forever() {
        if sig == SIGHUP {
            if let Err(e) = reload() {
                tracing::error!("reload failed, keeping the running configuration: {e}");
            }
            continue;
        }
        tracing::info!("signal {sig}: draining for up to {:?}", args.drain);
        break;
    }
    if let Some(a) = admin {
        a.stop();
    }
    gw.shutdown(args.drain);
    Ok(())
}

fn load(path: &Path) -> anyhow::Result<Config> {
    Config::from_file(path).with_context(|| format!("configuration {}", path.display()))
}

/// Re-reads and applies the configuration file, logging what changed.
fn reload(gw: &GatewayHandle, path: &Path) -> Result<gateway::ApplyReport, ReloadError> {
    let report = gateway::admin::reload_file(gw, path)?;
    tracing::info!(
        "reloaded {}: added {:?}, removed {:?}, changed {:?}",
        path.display(),
        report.added,
        report.removed,
        report.changed
    );
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    Ok(report)
}

fn announce(gw: &GatewayHandle, admin: Option<std::net::SocketAddr>) -> anyhow::Result<()> {
    let stats = gw.stats_blocking()?;
    let gateways: Vec<_> = stats
        .gateways
        .iter()
        .map(|g| serde_json::json!({ "name": g.name, "listen": g.listen }))
        .collect();
    let line = serde_json::json!({
        "event": "ready",
        "driver": stats.driver,
        "workers": stats.workers,
        "admin": admin.map(|a| a.to_string()),
        "gateways": gateways,
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}
