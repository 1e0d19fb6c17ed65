//! cargo-fuzz target `frame_decoder`: see `fuzz_harness::frame_decoder`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::frame_decoder(data));
