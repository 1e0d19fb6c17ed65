//! Subcommands of the `commander` binary.

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use master::config::{self, MasterConfig, MasterOverrides};
use master::server::{ADVERTISE_FILE, MasterSettings, RunningMaster, master_keys, start_master};
use master::store::compaction::{self, LockMode, StoreLock};
use master::store::{LmdbStore, Store};
use std::path::PathBuf;
use std::time::Duration;

/// Commander: one master, many slaves.
#[derive(Debug, Parser)]
#[command(
    name = "commander",
    version,
    about = "Commander: a lightweight one-stop DevOps platform"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a master and a local slave enrolled over loopback (data under ./data).
    Up(MasterArgs),
    /// Run the master role alone; prints a one-time join token.
    Master(MasterArgs),
    /// Run the slave role (first start: --join TOKEN).
    Slave(slave::cli::SlaveArgs),
    /// Join tokens of a master's data directory.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Nodes of a master's data directory.
    Node {
        #[command(subcommand)]
        action: NodeAction,
    },
    /// Maintenance of a master's databases.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// Console users of a master's data directory.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Debug, Subcommand)]
enum DbAction {
    /// Compact both databases now, shrinking their files (the master must be stopped; the
    /// console's Compact schedules the same for the master's next start).
    Compact {
        /// The master's data directory.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum UserAction {
    /// Set a new password for a console user and end all of their sessions (works while
    /// the master runs). Prints a generated password unless --password-stdin is given.
    ResetPassword {
        /// The master's data directory.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
        /// The user's login name.
        #[arg(long)]
        username: String,
        /// Read the new password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Create a one-time join token (works while the master runs).
    Create {
        /// The master's data directory.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
        /// Validity in hours.
        #[arg(long, default_value_t = 24)]
        valid_hours: u64,
        /// Address slaves should dial (default: the running master's advertised address).
        #[arg(long)]
        master: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum NodeAction {
    /// Revoke a node: its key is refused from its next connection on.
    Revoke {
        /// The node id.
        id: u64,
        /// The master's data directory.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
    },
    /// List nodes stored in the data directory.
    List {
        /// The master's data directory.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
    },
}

/// Flags of the master role (and of `up`).
#[derive(Debug, Clone, Args)]
struct MasterArgs {
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

pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => run_master(args, true),
        Command::Master(args) => run_master(args, false),
        Command::Slave(args) => Ok(slave::cli::run(args)?),
        Command::Token {
            action:
                TokenAction::Create {
                    data_dir,
                    valid_hours,
                    master,
                },
        } => token_create(data_dir, valid_hours, master),
        Command::Node { action } => node_admin(action),
        Command::Db {
            action: DbAction::Compact { data_dir },
        } => db_compact(&data_dir),
        Command::User {
            action:
                UserAction::ResetPassword {
                    data_dir,
                    username,
                    password_stdin,
                },
        } => reset_password(&data_dir, &username, password_stdin),
    }
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
fn io_uring_choice(mode: config::IoUringMode) -> Option<bool> {
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
        http_addr: cfg.http_addr,
        tcp_addr: cfg.tcp_addr,
        advertise_addr: cfg.advertise_addr.clone(),
        cores: cfg.cores,
        io_uring: io_uring_choice(cfg.io_uring),
        timing: master::cluster::ClusterTiming {
            heartbeat_interval: cfg.heartbeat.interval,
            ttl: cfg.heartbeat.ttl,
            grace: cfg.heartbeat.grace,
            jitter: cfg.heartbeat.jitter,
            retention: cfg.metrics_retention,
        },
        console: master::console::ConsoleOptions::from_config(cfg),
    }
}

fn run_master(args: MasterArgs, up: bool) -> anyhow::Result<()> {
    let cfg = load_config(&args, up)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("cmdr-control")
        .enable_all()
        .build()
        .context("cannot start the control runtime")?;
    rt.block_on(async move {
        let master = start_master(settings(&cfg)).await?;
        announce(&master).await;
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
        master.shutdown().await;
        Ok(())
    })
}

async fn announce(master: &RunningMaster) {
    let url = master.console_url();
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

/// The `data` and `performance` environment directories of a data directory; fails when
/// the master never ran there.
fn store_dirs(data_dir: &std::path::Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let cfg = config::load(
        None,
        MasterOverrides {
            data_dir: Some(data_dir.to_owned()),
            ..MasterOverrides::default()
        },
    )?;
    if !cfg.db_data_dir.join("data.mdb").exists() {
        bail!(
            "no master data at {} (start the master once first)",
            cfg.db_data_dir.display()
        );
    }
    Ok((cfg.db_data_dir, cfg.db_performance_dir))
}

/// Opens the store under the shared store lock (released after the store is dropped).
fn open_store(data_dir: &std::path::Path) -> anyhow::Result<(StoreLock, LmdbStore)> {
    let (data, perf) = store_dirs(data_dir)?;
    let lock = StoreLock::acquire(&data, LockMode::Shared)?;
    let store = LmdbStore::open(&data, &perf)?;
    Ok((lock, store))
}

fn db_compact(data_dir: &std::path::Path) -> anyhow::Result<()> {
    let (data, perf) = store_dirs(data_dir)?;
    let _lock = StoreLock::acquire(&data, LockMode::Exclusive)?;
    let record = compaction::compact_and_record(&data, &perf, master::tokens::now_ms())?;
    let _ = compaction::cancel(&data);
    for env in &record.envs {
        println!(
            "{}: {} -> {} bytes ({} ms)",
            env.env, env.before_bytes, env.after_bytes, env.took_ms
        );
    }
    match record.error {
        None => Ok(()),
        Some(e) => bail!("compaction stopped, the remaining files are unchanged: {e}"),
    }
}

fn reset_password(
    data_dir: &std::path::Path,
    username: &str,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        web::auth::recovery::generate_password()?
    };
    let (_lock, store) = open_store(data_dir)?;
    let ended = web::auth::recovery::reset_password(
        &store,
        username,
        &password,
        web::auth::HashCost::DEFAULT,
        master::tokens::now_ms(),
    )?;
    if !password_stdin {
        println!("new password for {username}: {password}");
    }
    println!("password of {username} reset; {ended} session(s) ended");
    Ok(())
}

fn token_create(data_dir: PathBuf, valid_hours: u64, master: Option<String>) -> anyhow::Result<()> {
    let (_lock, store) = open_store(&data_dir)?;
    let keys = master_keys(&data_dir)?;
    let addr = match master {
        Some(a) => a,
        None => std::fs::read_to_string(data_dir.join(ADVERTISE_FILE))
            .with_context(|| {
                format!(
                    "no {ADVERTISE_FILE} in {}: pass --master HOST:PORT",
                    data_dir.display()
                )
            })?
            .trim()
            .to_owned(),
    };
    let token = master::tokens::issue_join_token(
        &store,
        &addr,
        keys.fingerprint(),
        Duration::from_secs(valid_hours.max(1) * 3600),
        master::tokens::now_ms(),
        "commander token create",
    )?;
    println!("{}", token.encode());
    Ok(())
}

fn node_admin(action: NodeAction) -> anyhow::Result<()> {
    match action {
        NodeAction::Revoke { id, data_dir } => {
            let (_lock, store) = open_store(&data_dir)?;
            if !store.set_revoked(id, true)? {
                bail!("node {id} does not exist");
            }
            println!("node {id} revoked; its next connection is refused");
        }
        NodeAction::List { data_dir } => {
            let (_lock, store) = open_store(&data_dir)?;
            for n in store.list_nodes()? {
                println!(
                    "{}\t{}\t{}",
                    n.id,
                    if n.revoked { "revoked" } else { "active" },
                    n.hostname
                );
            }
        }
    }
    Ok(())
}
