//! Dialling the master with socket options that notice a dead path quickly: TCP keepalive
//! and `TCP_USER_TIMEOUT`, so a partitioned slave drops its session (and reconnects with
//! backoff) within [`USER_TIMEOUT`] instead of the kernel's default of many minutes.

use socket2::{Domain, Protocol, SockAddr, Socket, TcpKeepalive, Type};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// How long sent data may stay unacknowledged before the kernel gives up on the connection.
pub const USER_TIMEOUT: Duration = Duration::from_secs(20);
/// Connect timeout per resolved address.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Resolves `addr` (`host:port`) and connects to the first address that answers. Blocking:
/// the agent has nothing else to do until it is connected.
pub fn dial(addr: &str) -> io::Result<monoio::net::TcpStream> {
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        format!("{addr} resolves to nothing"),
    );
    for sa in addr.to_socket_addrs()? {
        match dial_one(sa) {
            Ok(s) => return monoio::net::TcpStream::from_std(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn dial_one(sa: SocketAddr) -> io::Result<std::net::TcpStream> {
    let domain = if sa.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let sock = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    sock.set_tcp_nodelay(true)?;
    let keepalive = TcpKeepalive::new()
        .with_time(Duration::from_secs(15))
        .with_interval(Duration::from_secs(5))
        .with_retries(3);
    sock.set_tcp_keepalive(&keepalive)?;
    sock.set_tcp_user_timeout(Some(USER_TIMEOUT))?;
    sock.connect_timeout(&SockAddr::from(sa), CONNECT_TIMEOUT)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dials_a_listener_and_reports_refusal() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async {
            assert!(dial(&addr).is_ok());
        });
        drop(l);
        assert!(dial(&addr).is_err());
        assert!(dial("no-port").is_err());
    }
}
