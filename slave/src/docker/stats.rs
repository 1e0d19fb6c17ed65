//! Container stats arithmetic, as `docker stats` does it, without dividing by zero.
//!
//! CPU percent = (container CPU time delta ÷ host CPU time delta) × online CPUs × 100, over
//! the two samples of one engine reading. No host delta (the first sample of a container,
//! a stopped container, a counter reset) gives 0, never a division by zero or a huge value.
//! Memory in use leaves out the inactive page cache, as the CLI does.

use super::StatsSample;
use protocol::ops::docker_reply::ContainerStats;

/// Derives the percentages of one reading.
pub fn compute(s: &StatsSample) -> ContainerStats {
    let online = if s.online_cpus > 0 {
        s.online_cpus
    } else {
        s.percpu_len.max(1)
    };
    let cpu_delta = s.cpu_total.checked_sub(s.precpu_total);
    let system_delta = s.system.checked_sub(s.presystem);
    let cpu_pct = match (cpu_delta, system_delta) {
        // No baseline: the engine had no previous sample.
        _ if s.presystem == 0 => 0.0,
        (Some(c), Some(sys)) if c > 0 && sys > 0 => {
            (c as f64 / sys as f64) * f64::from(online) * 100.0
        }
        _ => 0.0,
    };
    let cpu_pct = cpu_pct.clamp(0.0, f64::from(online) * 100.0);
    let mem_usage = if s.mem_inactive_file < s.mem_usage {
        s.mem_usage - s.mem_inactive_file
    } else {
        s.mem_usage
    };
    let mem_pct = if s.mem_limit > 0 {
        mem_usage as f64 * 100.0 / s.mem_limit as f64
    } else {
        0.0
    };
    ContainerStats {
        cpu_pct,
        online_cpus: online,
        mem_usage_bytes: mem_usage,
        mem_limit_bytes: s.mem_limit,
        mem_pct,
        net_rx_bytes: s.net_rx,
        net_tx_bytes: s.net_tx,
        block_read_bytes: s.blk_read,
        block_write_bytes: s.blk_write,
        pids: s.pids,
        read_at: s.read_at.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StatsSample {
        StatsSample {
            cpu_total: 3_000_000_000,
            precpu_total: 2_000_000_000,
            system: 20_000_000_000,
            presystem: 16_000_000_000,
            online_cpus: 2,
            mem_usage: 100 << 20,
            mem_inactive_file: 20 << 20,
            mem_limit: 200 << 20,
            ..Default::default()
        }
    }

    #[test]
    fn cpu_percent_like_docker_stats() {
        // 1 s of container CPU over 4 s of host CPU time on 2 CPUs = 50 %.
        let s = compute(&sample());
        assert!((s.cpu_pct - 50.0).abs() < 1e-9, "{}", s.cpu_pct);
        assert_eq!(s.online_cpus, 2);
        assert_eq!(s.mem_usage_bytes, 80 << 20);
        assert!((s.mem_pct - 40.0).abs() < 1e-9);
    }

    #[test]
    fn no_division_by_zero() {
        let zero = compute(&StatsSample::default());
        assert_eq!(zero.cpu_pct, 0.0);
        assert_eq!(zero.mem_pct, 0.0);
        assert_eq!(zero.online_cpus, 1);
        let no_system_delta = StatsSample {
            system: 16_000_000_000,
            ..sample()
        };
        assert_eq!(compute(&no_system_delta).cpu_pct, 0.0);
        let no_baseline = StatsSample {
            presystem: 0,
            precpu_total: 0,
            ..sample()
        };
        assert_eq!(compute(&no_baseline).cpu_pct, 0.0);
        let went_backwards = StatsSample {
            cpu_total: 1,
            ..sample()
        };
        assert_eq!(compute(&went_backwards).cpu_pct, 0.0);
        let unlimited = StatsSample {
            mem_limit: 0,
            ..sample()
        };
        assert_eq!(compute(&unlimited).mem_pct, 0.0);
    }

    #[test]
    fn cpu_count_falls_back_to_the_per_cpu_list() {
        let s = StatsSample {
            online_cpus: 0,
            percpu_len: 4,
            ..sample()
        };
        assert!((compute(&s).cpu_pct - 100.0).abs() < 1e-9);
        let capped = StatsSample {
            cpu_total: u64::MAX,
            ..sample()
        };
        assert!(compute(&capped).cpu_pct <= 200.0);
    }
}
