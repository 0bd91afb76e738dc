//! What collects the selected artifacts. [`engine`] holds one collection's state and
//! runs it; [`runner`] runs each artifact entry against the root through UAC's filters
//! ([`filter`]); [`files`] copies and hashes files with one rule for what became of
//! each ([`classify`] says what an error means for a record); [`emit`] lets the live
//! response write; [`recorder`] writes the archive, the manifest and the collection
//! log; [`summary`] seals it. [`identity`] describes the target and the collector's own
//! footprint. [`beside`] adds what the node keeps about a container outside its
//! filesystem. [`yara_files`] runs the responder's YARA rules over collected files on a
//! thread of their own.

pub mod beside;
pub mod classify;
pub mod emit;
pub mod engine;
pub mod files;
pub mod filter;
pub mod identity;
pub mod options;
pub mod recorder;
pub mod runner;
pub mod summary;
pub mod yara_files;

pub use cairn_protocol::Counts;
pub use engine::collect;
pub use options::{default_workers, Beside, Options};
pub use summary::{CollectError, Report};
