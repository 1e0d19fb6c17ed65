//! The frame decoder fed the same bytes whole and in pieces.

use protocol::frame::{HEADER_LEN, encode_frame};
use protocol::{Frame, FrameDecoder, FrameError, MAX_FRAME_LEN};

/// Target `frame_decoder`: the first byte picks a piece size (1..=64 bytes, or everything
/// at once), the rest is pushed into a [`FrameDecoder`] piece by piece, popping frames
/// after each push until the first error (which ends a session).
///
/// Checks: every frame re-encodes to exactly the bytes it was read from, no payload is
/// above [`MAX_FRAME_LEN`], nothing is lost or invented (frames plus what stays buffered
/// add up to what was pushed), and the pieces give the same frames and the same error as
/// the whole input at once.
pub fn frame_decoder(data: &[u8]) {
    let Some((&piece, wire)) = data.split_first() else {
        return;
    };
    let whole = decode(wire, wire.len().max(1));
    let pieces = decode(wire, usize::from(piece % 65).max(1));
    assert_eq!(whole.0, pieces.0, "piecewise decoding gives other frames");
    assert_eq!(whole.1, pieces.1, "piecewise decoding gives another error");
    if whole.1.is_none() {
        assert_eq!(
            whole.2, pieces.2,
            "piecewise decoding buffers another amount"
        );
    }

    let (frames, error, buffered) = whole;
    let mut reencoded = Vec::new();
    for frame in &frames {
        assert!(frame.payload.len() <= MAX_FRAME_LEN);
        assert_eq!(frame.payload.len(), frame.header.len as usize);
        encode_frame(
            frame.header.kind,
            frame.header.flags,
            &frame.payload,
            &mut reencoded,
        )
        .expect("a decoded frame encodes");
    }
    assert_eq!(
        reencoded,
        wire[..reencoded.len()],
        "frames do not re-encode to their bytes"
    );
    if error.is_none() {
        assert_eq!(reencoded.len() + buffered, wire.len(), "bytes lost");
        assert!(buffered < HEADER_LEN + MAX_FRAME_LEN);
    }
}

type Decoded = (Vec<Frame>, Option<FrameError>, usize);

fn decode(wire: &[u8], piece: usize) -> Decoded {
    let mut decoder = FrameDecoder::new();
    let mut frames = Vec::new();
    for chunk in wire.chunks(piece) {
        decoder.push(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => return (frames, Some(e), decoder.buffered()),
            }
        }
    }
    let buffered = decoder.buffered();
    (frames, None, buffered)
}
