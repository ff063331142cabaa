//! sohoa turns scanned paper into verified digital case files.
//!
//! The flow, stage by stage (each module is one stage; see ARCHITECTURE.md):
//! [`intake`] finds and captures inputs → [`store`] keeps their bytes and records →
//! [`pipeline`] runs jobs: [`pages`] reads stored inputs, [`route`] decides each page's case,
//! [`encode`] prepares images, [`bundle`] writes PDFs → [`view`] shows states as folders →
//! [`fixity`] proves the bytes are still what was recorded → [`deliver`] tells the one-stop system.

// First: `util::words` declares `stored_words!`, which every module below uses by name.
#[macro_use]
pub mod util;

pub mod api;
pub mod bundle;
pub mod cli;
pub mod deliver;
pub mod encode;
pub mod error;
pub mod export;
pub mod fixity;
pub mod fuzzed;
pub mod import;
pub mod intake;
pub mod normalize;
pub mod ocr;
pub mod pages;
pub mod pipeline;
pub mod profile;
pub mod report;
pub mod route;
pub mod separate;
pub mod serve;
pub mod store;
pub mod view;
pub mod watch;
