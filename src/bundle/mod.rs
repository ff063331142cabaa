//! Bundling pages into PDF files.

pub mod pdf;

pub use pdf::{DocInfo, PdfWriter};
