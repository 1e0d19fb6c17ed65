//! `commander-gateway --config FILE`: the gateway on its own, like HAProxy.
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
use clap::Parser;
use gateway::{Config, GatewayHandle};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

#[derive(Parser, Debug)]
#[command(
    name = "commander-gateway",
    version,
    about = "Commander's L4 TCP gateway"
)]
struct Args {
    /// YAML configuration file.
    #[arg(long, short, env = "COMMANDER_GATEWAY_CONFIG")]
    config: PathBuf,
    /// Only validate the configuration and exit.
    #[arg(long)]
    check: bool,
    /// Longest time established connections may take to finish on SIGTERM.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    drain: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    gateway::config::parse_duration(s).ok_or_else(|| format!("`{s}` is not a duration"))
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = load(&args.config)?;
    if args.check {
        println!(
            "{}: OK ({} gateways)",
            args.config.display(),
            config.gateways.len()
        );
        return Ok(());
    }
    let admin_addr = config.admin;
    let gw = gateway::start(config).context("starting the gateway")?;
    let reload: gateway::admin::ReloadFn = {
        let (gw, path) = (gw.clone(), args.config.clone());
        Arc::new(move || reload(&gw, &path))
    };
    let admin = match admin_addr {
        Some(a) => Some(
            gateway::admin::serve(a, gw.clone(), Arc::clone(&reload))
                .with_context(|| format!("admin endpoint on {a}"))?,
        ),
        None => None,
    };
    announce(&gw, admin.as_ref().map(|a| a.local_addr()))?;
    let mut signals = Signals::new([SIGHUP, SIGINT, SIGTERM]).context("signal handlers")?;
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

fn reload(gw: &GatewayHandle, path: &Path) -> Result<gateway::ApplyReport, String> {
    let cfg = load(path).map_err(|e| format!("{e:#}"))?;
    let report = gw.apply_blocking(cfg).map_err(|e| e.to_string())?;
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
