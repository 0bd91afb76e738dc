//! `cairn-collector collect`: where the root comes from (the live system, an offline
//! tree, another container through procfs, a container on a node's disk), where the
//! archive goes (a file, stdout, an upload checked before collecting), the limits, and
//! the final lines that say what was stored and delivered.

use super::cli::CollectArgs;
use anyhow::{bail, Context, Result};
use cairn_archive::records::summary::Invocation;
use cairn_collector::collect::{collect, default_workers, Options, Report};
use cairn_collector::node;
use cairn_collector::progress::Progress;
use cairn_collector::sandbox::Allowed;
use cairn_collector::sink::{upload, Target};
use cairn_collector::source::{procfs::ProcFs, Root};
use cairn_collector::spec::{select, Catalog};
use cairn_protocol::exit;
use std::path::{Path, PathBuf};

pub fn run(a: CollectArgs) -> Result<i32> {
    if let Some(f) = &a.o_format {
        bail!(
            "-o {}: the collector has no -o; the archive goes to --output FILE (or --output - for standard output). -o FORMAT is cairn's report format",
            cairn_protocol::escape::terminal(f)
        );
    }
    for out in [a.output.as_deref(), a.fallback_output.as_deref()]
        .into_iter()
        .flatten()
    {
        check_new_output(out, a.force)?;
    }
    let target = target_of(&a)?;
    let catalog = Catalog::builtin()?;
    // The responder's rules are compiled before anything is read: a broken rule stops
    // here, naming its file and line.
    let rules = a
        .yara
        .as_deref()
        .map(compile_rules)
        .transpose()?
        .map(std::sync::Arc::new);
    let (profile, artifacts) = with_memory(&a);
    let selection = select(&catalog, profile.as_deref(), artifacts.as_deref())?;
    // A node's disk is confined before its first file is read; another container
    // once its PID is chosen (from procfs only), before its root is read.
    let node_sandbox = a
        .node_root
        .as_deref()
        .map(|r| confine(&a, Allowed::node(r)));
    let (root, container) = root_of(&a)?;
    let mut opts = options(&a);
    opts.live.memory.yara = rules;
    opts.sandbox =
        node_sandbox.or_else(|| root.target_pid().map(|_| confine(&a, Allowed::process())));
    if let Some(node_root) = &a.node_root {
        opts.beside = node::beside(node_root, container.as_ref(), a.node_logs_since);
    }
    let invocation = Invocation {
        root: root.path().display().to_string(),
        node_root: a.node_root.as_ref().map(|p| p.display().to_string()),
        container,
        node_logs_since: a
            .node_logs_since
            .map(|t| cairn_archive::text::rfc3339(t, 0)),
        target_pid: root.target_pid(),
        profile,
        artifacts,
        output: a.output.clone(),
        upload: a
            .upload_url
            .as_deref()
            .map(|u| {
                if u == "-" {
                    "URL from stdin".to_owned()
                } else {
                    upload::destination::redact_text(u)
                }
            })
            .or(a.upload_plan.as_ref().map(|p| format!("plan {p}"))),
        fallback_output: a.fallback_output.clone(),
    };
    let mut progress = Progress::new(a.progress);
    let report = collect(&root, &selection, &opts, target, &mut progress, invocation)?;
    Ok(tell(&report))
}

/// Confines the collector to `allowed` and where its outputs go.
fn confine(a: &CollectArgs, mut allowed: Allowed) -> cairn_collector::sandbox::Applied {
    for f in [&a.output, &a.fallback_output].into_iter().flatten() {
        allowed.write_beside(f);
    }
    let applied = cairn_collector::sandbox::apply(&allowed);
    tracing::info!("{}", applied.line);
    applied
}

/// The root to collect, and the node container it was rebuilt from.
fn root_of(a: &CollectArgs) -> Result<(Root, Option<node::NodeContainer>)> {
    if let (Some(node_root), Some(id)) = (&a.node_root, &a.container) {
        let (c, warnings) = node::find(node_root, id)?;
        for w in &warnings {
            eprintln!(
                "cairn-collector: warning: {}",
                cairn_protocol::escape::terminal(w)
            );
        }
        let name = PathBuf::from(format!(
            "{}:{}",
            format!("{:?}", c.runtime).to_lowercase(),
            c.id
        ));
        return Ok((Root::open_layers(&name, &c.layers)?, Some(c)));
    }
    let Some(t) = a.target_pid.as_deref() else {
        return Ok((Root::open(&a.root)?, None));
    };
    let wanted = match t {
        "auto" => None,
        n => Some(
            n.parse::<u32>()
                .map_err(|_| anyhow::anyhow!("--target-pid takes auto or a PID, not {n}"))?,
        ),
    };
    let proc =
        ProcFs::open(&a.proc).with_context(|| format!("opening procfs at {}", a.proc.display()))?;
    let chosen = cairn_collector::source::target::choose(&proc, wanted, a.target_id.as_deref())?;
    let (pid, all) = (chosen.pid, &chosen.candidates);
    if all.len() > 1 && wanted.is_none() && a.target_id.is_none() {
        eprintln!(
            "cairn-collector: {} containers share this PID namespace; collecting the one of PID {pid} ({}); others: {}",
            all.len(),
            all[0].exe,
            all[1..].iter().map(|c| format!("PID {} ({})", c.pid, c.exe)).collect::<Vec<_>>().join(", ")
        );
    }
    let mut root = Root::open_process(&proc, pid)?;
    if let Some(w) = chosen.warning() {
        eprintln!(
            "cairn-collector: warning: {}",
            cairn_protocol::escape::terminal(&w)
        );
        root.note(w);
    }
    Ok((root, None))
}

/// The limits and filters the flags give.
fn options(a: &CollectArgs) -> Options {
    let date_range = match (a.date_range_start, a.date_range_end) {
        (None, None) => None,
        (s, e) => Some((
            s.unwrap_or(i64::MIN),
            e.map(|e| e + 86_399).unwrap_or(i64::MAX),
        )),
    };
    Options {
        max_file_size: a.max_file_size,
        max_total_size: a.max_total_size,
        timeout: a.timeout,
        date_range,
        workers: a.threads.unwrap_or_else(default_workers),
        manifest_part_bytes: a
            .manifest_part_size
            .map(|b| b as usize)
            .unwrap_or(Options::default().manifest_part_bytes),
        case: a.case.clone(),
        examiner: a.examiner.clone(),
        live: cairn_collector::live::LiveOptions {
            redact: !a.no_redact,
            proc_path: a.proc.clone(),
            memory: cairn_collector::live::memory::MemoryOptions {
                max_process: a.memory_max_process,
                max_total: a.memory_max_total,
                pids: a.memory_pids.clone(),
                dump: a.memory || a.memory_on_hit || a.yara.is_none(),
                on_hit: a.memory_on_hit,
                yara: None,
            },
        },
        ..Options::default()
    }
}

/// The profile and artifacts asked for, with the memory artifact added for `--memory`
/// and `--yara` (to the default profile when none is named).
fn with_memory(a: &CollectArgs) -> (Option<String>, Option<String>) {
    if !a.memory && a.yara.is_none() {
        return (a.profile.clone(), a.artifacts.clone());
    }
    let profile = a.profile.clone().or_else(|| {
        a.artifacts
            .is_none()
            .then(|| cairn_collector::spec::builtin::DEFAULT_PROFILE.to_owned())
    });
    let artifacts = match &a.artifacts {
        Some(x) => format!("{x},memory/*"),
        None => "memory/*".to_owned(),
    };
    (profile, Some(artifacts))
}

/// The final lines on stderr; returns the exit status.
fn tell(report: &Report) -> i32 {
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
        if report.cut_short.is_empty() { "" } else { "; CUT SHORT (the archive is valid but not everything asked for is in it)" }
    );
    let uid = rustix::process::geteuid();
    if c.denied > 0 && !uid.is_root() {
        eprintln!(
            "cairn-collector: warning: {} file(s) or folder(s) denied: this ran as uid {}, not root, so what other users own and keep private is not in the archive (collection.log names each); run it as root, or note what is missing",
            c.denied,
            uid.as_raw()
        );
    }
    if let Some(o) = &report.output_in_tree {
        eprintln!(
            "cairn-collector: warning: {}",
            cairn_protocol::escape::terminal(
                &cairn_collector::collect::identity::output_in_tree_warning(o)
            )
        );
    }
    if report.commands_not_run > 0 {
        eprintln!(
            "cairn-collector: not run by design: {} command collector(s) (cairn never runs shell commands on the target; collection.log names them)",
            report.commands_not_run
        );
    }
    for why in &report.cut_short {
        eprintln!("cairn-collector: cut short: {why}");
    }
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
                "cairn-collector: uploaded {} ({}) {} bytes in {} part(s), {} retries, sha256 {}{}",
                u.object.as_deref().unwrap_or(&u.location),
                u.kind,
                u.uploaded_bytes,
                u.parts,
                u.retries,
                d.sha256,
                if u.uncommitted_parts.is_some() {
                    "; the parts are left for the launcher to commit"
                } else {
                    ""
                }
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
            return exit::UPLOAD_FELL_BACK;
        }
    }
    if report.cut_short.is_empty() {
        exit::OK
    } else {
        exit::CUT_SHORT
    }
}

/// An archive file is evidence: an existing one is not replaced without --force, and
/// a path that cannot be written is refused before collecting, naming what is wrong.
/// Devices and FIFOs (`/dev/null`) are written to as they are.
fn check_new_output(out: &str, force: bool) -> Result<()> {
    use std::path::Path;
    if out == "-" {
        return Ok(());
    }
    let p = Path::new(out);
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => bail!("--output {out} is a directory: name the archive file"),
        Ok(m) if (m.is_file() || m.file_type().is_symlink()) && !force => bail!(
            "{out} exists: an archive may be evidence and is not overwritten; give a new name, or --force to replace it"
        ),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !dir.is_dir() {
                bail!(
                    "cannot write {out}: the directory {} does not exist",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) => bail!("cannot write {out}: {e}"),
    }
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
        other => {
            if other.is_some() {
                tracing::warn!("the upload URL is in this process's arguments, which anyone in this container can read in /proc/{}/cmdline: pass --upload-url - and the URL on stdin", std::process::id());
            }
            other.map(str::to_owned)
        }
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
        fallback: fallback.map(|f| std::sync::Arc::new(f) as _),
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
    let now = cairn_archive::text::now_rfc3339().replace([':', '-'], "");
    let stamp = now.split('.').next().unwrap_or(&now).trim_end_matches('Z');
    format!("cairn-{host}-{stamp}Z.tar.zst")
}

/// The rules of `--yara`: a file or directory, or `-`, one document on stdin after the
/// upload plan or URL (read first, by [`target_of`]).
fn compile_rules(path: &Path) -> anyhow::Result<cairn_collector::live::memory::yara::Rules> {
    use cairn_collector::live::memory::yara;
    if path.as_os_str() != "-" {
        return yara::compile(path).map_err(anyhow::Error::msg);
    }
    let set = cairn_protocol::yara::RuleSet::from_reader(&mut std::io::stdin().lock())?;
    yara::compile_set(&set).map_err(anyhow::Error::msg)
}
