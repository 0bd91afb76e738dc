//! The collector's command line as the launcher drives it: every flag the launcher
//! passes is named here once, so the two binaries cannot drift apart.

/// The subcommand that collects.
pub const COLLECT: &str = "collect";
/// `--output -`: the archive on stdout.
pub const OUTPUT: &str = "--output";
/// `--progress json`: [`crate::Event`] lines on stderr.
pub const PROGRESS: &str = "--progress";
/// The value of [`PROGRESS`] the launcher reads.
pub const PROGRESS_JSON: &str = "json";
/// `--upload-url -`: one URL line on stdin.
pub const UPLOAD_URL: &str = "--upload-url";
/// `--upload-plan -`: one JSON plan on stdin.
pub const UPLOAD_PLAN: &str = "--upload-plan";
/// The object name an Azure container SAS or an S3 POST policy is completed with.
pub const UPLOAD_NAME: &str = "--upload-name";
/// `-` as a value: standard input or output.
pub const STDIO: &str = "-";
/// Another container of the PID namespace: `auto` or a PID.
pub const TARGET_PID: &str = "--target-pid";
/// The value of [`TARGET_PID`] that finds the target itself.
pub const TARGET_PID_AUTO: &str = "auto";
/// With [`TARGET_PID`] `auto`: the runtime ID of the container to collect.
pub const TARGET_ID: &str = "--target-id";
/// A node's disk to collect a container from, offline.
pub const NODE_ROOT: &str = "--node-root";
/// With [`NODE_ROOT`]: the container.
pub const CONTAINER: &str = "--container";
/// With [`NODE_ROOT`]: also the kubelet's and the runtime's logs written since then.
pub const NODE_LOGS_SINCE: &str = "--node-logs-since";
/// The collector's own deadline.
pub const TIMEOUT: &str = "--timeout";
/// The subcommand a sidecar or ephemeral collector waits in.
pub const IDLE: &str = "idle";
/// `idle --for DURATION`.
pub const IDLE_FOR: &str = "--for";
/// `idle --stop`: end the other idle collectors of the container.
pub const IDLE_STOP: &str = "--stop";
/// The case a collection belongs to, for its summary.
pub const CASE: &str = "--case";
/// `collect`: also capture process memory.
pub const MEMORY: &str = "--memory";
/// `--yara -`: the responder's rules as one document on stdin ([`crate::yara`]).
pub const YARA: &str = "--yara";
/// `collect`: with `--yara`, memory only of the processes a rule matched.
pub const MEMORY_ON_HIT: &str = "--memory-on-hit";
/// Who collects, for the summary.
pub const EXAMINER: &str = "--examiner";
