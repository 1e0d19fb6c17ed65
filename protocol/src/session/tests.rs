//! Unit tests of the session, two in-memory peers with no sockets: the handshake and
//! messages both ways, a wrong master key, replayed, forged, truncated and reordered frames,
//! large messages split and reassembled, data before the handshake, no plaintext on the
//! wire, and the responder's small message limit before it accepts its peer.

use super::*;
use crate::message::{Heartbeat, Hello, HelloAuth, MetricSample};

fn keys() -> (StaticKeys, StaticKeys) {
    (
        StaticKeys::generate().unwrap(),
        StaticKeys::generate().unwrap(),
    )
}

/// Runs the handshake between two sessions, returning their events.
fn pump(a: &mut Session, b: &mut Session) -> (Vec<SessionEvent>, Vec<SessionEvent>) {
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    for _ in 0..4 {
        let out = a.take_output();
        if !out.is_empty() {
            b.receive(&out, &mut eb).unwrap();
        }
        let out = b.take_output();
        if !out.is_empty() {
            a.receive(&out, &mut ea).unwrap();
        }
    }
    (ea, eb)
}

fn established_pair() -> (Session, Session, StaticKeys, StaticKeys) {
    let (slave_keys, master_keys) = keys();
    let mut slave = Session::initiator(
        &slave_keys,
        PeerCheck::Fingerprint(master_keys.fingerprint()),
    )
    .unwrap();
    let mut master = Session::responder(&master_keys).unwrap();
    let (es, em) = pump(&mut slave, &mut master);
    assert_eq!(
        es,
        vec![SessionEvent::Established {
            peer_static: master_keys.public
        }]
    );
    assert_eq!(
        em,
        vec![SessionEvent::Established {
            peer_static: slave_keys.public
        }]
    );
    (slave, master, slave_keys, master_keys)
}

fn hello() -> Message {
    Message::Hello(Hello {
        min_version: 1,
        max_version: 1,
        auth: HelloAuth::Resume { node_id: 42 },
        agent_version: "test".into(),
    })
}

#[test]
fn handshake_then_messages_both_ways() {
    let (mut slave, mut master, _, _) = established_pair();
    slave.send(&hello()).unwrap();
    let mut ev = Vec::new();
    master.receive(&slave.take_output(), &mut ev).unwrap();
    assert_eq!(ev, vec![SessionEvent::Message(hello())]);
}

#[test]
fn wrong_master_key_is_refused() {
    let (slave_keys, master_keys) = keys();
    let other = StaticKeys::generate().unwrap();
    let mut slave = Session::initiator(&slave_keys, PeerCheck::PublicKey(other.public)).unwrap();
    let mut master = Session::responder(&master_keys).unwrap();
    let mut ev = Vec::new();
    master.receive(&slave.take_output(), &mut ev).unwrap();
    let err = slave.receive(&master.take_output(), &mut ev).unwrap_err();
    assert!(matches!(err, SessionError::PeerMismatch));
    assert!(ev.is_empty());
    assert!(matches!(slave.send(&hello()), Err(SessionError::Poisoned)));
}

#[test]
fn replayed_frame_is_rejected_without_event() {
    let (mut slave, mut master, _, _) = established_pair();
    slave.send(&hello()).unwrap();
    let wire = slave.take_output();
    let mut ev = Vec::new();
    master.receive(&wire, &mut ev).unwrap();
    assert_eq!(ev.len(), 1);
    ev.clear();
    assert!(master.receive(&wire, &mut ev).is_err());
    assert!(ev.is_empty());
    // A failed session stays failed.
    assert!(matches!(
        master.receive(&[], &mut ev),
        Err(SessionError::Poisoned)
    ));
}

#[test]
fn forged_byte_is_rejected() {
    let (mut slave, mut master, _, _) = established_pair();
    slave.send(&hello()).unwrap();
    let mut wire = slave.take_output();
    let last = wire.len() - 1;
    wire[last] ^= 0x01;
    let mut ev = Vec::new();
    let err = master.receive(&wire, &mut ev).unwrap_err();
    assert!(matches!(err, SessionError::Noise(_)), "{err}");
    // The Noise library's error is kept as the cause.
    assert!(std::error::Error::source(&err).is_some());
    assert!(ev.is_empty());
}

#[test]
fn truncated_frame_yields_nothing_and_a_shortened_one_fails() {
    let (mut slave, mut master, _, _) = established_pair();
    slave.send(&hello()).unwrap();
    let wire = slave.take_output();
    let mut ev = Vec::new();
    master.receive(&wire[..wire.len() - 3], &mut ev).unwrap();
    assert!(ev.is_empty(), "a partial frame produces no event");

    // A frame whose length field was shortened (payload cut) fails authentication.
    let (mut slave, mut master, _, _) = established_pair();
    slave.send(&hello()).unwrap();
    let mut wire = slave.take_output();
    let len = u32::from_be_bytes(wire[6..10].try_into().unwrap()) - 1;
    wire[6..10].copy_from_slice(&len.to_be_bytes());
    wire.pop();
    assert!(master.receive(&wire, &mut ev).is_err());
    assert!(ev.is_empty());
}

#[test]
fn reordered_frames_are_rejected() {
    let (mut slave, mut master, _, _) = established_pair();
    slave.send(&hello()).unwrap();
    let first = slave.take_output();
    slave.send(&hello()).unwrap();
    let second = slave.take_output();
    let mut ev = Vec::new();
    assert!(master.receive(&second, &mut ev).is_err());
    assert!(ev.is_empty());
    let _ = first;
}

#[test]
fn large_message_is_split_and_reassembled() {
    let (mut slave, mut master, _, _) = established_pair();
    master.set_max_message_len(MAX_MESSAGE_LEN);
    let big = Message::Heartbeat(Heartbeat {
        seq: 1,
        sample: MetricSample {
            cpu_per_core_pct: vec![1.5; 100_000],
            ..MetricSample::default()
        },
    });
    slave.send(&big).unwrap();
    let wire = slave.take_output();
    assert!(wire.len() > 3 * MAX_FRAME_LEN);
    let mut ev = Vec::new();
    for piece in wire.chunks(1000) {
        master.receive(piece, &mut ev).unwrap();
    }
    assert_eq!(ev, vec![SessionEvent::Message(big)]);
}

#[test]
fn data_before_handshake_is_refused() {
    let (slave_keys, master_keys) = keys();
    let mut master = Session::responder(&master_keys).unwrap();
    let mut wire = Vec::new();
    encode_frame(FrameKind::Data, 0, b"sneaky", &mut wire).unwrap();
    let mut ev = Vec::new();
    assert!(matches!(
        master.receive(&wire, &mut ev),
        Err(SessionError::Unexpected(_))
    ));
    let mut slave = Session::initiator(&slave_keys, PeerCheck::PublicKey([0; 32])).unwrap();
    assert!(matches!(
        slave.send(&hello()),
        Err(SessionError::Unexpected(_))
    ));
}

#[test]
fn plaintext_never_appears_on_the_wire() {
    let (mut slave, mut master, _, _) = established_pair();
    let marker = "PLAINTEXT-MARKER-4242";
    let msg = Message::Hello(Hello {
        min_version: 1,
        max_version: 1,
        auth: HelloAuth::Enroll { secret: [0xAB; 32] },
        agent_version: marker.into(),
    });
    slave.send(&msg).unwrap();
    let wire = slave.take_output();
    assert!(!wire.windows(marker.len()).any(|w| w == marker.as_bytes()));
    assert!(!wire.windows(8).any(|w| w == [0xAB; 8]));
    let mut ev = Vec::new();
    master.receive(&wire, &mut ev).unwrap();
    assert_eq!(ev, vec![SessionEvent::Message(msg)]);
}

/// A `Hello` with an agent version of `len` bytes, encoded.
fn hello_with_agent_version(len: usize) -> Message {
    Message::Hello(Hello {
        min_version: u16::MAX,
        max_version: u16::MAX,
        auth: HelloAuth::Enroll { secret: [0xff; 32] },
        agent_version: "v".repeat(len),
    })
}

#[test]
fn the_pre_auth_limit_leaves_ample_room_for_a_hello() {
    // The slave sends its crate version ("0.1.0"); a hello with a 1 KiB agent version is
    // still far below the limit, and goes through a fresh responder.
    let typical = codec::encode_message(&hello_with_agent_version(16)).unwrap();
    assert!(typical.len() < 256, "{} bytes", typical.len());
    let (mut slave, mut master, _, _) = established_pair();
    assert_eq!(master.max_message_len(), PRE_AUTH_MESSAGE_LEN);
    let generous = hello_with_agent_version(1024);
    slave.send(&generous).unwrap();
    let mut ev = Vec::new();
    master.receive(&slave.take_output(), &mut ev).unwrap();
    assert_eq!(ev, vec![SessionEvent::Message(generous)]);
    // The initiator (the slave, facing a master whose key it checked) is not limited.
    assert_eq!(slave.max_message_len(), MAX_MESSAGE_LEN);
}

/// Encrypts `parts` as frames of one message, each `part_len` bytes, the last without
/// `MORE` only when `finish`; returns the wire bytes. Done by hand because [`Session::send`]
/// always finishes its message.
fn sealed_parts(slave: &mut Session, parts: usize, part_len: usize, finish: bool) -> Vec<u8> {
    let State::Transport(transport) = &mut slave.state else {
        panic!("not established");
    };
    let mut wire = Vec::new();
    let mut out = vec![0u8; MAX_FRAME_LEN];
    for i in 0..parts {
        let more = !(finish && i + 1 == parts);
        let mut plain = vec![u8::from(more)];
        plain.resize(part_len + 1, 0xAB);
        let n = transport.write_message(&plain, &mut out).unwrap();
        let flags = if more { FLAG_MORE } else { 0 };
        encode_frame(FrameKind::Data, flags, &out[..n], &mut wire).unwrap();
    }
    wire
}

#[test]
fn before_acceptance_a_responder_refuses_a_message_over_the_limit_in_small_frames() {
    let (mut slave, mut master, _, _) = established_pair();
    // 1 KiB frames with MORE set: eight fit, the ninth would pass 8 KiB.
    let wire = sealed_parts(&mut slave, 64, 1024, false);
    let mut ev = Vec::new();
    let mut refused_after = None;
    for (i, piece) in wire.chunks(4096).enumerate() {
        match master.receive(piece, &mut ev) {
            Ok(()) => assert!(master.held_bytes() < 4 * PRE_AUTH_MESSAGE_LEN),
            Err(SessionError::TooLarge(limit)) => {
                assert_eq!(limit, PRE_AUTH_MESSAGE_LEN);
                refused_after = Some(i + 1);
                break;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let pieces = refused_after.expect("the message was never refused");
    assert!(
        pieces * 4096 <= 2 * PRE_AUTH_MESSAGE_LEN + 4096,
        "{pieces} pieces"
    );
    assert!(ev.is_empty());
    assert!(matches!(
        master.receive(&[], &mut ev),
        Err(SessionError::Poisoned)
    ));
}

#[test]
fn before_acceptance_a_long_frame_is_refused_from_its_header() {
    let (mut slave, mut master, _, _) = established_pair();
    // One 60 KiB frame: refused once its 10-byte header is in, before the payload.
    let wire = sealed_parts(&mut slave, 1, 60 * 1024, false);
    let mut ev = Vec::new();
    assert!(matches!(
        master.receive(&wire[..HEADER_LEN_FOR_TESTS], &mut ev),
        Err(SessionError::TooLarge(PRE_AUTH_MESSAGE_LEN))
    ));
    assert!(master.held_bytes() < 1024, "{}", master.held_bytes());
}

const HEADER_LEN_FOR_TESTS: usize = crate::frame::HEADER_LEN;

#[test]
fn after_acceptance_the_full_limit_applies() {
    let (mut slave, mut master, _, _) = established_pair();
    slave.send(&hello()).unwrap();
    let mut ev = Vec::new();
    master.receive(&slave.take_output(), &mut ev).unwrap();
    assert_eq!(ev, vec![SessionEvent::Message(hello())]);
    // The application accepts the hello and lifts the limit: 960 KiB in 60 KiB frames go
    // through (the message stays open).
    master.set_max_message_len(usize::MAX);
    assert_eq!(master.max_message_len(), MAX_MESSAGE_LEN);
    let wire = sealed_parts(&mut slave, 16, 60 * 1024, false);
    ev.clear();
    master.receive(&wire, &mut ev).unwrap();
    assert!(ev.is_empty());
    assert_eq!(master.reassembly.len(), 16 * 60 * 1024);
}
