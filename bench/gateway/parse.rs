//! Parsing the output of wrk and iperf3 (pure functions, unit-tested).

/// Numbers read from one wrk run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WrkRun {
    /// `Requests/sec`.
    pub rps: f64,
    /// 50th percentile latency in microseconds (with `--latency`).
    pub p50_us: Option<f64>,
    /// 99th percentile latency in microseconds (with `--latency`).
    pub p99_us: Option<f64>,
    /// Socket errors and non-2xx responses.
    pub errors: u64,
}

/// Reads wrk's summary.
pub fn wrk(out: &str) -> Option<WrkRun> {
    let mut run = WrkRun::default();
    let mut rps = None;
    for line in out.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("50%") {
            run.p50_us = duration_us(v.trim());
        } else if let Some(v) = line.strip_prefix("99%") {
            run.p99_us = duration_us(v.trim());
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            run.errors += v
                .split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            run.errors += v.trim().parse::<u64>().unwrap_or(0);
        }
    }
    run.rps = rps?;
    Some(run)
}

/// `52.00us`, `1.23ms`, `2.00s` in microseconds.
pub fn duration_us(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    match unit {
        "us" => Some(v),
        "ms" => Some(v * 1e3),
        "s" => Some(v * 1e6),
        "m" => Some(v * 60e6),
        _ => None,
    }
}

/// The receiver's throughput in Gbit/s from `iperf3 -f m` (the `[SUM]` line when there are
/// several streams, else the single stream's line).
pub fn iperf3_gbits(out: &str) -> Option<f64> {
    let receivers: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_end().ends_with("receiver"))
        .collect();
    let line = receivers
        .iter()
        .find(|l| l.contains("[SUM]"))
        .or_else(|| receivers.last())?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words.iter().position(|w| w.ends_with("bits/sec"))?;
    let v: f64 = words.get(i.checked_sub(1)?)?.parse().ok()?;
    let scale = match words[i] {
        "Gbits/sec" => 1.0,
        "Mbits/sec" => 1e-3,
        "Kbits/sec" => 1e-6,
        _ => return None,
    };
    Some(v * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 10s test @ http://127.0.0.1:8080/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   1.10ms  300.00us   5.00ms   80.00%
  Latency Distribution
     50%   52.00us
     75%  100.00us
     90%  500.00us
     99%    1.23ms
  123456 requests in 10.00s, 10.00MB read
  Socket errors: connect 0, read 2, write 1, timeout 0
  Non-2xx or 3xx responses: 4
Requests/sec:  12345.67
Transfer/sec:      1.00MB
";

    #[test]
    fn wrk_summary() {
        let r = wrk(WRK).unwrap();
        assert_eq!(r.rps, 12345.67);
        assert_eq!(r.p50_us, Some(52.0));
        assert_eq!(r.p99_us, Some(1230.0));
        assert_eq!(r.errors, 7);
        assert!(wrk("nothing").is_none());
    }

    #[test]
    fn iperf3_sum_and_single() {
        let multi = "[  5]   0.00-10.00  sec  5.00 GBytes  4300 Mbits/sec                  receiver
[SUM]   0.00-10.00  sec  10.0 GBytes  8600 Mbits/sec                  receiver
";
        assert_eq!(iperf3_gbits(multi), Some(8.6));
        let single =
            "[  5]   0.00-10.04  sec  20.1 GBytes  17200 Mbits/sec                  receiver\n";
        assert_eq!(iperf3_gbits(single), Some(17.2));
        assert_eq!(iperf3_gbits("sender only"), None);
    }
}
