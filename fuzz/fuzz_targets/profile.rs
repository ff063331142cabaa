//! A pipeline profile (TOML): parsed and checked, or refused with the reasons.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sohoa::fuzzed::profile(data));
