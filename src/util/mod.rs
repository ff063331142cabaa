//! Small helpers shared by several stages; nothing here knows about cases or pipelines.

pub mod alarm;
pub mod cpu;
pub mod metrics;
pub mod ordered;
pub mod retry;
pub mod text;
pub mod time;
