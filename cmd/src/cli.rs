//! The `commander` command line: `up | master | slave | gateway | token | node | user | db`,
//! parsed by clap and handed to the module that wires the role.

use crate::admin;
use crate::gateway::GatewayArgs;
use crate::master::MasterArgs;
use crate::slave::SlaveArgs;
use clap::{Parser, Subcommand};
use plumbing::tracing::Output;
use std::path::PathBuf;

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

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Start a master and a local slave enrolled over loopback (data under ./data).
    Up(MasterArgs),
    /// Run the master role alone; prints a one-time join token.
    Master(MasterArgs),
    /// Run the slave role (first start: --join TOKEN).
    Slave(SlaveArgs),
    /// Run the standalone L4 gateway, exactly as `commander-gateway` does.
    Gateway(GatewayArgs),
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
pub(crate) enum DbAction {
    /// Compact both databases now, shrinking their files (the master must be stopped; the
    /// console's Compact schedules the same for the master's next start).
    Compact {
        /// The master's data directory.
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserAction {
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
pub(crate) enum TokenAction {
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
pub(crate) enum NodeAction {
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

impl Cli {
    /// Where this subcommand logs: the gateway keeps standard output for its `ready` line.
    pub fn log_output(&self) -> Output {
        match self.command {
            Command::Gateway(_) => Output::Stderr,
            _ => Output::Stdout,
        }
    }
}

/// Runs the subcommand.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => crate::master::run(args, true),
        Command::Master(args) => crate::master::run(args, false),
        Command::Slave(args) => Ok(crate::slave::run(args)?),
        Command::Gateway(args) => crate::gateway::run(args),
        Command::Token {
            action:
                TokenAction::Create {
                    data_dir,
                    valid_hours,
                    master,
                },
        } => admin::token_create(data_dir, valid_hours, master),
        Command::Node { action } => admin::node_admin(action),
        Command::Db {
            action: DbAction::Compact { data_dir },
        } => admin::db_compact(&data_dir),
        Command::User {
            action:
                UserAction::ResetPassword {
                    data_dir,
                    username,
                    password_stdin,
                },
        } => admin::reset_password(&data_dir, &username, password_stdin),
    }
}
