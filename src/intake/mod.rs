//! Intake: finding inputs in an inbox and capturing them.
//!
//! Capture is the one step that reads an inbox file: in one streaming pass it is hashed into the blob
//! store, made durable, and recorded (with its routing hints) in one transaction. Only after that commit
//! may the file leave the inbox. Everything downstream works on the stored bytes.

pub mod capture;
pub mod scan;

pub use capture::{CaptureReport, Capturer};
pub use scan::{Candidate, Entry, Marker, Scan, Walk, scan_inbox};
