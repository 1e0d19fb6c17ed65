//! Why a proxied connection failed, classified the way pingora's `pingora_error` does it:
//! which side failed ([`Side`]: the client, an upstream, or the gateway itself) and whether
//! trying another upstream makes sense ([`ConnError::retryable`]).
//!
//! Every failure maps to one [`Cause`], a fixed label the statistics count per gateway
//! (`errors` in `/stats`, `commander_gateway_errors_total{side,cause}` in `/metrics`).
//!
//! | cause                 | side     | retry | when                                            |
//! |-----------------------|----------|-------|-------------------------------------------------|
//! | `no_upstream`         | upstream | no    | no upstream is eligible (all down or draining)  |
//! | `connect_refused`     | upstream | yes   | the upstream answered the SYN with a reset      |
//! | `connect_timeout`     | upstream | yes   | no answer within `connect_timeout`              |
//! | `connect_unreachable` | upstream | yes   | no route to the upstream's host or network      |
//! | `connect_error`       | upstream | yes   | any other error from the upstream's connect     |
//! | `local_resources`     | internal | no    | this host ran out of descriptors, ports, memory |
//! | `proxy_header`        | upstream | no    | the PROXY header could not be sent              |
//! | `client_read`         | client   | no    | reading from the client failed (e.g. reset)     |
//! | `client_write`        | client   | no    | writing to the client failed                    |
//! | `upstream_read`       | upstream | no    | reading from the upstream failed                |
//! | `upstream_write`      | upstream | no    | writing to the upstream failed                  |
//! | `relay_setup`         | internal | no    | pipes or socket modes for the relay failed      |
//!
//! Only failures before the first byte is relayed may be retried: after that the client has
//! seen data from one upstream and another cannot continue the stream.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::relay::{Peer, RelayError};

/// The side of a proxied connection a failure came from (pingora's `ErrorSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The client (pingora's downstream).
    Client,
    /// An upstream server.
    Upstream,
    /// The gateway itself (its host's resources, its own sockets and pipes).
    Internal,
}

impl Side {
    /// Label used in statistics.
    pub fn label(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Upstream => "upstream",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What the statistics count a failure as: one fixed label per kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// No eligible upstream was left to try.
    NoUpstream,
    /// The upstream refused the connection.
    ConnectRefused,
    /// The connect did not finish within the connect timeout.
    ConnectTimeout,
    /// No route to the upstream.
    ConnectUnreachable,
    /// Another connect error.
    ConnectError,
    /// This host lacked descriptors, local ports or memory.
    LocalResources,
    /// The PROXY protocol header could not be sent.
    ProxyHeader,
    /// Reading from the client failed.
    ClientRead,
    /// Writing to the client failed.
    ClientWrite,
    /// Reading from the upstream failed.
    UpstreamRead,
    /// Writing to the upstream failed.
    UpstreamWrite,
    /// The relay could not set up its pipes or socket modes.
    RelaySetup,
}

impl Cause {
    /// Every cause, in a fixed order.
    pub const ALL: [Cause; 12] = [
        Cause::NoUpstream,
        Cause::ConnectRefused,
        Cause::ConnectTimeout,
        Cause::ConnectUnreachable,
        Cause::ConnectError,
        Cause::LocalResources,
        Cause::ProxyHeader,
        Cause::ClientRead,
        Cause::ClientWrite,
        Cause::UpstreamRead,
        Cause::UpstreamWrite,
        Cause::RelaySetup,
    ];

    /// Label used in statistics.
    pub fn label(self) -> &'static str {
        match self {
            Self::NoUpstream => "no_upstream",
            Self::ConnectRefused => "connect_refused",
            Self::ConnectTimeout => "connect_timeout",
            Self::ConnectUnreachable => "connect_unreachable",
            Self::ConnectError => "connect_error",
            Self::LocalResources => "local_resources",
            Self::ProxyHeader => "proxy_header",
            Self::ClientRead => "client_read",
            Self::ClientWrite => "client_write",
            Self::UpstreamRead => "upstream_read",
            Self::UpstreamWrite => "upstream_write",
            Self::RelaySetup => "relay_setup",
        }
    }

    /// The side this cause belongs to.
    pub fn side(self) -> Side {
        match self {
            Self::LocalResources | Self::RelaySetup => Side::Internal,
            Self::ClientRead | Self::ClientWrite => Side::Client,
            Self::NoUpstream
            | Self::ConnectRefused
            | Self::ConnectTimeout
            | Self::ConnectUnreachable
            | Self::ConnectError
            | Self::ProxyHeader
            | Self::UpstreamRead
            | Self::UpstreamWrite => Side::Upstream,
        }
    }

    /// Position in [`Cause::ALL`] (the declaration order).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The cause with this label.
    pub fn from_label(label: &str) -> Option<Cause> {
        Self::ALL.into_iter().find(|c| c.label() == label)
    }
}

/// Why one proxied connection (or one attempt to reach an upstream for it) failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// Every upstream is down, draining or already tried.
    #[error("no upstream available")]
    NoUpstream,
    /// Connecting to an upstream failed.
    #[error("connect to {addr} failed: {source}")]
    Connect {
        /// The upstream.
        addr: SocketAddr,
        /// The system's answer.
        source: io::Error,
    },
    /// Connecting to an upstream took longer than the connect timeout.
    #[error("connect to {addr} timed out")]
    ConnectTimeout {
        /// The upstream.
        addr: SocketAddr,
    },
    /// The PROXY protocol header could not be written to the upstream (or the client's
    /// local address could not be read for it).
    #[error("PROXY header to {addr} failed: {source}")]
    ProxyHeader {
        /// The upstream.
        addr: SocketAddr,
        /// Cause.
        source: io::Error,
    },
    /// The relay between client and upstream ended with an error.
    #[error("relay with {addr}: {source}")]
    Relay {
        /// The upstream.
        addr: SocketAddr,
        /// Which socket failed and how.
        source: RelayError,
    },
}

impl ConnError {
    /// The kind of failure, as counted.
    pub fn cause(&self) -> Cause {
        match self {
            Self::NoUpstream => Cause::NoUpstream,
            Self::Connect { source, .. } => connect_cause(source),
            Self::ConnectTimeout { .. } => Cause::ConnectTimeout,
            Self::ProxyHeader { .. } => Cause::ProxyHeader,
            Self::Relay { source, .. } => match source {
                RelayError::Read {
                    peer: Peer::Client, ..
                } => Cause::ClientRead,
                RelayError::Write {
                    peer: Peer::Client, ..
                } => Cause::ClientWrite,
                RelayError::Read {
                    peer: Peer::Upstream,
                    ..
                } => Cause::UpstreamRead,
                RelayError::Write {
                    peer: Peer::Upstream,
                    ..
                } => Cause::UpstreamWrite,
                RelayError::Setup(_) => Cause::RelaySetup,
            },
        }
    }

    /// Which side failed.
    pub fn side(&self) -> Side {
        self.cause().side()
    }

    /// Whether trying another upstream for the same client makes sense: only for a failed
    /// connect that was the upstream's fault (nothing has been relayed yet). A failure of
    /// this host's resources would fail again on the next upstream.
    pub fn retryable(&self) -> bool {
        matches!(
            self.cause(),
            Cause::ConnectRefused
                | Cause::ConnectTimeout
                | Cause::ConnectUnreachable
                | Cause::ConnectError
        )
    }

    /// Whether the failure counts against the upstream's passive health (ejection after
    /// `fall` consecutive failed connects).
    pub fn counts_against_upstream(&self) -> bool {
        self.retryable()
    }
}

/// Classifies a connect error by its errno.
fn connect_cause(e: &io::Error) -> Cause {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => Cause::ConnectRefused,
        Some(libc::ETIMEDOUT) => Cause::ConnectTimeout,
        Some(libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EHOSTDOWN | libc::ENETDOWN) => {
            Cause::ConnectUnreachable
        }
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EADDRNOTAVAIL) => {
            Cause::LocalResources
        }
        _ => match e.kind() {
            io::ErrorKind::ConnectionRefused => Cause::ConnectRefused,
            io::ErrorKind::TimedOut => Cause::ConnectTimeout,
            _ => Cause::ConnectError,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "10.0.0.1:80".parse().unwrap()
    }

    fn connect(errno: i32) -> ConnError {
        ConnError::Connect {
            addr: addr(),
            source: io::Error::from_raw_os_error(errno),
        }
    }

    #[test]
    fn connect_failures_are_the_upstreams_and_retryable() {
        for (errno, cause) in [
            (libc::ECONNREFUSED, Cause::ConnectRefused),
            (libc::ETIMEDOUT, Cause::ConnectTimeout),
            (libc::EHOSTUNREACH, Cause::ConnectUnreachable),
            (libc::ENETUNREACH, Cause::ConnectUnreachable),
            (libc::ECONNRESET, Cause::ConnectError),
        ] {
            let e = connect(errno);
            assert_eq!(e.cause(), cause, "{e}");
            assert_eq!(e.side(), Side::Upstream, "{e}");
            assert!(e.retryable(), "{e}");
            assert!(e.counts_against_upstream(), "{e}");
        }
        let t = ConnError::ConnectTimeout { addr: addr() };
        assert_eq!(
            (t.cause(), t.side(), t.retryable()),
            (Cause::ConnectTimeout, Side::Upstream, true)
        );
    }

    #[test]
    fn local_resource_exhaustion_is_internal_and_not_retried() {
        for errno in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOBUFS,
            libc::EADDRNOTAVAIL,
        ] {
            let e = connect(errno);
            assert_eq!(e.cause(), Cause::LocalResources, "{e}");
            assert_eq!(e.side(), Side::Internal);
            assert!(!e.retryable());
            assert!(!e.counts_against_upstream());
        }
    }

    #[test]
    fn relay_failures_name_the_socket_and_are_final() {
        let relay = |source| ConnError::Relay {
            addr: addr(),
            source,
        };
        let err = || io::Error::from_raw_os_error(libc::ECONNRESET);
        let cases = [
            (
                RelayError::Read {
                    peer: Peer::Client,
                    source: err(),
                },
                Cause::ClientRead,
                Side::Client,
            ),
            (
                RelayError::Write {
                    peer: Peer::Client,
                    source: err(),
                },
                Cause::ClientWrite,
                Side::Client,
            ),
            (
                RelayError::Read {
                    peer: Peer::Upstream,
                    source: err(),
                },
                Cause::UpstreamRead,
                Side::Upstream,
            ),
            (
                RelayError::Write {
                    peer: Peer::Upstream,
                    source: err(),
                },
                Cause::UpstreamWrite,
                Side::Upstream,
            ),
            (
                RelayError::Setup(io::Error::from_raw_os_error(libc::EMFILE)),
                Cause::RelaySetup,
                Side::Internal,
            ),
        ];
        for (source, cause, side) in cases {
            let e = relay(source);
            assert_eq!((e.cause(), e.side()), (cause, side), "{e}");
            assert!(!e.retryable(), "{e}");
        }
        let p = ConnError::ProxyHeader {
            addr: addr(),
            source: err(),
        };
        assert_eq!(
            (p.cause(), p.side(), p.retryable()),
            (Cause::ProxyHeader, Side::Upstream, false)
        );
        let n = ConnError::NoUpstream;
        assert_eq!(
            (n.cause(), n.side(), n.retryable()),
            (Cause::NoUpstream, Side::Upstream, false)
        );
    }

    #[test]
    fn labels_are_unique_and_round_trip() {
        let mut labels: Vec<_> = Cause::ALL.iter().map(|c| c.label()).collect();
        for (i, c) in Cause::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
            assert_eq!(Cause::from_label(c.label()), Some(*c));
        }
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), Cause::ALL.len());
        assert_eq!(Cause::from_label("nope"), None);
        assert_eq!(Side::Client.to_string(), "client");
    }
}
