//! Where the benchmark's processes run.
//!
//! **Fair mode** (the default): the proxy under test is pinned to one CPU (`taskset`) and runs
//! in its own cgroup (v1 `cpu` + `cpuacct`), while the load generators, the HTTP backend and
//! the iperf3 server are pinned to the other CPU. Every proxy therefore gets the same single
//! core, nothing else competes with it for that core from inside the benchmark, and the cgroup
//! measures the CPU time the proxy (all its threads and processes, io_uring workers included)
//! spent per request. An optional CFS quota caps the proxy's share of its core.
//!
//! **Shared mode** (`--mode shared`, the old behaviour): nothing is pinned; everything shares
//! every core.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The CFS period used with a quota: short, so a throttled proxy stalls for milliseconds at
/// most rather than the default 100 ms period.
const QUOTA_PERIOD_US: u64 = 10_000;

/// A pair of cgroup v1 directories (`cpu` and `cpuacct`) holding one proxy; removed on drop.
pub struct CpuGroup {
    cpu: PathBuf,
    acct: PathBuf,
}

impl CpuGroup {
    /// Creates `commander-bench-<pid>-<name>` under the v1 `cpu` and `cpuacct` hierarchies.
    pub fn create(name: &str) -> anyhow::Result<Self> {
        let leaf = format!(
            "commander-bench-{}-{}",
            std::process::id(),
            name.replace(' ', "_")
        );
        let root = Path::new("/sys/fs/cgroup");
        let (cpu, acct) = (
            root.join("cpu").join(&leaf),
            root.join("cpuacct").join(&leaf),
        );
        for (dir, parent) in [(&cpu, "cpu"), (&acct, "cpuacct")] {
            std::fs::create_dir(dir).with_context(|| {
                format!(
                    "creating {} (fair mode needs root and the cgroup v1 `{parent}` controller; \
                     use --mode shared otherwise)",
                    dir.display()
                )
            })?;
        }
        let g = Self { cpu, acct };
        g.set_quota(None)?;
        Ok(g)
    }

    /// Caps the group at `pct` % of one CPU (`None`: no cap).
    pub fn set_quota(&self, pct: Option<u32>) -> anyhow::Result<()> {
        let quota = match pct {
            Some(p) => (QUOTA_PERIOD_US * u64::from(p) / 100).to_string(),
            None => "-1".to_string(),
        };
        write(
            &self.cpu.join("cpu.cfs_period_us"),
            &QUOTA_PERIOD_US.to_string(),
        )?;
        write(&self.cpu.join("cpu.cfs_quota_us"), &quota)
    }

    /// CPU time used by every task of the group so far, in nanoseconds.
    pub fn usage_ns(&self) -> u64 {
        std::fs::read_to_string(self.acct.join("cpuacct.usage"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// `cgroup.procs` files a process writes its pid to in order to join the group.
    fn procs_files(&self) -> [PathBuf; 2] {
        [
            self.cpu.join("cgroup.procs"),
            self.acct.join("cgroup.procs"),
        ]
    }
}

impl Drop for CpuGroup {
    /// The group's processes are gone by now (the owning `Proc` stops them first); the kernel
    /// may need a moment to let go of exited tasks, hence the retries.
    fn drop(&mut self) {
        for dir in [&self.cpu, &self.acct] {
            for _ in 0..100 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
}

fn write(path: &Path, v: &str) -> anyhow::Result<()> {
    std::fs::write(path, v).with_context(|| format!("writing {v} to {}", path.display()))
}

/// Where processes run: CPU lists for `taskset`, or nothing (shared mode).
#[derive(Debug, Clone)]
pub struct Placement {
    /// CPUs of load generators, backend and iperf3 server.
    pub load_cpus: Option<String>,
    /// CPUs of the proxy under test.
    pub proxy_cpus: Option<String>,
    /// CFS quota of the proxy in % of one CPU.
    pub quota_pct: Option<u32>,
}

impl Placement {
    /// Shared mode: no pinning, no cgroup.
    pub fn shared() -> Self {
        Self {
            load_cpus: None,
            proxy_cpus: None,
            quota_pct: None,
        }
    }

    /// True in fair mode.
    pub fn is_fair(&self) -> bool {
        self.proxy_cpus.is_some()
    }

    /// Checks what fair mode needs before anything starts.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.is_fair() && crate::procs::which("taskset").is_none() {
            bail!("fair mode needs `taskset` (util-linux); use --mode shared otherwise");
        }
        Ok(())
    }

    /// A command for a load generator, backend or server: pinned to the load CPUs.
    pub fn load(&self, program: &str) -> Command {
        pinned(self.load_cpus.as_deref(), program)
    }

    /// Wraps a proxy's command: in fair mode a shell moves itself into `group`, then `exec`s
    /// `taskset -c <proxy cpus> <program> <args>`, so the proxy and everything it starts
    /// (threads, worker processes, io_uring workers) live in the group on the proxy CPUs.
    pub fn proxy(&self, cmd: &Command, group: Option<&CpuGroup>) -> Command {
        let (Some(cpus), Some(group)) = (&self.proxy_cpus, group) else {
            return clone_command(cmd);
        };
        let [a, b] = group.procs_files();
        let mut w = Command::new("sh");
        w.arg("-c")
            .arg("echo $$ > \"$1\" && echo $$ > \"$2\" && shift 2 && exec taskset -c \"$@\"")
            .arg("sh")
            .arg(a)
            .arg(b)
            .arg(cpus)
            .arg(cmd.get_program())
            .args(cmd.get_args());
        copy_env(cmd, &mut w);
        w
    }
}

fn pinned(cpus: Option<&str>, program: &str) -> Command {
    match cpus {
        Some(c) => {
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", c, program]);
            cmd
        }
        None => Command::new(program),
    }
}

fn clone_command(cmd: &Command) -> Command {
    let mut c = Command::new(cmd.get_program());
    c.args(cmd.get_args());
    copy_env(cmd, &mut c);
    c
}

fn copy_env(from: &Command, to: &mut Command) {
    for (k, v) in from.get_envs() {
        match v {
            Some(v) => to.env(k, v),
            None => to.env_remove(k),
        };
    }
}
