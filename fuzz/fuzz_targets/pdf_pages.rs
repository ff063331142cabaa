//! Scanner PDFs (page images in JPEG, Flate, CCITT, JBIG2, indexed) and born-digital PDFs (read whole:
//! cross-reference, pages, every content stream decoded within limits before one is attached as it is).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| sohoa::fuzzed::pdf_pages(data));
