//! The process list and process details, from procfs.
//!
//! CPU shares are "top-style": the CPU time each process used since the previous listing,
//! over the wall time between the two listings, as a percent of one core. The first listing
//! (or one more than a minute after the previous) uses each process's lifetime average, as
//! `ps` does, and says so with `cpu_window_ms = 0`. Filtering, sorting and paging are pure
//! functions ([`apply_query`]) run on the slave, so the master receives one page.

use super::{proc_error, sockets};
use procfs::process::Process;
use protocol::ops::OpError;
use protocol::ops::host::SocketQuery;
use protocol::ops::host::{ProcessDetails, ProcessInfo, ProcessPage, ProcessQuery, ProcessSort};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A previous listing older than this is not used as the CPU baseline.
const MAX_WINDOW: Duration = Duration::from_secs(60);
/// A previous listing younger than this is too close for a meaningful rate.
const MIN_WINDOW: Duration = Duration::from_millis(200);

/// CPU ticks of each process at the previous listing, keyed by pid and start time (so a
/// reused pid does not inherit another process's baseline).
#[derive(Debug, Default)]
pub struct CpuCache {
    at: Option<Instant>,
    ticks: HashMap<(u32, u64), u64>,
}

/// User names by uid, from `/etc/passwd` (no libc calls, no NSS).
#[derive(Debug, Default)]
pub struct Users(HashMap<u32, String>);

impl Users {
    /// Reads `/etc/passwd`; an unreadable file gives numeric names.
    pub fn load() -> Self {
        Self::parse(&std::fs::read_to_string("/etc/passwd").unwrap_or_default())
    }

    /// Parses passwd lines `name:x:uid:...`.
    pub fn parse(text: &str) -> Self {
        let map = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                let uid = f.nth(1)?.parse().ok()?;
                Some((uid, name.to_string()))
            })
            .collect();
        Self(map)
    }

    /// The name of `uid`, or the uid in digits.
    pub fn name(&self, uid: u32) -> String {
        self.0.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
    }
}

struct Row {
    info: ProcessInfo,
    ticks: u64,
    starttime: u64,
}

struct Clock {
    tps: f64,
    boot_ms: u64,
    page: u64,
}

impl Clock {
    fn read() -> Result<Self, OpError> {
        Ok(Self {
            tps: procfs::ticks_per_second().max(1) as f64,
            boot_ms: procfs::boot_time_secs().map_err(|e| proc_error("boot time", e))? * 1000,
            page: procfs::page_size(),
        })
    }
}

fn read_row(p: &Process, users: &Users, clock: &Clock) -> Option<Row> {
    let stat = p.stat().ok()?;
    let uid = p.uid().unwrap_or(0);
    let args = p.cmdline().unwrap_or_default();
    let command = if args.is_empty() {
        format!("[{}]", stat.comm)
    } else {
        args.join(" ")
    };
    let start_time_ms = clock.boot_ms + (stat.starttime as f64 * 1000.0 / clock.tps) as u64;
    Some(Row {
        info: ProcessInfo {
            pid: u32::try_from(stat.pid).ok()?,
            ppid: u32::try_from(stat.ppid).unwrap_or(0),
            uid,
            user: users.name(uid),
            name: stat.comm.clone(),
            command,
            state: stat.state.to_string(),
            cpu_pct: 0.0,
            rss_bytes: stat.rss.saturating_mul(clock.page),
            threads: u32::try_from(stat.num_threads).unwrap_or(0),
            start_time_ms,
        },
        ticks: stat.utime.saturating_add(stat.stime),
        starttime: stat.starttime,
    })
}

/// Percent of one core: `ticks` of CPU over `secs` of wall time.
pub fn cpu_pct(ticks: u64, tps: f64, secs: f64) -> f32 {
    if secs <= 0.0 {
        return 0.0;
    }
    ((ticks as f64 / tps) / secs * 100.0).max(0.0) as f32
}

/// Lists processes with CPU shares, filtered, sorted and paged by `q`.
pub fn list(cache: &mut CpuCache, q: &ProcessQuery) -> Result<ProcessPage, OpError> {
    list_at(cache, q, Instant::now())
}

/// [`list`] at time `now`: CPU shares cover the window since the cached listing.
pub fn list_at(
    cache: &mut CpuCache,
    q: &ProcessQuery,
    now: Instant,
) -> Result<ProcessPage, OpError> {
    let clock = Clock::read()?;
    let users = Users::load();
    let all = procfs::process::all_processes().map_err(|e| proc_error("/proc", e))?;
    let now_ms = super::now_ms();
    let window = cache
        .at
        .map(|at| now.duration_since(at))
        .filter(|w| *w >= MIN_WINDOW && *w <= MAX_WINDOW);
    let mut rows = Vec::new();
    let mut ticks = HashMap::new();
    for p in all.flatten() {
        let Some(mut row) = read_row(&p, &users, &clock) else {
            continue;
        };
        let key = (row.info.pid, row.starttime);
        row.info.cpu_pct = match (window, cache.ticks.get(&key)) {
            (Some(w), Some(prev)) => {
                cpu_pct(row.ticks.saturating_sub(*prev), clock.tps, w.as_secs_f64())
            }
            (Some(w), None) => {
                // Started during the window: its whole life is inside it.
                let life = now_ms.saturating_sub(row.info.start_time_ms) as f64 / 1000.0;
                cpu_pct(row.ticks, clock.tps, life.clamp(0.01, w.as_secs_f64()))
            }
            (None, _) => {
                let life = now_ms.saturating_sub(row.info.start_time_ms) as f64 / 1000.0;
                cpu_pct(row.ticks, clock.tps, life.max(0.01))
            }
        };
        ticks.insert(key, row.ticks);
        rows.push(row.info);
    }
    if window.is_some()
        || cache
            .at
            .is_none_or(|at| now.duration_since(at) > MAX_WINDOW)
    {
        *cache = CpuCache {
            at: Some(now),
            ticks,
        };
    }
    let mut page = apply_query(rows, q);
    page.cpu_window_ms = window.map_or(0, |w| w.as_millis() as u64);
    Ok(page)
}

fn matches(p: &ProcessInfo, q: &ProcessQuery) -> bool {
    let user_ok = q
        .user
        .as_deref()
        .is_none_or(|u| p.user == u || p.uid.to_string() == u);
    let filter_ok = q.filter.as_deref().is_none_or(|f| {
        let f = f.to_ascii_lowercase();
        p.name.to_ascii_lowercase().contains(&f) || p.command.to_ascii_lowercase().contains(&f)
    });
    user_ok && filter_ok
}

/// Filters, sorts (ties by pid) and pages; `total` counts the matches before paging.
pub fn apply_query(rows: Vec<ProcessInfo>, q: &ProcessQuery) -> ProcessPage {
    let mut rows: Vec<ProcessInfo> = rows.into_iter().filter(|p| matches(p, q)).collect();
    rows.sort_by(|a, b| {
        let key = match q.sort {
            ProcessSort::Cpu => a.cpu_pct.partial_cmp(&b.cpu_pct).unwrap_or(Ordering::Equal),
            ProcessSort::Rss => a.rss_bytes.cmp(&b.rss_bytes),
            ProcessSort::Pid => a.pid.cmp(&b.pid),
            ProcessSort::Start => a.start_time_ms.cmp(&b.start_time_ms),
        };
        let key = if q.descending { key.reverse() } else { key };
        key.then(a.pid.cmp(&b.pid))
    });
    let total = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    let offset = q.offset as usize;
    let limit = if q.limit == 0 {
        usize::MAX
    } else {
        q.limit as usize
    };
    let processes = rows.into_iter().skip(offset).take(limit).collect();
    ProcessPage {
        total,
        offset: q.offset,
        processes,
        cpu_window_ms: 0,
    }
}

/// One process in detail (CPU share over its lifetime).
pub fn details(pid: u32) -> Result<ProcessDetails, OpError> {
    let what = format!("process {pid}");
    let p = Process::new(pid as i32).map_err(|e| proc_error(&what, e))?;
    let clock = Clock::read()?;
    let users = Users::load();
    let stat = p.stat().map_err(|e| proc_error(&what, e))?;
    let mut row = read_row(&p, &users, &clock)
        .ok_or_else(|| proc_error(&what, procfs::ProcError::NotFound(None)))?;
    let life = super::now_ms().saturating_sub(row.info.start_time_ms) as f64 / 1000.0;
    row.info.cpu_pct = cpu_pct(row.ticks, clock.tps, life.max(0.01));
    let children = procfs::process::all_processes()
        .map(|all| {
            all.flatten()
                .filter_map(|c| c.stat().ok())
                .filter(|s| s.ppid == stat.pid)
                .filter_map(|s| u32::try_from(s.pid).ok())
                .collect()
        })
        .unwrap_or_default();
    let all_sockets = SocketQuery {
        listening: true,
        established: true,
    };
    Ok(ProcessDetails {
        args: p.cmdline().unwrap_or_default(),
        exe: p.exe().ok().map(|e| e.display().to_string()),
        cwd: p.cwd().ok().map(|e| e.display().to_string()),
        nice: i32::try_from(stat.nice).unwrap_or(0),
        vsize_bytes: stat.vsize,
        open_fds: p.fd_count().ok().and_then(|n| u32::try_from(n).ok()),
        children,
        sockets: sockets::list(&all_sockets, Some(pid)).unwrap_or_default(),
        info: row.info,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn p(pid: u32, user: &str, name: &str, cpu: f32, rss: u64, start: u64) -> ProcessInfo {
        ProcessInfo {
            pid,
            ppid: 1,
            uid: 1000,
            user: user.into(),
            name: name.into(),
            command: format!("/usr/bin/{name} --flag"),
            state: "S".into(),
            cpu_pct: cpu,
            rss_bytes: rss,
            threads: 1,
            start_time_ms: start,
        }
    }

    fn rows() -> Vec<ProcessInfo> {
        vec![
            p(10, "root", "sshd", 0.1, 5000, 300),
            p(20, "app", "java", 50.0, 900_000, 100),
            p(30, "app", "sleep", 0.0, 700, 200),
            p(40, "www", "nginx", 2.0, 9000, 400),
        ]
    }

    #[test]
    fn sorts_filters_and_pages() {
        let q = ProcessQuery {
            sort: ProcessSort::Cpu,
            descending: true,
            ..Default::default()
        };
        let page = apply_query(rows(), &q);
        let pids: Vec<u32> = page.processes.iter().map(|p| p.pid).collect();
        assert_eq!(pids, vec![20, 40, 10, 30]);
        assert_eq!(page.total, 4);
        let q = ProcessQuery {
            sort: ProcessSort::Rss,
            user: Some("app".into()),
            ..Default::default()
        };
        let pids: Vec<u32> = apply_query(rows(), &q)
            .processes
            .iter()
            .map(|p| p.pid)
            .collect();
        assert_eq!(pids, vec![30, 20]);
        let q = ProcessQuery {
            sort: ProcessSort::Start,
            offset: 1,
            limit: 2,
            ..Default::default()
        };
        let page = apply_query(rows(), &q);
        let pids: Vec<u32> = page.processes.iter().map(|p| p.pid).collect();
        assert_eq!((pids, page.total, page.offset), (vec![30, 10], 4, 1));
        let q = ProcessQuery {
            filter: Some("FLAG".into()),
            user: Some("1000".into()),
            sort: ProcessSort::Pid,
            offset: 10,
            ..Default::default()
        };
        let page = apply_query(rows(), &q);
        assert_eq!((page.total, page.processes.len()), (4, 0));
        let q = ProcessQuery {
            filter: Some("ngin".into()),
            ..Default::default()
        };
        assert_eq!(apply_query(rows(), &q).processes[0].pid, 40);
    }

    #[test]
    fn cpu_math_and_users() {
        assert_eq!(cpu_pct(100, 100.0, 2.0), 50.0);
        assert_eq!(cpu_pct(100, 100.0, 0.0), 0.0);
        let users =
            Users::parse("root:x:0:0:root:/root:/bin/bash\nbad line\napp:x:1000:1000::/:/bin/sh\n");
        assert_eq!(users.name(0), "root");
        assert_eq!(users.name(1000), "app");
        assert_eq!(users.name(7), "7");
    }

    /// Waits until `pid` has exec'd `program` (right after `spawn` its command line can
    /// still be the parent's).
    pub(crate) fn wait_for_exec(pid: u32, program: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let want = format!("{program}\0");
        while !std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.starts_with(want.as_bytes()))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{program} did not start"
            );
            // The exec is a matter of microseconds: give the CPU away instead of sleeping.
            std::thread::yield_now();
        }
    }

    #[test]
    fn lists_and_details_a_real_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("31.5")
            .spawn()
            .unwrap();
        let pid = child.id();
        wait_for_exec(pid, "sleep");
        let mut cache = CpuCache::default();
        let q = ProcessQuery {
            filter: Some("sleep 31.5".into()),
            ..Default::default()
        };
        let t0 = Instant::now();
        let page = list_at(&mut cache, &q, t0).unwrap();
        assert_eq!(page.cpu_window_ms, 0, "first listing uses lifetimes");
        assert!(page.processes.iter().any(|p| p.pid == pid), "{page:?}");
        let page = list_at(&mut cache, &q, t0 + MIN_WINDOW).unwrap();
        assert!(page.cpu_window_ms >= MIN_WINDOW.as_millis() as u64);
        let d = details(pid).unwrap();
        assert_eq!(d.args, vec!["sleep", "31.5"]);
        assert_eq!(d.info.ppid, std::process::id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(details(pid).is_err());
    }
}
