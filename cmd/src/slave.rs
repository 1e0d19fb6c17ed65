//! `commander slave` and `commander-slave`: the slave role's flags, its configuration, and
//! the agent run on this thread.

use protocol::{JoinToken, TokenError};
use slave::agent::{self, AgentError, AgentOptions};
use slave::config::{self, ConfigError, IoUringMode, SlaveOverrides};
use std::path::PathBuf;
use thiserror::Error;

/// Flags of the slave role. Each has an environment variable too.
#[derive(Debug, Clone, clap::Args)]
pub struct SlaveArgs {
    /// YAML configuration file (keys as in the original `configs.yaml`).
    #[arg(long, env = "COMMANDER_SLAVE_CONFIG")]
    pub config: Option<PathBuf>,
    /// One-time join token printed by the master; needed only for the first start.
    #[arg(long, env = "COMMANDER_JOIN_TOKEN", hide_env_values = true)]
    pub join: Option<String>,
    /// Master protocol address HOST:PORT (overrides the token and the enrolment record).
    #[arg(long, env = "COMMANDER_MASTER")]
    pub master: Option<String>,
    /// Directory for the slave's key and enrolment record.
    #[arg(long, env = "COMMANDER_SLAVE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// io_uring use: auto, on or off (COMMANDER_DISABLE_IO_URING=1 forces off).
    #[arg(long)]
    pub io_uring: Option<IoUringMode>,
}

/// The slave role failed.
#[derive(Debug, Error)]
pub enum SlaveCliError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Bad join token.
    #[error("--join: {0}")]
    Token(#[from] TokenError),
    /// The agent stopped.
    #[error(transparent)]
    Agent(#[from] AgentError),
}

/// Loads the configuration and runs the agent on this thread until it fails for good.
pub fn run(args: SlaveArgs) -> Result<(), SlaveCliError> {
    let overrides = SlaveOverrides {
        master: args.master.clone(),
        data_dir: args.data_dir.clone(),
        io_uring: args.io_uring,
    };
    let cfg = config::load(args.config.as_deref(), overrides)?;
    let join = args.join.as_deref().map(JoinToken::parse).transpose()?;
    if cfg.io_uring == IoUringMode::On && !monoio::utils::detect_uring() {
        return Err(AgentError::Runtime(std::io::Error::other(
            "io_uring is required (ioUring: on) but unavailable on this host",
        ))
        .into());
    }
    agent::run(AgentOptions {
        data_dir: cfg.data_dir,
        master_addr: cfg.master_addr,
        join,
        docker_socket: cfg.docker_socket,
        force_legacy: cfg.io_uring == IoUringMode::Off,
        ops: agent::OpsOptions {
            hosts_file: cfg.hosts_file,
            bind_roots: cfg.bind_roots,
        },
        workloads: cfg.workloads,
    })?;
    Ok(())
}
