//! Live reconfiguration: upstream changes under traffic with zero failed connections,
//! established connections untouched, removed upstreams draining, gateways added, removed
//! and moved, and a failed precommit changing nothing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use gateway::{Config, GatewayError, GatewayHandle};

fn cfg(listen: SocketAddr, ups: &[SocketAddr], extra: &str) -> Config {
    let list: Vec<String> = ups.iter().map(|a| format!("\"{a}\"")).collect();
    Config::from_yaml(&format!(
        "workers: 2\ngateways:\n  - name: g\n    listen: \"{listen}\"\n    upstreams: [{}]\n    health: {{interval: 100ms}}\n{extra}",
        list.join(", ")
    ))
    .unwrap()
}

fn echo_ok(s: &mut TcpStream, msg: &[u8]) -> bool {
    let mut back = vec![0u8; msg.len()];
    s.write_all(msg).is_ok() && s.read_exact(&mut back).is_ok() && back == msg
}

struct Traffic {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<char>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

fn traffic(addr: SocketAddr, clients: usize) -> Traffic {
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let log = Arc::new(Mutex::new(Vec::new()));
    let threads = (0..clients)
        .map(|_| {
            let (stop, ok, failed, log) = (stop.clone(), ok.clone(), failed.clone(), log.clone());
            std::thread::spawn(move || {
                // Bounded: at most 20 000 connections per client.
                for _ in 0..20_000 {
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    let res = TcpStream::connect(addr)
                        .map_err(|e| format!("connect: {e}"))
                        .and_then(|mut s| {
                            s.set_read_timeout(Some(Duration::from_secs(10)))
                                .map_err(|e| e.to_string())?;
                            let t = tag_of(&mut s).ok_or("no tag")?;
                            echo_ok(&mut s, b"ping")
                                .then_some(t)
                                .ok_or("no echo".to_string())
                        });
                    let res = res.map_err(|e| eprintln!("traffic failure: {e}")).ok();
                    match res {
                        Some(t) => {
                            log.lock().unwrap().push(t);
                            ok.fetch_add(1, Ordering::AcqRel);
                        }
                        None => {
                            failed.fetch_add(1, Ordering::AcqRel);
                        }
                    }
                }
            })
        })
        .collect();
    Traffic {
        stop,
        ok,
        failed,
        log,
        threads,
    }
}

impl Traffic {
    /// Waits until `n` more connections have succeeded.
    fn advance(&self, n: usize) {
        let target = self.ok.load(Ordering::Acquire) + n;
        assert!(wait_until(Duration::from_secs(20), || self
            .ok
            .load(Ordering::Acquire)
            >= target));
    }

    fn finish(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Release);
        for t in self.threads {
            t.join().unwrap();
        }
        (
            self.ok.load(Ordering::Acquire),
            self.failed.load(Ordering::Acquire),
        )
    }
}

#[test]
fn upstream_changes_under_traffic_fail_no_connection() {
    let bs = tagged("ab");
    let (a, b) = (bs[0].addr, bs[1].addr);
    let gw = gateway::start(cfg("127.0.0.1:0".parse().unwrap(), &[a], "")).unwrap();
    let addr = addr_of(&gw, "g");
    let t = traffic(addr, 4);
    t.advance(50);
    let plans: [&[SocketAddr]; 6] = [&[a, b], &[b], &[a], &[b, a], &[a], &[b]];
    for (i, ups) in plans.iter().cycle().take(18).enumerate() {
        let extra = if i % 2 == 0 {
            "    algorithm: least_conn\n"
        } else {
            ""
        };
        gw.apply_blocking(cfg(addr, ups, extra)).unwrap();
        t.advance(30);
    }
    // The last plan is [b]: connections started from now on must all reach b.
    let seen_before = t.log.lock().unwrap().len();
    t.advance(100);
    let log = t.log.lock().unwrap().clone();
    let (ok, failed) = t.finish();
    assert_eq!(failed, 0, "{failed} of {} connections failed", ok + failed);
    // A connection that read its tag just before the switch may log it a little later;
    // skip a margin of one in-flight connection per client.
    assert!(log[seen_before + 4..].iter().all(|&c| c == 'b'));
}

#[test]
fn established_connections_survive_and_removed_upstreams_drain() {
    let bs = tagged("ab");
    let (a, b) = (bs[0].addr, bs[1].addr);
    let gw = gateway::start(cfg("127.0.0.1:0".parse().unwrap(), &[a], "")).unwrap();
    let addr = addr_of(&gw, "g");
    let mut long = TcpStream::connect(addr).unwrap();
    long.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(tag_of(&mut long), Some('a'));
    let report = gw.apply_blocking(cfg(addr, &[b], "")).unwrap();
    assert_eq!(report.changed, vec!["g".to_string()]);
    assert!(
        echo_ok(&mut long, b"still here"),
        "established connection untouched"
    );
    let st = gstats(&gw);
    let old = st.upstream(&a.to_string()).unwrap();
    assert_eq!((old.health.as_str(), old.active), ("draining", 1));
    let mut fresh = TcpStream::connect(addr).unwrap();
    assert_eq!(tag_of(&mut fresh), Some('b'));
    drop(long);
    assert!(wait_until(Duration::from_secs(5), || gstats(&gw)
        .upstream(&a.to_string())
        .is_none()));
}

#[test]
fn drain_timeout_cuts_lingering_connections() {
    let bs = tagged("ab");
    let (a, b) = (bs[0].addr, bs[1].addr);
    let extra = "    drain_timeout: 300ms\n";
    let gw = gateway::start(cfg("127.0.0.1:0".parse().unwrap(), &[a], extra)).unwrap();
    let addr = addr_of(&gw, "g");
    let mut long = TcpStream::connect(addr).unwrap();
    long.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(tag_of(&mut long), Some('a'));
    let applied = std::time::Instant::now();
    gw.apply_blocking(cfg(addr, &[b], extra)).unwrap();
    let mut buf = [0u8; 4];
    let n = read_some(&mut long, &mut buf).unwrap_or(0);
    assert_eq!(n, 0, "cut when the drain timeout ran out");
    assert!(applied.elapsed() >= Duration::from_millis(300));
    assert!(wait_until(Duration::from_secs(5), || gstats(&gw)
        .drain_kills
        == 1));
}

fn two(g1: Option<&str>, g2: Option<&str>, up: SocketAddr) -> Config {
    let mut y = String::from("workers: 2\ngateways:\n");
    for (name, listen) in [("g1", g1), ("g2", g2)] {
        if let Some(l) = listen {
            y += &format!("  - name: {name}\n    listen: \"{l}\"\n    upstreams: [\"{up}\"]\n");
        }
    }
    Config::from_yaml(&y).unwrap()
}

fn refused(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err()
}

#[test]
fn gateways_are_added_removed_and_moved() {
    let b = Backend::start(Behaviour::Tagged("a".into()));
    let gw = gateway::start(two(Some("127.0.0.1:0"), None, b.addr)).unwrap();
    let g1 = addr_of(&gw, "g1");
    let g1s = g1.to_string();
    let report = gw
        .apply_blocking(two(Some(&g1s), Some("127.0.0.1:0"), b.addr))
        .unwrap();
    assert_eq!(report.added, vec!["g2".to_string()]);
    let g2 = addr_of(&gw, "g2");
    let mut via_g1 = TcpStream::connect(g1).unwrap();
    let mut via_g2 = TcpStream::connect(g2).unwrap();
    assert_eq!(
        (tag_of(&mut via_g1), tag_of(&mut via_g2)),
        (Some('a'), Some('a'))
    );
    // Remove g1 and move g2 to another address in one apply.
    let report = gw
        .apply_blocking(two(None, Some("127.0.0.2:0"), b.addr))
        .unwrap();
    assert_eq!(report.removed, vec!["g1".to_string()]);
    let g2_new = addr_of(&gw, "g2");
    assert_ne!(g2_new, g2);
    assert!(refused(g1) && refused(g2), "old listeners closed");
    let mut fresh = TcpStream::connect(g2_new).unwrap();
    assert_eq!(tag_of(&mut fresh), Some('a'));
    assert!(echo_ok(&mut via_g1, b"g1 lives on") && echo_ok(&mut via_g2, b"g2 too"));
}

#[test]
fn failed_precommit_changes_nothing() {
    let b = Backend::start(Behaviour::Tagged("a".into()));
    let gw: GatewayHandle = gateway::start(two(Some("127.0.0.1:0"), None, b.addr)).unwrap();
    let g1 = addr_of(&gw, "g1").to_string();
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().to_string();
    let err = gw
        .apply_blocking(two(Some(&g1), Some(&busy), b.addr))
        .unwrap_err();
    assert!(
        matches!(&err, GatewayError::Bind { gateway, .. } if gateway == "g2"),
        "{err}"
    );
    let st = gw.stats_blocking().unwrap();
    assert_eq!(st.gateways.len(), 1);
    let mut s = TcpStream::connect(g1.parse::<SocketAddr>().unwrap()).unwrap();
    assert_eq!(tag_of(&mut s), Some('a'));
    drop(held);
    gw.apply_blocking(two(Some(&g1), Some(&busy), b.addr))
        .unwrap();
    assert_eq!(gw.stats_blocking().unwrap().gateways.len(), 2);
}

/// `admin::reload_file` says whether the file or the apply failed, and keeps the running
/// configuration either way.
#[test]
fn reload_from_a_file_is_typed() {
    use gateway::admin::{ReloadError, reload_file};
    let (a, b) = (tagged("a"), tagged("b"));
    let gw = start(&one_gateway("", &[a[0].addr]));
    let addr = addr_of(&gw, "g");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.yaml");
    std::fs::write(&path, "gateways: [\n").unwrap();
    let err = reload_file(&gw, &path).unwrap_err();
    assert!(matches!(err, ReloadError::Config { .. }), "{err}");
    assert!(err.to_string().starts_with("configuration "), "{err}");
    assert_eq!(tag_of(&mut TcpStream::connect(addr).unwrap()), Some('a'));
    let listen = format!("\n    listen: {addr}\n");
    let yaml = one_gateway("", &[b[0].addr]).replacen("\n    listen: 127.0.0.1:0\n", &listen, 1);
    std::fs::write(&path, yaml).unwrap();
    let report = reload_file(&gw, &path).unwrap();
    assert_eq!(report.changed, vec!["g".to_string()]);
    assert_eq!(tag_of(&mut TcpStream::connect(addr).unwrap()), Some('b'));
}

#[test]
fn new_settings_apply_to_new_connections_only() {
    let b = Backend::start(Behaviour::Tagged("a".into()));
    let gw = gateway::start(cfg("127.0.0.1:0".parse().unwrap(), &[b.addr], "")).unwrap();
    let addr = addr_of(&gw, "g");
    let mut before = TcpStream::connect(addr).unwrap();
    before
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(tag_of(&mut before), Some('a'));
    gw.apply_blocking(cfg(addr, &[b.addr], "    deny: [127.0.0.0/8]\n"))
        .unwrap();
    let mut after = TcpStream::connect(addr).unwrap();
    assert_eq!(
        tag_of(&mut after),
        None,
        "new connection refused by the new deny list"
    );
    assert!(echo_ok(&mut before, b"untouched"));
}
