//! cairn-collector: in-container forensic evidence collection.
//!
//! The modules follow the data, in order:
//! [`node`] (containers found offline on a node's disk, and their layers) →
//! [`source`] (where the root filesystem comes from and how it is walked safely) →
//! [`spec`] (which artifacts are selected: UAC-compatible YAML, profiles) →
//! [`collect`] (what collects them: the artifact engine, which also runs the native
//! [`live`] response collectors: processes, sockets, mounts, system, users) →
//! the archive (how they are packed: tar + zstd, manifest, log, summary: the
//! `cairn-archive` crate, which the launcher reads them back with) →
//! [`sink`] (where the bytes go: a file, stdout or an upload, hashed on the way).
//! [`sandbox`] confines the collector where it reads a node or another container.
#![forbid(unsafe_code)]

pub mod collect;
pub mod live;
pub mod node;
pub mod progress;
pub mod sandbox;
pub mod sink;
pub mod source;
pub mod spec;
