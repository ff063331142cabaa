//! JPEG structure check, PNG and TIFF: every page of a scan is inspected and loaded as capture and
//! the render do. A scan must give pages or a clean refusal, never a panic or an unbounded allocation.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sohoa::fuzzed::image_pages(data));
