//! Binding one SO_REUSEPORT listening socket per worker for a gateway (precommit stage).

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Listen backlog asked of the kernel (capped by `net.core.somaxconn`).
pub const BACKLOG: i32 = 4096;

/// Binds `n` sockets to `addr` with SO_REUSEPORT; when `addr` has port 0 the first socket's
/// port is used for the others. Returns the sockets and the bound address.
pub fn reuseport_listeners(
    addr: SocketAddr,
    n: usize,
) -> io::Result<(Vec<TcpListener>, SocketAddr)> {
    let mut out = Vec::with_capacity(n);
    let mut bound = addr;
    for _ in 0..n.max(1) {
        let l = bind_one(bound)?;
        bound = l.local_addr()?;
        out.push(l);
    }
    Ok((out, bound))
}

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    // Accepted sockets inherit TCP_NODELAY from the listener (the worker relies on it).
    s.set_tcp_nodelay(true)?;
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    Ok(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_binds_every_socket_to_one_port() {
        let (ls, addr) = reuseport_listeners("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        assert_eq!(ls.len(), 3);
        assert_ne!(addr.port(), 0);
        for l in &ls {
            assert_eq!(l.local_addr().unwrap(), addr);
        }
    }

    #[test]
    fn accepted_sockets_inherit_nodelay() {
        let (ls, addr) = reuseport_listeners("127.0.0.1:0".parse().unwrap(), 1).unwrap();
        let _c = std::net::TcpStream::connect(addr).unwrap();
        let (a, _) = ls[0].accept().unwrap();
        assert!(a.nodelay().unwrap());
    }

    #[test]
    fn a_port_held_without_reuseport_is_an_error() {
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = plain.local_addr().unwrap();
        assert!(reuseport_listeners(addr, 2).is_err());
    }
}
