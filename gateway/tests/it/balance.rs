//! Balancing through real sockets: round robin, weights, least connections and consistent
//! hashing on the client address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::common::*;

fn yaml(workers: usize, extra: &str, ups: &[String]) -> String {
    format!(
        "workers: {workers}\ngateways:\n  - name: g\n    listen: 127.0.0.1:0\n    upstreams: [{}]\n    health: {{enabled: false}}\n{extra}",
        ups.join(", ")
    )
}

fn plain(bs: &[Backend]) -> Vec<String> {
    bs.iter().map(|b| format!("\"{}\"", b.addr)).collect()
}

fn tags(addr: SocketAddr, n: usize) -> Vec<char> {
    (0..n)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            tag_of(&mut s).unwrap()
        })
        .collect()
}

#[test]
fn round_robin_rotates_in_order() {
    let bs = tagged("abc");
    let gw = start(&yaml(1, "", &plain(&bs)));
    let seq: String = tags(addr_of(&gw, "g"), 9).into_iter().collect();
    assert_eq!(seq, "abcabcabc");
}

#[test]
fn round_robin_over_two_workers_stays_even() {
    let bs = tagged("abc");
    let gw = start(&yaml(2, "", &plain(&bs)));
    let mut count = HashMap::new();
    for t in tags(addr_of(&gw, "g"), 60) {
        *count.entry(t).or_insert(0) += 1;
    }
    for t in ['a', 'b', 'c'] {
        let c = count.get(&t).copied().unwrap_or(0);
        assert!((18..=22).contains(&c), "{count:?}");
    }
}

#[test]
fn weights_shape_round_robin() {
    let bs = tagged("ab");
    let ups = vec![
        format!("{{addr: \"{}\", weight: 3}}", bs[0].addr),
        format!("\"{}\"", bs[1].addr),
    ];
    let gw = start(&yaml(1, "", &ups));
    let seq = tags(addr_of(&gw, "g"), 8);
    assert_eq!(seq.iter().filter(|&&t| t == 'a').count(), 6, "{seq:?}");
}

#[test]
fn least_conn_picks_the_idle_upstream() {
    let bs = tagged("ab");
    let gw = start(&yaml(1, "    algorithm: least_conn\n", &plain(&bs)));
    let addr = addr_of(&gw, "g");
    let mut first = std::net::TcpStream::connect(addr).unwrap();
    let busy = tag_of(&mut first).unwrap();
    // While `busy` holds a connection, every new short connection goes to the other one.
    for _ in 0..6 {
        assert_ne!(tags(addr, 1)[0], busy);
        // Let the short connection finish so only `first` counts.
        assert!(wait_until(Duration::from_secs(5), || gstats(&gw).active == 1));
    }
    drop(first);
    assert!(wait_until(Duration::from_secs(5), || gstats(&gw).active == 0));
    let mut x = std::net::TcpStream::connect(addr).unwrap();
    let mut y = std::net::TcpStream::connect(addr).unwrap();
    let (tx, ty) = (tag_of(&mut x).unwrap(), tag_of(&mut y).unwrap());
    assert_ne!(tx, ty, "two concurrent connections spread over both");
}

fn hashed(addr: SocketAddr, clients: u32) -> Vec<char> {
    (0..clients)
        .map(|i| {
            let src = format!("127.0.{}.{}", i / 200 + 1, i % 200 + 2);
            let mut s = connect_from(&src, addr).unwrap();
            tag_of(&mut s).unwrap()
        })
        .collect()
}

#[test]
fn hash_is_sticky_per_client_and_moves_few_clients_when_an_upstream_is_added() {
    let bs = tagged("abcd");
    let algo = "    algorithm: hash\n";
    let gw = start(&yaml(2, algo, &plain(&bs[..3])));
    let addr = addr_of(&gw, "g");
    let first = hashed(addr, 150);
    assert_eq!(
        first,
        hashed(addr, 150),
        "same client, same upstream, whichever worker"
    );
    for t in ['a', 'b', 'c'] {
        assert!(first.contains(&t), "spread over all upstreams");
    }
    let mut cfg = gateway::Config::from_yaml(&yaml(2, algo, &plain(&bs))).unwrap();
    cfg.gateways[0].listen = addr;
    gw.apply_blocking(cfg).unwrap();
    let after = hashed(addr, 150);
    let moved = first.iter().zip(&after).filter(|(x, y)| x != y).count();
    assert!(
        first.iter().zip(&after).all(|(x, y)| x == y || *y == 'd'),
        "only moves to d"
    );
    assert!(moved > 0 && moved < 75, "moved {moved} of 150");
}
