//! Wire frames: a fixed 10-byte header followed by `len` payload bytes.
//!
//! ```text
//! offset 0  2      magic  b"CM"
//! offset 2  1      wire version (FRAME_VERSION)
//! offset 3  1      kind   (1 handshake, 2 data)
//! offset 4  1      flags  (bit 0: MORE, the message continues in the next frame)
//! offset 5  1      reserved, must be 0
//! offset 6  4      payload length, big endian, at most MAX_FRAME_LEN
//! ```
//!
//! The header is the only plaintext on the wire; every data payload is a Noise ciphertext.

use thiserror::Error;

/// The two magic bytes every frame starts with.
pub const MAGIC: [u8; 2] = *b"CM";
/// Wire version of the frame layout.
pub const FRAME_VERSION: u8 = 1;
/// Length of the fixed header.
pub const HEADER_LEN: usize = 10;
/// Largest payload one frame may carry: the Noise message limit.
pub const MAX_FRAME_LEN: usize = 65_535;
/// Flag bit: the message continues in the next frame.
pub const FLAG_MORE: u8 = 0b0000_0001;
const KNOWN_FLAGS: u8 = FLAG_MORE;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A Noise handshake message.
    Handshake = 1,
    /// A Noise transport message (encrypted application data).
    Data = 2,
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// What the payload is.
    pub kind: FrameKind,
    /// Flag bits (`FLAG_MORE`).
    pub flags: u8,
    /// Payload length in bytes.
    pub len: u32,
}

/// One complete frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Its header.
    pub header: FrameHeader,
    /// Its payload, exactly `header.len` bytes.
    pub payload: Vec<u8>,
}

/// Why bytes could not be read as a frame. Any of these ends the session.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    /// The first two bytes were not the magic.
    #[error("bad magic {0:02x?}: not a Commander peer")]
    BadMagic([u8; 2]),
    /// The wire version is not one this build speaks.
    #[error("unsupported frame version {0}")]
    BadVersion(u8),
    /// The kind byte is unknown.
    #[error("unknown frame kind {0}")]
    BadKind(u8),
    /// Unknown flag bits or a non-zero reserved byte.
    #[error("unknown frame flags {0:#04x}")]
    BadFlags(u8),
    /// The announced length is above `MAX_FRAME_LEN`.
    #[error("frame length {0} exceeds the maximum of {MAX_FRAME_LEN}")]
    TooLong(u32),
    /// The announced length is above the decoder's current limit (see
    /// [`FrameDecoder::set_max_frame_len`]), which is below `MAX_FRAME_LEN`.
    #[error("frame length {len} exceeds the current limit of {limit}")]
    OverLimit {
        /// The announced length.
        len: u32,
        /// The limit in force.
        limit: usize,
    },
    /// A payload to encode is above `MAX_FRAME_LEN`.
    #[error("payload of {0} bytes does not fit one frame")]
    PayloadTooLong(usize),
}

impl FrameHeader {
    /// Parses and validates a header; `bytes` must hold at least `HEADER_LEN` bytes.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Result<Self, FrameError> {
        let magic = [bytes[0], bytes[1]];
        if magic != MAGIC {
            return Err(FrameError::BadMagic(magic));
        }
        if bytes[2] != FRAME_VERSION {
            return Err(FrameError::BadVersion(bytes[2]));
        }
        let kind = match bytes[3] {
            1 => FrameKind::Handshake,
            2 => FrameKind::Data,
            other => return Err(FrameError::BadKind(other)),
        };
        let flags = bytes[4];
        if flags & !KNOWN_FLAGS != 0 || bytes[5] != 0 {
            return Err(FrameError::BadFlags(flags | bytes[5]));
        }
        let len = u32::from_be_bytes([bytes[6], bytes[7], bytes[8], bytes[9]]);
        if len as usize > MAX_FRAME_LEN {
            return Err(FrameError::TooLong(len));
        }
        Ok(Self { kind, flags, len })
    }

    /// The header's 10 bytes.
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let len = self.len.to_be_bytes();
        [
            MAGIC[0],
            MAGIC[1],
            FRAME_VERSION,
            self.kind as u8,
            self.flags,
            0,
            len[0],
            len[1],
            len[2],
            len[3],
        ]
    }
}

/// Appends one frame (header and payload) to `out`.
pub fn encode_frame(
    kind: FrameKind,
    flags: u8,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    if payload.len() > MAX_FRAME_LEN {
        return Err(FrameError::PayloadTooLong(payload.len()));
    }
    let header = FrameHeader {
        kind,
        flags,
        len: payload.len() as u32,
    };
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Streaming frame decoder: push received bytes, pop complete frames.
///
/// A header is validated as soon as its 10 bytes are in, so a hostile length is refused
/// before any buffer for it is reserved. The length limit is [`MAX_FRAME_LEN`] unless
/// lowered with [`FrameDecoder::set_max_frame_len`] (a session does so until its peer is
/// authenticated). Bytes already returned as frames are dropped on the next
/// [`FrameDecoder::push`], so a decoder drained after every push holds at most one partial
/// frame plus the bytes pushed.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max_frame_len: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            max_frame_len: MAX_FRAME_LEN,
        }
    }
}

impl FrameDecoder {
    /// An empty decoder accepting frames up to [`MAX_FRAME_LEN`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses frames longer than `len` (at most [`MAX_FRAME_LEN`]) from now on, before
    /// their payload is buffered.
    pub fn set_max_frame_len(&mut self, len: usize) {
        self.max_frame_len = len.min(MAX_FRAME_LEN);
    }

    /// The longest frame payload accepted now.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// Adds received bytes, first dropping those already returned as frames.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Bytes of memory the decoder's buffer holds (its capacity).
    pub fn held_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let pending = &self.buf[self.start..];
        let Some(head) = pending.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let header = FrameHeader::parse(head)?;
        if header.len as usize > self.max_frame_len {
            return Err(FrameError::OverLimit {
                len: header.len,
                limit: self.max_frame_len,
            });
        }
        let total = HEADER_LEN + header.len as usize;
        if pending.len() < total {
            return Ok(None);
        }
        let payload = pending[HEADER_LEN..total].to_vec();
        self.start += total;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(Some(Frame { header, payload }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_golden_bytes() {
        let h = FrameHeader {
            kind: FrameKind::Data,
            flags: FLAG_MORE,
            len: 258,
        };
        let bytes = h.to_bytes();
        assert_eq!(bytes, [b'C', b'M', 1, 2, 1, 0, 0, 0, 1, 2]);
        assert_eq!(FrameHeader::parse(&bytes), Ok(h));
    }

    #[test]
    fn rejects_bad_headers() {
        let good = FrameHeader {
            kind: FrameKind::Handshake,
            flags: 0,
            len: 0,
        }
        .to_bytes();
        let mut b = good;
        b[0] = b'X';
        assert!(matches!(
            FrameHeader::parse(&b),
            Err(FrameError::BadMagic(_))
        ));
        let mut b = good;
        b[2] = 9;
        assert_eq!(FrameHeader::parse(&b), Err(FrameError::BadVersion(9)));
        let mut b = good;
        b[3] = 7;
        assert_eq!(FrameHeader::parse(&b), Err(FrameError::BadKind(7)));
        let mut b = good;
        b[4] = 0x80;
        assert!(matches!(
            FrameHeader::parse(&b),
            Err(FrameError::BadFlags(_))
        ));
        let mut b = good;
        b[5] = 1;
        assert!(matches!(
            FrameHeader::parse(&b),
            Err(FrameError::BadFlags(_))
        ));
    }

    #[test]
    fn too_long_is_refused_before_payload_arrives() {
        let mut b = FrameHeader {
            kind: FrameKind::Data,
            flags: 0,
            len: 0,
        }
        .to_bytes();
        b[6..10].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut d = FrameDecoder::new();
        d.push(&b);
        assert_eq!(d.next_frame(), Err(FrameError::TooLong(u32::MAX)));
        assert!(d.buffered() <= HEADER_LEN);
    }

    #[test]
    fn decoder_handles_split_and_joined_input() {
        let mut wire = Vec::new();
        encode_frame(FrameKind::Data, 0, b"hello", &mut wire).unwrap();
        encode_frame(FrameKind::Handshake, FLAG_MORE, b"", &mut wire).unwrap();
        encode_frame(FrameKind::Data, 0, &[7u8; 1000], &mut wire).unwrap();
        let mut d = FrameDecoder::new();
        let mut frames = Vec::new();
        for byte in &wire {
            d.push(std::slice::from_ref(byte));
            while let Some(f) = d.next_frame().unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].payload, b"hello");
        assert_eq!(frames[1].header.flags, FLAG_MORE);
        assert_eq!(frames[2].payload.len(), 1000);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn truncated_frame_waits_for_more() {
        let mut wire = Vec::new();
        encode_frame(FrameKind::Data, 0, b"abcdef", &mut wire).unwrap();
        let mut d = FrameDecoder::new();
        d.push(&wire[..wire.len() - 1]);
        assert_eq!(d.next_frame(), Ok(None));
        d.push(&wire[wire.len() - 1..]);
        assert!(d.next_frame().unwrap().is_some());
    }

    #[test]
    fn a_lowered_limit_refuses_a_longer_frame_before_its_payload() {
        let mut d = FrameDecoder::new();
        d.set_max_frame_len(100);
        assert_eq!(d.max_frame_len(), 100);
        let mut wire = Vec::new();
        encode_frame(FrameKind::Data, 0, &[1u8; 100], &mut wire).unwrap();
        d.push(&wire);
        assert_eq!(d.next_frame().unwrap().unwrap().payload.len(), 100);
        // Only the header of a 101-byte frame has arrived: refused at once.
        let header = FrameHeader {
            kind: FrameKind::Data,
            flags: 0,
            len: 101,
        };
        d.push(&header.to_bytes());
        assert_eq!(
            d.next_frame(),
            Err(FrameError::OverLimit {
                len: 101,
                limit: 100
            })
        );
        // The limit never exceeds the wire maximum.
        d.set_max_frame_len(usize::MAX);
        assert_eq!(d.max_frame_len(), MAX_FRAME_LEN);
    }

    #[test]
    fn consumed_bytes_do_not_accumulate() {
        // Frames split across pushes, drained after every push: the buffer never holds
        // more than one partial frame plus one push.
        let mut wire = Vec::new();
        for _ in 0..200 {
            encode_frame(FrameKind::Data, 0, &[9u8; 1000], &mut wire).unwrap();
        }
        let mut d = FrameDecoder::new();
        let mut frames = 0;
        for piece in wire.chunks(700) {
            d.push(piece);
            while d.next_frame().unwrap().is_some() {
                frames += 1;
            }
            assert!(d.buffered() < HEADER_LEN + 1000);
            assert!(
                d.held_bytes() <= 2 * (HEADER_LEN + 1000 + 700),
                "{}",
                d.held_bytes()
            );
        }
        assert_eq!(frames, 200);
    }

    #[test]
    fn encode_refuses_oversized_payload() {
        let mut out = Vec::new();
        let big = vec![0u8; MAX_FRAME_LEN + 1];
        assert_eq!(
            encode_frame(FrameKind::Data, 0, &big, &mut out),
            Err(FrameError::PayloadTooLong(MAX_FRAME_LEN + 1))
        );
        assert!(out.is_empty());
    }
}
