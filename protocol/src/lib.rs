//! Sans-io core of the master–slave protocol.
//!
//! Nothing here touches a socket or a runtime: callers feed received bytes in and take bytes
//! to send out, passing time in where it matters. The layers, bottom up:
//!
//! * [`frame`]: the fixed 10-byte header (magic, version, kind, flags, length) and a streaming
//!   decoder that checks [`frame::MAX_FRAME_LEN`] before it allocates anything.
//! * [`message`]: every message type, archived with rkyv 0.8 and read back only through
//!   checked access ([`codec`]).
//! * [`session`]: the Noise `XX` handshake and the encrypted transport on top of frames;
//!   messages larger than one frame are split and reassembled.
//! * [`ops`]: host and Docker operations, their answers, progress and argument checks.
//! * [`token`]: the one-time join token a master prints and a slave presents once.
//! * [`workload`]: desired and observed state: project replicas and gateways on a slave.
//! * [`version`]: protocol version negotiation.
//! * [`keys`]: static key pairs and their fingerprints.

pub mod codec;
pub mod frame;
pub mod keys;
pub mod message;
pub mod ops;
pub mod session;
pub mod token;
pub mod version;
pub mod workload;

pub use codec::{
    CodecError, decode_message, decode_response_body, encode_message, encode_response_body,
};
pub use frame::{Frame, FrameDecoder, FrameError, FrameHeader, FrameKind, MAX_FRAME_LEN};
pub use keys::{KeyError, StaticKeys, fingerprint};
pub use message::*;
pub use ops::{ErrorKind, OpError, Progress, ProgressEvent};
pub use session::{PeerCheck, Session, SessionError, SessionEvent};
pub use token::{JoinToken, TokenError};
pub use version::{
    OPS_VERSION, PROTOCOL_VERSION_MAX, PROTOCOL_VERSION_MIN, STREAMED_LOGS_VERSION,
    WORKLOADS_VERSION, negotiate,
};
