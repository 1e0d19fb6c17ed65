//! Every rkyv type that crosses the wire (or is stored), decoded with checked access.

use protocol::ops::docker::DockerOp;
use protocol::ops::docker_reply::DockerReply;
use protocol::ops::host::{HostOp, HostReply};
use protocol::ops::validate;
use protocol::ops::{OpError, Progress};
use protocol::{
    Chunk, DesiredState, Heartbeat, Hello, HostInfo, Message, MetricSample, ObservedState, Reject,
    Request, RequestBody, Response, Welcome,
};
use rkyv::api::high::{HighDeserializer, HighSerializer, HighValidator};
use rkyv::bytecheck::CheckBytes;
use rkyv::rancor;
use rkyv::ser::allocator::ArenaHandle;
use rkyv::util::AlignedVec;

/// The types the first byte of a `message` input selects (modulo their number), in order.
/// `Message` and `ResponseBody` go through the decoders the sessions use
/// ([`protocol::decode_message`], [`protocol::decode_response_body`]), `MetricSample`
/// as the master's store decodes it; the others are the types nested in them, decoded
/// alone with the same checked access so the fuzzer reaches each one's validation directly.
pub const MESSAGE_TYPES: &[&str] = &[
    "Message",
    "ResponseBody",
    "Hello",
    "Welcome",
    "Reject",
    "HostInfo",
    "Heartbeat",
    "Request",
    "Response",
    "Chunk",
    "DesiredState",
    "ObservedState",
    "HostOp",
    "DockerOp",
    "HostReply",
    "DockerReply",
    "Progress",
    "OpError",
    "MetricSample",
];

/// Target `message`: byte 0 selects a type of [`MESSAGE_TYPES`], the rest is read as its
/// archive.
///
/// Checks: validation refuses or accepts without panicking, and whatever is accepted
/// re-encodes to an archive that decodes to a value encoding to the same bytes (the
/// decoded value is really a value of the type). A decoded host or Docker operation also
/// goes through the argument checks the slave runs on it before acting.
pub fn message(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    match usize::from(selector) % MESSAGE_TYPES.len() {
        0 => {
            if let Ok(m) = protocol::decode_message(bytes) {
                let encoded = protocol::encode_message(&m).expect("a decoded message encodes");
                let again = protocol::decode_message(&encoded).expect("re-encoding decodes");
                assert_eq!(
                    protocol::encode_message(&again).expect("encodes"),
                    encoded,
                    "Message does not round-trip"
                );
                if let Message::Request(r) = &m {
                    check_request(&r.body);
                }
            }
        }
        1 => {
            if let Ok(b) = protocol::decode_response_body(bytes) {
                let encoded = protocol::encode_response_body(&b).expect("encodes");
                let again = protocol::decode_response_body(&encoded).expect("decodes");
                assert_eq!(
                    protocol::encode_response_body(&again).expect("encodes"),
                    encoded,
                    "ResponseBody does not round-trip"
                );
            }
        }
        2 => {
            round_trip::<Hello>(bytes);
        }
        3 => {
            round_trip::<Welcome>(bytes);
        }
        4 => {
            round_trip::<Reject>(bytes);
        }
        5 => {
            round_trip::<HostInfo>(bytes);
        }
        6 => {
            round_trip::<Heartbeat>(bytes);
        }
        7 => {
            if let Some(r) = round_trip::<Request>(bytes) {
                check_request(&r.body);
            }
        }
        8 => {
            round_trip::<Response>(bytes);
        }
        9 => {
            round_trip::<Chunk>(bytes);
        }
        10 => {
            round_trip::<DesiredState>(bytes);
        }
        11 => {
            round_trip::<ObservedState>(bytes);
        }
        12 => {
            if let Some(op) = round_trip::<HostOp>(bytes) {
                let _ = validate::host_op(&op);
            }
        }
        13 => {
            if let Some(op) = round_trip::<DockerOp>(bytes) {
                let _ = validate::docker_op(&op);
            }
        }
        14 => {
            round_trip::<HostReply>(bytes);
        }
        15 => {
            round_trip::<DockerReply>(bytes);
        }
        16 => {
            round_trip::<Progress>(bytes);
        }
        17 => {
            round_trip::<OpError>(bytes);
        }
        // The master's performance store reads samples with exactly this call
        // (`master::samples::decode_sample`: `rkyv::from_bytes::<MetricSample, _>`).
        _ => {
            round_trip::<MetricSample>(bytes);
        }
    }
}

/// The slave's argument checks on a decoded request (`slave::hostops`, `slave::docker::ops`).
fn check_request(body: &RequestBody) {
    match body {
        RequestBody::Host(op) => {
            let _ = validate::host_op(op);
        }
        RequestBody::Docker(op) => {
            let _ = validate::docker_op(op);
        }
        RequestBody::Ping | RequestBody::HostInfo | RequestBody::Cancel { .. } => {}
    }
}

/// Decodes `bytes` as a `T` with rkyv's checked API (what [`protocol::codec`] does for whole
/// messages) and, when that succeeds, checks that the value round-trips.
fn round_trip<T>(bytes: &[u8]) -> Option<T>
where
    T: rkyv::Archive
        + for<'a> rkyv::Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>,
    T::Archived: for<'a> CheckBytes<HighValidator<'a, rancor::Error>>
        + rkyv::Deserialize<T, HighDeserializer<rancor::Error>>,
{
    let value = rkyv::from_bytes::<T, rancor::Error>(bytes).ok()?;
    let encoded = rkyv::to_bytes::<rancor::Error>(&value).expect("a decoded value encodes");
    let again = rkyv::from_bytes::<T, rancor::Error>(&encoded).expect("re-encoding decodes");
    let encoded_again = rkyv::to_bytes::<rancor::Error>(&again).expect("encodes");
    assert_eq!(
        encoded.as_slice(),
        encoded_again.as_slice(),
        "{} does not round-trip",
        std::any::type_name::<T>()
    );
    Some(value)
}
