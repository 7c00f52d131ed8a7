//! libFuzzer entry for the `bodies` check (see `fuzz_checks::bodies`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::bodies(data));
