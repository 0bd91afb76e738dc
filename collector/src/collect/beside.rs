//! What the node keeps about the collected container outside its filesystem: the
//! kubelet's `/var/log/pods/NAMESPACE_POD_UID/CONTAINER/` (the container's stdout and
//! stderr, rotated and compressed files included), collected whole from the node's
//! root and stored under `node/` by its path on the node, with the same rules as
//! every file (limits, hashes, the manifest). A missing directory is said in the log.

use super::engine::Engine;
use super::options::Beside;
use crate::archive::{FILES_DIR, NODE_DIR};
use crate::source::walk::{Entry, Flow, Visitor};
use crate::source::{Kind, Root};
use cairn_protocol::{Level, LogEvent};
use std::io;

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
        self.top = NODE_DIR;
        let mut v = BesideVisitor {
            engine: self,
            artifact,
        };
        node.walk(&start, None, &mut v);
        self.top = FILES_DIR;
    }
}

/// Takes every object under the start, as a `file` entry would.
struct BesideVisitor<'e, 'a> {
    engine: &'e mut Engine<'a>,
    artifact: &'e str,
}

impl Visitor for BesideVisitor<'_, '_> {
    fn entry(&mut self, entry: &Entry<'_>) -> Flow {
        if self.engine.rec.failed.is_some() || self.engine.expired() {
            return Flow::Stop;
        }
        if entry.meta.kind() != Kind::Dir {
            self.engine.collect_entry(self.artifact, entry, None);
        }
        Flow::Descend
    }

    fn error(&mut self, path: &[u8], action: &'static str, err: &io::Error) {
        self.engine.walk_error(self.artifact, path, action, err);
    }
}
