//! The case record of one `cairn collect` (`case.json`, or `case-START.json` beside an
//! earlier one or in a store): the case and the examiner, the launcher and the
//! collectors it could deliver, who it acted as, and every target with its files and
//! their sha256. `cairn verify-case` checks a directory against it.

use serde::{Deserialize, Serialize};

/// The launcher that ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launcher {
    pub version: String,
    /// The sha256 of its own executable.
    pub exe_sha256: Option<String>,
}

/// A collector binary the launcher could deliver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorBinary {
    /// `x86_64` or `aarch64`.
    pub arch: String,
    pub bytes: u64,
    pub sha256: String,
    /// Where it came from (built in, a file, a URL).
    pub source: String,
}

/// Who the cluster says the launcher acted as (a SelfSubjectReview), or why it could
/// not say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActedAs {
    /// The kubeconfig and context used.
    pub kubeconfig: String,
    /// The review's `status.userInfo`, as the API server gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_info: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// A file of the case: an archive, its Kubernetes evidence, in the directory or in a
/// store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFile {
    /// Its name in the case directory (a store object's last segment).
    pub file: String,
    /// The store object, when stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The sha256 recorded: the launcher's where it computed one, else the collector's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Why it could not be hashed when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// The `sha256sum -c` file written beside it (signed with the record when the
    /// record is signed; `verify-case` then requires it and its signature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256_file: Option<String>,
    /// The sha256 the launcher computed as the bytes arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256_on_arrival: Option<String>,
    /// The sha256 the collector reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256_by_collector: Option<String>,
    /// How the store's copy was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked: Option<String>,
    /// This is the Kubernetes evidence archive.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kubernetes_evidence: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_reads: Option<u64>,
    /// Why the store did not take it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_stored: Option<String>,
    /// Where it was kept instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_in: Option<String>,
}

/// One target of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseTarget {
    /// `namespace/pod/container`.
    pub target: String,
    /// `exec`, `ephemeral`, `sidecar`, `node`.
    pub route: String,
    /// `ok`, `cut-short`, `failed`.
    pub status: String,
    pub error: Option<String>,
    #[serde(default)]
    pub cut_short: Vec<String>,
    pub seconds: f64,
    #[serde(default)]
    pub files: Vec<CaseFile>,
}

/// `case.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    pub case: Option<String>,
    pub examiner: Option<String>,
    pub started: String,
    pub ended: String,
    pub launcher: Launcher,
    pub collectors: Vec<CollectorBinary>,
    pub acted_as: ActedAs,
    /// Where the archives went.
    pub destination: String,
    /// The public key that signed the record (an OpenSSH line), when one did.
    pub signed_by: Option<String>,
    /// What the pods were given that outlives the run if the launcher cannot take it
    /// back, and for how long (GCS upload sessions); `None` when nothing does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_credentials: Option<String>,
    pub targets: Vec<CaseTarget>,
}

impl CaseRecord {
    /// The run's start as it goes into a record's file name: `20261130T174327Z`.
    pub fn stamp(&self) -> String {
        self.started
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect()
    }
}
