//! cargo-fuzz target `session_transport`: see `fuzz_harness::session_transport`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::session_transport(data));
