//! libFuzzer entry for the `http` check (see `fuzz_checks::http`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::http(data));
