//! The collection log, kept compressed in memory until the end of the archive: one
//! [`LogRecord`] per line, counting warnings and errors as they are recorded.

use super::Spool;
use crate::records::summary::Footprint;
use crate::records::LogRecord;
use crate::text::{lossless, now_rfc3339};
use cairn_protocol::{Level, LogEvent};

/// The collection log.
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

    /// Appends an entry with the collector's footprint as its `data`.
    pub fn record_data(
        &mut self,
        level: Level,
        event: LogEvent,
        artifact: Option<&str>,
        path: Option<&[u8]>,
        message: impl Into<String>,
        data: Option<Footprint>,
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
            time: now_rfc3339(),
            level,
            event,
            artifact: artifact.map(str::to_owned),
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
