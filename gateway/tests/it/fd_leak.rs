//! No descriptor or task leak: thousands of connections (clean, abrupt, bulk, refused)
//! through the gateway, then the process's open descriptor count must come back to its
//! baseline, and to the pre-start count once the gateway is shut down, for every relay
//! strategy. The measurement runs in a child process of its own, so that no other test's
//! sockets disturb the count.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::common::*;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(usize::MAX)
}

const THREADS: usize = 8;
const PER_THREAD: usize = 400;

fn hammer(addr: SocketAddr, refused: SocketAddr) {
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    match (t + i) % 10 {
                        0 => {
                            // Abrupt: send and drop without reading.
                            let mut s = TcpStream::connect(addr).unwrap();
                            let _ = s.write_all(&[7u8; 3000]);
                        }
                        1 => drop(TcpStream::connect(addr).unwrap()),
                        2 => {
                            let back = round_trip(addr, &vec![1u8; 300_000]).unwrap();
                            assert_eq!(back.len(), 300_000);
                        }
                        3 => {
                            let mut s = TcpStream::connect(refused).unwrap();
                            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                            let mut b = Vec::new();
                            let _ = s.read_to_end(&mut b);
                            assert!(b.is_empty());
                        }
                        _ => assert_eq!(round_trip(addr, b"ping").unwrap(), b"ping"),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

fn run(io_uring: bool, relay: &str) {
    let before = open_fds();
    let backend = Backend::start(Behaviour::Echo);
    let yaml = format!(
        "io_uring: {io_uring}\nworkers: 2\ngateways:\n  - name: g\n    listen: 127.0.0.1:0\n    upstreams: [\"{}\"]\n    health: {{enabled: false}}\n    relay: {relay}\n  - name: closed\n    listen: 127.0.0.1:0\n    upstreams: [\"{}\"]\n    deny: [127.0.0.0/8]\n    health: {{enabled: false}}\n",
        backend.addr, backend.addr
    );
    let gw = start(&yaml);
    let (addr, refused) = (addr_of(&gw, "g"), addr_of(&gw, "closed"));
    let per_run = (THREADS * PER_THREAD * 9 / 10) as u64;
    // Every connection of `runs` runs accepted (a client may be done before the gateway has
    // accepted its connection from the backlog) and none open.
    let idle = |runs: u64| {
        let st = gw.stats_blocking().unwrap();
        let g = st.gateway("g").unwrap();
        let refused_acl = st.gateway("closed").unwrap().refused["acl"];
        g.active == 0
            && g.total == runs * per_run
            && refused_acl == runs * (THREADS * PER_THREAD / 10) as u64
    };

    hammer(addr, refused); // warm-up: fills the pipe pools
    assert!(wait_until(Duration::from_secs(10), || idle(1)));
    let warm = open_fds();

    hammer(addr, refused);
    assert!(
        wait_until(Duration::from_secs(10), || idle(2)),
        "connections left open or not accepted"
    );
    // Pooled pipes may grow a little past the warm-up (at most 2 fds per concurrently
    // spliced direction); a per-connection leak would be thousands.
    let slack = THREADS * 2 * 2 * 2;
    assert!(
        wait_until(Duration::from_secs(10), || open_fds() <= warm + slack),
        "{} fds open after {} connections, {warm} after warm-up ({relay})",
        open_fds(),
        THREADS * PER_THREAD
    );
    let st = gw.stats_blocking().unwrap();
    let g = st.gateway("g").unwrap();
    assert_eq!(g.total, 2 * per_run);
    assert_eq!(
        st.gateway("closed").unwrap().refused["acl"],
        2 * (THREADS * PER_THREAD / 10) as u64
    );

    gw.shutdown(Duration::from_secs(1));
    drop(gw);
    drop(backend);
    assert!(
        wait_until(Duration::from_secs(10), || open_fds() <= before),
        "{} fds open after shutdown, {before} before start ({}, {relay})",
        open_fds(),
        if io_uring { "io_uring" } else { "legacy" }
    );
}

/// Set in the process that runs the measurement.
const CHILD_ENV: &str = "COMMANDER_GATEWAY_FD_LEAK_CHILD";
/// This test's path inside the test binary.
const THIS_TEST: &str = "fd_leak::thousands_of_connections_leave_no_descriptor_behind";

/// The descriptor count is the process's, and the other tests of this binary run in parallel
/// threads of the same process; so the measurement runs in a process of its own: this test
/// binary again, told to run only this test.
#[test]
fn thousands_of_connections_leave_no_descriptor_behind() {
    if std::env::var_os(CHILD_ENV).is_some() {
        // `auto` (the hybrid) is the one that creates descriptor duplicates and pipes mid-way.
        for relay in ["auto", "copy", "splice"] {
            run(true, relay);
        }
        run(false, "auto");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([THIS_TEST, "--exact", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the measuring process failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
