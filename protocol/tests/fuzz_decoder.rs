//! Property-based fuzzing of everything that reads bytes from the network: the frame
//! decoder, the message codec and both sides of the handshake. Nothing may panic, and a
//! session fed garbage must never report an authenticated event.

use proptest::prelude::*;
use protocol::{
    FrameDecoder, Message, PeerCheck, Session, SessionEvent, StaticKeys, decode_message,
};

fn keys() -> StaticKeys {
    StaticKeys::generate().expect("keys")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn frame_decoder_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8)) {
        let mut d = FrameDecoder::new();
        for c in chunks {
            d.push(&c);
            while let Ok(Some(f)) = d.next_frame() {
                prop_assert!(f.payload.len() <= protocol::MAX_FRAME_LEN);
            }
        }
    }

    #[test]
    fn codec_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_message(&bytes);
    }

    #[test]
    fn responder_fed_garbage_never_authenticates(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut s = Session::responder(&keys()).expect("responder");
        let mut ev = Vec::new();
        let _ = s.receive(&bytes, &mut ev);
        prop_assert!(ev.is_empty());
    }

    #[test]
    fn garbage_with_valid_header_never_authenticates(kind in 1u8..=2, body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut wire = vec![b'C', b'M', 1, kind, 0, 0];
        wire.extend_from_slice(&(body.len() as u32).to_be_bytes());
        wire.extend_from_slice(&body);
        let mut s = Session::responder(&keys()).expect("responder");
        let mut ev = Vec::new();
        let _ = s.receive(&wire, &mut ev);
        prop_assert!(ev.is_empty());
        let master = keys();
        let mut i = Session::initiator(&keys(), PeerCheck::PublicKey(master.public)).expect("initiator");
        let _ = i.receive(&wire, &mut ev);
        prop_assert!(ev.is_empty());
    }

    #[test]
    fn flipped_bit_in_transcript_never_yields_a_wrong_message(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (sk, mk) = (keys(), keys());
        let mut slave = Session::initiator(&sk, PeerCheck::PublicKey(mk.public)).expect("initiator");
        let mut master = Session::responder(&mk).expect("responder");
        let mut ev = Vec::new();
        master.receive(&slave.take_output(), &mut ev).expect("msg1");
        slave.receive(&master.take_output(), &mut ev).expect("msg2");
        let msg = Message::Chunk(protocol::Chunk { id: 1, seq: 0, last: true, data: b"secret".to_vec() });
        slave.send(&msg).expect("send");
        let mut wire = slave.take_output();
        let i = pos.index(wire.len());
        wire[i] ^= 1 << bit;
        ev.clear();
        let _ = master.receive(&wire, &mut ev);
        for e in &ev {
            if let SessionEvent::Message(m) = e {
                prop_assert_eq!(m, &msg);
            }
        }
        prop_assert!(!ev.iter().any(|e| matches!(e, SessionEvent::Message(_))));
    }
}
