//! A one-stop system's case export: CSV, JSON or JSON Lines (chosen by the first byte), read row by
//! row into cases and refusals.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sohoa::fuzzed::case_import(data));
