//! `commander`: the one binary. `up` starts a master with a local slave; `master` and
//! `slave` run one role; `token` and `node` administer a master's data directory.

mod cli;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    slave::cli::init_tracing();
    let cli = cli::Cli::parse();
    cli::dispatch(cli)
}
