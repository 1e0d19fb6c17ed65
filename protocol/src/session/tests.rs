//! Unit tests of the session, two in-memory peers with no sockets: the handshake and
//! messages both ways, a wrong master key, replayed, forged, truncated and reordered frames,
//! large messages split and reassembled, data before the handshake, and no plaintext on the
//! wire.

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
