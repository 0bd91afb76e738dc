//! The `cairn-collector` command line: collect, verify, and list built-in specs.

use anyhow::{bail, Context, Result};
use cairn_collector::collect::{collect, engine::default_workers, Options};
use cairn_collector::progress::{Progress, ProgressMode};
use cairn_collector::sink::Target;
use cairn_collector::source::Root;
use cairn_collector::spec::{select, Catalog};
use cairn_collector::{units, verify};
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
    Collect(CollectArgs),
    /// Recompute every hash of an archive and check it against its manifest.
    Verify {
        /// The archive (`-` for standard input).
        archive: String,
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
    /// Built-in profile name or a profile YAML file (UAC profiles work).
    /// Default: container-triage, unless --artifacts adds artifacts.
    #[arg(long)]
    profile: Option<String>,
    /// Comma-separated built-in artifact names or globs, or artifact YAML files;
    /// `!NAME` excludes. Adds to --profile.
    #[arg(long)]
    artifacts: Option<String>,
    /// Where the archive goes: a file, or `-` for standard output.
    #[arg(long, short = 'o')]
    output: String,
    /// Files larger than this are stored truncated to it (e.g. 512M, 1G).
    #[arg(long, default_value = "1G", value_parser = units::parse_size)]
    max_file_size: u64,
    /// Stop storing file content after this many bytes (e.g. 10G). Default: no limit.
    #[arg(long, value_parser = units::parse_size)]
    max_total_size: Option<u64>,
    /// Stop collecting after this long (e.g. 90s, 10m); the archive is still complete
    /// and valid, and the log records what was cut.
    #[arg(long, value_parser = humantime::parse_duration)]
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
            std::process::exit(2);
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
            Ok(0)
        }
        Command::Artifacts => {
            let c = Catalog::builtin()?;
            for (name, a) in &c.artifacts {
                println!("{name:32} {}", a.description);
            }
            Ok(0)
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
                Ok(0)
            } else {
                println!(
                    "FAILED {} problem(s); archive sha256 {}",
                    v.problems.len(),
                    v.archive_sha256
                );
                Ok(1)
            }
        }
        Command::Collect(a) => collect_cmd(a),
    }
}

fn collect_cmd(a: CollectArgs) -> Result<i32> {
    use std::io::IsTerminal;
    if a.output == "-" && std::io::stdout().is_terminal() {
        bail!("refusing to write a binary archive to a terminal: redirect stdout or give --output FILE");
    }
    let catalog = Catalog::builtin()?;
    let selection = select(&catalog, a.profile.as_deref(), a.artifacts.as_deref())?;
    let root = Root::open(&a.root)?;
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
        "root": a.root.display().to_string(),
        "profile": a.profile,
        "artifacts": a.artifacts,
        "output": a.output,
    });
    let mut progress = Progress::new(a.progress);
    let report = collect(
        &root,
        &selection,
        &opts,
        Target::parse(&a.output),
        &mut progress,
        invocation,
    )?;
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
    let where_ = match &report.delivered.target {
        Target::File(p) => p.display().to_string(),
        Target::Stdout => "stdout".into(),
    };
    eprintln!(
        "cairn-collector: archive {where_} {} bytes sha256 {}",
        report.delivered.bytes, report.delivered.sha256
    );
    Ok(0)
}
