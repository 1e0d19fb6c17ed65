//! Both sides of the Noise session: fed forged handshake messages, and fed an authenticated
//! peer's arbitrary messages after a real handshake.

use protocol::{Session, SessionEvent, StaticKeys, decode_message, encode_message};
use std::sync::OnceLock;

/// The master's and the slave's static keys, made once per process: key generation is not
/// what is fuzzed, and fixed keys keep runs comparable.
fn keys() -> &'static (StaticKeys, StaticKeys) {
    static KEYS: OnceLock<(StaticKeys, StaticKeys)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            StaticKeys::generate().expect("master key"),
            StaticKeys::generate().expect("slave key"),
        )
    })
}

/// Target `session_handshake`: bit 0 of the first byte picks the side, the responder (the
/// master, waiting for handshake message 1) or the initiator (the slave, which has sent
/// message 1 and waits for message 2); bits 1..7 pick a piece size. The rest arrives as
/// the peer's bytes, piece by piece, until the session fails.
///
/// Checks: bytes from someone without the keys never complete the handshake nor deliver
/// a message, and a failed session stays failed.
pub fn session_handshake(data: &[u8]) {
    let Some((&control, wire)) = data.split_first() else {
        return;
    };
    let (master, slave) = keys();
    let mut session = if control & 1 == 0 {
        Session::responder(master).expect("responder")
    } else {
        Session::initiator(slave, protocol::PeerCheck::PublicKey(master.public)).expect("initiator")
    };
    let piece = usize::from(control >> 1).max(1);
    let mut events = Vec::new();
    for chunk in wire.chunks(piece) {
        if session.receive(chunk, &mut events).is_err() {
            assert!(
                session.receive(&[], &mut events).is_err(),
                "a failed session accepted more bytes"
            );
            break;
        }
    }
    assert!(
        events.is_empty(),
        "forged handshake bytes produced {events:?}"
    );
    assert!(!session.is_established());
}

/// Target `session_transport`: a real handshake between a slave and a master session,
/// then a script of operations from the input. Byte 0 bit 0 picks the direction (slave to
/// master or master to slave). Then, per operation byte (`op & 3`):
/// - 0: the sender sends the next `u16` (little endian) bytes of the input as an encoded
///   message (arbitrary bytes: an authenticated but hostile peer), split into frames;
/// - 1: one bit of the bytes not yet delivered is flipped (position from the next `u16`);
/// - 2: the bytes not yet delivered go to the receiver in pieces of the next byte's size;
/// - 3: the bytes not yet delivered are cut short by the next `u16`.
///
/// At the end everything left is delivered.
///
/// Checks: the receiver delivers exactly the sent messages that decode, in order, each
/// equal to what [`decode_message`] makes of the sent bytes, and stops at the first that
/// does not decode; after tampering it delivers no message that was not sent.
pub fn session_transport(data: &[u8]) {
    let Some((&control, mut script)) = data.split_first() else {
        return;
    };
    let (master_keys, slave_keys) = keys();
    let mut slave = Session::initiator(
        slave_keys,
        protocol::PeerCheck::PublicKey(master_keys.public),
    )
    .expect("initiator");
    let mut master = Session::responder(master_keys).expect("responder");
    let mut events = Vec::new();
    while slave.has_output() || master.has_output() {
        let to_master = slave.take_output();
        master.receive(&to_master, &mut events).expect("handshake");
        let to_slave = master.take_output();
        slave.receive(&to_slave, &mut events).expect("handshake");
    }
    assert!(slave.is_established() && master.is_established());

    let (sender, receiver) = if control & 1 == 0 {
        (&mut slave, &mut master)
    } else {
        (&mut master, &mut slave)
    };
    // What decoding each sent message gives, re-encoded for comparison (f32 NaNs compare
    // unequal, their encodings do not); `None` for bytes that are not a message.
    let mut expected: Vec<Option<Vec<u8>>> = Vec::new();
    let mut pending = Vec::new();
    let mut received = Vec::new();
    let mut tampered = false;
    let mut failed = false;
    while let Some((&op, rest)) = script.split_first() {
        script = rest;
        match op & 3 {
            0 => {
                let len = usize::from(take_u16(&mut script)).min(script.len());
                let (message, rest) = script.split_at(len);
                script = rest;
                if sender.send_encoded(message).is_ok() {
                    expected.push(canonical(message));
                }
                pending.extend(sender.take_output());
            }
            1 => {
                let at = usize::from(take_u16(&mut script));
                if !pending.is_empty() {
                    let bit = at % (pending.len() * 8);
                    pending[bit / 8] ^= 1 << (bit % 8);
                    tampered = true;
                }
            }
            2 => {
                let piece = script.first().map_or(1, |&b| usize::from(b).max(1));
                script = script.get(1..).unwrap_or_default();
                failed |= deliver(receiver, &mut pending, piece, &mut received);
            }
            _ => {
                let cut = usize::from(take_u16(&mut script)).min(pending.len());
                if cut > 0 {
                    pending.truncate(pending.len() - cut);
                    tampered = true;
                }
            }
        }
    }
    failed |= deliver(receiver, &mut pending, usize::MAX, &mut received);

    let decodable = expected.iter().take_while(|m| m.is_some()).count();
    assert!(received.len() <= decodable, "more messages than were sent");
    for (got, sent) in received.iter().zip(&expected) {
        assert_eq!(Some(got), sent.as_ref(), "a message changed on the way");
    }
    if !tampered {
        assert_eq!(received.len(), decodable, "a sent message was lost");
        assert_eq!(
            failed,
            decodable < expected.len(),
            "the session failed without cause, or a bad message went unnoticed"
        );
    }
}

fn take_u16(script: &mut &[u8]) -> u16 {
    match script {
        [a, b, rest @ ..] => {
            let v = u16::from_le_bytes([*a, *b]);
            *script = rest;
            v
        }
        _ => {
            *script = &[];
            0
        }
    }
}

/// The re-encoded decoding of `bytes`, `None` when they are not a message.
fn canonical(bytes: &[u8]) -> Option<Vec<u8>> {
    let message = decode_message(bytes).ok()?;
    Some(encode_message(&message).expect("a decoded message encodes"))
}

/// Hands `pending` to `receiver` in pieces; true when the session failed.
fn deliver(
    receiver: &mut Session,
    pending: &mut Vec<u8>,
    piece: usize,
    received: &mut Vec<Vec<u8>>,
) -> bool {
    let mut events = Vec::new();
    let mut failed = false;
    for chunk in pending.chunks(piece) {
        if receiver.receive(chunk, &mut events).is_err() {
            failed = true;
            break;
        }
    }
    pending.clear();
    for event in events {
        match event {
            SessionEvent::Message(m) => {
                received.push(encode_message(&m).expect("a received message encodes"));
            }
            SessionEvent::Established { .. } => panic!("a second handshake completed"),
        }
    }
    failed
}
