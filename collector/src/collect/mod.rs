//! What collects the selected artifacts: the engine walks each artifact's paths in the
//! root, applies UAC's filters ([`filter`]), and for each match copies the file, lists
//! it, hashes it or writes its bodyfile line ([`engine`]), recording every decision in
//! the manifest and the collection log.

pub mod engine;
pub mod filter;
pub mod identity;
pub mod lines;

pub use engine::{collect, CollectError, Counts, Options, Report};
