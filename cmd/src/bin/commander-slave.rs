//! `commander-slave`: the slave agent on its own.

use clap::Parser;

/// Commander slave agent.
#[derive(Debug, Parser)]
#[command(name = "commander-slave", version, about = "Commander slave agent")]
struct Cli {
    #[command(flatten)]
    args: slave::cli::SlaveArgs,
}

fn main() -> anyhow::Result<()> {
    slave::cli::init_tracing();
    let cli = Cli::parse();
    slave::cli::run(cli.args)?;
    Ok(())
}
