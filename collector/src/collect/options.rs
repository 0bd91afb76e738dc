//! The limits and filters of one collection, as the command line sets them.

use std::time::Duration;

/// Limits and filters of one collection.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files larger than this are stored truncated to it.
    pub max_file_size: u64,
    /// Once this many bytes of file content are stored, further files are skipped.
    pub max_total_size: Option<u64>,
    /// After this, the walk stops and the archive is closed, complete and valid.
    pub timeout: Option<Duration>,
    /// Only files with a time in `(start, end)` (epoch seconds), unless an artifact
    /// sets `ignore_date_range`.
    pub date_range: Option<(i64, i64)>,
    /// Cap on reads of pseudo-files (procfs, sysfs, size 0), whose size is unknown.
    pub pseudo_file_limit: u64,
    /// zstd compression threads (0: compress on the collecting thread).
    pub workers: u32,
    /// Once the in-memory manifest holds this many compressed bytes, it is written out
    /// as a numbered part, so memory stays bounded on trees of millions of files.
    pub manifest_part_bytes: usize,
    /// Options of the native live-response collectors.
    pub live: crate::live::LiveOptions,
    /// The case and examiner (`--case`, `--examiner`), for `summary.json`.
    pub case: Option<String>,
    pub examiner: Option<String>,
    /// Directories the node keeps about the collected container outside its
    /// filesystem, collected whole after the artifacts ([`Beside`]).
    pub beside: Vec<Beside>,
    /// What confines the collector ([`crate::sandbox`]), for the log; `None` where it
    /// reads its own container and is not confined.
    pub sandbox: Option<crate::sandbox::Applied>,
}

/// A directory of the node's own about the collected container (the kubelet's logs of
/// it, the kubelet's and the runtime's own logs), walked and stored under `node/` by
/// its path on the node.
#[derive(Debug, Clone, Default)]
pub struct Beside {
    /// The node's root (`--node-root`).
    pub node_root: std::path::PathBuf,
    /// The directory's absolute path on the node.
    pub path: String,
    /// Globs the files' names must match; empty: every file.
    pub names: Vec<String>,
    /// How many levels below `path` are walked; `None`: all.
    pub max_depth: Option<usize>,
    /// Files last written before this (epoch seconds) are recorded as skipped: they
    /// ended before the window of interest.
    pub since: Option<i64>,
    /// The artifact name its records carry (`node/kubelet_logs`).
    pub artifact: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_file_size: 1 << 30,
            max_total_size: None,
            timeout: None,
            date_range: None,
            pseudo_file_limit: 16 << 20,
            workers: default_workers(),
            manifest_part_bytes: 4 << 20,
            live: crate::live::LiveOptions::default(),
            case: None,
            examiner: None,
            beside: Vec::new(),
            sandbox: None,
        }
    }
}

/// One compression worker per available core, at least one.
pub fn default_workers() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
        .max(1)
}
