//! Small helpers shared by several stages; nothing here knows about cases or pipelines.

// First, so that `stored_words!` is in scope in every module declared after `util` in lib.rs.
#[macro_use]
pub mod words;

pub mod alarm;
pub mod child;
pub mod cpu;
pub mod lang;
pub mod memory;
pub mod metrics;
pub mod ordered;
pub mod panic;
pub mod retry;
pub mod text;
pub mod time;
