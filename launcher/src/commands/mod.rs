//! One file per `cairn` command: each takes its parsed arguments and returns the exit
//! status.

pub mod bootstrap;
pub mod collect;
pub mod image;
pub mod pods;
pub mod report;
pub mod sidecar;
pub mod timeline;
pub mod version;
