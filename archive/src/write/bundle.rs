//! A small archive of documents written in one go, in the collector's format: entries
//! with a sha256 each in `manifest.jsonl`, a `collection.log` of what could not be
//! read, and a `summary.json` ([`EvidenceSummary`]) that seals both, so `verify` checks
//! it like any collection. The launcher writes what the cluster knows about a target
//! this way (`NAMESPACE_POD_CONTAINER_TIME.k8s.tar.zst`).

use super::{ArchiveWriter, CollectionLog, EntryHeader, Sealed, SealedFile, Spool};
use crate::member::{LOG, MANIFEST, SUMMARY};
use crate::records::k8s::TargetInfo;
use crate::records::summary::{CaseRef, EvidenceSummary, LogSeal, ManifestSeal, Seal};
use crate::records::{ManifestRecord, ObjectKind, Status};
use crate::text::now_rfc3339;
use cairn_protocol::{Level, LogEvent};
use std::io;
use std::path::Path;

/// An archive being written.
pub struct Bundle {
    writer: ArchiveWriter<SealedFile>,
    manifest: Spool,
    log: CollectionLog,
    header: EntryHeader,
    now: String,
    entries: u64,
    refused: u64,
    /// What a limit cut, one sentence each (`summary.json` → `cut_short`).
    cut: Vec<String>,
}

/// What the summary says the archive is about.
#[derive(Debug, Clone, Default)]
pub struct About {
    /// `kubernetes evidence`.
    pub kind: String,
    pub target: TargetInfo,
    pub case: CaseRef,
}

impl Bundle {
    /// Creates the archive at `path` (mode 0600, never over an existing file; a
    /// `PATH.sha256` is written beside it when it is finished).
    pub fn create(path: &Path) -> io::Result<Bundle> {
        let sink = SealedFile::create(path)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Ok(Bundle {
            writer: ArchiveWriter::new(sink, 0)?,
            manifest: Spool::new(),
            log: CollectionLog::default(),
            header: EntryHeader {
                mode: 0o644,
                uid: 0,
                gid: 0,
                mtime: now,
            },
            now: now_rfc3339(),
            entries: 0,
            refused: 0,
            cut: Vec::new(),
        })
    }

    /// A manifest record of this archive's shape.
    fn record(&self, source: &str, artifact: &str, status: Status) -> ManifestRecord {
        ManifestRecord {
            source: source.to_owned(),
            kind: ObjectKind::File,
            mtime: self.now.clone(),
            atime: self.now.clone(),
            ctime: self.now.clone(),
            artifact: artifact.to_owned(),
            status: Some(status),
            ..ManifestRecord::default()
        }
    }

    /// Adds a document at `name` in the archive; `source` says where it came from (an
    /// API path), for the manifest and for people.
    pub fn add(&mut self, name: &str, source: &str, data: &[u8], artifact: &str) -> io::Result<()> {
        let sha = self
            .writer
            .append_bytes(name.as_bytes(), &self.header, data)?;
        let rec = ManifestRecord {
            path: Some(name.to_owned()),
            size: data.len() as u64,
            source_size: data.len() as u64,
            mode: "0644".into(),
            sha256: Some(sha),
            ..self.record(source, artifact, Status::Complete)
        };
        self.push_record(&rec)?;
        self.entries += 1;
        Ok(())
    }

    /// Adds a document at `name`, as pretty JSON.
    pub fn add_json<T: serde::Serialize>(
        &mut self,
        name: &str,
        source: &str,
        doc: &T,
        artifact: &str,
    ) -> io::Result<()> {
        let mut text = serde_json::to_vec_pretty(doc).map_err(io::Error::other)?;
        text.push(b'\n');
        self.add(name, source, &text, artifact)
    }

    /// Records something that could not be read (`why`: the server's words), in the
    /// manifest (status `denied` or `error`, nothing stored) and in the log.
    pub fn refused(
        &mut self,
        source: &str,
        denied: bool,
        why: &str,
        artifact: &str,
    ) -> io::Result<()> {
        let status = if denied {
            Status::Denied
        } else {
            Status::Error
        };
        let rec = ManifestRecord {
            reason: Some(why.to_owned()),
            ..self.record(source, artifact, status)
        };
        self.push_record(&rec)?;
        self.log.record(
            Level::Warn,
            if denied {
                LogEvent::Denied
            } else {
                LogEvent::Error
            },
            Some(artifact),
            Some(source.as_bytes()),
            why,
        );
        self.refused += 1;
        Ok(())
    }

    /// Says that a limit cut something (a log kept up to its cap): the summary lists
    /// it, and `verify` reports the archive as cut short.
    pub fn cut(&mut self, artifact: &str, why: &str) {
        self.log
            .record(Level::Warn, LogEvent::Truncated, Some(artifact), None, why);
        self.cut.push(why.to_owned());
    }

    /// A line in the collection log.
    pub fn note(&mut self, level: Level, artifact: &str, message: &str) {
        self.log
            .record(level, LogEvent::Live, Some(artifact), None, message);
    }

    fn push_record(&mut self, rec: &ManifestRecord) -> io::Result<()> {
        let mut line = serde_json::to_vec(rec).map_err(io::Error::other)?;
        line.push(b'\n');
        self.manifest.push(&line);
        Ok(())
    }

    /// Writes the log, the manifest and `summary.json`, seals the archive and writes
    /// its `.sha256`.
    pub fn finish(mut self, about: About) -> io::Result<Sealed> {
        let log_len = self.log.spool().len();
        let log_sha = self
            .writer
            .append_spool(LOG.as_bytes(), &self.header, self.log.spool())?;
        let manifest_len = self.manifest.len();
        let manifest_sha =
            self.writer
                .append_spool(MANIFEST.as_bytes(), &self.header, &mut self.manifest)?;
        let summary = EvidenceSummary {
            tool: "cairn".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: about.kind,
            written: self.now.clone(),
            entries: self.entries,
            refused: self.refused,
            target: about.target,
            case: about.case,
            seal: Seal {
                complete: self.cut.is_empty(),
                cut_short: self.cut,
                log: LogSeal {
                    path: LOG.into(),
                    sha256: log_sha,
                    size: log_len,
                    warnings: self.log.warnings,
                    errors: self.log.errors,
                },
                manifest: ManifestSeal {
                    path: MANIFEST.into(),
                    sha256: manifest_sha,
                    size: manifest_len,
                    earlier_parts: Vec::new(),
                },
            },
        };
        let mut text = serde_json::to_vec_pretty(&summary).map_err(io::Error::other)?;
        text.push(b'\n');
        self.writer
            .append_bytes(SUMMARY.as_bytes(), &self.header, &text)?;
        self.writer.finish()?.finish()
    }
}
