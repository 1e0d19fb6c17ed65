//! cargo-fuzz target `message`: see `fuzz_harness::message`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::message(data));
