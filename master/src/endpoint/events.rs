//! What the protocol endpoint hands to the control side, and what comes back.
//!
//! The endpoint runs on io_uring executors (or the portable fallback) and never touches the
//! store; everything that needs a decision or a write crosses these channels to the tokio
//! control pool.

use super::close::SessionEnd;
use protocol::{Hello, Message, Reject};
use std::net::SocketAddr;

/// Identifies one accepted connection for its whole life.
pub type ConnId = u64;

/// Things the control side sends to a connection.
#[derive(Debug)]
pub enum Outbound {
    /// Encrypt and send this message (boxed: queue slots are allocated up front, so they
    /// stay pointer-sized).
    Send(Box<Message>),
    /// Send this already encoded message (encode once, fan out to many sessions).
    SendEncoded(std::sync::Arc<Vec<u8>>),
    /// Close the connection after sending what is queued.
    Close,
}

/// The sending half a connection registers with the control side.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    /// The connection.
    pub conn_id: ConnId,
    /// The peer's socket address (informational: identity is the static key).
    pub peer_addr: SocketAddr,
    /// Messages for the connection's writer.
    pub outbound: async_channel::Sender<Outbound>,
}

/// The control side's answer to an authentication request.
#[derive(Debug, Clone)]
pub enum AuthVerdict {
    /// Accepted: send `Welcome` with these values.
    Accept {
        /// The node's id.
        node_id: u64,
        /// Negotiated protocol version.
        version: u16,
        /// Heartbeat period for the slave, milliseconds.
        heartbeat_interval_ms: u32,
    },
    /// Refused: send this and close.
    Reject(Reject),
}

/// Events from connections to the control side.
#[derive(Debug)]
pub enum ControlEvent {
    /// A peer finished the handshake and said hello; the control side must answer on `reply`.
    Authenticate {
        /// The connection.
        conn: ConnHandle,
        /// The static key the peer proved it holds.
        peer_static: [u8; 32],
        /// What it asked for.
        hello: Hello,
        /// Where the verdict goes.
        reply: async_channel::Sender<AuthVerdict>,
    },
    /// A message from an authenticated node.
    Message {
        /// The node.
        node_id: u64,
        /// The connection it came on.
        conn_id: ConnId,
        /// The message.
        msg: Message,
    },
    /// An authenticated connection closed.
    Disconnected {
        /// The node.
        node_id: u64,
        /// The connection.
        conn_id: ConnId,
        /// Why (its cause and side for logs and counting).
        reason: SessionEnd,
    },
}
