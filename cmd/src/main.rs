//! `commander`: the one binary. `up` starts a master with a local slave; `master`, `slave`
//! and `gateway` run one role; `token`, `node`, `user` and `db` administer a master's data
//! directory. Everything but flag parsing lives in the `cmd` library of this package.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cmd::cli::Cli::parse();
    plumbing::tracing::init(cli.log_output());
    cmd::cli::dispatch(cli)
}
