//! cargo-fuzz target `session_handshake`: see `fuzz_harness::session_handshake`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::session_handshake(data));
