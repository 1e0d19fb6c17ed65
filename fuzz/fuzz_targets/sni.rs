//! cargo-fuzz target `sni`: see `fuzz_harness::sni` (`cargo fuzz build --features sni`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::sni(data));
