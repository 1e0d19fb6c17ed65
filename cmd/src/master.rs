//! `commander master` and `commander up`: load the master's configuration from the file and
//! the flags, start the master (store, endpoint, console) and, for `up`, a slave enrolled
//! over loopback in the same process.

use anyhow::Context;
use clap::Args;
use master::config::{self, MasterConfig, MasterOverrides};
use master::server::{MasterSettings, RunningMaster, start_master};
use std::path::PathBuf;
use std::time::Duration;

/// Flags of the master role (and of `up`).
#[derive(Debug, Clone, Args)]
pub struct MasterArgs {
    /// YAML configuration file (keys as in the original `configs.yaml`).
    #[arg(long, env = "COMMANDER_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (LMDB environments, keys).
    #[arg(long, env = "COMMANDER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Console and API port (httpServer.prod); 0 picks a free one.
    #[arg(long, env = "COMMANDER_HTTP_PORT")]
    http_port: Option<u16>,
    /// Slave protocol port (tcpServer.prod); 0 picks a free one.
    #[arg(long, env = "COMMANDER_TCP_PORT")]
    tcp_port: Option<u16>,
    /// UDP port (udpServer.prod); reserved, validated, not opened yet.
    #[arg(long, env = "COMMANDER_UDP_PORT")]
    udp_port: Option<u16>,
    /// Console bind address.
    #[arg(long, env = "COMMANDER_HTTP_BIND")]
    http_bind: Option<std::net::IpAddr>,
    /// Address slaves dial, printed in join tokens.
    #[arg(long, env = "COMMANDER_ADVERTISE")]
    advertise: Option<String>,
    /// io_uring use: auto, on or off (COMMANDER_DISABLE_IO_URING=1 forces off).
    #[arg(long, value_enum)]
    io_uring: Option<config::IoUringMode>,
    /// Serve the console over TLS with this PEM certificate chain (console.tls.cert).
    #[arg(long, env = "COMMANDER_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (console.tls.key).
    #[arg(long, env = "COMMANDER_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A reverse proxy whose X-Forwarded-For is believed; repeat for several
    /// (console.trustedProxies).
    #[arg(long = "trusted-proxy")]
    trusted_proxies: Vec<std::net::IpAddr>,
}

fn load_config(args: &MasterArgs, up: bool) -> anyhow::Result<MasterConfig> {
    let io_uring = args.io_uring;
    let overrides = MasterOverrides {
        data_dir: args.data_dir.clone(),
        http_port: args.http_port,
        tcp_port: args.tcp_port,
        udp_port: args.udp_port,
        http_bind: args.http_bind,
        advertise_addr: args.advertise.clone(),
        io_uring,
    };
    let _ = up;
    let mut cfg = config::load(args.config.as_deref(), overrides)?;
    cfg.console = cfg.console.with_overrides(config::ConsoleOverrides {
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        trusted_proxies: args.trusted_proxies.clone(),
    })?;
    Ok(cfg)
}

/// `auto` lets the endpoint pick; `on` requires io_uring; `off` forbids it.
pub(crate) fn io_uring_choice(mode: config::IoUringMode) -> Option<bool> {
    match config::IoUringMode::from_env_and(mode) {
        config::IoUringMode::Auto => None,
        config::IoUringMode::On => Some(true),
        config::IoUringMode::Off => Some(false),
    }
}

fn settings(cfg: &MasterConfig) -> MasterSettings {
    MasterSettings {
        data_dir: cfg.data_dir.clone(),
        data_db: cfg.db_data_dir.clone(),
        performance_db: cfg.db_performance_dir.clone(),
        tcp_addr: cfg.tcp_addr,
        advertise_addr: cfg.advertise_addr.clone(),
        cores: cfg.cores,
        io_uring: io_uring_choice(cfg.io_uring),
        timing: master::cluster::ClusterTiming {
            heartbeat_interval: cfg.heartbeat.interval,
            ttl: cfg.heartbeat.ttl,
            grace: cfg.heartbeat.grace,
            jitter: cfg.heartbeat.jitter,
            history: cfg.metrics,
        },
        console: master::console::ConsoleOptions::from_config(cfg),
        protocol: cfg.protocol,
        audit: cfg.audit,
        projects: cfg.projects,
    }
}

/// Runs a master (with a local slave for `up`) until Ctrl-C.
pub fn run(args: MasterArgs, up: bool) -> anyhow::Result<()> {
    let cfg = load_config(&args, up)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("cmdr-control")
        .enable_all()
        .build()
        .context("cannot start the control runtime")?;
    rt.block_on(async move {
        let master = start_master(settings(&cfg)).await?;
        let console = crate::console::serve(&master, &cfg).await?;
        announce(&master, &console).await;
        if up {
            start_local_slave(&master, &cfg)?;
        } else {
            let token = master.issue_token(Duration::from_secs(24 * 3600), "printed at start")?;
            println!("join token (one use, valid 24 h): {}", token.encode());
            println!(
                "on each server run: commander slave --join {}",
                token.encode()
            );
            println!(
                "more tokens: commander token create --data-dir {}",
                cfg.data_dir.display()
            );
        }
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        println!("shutting down");
        console.stop(&master).await;
        master.shutdown().await;
        Ok(())
    })
}

async fn announce(master: &RunningMaster, console: &crate::console::RunningConsole) {
    let url = console.url();
    println!("commander master ready");
    println!("console: {url}/");
    println!("api: {url}/api/v1/nodes");
    if master.registration_open().await {
        println!("first start: create the administrator account at {url}/register");
    }
    if let Some(r) = &master.start_compaction {
        for env in &r.envs {
            println!(
                "compacted {}: {} -> {} bytes",
                env.env, env.before_bytes, env.after_bytes
            );
        }
        if let Some(e) = &r.error {
            println!("requested compaction failed, files unchanged: {e}");
        }
    }
    println!(
        "protocol endpoint: {} on {}",
        master.tcp_addr, master.runtime
    );
    println!("slaves dial: {}", master.advertise_addr);
}

/// Enrols (first start) and runs a slave in this process, on its own thread.
fn start_local_slave(master: &RunningMaster, cfg: &MasterConfig) -> anyhow::Result<()> {
    let slave_dir = cfg.data_dir.join("slave");
    let enrolled = slave::identity::load_enrollment(&slave_dir)?.is_some();
    let join = if enrolled {
        None
    } else {
        Some(master.issue_token(Duration::from_secs(600), "local slave of commander up")?)
    };
    let options = slave::agent::AgentOptions {
        data_dir: slave_dir,
        master_addr: Some(master.advertise_addr.clone()),
        join,
        docker_socket: PathBuf::from(slave::config::DEFAULT_DOCKER_SOCKET),
        force_legacy: io_uring_choice(cfg.io_uring) == Some(false),
        ops: slave::agent::OpsOptions::default(),
        workloads: slave::config::WorkloadsConfig::default(),
    };
    std::thread::Builder::new()
        .name("cmdr-local-slave".into())
        .spawn(move || {
            if let Err(e) = slave::agent::run(options) {
                tracing::error!("local slave stopped: {e}");
            }
        })
        .context("cannot start the local slave")?;
    println!("local slave started; next: open the console, or add servers with");
    println!(
        "  commander token create --data-dir {}   then   commander slave --join TOKEN",
        cfg.data_dir.display()
    );
    Ok(())
}
