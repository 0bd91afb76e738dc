//! `summary.json`: what was collected, from where, how, with which limits, and the
//! hashes that seal the manifest and the log. The collector writes a [`Summary`]; the
//! launcher's Kubernetes evidence an [`EvidenceSummary`]; both carry a [`Seal`], which
//! is all `verify` reads.

use super::node::NodeContainer;
use super::system::Privileges;
use cairn_protocol::{Counts, Placed};
use serde::{Deserialize, Serialize};

/// The case a collection belongs to (`--case`, `--examiner`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaseRef {
    pub id: Option<String>,
    pub examiner: Option<String>,
}

/// An earlier part of the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// The manifest's last part, and the earlier ones, by sha256.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ManifestSeal {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    #[serde(default)]
    pub earlier_parts: Vec<Part>,
}

/// The collection log, by sha256, and how many warnings and errors it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogSeal {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    pub warnings: u64,
    pub errors: u64,
}

/// What every summary says about its archive's completeness and records: all that
/// `verify` reads of a summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Seal {
    /// `cut_short` is empty.
    pub complete: bool,
    /// Every limit that cut the collection short, one sentence each.
    #[serde(default)]
    pub cut_short: Vec<String>,
    pub log: LogSeal,
    pub manifest: ManifestSeal,
}

/// What verify reads of a summary: its [`Seal`], and from summaries written before the
/// seal listed its cuts, whether the timeout was reached.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SealRead {
    pub complete: Option<bool>,
    #[serde(default)]
    pub cut_short: Option<Vec<String>>,
    #[serde(default)]
    pub timed_out: Option<bool>,
    pub log: Option<LogSeal>,
    pub manifest: Option<ManifestSeal>,
}

/// The collected system, as it was met.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Identity {
    pub hostname: Option<String>,
    /// uname's release (live only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// os-release's PRETTY_NAME.
    pub os: Option<String>,
    pub docker: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub podman: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<bool>,
    /// An offline tree (not the running system).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub offline: bool,
}

/// What the collector itself is and does on the target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Footprint {
    pub pid: u32,
    pub exe: Option<String>,
    pub exe_sha256: Option<String>,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub cwd: Option<String>,
    pub privileges: Privileges,
    /// Its own binary, when inside the collected system.
    pub binary: Option<Placed>,
    /// Its archive, when written inside the collected tree.
    pub output: Option<Placed>,
    /// One sentence: what it wrote on the target.
    pub writes: String,
}

/// An artifact set that ran, and where its definition came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRef {
    pub name: String,
    pub origin: String,
}

/// How the collector was started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Invocation {
    pub root: String,
    pub node_root: Option<String>,
    /// The container rebuilt from a node's disk.
    pub container: Option<NodeContainer>,
    pub node_logs_since: Option<String>,
    /// Another container's processes, reached through `/proc/PID/root`.
    pub target_pid: Option<u32>,
    pub profile: Option<String>,
    pub artifacts: Option<String>,
    pub output: Option<String>,
    /// The upload's destination, redacted.
    pub upload: Option<String>,
    pub fallback_output: Option<String>,
}

/// The limits a collection ran with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    pub max_file_size: u64,
    pub max_total_size: Option<u64>,
    pub timeout_seconds: Option<f64>,
    /// UAC's date filter: seconds since the epoch, an open end as i64's extreme.
    pub date_range: Option<(i64, i64)>,
    pub invocation: Invocation,
}

/// Where the archive went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Destination {
    /// `local`, or the upload's kind.
    pub kind: String,
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_so_far: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// Bytes of tar written before the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveSize {
    pub tar_bytes_before_summary: u64,
}

/// The collector's `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// `cairn-collector`.
    pub tool: String,
    pub version: String,
    pub started: String,
    pub ended: String,
    pub duration_seconds: f64,
    /// The root collected: `/`, a directory, `/proc/PID/root`, or `RUNTIME:ID` for a
    /// container rebuilt from a node's disk.
    pub root: String,
    pub live: bool,
    pub case: CaseRef,
    pub identity: Identity,
    pub collector: Footprint,
    pub profile: Option<String>,
    pub artifacts: Vec<ArtifactRef>,
    pub options: Limits,
    pub destination: Destination,
    pub counts: Counts,
    pub timed_out: bool,
    #[serde(flatten)]
    pub seal: Seal,
    pub archive: ArchiveSize,
}

/// The Kubernetes evidence archive's `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvidenceSummary {
    /// `cairn`.
    pub tool: String,
    pub version: String,
    /// `kubernetes evidence`.
    pub kind: String,
    pub written: String,
    /// Members added.
    pub entries: u64,
    /// Reads the cluster refused or failed.
    pub refused: u64,
    pub target: super::k8s::TargetInfo,
    pub case: CaseRef,
    #[serde(flatten)]
    pub seal: Seal,
}
