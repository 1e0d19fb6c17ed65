//! Host operations the master can ask for ([`protocol::ops::host::HostOp`]): processes
//! (procfs), signals (`kill(2)`, never a shell), sockets with their owners, the environment
//! profile of processes the slave starts, the hosts file (validated, atomic, previous
//! version kept, restore), disk usage and a live metric sample.
//!
//! [`HostOps::run`] is blocking (it reads `/proc`); the agent calls it on a worker thread.

pub mod disks;
pub mod env;
pub mod hosts;
pub mod process;
pub mod signal;
pub mod sockets;

use crate::metrics::MetricSampler;
use protocol::ops::host::{HostOp, HostReply};
use protocol::ops::{ErrorKind, OpError, validate};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where host operations find their files.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// The slave's data directory (environment profile, previous hosts file).
    pub data_dir: PathBuf,
    /// The hosts file to view and edit.
    pub hosts_file: PathBuf,
}

/// Host operations with the state they keep between calls.
#[derive(Debug)]
pub struct HostOps {
    cfg: HostConfig,
    cpu: Mutex<process::CpuCache>,
    sampler: Mutex<(MetricSampler, Option<Instant>)>,
}

/// An I/O failure as an operation error: missing → not found, denied → refused.
pub(crate) fn io_error(what: &str, e: &std::io::Error) -> OpError {
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        std::io::ErrorKind::PermissionDenied => ErrorKind::Refused,
        _ => ErrorKind::Failed,
    };
    OpError::new(kind, format!("{what}: {e}"))
}

/// A procfs failure as an operation error.
pub(crate) fn proc_error(what: &str, e: procfs::ProcError) -> OpError {
    match e {
        procfs::ProcError::NotFound(_) => {
            OpError::new(ErrorKind::NotFound, format!("{what}: no such process"))
        }
        procfs::ProcError::PermissionDenied(_) => {
            OpError::new(ErrorKind::Refused, format!("{what}: permission denied"))
        }
        other => OpError::new(ErrorKind::Failed, format!("{what}: {other}")),
    }
}

impl HostOps {
    /// Host operations over `cfg`'s files.
    pub fn new(cfg: HostConfig) -> Self {
        Self {
            cfg,
            cpu: Mutex::new(process::CpuCache::default()),
            sampler: Mutex::new((MetricSampler::new(), None)),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HostConfig {
        &self.cfg
    }

    /// Validates and runs one operation (blocking).
    pub fn run(&self, op: HostOp) -> Result<HostReply, OpError> {
        validate::host_op(&op)?;
        match op {
            HostOp::ListProcesses(q) => {
                let mut cache = self.cpu.lock().unwrap_or_else(|p| p.into_inner());
                process::list(&mut cache, &q).map(HostReply::Processes)
            }
            HostOp::ProcessDetails { pid } => process::details(pid).map(HostReply::Process),
            HostOp::Signal(s) => signal::send(&s),
            HostOp::Sockets(q) => sockets::list(&q, None).map(HostReply::Sockets),
            HostOp::GetEnv => env::view(&self.cfg.data_dir).map(HostReply::Env),
            HostOp::SetEnv(edit) => env::edit(&self.cfg.data_dir, edit).map(HostReply::Env),
            HostOp::GetHosts => hosts::get(&self.hosts_paths()).map(HostReply::Hosts),
            HostOp::PutHosts { content } => {
                hosts::put(&self.hosts_paths(), &content).map(HostReply::Hosts)
            }
            HostOp::RestoreHosts => hosts::restore(&self.hosts_paths()).map(HostReply::Hosts),
            HostOp::Disks => Ok(HostReply::Disks(disks::usage())),
            HostOp::Performance => self.performance().map(HostReply::Performance),
        }
    }

    fn hosts_paths(&self) -> hosts::HostsPaths {
        hosts::HostsPaths::new(&self.cfg.hosts_file, &self.cfg.data_dir)
    }

    /// A sample whose rates cover a meaningful interval: a stale or first sampler is primed
    /// and read again half a second later; calls in quick succession are spaced 250 ms.
    fn performance(&self) -> Result<protocol::MetricSample, OpError> {
        let mut guard = self.sampler.lock().unwrap_or_else(|p| p.into_inner());
        let (sampler, last) = &mut *guard;
        let failed =
            |e: crate::metrics::MetricsError| OpError::new(ErrorKind::Failed, e.to_string());
        match last.map(|t| t.elapsed()) {
            Some(e) if e < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(250).saturating_sub(e));
            }
            _ => {
                sampler.sample(now_ms()).map_err(failed)?;
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        let sample = sampler.sample(now_ms()).map_err(failed)?;
        *last = Some(Instant::now());
        Ok(sample)
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
