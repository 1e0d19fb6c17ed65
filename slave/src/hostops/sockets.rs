//! Sockets in use ("ports in use"): TCP and UDP over IPv4 and IPv6 from `/proc/net`, with
//! the owning process found through each process's file descriptors (`socket:[inode]`).
//! Processes of other users are visible only when the slave runs as root.

use super::proc_error;
use procfs::net::{TcpState, UdpState};
use procfs::process::FDTarget;
use protocol::ops::OpError;
use protocol::ops::host::{SocketInfo, SocketProto, SocketQuery};
use std::collections::HashMap;
use std::net::SocketAddr;

/// Socket inode → (pid, command name), for every process whose descriptors are readable.
pub fn inode_owners(only_pid: Option<u32>) -> HashMap<u64, (u32, String)> {
    let mut owners = HashMap::new();
    let Ok(all) = procfs::process::all_processes() else {
        return owners;
    };
    for p in all.flatten() {
        let Ok(pid) = u32::try_from(p.pid()) else {
            continue;
        };
        if only_pid.is_some_and(|o| o != pid) {
            continue;
        }
        let Ok(fds) = p.fd() else {
            continue;
        };
        let name = p.stat().map(|s| s.comm).unwrap_or_default();
        for fd in fds.flatten() {
            if let FDTarget::Socket(inode) = fd.target {
                owners.entry(inode).or_insert_with(|| (pid, name.clone()));
            }
        }
    }
    owners
}

/// A TCP state as `ss` names it.
pub fn tcp_state_name(s: &TcpState) -> &'static str {
    match s {
        TcpState::Established => "ESTABLISHED",
        TcpState::SynSent => "SYN_SENT",
        TcpState::SynRecv => "SYN_RECV",
        TcpState::FinWait1 => "FIN_WAIT1",
        TcpState::FinWait2 => "FIN_WAIT2",
        TcpState::TimeWait => "TIME_WAIT",
        TcpState::Close => "CLOSE",
        TcpState::CloseWait => "CLOSE_WAIT",
        TcpState::LastAck => "LAST_ACK",
        TcpState::Listen => "LISTEN",
        TcpState::Closing => "CLOSING",
        TcpState::NewSynRecv => "NEW_SYN_RECV",
    }
}

struct Raw {
    proto: SocketProto,
    state: &'static str,
    local: SocketAddr,
    remote: SocketAddr,
    uid: u32,
    inode: u64,
}

/// Whether a socket in `state` belongs in the answer to `q`.
pub fn wanted(state: &str, q: &SocketQuery) -> bool {
    match state {
        "LISTEN" | "UNCONN" => q.listening,
        "ESTABLISHED" => q.established,
        _ => false,
    }
}

fn read_all() -> Result<Vec<Raw>, OpError> {
    let mut out = Vec::new();
    for (proto, table) in [
        (SocketProto::Tcp, procfs::net::tcp()),
        (SocketProto::Tcp6, procfs::net::tcp6()),
    ] {
        // A host without IPv6 has no tcp6 table; only the IPv4 table is required.
        let table = match table {
            Ok(t) => t,
            Err(e) if proto == SocketProto::Tcp => return Err(proc_error("/proc/net/tcp", e)),
            Err(_) => continue,
        };
        out.extend(table.into_iter().map(|e| Raw {
            proto,
            state: tcp_state_name(&e.state),
            local: e.local_address,
            remote: e.remote_address,
            uid: e.uid,
            inode: e.inode,
        }));
    }
    for (proto, table) in [
        (SocketProto::Udp, procfs::net::udp()),
        (SocketProto::Udp6, procfs::net::udp6()),
    ] {
        let Ok(table) = table else {
            continue;
        };
        out.extend(table.into_iter().map(|e| Raw {
            proto,
            state: match e.state {
                UdpState::Established => "ESTABLISHED",
                UdpState::Close => "UNCONN",
            },
            local: e.local_address,
            remote: e.remote_address,
            uid: e.uid,
            inode: e.inode,
        }));
    }
    Ok(out)
}

/// Sockets matching `q`, with owners; only those of `only_pid` when given. Sorted by
/// protocol, state and local port.
pub fn list(q: &SocketQuery, only_pid: Option<u32>) -> Result<Vec<SocketInfo>, OpError> {
    let owners = inode_owners(only_pid);
    let mut out: Vec<SocketInfo> = read_all()?
        .into_iter()
        .filter(|r| wanted(r.state, q))
        .filter_map(|r| {
            let owner = owners.get(&r.inode);
            if only_pid.is_some() && owner.is_none() {
                return None;
            }
            Some(SocketInfo {
                proto: r.proto,
                state: r.state.to_string(),
                local: r.local.to_string(),
                remote: r.remote.to_string(),
                pid: owner.map(|o| o.0),
                command: owner.map(|o| o.1.clone()),
                uid: r.uid,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        let port = |s: &str| s.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
        (a.proto as u8, &a.state, port(&a.local)).cmp(&(b.proto as u8, &b.state, port(&b.local)))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn filters_by_state() {
        let both = SocketQuery {
            listening: true,
            established: true,
        };
        assert!(wanted("LISTEN", &both) && wanted("UNCONN", &both));
        assert!(wanted("ESTABLISHED", &both) && !wanted("TIME_WAIT", &both));
        let listen = SocketQuery {
            listening: true,
            established: false,
        };
        assert!(!wanted("ESTABLISHED", &listen));
    }

    #[test]
    fn finds_our_listener_and_connection_with_owner() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (_server, _) = listener.accept().unwrap();
        let me = std::process::id();
        let q = SocketQuery {
            listening: true,
            established: true,
        };
        let all = list(&q, None).unwrap();
        let mine = all
            .iter()
            .find(|s| s.state == "LISTEN" && s.local == format!("127.0.0.1:{port}"))
            .unwrap_or_else(|| panic!("listener on {port} not found"));
        assert_eq!((mine.proto, mine.pid), (SocketProto::Tcp, Some(me)));
        assert!(mine.command.is_some());
        let local = client.local_addr().unwrap().to_string();
        let est = all
            .iter()
            .find(|s| s.state == "ESTABLISHED" && s.local == local)
            .unwrap();
        assert_eq!(est.pid, Some(me));
        let only_listening = SocketQuery {
            listening: true,
            established: false,
        };
        let ours = list(&only_listening, Some(me)).unwrap();
        assert!(
            ours.iter()
                .all(|s| s.pid == Some(me) && s.state != "ESTABLISHED")
        );
        assert!(ours.iter().any(|s| s.local.ends_with(&format!(":{port}"))));
    }
}
