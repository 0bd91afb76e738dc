//! Process memory (`live_response/memory/`): per process what was captured into its
//! core file or why not ([`MemoryProcess`], `processes.jsonl`), and per region of its
//! address space what was stored and what was skipped, with the reason
//! ([`MemoryRegion`], `regions.jsonl`). Text from `/proc` is escaped
//! ([`crate::text::escape`]).

use serde::{Deserialize, Serialize};

/// One process whose memory was asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryProcess {
    pub pid: i32,
    pub comm: String,
    /// The core file's member (`live_response/memory/PID.core`), when one was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Readable regions, and of those how many were stored (whole or in part).
    pub regions: u64,
    pub regions_stored: u64,
    /// Resident bytes found in readable regions, and bytes stored.
    pub resident_bytes: u64,
    pub stored_bytes: u64,
    /// Bytes that were resident when the layout was taken and could not be read when
    /// their turn came (the mapping changed or vanished): zeros in the core.
    pub vanished_bytes: u64,
    /// Threads in the core (one `NT_PRSTATUS` each), and of them those whose stack
    /// pointer and program counter were known (blocked in the kernel when read).
    pub threads: u64,
    pub threads_with_registers: u64,
    /// Why nothing, or not everything, was captured (a denial, a cap, the deadline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Files it holds open that are gone from the filesystem (deleted, memfd).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<HeldFile>,
}

/// A file a process holds open that is gone from the filesystem, and its copy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeldFile {
    pub fd: i32,
    /// The descriptor's link (`/tmp/x (deleted)`, `/memfd:NAME`), escaped.
    pub target: String,
    pub size: u64,
    /// The copy's member (`live_response/memory/fds/PID_FD_NAME`); the first
    /// descriptor's copy for a file several hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy: Option<String>,
    /// Of the copy, when it is whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub complete: bool,
}

/// One mapping of a process, as `/proc/PID/maps` gave it (the same fields as
/// `maps.jsonl`), and what became of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemoryRegion {
    #[serde(flatten)]
    pub map: super::process::MemoryMap,
    /// Resident pages' bytes (from pagemap), and of them the bytes stored in the core.
    pub resident_bytes: u64,
    pub stored_bytes: u64,
    /// Stored runs of resident pages, as PT_LOAD segments of the core.
    pub segments: u64,
    /// Why the region was not stored, or not whole (not readable, a device mapping,
    /// not resident, a cap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// A YARA rule that matched (`live_response/yara/hits.jsonl`): where, as a process's
/// memory (`pid`, `address`, the mapping's `region_start`) or its executable (`path`
/// and `sha256`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct YaraHit {
    pub rule: String,
    pub namespace: String,
    pub tags: Vec<String>,
    pub meta: std::collections::BTreeMap<String, String>,
    /// `memory`, `executable` or `file`.
    pub scanned: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    /// Hex address of the first string match, in the process's address space.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_start: Option<String>,
    /// The file scanned (escaped) and its sha256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The first matching string's identifier (`$a`), when one matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
    /// When the rule matched (RFC 3339, UTC): the time of the hit's timeline event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}
