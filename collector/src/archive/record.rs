//! The records that describe an archive: one manifest line per entry met, and the
//! collection log (every skip, denial and error), both JSON lines.

use super::Spool;
use crate::source::Meta;
use crate::units::{lossless, octal_mode, rfc3339};
use cairn_protocol::{Level, LogEvent};
use serde::Serialize;

/// What became of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

/// One line of `manifest.jsonl`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ManifestRecord {
    /// Path in the archive (absent when nothing was stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    /// Path on the collected root.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_hex: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Bytes stored in the archive.
    pub size: u64,
    /// Size of the source when examined.
    pub source_size: u64,
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    pub inode: u64,
    pub nlink: u64,
    pub mtime: String,
    pub atime: String,
    pub ctime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub btime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sparse: bool,
    pub artifact: String,
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ManifestRecord {
    /// A record for an object on the root, filled from its metadata.
    pub fn for_source(source: &[u8], meta: &Meta, artifact: &str) -> ManifestRecord {
        let (s, s_hex) = lossless(source);
        let kind = meta.kind();
        ManifestRecord {
            source: s,
            source_hex: s_hex,
            kind: kind.as_str(),
            source_size: meta.size,
            mode: octal_mode(meta.mode),
            uid: meta.uid,
            gid: meta.gid,
            inode: meta.ino,
            nlink: meta.nlink,
            mtime: rfc3339(meta.mtime.0, meta.mtime.1),
            atime: rfc3339(meta.atime.0, meta.atime.1),
            ctime: rfc3339(meta.ctime.0, meta.ctime.1),
            btime: meta.btime.map(|b| rfc3339(b.0, b.1)),
            device: matches!(
                kind,
                crate::source::Kind::CharDevice | crate::source::Kind::BlockDevice
            )
            .then(|| format!("{}:{}", meta.rdev.0, meta.rdev.1)),
            sparse: meta.is_sparse(),
            artifact: artifact.to_owned(),
            ..ManifestRecord::default()
        }
    }

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
}

/// One line of `collection.log`.
#[derive(Debug, Clone, Serialize)]
pub struct LogRecord<'a> {
    pub time: String,
    pub level: Level,
    pub event: LogEvent,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    pub message: String,
    /// Structured detail, as JSON (the footprint), rather than JSON inside `message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// The collection log, kept compressed in memory until the end of the archive.
#[derive(Debug, Default)]
pub struct CollectionLog {
    spool: Spool,
    pub warnings: u64,
    pub errors: u64,
}

impl CollectionLog {
    /// Appends an entry.
    pub fn record(
        &mut self,
        level: Level,
        event: LogEvent,
        artifact: Option<&str>,
        path: Option<&[u8]>,
        message: impl Into<String>,
    ) {
        self.record_data(level, event, artifact, path, message, None);
    }

    /// Appends an entry with structured detail in `data`.
    pub fn record_data(
        &mut self,
        level: Level,
        event: LogEvent,
        artifact: Option<&str>,
        path: Option<&[u8]>,
        message: impl Into<String>,
        data: Option<serde_json::Value>,
    ) {
        match level {
            Level::Warn => self.warnings += 1,
            Level::Error => self.errors += 1,
            Level::Info => {}
        }
        let (path, path_hex) = match path.map(lossless) {
            Some((p, h)) => (Some(p), h),
            None => (None, None),
        };
        let rec = LogRecord {
            time: crate::units::now_rfc3339(),
            level,
            event,
            artifact,
            path,
            path_hex,
            message: message.into(),
            data,
        };
        if let Ok(mut line) = serde_json::to_vec(&rec) {
            line.push(b'\n');
            self.spool.push(&line);
        }
    }

    pub fn spool(&mut self) -> &mut Spool {
        &mut self.spool
    }
}
