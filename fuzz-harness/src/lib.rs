//! The bodies of the cargo-fuzz targets in `fuzz/` (one function per target), kept in a
//! library of the main workspace so that a stable `cargo test` replays every file of the
//! committed fuzz corpus (`fuzz/corpus/<target>/`) through exactly the code the fuzzer ran
//! (`tests/replay_corpus.rs`). The targets in `fuzz/fuzz_targets/` only call these.
//!
//! Each function takes arbitrary bytes and must neither panic, hang nor allocate without
//! bound; where the code under test promises more than that (a decoded message re-encodes
//! to itself, a forged handshake never authenticates), the function asserts it, so a broken
//! promise is a crash the fuzzer reports.
//!
//! | target              | function                 | code under test                            |
//! |---------------------|--------------------------|--------------------------------------------|
//! | `frame_decoder`     | [`frame_decoder`]        | `protocol::FrameDecoder`                   |
//! | `session_handshake` | [`session_handshake`]    | `protocol::Session`, both handshake sides  |
//! | `session_transport` | [`session_transport`]    | `protocol::Session` after the handshake    |
//! | `message`           | [`message`]              | every rkyv message type, checked decoding  |
//! | `config`            | `config`                 | master, slave and gateway YAML loaders     |
//! | `sni`               | `sni`                    | the gateway's TLS ClientHello reader       |
//!
//! `config` needs the `config` feature (on by default), which brings in the master, slave
//! and gateway crates; without it the protocol targets build quickly (see `.ci/run`). `sni`
//! needs the `sni` feature (on by default), which brings in the gateway crate.

#[cfg(feature = "config")]
mod config;
mod frame;
mod message;
mod session;
#[cfg(feature = "sni")]
mod sni;

#[cfg(feature = "config")]
pub use config::{CONFIG_ROLES, config};
pub use frame::frame_decoder;
pub use message::{MESSAGE_TYPES, message};
pub use session::{session_handshake, session_transport};
#[cfg(feature = "sni")]
pub use sni::sni;

/// A target's body: takes one input, panics on a broken promise.
pub type TargetBody = fn(&[u8]);

/// Every target, by the name of its corpus directory, with its body.
pub const TARGETS: &[(&str, TargetBody)] = &[
    ("frame_decoder", frame_decoder),
    ("session_handshake", session_handshake),
    ("session_transport", session_transport),
    ("message", message),
    #[cfg(feature = "config")]
    ("config", config),
    #[cfg(feature = "sni")]
    ("sni", sni),
];
