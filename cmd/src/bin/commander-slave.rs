//! `commander-slave`: the slave agent on its own, with the flags of `commander slave`.

use clap::Parser;

/// Commander slave agent.
#[derive(Debug, Parser)]
#[command(name = "commander-slave", version, about = "Commander slave agent")]
struct Cli {
    #[command(flatten)]
    args: cmd::slave::SlaveArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    plumbing::tracing::init(plumbing::tracing::Output::Stdout);
    cmd::slave::run(cli.args)?;
    Ok(())
}
