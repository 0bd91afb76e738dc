//! How evidence is packed: one tar stream (PAX where names need it) compressed with
//! multi-threaded zstd as it is produced ([`writer`]), with a per-entry sha256 computed
//! while streaming. The manifest and the collection log are held compressed in memory
//! ([`spool`]) and written at the end, so memory stays small and nothing is staged on disk.
//! [`bundle`] writes a small archive of documents in the same format (the launcher's
//! Kubernetes evidence).

pub mod bundle;
pub mod guard;
pub mod record;
pub mod spool;
pub mod writer;

pub use record::{CollectionLog, ManifestRecord, Status};
pub use spool::Spool;
pub use writer::{ArchiveWriter, EntryHeader, StreamOutcome};

/// Top folder of copied files: `files/<original path>`.
pub const FILES_DIR: &str = "files";
/// Top folder of what the node keeps about a container outside its filesystem:
/// `node/<path on the node>` (the kubelet's logs of it).
pub const NODE_DIR: &str = "node";
/// Top folder of generated outputs (find lists, hash lists, bodyfiles).
pub const OUTPUTS_DIR: &str = "outputs";
pub const MANIFEST_NAME: &str = "manifest.jsonl";
/// Earlier parts of the manifest on very large trees: `manifest-0001.jsonl`, ...
/// (flushed so memory stays bounded; `manifest.jsonl` is always the last part).
pub fn manifest_part_name(n: usize) -> String {
    format!("manifest-{n:04}.jsonl")
}
/// True for `manifest.jsonl` and its numbered parts.
pub fn is_manifest_name(name: &[u8]) -> bool {
    name == MANIFEST_NAME.as_bytes()
        || (name.starts_with(b"manifest-") && name.ends_with(b".jsonl") && !name.contains(&b'/'))
}
pub const LOG_NAME: &str = "collection.log";
pub const SUMMARY_NAME: &str = "summary.json";
