//! Replica health: a sans-io state machine per replica ([`HealthTracker`]: thresholds,
//! start period, probe schedule; time passed in) and the probes themselves ([`probe`]: a
//! TCP connect, or `GET path` over HTTP/1.1 expecting a status, with a connect-and-read
//! timeout and a cap on what is read).

use protocol::workload::{HealthProbe, ProbeKind};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Most bytes of an HTTP answer read to find its status line.
pub const MAX_STATUS_READ: usize = 4096;
/// Shortest interval between probes of one replica (a spec may ask for less).
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Shortest probe timeout.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(50);
/// Longest path an HTTP probe sends.
pub const MAX_PATH_LEN: usize = 2048;

/// The health of one replica's container.
#[derive(Debug, Clone)]
pub struct HealthTracker {
    probe: HealthProbe,
    started: Instant,
    healthy: bool,
    passes: u32,
    failures: u32,
    next_probe: Instant,
    last_error: String,
}

impl HealthTracker {
    /// A replica whose container was seen running at `started`: unhealthy until
    /// `healthy_threshold` consecutive passes; the first probe is due at once.
    pub fn new(probe: HealthProbe, started: Instant) -> Self {
        Self {
            probe,
            started,
            healthy: false,
            passes: 0,
            failures: 0,
            next_probe: started,
            last_error: String::new(),
        }
    }

    /// Whether its health check passes, by the thresholds.
    pub fn healthy(&self) -> bool {
        self.healthy
    }

    /// Why the last probe failed (empty after a pass).
    pub fn last_error(&self) -> &str {
        &self.last_error
    }

    /// The check it runs.
    pub fn probe(&self) -> &HealthProbe {
        &self.probe
    }

    /// Whether a probe is due at `now`; when it is, the next one is scheduled one interval
    /// later.
    pub fn take_due(&mut self, now: Instant) -> bool {
        if now < self.next_probe {
            return false;
        }
        self.next_probe = now + interval(&self.probe);
        true
    }

    /// Records a probe's outcome at `now`: `Ok` passed, `Err` failed with a reason.
    pub fn record(&mut self, outcome: Result<(), String>, now: Instant) {
        match outcome {
            Ok(()) => {
                self.last_error.clear();
                self.failures = 0;
                self.passes = self.passes.saturating_add(1);
                if self.passes >= self.probe.healthy_threshold.max(1) {
                    self.healthy = true;
                }
            }
            Err(why) => {
                self.last_error = why;
                self.passes = 0;
                let in_start_period = now.saturating_duration_since(self.started)
                    < Duration::from_millis(u64::from(self.probe.start_period_ms));
                if in_start_period && !self.healthy {
                    return;
                }
                self.failures = self.failures.saturating_add(1);
                if self.failures >= self.probe.unhealthy_threshold.max(1) {
                    self.healthy = false;
                }
            }
        }
    }
}

fn interval(p: &HealthProbe) -> Duration {
    Duration::from_millis(u64::from(p.interval_ms)).max(MIN_INTERVAL)
}

/// The time one probe may take.
pub fn timeout(p: &HealthProbe) -> Duration {
    Duration::from_millis(u64::from(p.timeout_ms)).max(MIN_TIMEOUT)
}

/// Runs `check` against `target`, all of it within the probe's timeout.
pub async fn probe(check: &HealthProbe, target: SocketAddr) -> Result<(), String> {
    let limit = timeout(check);
    match tokio::time::timeout(limit, probe_once(&check.kind, target)).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer from {target} within {limit:?}")),
    }
}

async fn probe_once(kind: &ProbeKind, target: SocketAddr) -> Result<(), String> {
    let mut stream = tokio::net::TcpStream::connect(target)
        .await
        .map_err(|e| format!("connect {target}: {e}"))?;
    let ProbeKind::Http {
        path,
        expected_status,
    } = kind
    else {
        return Ok(());
    };
    check_path(path)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: commander-health\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send to {target}: {e}"))?;
    let mut buf = vec![0u8; MAX_STATUS_READ];
    let mut len = 0;
    loop {
        if let Some(status) = status_of(&buf[..len])? {
            return if status == *expected_status {
                Ok(())
            } else {
                Err(format!("HTTP {status}, expected {expected_status}"))
            };
        }
        if len == buf.len() {
            return Err(format!(
                "no status line in the first {MAX_STATUS_READ} bytes"
            ));
        }
        let n = stream
            .read(&mut buf[len..])
            .await
            .map_err(|e| format!("read from {target}: {e}"))?;
        if n == 0 {
            return Err("the connection closed before a status line".into());
        }
        len += n;
    }
}

/// A path an HTTP probe may send: starts with `/`, printable ASCII without spaces.
fn check_path(path: &str) -> Result<(), String> {
    let ok = path.starts_with('/')
        && path.len() <= MAX_PATH_LEN
        && path.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(format!("bad health check path {path:?}"))
    }
}

/// The status of a complete status line (`HTTP/1.x NNN ...\r\n`) in `head`; `None` while
/// the line is incomplete.
fn status_of(head: &[u8]) -> Result<Option<u16>, String> {
    let Some(end) = head.iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let line = String::from_utf8_lossy(&head[..end]);
    let mut parts = line.trim_end().splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(format!("not an HTTP/1 status line: {:?}", line.trim_end()));
    }
    code.parse::<u16>()
        .map(Some)
        .map_err(|_| format!("bad status code {code:?}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::io::{Read, Write};

    fn check(healthy: u32, unhealthy: u32, start_ms: u32) -> HealthProbe {
        HealthProbe {
            kind: ProbeKind::Tcp,
            interval_ms: 1000,
            timeout_ms: 500,
            healthy_threshold: healthy,
            unhealthy_threshold: unhealthy,
            start_period_ms: start_ms,
        }
    }

    fn ms(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_millis(n)
    }

    #[test]
    fn healthy_after_threshold_passes_unhealthy_after_threshold_failures() {
        let t0 = Instant::now();
        let mut h = HealthTracker::new(check(2, 3, 0), t0);
        assert!(!h.healthy());
        h.record(Ok(()), ms(t0, 1));
        assert!(!h.healthy(), "one pass of two");
        h.record(Err("refused".into()), ms(t0, 2));
        h.record(Ok(()), ms(t0, 3));
        assert!(!h.healthy(), "a failure restarts the count");
        h.record(Ok(()), ms(t0, 4));
        assert!(h.healthy());
        h.record(Err("a".into()), ms(t0, 5));
        h.record(Err("b".into()), ms(t0, 6));
        assert!(h.healthy(), "two failures of three");
        assert_eq!(h.last_error(), "b");
        h.record(Ok(()), ms(t0, 7));
        h.record(Err("c".into()), ms(t0, 8));
        h.record(Err("d".into()), ms(t0, 9));
        assert!(h.healthy(), "a pass restarts the failure count");
        h.record(Err("e".into()), ms(t0, 10));
        assert!(!h.healthy());
    }

    #[test]
    fn zero_thresholds_mean_one() {
        let t0 = Instant::now();
        let mut h = HealthTracker::new(check(0, 0, 0), t0);
        h.record(Ok(()), t0);
        assert!(h.healthy());
        h.record(Err("x".into()), t0);
        assert!(!h.healthy());
    }

    #[test]
    fn failures_in_the_start_period_do_not_count() {
        let t0 = Instant::now();
        let mut h = HealthTracker::new(check(1, 1, 5000), t0);
        h.record(Err("booting".into()), ms(t0, 1000));
        h.record(Err("booting".into()), ms(t0, 4999));
        h.record(Ok(()), ms(t0, 4999));
        assert!(h.healthy(), "a pass counts inside the start period");
        h.record(Err("down".into()), ms(t0, 4999));
        assert!(!h.healthy(), "once healthy, failures count at once");
        let mut h = HealthTracker::new(check(1, 2, 5000), t0);
        h.record(Err("x".into()), ms(t0, 4000));
        h.record(Err("x".into()), ms(t0, 5000));
        h.record(Ok(()), ms(t0, 5001));
        assert!(h.healthy(), "the ignored failure did not count toward 2");
    }

    #[test]
    fn probes_are_scheduled_one_interval_apart() {
        let t0 = Instant::now();
        let mut h = HealthTracker::new(check(1, 1, 0), t0);
        assert!(h.take_due(t0), "the first probe is due at once");
        assert!(!h.take_due(ms(t0, 999)));
        assert!(h.take_due(ms(t0, 1000)));
        assert!(!h.take_due(ms(t0, 1500)));
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_of(b"HTTP/1.1 200 OK\r\n").unwrap(), Some(200));
        assert_eq!(
            status_of(b"HTTP/1.0 404 Not Found\r\nX: y").unwrap(),
            Some(404)
        );
        assert_eq!(status_of(b"HTTP/1.1 20").unwrap(), None);
        assert!(status_of(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(status_of(b"HTTP/1.1 2000 X\r\n").is_err());
        assert!(check_path("/health?x=1").is_ok());
        for bad in ["health", "/a b", "/a\r\nX: 1", ""] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }

    /// Serves one connection per answer on a loopback port; returns the address.
    fn server(answers: Vec<&'static [u8]>) -> SocketAddr {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for answer in answers {
                let (mut s, _) = l.accept().unwrap();
                let mut req = [0u8; 1024];
                let _ = s.read(&mut req);
                let _ = s.write_all(answer);
            }
        });
        addr
    }

    fn http(path: &str, status: u16) -> HealthProbe {
        HealthProbe {
            kind: ProbeKind::Http {
                path: path.into(),
                expected_status: status,
            },
            ..check(1, 1, 0)
        }
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn tcp_and_http_probes_against_loopback_servers() {
        let addr = server(vec![
            b"",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 503 Unavailable\r\n\r\n",
            b"garbage\n",
        ]);
        run(async {
            assert_eq!(probe(&check(1, 1, 0), addr).await, Ok(()));
            assert_eq!(probe(&http("/", 200), addr).await, Ok(()));
            let e = probe(&http("/", 200), addr).await.unwrap_err();
            assert!(e.contains("503"), "{e}");
            assert!(probe(&http("/", 200), addr).await.is_err());
        });
    }

    #[test]
    fn probe_fails_on_refused_connection_and_on_silence() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        // Accepts but never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let silent_addr = silent.local_addr().unwrap();
        run(async {
            assert!(probe(&check(1, 1, 0), closed).await.is_err());
            let t = Instant::now();
            let e = probe(&http("/", 200), silent_addr).await.unwrap_err();
            assert!(e.contains("within"), "{e}");
            assert!(t.elapsed() < Duration::from_secs(3));
        });
        drop(silent);
    }
}
