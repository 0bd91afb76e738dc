//! The process scan's records: one [`Process`] per PID (`processes.jsonl`), its open
//! descriptors ([`Fd`], `fds.jsonl`) and memory maps ([`MemoryMap`], `maps.jsonl`),
//! and one [`Executable`] per process with an executable (`executables.jsonl`). Text
//! from `/proc` is escaped ([`crate::text::escape`]) unless said otherwise.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Real, effective, saved and filesystem IDs, as `/proc/PID/status` gives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ids {
    pub real: u64,
    pub effective: u64,
    pub saved: u64,
    pub filesystem: u64,
}

/// Capability sets, as hex masks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inheritable: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permitted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambient: Option<String>,
}

/// One process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Process {
    pub pid: i32,
    /// From `/proc/PID/stat`, when it could be read (its fields beside `pid`).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<Stat>,
    pub uid: Option<Ids>,
    pub gid: Option<Ids>,
    #[serde(default)]
    pub groups: Vec<u64>,
    #[serde(default)]
    pub capabilities: Capabilities,
    /// `disabled`, `strict`, `filter`, or the raw value.
    pub seccomp: Option<String>,
    pub no_new_privs: Option<bool>,
    pub tracer_pid: Option<i64>,
    pub nspid: Option<Vec<u64>>,
    /// The arguments, each escaped.
    #[serde(default)]
    pub cmdline: Vec<String>,
    /// The raw `/proc/PID/cmdline` bytes, NULs included, in hex.
    #[serde(default)]
    pub cmdline_hex: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// The executable was deleted from disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_deleted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// Namespace inodes by name (`net`, `mnt`, `pid`...).
    #[serde(default)]
    pub namespaces: BTreeMap<String, u64>,
    /// The lines of `/proc/PID/cgroup` (lossy UTF-8).
    #[serde(default)]
    pub cgroup: Vec<String>,
    /// `NAME=VALUE`, secret-looking values redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environ: Option<Vec<String>>,
    /// The names whose values were redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environ_redacted: Option<Vec<String>>,
    pub fd_count: u64,
    pub map_count: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exited_during_scan: bool,
    /// What could not be read, and why (`stat`, `environ`...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unreadable: BTreeMap<String, String>,
}

/// What `/proc/PID/stat` says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub ppid: i32,
    /// The name between the parentheses, escaped.
    pub comm: String,
    pub state: String,
    pub pgrp: i32,
    pub session: i32,
    pub tty_nr: i32,
    pub threads: i64,
    /// RFC 3339, when the boot time is known.
    pub start_time: Option<String>,
    pub start_ticks: u64,
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    pub vsz_bytes: u64,
}

impl Process {
    pub fn ppid(&self) -> Option<i32> {
        self.stat.as_ref().map(|s| s.ppid)
    }
    pub fn comm(&self) -> &str {
        self.stat.as_ref().map_or("", |s| s.comm.as_str())
    }
    pub fn start_time(&self) -> Option<&str> {
        self.stat.as_ref().and_then(|s| s.start_time.as_deref())
    }
    pub fn deleted(&self) -> bool {
        self.exe_deleted == Some(true)
    }
    /// The real UID.
    pub fn uid(&self) -> Option<u64> {
        self.uid.map(|u| u.real)
    }
}

/// One open descriptor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fd {
    pub pid: i32,
    pub fd: i32,
    /// `socket`, `pipe`, `anon_inode`, `memfd`, `file`, `other`.
    pub kind: String,
    /// A socket's or pipe's inode.
    pub inode: Option<u64>,
    /// The link's target, with its ` (deleted)` suffix.
    pub target: String,
    pub deleted: bool,
}

/// One memory mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryMap {
    pub pid: i32,
    /// Addresses in hex, without `0x`.
    pub start: String,
    pub end: String,
    pub perms: String,
    pub offset: String,
    pub dev: String,
    pub inode: u64,
    /// The mapped file, escaped; none for anonymous memory.
    pub path: Option<String>,
}

/// A running process's executable: where it is, and its sha256.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Executable {
    pub pid: i32,
    pub comm: String,
    pub exe: String,
    /// Deleted from disk (the process runs what is no longer there).
    pub deleted: bool,
    /// In a place anyone may write (`/tmp`, `/var/tmp`, `/dev/shm`, a home).
    pub world_writable_place: bool,
    pub size: u64,
    pub inode: u64,
    /// Of the whole executable; none when its copy was cut or the read failed.
    pub sha256: Option<String>,
    /// The copy's member path in the archive.
    pub copy: Option<String>,
    /// This is the collector itself.
    pub collector: bool,
}
