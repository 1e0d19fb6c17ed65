//! Why a slave connection ended, typed so that the endpoint can count closes by cause (see
//! [`super::EndpointCounters::closes`]) and logs can say which side failed and whether the
//! slave's reconnecting makes sense.
//!
//! A connection fails before its session is established with an [`EstablishFailure`]
//! (handshake, hello, verdict) and ends afterwards with a [`SessionEnd`]. Both map onto one
//! flat [`CloseCause`], the counting key, which knows its [`Side`] and its retry advice.

use protocol::{Reject, RejectReason, SessionError};
use std::io;
use thiserror::Error;

/// Which side of a connection caused its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The slave: it hung up, fell silent, sent something invalid or was refused.
    Slave,
    /// The master: it closed the session, or one of its parts failed or went away.
    Master,
    /// The network between them: a read or write on the socket failed.
    Network,
}

impl Side {
    /// A short name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slave => "slave",
            Self::Master => "master",
            Self::Network => "network",
        }
    }
}

/// The cause of a connection's end, without its details: the key closes are counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCause {
    /// The handshake, hello and verdict did not finish in time.
    HandshakeTimeout,
    /// The Noise handshake or the first frames were invalid.
    BadHandshake,
    /// The first message was not a hello, or came before the handshake ended.
    NoHello,
    /// The master refused the slave's credentials or protocol version.
    Refused,
    /// The master refused because it failed itself (its store, say).
    RefusedInternal,
    /// The slave hung up.
    ClosedBySlave,
    /// Nothing arrived for the idle timeout.
    IdleTimeout,
    /// The slave sent invalid data or a message it may not send.
    BadData,
    /// Reading from or writing to the socket failed.
    Io,
    /// The master closed the session (a newer session of the node, a revocation).
    ClosedByMaster,
    /// The master could not set up or encrypt its side of the session.
    Crypto,
    /// The master's control side is gone (shutting down) or gave no verdict.
    ControlGone,
    /// Before its hello was accepted, the peer sent a message or frame over the small
    /// pre-authentication limit (`protocol::session::PRE_AUTH_MESSAGE_LEN`).
    PreAuthTooLarge,
    /// Closed at once: too many unauthenticated connections (all addresses).
    UnauthenticatedCap,
    /// Closed at once: too many unauthenticated connections from the peer's address.
    AddressCap,
    /// Closed at once: the process is within its descriptor reserve.
    DescriptorReserve,
}

impl CloseCause {
    /// Every cause, in counting order.
    pub const ALL: [Self; 16] = [
        Self::HandshakeTimeout,
        Self::BadHandshake,
        Self::NoHello,
        Self::Refused,
        Self::RefusedInternal,
        Self::ClosedBySlave,
        Self::IdleTimeout,
        Self::BadData,
        Self::Io,
        Self::ClosedByMaster,
        Self::Crypto,
        Self::ControlGone,
        Self::PreAuthTooLarge,
        Self::UnauthenticatedCap,
        Self::AddressCap,
        Self::DescriptorReserve,
    ];

    /// The position of this cause in [`Self::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// A stable label for logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::HandshakeTimeout => "handshake_timeout",
            Self::BadHandshake => "bad_handshake",
            Self::NoHello => "no_hello",
            Self::Refused => "refused",
            Self::RefusedInternal => "refused_internal",
            Self::ClosedBySlave => "closed_by_slave",
            Self::IdleTimeout => "idle_timeout",
            Self::BadData => "bad_data",
            Self::Io => "io",
            Self::ClosedByMaster => "closed_by_master",
            Self::Crypto => "crypto",
            Self::ControlGone => "control_gone",
            Self::PreAuthTooLarge => "pre_auth_too_large",
            Self::UnauthenticatedCap => "unauthenticated_cap",
            Self::AddressCap => "address_cap",
            Self::DescriptorReserve => "descriptor_reserve",
        }
    }

    /// Which side caused it.
    pub fn side(self) -> Side {
        match self {
            Self::HandshakeTimeout
            | Self::BadHandshake
            | Self::NoHello
            | Self::Refused
            | Self::ClosedBySlave
            | Self::IdleTimeout
            | Self::BadData
            | Self::PreAuthTooLarge
            | Self::AddressCap => Side::Slave,
            Self::RefusedInternal
            | Self::ClosedByMaster
            | Self::Crypto
            | Self::ControlGone
            | Self::UnauthenticatedCap
            | Self::DescriptorReserve => Side::Master,
            Self::Io => Side::Network,
        }
    }

    /// Whether the slave's reconnecting can succeed without anyone changing anything: not
    /// after a refusal of its credentials or version, which only an operator can fix.
    pub fn retry_makes_sense(self) -> bool {
        !matches!(self, Self::Refused)
    }
}

/// A connection failed before its session was established.
#[derive(Debug, Error)]
pub enum EstablishFailure {
    /// The handshake, hello and verdict did not finish within the handshake timeout.
    #[error("handshake timed out")]
    TimedOut,
    /// The master could not create its side of the Noise session.
    #[error("cannot start the session: {0}")]
    Setup(#[source] SessionError),
    /// Reading from the socket failed.
    #[error("read: {0}")]
    Read(#[source] io::Error),
    /// Writing to the socket failed.
    #[error("write: {0}")]
    Write(#[source] io::Error),
    /// The slave hung up during the handshake.
    #[error("closed during handshake")]
    Closed,
    /// The handshake or a first frame was invalid.
    #[error("handshake failed: {0}")]
    Handshake(#[source] SessionError),
    /// The first message was not a hello.
    #[error("expected hello, got {0}")]
    NotHello(&'static str),
    /// A hello arrived before the handshake established the peer's key.
    #[error("hello before handshake")]
    HelloBeforeHandshake,
    /// The control side is gone (the master is shutting down) or dropped the question.
    #[error("control side is gone")]
    ControlGone,
    /// The welcome could not be encrypted.
    #[error("cannot send the welcome: {0}")]
    Welcome(#[source] SessionError),
    /// The control side refused the slave.
    #[error("{:?}: {}", .0.reason, .0.message)]
    Rejected(Reject),
}

impl EstablishFailure {
    /// The counting key.
    pub fn cause(&self) -> CloseCause {
        match self {
            Self::TimedOut => CloseCause::HandshakeTimeout,
            Self::Setup(_) | Self::Welcome(_) => CloseCause::Crypto,
            Self::Read(_) | Self::Write(_) => CloseCause::Io,
            Self::Closed => CloseCause::ClosedBySlave,
            Self::Handshake(SessionError::TooLarge(_)) => CloseCause::PreAuthTooLarge,
            Self::Handshake(_) => CloseCause::BadHandshake,
            Self::NotHello(_) | Self::HelloBeforeHandshake => CloseCause::NoHello,
            Self::ControlGone => CloseCause::ControlGone,
            Self::Rejected(r) if r.reason == RejectReason::Internal => CloseCause::RefusedInternal,
            Self::Rejected(_) => CloseCause::Refused,
        }
    }

    /// Which side caused it.
    pub fn side(&self) -> Side {
        self.cause().side()
    }

    /// Whether the slave's reconnecting makes sense (see [`CloseCause::retry_makes_sense`]).
    pub fn retry_makes_sense(&self) -> bool {
        self.cause().retry_makes_sense()
    }
}

/// Why an established session ended.
#[derive(Debug, Error)]
pub enum SessionEnd {
    /// Nothing arrived for the idle timeout.
    #[error("idle timeout")]
    IdleTimeout,
    /// The slave hung up.
    #[error("closed by peer")]
    ClosedByPeer,
    /// Reading from the socket failed.
    #[error("read: {0}")]
    Read(#[source] io::Error),
    /// Writing to (or flushing) the socket failed.
    #[error("write: {0}")]
    Write(#[source] io::Error),
    /// The slave started a second handshake inside its session.
    #[error("second handshake")]
    SecondHandshake,
    /// The slave sent a message only the master may send (or a second hello).
    #[error("unexpected {0} from slave")]
    Unexpected(&'static str),
    /// The slave's bytes did not decrypt or decode.
    #[error("bad data: {0}")]
    BadData(#[source] SessionError),
    /// The master could not encrypt a message for the slave.
    #[error("cannot encrypt: {0}")]
    Encrypt(#[source] SessionError),
    /// The master closed the session (a newer session of the node, a revocation).
    #[error("closed by master")]
    ClosedByMaster,
    /// The control side is gone (the master is shutting down).
    #[error("control side is gone")]
    ControlGone,
    /// The control side dropped the connection's outbound queue.
    #[error("control side dropped the connection")]
    Dropped,
}

impl SessionEnd {
    /// The counting key.
    pub fn cause(&self) -> CloseCause {
        match self {
            Self::IdleTimeout => CloseCause::IdleTimeout,
            Self::ClosedByPeer => CloseCause::ClosedBySlave,
            Self::Read(_) | Self::Write(_) => CloseCause::Io,
            Self::SecondHandshake | Self::Unexpected(_) | Self::BadData(_) => CloseCause::BadData,
            Self::Encrypt(_) => CloseCause::Crypto,
            Self::ClosedByMaster => CloseCause::ClosedByMaster,
            Self::ControlGone | Self::Dropped => CloseCause::ControlGone,
        }
    }

    /// Which side caused it.
    pub fn side(&self) -> Side {
        self.cause().side()
    }

    /// Whether the slave's reconnecting makes sense (see [`CloseCause::retry_makes_sense`]).
    pub fn retry_makes_sense(&self) -> bool {
        self.cause().retry_makes_sense()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(reason: RejectReason) -> EstablishFailure {
        EstablishFailure::Rejected(Reject {
            reason,
            message: "m".into(),
        })
    }

    #[test]
    fn every_cause_has_its_own_index_and_label() {
        for (i, cause) in CloseCause::ALL.iter().enumerate() {
            assert_eq!(cause.index(), i, "{cause:?}");
        }
        let mut labels: Vec<_> = CloseCause::ALL.iter().map(|c| c.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), CloseCause::ALL.len());
    }

    #[test]
    fn failures_before_the_session_say_whose_they_are() {
        let io = || io::Error::from(io::ErrorKind::ConnectionReset);
        let cases = [
            (EstablishFailure::TimedOut, Side::Slave, true),
            (EstablishFailure::Closed, Side::Slave, true),
            (EstablishFailure::Read(io()), Side::Network, true),
            (EstablishFailure::Write(io()), Side::Network, true),
            (EstablishFailure::NotHello("Heartbeat"), Side::Slave, true),
            (EstablishFailure::HelloBeforeHandshake, Side::Slave, true),
            (EstablishFailure::ControlGone, Side::Master, true),
            (
                EstablishFailure::Handshake(SessionError::Poisoned),
                Side::Slave,
                true,
            ),
            (
                EstablishFailure::Welcome(SessionError::Poisoned),
                Side::Master,
                true,
            ),
            (reject(RejectReason::Revoked), Side::Slave, false),
            (reject(RejectReason::TokenInvalid), Side::Slave, false),
            (reject(RejectReason::VersionUnsupported), Side::Slave, false),
            (reject(RejectReason::Internal), Side::Master, true),
            (
                EstablishFailure::Handshake(SessionError::TooLarge(8192)),
                Side::Slave,
                true,
            ),
        ];
        for (failure, side, retry) in cases {
            assert_eq!(failure.side(), side, "{failure}");
            assert_eq!(failure.retry_makes_sense(), retry, "{failure}");
        }
        assert_eq!(
            reject(RejectReason::Revoked).to_string(),
            "Revoked: m",
            "the log line keeps the reason and the message"
        );
    }

    #[test]
    fn session_ends_say_whose_they_are_and_that_a_retry_makes_sense() {
        let io = || io::Error::from(io::ErrorKind::BrokenPipe);
        let cases = [
            (
                SessionEnd::IdleTimeout,
                CloseCause::IdleTimeout,
                Side::Slave,
            ),
            (
                SessionEnd::ClosedByPeer,
                CloseCause::ClosedBySlave,
                Side::Slave,
            ),
            (SessionEnd::Read(io()), CloseCause::Io, Side::Network),
            (SessionEnd::Write(io()), CloseCause::Io, Side::Network),
            (
                SessionEnd::SecondHandshake,
                CloseCause::BadData,
                Side::Slave,
            ),
            (
                SessionEnd::Unexpected("Welcome"),
                CloseCause::BadData,
                Side::Slave,
            ),
            (
                SessionEnd::BadData(SessionError::Poisoned),
                CloseCause::BadData,
                Side::Slave,
            ),
            (
                SessionEnd::Encrypt(SessionError::Poisoned),
                CloseCause::Crypto,
                Side::Master,
            ),
            (
                SessionEnd::ClosedByMaster,
                CloseCause::ClosedByMaster,
                Side::Master,
            ),
            (
                SessionEnd::ControlGone,
                CloseCause::ControlGone,
                Side::Master,
            ),
            (SessionEnd::Dropped, CloseCause::ControlGone, Side::Master),
        ];
        for (end, cause, side) in cases {
            assert_eq!(end.cause(), cause, "{end}");
            assert_eq!(end.side(), side, "{end}");
            assert!(end.retry_makes_sense(), "{end}");
        }
        assert_eq!(
            SessionEnd::Unexpected("Welcome").to_string(),
            "unexpected Welcome from slave"
        );
    }
}
