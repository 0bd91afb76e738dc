//! Files from the root into the archive: the `file` collector's copies (regular files
//! streamed, symlinks stored as links, special files recorded and never opened), the
//! `hash` collector's in-place hashes, and the live response's copies of open files.
//! One rule, [`settle`], says what became of every file streamed.

use super::classify::classify;
use super::engine::{archive_path, Engine};
use crate::source::meta::{cstr, stat_at};
use crate::source::open::{has_noatime, open_regular};
use crate::source::walk::Entry;
use crate::source::{Kind, Meta};
use cairn_archive::records::{ManifestRecord, Status};
use cairn_archive::write::StreamOutcome;
use cairn_protocol::{Level, LogEvent};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Instant;

/// What became of a file streamed into the archive: `stored` of its `before.size`
/// bytes were asked for, `after` is its metadata once read, `cut_by` names the limit
/// that made `stored` smaller, and `notes` says what was already seen. The one rule for
/// every copy: a read error, the deadline, a file that shrank or changed while read,
/// a size limit, in that order.
pub fn settle(
    o: &StreamOutcome,
    stored: u64,
    before: &Meta,
    after: Option<&Meta>,
    cut_by: &str,
    mut notes: Vec<String>,
) -> (Status, Vec<String>) {
    let changed = after.is_some_and(|a| a.size != before.size || a.mtime != before.mtime);
    let status = if let Some(e) = &o.error {
        notes.push(format!(
            "read error after {} bytes, rest zero-filled: {e}",
            o.read
        ));
        Status::Error
    } else if o.stopped {
        notes.push(format!(
            "timeout after {} of {stored} bytes, rest zero-filled",
            o.read
        ));
        Status::Truncated
    } else if o.short {
        notes.push(format!(
            "shrank while read: {} of {stored} bytes, rest zero-filled",
            o.read
        ));
        Status::Changed
    } else if changed {
        let a = after.map(|a| a.size).unwrap_or(0);
        notes.push(format!(
            "changed while read (size {} -> {a}); stored as read",
            before.size
        ));
        Status::Changed
    } else if stored < before.size {
        notes.push(format!(
            "stored the first {stored} of {} bytes ({cut_by})",
            before.size
        ));
        Status::Truncated
    } else if !notes.is_empty() {
        Status::Changed
    } else {
        Status::Complete
    };
    (status, notes)
}

/// A record's status and reason.
fn conclude(rec: &mut ManifestRecord, (status, notes): (Status, Vec<String>)) {
    rec.status = Some(status);
    if !notes.is_empty() {
        rec.reason = Some(notes.join("; "));
    }
}

impl Engine<'_> {
    /// Collects one object met by a `file` entry of `set`.
    pub fn collect_entry(&mut self, set: &str, entry: &Entry<'_>, truncate_size: Option<u64>) {
        let own = |id: Option<(u64, u64)>| id == Some((entry.meta.dev, entry.meta.ino));
        for (id, what) in [
            (self.own_output, "the collector's own output file"),
            (self.own_exe, "the collector's own executable"),
        ] {
            if own(id) {
                self.rec.log(
                    Level::Info,
                    LogEvent::Skipped,
                    Some(set),
                    Some(entry.path),
                    what,
                );
                return;
            }
        }
        if !self.first_time(entry.path) {
            return;
        }
        match entry.meta.kind() {
            Kind::File => self.collect_file(set, entry, truncate_size),
            Kind::Symlink => self.collect_symlink(set, entry),
            Kind::Dir => {}
            other => {
                self.rec.counts.special += 1;
                let mut rec = entry.meta.record(entry.path, set);
                rec.status = Some(Status::Skipped);
                rec.reason = Some(format!(
                    "{}: recorded, never opened or read",
                    other.as_str()
                ));
                self.rec.note(rec);
            }
        }
    }

    /// Stores a symlink as a link, with its target.
    fn collect_symlink(&mut self, set: &str, entry: &Entry<'_>) {
        let mut rec = entry.meta.record(entry.path, set);
        let name = cstr(entry.name).unwrap_or_default();
        match rustix::fs::readlinkat(entry.dir, name, Vec::new()) {
            Ok(target) => {
                let target = target.into_bytes();
                let ap = archive_path(self.top, entry.path);
                if let Some(why) = too_long(&ap, Some(&target)) {
                    rec.status = Some(Status::Skipped);
                    rec.reason = Some(why);
                    return self.rec.note(rec);
                }
                let header = super::recorder::header_of(entry.meta);
                if let Err(e) = self.rec.archive.append_symlink(&ap, &header, &target) {
                    self.rec.write_failed(e);
                    return;
                }
                self.rec.counts.symlinks += 1;
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
        self.rec.note(rec);
    }

    fn check_atime(&mut self, fd: BorrowedFd<'_>, set: &str, path: &[u8]) {
        if !has_noatime(fd) {
            self.rec.counts.atime_not_preserved += 1;
            if self.rec.counts.atime_not_preserved == 1 {
                self.rec.log(Level::Warn, LogEvent::Atime, Some(set), Some(path), "O_NOATIME refused (the collector neither owns the file nor has CAP_FOWNER): reading may update access times of files like this one; the manifest holds the atime seen before reading");
            }
        }
    }

    /// Streams one regular file into the archive: at most the smallest of
    /// `--max-file-size`, what `--max-total-size` leaves, and the artifact's
    /// `truncate_size`, recording in the manifest which of them cut it.
    fn collect_file(&mut self, set: &str, entry: &Entry<'_>, truncate_size: Option<u64>) {
        let mut rec = entry.meta.record(entry.path, set);
        if let Some(why) = too_long(&archive_path(self.top, entry.path), None) {
            rec.status = Some(Status::Skipped);
            rec.reason = Some(why);
            return self.rec.note(rec);
        }
        let budget = self
            .opts
            .max_total_size
            .map(|m| m.saturating_sub(self.rec.counts.bytes_stored));
        if budget == Some(0) {
            self.rec.total_size_cut += 1;
            rec.status = Some(Status::Skipped);
            rec.reason = Some("--max-total-size reached".into());
            return self.rec.note(rec);
        }
        let fd = match open_regular(entry.dir, entry.name) {
            Ok(fd) => fd,
            Err(e) => {
                let (s, r) = classify(&e);
                rec.status = Some(s);
                rec.reason = Some(r);
                return self.rec.note(rec);
            }
        };
        self.check_atime(fd.as_fd(), set, entry.path);
        let at_open = stat_at(&fd, b"").unwrap_or_else(|_| entry.meta.clone());
        let cap = budget
            .unwrap_or(u64::MAX)
            .min(self.opts.max_file_size)
            .min(truncate_size.unwrap_or(u64::MAX));
        let cut_by = if budget == Some(cap) {
            if at_open.size > cap {
                self.rec.total_size_cut += 1;
            }
            "--max-total-size"
        } else if cap == self.opts.max_file_size {
            "--max-file-size"
        } else {
            "the artifact's truncate_size"
        };
        let mut notes: Vec<String> = Vec::new();
        if at_open.ino != entry.meta.ino {
            notes.push("replaced between listing and reading".into());
        }
        let ap = archive_path(self.top, entry.path);
        let mut file = std::fs::File::from(fd);
        if self.is_pseudo(at_open.dev) || at_open.size == 0 {
            return self.collect_unsized(rec, &ap, &at_open, &mut file, cap, notes);
        }
        let size = at_open.size.min(cap);
        let scanner = self.yara_files.as_mut().filter(|_| size <= YARA_FILE_CAP);
        let outcome = if let Some(s) = scanner {
            // The responder's YARA rules see the bytes as they stream: no second read.
            let mut tee = Tee {
                file: &mut file,
                seen: s.buffer(size as usize),
            };
            let outcome = self.stream(&ap, &at_open, size, &mut tee);
            let seen = std::mem::take(&mut tee.seen);
            if let (Some(o), Some(s)) = (
                outcome.as_ref().filter(|o| !(o.short || o.stopped)),
                self.yara_files.as_mut(),
            ) {
                s.scan(entry.path, &o.sha256, seen);
            }
            outcome
        } else {
            self.stream(&ap, &at_open, size, &mut file)
        };
        let Some(outcome) = outcome else {
            return;
        };
        let after = stat_at(&file, b"").ok();
        rec.size = size;
        rec.sha256 = Some(outcome.sha256.clone());
        rec.set_path(&ap);
        conclude(
            &mut rec,
            settle(&outcome, size, &at_open, after.as_ref(), cut_by, notes),
        );
        self.rec.note(rec);
    }

    /// Streams `size` bytes of `file` to `path`, until the deadline; a stop at the
    /// deadline marks the collection timed out.
    fn stream(
        &mut self,
        path: &[u8],
        meta: &Meta,
        size: u64,
        file: &mut dyn Read,
    ) -> Option<StreamOutcome> {
        let deadline = self.deadline;
        let stop = move || deadline.is_some_and(|d| Instant::now() >= d);
        let outcome = self.rec.stream(path, meta, size, file, &stop)?;
        if outcome.stopped {
            self.expired();
        }
        Some(outcome)
    }

    /// Pseudo-files report size 0 (or a nominal size): read to learn their size,
    /// bounded by `cap` and the pseudo-file limit.
    fn collect_unsized(
        &mut self,
        mut rec: ManifestRecord,
        ap: &[u8],
        at_open: &Meta,
        file: &mut std::fs::File,
        cap: u64,
        mut notes: Vec<String>,
    ) {
        let limit = cap.min(self.opts.pseudo_file_limit);
        let mut data = Vec::new();
        if let Err(e) = file.take(limit + 1).read_to_end(&mut data) {
            if data.is_empty() {
                let (s, r) = classify(&e);
                rec.status = Some(s);
                rec.reason = Some(r);
                return self.rec.note(rec);
            }
            notes.push(format!("read error after {} bytes: {e}", data.len()));
        }
        let over = data.len() as u64 > limit;
        data.truncate(limit as usize);
        let header = super::recorder::header_of(at_open);
        match self.rec.archive.append_bytes(ap, &header, &data) {
            Ok(sha) => rec.sha256 = Some(sha),
            Err(e) => return self.rec.write_failed(e),
        }
        let c = &mut self.rec.counts;
        c.files += 1;
        c.bytes_read += data.len() as u64;
        c.bytes_stored += data.len() as u64;
        rec.size = data.len() as u64;
        rec.set_path(ap);
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
        self.rec.note(rec);
    }

    /// sha256 of a file read in place (the `hash` collector), or why not.
    pub fn hash_file(&mut self, set: &str, entry: &Entry<'_>) -> Result<String, (Status, String)> {
        if entry.meta.size > self.opts.max_file_size {
            return Err((
                Status::Skipped,
                format!("larger than --max-file-size ({} bytes)", entry.meta.size),
            ));
        }
        let fd = open_regular(entry.dir, entry.name).map_err(|e| classify(&e))?;
        self.check_atime(fd.as_fd(), set, entry.path);
        let mut file = std::fs::File::from(fd);
        let mut buf = std::mem::take(&mut self.buf);
        let res = cairn_archive::hash::sha256_of(&mut file, self.opts.max_file_size, &mut buf);
        self.buf = buf;
        let h = res.map_err(|e| classify(&e))?;
        self.rec.counts.bytes_read += h.bytes;
        if h.over_limit {
            return Err((
                Status::Skipped,
                "grew past --max-file-size while hashed".into(),
            ));
        }
        Ok(h.sha256)
    }

    /// Copies an open file (a live-response find: an executable, a changed file) to
    /// `path`, at most `cap` bytes, with a manifest record naming `source`.
    pub fn copy_open(
        &mut self,
        artifact: &str,
        path: &[u8],
        source: &[u8],
        file: &mut std::fs::File,
        cap: u64,
    ) -> io::Result<crate::live::Copied> {
        if let Some(e) = &self.rec.failed {
            return Err(io::Error::other(e.to_string()));
        }
        let meta = stat_at(&*file, b"")?;
        if let Some(why) = too_long(path, None) {
            let mut rec = meta.record(source, artifact);
            rec.status = Some(Status::Skipped);
            rec.reason = Some(why.clone());
            self.rec.note(rec);
            return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
        }
        let size = meta.size.min(cap);
        let Some(outcome) = self.stream(path, &meta, size, file) else {
            let why = self.rec.failed.as_ref().map(|e| e.to_string());
            return Err(io::Error::other(why.unwrap_or_default()));
        };
        let after = stat_at(&*file, b"").ok();
        let mut rec = meta.record(source, artifact);
        rec.size = size;
        rec.sha256 = Some(outcome.sha256.clone());
        rec.set_path(path);
        let settled = settle(
            &outcome,
            size,
            &meta,
            after.as_ref(),
            "the artifact's copy limit",
            Vec::new(),
        );
        let complete = settled.0 == Status::Complete;
        conclude(&mut rec, settled);
        let archive_path = rec.path.clone().unwrap_or_default();
        self.rec.note(rec);
        Ok(crate::live::Copied {
            archive_path,
            sha256: outcome.sha256,
            stored: size,
            complete,
        })
    }
}

/// Files up to this size are scanned by `--yara` as they stream.
const YARA_FILE_CAP: u64 = 64 << 20;

/// A reader that keeps what passes through it.
struct Tee<'f> {
    file: &'f mut std::fs::File,
    seen: Vec<u8>,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// Why a name cannot go into the archive: longer than the reader reads back
/// (`cairn_archive::read::MAX_NAME`, 256 KiB: a path over 100,000 directories deep).
fn too_long(archive_path: &[u8], link: Option<&[u8]>) -> Option<String> {
    let max = cairn_archive::read::MAX_NAME;
    let long = archive_path.len().max(link.map_or(0, <[u8]>::len));
    let fits = cairn_archive::write::name_fits(archive_path) && long <= max;
    (!fits).then(|| {
        format!("its path in the archive or its link ({long} bytes) is not one cairn writes and reads back (at most {max} bytes, no NUL, no trailing '/'): recorded, not stored")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(size: u64, mtime: i64) -> Meta {
        Meta {
            size,
            mtime: (mtime, 0),
            ..Meta::default()
        }
    }

    #[test]
    fn one_rule_says_what_became_of_a_file() {
        let ok = StreamOutcome {
            read: 10,
            ..StreamOutcome::default()
        };
        let m = meta(10, 1);
        assert_eq!(
            settle(&ok, 10, &m, Some(&m), "x", vec![]).0,
            Status::Complete
        );
        let big = meta(20, 1);
        let (s, n) = settle(&ok, 10, &big, Some(&big), "--max-file-size", vec![]);
        assert_eq!(s, Status::Truncated);
        assert!(
            n[0].contains("first 10 of 20 bytes (--max-file-size)"),
            "{n:?}"
        );
        let touched = meta(10, 2);
        assert_eq!(
            settle(&ok, 10, &m, Some(&touched), "x", vec![]).0,
            Status::Changed
        );
        let short = StreamOutcome {
            read: 4,
            short: true,
            ..StreamOutcome::default()
        };
        assert_eq!(
            settle(&short, 10, &m, Some(&m), "x", vec![]).0,
            Status::Changed
        );
        let failed = StreamOutcome {
            read: 4,
            short: true,
            error: Some("EIO".into()),
            ..StreamOutcome::default()
        };
        assert_eq!(
            settle(&failed, 10, &m, Some(&m), "x", vec![]).0,
            Status::Error
        );
        let stopped = StreamOutcome {
            read: 4,
            stopped: true,
            ..StreamOutcome::default()
        };
        assert_eq!(
            settle(&stopped, 10, &m, Some(&m), "x", vec![]).0,
            Status::Truncated
        );
        assert_eq!(
            settle(&ok, 10, &m, Some(&m), "x", vec!["replaced".into()]).0,
            Status::Changed
        );
    }
}
