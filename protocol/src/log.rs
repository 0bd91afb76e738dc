//! The collection log's vocabulary (`collection.log` in every archive, one JSON object
//! per line): how serious a record is and what it is about. The collector writes only
//! these; readers (`verify`, reports) match on them instead of on strings.

use serde::{Deserialize, Serialize};

/// How serious a record is, in the collection log and on the progress stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// What a collection-log record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogEvent {
    /// The collection begins (version, root).
    Start,
    /// The collector's own footprint on the target.
    Footprint,
    /// A profile names something no artifact matches.
    Profile,
    /// An artifact entry is malformed or refers to something missing.
    Spec,
    /// An entry or collector was not run (by design, or after the deadline).
    NotRun,
    /// A path the artifact names is not on this root.
    Absent,
    /// A path could not be resolved inside the root.
    Resolve,
    /// A path was reached through symlinks, resolved inside the root.
    Symlink,
    /// Not stored, on purpose (type, limit, duplicate, another filesystem).
    Skipped,
    /// Stored up to a size limit or the deadline.
    Truncated,
    /// Changed while it was read; stored as read.
    Changed,
    /// Refused by the kernel (EACCES, EPERM).
    Denied,
    /// Could not be read for another reason (vanished, ESRCH...).
    Unreadable,
    /// Failed.
    Error,
    /// The `--timeout` deadline was reached.
    Timeout,
    /// Access times could not be preserved.
    Atime,
    /// How the target was chosen, and what about it looks wrong.
    Target,
    /// What a live-response collector found, in numbers.
    Live,
    /// The collection ends.
    End,
    /// The uploader: a preflight or commit note.
    Upload,
    /// The uploader retried a request.
    UploadRetry,
    /// The upload failed.
    UploadFailed,
    /// The object was written.
    Uploaded,
    /// The fallback output took over.
    Fallback,
}

impl LogEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            LogEvent::Start => "start",
            LogEvent::Footprint => "footprint",
            LogEvent::Profile => "profile",
            LogEvent::Spec => "spec",
            LogEvent::NotRun => "not_run",
            LogEvent::Absent => "absent",
            LogEvent::Resolve => "resolve",
            LogEvent::Symlink => "symlink",
            LogEvent::Skipped => "skipped",
            LogEvent::Truncated => "truncated",
            LogEvent::Changed => "changed",
            LogEvent::Denied => "denied",
            LogEvent::Unreadable => "unreadable",
            LogEvent::Error => "error",
            LogEvent::Timeout => "timeout",
            LogEvent::Atime => "atime",
            LogEvent::Target => "target",
            LogEvent::Live => "live",
            LogEvent::End => "end",
            LogEvent::Upload => "upload",
            LogEvent::UploadRetry => "upload_retry",
            LogEvent::UploadFailed => "upload_failed",
            LogEvent::Uploaded => "uploaded",
            LogEvent::Fallback => "fallback",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_on_the_wire_are_the_names_in_code() {
        for e in [
            LogEvent::NotRun,
            LogEvent::UploadRetry,
            LogEvent::Denied,
            LogEvent::Fallback,
        ] {
            assert_eq!(
                serde_json::to_string(&e).unwrap(),
                format!("\"{}\"", e.as_str())
            );
        }
        assert_eq!(serde_json::to_string(&Level::Warn).unwrap(), "\"warn\"");
    }
}
