//! Upstream health: active TCP and HTTP checks with rise/fall and re-admission, passive
//! ejection on failed connects, and connect timeouts retried on the next upstream.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::*;
use gateway::{Cause, Side};

const FAST: &str = "    health: {interval: 50ms, timeout: 300ms, rise: 2, fall: 2}\n";

fn health_of(gw: &gateway::GatewayHandle, addr: SocketAddr) -> String {
    gstats(gw)
        .upstream(&addr.to_string())
        .map(|u| u.health.clone())
        .unwrap_or_default()
}

fn tags_through(addr: SocketAddr, n: usize) -> Vec<Option<char>> {
    (0..n)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            tag_of(&mut s)
        })
        .collect()
}

#[test]
fn active_tcp_check_takes_a_dead_upstream_out_and_readmits_it() {
    let a = Backend::start(Behaviour::Tagged("a".into()));
    let b = Backend::start(Behaviour::Tagged("b".into()));
    let b_addr = b.addr;
    let gw = start(&one_gateway(FAST, &[a.addr, b_addr]));
    let addr = addr_of(&gw, "g");
    drop(b);
    assert!(wait_until(Duration::from_secs(5), || health_of(
        &gw, b_addr
    ) == "down"));
    assert!(tags_through(addr, 10).iter().all(|t| *t == Some('a')));
    let _b = Backend::start_on(b_addr, Behaviour::Tagged("b".into()));
    assert!(wait_until(Duration::from_secs(5), || health_of(
        &gw, b_addr
    ) == "up"));
    let seen = tags_through(addr, 10);
    assert!(
        seen.contains(&Some('b')),
        "re-admitted upstream gets traffic again: {seen:?}"
    );
}

#[test]
fn http_check_expects_the_configured_status() {
    let good = Backend::start(Behaviour::Http(204));
    let bad = Backend::start(Behaviour::Http(500));
    let extra = "    health: {interval: 50ms, timeout: 500ms, rise: 1, fall: 1, http: {path: /hz, expect_status: 204}}\n";
    let gw = start(&one_gateway(extra, &[good.addr, bad.addr]));
    assert!(wait_until(Duration::from_secs(5), || health_of(
        &gw, bad.addr
    ) == "down"));
    assert_eq!(health_of(&gw, good.addr), "up");
    let st = gw.stats_blocking().unwrap();
    assert!(st.to_prometheus().contains(&format!(
        "commander_upstream_up{{gateway=\"g\",upstream=\"{}\"}} 0",
        bad.addr
    )));
}

#[test]
fn failed_connects_eject_passively_and_clients_never_notice() {
    let live = Backend::start(Behaviour::Tagged("a".into()));
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    // No active checks: only failed connects can eject; a long cool-down keeps it out.
    let extra = "    health: {enabled: false, fall: 2, interval: 1h}\n";
    let gw = start(&one_gateway_w(1, extra, &[dead_addr, live.addr]));
    let addr = addr_of(&gw, "g");
    let seen = tags_through(addr, 20);
    assert!(
        seen.iter().all(|t| *t == Some('a')),
        "retry hides the dead upstream: {seen:?}"
    );
    let st = gstats(&gw);
    let dead_stats = st.upstream(&dead_addr.to_string()).unwrap();
    assert_eq!(
        dead_stats.connect_failures, 2,
        "ejected after `fall` failures, then skipped"
    );
    assert_eq!(dead_stats.health, "down");
    assert_eq!(st.refused["connect_failed"], 0);
    // Counted by cause: the upstream's side, and retried.
    assert_eq!(st.errors_for(Cause::ConnectRefused), 2);
    assert_eq!(Cause::ConnectRefused.side(), Side::Upstream);
}

#[test]
fn passive_ejection_ends_after_the_cool_down_without_checks() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let live = Backend::start(Behaviour::Tagged("a".into()));
    let extra = "    health: {enabled: false, fall: 1, interval: 200ms}\n";
    let gw = start(&one_gateway(extra, &[dead_addr, live.addr]));
    let addr = addr_of(&gw, "g");
    let _ = tags_through(addr, 4);
    assert!(wait_until(Duration::from_secs(2), || health_of(
        &gw, dead_addr
    ) == "down"));
    assert!(wait_until(Duration::from_secs(5), || health_of(
        &gw, dead_addr
    ) == "up"));
}

/// A listener whose accept queue is full drops SYNs, so connects to it hang.
fn black_hole() -> (socket2::Socket, Vec<std::net::TcpStream>, SocketAddr) {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    s.listen(0).unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    let mut fill = Vec::new();
    for _ in 0..2 {
        // The first fills the queue; a second one already hangs.
        if let Ok(c) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            fill.push(c);
        }
    }
    assert!(!fill.is_empty());
    (s, fill, addr)
}

#[test]
fn connect_timeout_retries_on_the_next_upstream() {
    let (_hole, _fill, hole_addr) = black_hole();
    let live = Backend::start(Behaviour::Tagged("a".into()));
    let extra =
        "    connect_timeout: 200ms\n    retries: 1\n    health: {enabled: false, fall: 100}\n";
    let yaml = one_gateway_w(1, extra, &[hole_addr, live.addr]);
    let gw = start(&yaml);
    let started = std::time::Instant::now();
    let seen = tags_through(addr_of(&gw, "g"), 2);
    assert_eq!(seen, vec![Some('a'), Some('a')]);
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "one attempt timed out"
    );
    let st = gstats(&gw);
    assert_eq!(
        st.upstream(&hole_addr.to_string())
            .unwrap()
            .connect_failures,
        1
    );
    assert_eq!(st.errors_for(Cause::ConnectTimeout), 1);
}

#[test]
fn all_upstreams_down_refuses_and_counts() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let gw = start(&one_gateway_w(
        1,
        "    health: {enabled: false, fall: 1, interval: 1h}\n",
        &[dead_addr],
    ));
    let addr = addr_of(&gw, "g");
    assert_eq!(tags_through(addr, 3), vec![None, None, None]);
    let st = gstats(&gw);
    assert_eq!(st.refused["connect_failed"], 1);
    assert_eq!(st.refused["no_upstream"], 2);
    assert_eq!(st.errors_for(Cause::ConnectRefused), 1);
    assert_eq!(st.errors_for(Cause::NoUpstream), 2);
}
