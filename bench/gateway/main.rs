//! `commander-bench-gateway`: the commander gateway against HAProxy (TCP mode) and nginx
//! (stream module), with the same number of worker threads, plus a direct path, in one run:
//!
//! - (a) small keep-alive HTTP requests per second (wrk),
//! - (b) new connections per second (wrk, one request per connection),
//! - (c) bulk throughput (iperf3),
//! - (d) p50/p99 latency added over direct (wrk, one connection, `--latency`).
//!
//! It installs nothing: missing tools are listed with the script that installs them
//! (`bench/gateway/install-tools.sh`). The markdown table is printed and appended to
//! `bench/RESULTS.md`.

mod parse;
mod procs;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Parser;
use procs::{Pair, Proc, free_port, output};

#[derive(Parser, Debug)]
#[command(about = "Gateway benchmark: commander vs HAProxy vs nginx stream vs direct")]
struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// Worker threads (or processes) of every proxy and of the HTTP backend.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// wrk connections for (a) and (b).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    wrk_threads: usize,
    /// iperf3 parallel streams.
    #[arg(long, default_value_t = 2)]
    streams: usize,
    /// The commander-gateway binary (default: next to this one).
    #[arg(long)]
    gateway_bin: Option<PathBuf>,
    /// Results file to append to.
    #[arg(long, default_value = "bench/RESULTS.md")]
    results: PathBuf,
    /// Print only; do not append to the results file.
    #[arg(long)]
    no_append: bool,
}

/// One row: what was measured through one path.
#[derive(Debug, Default, Clone)]
struct Row {
    name: &'static str,
    keepalive_rps: f64,
    newconn_rps: f64,
    gbits: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let missing = procs::missing_tools();
    if !missing.is_empty() {
        eprintln!("missing benchmark tools: {}", missing.join(", "));
        eprintln!("install them with: sudo bench/gateway/install-tools.sh");
        eprintln!("(Debian packages: haproxy nginx-light libnginx-mod-stream wrk iperf3)");
        std::process::exit(2);
    }
    let bin = gateway_bin(&args)?;
    let dir = std::env::temp_dir().join(format!("commander-bench-gateway-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let load_before = loadavg();
    let result = run(&args, &bin, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    let rows = result?;
    let load = format!("{load_before} before, {} after", loadavg());
    let report = report(&args, &rows, &load);
    println!("{report}");
    if !args.no_append {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&args.results)
            .with_context(|| format!("appending to {}", args.results.display()))?;
        writeln!(f, "\n{report}")?;
        eprintln!("appended to {}", args.results.display());
    }
    Ok(())
}

fn gateway_bin(args: &Args) -> anyhow::Result<PathBuf> {
    let bin = match &args.gateway_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no directory for this binary")?
            .join("commander-gateway"),
    };
    if !bin.is_file() {
        bail!(
            "{} not found: cargo build --release -p commander-gateway",
            bin.display()
        );
    }
    Ok(bin)
}

fn run(args: &Args, bin: &Path, dir: &Path) -> anyhow::Result<Vec<Row>> {
    let back = Pair {
        http: free_port()?,
        iperf: free_port()?,
    };
    let _backend = procs::http_backend(dir, back.http, args.workers)?;
    let _iperf = procs::iperf_server(dir, back.iperf)?;
    let mut rows = vec![measure(args, "direct", back)?];
    type Starter = fn(&Path, Pair, Pair, usize) -> anyhow::Result<Proc>;
    let starters: [(&'static str, Starter); 2] = [
        ("HAProxy", procs::haproxy),
        ("nginx stream", procs::nginx_stream),
    ];
    {
        let front = Pair {
            http: free_port()?,
            iperf: free_port()?,
        };
        let mut p = procs::commander(bin, dir, front, back, args.workers)?;
        rows.push(measure(args, "commander", front)?);
        p.check()?;
    }
    for (name, start) in starters {
        let front = Pair {
            http: free_port()?,
            iperf: free_port()?,
        };
        let mut p = start(dir, front, back, args.workers)?;
        rows.push(measure(args, name, front)?);
        p.check()?;
    }
    Ok(rows)
}

fn wrk(args: &Args, addr: std::net::SocketAddr, extra: &[&str]) -> anyhow::Result<parse::WrkRun> {
    let mut cmd = Command::new("wrk");
    cmd.args(extra).arg("-d").arg(format!("{}s", args.seconds));
    cmd.arg(format!("http://{addr}/"));
    let out = output(&mut cmd)?;
    parse::wrk(&out).with_context(|| format!("unreadable wrk output:\n{out}"))
}

fn measure(args: &Args, name: &'static str, front: Pair) -> anyhow::Result<Row> {
    eprintln!("measuring {name} ...");
    let (t, c) = (args.wrk_threads.to_string(), args.connections.to_string());
    let keep = wrk(args, front.http, &["-t", &t, "-c", &c])?;
    let close = wrk(
        args,
        front.http,
        &["-t", &t, "-c", &c, "-H", "Connection: close"],
    )?;
    let lat = wrk(args, front.http, &["-t", "1", "-c", "1", "--latency"])?;
    let iperf = output(Command::new("iperf3").args([
        "-c",
        &front.iperf.ip().to_string(),
        "-p",
        &front.iperf.port().to_string(),
        "-t",
        &args.seconds.to_string(),
        "-P",
        &args.streams.to_string(),
        "-f",
        "m",
    ]))?;
    let gbits =
        parse::iperf3_gbits(&iperf).with_context(|| format!("unreadable iperf3:\n{iperf}"))?;
    Ok(Row {
        name,
        keepalive_rps: keep.rps,
        newconn_rps: close.rps,
        gbits,
        p50_us: lat.p50_us.unwrap_or(f64::NAN),
        p99_us: lat.p99_us.unwrap_or(f64::NAN),
        errors: keep.errors + close.errors + lat.errors,
    })
}

fn ratio(x: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.2}×", x / base)
    } else {
        "-".into()
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib: u64 = mem
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cores} cores ({model}), {} GiB, Linux {}",
        kib >> 20,
        kernel.trim()
    )
}

fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The 1-minute load average: other work on the machine skews every figure.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn report(args: &Args, rows: &[Row], load: &str) -> String {
    let direct = rows
        .iter()
        .find(|r| r.name == "direct")
        .cloned()
        .unwrap_or_default();
    let ha = rows
        .iter()
        .find(|r| r.name == "HAProxy")
        .cloned()
        .unwrap_or_default();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### Gateway vs HAProxy vs nginx stream, {} ({})\n",
        utc_now(),
        machine()
    );
    let _ = writeln!(
        s,
        "`commander-bench-gateway --seconds {} --workers {} --connections {} --wrk-threads {} --streams {}`\n",
        args.seconds, args.workers, args.connections, args.wrk_threads, args.streams
    );
    let _ = writeln!(
        s,
        "| path | (a) keep-alive req/s | vs HAProxy | vs direct | (b) new conn/s | vs HAProxy | vs direct | (c) iperf3 Gbit/s | vs HAProxy | vs direct | (d) p50 | p99 | p50 added | p99 added | errors |"
    );
    let _ = writeln!(
        s,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {:.0} | {} | {} | {:.0} | {} | {} | {:.2} | {} | {} | {:.0} µs | {:.0} µs | {:+.0} µs | {:+.0} µs | {} |",
            r.name,
            r.keepalive_rps,
            ratio(r.keepalive_rps, ha.keepalive_rps),
            ratio(r.keepalive_rps, direct.keepalive_rps),
            r.newconn_rps,
            ratio(r.newconn_rps, ha.newconn_rps),
            ratio(r.newconn_rps, direct.newconn_rps),
            r.gbits,
            ratio(r.gbits, ha.gbits),
            ratio(r.gbits, direct.gbits),
            r.p50_us,
            r.p99_us,
            r.p50_us - direct.p50_us,
            r.p99_us - direct.p99_us,
            r.errors
        );
    }
    let _ = writeln!(
        s,
        "\nTools: {}; {}; {}; {}. Everything (load generator, proxies, backend nginx with {} workers, iperf3 server) shares the machine's cores. Each proxy: {} worker threads/processes; HAProxy with `option splice-auto`. 1-minute load average: {load}.",
        procs::version("haproxy", "-v"),
        procs::version("nginx", "-v"),
        procs::version("wrk", "-v"),
        procs::version("iperf3", "-v"),
        args.workers,
        args.workers
    );
    s
}
