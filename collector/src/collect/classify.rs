//! What an error opening or reading an object means for its manifest record.

use cairn_archive::records::Status;
use std::io;

/// Classifies an open/read error into a manifest status and a reason.
pub fn classify(e: &io::Error) -> (Status, String) {
    match e.kind() {
        io::ErrorKind::PermissionDenied => (Status::Denied, format!("permission denied: {e}")),
        io::ErrorKind::NotFound => (Status::Error, "vanished before it could be read".into()),
        io::ErrorKind::InvalidInput => (Status::Skipped, format!("changed type: {e}")),
        _ if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => (
            Status::Skipped,
            "replaced by a symlink before it could be read".into(),
        ),
        _ => (Status::Error, e.to_string()),
    }
}
