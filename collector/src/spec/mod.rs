//! Which artifacts are selected: UAC-compatible artifact YAML files and profiles.
//!
//! [`model`] is the YAML schema (UAC's fields, read unchanged); [`load`] parses and
//! validates a file into [`Artifact`]s with errors that name the file, line and field,
//! reading UAC's own files through [`uac_dialect`], which is not YAML, and `path`
//! values as UAC's shell splits them ([`words`]); [`uac_differences`] says where cairn
//! does otherwise than UAC on purpose;
//! [`builtin`] holds the specs under `artifact-specs/`, embedded at build time;
//! [`select`] turns `--profile` and `--artifacts` into the list to run.

pub mod builtin;
pub mod error;
pub mod load;
pub mod model;
pub mod select;
pub mod uac_dialect;
pub mod uac_differences;
pub mod uac_list;
pub mod words;

pub use error::SpecError;
pub use load::{Artifact, ArtifactSet, CollectorKind};
pub use select::{select, Catalog, Selection};
