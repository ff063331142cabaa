//! Bundling pages into PDF files: the streaming writer and the XMP metadata of PDF/A.

pub mod pdf;
pub mod text_layer;
pub mod xmp;

pub use pdf::{DocInfo, PdfWriter, Placement, SRGB_ICC};
