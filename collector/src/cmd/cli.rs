//! The command line of `cairn-collector`, each flag defined once.

use cairn_collector::progress::ProgressMode;
use cairn_collector::sink::upload;
use cairn_protocol::size::parse as parse_size;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// What `cairn-collector collect --help` and the top-level help end with.
macro_rules! exit_codes {
    () => {
        "Exit status:
  0    collected, complete (verify: the archive verifies)
  1    verify: the archive does not verify
  2    nothing was done: bad arguments, a selection that names nothing, an unusable output
  3    the upload failed; --fallback-output holds what the object does not
  4    collected, but a limit cut it short (--timeout, --max-total-size); the archive is valid

Docs: README.md, docs/cli.md (every command and flag), docs/archive-format.md"
    };
}
const EXIT_CODES: &str = exit_codes!();

/// In-container forensic evidence collection: one static binary, one verified archive.
#[derive(Parser, Debug)]
#[command(
    name = "cairn-collector",
    version,
    about,
    long_about = None,
    term_width = 100,
    after_help = concat!("Examples:
  cairn-collector collect --output evidence.tar.zst           this system or container
  cairn-collector collect --root /mnt/image --output ev.tar.zst    an offline tree
  cairn-collector collect --output - | ssh ir@vault 'cat > ev.tar.zst'
  printf '%s' \"$URL\" | cairn-collector collect --upload-url -   straight to a bucket
  cairn-collector verify evidence.tar.zst

", exit_codes!())
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Each command's `--help` opens with its examples.
const COLLECT_EXAMPLES: &str = "Examples:
  cairn-collector collect --output evidence.tar.zst               this system or container
  cairn-collector collect --profile full --output ev.tar.zst      more artifacts
  cairn-collector collect --root /mnt/disk --output ev.tar.zst    an offline tree
  cairn-collector collect --node-root / --container web --output ev.tar.zst   from a node's disk
  printf '%s' \"$URL\" | cairn-collector collect --upload-url -       straight to a bucket";
const VERIFY_EXAMPLES: &str = "Examples:
  cairn-collector verify evidence.tar.zst
  curl -s \"$URL\" | cairn-collector verify -";
const CONTAINERS_EXAMPLES: &str = "Examples:
  cairn-collector containers --node-root /              on the node itself
  cairn-collector containers --node-root /mnt/node -o json   a node's disk mounted read-only";
const IDLE_EXAMPLES: &str = "Examples:
  cairn-collector idle --for 31m        the command of an ephemeral container or sidecar
  cairn-collector idle --stop           ends them once the collection is done";
const SANDBOX_EXAMPLES: &str = "Examples:
  cairn-collector sandbox --node-root / --try /etc/shadow
  cairn-collector sandbox --node-root / -- /bin/ls /var/lib/docker    a program under it";
const PROFILES_EXAMPLES: &str = "Examples:
  cairn-collector profiles                                     each profile and what it takes
  cairn-collector collect --profile full --output ev.tar.zst   then collect with one";
const ARTIFACTS_EXAMPLES: &str = "Examples:
  cairn-collector artifacts                            the built-in artifacts
  cairn-collector artifacts --explain uac/artifacts/live_response/process/ps.yaml";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Collect artifacts from a root into one tar+zstd archive with manifest and log.
    #[command(before_help = COLLECT_EXAMPLES, after_help = EXIT_CODES)]
    Collect(Box<CollectArgs>),
    /// Recompute every hash of an archive and check it against its manifest.
    #[command(before_help = VERIFY_EXAMPLES)]
    Verify {
        /// The archive (`-` for standard input).
        archive: String,
    },
    /// List the containers on a node's disk (Docker and containerd), offline.
    #[command(before_help = CONTAINERS_EXAMPLES)]
    Containers {
        /// The node's root filesystem: `/` on the node itself, or a copy of its disk
        /// mounted read-only anywhere.
        #[arg(long)]
        node_root: PathBuf,
        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: ListFormat,
    },
    /// Wait, doing nothing, for up to --for: the command of a collector sidecar or
    /// ephemeral container, into which collections are then exec'd. `--stop` ends the
    /// idle collectors of this container once the collection is done.
    #[command(before_help = IDLE_EXAMPLES)]
    Idle {
        /// How long to wait at most.
        #[arg(long = "for", default_value = "1h", value_parser = cairn_protocol::duration::parse_arg)]
        duration: Duration,
        /// Stop the other idle collectors of this container instead.
        #[arg(long)]
        stop: bool,
        /// Where procfs is mounted (--stop finds the idle collectors there).
        #[arg(long, default_value = "/proc")]
        proc: PathBuf,
    },
    /// Show what confines `collect --node-root` on this kernel: apply the same sandbox
    /// (Landlock and seccomp), say what applied, try to read each --try path, then run
    /// PROGRAM under it. For checking a kernel or a node pod before relying on it.
    #[command(before_help = SANDBOX_EXAMPLES)]
    Sandbox(SandboxArgs),
    /// List built-in profiles.
    #[command(before_help = PROFILES_EXAMPLES)]
    Profiles,
    /// List built-in artifacts, or explain artifact files: what cairn does with each
    /// entry, and where it does otherwise than UAC on purpose.
    #[command(before_help = ARTIFACTS_EXAMPLES)]
    Artifacts {
        /// An artifact file (UAC's or cairn's) or a built-in name to explain entry by
        /// entry; repeatable.
        #[arg(long, value_name = "FILE|NAME")]
        explain: Vec<String>,
    },
}

/// How a listing is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct CollectArgs {
    /// Root to collect. `/` is the live system (or the container the collector runs in);
    /// any other directory is an offline tree in which every path, symlink targets
    /// included, resolves inside it.
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// Collect a container from a node's disk instead (a live node's `/` or a mounted
    /// copy): its filesystem is rebuilt from its overlay layers without mounting.
    /// Needs --container.
    #[arg(long, requires = "container", conflicts_with = "root")]
    pub node_root: Option<PathBuf>,
    /// The container to collect under --node-root: its ID, a unique prefix, or its name
    /// (`cairn-collector containers --node-root DIR` lists them).
    #[arg(long, requires = "node_root")]
    pub container: Option<String>,
    /// With --node-root: also the kubelet's and the container runtime's own logs on the
    /// node (system journal files, /var/log/{kubelet,containerd,docker,crio,kube-proxy}
    /// logs and their rotations) last written at or after this time (RFC 3339, or
    /// YYYY-MM-DD); older ones are recorded as skipped.
    #[arg(long, requires = "node_root", value_parser = parse_time, value_name = "TIME")]
    pub node_logs_since: Option<i64>,
    /// Collect another container of this PID namespace through /proc/PID/root, with the
    /// namespace's live response: from an ephemeral container (targetContainerName) or
    /// a sidecar (shareProcessNamespace). `auto` takes the first process whose root is
    /// not the collector's own (the pod's pause process left out).
    #[arg(long, value_name = "auto|PID", conflicts_with_all = ["root", "node_root"])]
    pub target_pid: Option<String>,
    /// With --target-pid auto: the container to collect, by its runtime ID (as in the
    /// pod's containerStatuses), found in the processes' cgroups.
    #[arg(long, value_name = "ID", requires = "target_pid")]
    pub target_id: Option<String>,
    /// Built-in profile name or a profile YAML file (UAC profiles work).
    /// Default: container-triage, unless --artifacts adds artifacts.
    #[arg(long)]
    pub profile: Option<String>,
    /// Comma-separated built-in artifact names or globs, or artifact YAML files;
    /// `!NAME` excludes. Adds to --profile.
    #[arg(long)]
    pub artifacts: Option<String>,
    /// Also capture process memory (the memory/processes artifact): each process of the
    /// target but cairn's own, its resident pages as an ELF core file. Needs ptrace
    /// access (CAP_SYS_PTRACE: the ephemeral and sidecar routes).
    #[arg(long, help_heading = "Memory")]
    pub memory: bool,
    /// With --yara: store the memory (core file, held files) only of the processes a
    /// rule matched, in their memory or their executable; the others are scanned and
    /// recorded, not stored. Implies --memory.
    #[arg(long, requires = "yara", help_heading = "Memory")]
    pub memory_on_hit: bool,
    /// The most bytes of memory stored of one process.
    #[arg(long, default_value = "1G", value_parser = parse_size, value_name = "SIZE", help_heading = "Memory")]
    pub memory_max_process: u64,
    /// The most bytes of memory stored of all processes together.
    #[arg(long, default_value = "4G", value_parser = parse_size, value_name = "SIZE", help_heading = "Memory")]
    pub memory_max_total: u64,
    /// Run these YARA rules (a file, or a directory of .yar/.yara files, each its own
    /// namespace) over each process's resident memory and its executable; hits go to
    /// live_response/yara/hits.jsonl. Rules are compiled before anything is collected.
    /// Without --memory, memory is scanned, not stored. `-`: the rules as one JSON
    /// document on stdin, after the upload plan or URL (what `cairn collect --yara`
    /// sends; docs/bootstrap.md).
    #[arg(long, value_name = "FILE|DIR", help_heading = "Memory")]
    pub yara: Option<PathBuf>,
    /// Only these processes' memory (comma-separated PIDs as the collector sees them).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "PID,...",
        help_heading = "Memory"
    )]
    pub memory_pids: Vec<i32>,
    /// Where the archive goes: a new file, or `-` for standard output. Not with an
    /// upload. An existing file is refused (it may be evidence) unless --force.
    #[arg(long, value_name = "FILE|-", required_unless_present_any = ["upload_url", "upload_plan", "o_format"], conflicts_with_all = ["upload_url", "upload_plan"])]
    pub output: Option<String>,
    /// Replace an existing file at --output or --fallback-output.
    #[arg(long)]
    pub force: bool,
    /// `-o` is a report format in cairn and kubectl, so the collector refuses it and
    /// names --output instead of writing an archive called `json`.
    #[arg(short = 'o', hide = true, value_name = "FORMAT")]
    pub o_format: Option<String>,
    /// Upload the archive, while it is produced, to this presigned URL: S3 (SigV4 PUT),
    /// Azure Blob SAS (blob or container), GCS (V4 signed PUT, or a resumable session
    /// URL). The kind is recognised from the URL; the URL is never printed whole.
    /// `-` reads it from stdin (one line), which keeps it out of the process list.
    #[arg(long, value_name = "URL", help_heading = "Upload")]
    pub upload_url: Option<String>,
    /// An upload plan (JSON, `-` for stdin) for S3 multipart or S3 POST: see
    /// docs/upload-plan.md.
    #[arg(
        long,
        value_name = "FILE|-",
        conflicts_with = "upload_url",
        help_heading = "Upload"
    )]
    pub upload_plan: Option<String>,
    /// The kind of --upload-url when it cannot be recognised.
    #[arg(long, value_enum, help_heading = "Upload")]
    pub upload_kind: Option<upload::destination::Kind>,
    /// Object name: the blob added to an Azure container SAS URL, the S3 POST filename.
    /// Default: cairn-HOSTNAME-UTCTIME.tar.zst.
    #[arg(long, help_heading = "Upload")]
    pub upload_name: Option<String>,
    /// Where the archive goes if the upload fails (a file, or `-` for standard output):
    /// all of it when the URL fails its check before collection, otherwise the part
    /// not uploaded, while the uploaded part is committed as the object.
    #[arg(long, value_name = "FILE|-", help_heading = "Upload")]
    pub fallback_output: Option<String>,
    /// PEM file of CA certificates to trust instead of the built-in web PKI roots
    /// (private object stores, TLS-intercepting proxies).
    #[arg(long, value_name = "PEM", help_heading = "Upload")]
    pub ca_file: Option<PathBuf>,
    /// Attempts after the first, per request, with exponential backoff and jitter.
    #[arg(long, default_value = "6", help_heading = "Upload")]
    pub upload_retries: u32,
    /// Longest wait for a response or for the next bytes of one.
    #[arg(long, default_value = "60s", value_parser = cairn_protocol::duration::parse_arg, help_heading = "Upload")]
    pub upload_timeout: Duration,
    /// Longest wait to connect.
    #[arg(long, default_value = "10s", value_parser = cairn_protocol::duration::parse_arg, help_heading = "Upload")]
    pub connect_timeout: Duration,
    /// First retry wait; doubles per attempt (tests shorten it).
    #[arg(long, hide = true, default_value = "500ms", value_parser = cairn_protocol::duration::parse_arg)]
    pub upload_backoff: Duration,
    /// Files larger than this are stored truncated to it (e.g. 512M, 1G).
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    pub max_file_size: u64,
    /// Stop storing file content after this many bytes (e.g. 10G). Default: no limit.
    #[arg(long, value_parser = parse_size)]
    pub max_total_size: Option<u64>,
    /// Stop collecting after this long (e.g. 90s, 10m); the archive is still complete
    /// and valid, and the log records what was cut.
    #[arg(long, value_parser = cairn_protocol::duration::parse_arg)]
    pub timeout: Option<Duration>,
    /// Only files with a time (m, a or c) on or after this date (YYYY-MM-DD, UTC).
    #[arg(long, value_parser = parse_date)]
    pub date_range_start: Option<i64>,
    /// Only files with a time (m, a or c) before the end of this date (YYYY-MM-DD, UTC).
    #[arg(long, value_parser = parse_date)]
    pub date_range_end: Option<i64>,
    /// Progress on stderr: auto (human when a terminal), human, json, none.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressMode,
    /// Compression threads (default: one per core).
    #[arg(long)]
    pub threads: Option<u32>,
    /// The case this collection belongs to, recorded in summary.json.
    #[arg(long, value_name = "ID")]
    pub case: Option<String>,
    /// Who collects, recorded in summary.json.
    #[arg(long, value_name = "NAME")]
    pub examiner: Option<String>,
    /// Keep the values of environment variables whose names look secret (TOKEN,
    /// SECRET, PASSWORD, KEY...) in the process listing. By default they are redacted.
    #[arg(long)]
    pub no_redact: bool,
    /// Where procfs is mounted (the live response reads processes and sockets there).
    #[arg(long, default_value = "/proc")]
    pub proc: PathBuf,
    /// Compressed bytes of manifest held in memory before a part is written (tests).
    #[arg(long, hide = true, value_parser = parse_size)]
    pub manifest_part_size: Option<u64>,
}

/// An RFC 3339 time or a date, as epoch seconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .or_else(|_| parse_date(s))
        .map_err(|_| {
            format!(
                "`{s}` is neither an RFC 3339 time (2026-01-31T10:00:00Z) nor a date (2026-01-31)"
            )
        })
}

pub fn parse_date(s: &str) -> Result<i64, String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|e| format!("`{s}` is not a date like 2026-01-31: {e}"))
}

#[derive(clap::Args, Debug)]
pub struct SandboxArgs {
    /// The node's root filesystem, as `collect --node-root` takes it.
    #[arg(long)]
    pub node_root: PathBuf,
    /// A file to read under the sandbox (repeatable): each is said read or refused.
    #[arg(long = "try", value_name = "PATH")]
    pub tries: Vec<PathBuf>,
    /// Also allow reading beneath PATH (repeatable), for PROGRAM's own files; `collect`
    /// never adds any.
    #[arg(long, value_name = "PATH")]
    pub allow_read: Vec<PathBuf>,
    /// A program to run under the sandbox, after `--`.
    #[arg(last = true, value_name = "PROGRAM")]
    pub program: Vec<String>,
}
