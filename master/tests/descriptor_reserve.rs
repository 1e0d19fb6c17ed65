//! The protocol endpoint leaves the last descriptors of the process to the rest of the
//! master (console, store, co-located slave), and the master raises the soft descriptor
//! limit at start (issue 11, finding 4).
//!
//! Its own test executable, because it lowers this process's soft `RLIMIT_NOFILE`: to
//! 240 above the highest descriptor in use, with a reserve of 100. Silent connections are
//! opened one at a time until 50 have been refused; the endpoint closes every one whose descriptor falls into the
//! reserve, and this side then drops its end too, so that only connections the endpoint
//! keeps stay open. Afterwards the process can still open 90 files. Without the reserve
//! the endpoint takes descriptors until the process has none left (`EMFILE`).

#![allow(clippy::unwrap_used)]

use master::endpoint::nofile::{raise_soft_limit, set_soft_limit, soft_limit};
use master::endpoint::{CloseCause, ConnLimits, EndpointConfig, start};
use protocol::StaticKeys;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

const HEADROOM: u64 = 240;
const RESERVE: u64 = 100;
/// Files opened after the attack to prove the reserve is there.
const FILES_AFTER: usize = 90;
/// Refusals to see before stopping.
const REFUSALS: u64 = 50;

fn highest_fd() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap()
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn fill_up_to_the_reserve(io_uring: Option<bool>) {
    let original = soft_limit();
    let lowered = highest_fd() + HEADROOM;
    set_soft_limit(lowered).unwrap();
    let (events, _control) = async_channel::bounded(16);
    let config = EndpointConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        cores: 1,
        io_uring,
        limits: ConnLimits {
            handshake_timeout: Duration::from_secs(60),
            max_unauthenticated: 10_000,
            max_unauthenticated_per_address: 10_000,
            descriptor_reserve: RESERVE,
            ..ConnLimits::default()
        },
    };
    let ep = start(&config, Arc::new(StaticKeys::generate().unwrap()), events).unwrap();
    assert_eq!(ep.descriptors.ceiling(), lowered - RESERVE);
    let counters = Arc::clone(&ep.counters);
    let mut kept: Vec<TcpStream> = Vec::new();
    let mut refused = 0u64;
    // Each kept connection costs two descriptors here (both ends), filling the free numbers
    // below the ceiling; continue until the endpoint has refused REFUSALS of them.
    let mut i = 0;
    while refused < REFUSALS {
        i += 1;
        assert!(i <= lowered, "{i} connections and still no refusals");
        let stream = TcpStream::connect(ep.local_addr)
            .unwrap_or_else(|e| panic!("connection {i}: {e} (descriptors exhausted?)"));
        wait_for("the connection is accepted", || {
            counters.accepted.load(Relaxed) == i
        });
        if counters.closes(CloseCause::DescriptorReserve) > refused {
            refused += 1;
            drop(stream);
        } else {
            kept.push(stream);
        }
    }
    eprintln!(
        "{:?}: soft limit {lowered}, kept {}, refused {refused}",
        ep.runtime,
        kept.len()
    );
    assert!(!kept.is_empty());
    assert!(2 * kept.len() as u64 <= ep.descriptors.ceiling());
    // The reserve is intact: the rest of the process can still open files.
    let files: Vec<_> = (0..FILES_AFTER)
        .map(|i| {
            std::fs::File::open("/dev/null")
                .unwrap_or_else(|e| panic!("file {i} after the attack: {e}"))
        })
        .collect();
    drop(files);
    drop(kept);
    ep.shutdown();
    set_soft_limit(original).unwrap();
}

#[test]
fn the_endpoint_keeps_a_descriptor_reserve_and_the_soft_limit_is_raised() {
    for io_uring in [Some(false), None] {
        fill_up_to_the_reserve(io_uring);
    }
    // The master raises the soft limit to the hard one (capped at 2^20) at start.
    set_soft_limit(highest_fd() + HEADROOM).unwrap();
    let raised = raise_soft_limit().unwrap();
    assert!(raised.after > raised.before);
    assert_eq!(
        raised.after,
        raised.hard.min(master::endpoint::nofile::MAX_SOFT_LIMIT)
    );
    assert_eq!(soft_limit(), raised.after);
    // Raising again changes nothing.
    let again = raise_soft_limit().unwrap();
    assert_eq!((again.before, again.after), (raised.after, raised.after));
}
