//! What the node keeps about the collected container outside its filesystem: the
//! kubelet's `/var/log/pods/NAMESPACE_POD_UID/CONTAINER/` (the container's stdout and
//! stderr, rotated and compressed files included), and with `--node-logs-since` the
//! kubelet's and the container runtime's own logs (journal files, `/var/log/*.log`)
//! written since then. Read from the node's root and stored under `node/` by their
//! path on the node, with the same rules as every file (limits, hashes, the manifest).
//! A missing directory, and every file left out for its age, is said in the log. The
//! start is reached without following any symlink (one there is said, not followed),
//! and the walk below it records links as links.

use super::engine::Engine;
use super::options::Beside;
use crate::source::walk::{Entry, Flow, Visitor};
use crate::source::{Kind, Root};
use cairn_archive::member::{FILES_DIR, NODE_DIR};
use cairn_archive::records::Status;
use cairn_protocol::{Level, LogEvent};
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;

impl Engine<'_> {
    /// Collects every file under `b.path` on the node.
    pub fn collect_beside(&mut self, b: &Beside) {
        let artifact = b.artifact.as_str();
        let node = match Root::open(&b.node_root) {
            Ok(r) => r,
            Err(e) => {
                self.rec.counts.errors += 1;
                let why = format!("the node's root {}: {e}", b.node_root.display());
                return self
                    .rec
                    .log(Level::Error, LogEvent::Error, Some(artifact), None, why);
            }
        };
        let start = match node.resolve(b.path.as_bytes()) {
            Ok(r) => r,
            Err(e) => {
                let why = format!("not on the node ({e}): nothing kept there for this container");
                return self.rec.log(
                    Level::Info,
                    LogEvent::Absent,
                    Some(artifact),
                    Some(b.path.as_bytes()),
                    why,
                );
            }
        };
        if start.followed_symlinks() {
            // Whoever can write below it (a pod with /var/log mounted) could point it at
            // another container's files: what the kubelet wrote is never behind a link.
            let why = format!(
                "a symlink on the way to {} on the node: not followed, so nothing of it is kept (it could lead into another container's files)",
                b.path
            );
            return self.rec.log(
                Level::Warn,
                LogEvent::Symlink,
                Some(artifact),
                Some(b.path.as_bytes()),
                why,
            );
        }
        let names = match names(&b.names) {
            Ok(g) => g,
            Err(e) => {
                self.rec.counts.errors += 1;
                let why = format!("name patterns: {e}");
                return self
                    .rec
                    .log(Level::Error, LogEvent::Error, Some(artifact), None, why);
            }
        };
        self.top = NODE_DIR;
        let mut v = BesideVisitor {
            engine: self,
            artifact,
            names,
            since: b.since,
        };
        node.walk(&start, b.max_depth, &mut v);
        self.top = FILES_DIR;
    }
}

/// The name globs, or `None` for every name.
fn names(patterns: &[String]) -> Result<Option<GlobSet>, globset::Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p)?);
    }
    b.build().map(Some)
}

/// Takes every object under the start whose name matches, as a `file` entry would;
/// records those last written before `since` as skipped.
struct BesideVisitor<'e, 'a> {
    engine: &'e mut Engine<'a>,
    artifact: &'e str,
    names: Option<GlobSet>,
    since: Option<i64>,
}

impl Visitor for BesideVisitor<'_, '_> {
    fn entry(&mut self, entry: &Entry<'_>) -> Flow {
        if self.engine.rec.failed.is_some() || self.engine.expired() {
            return Flow::Stop;
        }
        if entry.meta.kind() == Kind::Dir {
            return Flow::Descend;
        }
        let name = entry
            .path
            .rsplit(|&b| b == b'/')
            .next()
            .unwrap_or(entry.path);
        if self
            .names
            .as_ref()
            .is_some_and(|g| !g.is_match(OsStr::from_bytes(name)))
        {
            return Flow::Descend;
        }
        if let Some(since) = self.since.filter(|s| entry.meta.mtime.0 < *s) {
            let mut rec = entry.meta.record(entry.path, self.artifact);
            rec.status = Some(Status::Skipped);
            rec.reason = Some(format!(
                "last written before the window asked for ({}), so it holds nothing of it",
                cairn_archive::text::rfc3339(since, 0)
            ));
            self.engine.rec.note(rec);
            return Flow::Descend;
        }
        self.engine.collect_entry(self.artifact, entry, None);
        Flow::Descend
    }

    fn error(&mut self, path: &[u8], action: &'static str, err: &io::Error) {
        self.engine.walk_error(self.artifact, path, action, err);
    }
}
