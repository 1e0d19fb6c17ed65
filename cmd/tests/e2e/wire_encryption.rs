//! Captures every byte between a real slave and a real master (through a recording relay)
//! and checks that none of the plaintext the slave sends (its host name, OS name, kernel
//! release, the join secret) appears on the wire, while the session still works.

// Test helpers outside #[test] functions may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::cluster::*;
use e2e::wait_for;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn pump(mut from: TcpStream, mut to: TcpStream, log: Arc<Mutex<Vec<u8>>>) {
    let mut buf = [0u8; 16384];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
        log.lock().unwrap().extend_from_slice(&buf[..n]);
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Accepts connections and relays each to `target`, recording both directions.
fn recording_relay(
    target: std::net::SocketAddr,
) -> anyhow::Result<(std::net::SocketAddr, Arc<Mutex<Vec<u8>>>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let l2 = Arc::clone(&log);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(target) else {
                continue;
            };
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (a, b) = (Arc::clone(&l2), Arc::clone(&l2));
            std::thread::spawn(move || pump(client, server, a));
            std::thread::spawn(move || pump(s2, c2, b));
        }
    });
    Ok((addr, log))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_plaintext_on_the_wire() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let mdir = tmp.path().join("master");
    let config = write_config(tmp.path(), "")?;
    let master = start_master(&mdir, &config, 0, &[])?;
    let (relay, log) = recording_relay(master.tcp)?;
    let sdir = tmp.path().join("s");
    let _slave = start_slave(
        "slave",
        &sdir,
        Some(&master.token),
        Some(&relay.to_string()),
        &[],
    )?;
    let id = wait_for("enrolled", Duration::from_secs(30), || {
        node_id_of(&sdir).ok()
    })?;
    let list = wait_for("online with metrics", Duration::from_secs(30), || {
        let list = nodes(master.http).ok()?;
        online_with_metrics(&list, id).then_some(list)
    })?;
    let n = node(&list, id).unwrap();
    // Let a few heartbeats cross the relay.
    let seen = log.lock().unwrap().len();
    wait_for("more traffic", Duration::from_secs(10), || {
        (log.lock().unwrap().len() > seen + 500).then_some(())
    })?;
    let wire = log.lock().unwrap().clone();
    assert!(wire.len() > 1000, "captured {} bytes", wire.len());

    let secret = protocol_secret(&master.token);
    let mut plaintexts: Vec<Vec<u8>> = vec![secret];
    for key in ["hostname", "os", "kernel", "cpu_model"] {
        let v = n["host"][key].as_str().unwrap_or_default();
        if v.len() >= 4 {
            plaintexts.push(v.as_bytes().to_vec());
        }
    }
    assert!(
        plaintexts.len() >= 3,
        "enough known plaintext to look for: {n}"
    );
    for p in &plaintexts {
        assert!(
            !contains(&wire, p),
            "plaintext {:?} found on the wire",
            String::from_utf8_lossy(p)
        );
    }
    Ok(())
}

/// The raw 32-byte secret inside a join token (base64url after "cmdr1.", bytes 32..64).
fn protocol_secret(token: &str) -> Vec<u8> {
    let body = token.strip_prefix("cmdr1.").unwrap();
    let raw = base64_url_decode(body);
    raw[32..64].to_vec()
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("bad base64url"),
        }
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        acc = (acc << 6) | val(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
