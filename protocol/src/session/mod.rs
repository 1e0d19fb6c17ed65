//! The encrypted session: a Noise `XX` handshake, then Noise transport messages in frames.
//!
//! The slave is the initiator and checks the master's static key against what it expects
//! (the fingerprint from a join token, or the exact key it stored at enrolment). The master is
//! the responder and learns the slave's static key, which is the slave's identity from then
//! on. Transport nonces are implicit and advance with every frame, so a replayed, reordered,
//! forged or truncated frame fails to decrypt and ends the session; a failed session refuses
//! every further call and produces no further events.
//!
//! Completing the handshake proves only that the peer holds *some* static key, not that the
//! key is known: anyone can do it. The responder (the master) therefore starts with a small
//! message limit, [`PRE_AUTH_MESSAGE_LEN`], which also lowers the frame limit, so that an
//! unauthenticated peer can make it buffer only a few KiB; once the application has accepted
//! the peer's first message (the slave's `Hello`) it raises the limit with
//! [`Session::set_max_message_len`].

use crate::codec::{self, CodecError, MAX_MESSAGE_LEN};
use crate::frame::{FLAG_MORE, FrameDecoder, FrameError, FrameKind, MAX_FRAME_LEN, encode_frame};
use crate::keys::{NOISE_PARAMS, StaticKeys, fingerprint};
use crate::message::Message;
use thiserror::Error;

/// Mixed into the handshake hash so a peer of another protocol fails the handshake.
const PROLOGUE: &[u8] = b"commander/1";
/// Noise's authentication tag.
const TAG_LEN: usize = 16;
/// Message bytes that fit one data frame: the frame limit less the tag and the inner flag
/// byte. The flag byte repeats the header's `MORE` bit inside the ciphertext, so the
/// unauthenticated header cannot be edited to splice messages together.
pub const MAX_PLAINTEXT_PER_FRAME: usize = MAX_FRAME_LEN - TAG_LEN - 1;
/// The message limit a responder starts with, until the application accepts its peer: room
/// for a `Hello` (about 100 bytes with a short agent version) with ample margin.
pub const PRE_AUTH_MESSAGE_LEN: usize = 8 * 1024;
/// The smallest frame limit a session sets: room for every handshake message of the `XX`
/// pattern (the largest is 96 bytes), whatever the message limit.
const MIN_FRAME_LIMIT: usize = 256;

/// What the initiator requires of the responder's static key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerCheck {
    /// SHA-256 of the key must equal this (from a join token).
    Fingerprint([u8; 32]),
    /// The key must equal this (stored at enrolment).
    PublicKey([u8; 32]),
}

impl PeerCheck {
    fn accepts(&self, key: &[u8; 32]) -> bool {
        match self {
            Self::Fingerprint(fp) => fingerprint(key) == *fp,
            Self::PublicKey(k) => k == key,
        }
    }
}

/// Something the session produced from received bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// The handshake finished; the peer proved it holds this static key.
    Established {
        /// The peer's static public key.
        peer_static: [u8; 32],
    },
    /// A complete, authenticated, decoded message.
    Message(Message),
}

/// The session failed; the connection must be closed.
#[derive(Debug, Error)]
pub enum SessionError {
    /// A frame header was invalid.
    #[error("frame: {0}")]
    Frame(#[from] FrameError),
    /// Handshake or decryption failed (forged, replayed, reordered or corrupted data).
    #[error("noise: {0}")]
    Noise(#[source] snow::Error),
    /// A decrypted message was not a valid archive.
    #[error("message: {0}")]
    Codec(#[from] CodecError),
    /// The responder's static key is not the expected one.
    #[error("the master's key does not match the expected fingerprint")]
    PeerMismatch,
    /// A frame arrived that this state does not allow.
    #[error("unexpected {0}")]
    Unexpected(&'static str),
    /// A message (or one of its frames) would exceed the limit in force, in bytes: at most
    /// [`MAX_MESSAGE_LEN`], less before the peer is accepted (see [`PRE_AUTH_MESSAGE_LEN`]).
    #[error("message exceeds the limit of {0} bytes")]
    TooLarge(usize),
    /// An earlier error already ended this session.
    #[error("session already failed")]
    Poisoned,
}

fn noise(e: snow::Error) -> SessionError {
    SessionError::Noise(e)
}

enum State {
    /// Initiator sent message 1 and waits for message 2.
    InitiatorWaiting(Box<snow::HandshakeState>, PeerCheck),
    /// Responder waits for message 1.
    ResponderFirst(Box<snow::HandshakeState>),
    /// Responder sent message 2 and waits for message 3.
    ResponderWaiting(Box<snow::HandshakeState>),
    /// Handshake done.
    Transport(Box<snow::TransportState>),
    /// Failed; nothing more happens.
    Failed,
}

/// One side of one connection, without I/O.
pub struct Session {
    state: State,
    decoder: FrameDecoder,
    output: Vec<u8>,
    reassembly: Vec<u8>,
    scratch: Vec<u8>,
    peer_static: Option<[u8; 32]>,
    /// Largest message accepted from the peer now.
    max_message_len: usize,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("established", &self.is_established())
            .finish_non_exhaustive()
    }
}

fn builder(local: &StaticKeys) -> Result<snow::Builder<'_>, SessionError> {
    let params = NOISE_PARAMS.parse().map_err(noise)?;
    snow::Builder::new(params)
        .local_private_key(&local.private)
        .map_err(noise)?
        .prologue(PROLOGUE)
        .map_err(noise)
}

impl Session {
    fn with_state(state: State) -> Self {
        Self {
            state,
            decoder: FrameDecoder::new(),
            output: Vec::new(),
            reassembly: Vec::new(),
            scratch: Vec::new(),
            peer_static: None,
            max_message_len: MAX_MESSAGE_LEN,
        }
    }

    /// The slave side: queues handshake message 1 for sending.
    pub fn initiator(local: &StaticKeys, check: PeerCheck) -> Result<Self, SessionError> {
        let mut hs = builder(local)?.build_initiator().map_err(noise)?;
        let mut s = Self::with_state(State::Failed);
        ensure_len(&mut s.scratch, HANDSHAKE_SCRATCH);
        let n = hs.write_message(&[], &mut s.scratch).map_err(noise)?;
        encode_frame(FrameKind::Handshake, 0, &s.scratch[..n], &mut s.output)?;
        s.state = State::InitiatorWaiting(Box::new(hs), check);
        Ok(s)
    }

    /// The master side: waits for handshake message 1. Accepts messages of at most
    /// [`PRE_AUTH_MESSAGE_LEN`] until [`Session::set_max_message_len`] raises the limit.
    pub fn responder(local: &StaticKeys) -> Result<Self, SessionError> {
        let hs = builder(local)?.build_responder().map_err(noise)?;
        let mut s = Self::with_state(State::ResponderFirst(Box::new(hs)));
        s.set_max_message_len(PRE_AUTH_MESSAGE_LEN);
        Ok(s)
    }

    /// Accepts messages of up to `len` bytes (at most [`MAX_MESSAGE_LEN`]) from the peer
    /// from now on. Frames are limited to what such a message needs, so a longer frame is
    /// refused from its header, before its payload is buffered.
    pub fn set_max_message_len(&mut self, len: usize) {
        self.max_message_len = len.min(MAX_MESSAGE_LEN);
        let frame = (self.max_message_len + TAG_LEN + 1).max(MIN_FRAME_LIMIT);
        self.decoder.set_max_frame_len(frame);
    }

    /// The largest message accepted from the peer now.
    pub fn max_message_len(&self) -> usize {
        self.max_message_len
    }

    /// Bytes of memory the session's buffers hold now (received, reassembled, scratch and
    /// outgoing), for accounting what a peer can make the process hold.
    pub fn held_bytes(&self) -> usize {
        self.decoder.held_bytes()
            + self.reassembly.capacity()
            + self.scratch.capacity()
            + self.output.capacity()
    }

    /// Whether the handshake has finished.
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Transport(_))
    }

    /// The peer's static key, once established.
    pub fn peer_static(&self) -> Option<[u8; 32]> {
        self.peer_static
    }

    /// Bytes waiting to be written to the socket; the caller sends all of them.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Whether bytes wait to be sent.
    pub fn has_output(&self) -> bool {
        !self.output.is_empty()
    }

    /// Feeds received bytes and appends what they complete to `events`.
    ///
    /// On error the session is failed for good; events appended before the error stay valid.
    pub fn receive(
        &mut self,
        bytes: &[u8],
        events: &mut Vec<SessionEvent>,
    ) -> Result<(), SessionError> {
        if matches!(self.state, State::Failed) {
            return Err(SessionError::Poisoned);
        }
        self.decoder.push(bytes);
        let result = self.drain_frames(events);
        if result.is_err() {
            self.state = State::Failed;
            self.reassembly = Vec::new();
        }
        result
    }

    fn drain_frames(&mut self, events: &mut Vec<SessionEvent>) -> Result<(), SessionError> {
        loop {
            let frame = match self.decoder.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(FrameError::OverLimit { .. }) => {
                    return Err(SessionError::TooLarge(self.max_message_len));
                }
                Err(e) => return Err(e.into()),
            };
            match frame.header.kind {
                FrameKind::Handshake if frame.header.flags != 0 => {
                    return Err(SessionError::Unexpected("flags on a handshake frame"));
                }
                FrameKind::Handshake => self.on_handshake(&frame.payload, events)?,
                FrameKind::Data => {
                    let more = frame.header.flags & FLAG_MORE != 0;
                    self.on_data(&frame.payload, more, events)?;
                }
            }
        }
        Ok(())
    }

    fn on_handshake(
        &mut self,
        payload: &[u8],
        events: &mut Vec<SessionEvent>,
    ) -> Result<(), SessionError> {
        ensure_len(&mut self.scratch, HANDSHAKE_SCRATCH.max(payload.len()));
        match std::mem::replace(&mut self.state, State::Failed) {
            State::ResponderFirst(mut hs) => {
                self.read_empty_handshake(&mut hs, payload)?;
                let n = hs.write_message(&[], &mut self.scratch).map_err(noise)?;
                encode_frame(
                    FrameKind::Handshake,
                    0,
                    &self.scratch[..n],
                    &mut self.output,
                )?;
                self.state = State::ResponderWaiting(hs);
            }
            State::InitiatorWaiting(mut hs, check) => {
                self.read_empty_handshake(&mut hs, payload)?;
                let key = remote_static(&hs)?;
                if !check.accepts(&key) {
                    return Err(SessionError::PeerMismatch);
                }
                let n = hs.write_message(&[], &mut self.scratch).map_err(noise)?;
                encode_frame(
                    FrameKind::Handshake,
                    0,
                    &self.scratch[..n],
                    &mut self.output,
                )?;
                self.establish(*hs, key, events)?;
            }
            State::ResponderWaiting(mut hs) => {
                self.read_empty_handshake(&mut hs, payload)?;
                let key = remote_static(&hs)?;
                self.establish(*hs, key, events)?;
            }
            State::Transport(_) | State::Failed => {
                return Err(SessionError::Unexpected(
                    "handshake frame after the handshake",
                ));
            }
        }
        Ok(())
    }

    fn read_empty_handshake(
        &mut self,
        hs: &mut snow::HandshakeState,
        payload: &[u8],
    ) -> Result<(), SessionError> {
        let n = hs.read_message(payload, &mut self.scratch).map_err(noise)?;
        if n != 0 {
            return Err(SessionError::Unexpected("payload in a handshake message"));
        }
        Ok(())
    }

    fn establish(
        &mut self,
        hs: snow::HandshakeState,
        key: [u8; 32],
        events: &mut Vec<SessionEvent>,
    ) -> Result<(), SessionError> {
        let transport = hs.into_transport_mode().map_err(noise)?;
        self.state = State::Transport(Box::new(transport));
        self.peer_static = Some(key);
        events.push(SessionEvent::Established { peer_static: key });
        Ok(())
    }

    fn on_data(
        &mut self,
        payload: &[u8],
        more: bool,
        events: &mut Vec<SessionEvent>,
    ) -> Result<(), SessionError> {
        let State::Transport(transport) = &mut self.state else {
            return Err(SessionError::Unexpected(
                "data frame before the handshake finished",
            ));
        };
        ensure_len(&mut self.scratch, payload.len());
        let n = transport
            .read_message(payload, &mut self.scratch)
            .map_err(noise)?;
        let Some((&inner_flags, body)) = self.scratch[..n].split_first() else {
            return Err(SessionError::Unexpected("empty data frame"));
        };
        if inner_flags != u8::from(more) {
            return Err(SessionError::Unexpected(
                "frame flags differ from the sealed flags",
            ));
        }
        if self.reassembly.len() + body.len() > self.max_message_len {
            return Err(SessionError::TooLarge(self.max_message_len));
        }
        self.reassembly.extend_from_slice(body);
        if !more {
            let msg = codec::decode_message(&self.reassembly)?;
            self.reassembly.clear();
            events.push(SessionEvent::Message(msg));
        }
        Ok(())
    }

    /// Encrypts a message into one or more frames queued for sending.
    pub fn send(&mut self, msg: &Message) -> Result<(), SessionError> {
        let bytes = codec::encode_message(msg)?;
        self.send_encoded(&bytes)
    }

    /// Encrypts an already encoded message (see [`codec::encode_message`]).
    pub fn send_encoded(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        let State::Transport(transport) = &mut self.state else {
            return Err(match self.state {
                State::Failed => SessionError::Poisoned,
                _ => SessionError::Unexpected("send before the handshake finished"),
            });
        };
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(SessionError::TooLarge(MAX_MESSAGE_LEN));
        }
        let mut chunks = bytes.chunks(MAX_PLAINTEXT_PER_FRAME).peekable();
        if chunks.peek().is_none() {
            return Err(SessionError::Unexpected("empty message"));
        }
        let mut plain = Vec::with_capacity(MAX_PLAINTEXT_PER_FRAME.min(bytes.len()) + 1);
        while let Some(chunk) = chunks.next() {
            let more = chunks.peek().is_some();
            plain.clear();
            plain.push(u8::from(more));
            plain.extend_from_slice(chunk);
            ensure_len(&mut self.scratch, plain.len() + TAG_LEN);
            let n = transport
                .write_message(&plain, &mut self.scratch)
                .map_err(noise)?;
            let flags = if more { FLAG_MORE } else { 0 };
            encode_frame(FrameKind::Data, flags, &self.scratch[..n], &mut self.output)?;
        }
        Ok(())
    }
}

/// Grows `scratch` to at least `len` bytes; buffers stay as large as the largest frame seen,
/// so an idle session costs little memory.
fn ensure_len(scratch: &mut Vec<u8>, len: usize) {
    if scratch.len() < len {
        scratch.resize(len.min(MAX_FRAME_LEN), 0);
    }
}

/// Room for one handshake message of the `XX` pattern (the largest is 96 bytes).
const HANDSHAKE_SCRATCH: usize = 256;

fn remote_static(hs: &snow::HandshakeState) -> Result<[u8; 32], SessionError> {
    hs.get_remote_static()
        .and_then(|k| k.try_into().ok())
        .ok_or(SessionError::Unexpected("handshake without a static key"))
}

#[cfg(test)]
mod tests;
