//! Everything a collection writes: the archive writer, the manifest and the
//! collection log (held compressed in memory and flushed in parts), the counters, and
//! the progress stream. Entries go in through [`Recorder`]'s methods, which note them
//! in the manifest, count them, log what was not stored whole, and keep the first
//! write error, after which nothing more is written.

use crate::progress::Progress;
use crate::sink::Sink;
use crate::source::Meta;
use cairn_archive::member::manifest_part;
use cairn_archive::records::{ManifestRecord, ObjectKind, Status};
use cairn_archive::write::{ArchiveWriter, CollectionLog, EntryHeader, Spool, StreamOutcome};
use cairn_protocol::event::{self, Event};
use cairn_protocol::{Counts, Level, LogEvent};
use std::io::{self, Read};

pub struct Recorder<'a> {
    pub archive: ArchiveWriter<Sink>,
    pub manifest: Spool,
    pub log: CollectionLog,
    pub counts: Counts,
    pub progress: &'a mut Progress,
    /// Manifest parts already written: (name, sha256, bytes).
    pub manifest_parts: Vec<(String, String, u64)>,
    /// First write error: the archive is broken, stop everything.
    pub failed: Option<io::Error>,
    /// Records of the uploader, moved into the log as they come.
    pub upload_events: crate::sink::upload::Events,
    /// Files `--max-total-size` left out or cut.
    pub total_size_cut: u64,
    /// UAC `collector: command` entries, not run by design.
    pub commands_not_run: u64,
    /// Compressed manifest bytes held before a part is written.
    part_bytes: usize,
}

/// The tar header of an object copied from the root.
pub fn header_of(meta: &Meta) -> EntryHeader {
    EntryHeader {
        mode: meta.mode,
        uid: meta.uid,
        gid: meta.gid,
        mtime: meta.mtime.0,
    }
}

/// The tar header of a file the collector generates.
pub fn generated_header() -> EntryHeader {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    EntryHeader {
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: now,
    }
}

impl<'a> Recorder<'a> {
    pub fn new(
        archive: ArchiveWriter<Sink>,
        progress: &'a mut Progress,
        upload_events: crate::sink::upload::Events,
        part_bytes: usize,
    ) -> Recorder<'a> {
        Recorder {
            archive,
            manifest: Spool::new(),
            log: CollectionLog::default(),
            counts: Counts::default(),
            progress,
            manifest_parts: Vec::new(),
            failed: None,
            upload_events,
            total_size_cut: 0,
            commands_not_run: 0,
            part_bytes,
        }
    }

    /// A collection-log record.
    pub fn log(
        &mut self,
        level: Level,
        event: LogEvent,
        artifact: Option<&str>,
        path: Option<&[u8]>,
        message: impl Into<String>,
    ) {
        self.log.record(level, event, artifact, path, message);
    }

    /// Adds a manifest record, counts it, and logs it unless it was stored whole.
    pub fn note(&mut self, rec: ManifestRecord) {
        if let Some(status) = rec.status {
            status.count(&mut self.counts);
            if status != Status::Complete {
                let src = rec.source_hex.as_ref().and_then(|h| hex::decode(h).ok());
                let src = src.as_deref().unwrap_or(rec.source.as_bytes());
                self.log.record(
                    status.log_level(),
                    status.log_event(),
                    Some(&rec.artifact),
                    Some(src),
                    rec.reason.clone().unwrap_or_default(),
                );
            }
        }
        if let Ok(mut line) = serde_json::to_vec(&rec) {
            line.push(b'\n');
            self.manifest.push(&line);
        }
        if self.manifest.compressed_len() >= self.part_bytes {
            self.flush_manifest_part();
        }
    }

    /// Writes the manifest so far as the next numbered part and starts a new one.
    fn flush_manifest_part(&mut self) {
        let name = manifest_part(self.manifest_parts.len() + 1);
        let size = self.manifest.len();
        let mut part = std::mem::take(&mut self.manifest);
        match self
            .archive
            .append_spool(name.as_bytes(), &generated_header(), &mut part)
        {
            Ok(sha) => self.manifest_parts.push((name, sha, size)),
            Err(e) => self.write_failed(e),
        }
    }

    /// Keeps the first write error.
    pub fn write_failed(&mut self, e: io::Error) {
        if self.failed.is_none() {
            self.failed = Some(e);
        }
    }

    /// A generated file, noted in the manifest as an output of `artifact`.
    pub fn output(&mut self, artifact: &str, path: &[u8], data: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        match self.archive.append_bytes(path, &generated_header(), data) {
            Ok(sha) => self.note_output(artifact, path, data.len() as u64, sha, None),
            Err(e) => self.write_failed(e),
        }
    }

    /// A generated file from a spool, noted as an output of `artifact`.
    pub fn output_spool(&mut self, artifact: &str, path: &[u8], spool: &mut Spool) {
        if self.failed.is_some() {
            return;
        }
        match self.archive.append_spool(path, &generated_header(), spool) {
            Ok(sha) => self.note_output(artifact, path, spool.len(), sha, None),
            Err(e) => self.write_failed(e),
        }
    }

    /// A generated file of `size` bytes streamed from `src`, noted as an output of
    /// `artifact`: truncated when `src` ended early, failed or was stopped (zeros fill
    /// the rest); `None` after a write error (recorded).
    pub fn output_stream(
        &mut self,
        artifact: &str,
        path: &[u8],
        size: u64,
        src: &mut dyn Read,
        stop: &dyn Fn() -> bool,
    ) -> Option<crate::live::Copied> {
        if self.failed.is_some() {
            return None;
        }
        let o = match self
            .archive
            .append_stream(path, &generated_header(), size, src, stop)
        {
            Ok(o) => o,
            Err(e) => {
                self.write_failed(e);
                return None;
            }
        };
        self.counts.bytes_read += o.read;
        self.counts.bytes_stored += size;
        let complete = !(o.short || o.stopped || o.error.is_some());
        let why = match (&o.error, o.stopped) {
            _ if complete => None,
            (Some(e), _) => Some(format!("reading failed ({e}); zeros fill the rest")),
            (None, true) => Some("the deadline came; zeros fill the rest".to_owned()),
            (None, false) => Some("the source ended early; zeros fill the rest".to_owned()),
        };
        self.note_output(artifact, path, size, o.sha256.clone(), why);
        let (archive_path, _) = cairn_archive::text::lossless(path);
        Some(crate::live::Copied {
            archive_path,
            sha256: o.sha256,
            stored: size,
            complete,
        })
    }

    /// Notes an output; with `truncated`, why it is not whole.
    fn note_output(
        &mut self,
        artifact: &str,
        path: &[u8],
        size: u64,
        sha: String,
        truncated: Option<String>,
    ) {
        self.counts.outputs += 1;
        let (p, p_hex) = cairn_archive::text::lossless(path);
        self.note(ManifestRecord {
            path: Some(p),
            path_hex: p_hex,
            source: String::new(),
            kind: ObjectKind::Output,
            size,
            mode: "0644".into(),
            mtime: cairn_archive::text::rfc3339(generated_header().mtime, 0),
            sha256: Some(sha),
            artifact: artifact.to_owned(),
            status: Some(if truncated.is_some() {
                Status::Truncated
            } else {
                Status::Complete
            }),
            reason: truncated,
            ..ManifestRecord::default()
        });
    }

    /// Streams `size` bytes of `file` into the archive at `path`, counting what was
    /// read and stored; `None` after a write error (recorded).
    pub fn stream(
        &mut self,
        path: &[u8],
        meta: &Meta,
        size: u64,
        file: &mut dyn Read,
        stop: &dyn Fn() -> bool,
    ) -> Option<StreamOutcome> {
        if self.failed.is_some() {
            return None;
        }
        match self
            .archive
            .append_stream(path, &header_of(meta), size, file, stop)
        {
            Ok(o) => {
                self.counts.files += 1;
                self.counts.bytes_read += o.read;
                self.counts.bytes_stored += size;
                Some(o)
            }
            Err(e) => {
                self.write_failed(e);
                None
            }
        }
    }

    /// Moves the uploader's records (preflight, retries, failures) into the
    /// collection log and the progress stream.
    pub fn drain_upload_events(&mut self) {
        for (level, event, message) in self.upload_events.take() {
            if let Some(e) = Event::of_upload_record(event, level, message.clone()) {
                self.progress.emit(&e);
            }
            self.log.record(level, event, None, None, message);
        }
    }

    /// A throttled progress update while `set` runs.
    pub fn tick(&mut self, set: &str) {
        self.drain_upload_events();
        let read = self.counts.bytes_read;
        let out = self.archive.sink().bytes();
        self.progress.tick(set, self.counts.files, read, out);
    }

    /// The progress event of the next artifact.
    pub fn begin(&mut self, set: &str) {
        self.progress.emit(&Event::Artifact(event::ArtifactBegun {
            name: set.to_owned(),
        }));
    }
}
