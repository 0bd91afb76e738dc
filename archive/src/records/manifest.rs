//! The records that describe an archive: one [`ManifestRecord`] per object met (in
//! `manifest.jsonl` and its parts), and the collection log's [`LogRecord`]s.

use crate::text::lossless;
use cairn_protocol::{Level, LogEvent};
use serde::{Deserialize, Serialize};

/// What became of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Stored whole.
    Complete,
    /// Stored up to a size limit or the deadline.
    Truncated,
    /// Changed (size, mtime, inode) while it was read; stored as read.
    Changed,
    /// Not stored, on purpose (type, limit, duplicate); `reason` says why.
    Skipped,
    /// Not stored: permission denied.
    Denied,
    /// Not stored: it vanished or failed to read.
    Error,
}

impl Status {
    /// How serious this status is in the collection log (complete records are not
    /// logged; skips are by design).
    pub fn log_level(self) -> Level {
        match self {
            Status::Complete | Status::Skipped => Level::Info,
            Status::Error => Level::Error,
            Status::Truncated | Status::Changed | Status::Denied => Level::Warn,
        }
    }

    /// Adds one to this status's counter.
    pub fn count(self, c: &mut cairn_protocol::Counts) {
        match self {
            Status::Complete => c.complete += 1,
            Status::Truncated => c.truncated += 1,
            Status::Changed => c.changed += 1,
            Status::Skipped => c.skipped += 1,
            Status::Denied => c.denied += 1,
            Status::Error => c.errors += 1,
        }
    }

    /// The collection-log event of a record with this status.
    pub fn log_event(self) -> LogEvent {
        match self {
            Status::Truncated => LogEvent::Truncated,
            Status::Changed => LogEvent::Changed,
            Status::Skipped => LogEvent::Skipped,
            Status::Denied => LogEvent::Denied,
            Status::Complete | Status::Error => LogEvent::Error,
        }
    }
}

/// What kind of object a record is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    #[default]
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Unknown,
    /// A file the collector generated (a live-response record, a find list).
    Output,
}

impl ObjectKind {
    /// The name used in the manifest, drift records and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::File => "file",
            ObjectKind::Dir => "dir",
            ObjectKind::Symlink => "symlink",
            ObjectKind::Fifo => "fifo",
            ObjectKind::Socket => "socket",
            ObjectKind::CharDevice => "char_device",
            ObjectKind::BlockDevice => "block_device",
            ObjectKind::Unknown => "unknown",
            ObjectKind::Output => "output",
        }
    }
}

/// One line of `manifest.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct ManifestRecord {
    /// Path in the archive (absent when nothing was stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The exact path bytes in hex, when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    /// Path on the collected root (an API path in the Kubernetes evidence; empty for
    /// a generated output).
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_hex: Option<String>,
    #[serde(rename = "type")]
    pub kind: ObjectKind,
    /// Bytes stored in the archive.
    pub size: u64,
    /// Size of the source when examined.
    pub source_size: u64,
    /// Permission bits, `0644`.
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    pub inode: u64,
    pub nlink: u64,
    pub mtime: String,
    pub atime: String,
    pub ctime: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub btime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    /// `MAJOR:MINOR` of a device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sparse: bool,
    /// The artifact that met it.
    pub artifact: String,
    /// Set on every record the collector writes.
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ManifestRecord {
    /// Sets the archive path (lossless for non-UTF-8 names).
    pub fn set_path(&mut self, archive_path: &[u8]) {
        let (p, hex) = lossless(archive_path);
        self.path = Some(p);
        self.path_hex = hex;
    }

    /// The exact archive path bytes this record names.
    pub fn path_bytes(&self) -> Option<Vec<u8>> {
        match (&self.path_hex, &self.path) {
            (Some(h), _) => hex::decode(h).ok(),
            (None, Some(p)) => Some(p.as_bytes().to_vec()),
            _ => None,
        }
    }

    /// The exact source path bytes.
    pub fn source_bytes(&self) -> Vec<u8> {
        self.source_hex
            .as_ref()
            .and_then(|h| hex::decode(h).ok())
            .unwrap_or_else(|| self.source.as_bytes().to_vec())
    }
}

/// One line of `collection.log`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogRecord {
    pub time: String,
    pub level: Level,
    pub event: LogEvent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    pub message: String,
    /// The collector's footprint, on the `footprint` record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<super::summary::Footprint>,
}
