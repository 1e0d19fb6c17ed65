//! Reading a process's memory and CPU time from /proc.

use anyhow::Context;

/// Resident set size and its peak, bytes.
pub fn rss_bytes(pid: u32) -> anyhow::Result<(u64, u64)> {
    let m = memory(pid)?;
    Ok((m.rss, m.hwm))
}

/// Memory figures of a process, bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Resident set size.
    pub rss: u64,
    /// Peak resident set size.
    pub hwm: u64,
    /// Resident anonymous memory (heap, stacks): what the process itself allocated.
    pub anon: u64,
    /// Resident file-backed memory (the binary, and LMDB's memory map of the database).
    pub file: u64,
}

/// Reads `/proc/PID/status`.
pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("read status")?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    Ok(Memory {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
        anon: field("RssAnon:"),
        file: field("RssFile:") + field("RssShmem:"),
    })
}

/// User plus system CPU time of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).context("read stat")?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

/// Clock ticks per second (USER_HZ), 100 on Linux.
pub const TICKS_PER_SEC: u64 = 100;
