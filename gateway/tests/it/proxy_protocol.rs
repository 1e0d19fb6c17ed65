//! PROXY protocol v1/v2 towards upstreams: the backend sees the real client and the
//! gateway address before the client's bytes, which follow untouched.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use crate::common::*;

fn through(version: &str) -> (Vec<u8>, std::net::SocketAddr, std::net::SocketAddr, Vec<u8>) {
    let b = Backend::start(Behaviour::Capture);
    let extra = format!("    proxy_protocol: {version}\n    health: {{enabled: false}}\n");
    let gw = start(&one_gateway(&extra, &[b.addr]));
    let addr = addr_of(&gw, "g");
    let mut c = connect_from("127.0.0.9", addr).unwrap();
    let client = c.local_addr().unwrap();
    c.write_all(b"payload").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    c.read_to_end(&mut back).unwrap();
    assert!(wait_until(Duration::from_secs(5), || !b
        .captured
        .lock()
        .unwrap()
        .is_empty()));
    let header = b.captured.lock().unwrap()[0].clone();
    (header, client, addr, back)
}

#[test]
fn v1_header_names_the_client() {
    let (header, client, gw, back) = through("v1");
    let expect = format!(
        "PROXY TCP4 {} {} {} {}\r\n",
        client.ip(),
        gw.ip(),
        client.port(),
        gw.port()
    );
    assert_eq!(String::from_utf8(header).unwrap(), expect);
    assert_eq!(back, b"payload");
}

#[test]
fn v2_header_names_the_client() {
    let (header, client, gw, back) = through("v2");
    assert_eq!(header.len(), 28);
    assert_eq!(&header[12..16], &[0x21, 0x11, 0, 12]);
    assert_eq!(&header[16..20], &[127, 0, 0, 9]);
    assert_eq!(
        header[20..24],
        match gw.ip() {
            std::net::IpAddr::V4(v4) => v4.octets(),
            _ => unreachable!(),
        }
    );
    assert_eq!(u16::from_be_bytes([header[24], header[25]]), client.port());
    assert_eq!(u16::from_be_bytes([header[26], header[27]]), gw.port());
    assert_eq!(back, b"payload");
}

#[test]
fn health_checks_send_a_local_header() {
    let b = Backend::start(Behaviour::Capture);
    let extra = "    proxy_protocol: v1\n    health: {interval: 50ms}\n";
    let _gw = start(&one_gateway(extra, &[b.addr]));
    assert!(wait_until(Duration::from_secs(5), || !b
        .captured
        .lock()
        .unwrap()
        .is_empty()));
    assert_eq!(b.captured.lock().unwrap()[0], b"PROXY UNKNOWN\r\n");
}
