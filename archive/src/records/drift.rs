//! What changed in a container since its image (`drift.jsonl`), read from its writable
//! layer on the node route: one [`Drift`] per change, and a [`DriftSummary`].

use super::manifest::ObjectKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Drift {
    /// `added`, `modified`, `metadata`, `deleted`, `opaque`, `marker`.
    pub change: String,
    /// Lossless: the exact bytes are in `path_hex` when not UTF-8.
    pub path: String,
    #[serde(rename = "type")]
    pub kind: ObjectKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The image's version of a modified file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Where the archive holds a copy of the changed file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_path: Option<String>,
    /// The copy is whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
}

/// How many changes of each kind, from which layers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftSummary {
    pub layers: Vec<String>,
    pub changes: BTreeMap<String, u64>,
    pub errors: u64,
}
