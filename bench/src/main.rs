//! `commander-bench`: benchmarks that need a real master or slave process.
//!
//! * `ingest`: many simulated slaves (real Noise sessions, real frames) send one heartbeat
//!   with ~50 metric values per second to a release-build master pinned to one core; reports
//!   accepted heartbeats per second (counted from what the master persisted), p50/p99
//!   processing latency and the master's RSS.
//! * `footprint`: the real slave agent idle for a while (RSS, CPU share) and the stripped
//!   size of each release binary.
//!
//! * `projects`: a release master and three local slaves running a project of a tiny HTTP
//!   image: create → healthy, update duration, rescheduling delay, gateway throughput.
//!
//! * `history`: the metric history's tiers in a real store (no master process): ingest rate
//!   of samples through the store writer, the roll-up pass, and query latency over 30 days
//!   of data for 100 slaves.
//!
//! Each prints a markdown table and append it to `bench/RESULTS.md`.

mod footprint;
mod history;
mod ingest;
mod procstat;
mod projects;
mod report;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "commander-bench", about = "Commander benchmarks")]
struct Cli {
    /// Directory with the release binaries.
    #[arg(long, default_value = "target/release", global = true)]
    bin_dir: PathBuf,
    /// Markdown file the results are appended to ("-" for none).
    #[arg(long, default_value = "bench/RESULTS.md", global = true)]
    results: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulated slaves against one master.
    Ingest(ingest::IngestArgs),
    /// Idle footprint of the slave agent and binary sizes.
    Footprint(footprint::FootprintArgs),
    /// Projects on three local slaves: create, update, rescheduling, gateway throughput.
    Projects(projects::ProjectsArgs),
    /// The metric history's tiers in a store: ingest, roll-up and query latency.
    History(history::HistoryArgs),
}

fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    let cli = Cli::parse();
    let table = match cli.command {
        Command::Ingest(args) => ingest::run(&cli.bin_dir, &args)?,
        Command::Footprint(args) => footprint::run(&cli.bin_dir, &args)?,
        Command::Projects(args) => projects::run(&cli.bin_dir, &args)?,
        Command::History(args) => history::run(&args)?,
    };
    println!("{table}");
    if cli.results != "-" {
        report::append(&cli.results, &table)?;
        println!("appended to {}", cli.results);
    }
    Ok(())
}
