//! The artifact and profile YAML schema. Field names are UAC's, so UAC artifact files
//! and profiles load unchanged; fields that matter only to UAC's shell (such as
//! `compress_output_file`) are accepted and ignored, and unknown fields are errors.

use serde::Deserialize;

/// A value written either as a single item or as a list (`file_type: f` or `[f, d]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// A scalar that UAC files write as either a number or a string (`permissions: 755`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Scalar {
    Int(i64),
    Text(String),
}

impl Scalar {
    pub fn as_text(&self) -> String {
        match self {
            Scalar::Int(i) => i.to_string(),
            Scalar::Text(s) => s.clone(),
        }
    }
}

/// One artifact file: a list of artifact entries.
#[derive(Debug, Deserialize)]
pub struct ArtifactFileYaml {
    #[serde(default)]
    pub version: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub condition: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    pub output_directory: Option<String>,
    pub artifacts: Vec<ArtifactYaml>,
}

/// One artifact entry, with UAC's fields.
#[derive(Debug, Deserialize, Default)]
pub struct ArtifactYaml {
    pub description: Option<String>,
    pub supported_os: Option<OneOrMany<String>>,
    pub collector: Option<String>,
    pub path: Option<String>,
    pub path_pattern: Option<OneOrMany<String>>,
    pub name_pattern: Option<OneOrMany<String>>,
    pub exclude_path_pattern: Option<OneOrMany<String>>,
    pub exclude_name_pattern: Option<OneOrMany<String>>,
    pub exclude_file_system: Option<OneOrMany<String>>,
    pub file_type: Option<OneOrMany<String>>,
    pub min_depth: Option<usize>,
    pub max_depth: Option<usize>,
    pub min_file_size: Option<u64>,
    pub max_file_size: Option<u64>,
    pub permissions: Option<OneOrMany<Scalar>>,
    pub ignore_date_range: Option<bool>,
    pub exclude_nologin_users: Option<bool>,
    pub output_directory: Option<String>,
    pub output_file: Option<String>,
    pub is_file_list: Option<bool>,
    pub command: Option<String>,
    pub foreach: Option<String>,
    /// cairn extension: the native collector run by `collector: native`.
    pub native: Option<String>,
    /// cairn extension: do not descend into other filesystems (like `find -xdev`).
    pub one_file_system: Option<bool>,
    /// cairn extension: store at most this many bytes of each file (the head), marked
    /// `truncated`, instead of skipping larger files as `max_file_size` does.
    pub truncate_size: Option<u64>,
}

/// Fields UAC defines that cairn accepts without acting on them (they steer UAC's
/// shell pipeline, not what is collected).
pub const IGNORED_UAC_FIELDS: &[&str] = &[
    "compress_output_file",
    "redirect_stderr_to_stdout",
    "condition",
    "modifier",
    "no_user",
    "no_group",
    "exclude_file_type",
    "hash_algorithm",
];

/// Every field an artifact entry may have.
pub const KNOWN_FIELDS: &[&str] = &[
    "description",
    "supported_os",
    "collector",
    "path",
    "path_pattern",
    "name_pattern",
    "exclude_path_pattern",
    "exclude_name_pattern",
    "exclude_file_system",
    "file_type",
    "min_depth",
    "max_depth",
    "min_file_size",
    "max_file_size",
    "permissions",
    "ignore_date_range",
    "exclude_nologin_users",
    "output_directory",
    "output_file",
    "is_file_list",
    "command",
    "foreach",
    "native",
    "one_file_system",
    "truncate_size",
];

/// A profile: artifact names or globs, `!` to exclude.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileYaml {
    pub name: Option<String>,
    pub description: Option<String>,
    pub artifacts: Vec<String>,
}
