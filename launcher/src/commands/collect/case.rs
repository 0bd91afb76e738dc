//! The case record of a `cairn collect` run ([`CaseRecord`]), signed when a key was
//! given: `case.json` in the output directory; for a store, `case-START.json` (a store
//! cannot refuse to overwrite an earlier run's record) uploaded beside the archives
//! with its signature, kept in `--relay-dir` when the store refuses it.

use crate::case::{beside, file_entry, sha256_file, Signer};
use crate::cli::CollectArgs;
use crate::collector::Collectors;
use crate::dest::Arrived;
use crate::results::Outcome;
use crate::session::Context;
use cairn_archive::records::case::{
    ActedAs, CaseFile, CaseRecord, CaseTarget, CollectorBinary, Launcher,
};
use std::path::{Path, PathBuf};

/// What the case record says besides the outcomes.
pub struct Record<'a> {
    pub args: &'a CollectArgs,
    pub started: &'a str,
    pub collectors: &'a Collectors,
    pub identity: ActedAs,
    pub signer: Option<&'a Signer>,
}

/// Writes the record of the run; returns where it went.
pub async fn write(
    cx: &Context<'_>,
    r: &Record<'_>,
    outcomes: &[Outcome],
) -> anyhow::Result<String> {
    let local = cx.dest.local_dir();
    let mut sha_files = Vec::new();
    let targets = outcomes
        .iter()
        .map(|o| target(o, local, &mut sha_files))
        .collect();
    let record = CaseRecord {
        case: r.args.case.clone(),
        examiner: r.args.examiner.clone(),
        started: r.started.to_owned(),
        ended: cairn_archive::text::now_rfc3339(),
        launcher: Launcher {
            version: env!("CARGO_PKG_VERSION").into(),
            exe_sha256: std::env::current_exe()
                .ok()
                .and_then(|p| sha256_file(&p).ok())
                .map(|(s, _)| s),
        },
        collectors: r
            .collectors
            .all()
            .map(|c| CollectorBinary {
                arch: c.arch.name().into(),
                bytes: c.bytes.len() as u64,
                sha256: c.sha256.clone(),
                source: c.source.clone(),
            })
            .collect(),
        acted_as: r.identity.clone(),
        destination: cx.dest.place(),
        signed_by: r.signer.map(Signer::public),
        pod_credentials: cx.dest.outliving_credentials(),
        targets,
    };
    if let Some(dir) = local {
        let p = crate::case::write(dir, &record, r.signer, &sha_files)?;
        return Ok(p.display().to_string());
    }
    put(cx, &record, r.signer).await
}

/// One target's outcome and files, as the record lists it; the `.sha256` files to sign
/// are added to `sha_files`.
fn target(o: &Outcome, local: Option<&Path>, sha_files: &mut Vec<PathBuf>) -> CaseTarget {
    let mut files = Vec::new();
    match local {
        Some(dir) => {
            if let Some(p) = o.archive.as_deref().map(Path::new).filter(|p| p.is_file()) {
                let arrived = o
                    .verified
                    .as_ref()
                    .and_then(|v| Some((v.sha256.as_deref()?, v.bytes?)));
                let mut f = file_entry(dir, p, arrived);
                f.sha256_on_arrival = arrived.map(|(sha, _)| sha.to_owned());
                f.sha256_file = Some(format!("{}.sha256", f.file));
                files.push(f);
                sha_files.push(beside(p, ".sha256"));
            }
        }
        None => files.extend(stored_archive(o)),
    }
    if let Some(Ok(w)) = &o.k8s {
        let mut f = match (local, &w.stored) {
            (Some(dir), _) => {
                sha_files.push(beside(&w.path, ".sha256"));
                let mut f = file_entry(dir, &w.path, Some((&w.sha256, w.bytes)));
                f.sha256_file = Some(format!("{}.sha256", f.file));
                f
            }
            (None, Some(at)) => CaseFile {
                file: object_name(at),
                object: Some(at.clone()),
                bytes: Some(w.bytes),
                sha256: Some(w.sha256.clone()),
                ..CaseFile::default()
            },
            (None, None) => CaseFile {
                file: object_name(&w.path.display().to_string()),
                bytes: Some(w.bytes),
                sha256: Some(w.sha256.clone()),
                not_stored: w.not_stored.clone(),
                kept_in: Some(w.path.display().to_string()),
                ..CaseFile::default()
            },
        };
        f.kubernetes_evidence = true;
        f.refused_reads = Some(w.refused);
        files.push(f);
    }
    CaseTarget {
        target: o.target.clone(),
        route: o.method.to_owned(),
        status: o.status().to_owned(),
        error: o.error.clone(),
        cut_short: o.cut_short.clone(),
        seconds: o.seconds,
        files,
    }
}

/// A stored archive as the case record lists it: its object, the size the store
/// reported, and the sha256 the launcher computed on arrival (relayed) or else the
/// collector's, each said for what it is.
fn stored_archive(o: &Outcome) -> Option<CaseFile> {
    let at = o.archive.as_deref()?;
    let (v, c) = (o.verified.as_ref(), o.claimed.as_ref());
    let on_arrival = v.and_then(|v| v.sha256.clone());
    Some(CaseFile {
        file: object_name(at),
        object: Some(at.to_owned()),
        bytes: v.and_then(|v| v.bytes).or(c.map(|c| c.bytes)),
        sha256: on_arrival.clone().or(c.map(|c| c.sha256.clone())),
        sha256_on_arrival: on_arrival,
        sha256_by_collector: c.map(|c| c.sha256.clone()),
        checked: v.map(|v| v.how.clone()),
        ..CaseFile::default()
    })
}

/// An object's name: the last segment of its location, without a query.
fn object_name(location: &str) -> String {
    let path = location.split('?').next().unwrap_or_default();
    path.rsplit('/').next().unwrap_or(path).to_owned()
}

/// Writes the record (and its signature) in a private directory in `--relay-dir`,
/// uploads them beside the archives, and keeps them in `--relay-dir` when the store
/// refuses them.
async fn put(
    cx: &Context<'_>,
    record: &CaseRecord,
    signer: Option<&Signer>,
) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let name = format!("case-{}.json", record.stamp());
    if let Some(why) = cx.dest.no_place_for(None) {
        let path = cx.relay_dir.join(&name);
        crate::case::write_at(&path, record, signer, &[])?;
        return Ok(format!("{} (kept here: {why})", path.display()));
    }
    let tmp = tempfile::Builder::new()
        .prefix(".cairn-case-")
        .tempdir_in(cx.relay_dir)
        .with_context(|| {
            format!(
                "creating a directory in --relay-dir {}",
                cx.relay_dir.display()
            )
        })?;
    let path = tmp.path().join(&name);
    crate::case::write_at(&path, record, signer, &[])?;
    let mut names = vec![name.clone()];
    if signer.is_some() {
        names.push(format!("{name}.sig"));
    }
    let mut stored = None;
    for n in &names {
        let p = tmp.path().join(n);
        let (sha256, bytes) = sha256_file(&p)?;
        match cx.dest.put(None, n, &p, &Arrived { bytes, sha256 }).await {
            Ok(at) => {
                stored.get_or_insert(at);
            }
            Err(e) => {
                let mut kept = Vec::new();
                for n in &names {
                    let to = cx.relay_dir.join(n);
                    if std::fs::rename(tmp.path().join(n), &to).is_ok() {
                        kept.push(to.display().to_string());
                    }
                }
                return Err(e.context(format!(
                    "the store did not take {n}; kept: {}",
                    kept.join(", ")
                )));
            }
        }
    }
    Ok(stored.unwrap_or(name))
}
