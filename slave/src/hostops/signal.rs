//! Sending a signal to a process with `kill(2)`: no shell, no `kill` command. Pid 1 and the
//! slave itself (any of its threads) are refused unless the request says `force`.

use protocol::ops::host::{HostReply, SignalRequest};
use protocol::ops::{ErrorKind, OpError, validate};

/// The thread-group (process) id a pid or thread id belongs to, from `/proc/<pid>/status`.
fn tgid_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Why `pid` needs `force`, if it does.
pub fn protected(pid: u32) -> Option<&'static str> {
    let me = std::process::id();
    if pid == 1 {
        Some("pid 1 is the init process")
    } else if pid == me || tgid_of(pid) == Some(me) {
        Some("it is the slave agent itself")
    } else {
        None
    }
}

/// Validates and sends the signal.
pub fn send(req: &SignalRequest) -> Result<HostReply, OpError> {
    validate::signal_number("signal", req.signal)?;
    let pid = libc::pid_t::try_from(req.pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| OpError::invalid("pid", format!("{} is not a process id", req.pid)))?;
    if !req.force
        && let Some(why) = protected(req.pid)
    {
        return Err(OpError {
            kind: ErrorKind::Refused,
            field: Some("pid".into()),
            message: format!(
                "refusing to signal pid {}: {why} (set force to override)",
                req.pid
            ),
        });
    }
    // SAFETY: kill(2) takes two plain integers and touches no memory of ours. `pid` is
    // positive (a single process, never a process group or "every process"), and the
    // signal number was checked to be in 1..=64.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(pid, req.signal) };
    if rc == 0 {
        return Ok(HostReply::Signalled {
            pid: req.pid,
            signal: req.signal,
        });
    }
    let err = std::io::Error::last_os_error();
    Err(match err.raw_os_error() {
        Some(libc::ESRCH) => OpError::new(ErrorKind::NotFound, format!("no process {}", req.pid)),
        Some(libc::EPERM) => OpError::new(
            ErrorKind::Refused,
            format!(
                "not allowed to signal pid {} (the slave lacks the privilege)",
                req.pid
            ),
        ),
        Some(libc::EINVAL) => {
            OpError::invalid("signal", format!("{} is not a valid signal", req.signal))
        }
        _ => OpError::new(
            ErrorKind::Failed,
            format!("kill({}, {}): {err}", req.pid, req.signal),
        ),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn req(pid: u32, signal: i32, force: bool) -> SignalRequest {
        SignalRequest { pid, signal, force }
    }

    #[test]
    fn refuses_pid_1_and_itself_without_force() {
        for pid in [1, std::process::id()] {
            let e = send(&req(pid, 0x0f, false)).unwrap_err();
            assert_eq!(
                (e.kind, e.field.as_deref()),
                (ErrorKind::Refused, Some("pid")),
                "{e}"
            );
        }
        // A thread of ours counts as ourselves.
        let tid = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .find(|t| *t != std::process::id());
        if let Some(tid) = tid {
            assert!(protected(tid).is_some());
        }
        assert!(protected(u32::MAX).is_none());
    }

    #[test]
    fn bad_arguments_name_their_field() {
        assert_eq!(
            send(&req(10, 0, false)).unwrap_err().field.as_deref(),
            Some("signal")
        );
        assert_eq!(
            send(&req(10, 99, false)).unwrap_err().field.as_deref(),
            Some("signal")
        );
        let e = send(&req(u32::MAX, 15, false)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("pid"));
        let e = send(&req(4_000_000, 15, false)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }

    #[test]
    fn terminates_a_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let r = send(&req(child.id(), libc::SIGTERM, false)).unwrap();
        assert_eq!(
            r,
            HostReply::Signalled {
                pid: child.id(),
                signal: libc::SIGTERM
            }
        );
        // Waits for the exit itself (`sleep 30` would end on its own, failing the check).
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
    }
}
