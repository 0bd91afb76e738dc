//! The command line of `cairn`, each flag defined once: the global selection flags
//! (kubeconfig, context, namespace, selector), and one argument struct per command.
//! The destination flags belong to their destinations ([`crate::dest::Flags`]).

use crate::progress;
use crate::route::Via;
use cairn_protocol::duration;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// What every `--help` of cairn ends with.
macro_rules! exit_codes {
    () => {
        "Exit status:
  0    every target collected, complete
  1    one or more targets failed (the report says why)
  2    nothing was done: bad arguments, no targets, a refused permission check
  4    every target collected, one or more cut short by a limit (STATUS cut-short)
  130  interrupted (Ctrl-C, SIGTERM, SIGHUP); what was started in the cluster is cleaned up first

Docs: README.md, docs/cli.md (every command and flag), docs/threat-model.md"
    };
}
const EXIT_CODES: &str = exit_codes!();

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "Forensic evidence collection from Kubernetes pods",
    term_width = 100,
    after_help = concat!("Examples:
  cairn pods -A                                         containers, and whether exec works
  cairn -n shop collect web-7d9f --output-dir ev/        one pod's container, over exec
  cairn -n shop -l app=web collect --s3 s3://ir/case-42  every selected pod, straight to S3
  cairn -n shop collect api/app --via ephemeral --output-dir ev/   a distroless container

", exit_codes!())
)]
pub struct Cli {
    #[command(flatten)]
    pub cluster: ClusterFlags,
    #[command(subcommand)]
    pub command: Command,
}

/// `collect`'s usage line: clap's own lists every destination with its value name,
/// three lines long; this one says the same in one.
pub fn collect_usage(bin: &str) -> String {
    format!(
        "{bin} collect [OPTIONS] <DESTINATION> [POD[/CONTAINER]]... [-- <COLLECTOR_ARGS>...]
       DESTINATION: one of --output-dir DIR, --s3 URL, --azure URL, --azure-sas URL,
       --gcs URL, --upload-url-template URL"
    )
}

/// Which cluster and which pods, as kubectl names them. Accepted before the command
/// (`cairn -n shop collect web`) and after it (`cairn collect web -n shop`), and shown in
/// the help of the commands that use them only.
#[derive(clap::Args, Clone, Default)]
#[command(next_help_heading = "Cluster")]
pub struct ClusterFlags {
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// Namespace (default: the context's).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// All namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Label selector, e.g. app=web,tier=front.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
}

impl ClusterFlags {
    /// These flags, each one not given here taken from `before` (those given before the
    /// command).
    pub fn or(self, before: ClusterFlags) -> ClusterFlags {
        ClusterFlags {
            kubeconfig: self.kubeconfig.or(before.kubeconfig),
            context: self.context.or(before.context),
            namespace: self.namespace.or(before.namespace),
            all_namespaces: self.all_namespaces || before.all_namespaces,
            selector: self.selector.or(before.selector),
        }
    }
}

/// `cairn collect --help` opens with these.
const COLLECT_EXAMPLES: &str = "Examples:
  cairn -n shop collect web --output-dir ev/               one pod, over exec
  cairn -n shop collect web -c app --via auto --output-dir ev/   no shell: ephemeral
  cairn -n shop -l app=web collect --s3 s3://ir/case-42    every selected pod, to S3
  cairn report ev/                                         then read report/index.html";

// Parsed once per run: the size of the collect variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum Command {
    /// Lists pods and their containers with a verdict: running (exec not tried), or with
    /// --probe exec-able or distroless; not running, exec-denied.
    #[command(before_help = PODS_EXAMPLES)]
    Pods(PodsArgs),
    /// Collects evidence from POD[/CONTAINER]... or from the pods -l selects.
    #[command(before_help = COLLECT_EXAMPLES, after_help = EXIT_CODES)]
    Collect(CollectArgs),
    /// Writes a triage report a person reads in a browser: findings first, each linked
    /// to the evidence it rests on, then the process tree, sockets, mounts, logins,
    /// drift and the collection's record; one self-contained HTML page per collection,
    /// and an index for several. Needs no cluster.
    #[command(before_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// Merges what archives hold into one time-sorted timeline (file times, process
    /// starts, logins, YARA matches, the pod's lifecycle and events) for Timesketch
    /// (csv, jsonl) or mactime (bodyfile). Needs no cluster.
    #[command(before_help = TIMELINE_EXAMPLES)]
    Timeline(TimelineArgs),
    /// Checks a case directory against its case.json: every archive's size and sha256,
    /// its .sha256, and the signatures (exit 1 naming what changed).
    #[command(before_help = VERIFY_CASE_EXAMPLES)]
    VerifyCase(VerifyCaseArgs),
    /// Writes the collector image (FROM scratch: the collectors built into cairn, amd64
    /// and arm64) to a file for `docker load` or `ctr images import`, or pushes it to a
    /// registry with your Docker credentials, for --via ephemeral and --via node
    /// (--collector-image names it).
    #[command(before_help = IMAGE_EXAMPLES)]
    Image(ImageArgs),
    /// Prints cairn's version and each collector it would deliver (architecture, size,
    /// sha256, where it comes from).
    #[command(before_help = VERSION_EXAMPLES)]
    Version(VersionArgs),
    /// Prints a self-contained one-line command for manual deployment (a sidecar, SSM,
    /// `az aks command invoke`, a CI job): it downloads the collector, checks its
    /// sha256 and runs it with COLLECTOR ARGS, e.g. `-- collect --upload-url -` with the
    /// presigned URL on the line's stdin (an argument list is visible to the target).
    #[command(before_help = BOOTSTRAP_EXAMPLES)]
    Bootstrap(BootstrapArgs),
    /// Prints the patch that gives a workload's pods a collector sidecar (for clusters
    /// where ephemeral containers are not allowed), with how to apply and use it.
    #[command(before_help = SIDECAR_EXAMPLES)]
    Sidecar(SidecarArgs),
}

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Archives (NAME.tar.zst, NAME.k8s.tar.zst) or directories of them, as
    /// `collect --output-dir` writes them.
    #[arg(required = true, value_name = "ARCHIVE|DIR")]
    pub inputs: Vec<PathBuf>,
    /// The page to write for one collection, or the directory for several (a page each
    /// and index.html); an existing file is refused (default: report.html, or report/
    /// for several).
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Replace existing pages.
    #[arg(long)]
    pub force: bool,
}

#[derive(clap::Args)]
pub struct TimelineArgs {
    /// Archives (NAME.tar.zst, NAME.k8s.tar.zst) or directories of them, as
    /// `collect --output-dir` writes them.
    #[arg(required = true, value_name = "ARCHIVE|DIR")]
    pub inputs: Vec<PathBuf>,
    /// csv and jsonl: Timesketch's import formats (message, datetime, timestamp_desc,
    /// and cairn's fields); bodyfile: The Sleuth Kit's, for `mactime -b`.
    #[arg(long, value_enum, default_value_t = TimelineFormat::Csv)]
    pub format: TimelineFormat,
    /// The file to write (default: standard output); an existing file is refused.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace --output if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimelineFormat {
    Csv,
    Jsonl,
    Bodyfile,
}

/// The other commands' `--help` open with these.
const PODS_EXAMPLES: &str = "Examples:
  cairn pods -A                     every namespace: containers and whether they run
  cairn -n shop pods --probe        also tries a shell in each: exec-able or distroless
  cairn -n shop pods -l app=web -o json";
const REPORT_EXAMPLES: &str = "Examples:
  cairn report ev/                         report/: a page per collection and index.html
  cairn report ev/shop_web_main_20261207T100000Z.tar.zst   report.html
  cairn report ev/ --output /cases/42/report --force";
const TIMELINE_EXAMPLES: &str = "Examples:
  cairn timeline ev/ --output timeline.csv              import into Timesketch
  cairn timeline ev/ --format bodyfile --output body.txt && mactime -b body.txt -d";
const VERIFY_CASE_EXAMPLES: &str = "Examples:
  cairn verify-case ev/
  cairn verify-case ev/ --signer ~/.ssh/examiner.pub     the signatures, by your key";
const VERSION_EXAMPLES: &str = "Examples:
  cairn version                                    compare with the release's checksums
  cairn version --collector-bin target/collectors";
const BOOTSTRAP_EXAMPLES: &str = "Examples:
  cairn bootstrap --collector-url https://files.example/cairn-collector-{arch} -- collect --output -
  cairn bootstrap --collector-url URL -- collect --upload-url -   then, where it runs:
      printf '%s' \"$PRESIGNED_URL\" | LINE                          the URL never in argv";
const SIDECAR_EXAMPLES: &str = "Examples:
  cairn -n shop sidecar --for web --collector-image REGISTRY/ir/cairn-collector:0.1.0
  cairn -n shop sidecar --for statefulset/db > sc.yaml && kubectl -n shop patch statefulset db --patch-file sc.yaml";

/// `cairn image --help` opens with these.
const IMAGE_EXAMPLES: &str = "Examples:
  cairn image                                  write cairn-collector-VERSION.image.tar
  docker load -i cairn-collector-VERSION.image.tar         then use it on this machine
  cairn image --push registry.example/ir/cairn-collector:VERSION   where nodes pull from";

#[derive(clap::Args)]
pub struct ImageArgs {
    /// The file to write (default: cairn-collector-VERSION.image.tar); an existing
    /// file is refused.
    #[arg(long, value_name = "FILE", conflicts_with = "push")]
    pub output: Option<PathBuf>,
    /// The image's name in the file (default: cairn-collector:VERSION, the name
    /// --collector-image defaults to).
    #[arg(long, value_name = "NAME:TAG", conflicts_with = "push")]
    pub tag: Option<String>,
    /// Push the image to a registry under this name instead of writing a file, with
    /// the credentials `docker login` stored (plain HTTP only for a registry on this
    /// machine).
    #[arg(long, value_name = "REGISTRY/NAME:TAG")]
    pub push: Option<String>,
    /// The collectors to put in the image, as for collect (default: those built into
    /// cairn).
    #[arg(long, value_name = "PATH")]
    pub collector_bin: Vec<PathBuf>,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(clap::Args)]
pub struct VerifyCaseArgs {
    /// The directory `cairn collect --output-dir` wrote.
    pub dir: PathBuf,
    /// The examiner's public key (OpenSSH .pub) to check the signatures with (default:
    /// the key case.json names, which proves only that nothing changed since it signed).
    #[arg(long, value_name = "PUBKEY")]
    pub signer: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct VersionArgs {
    /// Check these collectors instead of the ones cairn would find itself.
    #[arg(long, value_name = "PATH")]
    pub collector_bin: Vec<std::path::PathBuf>,
}

#[derive(clap::Args)]
pub struct BootstrapArgs {
    /// Print the command (the default and only mode: cairn never runs it itself).
    #[arg(long)]
    pub print: bool,
    /// Where the target downloads the collector from (curl, wget or busybox wget).
    #[arg(long)]
    pub collector_url: String,
    /// The collector binary at that URL, to take its sha256 (default: as for collect).
    #[arg(long)]
    pub collector_bin: Option<PathBuf>,
    /// The architecture of the target (x86_64 or aarch64), when several collectors are
    /// found; the bootstrap checks `uname -m` against it.
    #[arg(long, default_value = "x86_64")]
    pub arch: String,
    /// Arguments for the collector, after `--` (default: collect --output -). An upload
    /// URL is refused here: the target reads every process's arguments in
    /// /proc/PID/cmdline; pass `--upload-url -` and pipe the URL into the line
    /// (`printf '%s' "$URL" | LINE`), which hands it to the collector's stdin.
    #[arg(last = true)]
    pub collector_args: Vec<String>,
}

#[derive(clap::Args)]
pub struct SidecarArgs {
    /// The workload's namespace (default: NAMESPACE in the patch, for you to fill in).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// The workload: NAME (a deployment) or KIND/NAME (deployment, statefulset,
    /// daemonset, replicaset).
    #[arg(long = "for", value_name = "WORKLOAD")]
    pub workload: String,
    /// The collector image (`cairn image` writes or pushes it).
    #[arg(long)]
    pub collector_image: Option<String>,
}

/// How `cairn pods` and the final report of `cairn collect` are printed (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(clap::Args)]
pub struct PodsArgs {
    #[command(flatten)]
    pub cluster: ClusterFlags,
    /// Show system namespaces (kube-system and the like) too.
    #[arg(long)]
    pub include_system: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: Format,
    /// Also exec `sh -c 'exit 0'` into each running container (needs pods/exec):
    /// one without a shell is distroless whatever its image is called.
    #[arg(long)]
    pub probe: bool,
}

// Exactly one destination: clap says so in the usage line and refuses none or two.
#[derive(clap::Args)]
#[command(group(
    clap::ArgGroup::new("destination")
        .required(true)
        .multiple(false)
        .args(["output_dir", "s3", "azure", "azure_sas", "gcs", "upload_url_template"])
))]
pub struct CollectArgs {
    /// Targets: POD or POD/CONTAINER in the namespace (kubectl's pod/POD too).
    #[arg(value_name = "POD[/CONTAINER]")]
    pub targets: Vec<String>,
    /// The container of each POD named without one, as kubectl's -c.
    #[arg(short = 'c', long, value_name = "CONTAINER", help_heading = "Targets")]
    pub container: Option<String>,
    #[command(flatten)]
    pub cluster: ClusterFlags,
    #[command(flatten)]
    pub dest: crate::dest::Flags,
    /// The static collector to deliver: a file, or a directory holding
    /// cairn-collector-x86_64 and cairn-collector-aarch64; once per architecture
    /// (default: $CAIRN_COLLECTOR_BIN, the collectors built into cairn, or those beside
    /// it). Each target gets the one of its node's architecture.
    #[arg(long, value_name = "PATH", help_heading = "Route")]
    pub collector_bin: Vec<PathBuf>,
    /// Let each target download the collector from this URL ({arch} is replaced by
    /// x86_64 or aarch64) with curl, wget or busybox wget instead of receiving it
    /// through the exec stream; the bootstrap checks it against the sha256 of
    /// --collector-bin and refuses anything else.
    #[arg(long, help_heading = "Route")]
    pub collector_url: Option<String>,
    /// How to reach each container: exec (the bootstrap through pods/exec, the
    /// default), ephemeral (an ephemeral container of --collector-image beside it,
    /// for containers without a shell; it stays in the pod's spec, as Kubernetes
    /// never removes ephemeral containers), or auto (exec where the container has a
    /// shell, ephemeral where it has none), sidecar (the pod's collector sidecar
    /// that `cairn sidecar` adds), or node (a short-lived pod on the target's node
    /// reads the container from the runtime's directories, offline, drift
    /// included; it is deleted afterwards).
    #[arg(long, value_enum, default_value = "exec", help_heading = "Route")]
    pub via: Via,
    /// The collector image for --via ephemeral and --via node
    /// (`cairn image --push REGISTRY/NAME:TAG` puts it where the cluster pulls from; give it
    /// by digest, NAME@sha256:..., so cairn checks the pod runs exactly that).
    #[arg(long, help_heading = "Route")]
    pub collector_image: Option<String>,
    /// Where --via node runs its collector pods: a namespace of their own, never the
    /// target's (deploy/rbac.yaml creates it and grants the rights there).
    #[arg(long, default_value = crate::route::node::DEFAULT_NAMESPACE, help_heading = "Route")]
    pub collector_namespace: String,
    /// A Localhost seccomp profile for --via node's pods (relative to the kubelet's
    /// seccomp directory), e.g. the one in deploy/seccomp/cairn-node.json installed as
    /// cairn-node.json, which also refuses open_by_handle_at. Default: RuntimeDefault.
    #[arg(long, value_name = "PROFILE", help_heading = "Route")]
    pub seccomp_profile: Option<String>,
    /// With --via node: also the node's kubelet and container runtime logs (system
    /// journal files, /var/log/{kubelet,containerd,docker,crio}.log and rotations)
    /// written since the pod started, into node/ of the archive.
    #[arg(long, help_heading = "Route")]
    pub node_logs: bool,
    /// Also capture each target's process memory (the collector's --memory: each
    /// process's resident pages as an ELF core file). It needs CAP_SYS_PTRACE, which
    /// the ephemeral and sidecar routes hold: with --via auto every target goes through
    /// an ephemeral container; --via node, which has no live processes, refuses it.
    #[arg(long, help_heading = "Route")]
    pub memory: bool,
    /// Run these YARA rules in every target (a file, or a directory of .yar/.yara
    /// files, each its own namespace): over the collected files, each process's
    /// resident memory and its executable; hits go to live_response/yara/hits.jsonl,
    /// the report's findings and the timeline. Compiled here first (a broken rule stops
    /// the run) and sent on the collector's stdin. Memory needs CAP_SYS_PTRACE: with
    /// --via auto every target goes through an ephemeral container; --via node scans
    /// the files only.
    #[arg(long, value_name = "FILE|DIR", help_heading = "Route")]
    pub yara: Option<std::path::PathBuf>,
    /// With --yara: capture the memory (as --memory does) only of the processes a rule
    /// matched; the others are scanned and recorded, not stored.
    #[arg(long, requires = "yara", help_heading = "Route")]
    pub memory_on_hit: bool,
    /// Write nothing to a target's disk: the exec route runs the collector from memory
    /// only (as root, /dev is a tmpfs that allows execution), and a target where no
    /// memory-backed place allows it is collected through an ephemeral container
    /// instead, which writes nothing into the target.
    #[arg(long, help_heading = "Route")]
    pub no_disk_writes: bool,
    /// With --via node: a collector pod for each target, rather than one per node shared
    /// by that node's targets, so that no collection shares a pod's CPU and memory
    /// limits with another; each target then waits for a pod to start.
    #[arg(long, help_heading = "Route")]
    pub pod_per_target: bool,
    /// Targets collected at once.
    #[arg(long, default_value_t = 4, help_heading = "Limits")]
    pub concurrency: usize,
    /// Targets collected at once on one node (each exec and ephemeral container goes
    /// through its kubelet), nodes taking turns; by default only --concurrency caps.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Limits")]
    pub per_node: Option<u64>,
    /// Time allowed per target (e.g. 90s, 30m, 1h30m); on expiry the exec stream
    /// closes, the collector's output breaks and the bootstrap removes it.
    #[arg(long, default_value = "30m", value_parser = duration::parse_arg, help_heading = "Limits")]
    pub timeout: Duration,
    /// The largest archive taken from one target; a pod that sends more is cut off
    /// (what arrived is kept as incomplete).
    #[arg(long, default_value = "64G", value_parser = cairn_protocol::size::parse, value_name = "SIZE", help_heading = "Limits")]
    pub max_archive_size: u64,
    /// A collection whose pod sends nothing (no archive bytes, no progress) for this
    /// long is cut off.
    #[arg(long, default_value = "5m", value_parser = duration::parse_arg, help_heading = "Limits")]
    pub idle_timeout: Duration,
    /// Where archives wait while they arrive when cairn uploads them itself
    /// (--azure-sas, --upload-url-template), and the Kubernetes evidence and the case
    /// record before they go to a store: in a directory of the run's own made in DIR
    /// (cairn-RANDOM, mode 0700, files 0600), removed once uploaded, kept there when
    /// the upload fails.
    #[arg(long, value_name = "DIR", default_value_os_t = std::env::temp_dir(), help_heading = "Output")]
    pub relay_dir: PathBuf,
    /// The case these collections belong to: recorded in every summary and in
    /// case.json (case-START.json in a store).
    #[arg(long, value_name = "ID", help_heading = "Case")]
    pub case: Option<String>,
    /// Who collects: recorded in every summary and in case.json.
    #[arg(long, value_name = "NAME", help_heading = "Case")]
    pub examiner: Option<String>,
    /// Sign case.json and each archive's .sha256 with this unencrypted ed25519 OpenSSH
    /// key (FILE.sig, namespace cairn): `ssh-keygen -Y verify` and `cairn verify-case`
    /// check them.
    #[arg(long, value_name = "KEY", help_heading = "Case")]
    pub sign_key: Option<PathBuf>,
    /// Do not write the Kubernetes evidence archive (NAME.k8s.tar.zst: the pod's object
    /// and container logs, owners, events, node, service account and its RBAC, network
    /// policies, the Secrets and ConfigMaps it names) beside each archive.
    #[arg(long, help_heading = "Output")]
    pub no_k8s_evidence: bool,
    /// The most bytes kept of each container log in the Kubernetes evidence (the cut is
    /// recorded there).
    #[arg(long, default_value = "16M", value_parser = cairn_protocol::size::parse, value_name = "SIZE", help_heading = "Limits")]
    pub max_log_size: u64,
    /// Show system namespaces' pods when selecting with -l.
    #[arg(long, help_heading = "Targets")]
    pub include_system: bool,
    /// Format of the final report.
    #[arg(
        short = 'o',
        long,
        value_enum,
        default_value = "table",
        help_heading = "Output"
    )]
    pub output: Format,
    /// Progress on stderr: bars on a terminal, a line per target start and end
    /// otherwise (auto), or always bars, lines, or nothing.
    #[arg(long, value_enum, default_value = "auto", help_heading = "Output")]
    pub progress: progress::Mode,
    /// Arguments passed to the collector after `collect` (e.g. --profile full).
    #[arg(last = true, help_heading = "Collector (after --)")]
    pub collector_args: Vec<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_flag_is_defined_once_and_well_formed() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
