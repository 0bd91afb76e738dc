//! Every record the collector writes and anything reads back, as serde types: both
//! binaries build their side from these, so a renamed field fails to compile instead
//! of silently emptying a finding rule. [`crate::member`] says where each one is.
//!
//! Read back, each record comes from a hostile target: its lines are bounded before
//! they are parsed ([`crate::read::lines`]), and a line that is not its type is
//! counted, never trusted.

pub mod bodyfile;
pub mod capped;
pub mod case;
pub mod drift;
pub mod k8s;
pub mod manifest;
pub mod memory;
pub mod mounts;
pub mod network;
pub mod node;
pub mod process;
pub mod summary;
pub mod system;
pub mod users;

pub use bodyfile::BodyfileLine;
pub use manifest::{LogRecord, ManifestRecord, ObjectKind, Status};
