//! `commander-gateway --config FILE`: the standalone gateway, the same as
//! `commander gateway --config FILE` (both call [`cmd::gateway::run`]).

use clap::Parser;

/// Commander's L4 TCP gateway.
#[derive(Parser, Debug)]
#[command(
    name = "commander-gateway",
    version,
    about = "Commander's L4 TCP gateway"
)]
struct Cli {
    #[command(flatten)]
    args: cmd::gateway::GatewayArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    plumbing::tracing::init(plumbing::tracing::Output::Stderr);
    cmd::gateway::run(cli.args)
}
