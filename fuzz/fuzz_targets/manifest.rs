//! A manifest beside a scan: a sidecar (`scan.jpg.json`) when the first byte is even, else the
//! folder's `manifest.json` with per-file entries.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sohoa::fuzzed::manifest(data));
