//! The end of a collection: the collection log and the manifest are written into the
//! archive, then `summary.json` (what was collected, from where, how, with which
//! limits, and the hashes of the log and manifest), and the archive is sealed and
//! delivered; the `done` event carries its sha256.

use super::identity;
use super::options::Options;
use super::recorder::generated_header;
use super::recorder::Recorder;
use crate::sink::Delivered;
use crate::source::Root;
use crate::spec::Selection;
use cairn_archive::member::{LOG, MANIFEST, SUMMARY};
use cairn_archive::records::summary::{
    ArchiveSize, ArtifactRef, CaseRef, Destination, Invocation, Limits, LogSeal, ManifestSeal,
    Part, Seal, Summary,
};
use cairn_protocol::event::{self, Event};
use cairn_protocol::Counts;
use std::io::{self, Write};
use std::time::Instant;

/// What a finished collection reports.
#[derive(Debug)]
pub struct Report {
    pub delivered: Delivered,
    pub counts: Counts,
    pub timed_out: bool,
    /// Every limit that cut the collection short, one sentence each; empty when the
    /// collection is complete.
    pub cut_short: Vec<String>,
    /// UAC `collector: command` entries, which cairn never runs.
    pub commands_not_run: u64,
    /// Where the archive was written, when that is inside the collected tree.
    pub output_in_tree: Option<cairn_protocol::Placed>,
    pub warnings: u64,
}

/// A collection that could not produce an archive.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("cannot write the archive to {0}: {1}")]
    Output(String, io::Error),
    #[error("writing the archive failed: {0}")]
    Write(io::Error),
}

/// When and how a collection ran, for the summary.
pub struct Run<'s> {
    pub selection: &'s Selection,
    pub opts: &'s Options,
    pub started: String,
    pub ended: String,
    pub clock: Instant,
    pub invocation: Invocation,
}

/// What the collection ended as.
pub struct Ended<'a> {
    pub rec: Recorder<'a>,
    pub root: &'a Root,
    pub timed_out: bool,
    /// Where the archive is written, when that is inside the collected tree.
    pub output_in_tree: Option<cairn_protocol::Placed>,
}

/// Writes the log, the manifest and the summary, seals the archive and delivers it.
pub fn finish(mut e: Ended<'_>, run: Run<'_>) -> Result<Report, CollectError> {
    let h = generated_header();
    let r = &mut e.rec;
    r.drain_upload_events();
    let destination = destination(r.archive.sink());
    let warnings = r.log.warnings + r.log.errors;
    let (log, manifest) = records(r)?;
    let cut_short = cut_short(&e, run.opts);
    let seal = Seal {
        complete: cut_short.is_empty(),
        cut_short: cut_short.clone(),
        log,
        manifest,
    };
    let summary = summary(&e, run, destination, seal);
    let mut text = serde_json::to_vec_pretty(&summary).unwrap_or_default();
    text.push(b'\n');
    let output_in_tree = e.output_in_tree.clone();
    let r = e.rec;
    let mut archive = r.archive;
    archive
        .append_bytes(SUMMARY.as_bytes(), &h, &text)
        .map_err(CollectError::Write)?;
    let (counts, timed_out, progress, events, commands_not_run) = (
        r.counts,
        e.timed_out,
        r.progress,
        r.upload_events,
        r.commands_not_run,
    );
    let mut sink = archive.finish().map_err(CollectError::Write)?;
    sink.flush().map_err(CollectError::Write)?;
    let closed = sink.close();
    // The log is sealed by now: what the last parts of an upload did goes to progress
    // (and the final line) only.
    for (level, event, message) in events.take() {
        if let Some(e) = Event::of_upload_record(event, level, message) {
            progress.emit(&e);
        }
    }
    let delivered = closed.map_err(CollectError::Write)?;
    progress.emit(&Event::Done(event::Done {
        sha256: delivered.sha256.clone(),
        bytes: delivered.bytes,
        files: counts.files,
        timed_out,
        cut_short: cut_short.clone(),
        upload: delivered.upload.clone().map(Box::new),
        binary: super::identity::binary_in_target(e.root),
    }));
    Ok(Report {
        delivered,
        counts,
        timed_out,
        cut_short,
        commands_not_run,
        output_in_tree,
        warnings,
    })
}

/// Where the archive went, as the summary says it.
fn destination(sink: &crate::sink::Sink) -> Destination {
    match sink.upload_report() {
        Some(u) => Destination {
            kind: u.kind.clone(),
            location: u.location.clone(),
            object: u.object.clone(),
            preflight: u.preflight.clone(),
            error_so_far: u.error.clone(),
            fallback: u.fallback.clone(),
        },
        None => Destination {
            kind: "local".into(),
            location: sink.describe_target(),
            ..Destination::default()
        },
    }
}

/// Writes the collection log and the manifest's last part; their seals.
fn records(r: &mut Recorder<'_>) -> Result<(LogSeal, ManifestSeal), CollectError> {
    let h = generated_header();
    let log_len = r.log.spool().len();
    let log_sha = r
        .archive
        .append_spool(LOG.as_bytes(), &h, r.log.spool())
        .map_err(CollectError::Write)?;
    let manifest_len = r.manifest.len();
    let manifest_sha = r
        .archive
        .append_spool(MANIFEST.as_bytes(), &h, &mut r.manifest)
        .map_err(CollectError::Write)?;
    let log = LogSeal {
        path: LOG.into(),
        sha256: log_sha,
        size: log_len,
        warnings: r.log.warnings,
        errors: r.log.errors,
    };
    let manifest = ManifestSeal {
        path: MANIFEST.into(),
        sha256: manifest_sha,
        size: manifest_len,
        earlier_parts: r
            .manifest_parts
            .iter()
            .map(|(p, sha, size)| Part {
                path: p.clone(),
                sha256: sha.clone(),
                size: *size,
            })
            .collect(),
    };
    Ok((log, manifest))
}

/// What cut the collection short, one sentence per limit: the archive is complete and
/// valid either way, but without these it would hold more.
fn cut_short(e: &Ended<'_>, opts: &Options) -> Vec<String> {
    let mut cut = Vec::new();
    if e.timed_out {
        cut.push(format!(
            "--timeout {} reached: artifacts not yet run were left out (collection.log lists them)",
            opts.timeout
                .map(cairn_protocol::duration::format)
                .unwrap_or_default()
        ));
    }
    if e.rec.total_size_cut > 0 {
        cut.push(format!(
            "--max-total-size {} reached: {} file(s) left out or cut (manifest.jsonl marks them)",
            opts.max_total_size
                .map(cairn_protocol::size::format)
                .unwrap_or_default(),
            e.rec.total_size_cut
        ));
    }
    cut
}

/// `summary.json`.
fn summary(e: &Ended<'_>, run: Run<'_>, destination: Destination, seal: Seal) -> Summary {
    let root: &Root = e.root;
    let opts = run.opts;
    Summary {
        tool: "cairn-collector".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        started: run.started,
        ended: run.ended,
        duration_seconds: run.clock.elapsed().as_secs_f64(),
        root: root.path().display().to_string(),
        live: root.is_live(),
        case: CaseRef {
            id: opts.case.clone(),
            examiner: opts.examiner.clone(),
        },
        identity: identity::identity(root),
        collector: identity::footprint(root, e.output_in_tree.as_ref()),
        profile: run.selection.profile.clone(),
        artifacts: run
            .selection
            .sets
            .iter()
            .map(|s| ArtifactRef {
                name: s.name.clone(),
                origin: s.origin.clone(),
            })
            .collect(),
        options: Limits {
            max_file_size: opts.max_file_size,
            max_total_size: opts.max_total_size,
            timeout_seconds: opts.timeout.map(|t| t.as_secs_f64()),
            date_range: opts.date_range,
            invocation: run.invocation,
        },
        destination,
        counts: e.rec.counts.clone(),
        timed_out: e.timed_out,
        seal,
        archive: ArchiveSize {
            tar_bytes_before_summary: e.rec.archive.uncompressed_bytes(),
        },
    }
}
