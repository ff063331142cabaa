//! A station's upload: the bytes as the body of `POST /api/v1/upload` (a multipart form), its `file`
//! part found, named and streamed within a limit.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sohoa::fuzzed::upload_form(data));
