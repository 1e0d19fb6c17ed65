//! `commander-bench-gateway`: the commander gateway against HAProxy (TCP mode) and nginx
//! (stream module), with the same number of worker threads, plus a direct path, in one run:
//!
//! - (a) small keep-alive HTTP requests per second (wrk),
//! - (b) new connections per second (wrk, one request per connection),
//! - (c) bulk throughput (iperf3),
//! - (d) p50/p99 latency added over direct (wrk, one connection, `--latency`).
//!
//! By default (fair mode, see [`place`]) the proxy under test gets CPU 1 to itself, in its own
//! cgroup, with one worker; load generators and backends run on CPU 0; and the proxy's CPU
//! time per request, per connection and per gigabyte is reported beside the rates.
//! `--mode shared` is the old layout: nothing pinned, everything on every core.
//!
//! It installs nothing: missing tools are listed with the script that installs them
//! (`bench/gateway/install-tools.sh`). The markdown table is printed and appended to
//! `bench/RESULTS.md`.

mod parse;
mod place;
mod procs;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use place::Placement;
use procs::{Pair, Proc, free_port, output};

/// How processes are placed on CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Proxy pinned alone to `--proxy-cpu` in its own cgroup, everything else on `--load-cpu`,
    /// one worker per proxy.
    Fair,
    /// Nothing pinned: load generator, backend and proxy share every core.
    Shared,
}

#[derive(Parser, Debug)]
#[command(about = "Gateway benchmark: commander vs HAProxy vs nginx stream vs direct")]
struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// CPU placement: `fair` (default) or `shared`.
    #[arg(long, value_enum, default_value_t = Mode::Fair)]
    mode: Mode,
    /// Fair mode: CPU list of the proxy under test (taskset syntax).
    #[arg(long, default_value = "1")]
    proxy_cpu: String,
    /// Fair mode: CPU list of wrk, iperf3 and the HTTP backend.
    #[arg(long, default_value = "0")]
    load_cpu: String,
    /// Fair mode: cap the proxy at this % of one CPU (CFS quota) during (a)-(c); 0 = no cap.
    #[arg(long, default_value_t = 0)]
    proxy_quota: u32,
    /// Worker threads (or processes) of every proxy and of the HTTP backend
    /// (default: 1 in fair mode, 2 in shared mode).
    #[arg(long)]
    workers: Option<usize>,
    /// wrk connections for (a) and (b).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// wrk threads (default: 1 in fair mode, 2 in shared mode).
    #[arg(long)]
    wrk_threads: Option<usize>,
    /// iperf3 parallel streams.
    #[arg(long, default_value_t = 2)]
    streams: usize,
    /// The commander gateway's `relay` strategy (`auto`, `copy` or `splice`), written into
    /// its configuration; `auto` is the gateway's default.
    #[arg(long, default_value = "auto")]
    commander_relay: String,
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

impl Args {
    fn workers(&self) -> usize {
        self.workers
            .unwrap_or(if self.mode == Mode::Fair { 1 } else { 2 })
    }

    fn wrk_threads(&self) -> usize {
        self.wrk_threads
            .unwrap_or(if self.mode == Mode::Fair { 1 } else { 2 })
    }

    fn placement(&self) -> Placement {
        match self.mode {
            Mode::Shared => Placement::shared(),
            Mode::Fair => Placement {
                load_cpus: Some(self.load_cpu.clone()),
                proxy_cpus: Some(self.proxy_cpu.clone()),
                quota_pct: (self.proxy_quota > 0).then_some(self.proxy_quota),
            },
        }
    }

    /// The command line that reproduces this run.
    fn command_line(&self) -> String {
        let mut s = format!(
            "commander-bench-gateway --mode {} --seconds {} --workers {} --connections {} --wrk-threads {} --streams {}",
            match self.mode {
                Mode::Fair => "fair",
                Mode::Shared => "shared",
            },
            self.seconds,
            self.workers(),
            self.connections,
            self.wrk_threads(),
            self.streams
        );
        let _ = write!(s, " --commander-relay {}", self.commander_relay);
        if self.mode == Mode::Fair {
            let _ = write!(
                s,
                " --proxy-cpu {} --load-cpu {} --proxy-quota {}",
                self.proxy_cpu, self.load_cpu, self.proxy_quota
            );
        }
        s
    }
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
    /// Proxy CPU time (fair mode): µs per keep-alive request, µs per new connection,
    /// ms per GB of bulk data.
    cpu: Option<[f64; 3]>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.placement().check()?;
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
            "{} not found: cargo build --release -p commander --bin commander-gateway",
            bin.display()
        );
    }
    Ok(bin)
}

fn run(args: &Args, bin: &Path, dir: &Path) -> anyhow::Result<Vec<Row>> {
    let place = args.placement();
    let workers = args.workers();
    let back = Pair {
        http: free_port()?,
        iperf: free_port()?,
    };
    let _backend = procs::http_backend(dir, back.http, workers, &place)?;
    let _iperf = procs::iperf_server(dir, back.iperf, &place)?;
    let mut rows = vec![measure(args, &place, "direct", back, None)?];
    type Starter = fn(&Path, Pair, Pair, usize, &Placement) -> anyhow::Result<Proc>;
    let starters: [(&'static str, Starter); 2] = [
        ("HAProxy", procs::haproxy),
        ("nginx stream", procs::nginx_stream),
    ];
    {
        let front = Pair {
            http: free_port()?,
            iperf: free_port()?,
        };
        let relay = args.commander_relay.as_str();
        let mut p = procs::commander(bin, dir, front, back, workers, relay, &place)?;
        rows.push(measure(args, &place, "commander", front, Some(&p))?);
        p.check()?;
    }
    for (name, start) in starters {
        let front = Pair {
            http: free_port()?,
            iperf: free_port()?,
        };
        let mut p = start(dir, front, back, workers, &place)?;
        rows.push(measure(args, &place, name, front, Some(&p))?);
        p.check()?;
    }
    Ok(rows)
}

fn wrk(
    args: &Args,
    place: &Placement,
    addr: std::net::SocketAddr,
    extra: &[&str],
) -> anyhow::Result<parse::WrkRun> {
    let mut cmd = place.load("wrk");
    cmd.args(extra).arg("-d").arg(format!("{}s", args.seconds));
    cmd.arg(format!("http://{addr}/"));
    let out = output(&mut cmd)?;
    parse::wrk(&out).with_context(|| format!("unreadable wrk output:\n{out}"))
}

/// CPU time the proxy's cgroup used while `f` ran, in ns (0 without a cgroup).
fn cpu_ns<T>(
    proxy: Option<&Proc>,
    f: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<(T, f64)> {
    let group = proxy.and_then(|p| p.group.as_ref());
    let before = group.map_or(0, |g| g.usage_ns());
    let out = f()?;
    let after = group.map_or(0, |g| g.usage_ns());
    Ok((out, after.saturating_sub(before) as f64))
}

fn measure(
    args: &Args,
    place: &Placement,
    name: &'static str,
    front: Pair,
    proxy: Option<&Proc>,
) -> anyhow::Result<Row> {
    eprintln!("measuring {name} ...");
    let (t, c) = (args.wrk_threads().to_string(), args.connections.to_string());
    let secs = f64::from(args.seconds);
    let (keep, keep_ns) = cpu_ns(proxy, || {
        wrk(args, place, front.http, &["-t", &t, "-c", &c])
    })?;
    let (close, close_ns) = cpu_ns(proxy, || {
        wrk(
            args,
            place,
            front.http,
            &["-t", &t, "-c", &c, "-H", "Connection: close"],
        )
    })?;
    // Latency with one connection: no quota, so that throttling does not show up as latency.
    let group = proxy.and_then(|p| p.group.as_ref());
    if let Some(g) = group {
        g.set_quota(None)?;
    }
    let lat = wrk(
        args,
        place,
        front.http,
        &["-t", "1", "-c", "1", "--latency"],
    )?;
    if let Some(g) = group {
        g.set_quota(place.quota_pct)?;
    }
    let (iperf, iperf_ns) = cpu_ns(proxy, || iperf3(args, place, front))?;
    let gbits =
        parse::iperf3_gbits(&iperf).with_context(|| format!("unreadable iperf3:\n{iperf}"))?;
    let per = |ns: f64, n: f64| if n > 0.0 { ns / n } else { f64::NAN };
    let cpu = group.map(|_| {
        [
            per(keep_ns / 1e3, keep.rps * secs),
            per(close_ns / 1e3, close.rps * secs),
            per(iperf_ns / 1e6, gbits * secs / 8.0),
        ]
    });
    Ok(Row {
        name,
        keepalive_rps: keep.rps,
        newconn_rps: close.rps,
        gbits,
        p50_us: lat.p50_us.unwrap_or(f64::NAN),
        p99_us: lat.p99_us.unwrap_or(f64::NAN),
        errors: keep.errors + close.errors + lat.errors,
        cpu,
    })
}

fn iperf3(args: &Args, place: &Placement, front: Pair) -> anyhow::Result<String> {
    output(place.load("iperf3").args([
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
    ]))
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
    let find = |n: &str| {
        rows.iter()
            .find(|r| r.name == n)
            .cloned()
            .unwrap_or_default()
    };
    let (direct, ha) = (find("direct"), find("HAProxy"));
    let fair = args.mode == Mode::Fair;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### Gateway vs HAProxy vs nginx stream, {} ({})\n",
        utc_now(),
        machine()
    );
    let _ = writeln!(s, "`{}`\n", args.command_line());
    let mut head = "| path | (a) keep-alive req/s | vs HAProxy | vs direct | (b) new conn/s | vs HAProxy | vs direct | (c) iperf3 Gbit/s | vs HAProxy | vs direct | (d) p50 | p99 | p50 added | p99 added | errors |".to_string();
    let mut rule = "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|".to_string();
    if fair {
        head.push_str(" proxy CPU µs/req (a) | µs/conn (b) | ms/GB (c) |");
        rule.push_str("---|---|---|");
    }
    let _ = writeln!(s, "{head}\n{rule}");
    for r in rows {
        let _ = write!(
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
        if fair {
            match r.cpu {
                Some([a, b, c]) => {
                    let _ = write!(s, " {a:.1} | {b:.1} | {c:.0} |");
                }
                None => s.push_str(" - | - | - |"),
            }
        }
        s.push('\n');
    }
    let tools = format!(
        "Tools: {}; {}; {}; {}.",
        procs::version("haproxy", "-v"),
        procs::version("nginx", "-v"),
        procs::version("wrk", "-v"),
        procs::version("iperf3", "-v"),
    );
    let workers = args.workers();
    let same = format!(
        "Each proxy: {workers} worker thread(s)/process(es); HAProxy with `option splice-auto`, `tune.bufsize {}`, `tune.pipesize {}`; nginx stream `proxy_buffer_size {}`; commander with `relay: {}` and otherwise its defaults (64 KiB buffers, io_uring with cooperative task running).",
        procs::BUF_SIZE,
        procs::PIPE_SIZE,
        procs::BUF_SIZE,
        args.commander_relay
    );
    let method = if fair {
        let quota = if args.proxy_quota > 0 {
            format!(
                " capped at {} % of that CPU (CFS quota, 10 ms period) during (a)-(c), uncapped for (d)",
                args.proxy_quota
            )
        } else {
            String::new()
        };
        format!(
            "Fair mode: the proxy under test runs alone on CPU {}{quota}, in its own cgroup; wrk, iperf3 (client and server) and the backend nginx ({workers} worker) run on CPU {}. Proxy CPU columns: the proxy cgroup's `cpuacct.usage` (all its threads, io_uring workers and the softirq work charged to them) divided by requests, connections or GB.",
            args.proxy_cpu, args.load_cpu
        )
    } else {
        format!(
            "Shared mode: everything (load generator, proxies, backend nginx with {workers} workers, iperf3 server) shares the machine's cores."
        )
    };
    let _ = writeln!(
        s,
        "\n{tools} {method} {same} 1-minute load average: {load}."
    );
    s
}
