//! Unit tests of the admission limits.

use std::time::Duration;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn rate(per_second: f64, burst: u32) -> RateLimit {
    RateLimit { per_second, burst }
}

#[test]
fn bucket_allows_burst_then_refills_at_rate() {
    let t = Instant::now();
    let mut b = TokenBucket::new(rate(2.0, 3), t);
    assert!(b.try_take(t) && b.try_take(t) && b.try_take(t));
    assert!(!b.try_take(t));
    assert!(!b.try_take(t + Duration::from_millis(400)));
    assert!(
        b.try_take(t + Duration::from_millis(500)),
        "0.5 s at 2/s is one token"
    );
    assert!(!b.try_take(t + Duration::from_millis(500)));
    assert!(!b.is_full(t + Duration::from_millis(1000)));
    assert!(b.is_full(t + Duration::from_millis(2000)));
    assert!(b.try_take(t + Duration::from_secs(100)));
    assert!(b.try_take(t + Duration::from_secs(100)));
    assert!(b.try_take(t + Duration::from_secs(100)));
    assert!(
        !b.try_take(t + Duration::from_secs(100)),
        "never above burst"
    );
}

#[test]
fn bucket_ignores_time_going_backwards() {
    let t = Instant::now() + Duration::from_secs(10);
    let mut b = TokenBucket::new(rate(1.0, 1), t);
    assert!(b.try_take(t));
    assert!(!b.try_take(t - Duration::from_secs(5)));
    assert!(b.try_take(t + Duration::from_secs(1)));
}

#[test]
fn per_ip_concurrency_is_per_address() {
    let t = Instant::now();
    let l = Limits::new(
        PerIpConfig {
            rate: None,
            max_conns: Some(2),
        },
        None,
    );
    let a1 = l.acquire(ip("10.0.0.1"), t).unwrap();
    let _a2 = l.acquire(ip("10.0.0.1"), t).unwrap();
    assert_eq!(l.acquire(ip("10.0.0.1"), t), Err(Refusal::PerIpConns));
    assert_eq!(
        l.acquire(ip("::ffff:10.0.0.1"), t),
        Err(Refusal::PerIpConns),
        "mapped form is the same client"
    );
    let _b = l.acquire(ip("10.0.0.2"), t).unwrap();
    l.release(a1, t);
    assert!(l.acquire(ip("10.0.0.1"), t).is_ok());
}

#[test]
fn per_ip_rate_refuses_when_empty() {
    let t = Instant::now();
    let l = Limits::new(
        PerIpConfig {
            rate: Some(rate(1.0, 2)),
            max_conns: None,
        },
        None,
    );
    let p1 = l.acquire(ip("::1"), t).unwrap();
    l.release(p1, t);
    let p2 = l.acquire(ip("::1"), t).unwrap();
    l.release(p2, t);
    assert_eq!(l.acquire(ip("::1"), t), Err(Refusal::Rate));
    assert!(l.acquire(ip("::2"), t).is_ok());
    assert!(l.acquire(ip("::1"), t + Duration::from_secs(1)).is_ok());
}

#[test]
fn global_limit_counts_every_client_and_rolls_back_on_refusal() {
    let t = Instant::now();
    let l = Limits::new(
        PerIpConfig {
            rate: None,
            max_conns: Some(1),
        },
        Some(2),
    );
    let a = l.acquire(ip("10.0.0.1"), t).unwrap();
    assert_eq!(l.acquire(ip("10.0.0.1"), t), Err(Refusal::PerIpConns));
    assert_eq!(l.active(), 1, "per-ip refusal gives the global slot back");
    let _b = l.acquire(ip("10.0.0.2"), t).unwrap();
    assert_eq!(l.acquire(ip("10.0.0.3"), t), Err(Refusal::MaxConns));
    l.release(a, t);
    assert_eq!(l.active(), 1);
    assert!(l.acquire(ip("10.0.0.3"), t).is_ok());
}

#[test]
fn entries_are_forgotten_when_idle_and_full() {
    let t = Instant::now();
    let l = Limits::new(
        PerIpConfig {
            rate: Some(rate(10.0, 1)),
            max_conns: Some(5),
        },
        None,
    );
    let p = l.acquire(ip("10.0.0.1"), t).unwrap();
    assert_eq!(l.sweep(t), 1);
    l.release(p, t);
    assert_eq!(l.sweep(t), 1, "bucket still empty");
    assert_eq!(l.sweep(t + Duration::from_secs(1)), 0);
}

#[test]
fn no_limits_means_no_table() {
    let t = Instant::now();
    let l = Limits::new(PerIpConfig::default(), None);
    for _ in 0..1000 {
        let p = l.acquire(ip("10.0.0.1"), t).unwrap();
        assert_eq!(
            p,
            Permit {
                ip: ip("10.0.0.1"),
                global: false,
                per_ip: false
            }
        );
    }
    assert_eq!(l.sweep(t), 0);
    assert!(l.same_settings(&PerIpConfig::default(), None));
    assert!(!l.same_settings(&PerIpConfig::default(), Some(1)));
}

#[test]
fn admission_guard_releases_on_drop() {
    let t = Instant::now();
    let l = Arc::new(Limits::new(
        PerIpConfig {
            rate: None,
            max_conns: Some(1),
        },
        Some(1),
    ));
    let a = Admission::acquire(&l, ip("10.0.0.1"), t).unwrap();
    assert_eq!(
        Admission::acquire(&l, ip("10.0.0.1"), t).unwrap_err(),
        Refusal::MaxConns
    );
    drop(a);
    assert_eq!(l.active(), 0);
    assert!(Admission::acquire(&l, ip("10.0.0.1"), t).is_ok());
}
