//! Mounts: one [`Mount`] per line of the collector's mount table (`mountinfo.jsonl`),
//! each filesystem's capacity ([`Filesystem`], `filesystems.json`), and the overlay
//! layers of the root and of every overlay mount ([`Overlays`], `overlay.json`).

use serde::{Deserialize, Serialize};

/// One mount, as `/proc/self/mountinfo` gives it (paths escaped).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mount {
    pub mount_id: u32,
    pub parent_id: u32,
    /// `MAJOR:MINOR`.
    pub device: String,
    pub root: String,
    pub mount_point: String,
    pub options: String,
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

/// A filesystem's capacity, or why it is not known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Capacity {
    Known {
        block_size: u64,
        size_bytes: u64,
        free_bytes: u64,
        available_bytes: u64,
        inodes: u64,
        inodes_free: u64,
    },
    /// Not asked (a network filesystem, whose statfs could block).
    Skipped {
        skipped: String,
    },
    Error {
        error: String,
    },
}

/// A mounted filesystem and its capacity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filesystem {
    pub mount_point: String,
    pub fstype: String,
    pub source: String,
    pub capacity: Capacity,
}

/// An overlay mount's layers: host paths a responder needs to reach the node later.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlay {
    pub mount_point: String,
    pub upperdir: Option<String>,
    pub lowerdir: Vec<String>,
    pub workdir: Option<String>,
}

/// The root's overlay and every overlay mount.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlays {
    pub root: Option<Overlay>,
    pub all: Vec<Overlay>,
}
