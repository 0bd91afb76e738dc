//! How evidence is packed: one tar stream (PAX where names need it) compressed with
//! multi-threaded zstd as it is produced ([`writer`]), with a per-entry sha256 computed
//! while streaming (on a second thread for big members: `hash_thread`). The manifest
//! and the collection log ([`log`]) are held compressed in memory ([`spool`]) and
//! written at the end, so memory stays small and nothing is staged on disk. [`bundle`]
//! writes a small archive of documents in the same format into a new file ([`file`]):
//! the launcher's Kubernetes evidence.

pub mod bundle;
pub mod file;
mod hash_thread;
pub mod log;
pub mod spool;
pub mod writer;

pub use bundle::Bundle;
pub use file::{checksum_file, Sealed, SealedFile};
pub use log::CollectionLog;
pub use spool::Spool;
pub use writer::{name_fits, ArchiveWriter, EntryHeader, StreamOutcome};
