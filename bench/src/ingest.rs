//! Heartbeat ingest: N simulated slaves with real Noise sessions against a real master.

use crate::procstat::{Memory, TICKS_PER_SEC, cpu_ticks, memory};
use crate::report::{machine_line, now_utc};
use anyhow::{Context, bail};
use master::store::{LmdbStore, Store};
use protocol::{
    DiskUsage, Heartbeat, Hello, HelloAuth, Message, MetricSample, NetUsage, PeerCheck, Session,
    SessionEvent, StaticKeys,
};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Flags of `ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Simulated slaves.
    #[arg(long, default_value_t = 5000)]
    slaves: usize,
    /// Measured seconds (after every slave is connected).
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Protocol executors of the master.
    #[arg(long, default_value_t = 1)]
    master_cores: usize,
    /// CPU list the master is pinned to with taskset ("" for no pinning).
    #[arg(long, default_value = "0")]
    pin: String,
    /// Handshakes in flight at once while connecting.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A heartbeat with 50 metric values: 16 cores, load, memory, 4 disks, 4 interfaces, TCP.
pub(crate) fn sample(taken_at_ms: u64) -> MetricSample {
    MetricSample {
        taken_at_ms,
        cpu_total_pct: 12.5,
        cpu_per_core_pct: (0..16).map(|i| i as f32).collect(),
        load: [0.5, 0.4, 0.3],
        mem_total_bytes: 1 << 35,
        mem_used_bytes: 1 << 33,
        swap_total_bytes: 0,
        swap_used_bytes: 0,
        disks: (0..4)
            .map(|i| DiskUsage {
                mount: format!("/mnt/d{i}"),
                total_bytes: 1 << 40,
                used_bytes: 1 << 39,
            })
            .collect(),
        nets: (0..4)
            .map(|i| NetUsage {
                iface: format!("eth{i}"),
                rx_bytes: 1 << 30,
                tx_bytes: 1 << 29,
                rx_bytes_per_sec: 1000,
                tx_bytes_per_sec: 2000,
            })
            .collect(),
        tcp_established: 40,
        tcp_total: 60,
    }
}

struct Shared {
    addr: String,
    fingerprint: [u8; 32],
    welcomed: AtomicU64,
    sent_in_window: AtomicU64,
    failures: AtomicU64,
}

async fn write_out(stream: &mut TcpStream, session: &mut Session) -> anyhow::Result<()> {
    if session.has_output() {
        stream.write_all(&session.take_output()).await?;
    }
    Ok(())
}

async fn connect(shared: &Shared, secret: [u8; 32]) -> anyhow::Result<(TcpStream, Session)> {
    let keys = StaticKeys::generate()?;
    let mut stream = TcpStream::connect(&shared.addr).await?;
    stream.set_nodelay(true)?;
    let mut session = Session::initiator(&keys, PeerCheck::Fingerprint(shared.fingerprint))?;
    write_out(&mut stream, &mut session).await?;
    let mut buf = vec![0u8; 4096];
    let mut events = Vec::new();
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            bail!("master closed during handshake");
        }
        session.receive(&buf[..n], &mut events)?;
        for ev in events.drain(..) {
            match ev {
                SessionEvent::Established { .. } => session.send(&Message::Hello(Hello {
                    min_version: protocol::PROTOCOL_VERSION_MIN,
                    max_version: protocol::PROTOCOL_VERSION_MAX,
                    auth: HelloAuth::Enroll { secret },
                    agent_version: "bench".into(),
                }))?,
                SessionEvent::Message(Message::Welcome(_)) => return Ok((stream, session)),
                SessionEvent::Message(other) => bail!("unexpected {other:?}"),
            }
        }
        write_out(&mut stream, &mut session).await?;
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Runs the ingest benchmark and returns the markdown report.
pub fn run(bin_dir: &Path, args: &IngestArgs) -> anyhow::Result<String> {
    let bin = bin_dir.join("commander");
    if !bin.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p commander`",
            bin.display()
        );
    }
    let tmp = std::env::temp_dir().join(format!("commander-bench-ingest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let config = tmp.join("master.yaml");
    std::fs::write(
        &config,
        format!(
            "heartbeat: {{ intervalMs: 1000, ttlMs: 60000, graceMs: 10000, jitterMs: 1000 }}\ncores: {}\n",
            args.master_cores
        ),
    )?;
    let data = tmp.join("data");
    let (db_data, db_perf) = (data.join("db/data"), data.join("db/performance"));

    eprintln!("issuing {} join tokens", args.slaves);
    let keys = master::server::master_keys(&data)?;
    let secrets = {
        let store = LmdbStore::open(&db_data, &db_perf)?;
        let mut secrets = Vec::with_capacity(args.slaves);
        for _ in 0..args.slaves {
            let t = master::tokens::issue_join_token(
                &store,
                "127.0.0.1:1",
                keys.fingerprint(),
                Duration::from_secs(3600),
                now_ms(),
                "bench",
            )?;
            secrets.push(t.secret);
        }
        secrets
    };

    let mut cmd = if args.pin.is_empty() {
        Command::new(&bin)
    } else {
        let mut c = Command::new("taskset");
        c.args(["-c", &args.pin]).arg(&bin);
        c
    };
    cmd.args(["master", "--http-port", "0", "--tcp-port", "0"])
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().context("start master")?;
    let pid = child.id();
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().context("master exited")??;
        if let Some(a) = line.strip_prefix("slaves dial: ") {
            break a.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});

    let shared = Arc::new(Shared {
        addr,
        fingerprint: keys.fingerprint(),
        welcomed: AtomicU64::new(0),
        sent_in_window: AtomicU64::new(0),
        failures: AtomicU64::new(0),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let (window, peak_rss, cpu) = rt.block_on(async {
        let permits = Arc::new(tokio::sync::Semaphore::new(args.connect_concurrency));
        let warmup_ms = 2000;
        // The window is fixed once everyone is connected; pass it through a watch.
        let (wtx, wrx) = tokio::sync::watch::channel((0u64, 0u64));
        let mut tasks = Vec::new();
        for (i, secret) in secrets.into_iter().enumerate() {
            let (shared, permits, mut wrx) =
                (Arc::clone(&shared), Arc::clone(&permits), wrx.clone());
            let phase = (i as u64 * 997) % 1000;
            tasks.push(tokio::spawn(async move {
                let window = async move {
                    let _ = wrx.wait_for(|w| w.1 > 0).await;
                    *wrx.borrow()
                };
                sim_slave(shared, secret, permits, window, phase).await;
            }));
        }
        while (shared.welcomed.load(Relaxed) + shared.failures.load(Relaxed)) < args.slaves as u64 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if started.elapsed() > Duration::from_secs(300) {
                break;
            }
        }
        eprintln!(
            "{} slaves connected in {:?} ({} failed)",
            shared.welcomed.load(Relaxed),
            started.elapsed(),
            shared.failures.load(Relaxed)
        );
        let t0 = now_ms() + warmup_ms;
        let window = (t0, t0 + args.seconds * 1000);
        let _ = wtx.send(window);
        let mut peak = Memory::default();
        // The master's CPU time over the window: ticks at its start and at its end.
        let (mut cpu_start, mut cpu_end) = (None, None);
        while now_ms() < window.1 + 4000 {
            let now = now_ms();
            if cpu_start.is_none() && now >= window.0 {
                cpu_start = cpu_ticks(pid).ok().map(|t| (t, now));
            }
            if cpu_end.is_none() && now >= window.1 {
                cpu_end = cpu_ticks(pid).ok().map(|t| (t, now));
            }
            if let Ok(m) = memory(pid)
                && m.rss > peak.rss
            {
                peak = m;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        for t in tasks {
            let _ = t.await;
        }
        let cpu = match (cpu_start, cpu_end) {
            (Some((t0, at0)), Some((t1, at1))) if at1 > at0 => Some((t1 - t0, at1 - at0)),
            _ => None,
        };
        (window, peak, cpu)
    });
    let hwm = memory(pid).map_or(0, |m| m.hwm);
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let exited = child.wait()?;
    if !exited.success() {
        eprintln!("master exited with {exited}");
    }
    let store = LmdbStore::open(&db_data, &db_perf)?;
    let mut latencies = Vec::new();
    for node in store.list_nodes()? {
        for row in store.samples(
            node.id,
            window.0.saturating_sub(5000),
            window.1 + 60_000,
            usize::MAX,
        )? {
            let s = master::samples::decode_sample(&row.bytes).map_err(anyhow::Error::msg)?;
            if s.taken_at_ms >= window.0 && s.taken_at_ms < window.1 {
                latencies.push(row.taken_at_ms.saturating_sub(s.taken_at_ms));
            }
        }
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&tmp);
    latencies.sort_unstable();
    let sent = shared.sent_in_window.load(Relaxed);
    let accepted = latencies.len() as u64;
    let secs = (window.1 - window.0) as f64 / 1000.0;
    // CPU per heartbeat: the master's CPU time over the window (its start to its end, as
    // sampled) per heartbeat accepted in that time, at the accepted rate.
    let (cpu_share, cpu_per_hb) = match cpu {
        Some((ticks, wall_ms)) if accepted > 0 => {
            let cpu_secs = ticks as f64 / TICKS_PER_SEC as f64;
            let wall = wall_ms as f64 / 1000.0;
            let rate = accepted as f64 / secs;
            (
                format!("{:.0} %", cpu_secs * 100.0 / wall),
                format!("{:.0} µs", cpu_secs / wall / rate * 1e6),
            )
        }
        _ => ("-".to_owned(), "-".to_owned()),
    };
    Ok(format!(
        "### Heartbeat ingest, {} ({})\n\n`commander-bench ingest --slaves {} --seconds {} --master-cores {} --pin '{}'`\n\n\
| slaves | sent | accepted (persisted) | dropped | accepted/s | master CPU (one core = 100 %) | master CPU per heartbeat | p50 latency | p99 latency | max latency | master RSS peak (anon + file-backed) | VmHWM |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n\
| {} | {} | {} | {} | {:.0} | {} | {} | {} ms | {} ms | {} ms | {:.1} MiB ({:.1} + {:.1}) | {:.1} MiB |\n\n\
File-backed memory is mostly LMDB's map of the metric database (page cache, reclaimable).\n",
        now_utc(),
        machine_line(),
        args.slaves,
        args.seconds,
        args.master_cores,
        args.pin,
        shared.welcomed.load(Relaxed),
        sent,
        accepted,
        sent.saturating_sub(accepted),
        accepted as f64 / secs,
        cpu_share,
        cpu_per_hb,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0),
        peak_rss.rss as f64 / 1048576.0,
        peak_rss.anon as f64 / 1048576.0,
        peak_rss.file as f64 / 1048576.0,
        hwm as f64 / 1048576.0
    ))
}

/// One simulated slave: enrol, wait for the measurement window, then one heartbeat per
/// second (offset by `phase_ms` so the load is spread) until the window ends.
async fn sim_slave(
    shared: Arc<Shared>,
    secret: [u8; 32],
    permits: Arc<tokio::sync::Semaphore>,
    window: impl std::future::Future<Output = (u64, u64)>,
    phase_ms: u64,
) {
    let conn = {
        let _permit = permits.acquire().await;
        connect(&shared, secret).await
    };
    let (mut stream, mut session) = match conn {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("connect failed: {e}");
            shared.failures.fetch_add(1, Relaxed);
            return;
        }
    };
    shared.welcomed.fetch_add(1, Relaxed);
    let window = window.await;
    let first = window.0 - 1000 + phase_ms;
    tokio::time::sleep(Duration::from_millis(first.saturating_sub(now_ms()))).await;
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    let mut seq = 0;
    loop {
        interval.tick().await;
        let now = now_ms();
        if now >= window.1 {
            break;
        }
        seq += 1;
        let hb = Message::Heartbeat(Heartbeat {
            seq,
            sample: sample(now),
        });
        if session.send(&hb).is_err() || stream.write_all(&session.take_output()).await.is_err() {
            shared.failures.fetch_add(1, Relaxed);
            return;
        }
        if now >= window.0 {
            shared.sent_in_window.fetch_add(1, Relaxed);
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
}
