//! The artifact engine: runs the selected artifact entries against a root and streams
//! everything into the archive, then closes it with the log, manifest and summary.

use super::filter::{matches, prunes};
use super::identity;
use super::lines::{escape, unescape};
use crate::archive::{
    ArchiveWriter, CollectionLog, EntryHeader, ManifestRecord, Spool, Status, FILES_DIR, LOG_NAME,
    MANIFEST_NAME, OUTPUTS_DIR, SUMMARY_NAME,
};
use crate::progress::Progress;
use crate::sink::{Delivered, Sink, Target};
use crate::source::meta::stat_at;
use crate::source::mounts::{MountTable, PSEUDO_FILESYSTEMS};
use crate::source::open::{has_noatime, open_regular};
use crate::source::users::{users_of, User};
use crate::source::walk::{Entry, Flow, Visitor};
use crate::source::{Kind, Meta, ResolveError, Root};
use crate::spec::{Artifact, ArtifactSet, CollectorKind, Selection};
use cairn_protocol::event::{self, Event};
use cairn_protocol::{Level, LogEvent};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Limits and filters of one collection.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files larger than this are stored truncated to it.
    pub max_file_size: u64,
    /// Once this many bytes of file content are stored, further files are skipped.
    pub max_total_size: Option<u64>,
    /// After this, the walk stops and the archive is closed, complete and valid.
    pub timeout: Option<Duration>,
    /// Only files with a time in `(start, end)` (epoch seconds), unless an artifact
    /// sets `ignore_date_range`.
    pub date_range: Option<(i64, i64)>,
    /// Cap on reads of pseudo-files (procfs, sysfs, size 0), whose size is unknown.
    pub pseudo_file_limit: u64,
    /// zstd compression threads (0: compress on the collecting thread).
    pub workers: u32,
    /// Once the in-memory manifest holds this many compressed bytes, it is written out
    /// as a numbered part, so memory stays bounded on trees of millions of files.
    pub manifest_part_bytes: usize,
    /// Options of the native live-response collectors.
    pub live: crate::live::LiveOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_file_size: 1 << 30,
            max_total_size: None,
            timeout: None,
            date_range: None,
            pseudo_file_limit: 16 << 20,
            workers: default_workers(),
            manifest_part_bytes: 4 << 20,
            live: crate::live::LiveOptions::default(),
        }
    }
}

/// One compression worker per available core, at least one.
pub fn default_workers() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
        .max(1)
}

/// Counters reported in the summary and the `done` event.
pub use cairn_protocol::Counts;

/// What a finished collection reports.
#[derive(Debug)]
pub struct Report {
    pub delivered: Delivered,
    pub counts: Counts,
    pub timed_out: bool,
    pub warnings: u64,
}

/// A collection that could not produce an archive.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("cannot open output: {0}")]
    Output(io::Error),
    #[error("writing the archive failed: {0}")]
    Write(io::Error),
}

struct Engine<'a> {
    root: &'a Root,
    opts: &'a Options,
    archive: ArchiveWriter,
    manifest: Spool,
    log: CollectionLog,
    counts: Counts,
    seen: HashSet<u64>,
    own_output: Option<(u64, u64)>,
    /// The collector's own executable (a bootstrap drops it in /dev/shm or /tmp, which
    /// the default profile collects): skipped, its path and hash are in the footprint.
    own_exe: Option<(u64, u64)>,
    mounts: MountTable,
    users: Option<Vec<User>>,
    deadline: Option<Instant>,
    timed_out: bool,
    progress: &'a mut Progress,
    buf: Vec<u8>,
    /// First write error: the archive is broken, stop everything.
    failed: Option<io::Error>,
    /// Manifest parts already written: (name, sha256, bytes).
    manifest_parts: Vec<(String, String, u64)>,
    /// State shared by the native live-response collectors (the process scan).
    live: crate::live::Session,
    /// Records of the uploader, moved into the log as they come.
    upload_events: crate::sink::upload::Events,
}

fn path_key(path: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    h.finish()
}

fn archive_path(top: &str, path: &[u8]) -> Vec<u8> {
    let mut p = top.as_bytes().to_vec();
    if !path.starts_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(path);
    p
}

fn header_of(meta: &Meta) -> EntryHeader {
    EntryHeader {
        mode: meta.mode,
        uid: meta.uid,
        gid: meta.gid,
        mtime: meta.mtime.0,
    }
}

fn generated_header() -> EntryHeader {
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

/// Classifies an open/read error into a manifest status and a reason.
fn classify(e: &io::Error) -> (Status, String) {
    match e.kind() {
        io::ErrorKind::PermissionDenied => (Status::Denied, format!("permission denied: {e}")),
        io::ErrorKind::NotFound => (Status::Error, "vanished before it could be read".into()),
        io::ErrorKind::InvalidInput => (Status::Skipped, format!("changed type: {e}")),
        _ if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => (
            Status::Skipped,
            "replaced by a symlink before it could be read".into(),
        ),
        _ => (Status::Error, e.to_string()),
    }
}

impl<'a> Engine<'a> {
    fn expired(&mut self) -> bool {
        if !self.timed_out && self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.timed_out = true;
            self.log.record(Level::Warn, LogEvent::Timeout, None, None, "the --timeout deadline was reached; the collection stops here and the archive is closed");
        }
        self.timed_out
    }

    fn note(&mut self, rec: ManifestRecord) {
        let status = rec.status;
        match status {
            Some(Status::Complete) => self.counts.complete += 1,
            Some(Status::Truncated) => self.counts.truncated += 1,
            Some(Status::Changed) => self.counts.changed += 1,
            Some(Status::Skipped) => self.counts.skipped += 1,
            Some(Status::Denied) => self.counts.denied += 1,
            Some(Status::Error) => self.counts.errors += 1,
            None => {}
        }
        if let Some(status) = status.filter(|s| *s != Status::Complete) {
            let (level, event) = (status.log_level(), status.log_event());
            let src = rec.source_hex.as_ref().and_then(|h| hex::decode(h).ok());
            let src = src.as_deref().unwrap_or(rec.source.as_bytes());
            self.log.record(
                level,
                event,
                Some(&rec.artifact),
                Some(src),
                rec.reason.clone().unwrap_or_default(),
            );
        }
        if let Ok(mut line) = serde_json::to_vec(&rec) {
            line.push(b'\n');
            self.manifest.push(&line);
        }
        if self.manifest.compressed_len() >= self.opts.manifest_part_bytes {
            self.flush_manifest_part();
        }
    }

    /// Writes the manifest so far as the next numbered part and starts a new one.
    fn flush_manifest_part(&mut self) {
        let name = crate::archive::manifest_part_name(self.manifest_parts.len() + 1);
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

    fn write_failed(&mut self, e: io::Error) {
        if self.failed.is_none() {
            self.failed = Some(e);
        }
    }

    fn users(&mut self) -> &[User] {
        if self.users.is_none() {
            self.users = Some(users_of(self.root));
        }
        self.users.as_deref().unwrap_or(&[])
    }

    fn is_pseudo(&self, dev: u64) -> bool {
        self.mounts
            .fstype(dev)
            .is_some_and(|t| PSEUDO_FILESYSTEMS.contains(&t))
    }

    /// Expands `%user_home%` and `%user%` into one path per user.
    fn expand(&mut self, art: &Artifact) -> Vec<Vec<u8>> {
        if !art.path.contains("%user") {
            return vec![art.path.as_bytes().to_vec()];
        }
        let skip_nologin = art.exclude_nologin_users;
        let mut out: Vec<Vec<u8>> = Vec::new();
        for u in self.users().to_vec() {
            if skip_nologin && u.is_nologin() {
                continue;
            }
            let mut p = art.path.as_bytes().to_vec();
            p = replace(&p, b"%user_home%", &u.home);
            p = replace(&p, b"%user%", &u.name);
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    fn run_set(&mut self, set: &ArtifactSet) {
        let mut outputs: BTreeMap<Vec<u8>, Spool> = BTreeMap::new();
        for art in &set.entries {
            if self.expired() {
                self.log.record(
                    Level::Warn,
                    LogEvent::NotRun,
                    Some(&set.name),
                    None,
                    format!("entry at line {} not run: timeout", art.line),
                );
                continue;
            }
            if self.failed.is_some() {
                return;
            }
            if !art.supports_linux() {
                continue;
            }
            self.counts.entries_run += 1;
            if art.collector == CollectorKind::Command {
                self.log.record(
                    Level::Info,
                    LogEvent::NotRun,
                    Some(&set.name),
                    None,
                    format!(
                        "command collector at {}:{} not run: cairn never runs shell commands on the target (native collectors cover live response): {}",
                        set.origin,
                        art.line,
                        art.command.as_deref().unwrap_or("")
                    ),
                );
                continue;
            }
            if art.collector == CollectorKind::Native {
                let name = art.native.clone().unwrap_or_default();
                let mut session = std::mem::take(&mut self.live);
                crate::live::run(
                    &name,
                    &set.name,
                    art.max_file_size,
                    self.root,
                    &mut session,
                    self,
                );
                self.live = session;
                self.tick(&set.name);
                continue;
            }
            let out_key = output_path(set, art);
            let starts: Vec<Vec<u8>> = if art.is_file_list {
                let list_name = art.path.as_bytes();
                match outputs.iter_mut().find(|(k, _)| k.ends_with(list_name)) {
                    Some((_, spool)) => {
                        let mut text = String::new();
                        let _ = spool.reader().and_then(|mut r| r.read_to_string(&mut text));
                        text.lines()
                            .filter(|l| !l.is_empty())
                            .map(unescape)
                            .collect()
                    }
                    None => {
                        self.log.record(
                            Level::Warn,
                            LogEvent::Spec,
                            Some(&set.name),
                            None,
                            format!(
                                "{}:{}: file list `{}` was not produced by an earlier entry",
                                set.origin, art.line, art.path
                            ),
                        );
                        continue;
                    }
                }
            } else {
                self.expand(art)
            };
            let mut out = out_key
                .as_ref()
                .map(|k| outputs.remove(k).unwrap_or_default());
            for start in starts {
                if self.expired() || self.failed.is_some() {
                    break;
                }
                let resolved = match self.root.resolve(&start) {
                    Ok(r) => r,
                    Err(ResolveError::NotFound) => {
                        self.log.record(
                            Level::Info,
                            LogEvent::Absent,
                            Some(&set.name),
                            Some(&start),
                            "not present on this root",
                        );
                        continue;
                    }
                    Err(e) => {
                        self.log.record(
                            Level::Warn,
                            LogEvent::Resolve,
                            Some(&set.name),
                            Some(&start),
                            e.to_string(),
                        );
                        continue;
                    }
                };
                if resolved.followed_symlinks() {
                    self.log.record(
                        Level::Info,
                        LogEvent::Symlink,
                        Some(&set.name),
                        Some(&start),
                        format!(
                            "resolved inside the root to {}",
                            String::from_utf8_lossy(resolved.path())
                        ),
                    );
                }
                let start_meta = stat_at(resolved.dir(), resolved.name()).ok();
                let start_pseudo = start_meta
                    .as_ref()
                    .map(|m| self.is_pseudo(m.dev))
                    .unwrap_or(false);
                let start_dev = start_meta.map(|m| m.dev);
                let max_depth = if art.is_file_list {
                    Some(0)
                } else {
                    art.max_depth
                };
                let mut v = ArtifactVisitor {
                    engine: self,
                    art,
                    set: &set.name,
                    start_pseudo,
                    start_dev,
                    out: out.as_mut(),
                };
                let root = v.engine.root;
                root.walk(&resolved, max_depth, &mut v);
            }
            if let (Some(k), Some(spool)) = (out_key, out) {
                outputs.insert(k, spool);
            }
        }
        for (path, mut spool) in outputs {
            let h = generated_header();
            match self.archive.append_spool(&path, &h, &mut spool) {
                Ok(sha) => self.note_output(&set.name, &path, spool.len(), sha),
                Err(e) => self.write_failed(e),
            }
        }
    }

    /// Records a generated output in the manifest.
    fn note_output(&mut self, artifact: &str, path: &[u8], size: u64, sha: String) {
        self.counts.outputs += 1;
        let (p, p_hex) = crate::units::lossless(path);
        let rec = ManifestRecord {
            path: Some(p),
            path_hex: p_hex,
            source: String::new(),
            kind: "output",
            size,
            mode: "0644".into(),
            mtime: crate::units::rfc3339(generated_header().mtime, 0),
            sha256: Some(sha),
            artifact: artifact.to_owned(),
            status: Some(Status::Complete),
            ..ManifestRecord::default()
        };
        self.note(rec);
    }

    /// Moves the uploader's records (preflight, retries, failures) into the
    /// collection log and the progress stream.
    fn drain_upload_events(&mut self) {
        for (level, event, message) in self.upload_events.take() {
            if let Some(e) = Event::of_upload_record(event, level, message.clone()) {
                self.progress.emit(&e);
            }
            self.log.record(level, event, None, None, message);
        }
    }

    fn tick(&mut self, set: &str) {
        self.drain_upload_events();
        let read = self.counts.bytes_read;
        let out = self.archive.compressed_bytes();
        self.progress.tick(set, self.counts.files, read, out);
    }

    fn collect_entry(&mut self, set: &str, entry: &Entry<'_>, truncate_size: Option<u64>) {
        if self.own_output == Some((entry.meta.dev, entry.meta.ino)) {
            self.log.record(
                Level::Info,
                LogEvent::Skipped,
                Some(set),
                Some(entry.path),
                "the collector's own output file",
            );
            return;
        }
        if self.own_exe == Some((entry.meta.dev, entry.meta.ino)) {
            self.log.record(
                Level::Info,
                LogEvent::Skipped,
                Some(set),
                Some(entry.path),
                "the collector's own executable",
            );
            return;
        }
        if !self.seen.insert(path_key(entry.path)) {
            return;
        }
        match entry.meta.kind() {
            Kind::File => self.collect_file(set, entry, truncate_size),
            Kind::Symlink => {
                let mut rec = ManifestRecord::for_source(entry.path, entry.meta, set);
                match rustix::fs::readlinkat(
                    entry.dir,
                    crate::source::meta::cstr(entry.name).unwrap_or_default(),
                    Vec::new(),
                ) {
                    Ok(target) => {
                        let target = target.into_bytes();
                        let ap = archive_path(FILES_DIR, entry.path);
                        if let Err(e) =
                            self.archive
                                .append_symlink(&ap, &header_of(entry.meta), &target)
                        {
                            self.write_failed(e);
                            return;
                        }
                        self.counts.symlinks += 1;
                        rec.set_path(&ap);
                        rec.link_target = Some(String::from_utf8_lossy(&target).into_owned());
                        rec.status = Some(Status::Complete);
                    }
                    Err(e) => {
                        let (s, r) = classify(&e.into());
                        rec.status = Some(s);
                        rec.reason = Some(r);
                    }
                }
                self.note(rec);
            }
            Kind::Dir => {}
            other => {
                self.counts.special += 1;
                let mut rec = ManifestRecord::for_source(entry.path, entry.meta, set);
                rec.status = Some(Status::Skipped);
                rec.reason = Some(format!(
                    "{}: recorded, never opened or read",
                    other.as_str()
                ));
                self.note(rec);
            }
        }
    }

    fn check_atime(&mut self, fd: BorrowedFd<'_>, set: &str, path: &[u8]) {
        if !has_noatime(fd) {
            self.counts.atime_not_preserved += 1;
            if self.counts.atime_not_preserved == 1 {
                self.log.record(Level::Warn, LogEvent::Atime, Some(set), Some(path), "O_NOATIME refused (the collector neither owns the file nor has CAP_FOWNER): reading may update access times of files like this one; the manifest holds the atime seen before reading");
            }
        }
    }

    /// Streams one regular file into the archive: at most the smallest of
    /// `--max-file-size`, what `--max-total-size` leaves, and the artifact's
    /// `truncate_size`, recording in the manifest which of them cut it.
    fn collect_file(&mut self, set: &str, entry: &Entry<'_>, truncate_size: Option<u64>) {
        let mut rec = ManifestRecord::for_source(entry.path, entry.meta, set);
        let budget = self
            .opts
            .max_total_size
            .map(|m| m.saturating_sub(self.counts.bytes_stored));
        if budget == Some(0) {
            rec.status = Some(Status::Skipped);
            rec.reason = Some("--max-total-size reached".into());
            return self.note(rec);
        }
        let fd = match open_regular(entry.dir, entry.name) {
            Ok(fd) => fd,
            Err(e) => {
                let (s, r) = classify(&e);
                rec.status = Some(s);
                rec.reason = Some(r);
                return self.note(rec);
            }
        };
        self.check_atime(fd.as_fd(), set, entry.path);
        let at_open = stat_at(&fd, b"").unwrap_or_else(|_| entry.meta.clone());
        let ap = archive_path(FILES_DIR, entry.path);
        let cap = budget
            .unwrap_or(u64::MAX)
            .min(self.opts.max_file_size)
            .min(truncate_size.unwrap_or(u64::MAX));
        let mut file = std::fs::File::from(fd);
        let header = header_of(&at_open);
        let mut notes: Vec<String> = Vec::new();
        if at_open.ino != entry.meta.ino {
            notes.push("replaced between listing and reading".into());
        }

        if self.is_pseudo(at_open.dev) || at_open.size == 0 {
            // Pseudo-files report size 0 (or a nominal size); read to learn it, bounded.
            let limit = cap.min(self.opts.pseudo_file_limit);
            let mut data = Vec::new();
            let read = (&mut file).take(limit + 1).read_to_end(&mut data);
            if let Err(e) = read {
                if data.is_empty() {
                    let (s, r) = classify(&e);
                    rec.status = Some(s);
                    rec.reason = Some(r);
                    return self.note(rec);
                }
                notes.push(format!("read error after {} bytes: {e}", data.len()));
            }
            let over = data.len() as u64 > limit;
            data.truncate(limit as usize);
            match self.archive.append_bytes(&ap, &header, &data) {
                Ok(sha) => rec.sha256 = Some(sha),
                Err(e) => return self.write_failed(e),
            }
            self.counts.files += 1;
            self.counts.bytes_read += data.len() as u64;
            self.counts.bytes_stored += data.len() as u64;
            rec.size = data.len() as u64;
            rec.set_path(&ap);
            rec.status = Some(if over {
                Status::Truncated
            } else {
                Status::Complete
            });
            if over {
                notes.push(format!("pseudo-file read capped at {limit} bytes"));
            }
            if !notes.is_empty() {
                rec.reason = Some(notes.join("; "));
            }
            return self.note(rec);
        }

        let size = at_open.size.min(cap);
        let deadline = self.deadline;
        let stop = move || deadline.is_some_and(|d| Instant::now() >= d);
        let outcome = match self
            .archive
            .append_stream(&ap, &header, size, &mut file, &stop)
        {
            Ok(o) => o,
            Err(e) => return self.write_failed(e),
        };
        let after = stat_at(&file, b"").ok();
        self.counts.files += 1;
        self.counts.bytes_read += outcome.read;
        self.counts.bytes_stored += size;
        rec.size = size;
        rec.sha256 = Some(outcome.sha256.clone());
        rec.set_path(&ap);
        let changed = after
            .as_ref()
            .is_some_and(|a| a.size != at_open.size || a.mtime != at_open.mtime);
        rec.status = Some(if let Some(e) = &outcome.error {
            notes.push(format!(
                "read error after {} bytes, rest zero-filled: {e}",
                outcome.read
            ));
            Status::Error
        } else if outcome.stopped {
            notes.push(format!(
                "timeout after {} of {} bytes, rest zero-filled",
                outcome.read, size
            ));
            self.expired();
            Status::Truncated
        } else if outcome.short {
            notes.push(format!(
                "shrank while read: {} of {} bytes, rest zero-filled",
                outcome.read, size
            ));
            Status::Changed
        } else if changed {
            let a = after.as_ref().map(|a| a.size).unwrap_or(0);
            notes.push(format!(
                "changed while read (size {} -> {a}); stored as read",
                at_open.size
            ));
            Status::Changed
        } else if size < at_open.size {
            let which = if budget == Some(cap) {
                "--max-total-size"
            } else if cap == self.opts.max_file_size {
                "--max-file-size"
            } else {
                "the artifact's truncate_size"
            };
            notes.push(format!(
                "stored the first {size} of {} bytes ({which})",
                at_open.size
            ));
            Status::Truncated
        } else if !notes.is_empty() {
            Status::Changed
        } else {
            Status::Complete
        });
        if !notes.is_empty() {
            rec.reason = Some(notes.join("; "));
        }
        self.note(rec);
    }

    /// sha256 of a file read in place (the `hash` collector), or why not.
    fn hash_file(&mut self, set: &str, entry: &Entry<'_>) -> Result<String, (Status, String)> {
        if entry.meta.size > self.opts.max_file_size {
            return Err((
                Status::Skipped,
                format!("larger than --max-file-size ({} bytes)", entry.meta.size),
            ));
        }
        let fd = open_regular(entry.dir, entry.name).map_err(|e| classify(&e))?;
        self.check_atime(fd.as_fd(), set, entry.path);
        let mut file = std::fs::File::from(fd);
        let mut h = Sha256::new();
        let mut buf = std::mem::take(&mut self.buf);
        let mut total = 0u64;
        let res = loop {
            match file.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    h.update(&buf[..n]);
                    total += n as u64;
                    if total > self.opts.max_file_size {
                        break Err((
                            Status::Skipped,
                            "grew past --max-file-size while hashed".into(),
                        ));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(classify(&e)),
            }
        };
        self.buf = buf;
        self.counts.bytes_read += total;
        res.map(|_| hex::encode(h.finalize()))
    }
}

fn replace(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// Where a find/hash/stat entry's output goes in the archive.
fn output_path(set: &ArtifactSet, art: &Artifact) -> Option<Vec<u8>> {
    let default = match art.collector {
        CollectorKind::Find => "find.txt",
        CollectorKind::Hash => "hash",
        CollectorKind::Stat => "bodyfile.txt",
        _ => return None,
    };
    let dir = art
        .output_directory
        .as_deref()
        .map(|d| d.trim_matches('/').to_owned())
        .filter(|d| !d.is_empty() && !d.split('/').any(|c| c == ".."))
        .unwrap_or_else(|| set.name.clone());
    let mut file = art
        .output_file
        .clone()
        .unwrap_or_else(|| default.to_owned());
    file = file.replace('/', "_");
    if art.collector == CollectorKind::Hash && !file.ends_with(".sha256") {
        file.push_str(".sha256");
    }
    Some(format!("{OUTPUTS_DIR}/{dir}/{file}").into_bytes())
}

/// A TSK 3.x bodyfile line; the first column is the sha256 when known, else 0.
fn bodyfile_line(path: &[u8], meta: &Meta, sha: Option<&str>, link: Option<&[u8]>) -> String {
    let mut name = escape(path);
    if let Some(l) = link {
        name.push_str(" -> ");
        name.push_str(&escape(l));
    }
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}\n",
        sha.unwrap_or("0"),
        name,
        meta.ino,
        crate::units::mode_string(meta.mode),
        meta.uid,
        meta.gid,
        meta.size,
        meta.atime.0,
        meta.mtime.0,
        meta.ctime.0,
        meta.btime.map(|b| b.0).unwrap_or(0)
    )
}

struct ArtifactVisitor<'e, 'a> {
    engine: &'e mut Engine<'a>,
    art: &'e Artifact,
    set: &'e str,
    start_pseudo: bool,
    start_dev: Option<u64>,
    out: Option<&'e mut Spool>,
}

impl Visitor for ArtifactVisitor<'_, '_> {
    fn entry(&mut self, entry: &Entry<'_>) -> Flow {
        let e = &mut *self.engine;
        if e.failed.is_some() || e.expired() {
            return Flow::Stop;
        }
        if matches(self.art, entry, e.opts.date_range) {
            match self.art.collector {
                CollectorKind::File => e.collect_entry(self.set, entry, self.art.truncate_size),
                CollectorKind::Find => {
                    if let Some(out) = self.out.as_deref_mut() {
                        let mut line = escape(entry.path);
                        line.push('\n');
                        out.push(line.as_bytes());
                    }
                }
                CollectorKind::Hash => match e.hash_file(self.set, entry) {
                    Ok(sha) => {
                        if let Some(out) = self.out.as_deref_mut() {
                            out.push(format!("{sha}  {}\n", escape(entry.path)).as_bytes());
                        }
                    }
                    Err((status, reason)) => {
                        let mut rec = ManifestRecord::for_source(entry.path, entry.meta, self.set);
                        rec.status = Some(status);
                        rec.reason = Some(format!("hash: {reason}"));
                        e.note(rec);
                    }
                },
                CollectorKind::Stat => {
                    let link = (entry.meta.kind() == Kind::Symlink)
                        .then(|| {
                            rustix::fs::readlinkat(
                                entry.dir,
                                crate::source::meta::cstr(entry.name).unwrap_or_default(),
                                Vec::new(),
                            )
                            .ok()
                            .map(|t| t.into_bytes())
                        })
                        .flatten();
                    if let Some(out) = self.out.as_deref_mut() {
                        out.push(
                            bodyfile_line(entry.path, entry.meta, None, link.as_deref()).as_bytes(),
                        );
                    }
                }
                CollectorKind::Command | CollectorKind::Native => {}
            }
            e.tick(self.set);
        }
        if entry.meta.kind() != Kind::Dir {
            return Flow::Descend;
        }
        if prunes(self.art, entry) {
            return Flow::Prune;
        }
        if entry.depth > 0 {
            if self.art.one_file_system && self.start_dev.is_some_and(|d| d != entry.meta.dev) {
                e.log.record(
                    Level::Info,
                    LogEvent::Skipped,
                    Some(self.set),
                    Some(entry.path),
                    "another filesystem is mounted here; not descending (one_file_system)",
                );
                return Flow::Prune;
            }
            if let Some(fstype) = e.mounts.fstype(entry.meta.dev) {
                let pseudo = PSEUDO_FILESYSTEMS.contains(&fstype);
                if (pseudo && !self.start_pseudo)
                    || self.art.exclude_file_system.iter().any(|x| x == fstype)
                {
                    e.log.record(
                        Level::Info,
                        LogEvent::Skipped,
                        Some(self.set),
                        Some(entry.path),
                        format!("not descending into a {fstype} filesystem"),
                    );
                    return Flow::Prune;
                }
            }
        }
        Flow::Descend
    }

    fn error(&mut self, path: &[u8], action: &'static str, err: &io::Error) {
        let (status, reason) = classify(err);
        let (level, event) = (status.log_level(), status.log_event());
        if status == Status::Denied {
            self.engine.counts.denied += 1;
        } else {
            self.engine.counts.errors += 1;
        }
        self.engine.log.record(
            level,
            event,
            Some(self.set),
            Some(path),
            format!("{action}: {reason}"),
        );
    }
}

/// Runs a whole collection of `selection` on `root` into `target`.
pub fn collect(
    root: &Root,
    selection: &Selection,
    opts: &Options,
    target: Target,
    progress: &mut Progress,
    invocation: serde_json::Value,
) -> Result<Report, CollectError> {
    crate::source::walk::raise_fd_limit();
    let started = crate::units::now_rfc3339();
    let clock = Instant::now();
    let sink = Sink::open(target).map_err(CollectError::Output)?;
    let own_output = sink.file_identity();
    let upload_events = sink.events();
    let archive = ArchiveWriter::new(sink, opts.workers).map_err(CollectError::Write)?;
    let mut engine = Engine {
        root,
        opts,
        archive,
        manifest: Spool::new(),
        log: CollectionLog::default(),
        counts: Counts::default(),
        seen: HashSet::new(),
        own_output,
        own_exe: own_exe_identity(),
        mounts: match root.target_pid() {
            Some(pid) => MountTable::of_process(&pid.to_string()),
            None => MountTable::live(),
        },
        users: None,
        deadline: opts.timeout.map(|t| clock + t),
        timed_out: false,
        progress,
        buf: vec![0u8; crate::archive::writer::CHUNK],
        failed: None,
        manifest_parts: Vec::new(),
        live: crate::live::Session::new(opts.live.clone()),
        upload_events,
    };
    engine.log.record(
        Level::Info,
        LogEvent::Start,
        None,
        None,
        format!(
            "cairn-collector {} collecting {} ({})",
            env!("CARGO_PKG_VERSION"),
            root.path().display(),
            if root.is_live() {
                "live"
            } else {
                "offline tree"
            }
        ),
    );
    engine.log.record(
        Level::Info,
        LogEvent::Footprint,
        None,
        None,
        identity::footprint().to_string(),
    );
    for entry in &selection.unmatched {
        engine.log.record(
            Level::Warn,
            LogEvent::Profile,
            None,
            None,
            format!("profile entry `{entry}` matches no artifact cairn knows; skipped"),
        );
    }
    engine.progress.emit(&Event::Start(event::Start {
        root: root.path().display().to_string(),
        artifacts: selection.sets.iter().map(|s| s.name.clone()).collect(),
    }));
    for set in &selection.sets {
        if engine.failed.is_some() {
            break;
        }
        engine.progress.emit(&Event::Artifact(event::ArtifactBegun {
            name: set.name.clone(),
        }));
        engine.run_set(set);
    }
    if let Some(e) = engine.failed.take() {
        return Err(CollectError::Write(e));
    }
    let ended = crate::units::now_rfc3339();
    engine.log.record(
        Level::Info,
        LogEvent::End,
        None,
        None,
        format!(
            "{} files, {} bytes stored, {:.1}s",
            engine.counts.files,
            engine.counts.bytes_stored,
            clock.elapsed().as_secs_f64()
        ),
    );
    finish(
        engine, root, selection, opts, started, ended, clock, invocation,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    mut e: Engine<'_>,
    root: &Root,
    selection: &Selection,
    opts: &Options,
    started: String,
    ended: String,
    clock: Instant,
    invocation: serde_json::Value,
) -> Result<Report, CollectError> {
    let h = generated_header();
    e.drain_upload_events();
    let destination = match e.archive.sink().upload_report() {
        Some(r) => {
            json!({"kind": r.kind, "location": r.location, "object": r.object, "preflight": r.preflight, "error_so_far": r.error, "fallback": r.fallback})
        }
        None => json!({"kind": "local", "location": e.archive.sink().describe_target()}),
    };
    let warnings = e.log.warnings + e.log.errors;
    let log_len = e.log.spool().len();
    let log_sha = e
        .archive
        .append_spool(LOG_NAME.as_bytes(), &h, e.log.spool())
        .map_err(CollectError::Write)?;
    let manifest_len = e.manifest.len();
    let manifest_sha = e
        .archive
        .append_spool(MANIFEST_NAME.as_bytes(), &h, &mut e.manifest)
        .map_err(CollectError::Write)?;
    let summary = json!({
        "tool": "cairn-collector",
        "version": env!("CARGO_PKG_VERSION"),
        "started": started,
        "ended": ended,
        "duration_seconds": clock.elapsed().as_secs_f64(),
        "root": root.path().display().to_string(),
        "live": root.is_live(),
        "identity": identity::identity(root),
        "collector": identity::footprint(),
        "profile": selection.profile,
        "artifacts": selection.sets.iter().map(|s| json!({"name": s.name, "origin": s.origin})).collect::<Vec<_>>(),
        "options": {
            "max_file_size": opts.max_file_size,
            "max_total_size": opts.max_total_size,
            "timeout_seconds": opts.timeout.map(|t| t.as_secs_f64()),
            "date_range": opts.date_range,
            "invocation": invocation,
        },
        "destination": destination,
        "counts": e.counts,
        "timed_out": e.timed_out,
        "log": {"path": LOG_NAME, "sha256": log_sha, "size": log_len, "warnings": e.log.warnings, "errors": e.log.errors},
        "manifest": {
            "path": MANIFEST_NAME,
            "sha256": manifest_sha,
            "size": manifest_len,
            "earlier_parts": e.manifest_parts.iter().map(|(p, sha, size)| json!({"path": p, "sha256": sha, "size": size})).collect::<Vec<_>>(),
        },
        "archive": {"tar_bytes_before_summary": e.archive.uncompressed_bytes()},
    });
    let mut text = serde_json::to_vec_pretty(&summary).unwrap_or_default();
    text.push(b'\n');
    e.archive
        .append_bytes(SUMMARY_NAME.as_bytes(), &h, &text)
        .map_err(CollectError::Write)?;
    let counts = e.counts.clone();
    let timed_out = e.timed_out;
    let progress = e.progress;
    let events = e.upload_events.clone();
    let mut sink = e.archive.finish().map_err(CollectError::Write)?;
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
        upload: delivered.upload.clone(),
    }));
    Ok(Report {
        delivered,
        counts,
        timed_out,
        warnings,
    })
}

fn live_path(rel: &[u8]) -> Vec<u8> {
    let mut p = format!("{}/", crate::live::LIVE_DIR).into_bytes();
    p.extend_from_slice(rel);
    p
}

/// How the native live-response collectors write into this collection.
impl crate::live::Emit for Engine<'_> {
    fn output(&mut self, artifact: &str, rel: &str, data: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        let path = live_path(rel.as_bytes());
        match self.archive.append_bytes(&path, &generated_header(), data) {
            Ok(sha) => self.note_output(artifact, &path, data.len() as u64, sha),
            Err(e) => self.write_failed(e),
        }
    }

    fn output_spool(&mut self, artifact: &str, rel: &str, spool: &mut Spool) {
        if self.failed.is_some() {
            return;
        }
        let path = live_path(rel.as_bytes());
        match self.archive.append_spool(&path, &generated_header(), spool) {
            Ok(sha) => self.note_output(artifact, &path, spool.len(), sha),
            Err(e) => self.write_failed(e),
        }
    }

    fn copy(
        &mut self,
        artifact: &str,
        rel: &[u8],
        source: &[u8],
        file: &mut std::fs::File,
        cap: u64,
    ) -> io::Result<crate::live::Copied> {
        if let Some(e) = &self.failed {
            return Err(io::Error::other(e.to_string()));
        }
        let meta = stat_at(&*file, b"")?;
        let path = live_path(rel);
        let size = meta.size.min(cap);
        let deadline = self.deadline;
        let stop = move || deadline.is_some_and(|d| Instant::now() >= d);
        let outcome = match self
            .archive
            .append_stream(&path, &header_of(&meta), size, file, &stop)
        {
            Ok(o) => o,
            Err(e) => {
                let msg = e.to_string();
                self.write_failed(e);
                return Err(io::Error::other(msg));
            }
        };
        self.counts.files += 1;
        self.counts.bytes_read += outcome.read;
        self.counts.bytes_stored += size;
        let mut rec = ManifestRecord::for_source(source, &meta, artifact);
        rec.size = size;
        rec.sha256 = Some(outcome.sha256.clone());
        rec.set_path(&path);
        let complete =
            outcome.error.is_none() && !outcome.short && !outcome.stopped && size == meta.size;
        rec.status = Some(if complete {
            Status::Complete
        } else if outcome.short {
            Status::Changed
        } else if outcome.error.is_some() {
            Status::Error
        } else {
            Status::Truncated
        });
        if !complete {
            rec.reason = Some(match &outcome.error {
                Some(e) => format!(
                    "read error after {} bytes, rest zero-filled: {e}",
                    outcome.read
                ),
                None => format!("stored {} of {} bytes", outcome.read, meta.size),
            });
        }
        let archive_path = rec.path.clone().unwrap_or_default();
        self.note(rec);
        Ok(crate::live::Copied {
            archive_path,
            sha256: outcome.sha256,
            stored: size,
            complete,
        })
    }

    fn log(
        &mut self,
        level: Level,
        event: LogEvent,
        artifact: &str,
        path: Option<&[u8]>,
        message: String,
    ) {
        self.log.record(level, event, Some(artifact), path, message);
    }

    fn expired(&mut self) -> bool {
        Engine::expired(self)
    }

    fn count_denied(&mut self, items: u64) {
        self.counts.live_denied += items;
    }
}

/// Device and inode of the running executable, in the form the walker reports.
fn own_exe_identity() -> Option<(u64, u64)> {
    let st = rustix::fs::stat("/proc/self/exe").ok()?;
    let dev =
        (u64::from(rustix::fs::major(st.st_dev)) << 32) | u64::from(rustix::fs::minor(st.st_dev));
    Some((dev, st.st_ino))
}
