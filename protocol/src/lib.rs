//! The contract between `cairn-collector` and `cairn`: what the collector says on its
//! progress stream and in its exit status, and what the launcher may ask of it.
//!
//! The collector runs in a container an attacker controls, so everything the launcher
//! reads from a pod is untrusted. It is parsed here and only here, and validated as it
//! is parsed ([`bounded`]): a sha256 is 64 hex digits, counts are bounded, text is
//! capped, and an event this version does not know is kept as [`event::Event::Unknown`],
//! never trusted. Both binaries build their side from the same types, so a renamed
//! field fails to compile instead of reading as zero.
#![forbid(unsafe_code)]

pub mod bounded;
pub mod duration;
pub mod escape;
pub mod event;
pub mod exit;
pub mod flags;
pub mod log;
pub mod runtime;
pub mod size;
pub mod yara;

pub use event::{Counts, Done, Event, Line, PartReceipt, Placed, UploadReport};
pub use log::{Level, LogEvent};
