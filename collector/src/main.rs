//! The `cairn-collector` command line: collect, verify, and list built-in specs.

use anyhow::{bail, Context, Result};
use cairn_collector::collect::{collect, default_workers, Options};
use cairn_collector::progress::{Progress, ProgressMode};
use cairn_collector::sink::{upload, Target};
use cairn_collector::source::{procfs::ProcFs, Root};
use cairn_collector::spec::{select, Catalog};
use cairn_collector::{node, units, verify};
use cairn_protocol::exit;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// In-container forensic evidence collection: one static binary, one verified archive.
#[derive(Parser, Debug)]
#[command(name = "cairn-collector", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Collect artifacts from a root into one tar+zstd archive with manifest and log.
    Collect(Box<CollectArgs>),
    /// Recompute every hash of an archive and check it against its manifest.
    Verify {
        /// The archive (`-` for standard input).
        archive: String,
    },
    /// List the containers on a node's disk (Docker and containerd), offline.
    Containers {
        /// The node's root filesystem: `/` on the node itself, or a copy of its disk
        /// mounted read-only anywhere.
        #[arg(long)]
        node_root: PathBuf,
        /// Output: table or json.
        #[arg(short = 'o', long, default_value = "table")]
        output: String,
    },
    /// Wait, doing nothing, for up to --for: the command of a collector sidecar or
    /// ephemeral container, into which collections are then exec'd. `--stop` ends the
    /// idle collectors of this container once the collection is done.
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
    /// List built-in profiles.
    Profiles,
    /// List built-in artifacts.
    Artifacts,
}

#[derive(clap::Args, Debug)]
struct CollectArgs {
    /// Root to collect. `/` is the live system (or the container the collector runs in);
    /// any other directory is an offline tree in which every path, symlink targets
    /// included, resolves inside it.
    #[arg(long, default_value = "/")]
    root: PathBuf,
    /// Collect a container from a node's disk instead (a live node's `/` or a mounted
    /// copy): its filesystem is rebuilt from its overlay layers without mounting.
    /// Needs --container.
    #[arg(long, requires = "container", conflicts_with = "root")]
    node_root: Option<PathBuf>,
    /// The container to collect under --node-root: its ID, a unique prefix, or its name
    /// (`cairn-collector containers --node-root DIR` lists them).
    #[arg(long, requires = "node_root")]
    container: Option<String>,
    /// Collect another container of this PID namespace through /proc/PID/root, with the
    /// namespace's live response: from an ephemeral container (targetContainerName) or
    /// a sidecar (shareProcessNamespace). `auto` takes the first process whose root is
    /// not the collector's own (the pod's pause process left out).
    #[arg(long, value_name = "auto|PID", conflicts_with_all = ["root", "node_root"])]
    target_pid: Option<String>,
    /// With --target-pid auto: the container to collect, by its runtime ID (as in the
    /// pod's containerStatuses), found in the processes' cgroups.
    #[arg(long, value_name = "ID", requires = "target_pid")]
    target_id: Option<String>,
    /// Built-in profile name or a profile YAML file (UAC profiles work).
    /// Default: container-triage, unless --artifacts adds artifacts.
    #[arg(long)]
    profile: Option<String>,
    /// Comma-separated built-in artifact names or globs, or artifact YAML files;
    /// `!NAME` excludes. Adds to --profile.
    #[arg(long)]
    artifacts: Option<String>,
    /// Where the archive goes: a file, or `-` for standard output. Not with an upload.
    #[arg(long, short = 'o', required_unless_present_any = ["upload_url", "upload_plan"], conflicts_with_all = ["upload_url", "upload_plan"])]
    output: Option<String>,
    /// Upload the archive, while it is produced, to this presigned URL: S3 (SigV4 PUT),
    /// Azure Blob SAS (blob or container), GCS (V4 signed PUT, or a resumable session
    /// URL). The kind is recognised from the URL; the URL is never printed whole.
    /// `-` reads it from stdin (one line), which keeps it out of the process list.
    #[arg(long, value_name = "URL", help_heading = "Upload")]
    upload_url: Option<String>,
    /// An upload plan (JSON, `-` for stdin) for S3 multipart or S3 POST: see
    /// docs/upload-plan.md.
    #[arg(
        long,
        value_name = "FILE|-",
        conflicts_with = "upload_url",
        help_heading = "Upload"
    )]
    upload_plan: Option<String>,
    /// The kind of --upload-url when it cannot be recognised.
    #[arg(long, value_enum, help_heading = "Upload")]
    upload_kind: Option<upload::destination::Kind>,
    /// Object name: the blob added to an Azure container SAS URL, the S3 POST filename.
    /// Default: cairn-HOSTNAME-UTCTIME.tar.zst.
    #[arg(long, help_heading = "Upload")]
    upload_name: Option<String>,
    /// Where the archive goes if the upload fails (a file, or `-` for standard output):
    /// all of it when the URL fails its check before collection, otherwise the part
    /// not uploaded, while the uploaded part is committed as the object.
    #[arg(long, value_name = "FILE|-", help_heading = "Upload")]
    fallback_output: Option<String>,
    /// PEM file of CA certificates to trust instead of the built-in web PKI roots
    /// (private object stores, TLS-intercepting proxies).
    #[arg(long, value_name = "PEM", help_heading = "Upload")]
    ca_file: Option<PathBuf>,
    /// Attempts after the first, per request, with exponential backoff and jitter.
    #[arg(long, default_value = "6", help_heading = "Upload")]
    upload_retries: u32,
    /// Longest wait for a response or for the next bytes of one.
    #[arg(long, default_value = "60s", value_parser = cairn_protocol::duration::parse_arg, help_heading = "Upload")]
    upload_timeout: Duration,
    /// Longest wait to connect.
    #[arg(long, default_value = "10s", value_parser = cairn_protocol::duration::parse_arg, help_heading = "Upload")]
    connect_timeout: Duration,
    /// First retry wait; doubles per attempt (tests shorten it).
    #[arg(long, hide = true, default_value = "500ms", value_parser = cairn_protocol::duration::parse_arg)]
    upload_backoff: Duration,
    /// Files larger than this are stored truncated to it (e.g. 512M, 1G).
    #[arg(long, default_value = "1G", value_parser = units::parse_size)]
    max_file_size: u64,
    /// Stop storing file content after this many bytes (e.g. 10G). Default: no limit.
    #[arg(long, value_parser = units::parse_size)]
    max_total_size: Option<u64>,
    /// Stop collecting after this long (e.g. 90s, 10m); the archive is still complete
    /// and valid, and the log records what was cut.
    #[arg(long, value_parser = cairn_protocol::duration::parse_arg)]
    timeout: Option<Duration>,
    /// Only files with a time (m, a or c) on or after this date (YYYY-MM-DD, UTC).
    #[arg(long, value_parser = parse_date)]
    date_range_start: Option<i64>,
    /// Only files with a time (m, a or c) before the end of this date (YYYY-MM-DD, UTC).
    #[arg(long, value_parser = parse_date)]
    date_range_end: Option<i64>,
    /// Progress on stderr: auto (human when a terminal), human, json, none.
    #[arg(long, value_enum, default_value = "auto")]
    progress: ProgressMode,
    /// Compression threads (default: one per core).
    #[arg(long)]
    threads: Option<u32>,
    /// Keep the values of environment variables whose names look secret (TOKEN,
    /// SECRET, PASSWORD, KEY...) in the process listing. By default they are redacted.
    #[arg(long)]
    no_redact: bool,
    /// Where procfs is mounted (the live response reads processes and sockets there).
    #[arg(long, default_value = "/proc")]
    proc: PathBuf,
    /// Compressed bytes of manifest held in memory before a part is written (tests).
    #[arg(long, hide = true, value_parser = units::parse_size)]
    manifest_part_size: Option<u64>,
}

fn parse_date(s: &str) -> Result<i64, String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|e| format!("`{s}` is not a date like 2026-01-31: {e}"))
}

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("cairn-collector: error: {e:#}");
            std::process::exit(exit::ERROR);
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Profiles => {
            let c = Catalog::builtin()?;
            for (name, p) in &c.profiles {
                println!("{name:24} {}", p.description);
            }
            Ok(exit::OK)
        }
        Command::Artifacts => {
            let c = Catalog::builtin()?;
            for (name, a) in &c.artifacts {
                println!("{name:32} {}", a.description);
            }
            Ok(exit::OK)
        }
        Command::Verify { archive } => {
            let v = verify::verify(&archive).with_context(|| format!("reading {archive}"))?;
            for p in &v.problems {
                println!("MISMATCH {p}");
            }
            if v.ok() {
                println!(
                    "OK {} entries, {} manifest records verified; archive sha256 {}",
                    v.entries, v.manifest_records, v.archive_sha256
                );
                Ok(exit::OK)
            } else {
                println!(
                    "FAILED {} problem(s); archive sha256 {}",
                    v.problems.len(),
                    v.archive_sha256
                );
                Ok(exit::FAILED)
            }
        }
        Command::Collect(a) => collect_cmd(*a),
        Command::Idle {
            duration,
            stop,
            proc,
        } => {
            if stop {
                let proc = ProcFs::open(&proc)
                    .with_context(|| format!("opening procfs at {}", proc.display()))?;
                let n = stop_idle(&proc);
                eprintln!("cairn-collector: stopped {n} idle collector(s)");
                return Ok(exit::OK);
            }
            let until = std::time::Instant::now() + duration;
            while std::time::Instant::now() < until {
                std::thread::sleep(Duration::from_secs(1).min(until - std::time::Instant::now()));
            }
            Ok(exit::OK)
        }
        Command::Containers { node_root, output } => {
            let (all, warnings) = node::list(&node_root)?;
            for w in &warnings {
                eprintln!("cairn-collector: warning: {w}");
            }
            if output == "json" {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!(
                    "{:<11} {:<14} {:<10} {:<24} {:<36} {:<9} IMAGE",
                    "RUNTIME", "ID", "NAMESPACE", "NAME", "POD", "STATE"
                );
                for c in &all {
                    let pod = match (&c.pod_namespace, &c.pod_name) {
                        (Some(n), Some(p)) => format!("{n}/{p}"),
                        _ => "-".into(),
                    };
                    println!(
                        "{:<11} {:<14} {:<10} {:<24} {:<36} {:<9} {}",
                        format!("{:?}", c.runtime).to_lowercase(),
                        c.id.chars().take(12).collect::<String>(),
                        c.namespace.as_deref().unwrap_or("-"),
                        c.name,
                        pod,
                        c.state,
                        c.image
                    );
                }
            }
            Ok(exit::OK)
        }
    }
}

/// Sends SIGTERM to the other `cairn-collector idle` processes running this same
/// executable; returns how many.
fn stop_idle(proc: &ProcFs) -> usize {
    let Ok(me) = proc.identity("self/exe") else {
        return 0;
    };
    let own = std::process::id() as i32;
    let mut n = 0;
    for pid in proc.pids().unwrap_or_default() {
        if pid == own {
            continue;
        }
        let Ok(dir) = proc.process(pid) else {
            continue;
        };
        let same_exe = dir.identity("exe").is_ok_and(|e| e == me);
        let cmdline = dir.read("cmdline", 1 << 16).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        if same_exe && args.get(1) == Some(&&b"idle"[..]) && !args.contains(&&b"--stop"[..]) {
            if let Some(p) = rustix::process::Pid::from_raw(pid) {
                if rustix::process::kill_process(p, rustix::process::Signal::TERM).is_ok() {
                    n += 1;
                }
            }
        }
    }
    n
}

/// The target: a local output, or an upload (checked here, before collecting).
fn target_of(a: &CollectArgs) -> Result<Target> {
    use std::io::IsTerminal;
    let fallback = a.fallback_output.as_deref().map(Target::parse);
    for out in [a.output.as_deref(), a.fallback_output.as_deref()] {
        if out == Some("-") && std::io::stdout().is_terminal() {
            bail!(
                "refusing to write a binary archive to a terminal: redirect stdout or give a file"
            );
        }
    }
    if a.upload_url.is_none() && a.upload_plan.is_none() {
        if fallback.is_some() {
            bail!("--fallback-output is for uploads (--upload-url or --upload-plan)");
        }
        return Ok(Target::parse(a.output.as_deref().unwrap_or("-")));
    }
    let plan = match a.upload_plan.as_deref() {
        None => None,
        Some(src) => {
            let text = if src == "-" {
                // One JSON document, read up to its end: stdin may stay open (a
                // launcher keeps its exec stream's stdin open while attached).
                let mut de = serde_json::Deserializer::from_reader(std::io::stdin().lock());
                let v = <serde_json::Value as serde::Deserialize>::deserialize(&mut de)
                    .context("reading the upload plan from stdin")?;
                serde_json::to_vec(&v)?
            } else {
                std::fs::read(src).with_context(|| format!("reading --upload-plan {src}"))?
            };
            Some(upload::plan::Plan::parse(&text)?)
        }
    };
    let url = match a.upload_url.as_deref() {
        Some("-") => {
            // One line: stdin may stay open after it.
            let mut v = String::new();
            std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut v)
                .context("reading --upload-url from stdin")?;
            let v = v.trim().to_owned();
            if v.is_empty() {
                bail!("--upload-url -: stdin held no URL");
            }
            Some(v)
        }
        other => other.map(str::to_owned),
    };
    let name = a.upload_name.clone().unwrap_or_else(default_object_name);
    let destination =
        upload::destination::Destination::new(url.as_deref(), plan, a.upload_kind, &name)?;
    Ok(Target::Upload(Box::new(upload::UploadConfig {
        destination,
        http: upload::http::HttpConfig {
            connect_timeout: a.connect_timeout,
            read_timeout: a.upload_timeout,
            retries: a.upload_retries,
            backoff: a.upload_backoff,
            ca_file: a.ca_file.clone(),
        },
        fallback,
        name,
    })))
}

/// `cairn-HOSTNAME-20261123T101500Z.tar.zst`.
fn default_object_name() -> String {
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.',
            "_",
        );
    let now = cairn_collector::units::now_rfc3339().replace([':', '-'], "");
    let stamp = now.split('.').next().unwrap_or(&now).trim_end_matches('Z');
    format!("cairn-{host}-{stamp}Z.tar.zst")
}

fn collect_cmd(a: CollectArgs) -> Result<i32> {
    let target = target_of(&a)?;
    let catalog = Catalog::builtin()?;
    let selection = select(&catalog, a.profile.as_deref(), a.artifacts.as_deref())?;
    let (root, container) = match (&a.node_root, &a.container) {
        (Some(node_root), Some(id)) => {
            let (c, warnings) = node::find(node_root, id)?;
            for w in &warnings {
                eprintln!("cairn-collector: warning: {w}");
            }
            let name = PathBuf::from(format!(
                "{}:{}",
                format!("{:?}", c.runtime).to_lowercase(),
                c.id
            ));
            (Root::open_layers(&name, &c.layers)?, Some(c))
        }
        _ => match a.target_pid.as_deref() {
            Some(t) => {
                let wanted = match t {
                    "auto" => None,
                    n => Some(n.parse::<u32>().map_err(|_| {
                        anyhow::anyhow!("--target-pid takes auto or a PID, not {n}")
                    })?),
                };
                let proc = ProcFs::open(&a.proc)
                    .with_context(|| format!("opening procfs at {}", a.proc.display()))?;
                let (pid, all) =
                    cairn_collector::source::target::choose(&proc, wanted, a.target_id.as_deref())?;
                if all.len() > 1 && wanted.is_none() && a.target_id.is_none() {
                    eprintln!(
                        "cairn-collector: {} containers share this PID namespace; collecting the one of PID {pid} ({}); others: {}",
                        all.len(),
                        all[0].exe,
                        all[1..].iter().map(|c| format!("PID {} ({})", c.pid, c.exe)).collect::<Vec<_>>().join(", ")
                    );
                }
                (Root::open_process(&proc, pid)?, None)
            }
            None => (Root::open(&a.root)?, None),
        },
    };
    let date_range = match (a.date_range_start, a.date_range_end) {
        (None, None) => None,
        (s, e) => Some((
            s.unwrap_or(i64::MIN),
            e.map(|e| e + 86_399).unwrap_or(i64::MAX),
        )),
    };
    let opts = Options {
        max_file_size: a.max_file_size,
        max_total_size: a.max_total_size,
        timeout: a.timeout,
        date_range,
        workers: a.threads.unwrap_or_else(default_workers),
        manifest_part_bytes: a
            .manifest_part_size
            .map(|b| b as usize)
            .unwrap_or(Options::default().manifest_part_bytes),
        live: cairn_collector::live::LiveOptions {
            redact: !a.no_redact,
            proc_path: a.proc.clone(),
        },
        ..Options::default()
    };
    let invocation = serde_json::json!({
        "root": root.path().display().to_string(),
        "node_root": a.node_root.as_ref().map(|p| p.display().to_string()),
        "container": container,
        "target_pid": root.target_pid(),
        "profile": a.profile,
        "artifacts": a.artifacts,
        "output": a.output,
        "upload": a.upload_url.as_deref().map(|u| if u == "-" { "URL from stdin".to_owned() } else { upload::destination::redact_text(u) }).or(a.upload_plan.as_ref().map(|p| format!("plan {p}"))),
        "fallback_output": a.fallback_output,
    });
    let mut progress = Progress::new(a.progress);
    let report = collect(&root, &selection, &opts, target, &mut progress, invocation)?;
    let c = &report.counts;
    eprintln!(
        "cairn-collector: {} files ({} bytes) stored; {} skipped, {} denied, {} errors, {} truncated, {} changed{}",
        c.files,
        c.bytes_stored,
        c.skipped,
        c.denied,
        c.errors,
        c.truncated,
        c.changed,
        if report.timed_out { "; TIMED OUT (archive complete up to the deadline)" } else { "" }
    );
    let d = &report.delivered;
    match &d.upload {
        None => {
            eprintln!(
                "cairn-collector: archive {} {} bytes sha256 {}",
                d.target.describe(),
                d.bytes,
                d.sha256
            );
        }
        Some(u) if u.complete => {
            eprintln!(
                "cairn-collector: uploaded {} ({}) {} bytes in {} part(s), {} retries, sha256 {}",
                u.object.as_deref().unwrap_or(&u.location),
                u.kind,
                u.uploaded_bytes,
                u.parts,
                u.retries,
                d.sha256
            );
        }
        Some(u) => {
            eprintln!(
                "cairn-collector: UPLOAD FAILED to {} ({}): {}",
                u.object.as_deref().unwrap_or(&u.location),
                u.kind,
                u.error.as_deref().unwrap_or("unknown error")
            );
            eprintln!(
                "cairn-collector: fallback {} holds the archive from byte {} ({} bytes in all, sha256 {}); the object holds {} bytes",
                u.fallback.as_deref().unwrap_or("-"),
                u.fallback_from.unwrap_or(0),
                d.bytes,
                d.sha256,
                u.uploaded_bytes
            );
            return Ok(exit::UPLOAD_FELL_BACK);
        }
    }
    Ok(exit::OK)
}
