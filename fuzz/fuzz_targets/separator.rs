//! A separator sheet: a decoded code's text read as a sheet (case code, role, document type), and a
//! small raster built from the bytes looked at for a QR, Code 128, DataMatrix or PATCH-T mark.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sohoa::fuzzed::separator(data));
