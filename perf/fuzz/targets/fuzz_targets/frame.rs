//! libFuzzer entry for the `frame` check (see `fuzz_checks::frame`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::frame(data));
