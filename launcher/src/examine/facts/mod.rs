//! The facts of one collection, read in one pass over its archive ([`archive`]) and one
//! over its Kubernetes evidence ([`kubernetes`]), as the typed records the collector
//! and the launcher wrote: identity, processes and their executables, sockets, mounts,
//! logins, drift, the lines of shell histories, `/etc/ld.so.preload`, the modes of
//! executable and set-id files from the bodyfile, and the pod, its events, its service
//! account's powers and the tails of its logs.
//!
//! A hostile target made all of it: each list is capped in records and in bytes
//! ([`budget`]), and a cap reached is said in `problems`. Each member read is hashed as
//! it streams past, and the hash is checked against the manifest's when the manifest
//! streams past after it, so a finding's evidence says whether it matches.

pub mod archive;
pub mod budget;
pub mod kubernetes;

use super::inputs::Collection;
use cairn_archive::records::drift::Drift;
use cairn_archive::records::k8s::Rbac;
use cairn_archive::records::k8s::{EventView, PodView};
use cairn_archive::records::mounts::Mount;
use cairn_archive::records::network::Socket;
use cairn_archive::records::process::{Executable, Process};
use cairn_archive::records::summary::Summary;
use cairn_archive::records::system::System;
use cairn_archive::records::users::Login;
use std::collections::HashMap;

/// The most records kept of each list.
pub const MAX_RECORDS: usize = 20_000;
/// The most history lines kept (those a rule may look at: every line, each capped).
pub const MAX_HISTORY_LINES: usize = 50_000;
/// The most bytes of one history line kept.
pub const MAX_HISTORY_LINE: usize = 4096;
/// The lines kept from the end of each container log, each cut to [`MAX_LOG_LINE`].
pub const LOG_TAIL: usize = 200;
pub const MAX_LOG_LINE: usize = 2048;
/// The most container logs kept.
pub const MAX_LOGS: usize = 64;
/// The most bytes of a document cairn wrote (summary, system, rbac): a few KiB each, and
/// parsed, a document can hold several times its bytes.
pub const DOCUMENT_LIMIT: u64 = 2 << 20;
/// The most bytes of an API server's object read back (pod, events): only a few of its
/// fields are kept, their lists capped (`records::k8s::PodView`).
pub const OBJECT_LIMIT: u64 = 16 << 20;

/// One line of a shell history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryLine {
    /// Which history file: an index into [`Facts::history_files`].
    pub file: usize,
    pub number: usize,
    pub text: String,
}

/// The tail of a container log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogTail {
    /// The member (`logs/C.log`).
    pub member: String,
    pub lines: Vec<String>,
    /// How many lines it had.
    pub count: usize,
}

/// Whether a member's sha256, computed as it was read, is the one the manifest gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// No manifest record names it (or the manifest could not be read).
    Unlisted,
    Matches,
    /// The manifest gives another sha256.
    Differs(String),
}

/// A member read: its sha256 as read, and the manifest's word on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub sha256: String,
    pub check: Check,
}

/// What one collection holds that a person reads.
#[derive(Debug, Default)]
pub struct Facts {
    pub collection: Collection,
    pub summary: Option<Summary>,
    pub system: Option<System>,
    pub processes: Vec<Process>,
    pub executables: Vec<Executable>,
    pub sockets: Vec<Socket>,
    pub mounts: Vec<Mount>,
    pub logins: Vec<Login>,
    pub drift: Vec<Drift>,
    /// What the responder's YARA rules matched (`--yara`).
    pub yara: Vec<cairn_archive::records::memory::YaraHit>,
    /// The processes whose memory was asked for (`--memory`, `--yara`).
    pub memory: Vec<cairn_archive::records::memory::MemoryProcess>,
    /// The history files read (members), each named once.
    pub history_files: Vec<String>,
    pub history: Vec<HistoryLine>,
    /// Why the archive could not be read to its end, when it could not.
    pub unreadable: Option<String>,
    /// The cron files read (crontabs, `cron.d`, periodic scripts), each named once,
    /// and their lines (`HistoryLine::file` indexes `cron_files`).
    pub cron_files: Vec<String>,
    pub cron: Vec<HistoryLine>,
    /// `/etc/ld.so.preload`'s content, when collected.
    pub preload: Option<String>,
    /// Bodyfile modes (`-rwsr-xr-x`) of files with an execute or set-id bit, by path.
    pub modes: HashMap<String, String>,
    /// Each member of the archive read, by path.
    pub members: HashMap<String, Member>,
    /// From the Kubernetes evidence.
    pub pod: Option<PodView>,
    pub rbac: Option<Rbac>,
    pub events: Vec<EventView>,
    pub logs: Vec<LogTail>,
    pub k8s_members: HashMap<String, Member>,
    /// What could not be read, or was cut at a cap.
    pub problems: Vec<String>,
}

impl Facts {
    /// The history file of a line.
    pub fn history_file(&self, l: &HistoryLine) -> &str {
        self.history_files.get(l.file).map_or("", String::as_str)
    }

    /// Whether the collection was complete, as its summary says.
    pub fn complete(&self) -> Option<bool> {
        self.summary.as_ref().map(|s| s.seal.complete)
    }

    /// What the collector was refused: files, and live-response reads.
    pub fn denied(&self) -> (u64, u64) {
        self.summary
            .as_ref()
            .map_or((0, 0), |s| (s.counts.denied, s.counts.live_denied))
    }

    /// What the collection is, and why, for the page's banner and the index.
    pub fn status(&self) -> (Status, String) {
        if self.collection.archive.is_none() {
            return (
                Status::Failed,
                "no archive: only what the cluster knows of the target (NAME.k8s.tar.zst) is here; the collection failed or was cut off".into(),
            );
        }
        if let Some(e) = &self.unreadable {
            return (
                Status::Damaged,
                format!("the archive could not be read to its end: {e}"),
            );
        }
        let differ = self
            .members
            .iter()
            .filter(|(_, m)| matches!(m.check, Check::Differs(_)))
            .count();
        if differ > 0 {
            return (
                Status::Damaged,
                format!("{differ} member(s) differ from the manifest's sha256 (the evidence table names them)"),
            );
        }
        match self.complete() {
            None => (
                Status::Damaged,
                "the archive has no summary: it was not sealed, so nothing in it is vouched for".into(),
            ),
            Some(false) => (
                Status::CutShort,
                "cut short by a limit: valid, but not everything asked for is in it (the collection's record says which)".into(),
            ),
            Some(true) => match self.denied() {
                (0, 0) => (Status::Complete, "complete".into()),
                (files, live) => (
                    Status::Partial,
                    format!("complete as asked, but {files} file(s) and {live} live-response read(s) were denied to the collector: it lacked the rights (a collection as root sees them; the collection's log names each)"),
                ),
            },
        }
    }
}

/// What a collection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Complete,
    /// Complete as asked, but the collector was denied some of it.
    Partial,
    CutShort,
    Damaged,
    Failed,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Partial => "partial",
            Status::CutShort => "cut short",
            Status::Damaged => "damaged",
            Status::Failed => "failed",
        }
    }

    /// Damaged or failed: what it shows cannot be taken as the target's state.
    pub fn bad(self) -> bool {
        matches!(self, Status::Damaged | Status::Failed)
    }
}

/// Reads a collection.
pub fn read(c: &Collection) -> Facts {
    let mut f = Facts {
        collection: c.clone(),
        ..Facts::default()
    };
    if let Some(a) = &c.archive {
        if let Err(e) = archive::read(&mut f, a) {
            crate::examine::problem(&mut f.problems, format!("{}: {e}", a.display()));
            f.unreadable = Some(format!("{e}"));
        }
    }
    if let Some(k) = &c.k8s {
        if let Err(e) = kubernetes::read(&mut f, k) {
            crate::examine::problem(&mut f.problems, format!("{}: {e}", k.display()));
        }
    }
    f
}

/// A reader that hashes what is consumed through it, so a member is hashed whatever
/// part of it a reader looks at.
pub struct Hashing<'a> {
    inner: &'a mut dyn std::io::BufRead,
    hash: sha2::Sha256,
}

impl<'a> Hashing<'a> {
    pub fn new(inner: &'a mut dyn std::io::BufRead) -> Hashing<'a> {
        use sha2::Digest;
        Hashing {
            inner,
            hash: sha2::Sha256::new(),
        }
    }

    /// Reads what is left and returns the member's sha256.
    pub fn finish(mut self) -> std::io::Result<String> {
        use sha2::Digest;
        std::io::copy(&mut self, &mut std::io::sink())?;
        Ok(hex::encode(self.hash.finalize()))
    }
}

impl std::io::Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::BufRead;
        let n = {
            let have = self.fill_buf()?;
            let n = have.len().min(buf.len());
            buf[..n].copy_from_slice(&have[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl std::io::BufRead for Hashing<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        use sha2::Digest;
        if let Ok(b) = self.inner.fill_buf() {
            self.hash.update(&b[..amt.min(b.len())]);
        }
        self.inner.consume(amt);
    }
}

/// Checks the members read against one manifest part as it streams past: the path
/// and sha256 of each record, nothing else parsed.
pub fn check_manifest(
    r: &mut dyn std::io::BufRead,
    members: &mut HashMap<String, Member>,
) -> std::io::Result<()> {
    #[derive(serde::Deserialize)]
    struct PathSha<'a> {
        #[serde(borrow)]
        path: Option<std::borrow::Cow<'a, str>>,
        sha256: Option<std::borrow::Cow<'a, str>>,
    }
    let max = cairn_archive::read::lines::MAX_RECORD_LINE;
    cairn_archive::read::lines::lines_within(r, max, |l| {
        // Most records name a member not read: a plain leading path (as the collector
        // writes it) is looked up before the line is parsed.
        if let Some(p) = leading_path(l) {
            if !std::str::from_utf8(p).is_ok_and(|p| members.contains_key(p)) {
                return;
            }
        }
        let Ok(rec) = serde_json::from_slice::<PathSha<'_>>(l) else {
            return;
        };
        let (Some(path), Some(sha)) = (rec.path, rec.sha256) else {
            return;
        };
        if let Some(m) = members.get_mut(path.as_ref()) {
            m.check = if m.sha256 == sha {
                Check::Matches
            } else if cairn_protocol::bounded::is_sha256(&sha) {
                Check::Differs(sha.into_owned())
            } else {
                Check::Differs("(not a sha256)".into())
            };
        }
    })?;
    Ok(())
}

/// The `path` of a manifest line when it is the line's first field and holds no
/// escape: what the collector writes. `None` sends the line to the full parse.
fn leading_path(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"{\"path\":\"")?;
    let end = rest.iter().position(|b| *b == b'"')?;
    let p = &rest[..end];
    (!p.contains(&b'\\')).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;
    use std::io::{BufRead, Read};

    #[test]
    fn what_is_read_through_is_hashed_to_the_end() {
        let data = b"line one\nline two\n".to_vec();
        let mut r: &[u8] = &data;
        let mut h = Hashing::new(&mut r);
        let mut first = String::new();
        h.read_line(&mut first).unwrap();
        assert_eq!(first, "line one\n");
        let mut one = [0u8; 1];
        h.read_exact(&mut one).unwrap();
        assert_eq!(
            h.finish().unwrap(),
            hex::encode(sha2::Sha256::digest(&data))
        );
    }

    #[test]
    fn members_are_checked_against_the_manifest_by_path() {
        let sha = |c: char| c.to_string().repeat(64);
        let mut members = HashMap::new();
        for (p, s) in [("a", sha('1')), ("b", sha('2')), ("c", sha('3'))] {
            members.insert(
                p.to_owned(),
                Member {
                    sha256: s,
                    check: Check::Unlisted,
                },
            );
        }
        let manifest = format!(
            "{{\"path\":\"a\",\"sha256\":\"{}\"}}\n{{\"path\":\"b\",\"sha256\":\"{}\"}}\nnot json\n{{\"path\":\"x\",\"sha256\":\"00\"}}\n{{\"sha256\":\"{}\",\"path\":\"c\"}}\n",
            sha('1'),
            sha('9'),
            "x".repeat(100_000)
        );
        check_manifest(&mut manifest.as_bytes(), &mut members).unwrap();
        assert_eq!(members["a"].check, Check::Matches);
        assert_eq!(members["b"].check, Check::Differs(sha('9')));
        assert_eq!(
            members["c"].check,
            Check::Differs("(not a sha256)".into()),
            "a line whose path is not first is parsed whole, and a hash that is not one is not kept"
        );
    }
}
