//! Unit tests of the balancers.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::*;

#[derive(Debug, Clone)]
struct Up {
    weight: u32,
    ok: bool,
    active: u64,
}

impl UpstreamView for Up {
    fn weight(&self) -> u32 {
        self.weight
    }
    fn eligible(&self) -> bool {
        self.ok
    }
    fn active(&self) -> u64 {
        self.active
    }
}

fn ups(weights: &[u32]) -> Vec<Up> {
    weights
        .iter()
        .map(|&weight| Up {
            weight,
            ok: true,
            active: 0,
        })
        .collect()
}

fn addrs(n: usize) -> Vec<(SocketAddr, u32)> {
    (0..n)
        .map(|i| (SocketAddr::from(([10, 0, 0, i as u8 + 1], 80)), 1))
        .collect()
}

const C: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn client(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
}

#[test]
fn round_robin_rotates_evenly() {
    let u = ups(&[1, 1, 1]);
    let mut b = Balancer::new(Algorithm::RoundRobin, &addrs(3));
    let seq: Vec<_> = (0..6).map(|_| b.pick(&u, C, &[]).unwrap()).collect();
    assert_eq!(seq, vec![0, 1, 2, 0, 1, 2]);
}

#[test]
fn round_robin_honours_weights_smoothly() {
    let u = ups(&[5, 1, 1]);
    let mut b = Balancer::new(Algorithm::RoundRobin, &addrs(3));
    let seq: Vec<_> = (0..7).map(|_| b.pick(&u, C, &[]).unwrap()).collect();
    assert_eq!(seq.iter().filter(|&&i| i == 0).count(), 5);
    assert_eq!(seq, vec![0, 0, 1, 0, 2, 0, 0], "nginx's smooth sequence");
}

#[test]
fn round_robin_skips_ineligible_and_tried() {
    let mut u = ups(&[1, 1, 1]);
    u[1].ok = false;
    let mut b = Balancer::new(Algorithm::RoundRobin, &addrs(3));
    for _ in 0..10 {
        assert_ne!(b.pick(&u, C, &[]), Some(1));
    }
    assert_eq!(b.pick(&u, C, &[0]), Some(2));
    assert_eq!(b.pick(&u, C, &[0, 2]), None);
    u.iter_mut().for_each(|x| x.ok = false);
    assert_eq!(b.pick(&u, C, &[]), None);
    assert_eq!(b.pick::<Up>(&[], C, &[]), None);
}

#[test]
fn least_conn_prefers_fewest_per_weight() {
    let mut u = ups(&[1, 1, 2]);
    u[0].active = 3;
    u[1].active = 1;
    u[2].active = 3; // 1.5 per weight unit
    let mut b = Balancer::new(Algorithm::LeastConn, &addrs(3));
    assert_eq!(b.pick(&u, C, &[]), Some(1));
    u[1].active = 2;
    assert_eq!(b.pick(&u, C, &[]), Some(2));
    assert_eq!(b.pick(&u, C, &[2]), Some(1));
    u[1].ok = false;
    assert_eq!(b.pick(&u, C, &[2]), Some(0));
}

#[test]
fn least_conn_ties_rotate() {
    let u = ups(&[1, 1, 1]);
    let mut b = Balancer::new(Algorithm::LeastConn, &addrs(3));
    let mut seen = [0; 3];
    for _ in 0..30 {
        seen[b.pick(&u, C, &[]).unwrap()] += 1;
    }
    assert_eq!(seen, [10, 10, 10]);
}

#[test]
fn hash_is_stable_for_a_client() {
    let u = ups(&[1, 1, 1, 1]);
    let mut a = Balancer::new(Algorithm::Hash, &addrs(4));
    let mut b = Balancer::new(Algorithm::Hash, &addrs(4));
    for i in 0..200 {
        let x = a.pick(&u, client(i), &[]);
        assert_eq!(x, a.pick(&u, client(i), &[]));
        assert_eq!(x, b.pick(&u, client(i), &[]), "same ring in another worker");
    }
}

fn mapping(n: usize, clients: u32) -> Vec<usize> {
    let a = addrs(n);
    let u = ups(&vec![1; n]);
    let mut b = Balancer::new(Algorithm::Hash, &a);
    (0..clients)
        .map(|i| b.pick(&u, client(i), &[]).unwrap())
        .collect()
}

#[test]
fn hash_spreads_and_moves_few_keys_when_an_upstream_is_added() {
    let clients = 10_000;
    let four = mapping(4, clients);
    let mut counts = HashMap::new();
    four.iter()
        .for_each(|&i| *counts.entry(i).or_insert(0) += 1);
    for c in counts.values() {
        assert!((1800..=3200).contains(c), "uneven spread {counts:?}");
    }
    let five = mapping(5, clients);
    let moved = four.iter().zip(&five).filter(|(a, b)| a != b).count();
    // Ideal is 1/5 of the keys; every moved key must go to the new upstream.
    assert!(moved < clients as usize * 3 / 10, "moved {moved}");
    assert!(four.iter().zip(&five).all(|(a, b)| a == b || *b == 4));
}

#[test]
fn hash_moves_only_the_down_upstreams_keys() {
    let a = addrs(4);
    let mut u = ups(&[1; 4]);
    let mut b = Balancer::new(Algorithm::Hash, &a);
    let before: Vec<_> = (0..2000)
        .map(|i| b.pick(&u, client(i), &[]).unwrap())
        .collect();
    u[2].ok = false;
    let after: Vec<_> = (0..2000)
        .map(|i| b.pick(&u, client(i), &[]).unwrap())
        .collect();
    for (x, y) in before.iter().zip(&after) {
        if *x != 2 {
            assert_eq!(x, y);
        } else {
            assert_ne!(*y, 2);
        }
    }
    assert_eq!(b.pick(&u, client(1), &[0, 1, 3]), None);
}

#[test]
fn hash_honours_weights() {
    let mut a = addrs(2);
    a[0].1 = 3;
    let u = vec![
        Up {
            weight: 3,
            ok: true,
            active: 0,
        },
        Up {
            weight: 1,
            ok: true,
            active: 0,
        },
    ];
    let mut b = Balancer::new(Algorithm::Hash, &a);
    let heavy = (0..8000)
        .filter(|&i| b.pick(&u, client(i), &[]) == Some(0))
        .count();
    assert!(
        (5200..=6800).contains(&heavy),
        "{heavy} of 8000 on the weight-3 upstream"
    );
}

#[test]
fn mapped_v6_clients_hash_like_v4() {
    let v4: IpAddr = "10.1.2.3".parse().unwrap();
    let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
    assert_eq!(hash_ip(v4), hash_ip(mapped));
}
