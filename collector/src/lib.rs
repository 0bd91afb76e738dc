//! cairn-collector: in-container forensic evidence collection.
//!
//! The modules follow the data, in order:
//! [`node`] (containers found offline on a node's disk, and their layers) →
//! [`source`] (where the root filesystem comes from and how it is walked safely) →
//! [`spec`] (which artifacts are selected: UAC-compatible YAML, profiles) →
//! [`collect`] (what collects them: the artifact engine, which also runs the native
//! [`live`] response collectors: processes, sockets, mounts, system, users) →
//! [`archive`] (how they are packed: tar + zstd, manifest, log, summary) →
//! [`sink`] (where the bytes go: a file or stdout, hashed on the way).
//! [`verify`] reads an archive back and checks every hash.
#![forbid(unsafe_code)]

pub mod archive;
pub mod collect;
pub mod hash;
pub mod lines;
pub mod live;
pub mod node;
pub mod progress;
pub mod sink;
pub mod source;
pub mod spec;
pub mod units;
pub mod verify;
