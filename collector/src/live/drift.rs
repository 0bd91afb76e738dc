//! Drift: what a container changed relative to its image, the first thing an
//! investigator asks. Needs the container's layers, so it runs on a root rebuilt from a
//! node's disk (`collect --node-root --container`), not on a live root.
//!
//! The container's writable (upper) layer is walked alone and compared with the merged
//! view of the layers below it (the image, and Docker's init layer):
//! - `added`: present above, absent below;
//! - `modified`: a regular file whose content differs (both sha256 given), or an object
//!   whose kind changed;
//! - `metadata`: same content, different mode or owner (a chmod or chown copied it up);
//! - `deleted`: a whiteout (character device 0/0, as overlayfs writes it) over something
//!   below, with the sha256 of the deleted file, which the image layer still holds;
//! - `opaque`: a directory replaced whole (`trusted.overlay.opaque`); what it hid below
//!   is listed as deleted;
//! - `marker`: an overlay marker the container wrote itself, which neither the kernel
//!   nor cairn obeys (see [`crate::source::layers`]): a `.wh.NAME` file (it would hide
//!   NAME from tools that honour the tar format's whiteouts), a `.wh..wh..opq` file, a
//!   `user.overlay.*` attribute. These are attempts to hide evidence: the marker is
//!   reported, collected like an added file, and what it names stays in view.
//!
//! Added, modified and marker regular files are also copied into the archive under
//! `live_response/drift/files/`, up to the size cap. Lines go to
//! `live_response/drift/drift.jsonl`, counts to `live_response/drift/summary.json`.
//!
//! The container wrote the upper layer, so it is hostile: a file is hashed only up to
//! [`HASH_CAP`] (a larger one, a sparse file of terabytes say, gets no sha256 and says
//! so; an upper and a lower copy too large to hash are compared by size and mtime), and
//! the walk stops at the collection's deadline, the changes found by then kept.

use super::Emit;
use crate::source::layers::{is_opaque, is_whiteout, user_overlay_xattrs, WH_OPAQUE, WH_PREFIX};
use crate::source::meta::{stat_at, Kind, Meta};
use crate::source::open::{open_dir, open_regular};
use crate::source::tree::PlainDir;
use crate::source::walk::{walk, Entry, Flow, Visitor};
use crate::source::{join, ResolveError, Root};
use cairn_archive::member::live::{DRIFT, DRIFT_COPIES, DRIFT_SUMMARY};
use cairn_archive::records::drift::{Drift, DriftSummary};
use cairn_protocol::{Level, LogEvent};
use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd};

/// A path that could not be examined, and why.
pub type PathError = (Vec<u8>, String);

/// One change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub change: &'static str,
    pub path: Vec<u8>,
    pub kind: Kind,
    pub sha256: Option<String>,
    pub lower_sha256: Option<String>,
    pub size: Option<u64>,
    pub detail: Option<String>,
}

impl Change {
    fn record(&self) -> Drift {
        let (path, path_hex) = cairn_archive::text::lossless(&self.path);
        Drift {
            change: self.change.to_owned(),
            path,
            kind: self.kind.object(),
            path_hex,
            sha256: self.sha256.clone(),
            lower_sha256: self.lower_sha256.clone(),
            size: self.size,
            detail: self.detail.clone(),
            archive_path: None,
            complete: None,
        }
    }
}

/// The most of one file drift hashes: the collection's default `--max-file-size`.
pub const HASH_CAP: u64 = 1 << 30;

/// sha256 of a regular file read whole; `None` when it cannot be read or holds more
/// than [`HASH_CAP`] bytes.
fn hash_at(dir: BorrowedFd<'_>, name: &[u8]) -> Option<String> {
    let f = open_regular(dir, name).ok()?;
    let mut buf = vec![0u8; 256 << 10];
    let h = cairn_archive::hash::sha256_of(&mut std::fs::File::from(f), HASH_CAP, &mut buf).ok()?;
    (!h.over_limit).then_some(h.sha256)
}

/// What a change says of a file too large to hash.
fn unhashed(size: u64) -> Option<String> {
    (size > HASH_CAP)
        .then(|| format!("not hashed: {size} bytes, over the {HASH_CAP}-byte drift hash cap"))
}

/// What lies below: the merged view of the lower layers.
struct Below {
    root: Option<Root>,
}

impl Below {
    /// The object at `path` below, with its metadata, and a hash for regular files.
    fn get(&self, path: &[u8], want_hash: bool) -> Option<(Meta, Option<String>)> {
        let root = self.root.as_ref()?;
        let r = match root.resolve_nofollow(path) {
            Ok(r) => r,
            Err(ResolveError::NotFound) | Err(ResolveError::NotADirectory) => return None,
            Err(_) => return None,
        };
        let m = stat_at(r.dir(), r.name()).ok()?;
        let h = (want_hash && m.kind() == Kind::File)
            .then(|| hash_at(r.dir(), r.name()))
            .flatten();
        Some((m, h))
    }

    fn children(&self, path: &[u8]) -> Vec<(Vec<u8>, Kind)> {
        self.root
            .as_ref()
            .map(|r| r.list_dir(path))
            .unwrap_or_default()
    }
}

struct Finder<'a> {
    below: &'a Below,
    /// True once the collection's deadline has come: the walk stops.
    stop: &'a mut dyn FnMut() -> bool,
    stopped: bool,
    changes: Vec<Change>,
    errors: Vec<PathError>,
    /// Names present above, per directory, to find what opaque directories hid.
    opaque_dirs: Vec<Vec<u8>>,
}

impl Finder<'_> {
    fn deleted(&mut self, path: Vec<u8>) {
        if let Some((m, h)) = self.below.get(&path, true) {
            self.changes.push(Change {
                change: "deleted",
                path,
                kind: m.kind(),
                sha256: None,
                lower_sha256: h,
                size: Some(m.size),
                detail: None,
            });
        }
    }
}

impl Finder<'_> {
    /// The overlay markers `e` is or carries, each reported as a `marker` change.
    fn markers(&mut self, e: &Entry<'_>) {
        let mut said = Vec::new();
        if e.name == WH_OPAQUE {
            said.push(
                "an old-format opaque marker (`.wh..wh..opq`) written inside the container; neither overlayfs nor cairn obeys it, and the directory's image content stays in view".to_owned(),
            );
        } else if let Some(hidden) = e.name.strip_prefix(WH_PREFIX) {
            said.push(format!(
                "an old-format whiteout (`.wh.{}`) written inside the container, which would hide `{}` from tools that obey it; neither overlayfs nor cairn does",
                String::from_utf8_lossy(hidden),
                String::from_utf8_lossy(hidden)
            ));
        }
        let attrs = user_overlay_xattrs(e.dir, e.name, e.meta.kind());
        if !attrs.is_empty() {
            said.push(format!(
                "overlay attribute(s) {} set inside the container; rootful overlayfs and cairn ignore them",
                attrs.join(", ")
            ));
        }
        for detail in said {
            let sha = (e.meta.kind() == Kind::File)
                .then(|| hash_at(e.dir, e.name))
                .flatten();
            self.changes.push(Change {
                sha256: sha,
                size: Some(e.meta.size),
                detail: Some(detail),
                ..Finder::change(e, "marker")
            });
        }
    }

    /// A change of `e` with everything but what says what changed.
    fn change(e: &Entry<'_>, change: &'static str) -> Change {
        Change {
            change,
            path: e.path.to_vec(),
            kind: e.meta.kind(),
            sha256: None,
            lower_sha256: None,
            size: None,
            detail: None,
        }
    }

    /// `e` also exists below, as `m` (with its sha256 when a file): what differs.
    fn compare(&mut self, e: &Entry<'_>, m: &Meta, lower_sha: Option<String>) {
        let content_differs = match e.meta.kind() {
            Kind::File => self.file_differs(e, m, lower_sha),
            Kind::Symlink => self.symlink_differs(e),
            _ => false,
        };
        let meta_differs = m.mode != e.meta.mode || m.uid != e.meta.uid || m.gid != e.meta.gid;
        if !content_differs && meta_differs {
            self.changes.push(Change {
                detail: Some(format!(
                    "mode {:o} uid {} gid {} (was mode {:o} uid {} gid {})",
                    e.meta.mode & 0o7777,
                    e.meta.uid,
                    e.meta.gid,
                    m.mode & 0o7777,
                    m.uid,
                    m.gid
                )),
                ..Finder::change(e, "metadata")
            });
        }
        if e.meta.kind() == Kind::Dir {
            if let Ok(d) = open_dir(e.dir, e.name) {
                if is_opaque(d.as_fd()) {
                    self.opaque_dirs.push(e.path.to_vec());
                }
            }
        }
    }

    /// A file whose content differs from the layer below `m` (or cannot be read);
    /// two copies too large to hash differ when their sizes or mtimes do.
    fn file_differs(&mut self, e: &Entry<'_>, m: &Meta, lower_sha: Option<String>) -> bool {
        let too_large = e.meta.size > HASH_CAP && m.size > HASH_CAP;
        let mine = if too_large {
            None
        } else {
            hash_at(e.dir, e.name)
        };
        let same = if too_large {
            e.meta.size == m.size && e.meta.mtime == m.mtime
        } else {
            mine == lower_sha && mine.is_some()
        };
        if same {
            return false;
        }
        self.changes.push(Change {
            sha256: mine,
            lower_sha256: lower_sha,
            size: Some(e.meta.size),
            detail: unhashed(e.meta.size),
            ..Finder::change(e, "modified")
        });
        true
    }

    /// A symlink whose target differs from the layer below.
    fn symlink_differs(&mut self, e: &Entry<'_>) -> bool {
        let target = |dir: BorrowedFd<'_>, name: &[u8]| {
            crate::source::meta::cstr(name)
                .ok()
                .and_then(|c| rustix::fs::readlinkat(dir, c, Vec::new()).ok())
                .map(|t| t.into_bytes())
        };
        let mine = target(e.dir, e.name);
        let theirs = self.below.root.as_ref().and_then(|r| {
            let r = r.resolve_nofollow(e.path).ok()?;
            target(r.dir(), r.name())
        });
        if mine == theirs {
            return false;
        }
        self.changes.push(Change {
            detail: Some(format!(
                "symlink now to {}",
                String::from_utf8_lossy(&mine.unwrap_or_default())
            )),
            ..Finder::change(e, "modified")
        });
        true
    }
}

impl Visitor for Finder<'_> {
    fn entry(&mut self, e: &Entry<'_>) -> Flow {
        if e.depth == 0 {
            return Flow::Descend;
        }
        if (self.stop)() {
            self.stopped = true;
            return Flow::Stop;
        }
        if is_whiteout(e.meta) {
            self.deleted(e.path.to_vec());
            return Flow::Prune;
        }
        self.markers(e);
        let kind = e.meta.kind();
        let sha = || {
            (kind == Kind::File)
                .then(|| hash_at(e.dir, e.name))
                .flatten()
        };
        match self.below.get(e.path, kind == Kind::File) {
            None => self.changes.push(Change {
                sha256: sha(),
                size: Some(e.meta.size),
                detail: unhashed(e.meta.size).filter(|_| kind == Kind::File),
                ..Finder::change(e, "added")
            }),
            Some((m, lower_sha)) if m.kind() != kind => self.changes.push(Change {
                sha256: sha(),
                lower_sha256: lower_sha,
                size: Some(e.meta.size),
                detail: Some(format!("was a {}", m.kind().as_str())),
                ..Finder::change(e, "modified")
            }),
            Some((m, lower_sha)) => self.compare(e, &m, lower_sha),
        }
        Flow::Descend
    }

    fn error(&mut self, path: &[u8], action: &'static str, err: &std::io::Error) {
        self.errors
            .push((path.to_vec(), format!("{action}: {err}")));
    }
}

/// What [`find`] found: the changes, the paths it could not examine, and whether the
/// deadline stopped it first.
pub struct Found {
    pub changes: Vec<Change>,
    pub errors: Vec<PathError>,
    pub stopped: bool,
}

/// Finds the changes of `root`'s upper layer against the layers below, until `stop`
/// says the deadline came. `None` when `root` is not a merged view of layers.
pub fn find(root: &Root, stop: &mut dyn FnMut() -> bool) -> Option<Found> {
    let paths = root.layer_paths();
    let upper = paths.first()?;
    let below = Below {
        root: if paths.len() > 1 {
            Root::open_layers(std::path::Path::new("below"), &paths[1..]).ok()
        } else {
            None
        },
    };
    let mut f = Finder {
        below: &below,
        stop,
        stopped: false,
        changes: Vec::new(),
        errors: Vec::new(),
        opaque_dirs: Vec::new(),
    };
    match rustix::fs::open(
        upper,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) {
        Ok(fd) => {
            // The upper layer itself, as a plain tree: its markers are what drift reads.
            let open = || open_dir(fd.as_fd(), b"").map(PlainDir);
            walk(fd.as_fd(), b"", b"/", open, None, &mut f)
        }
        Err(e) => f
            .errors
            .push((b"/".to_vec(), format!("open upper layer: {e}"))),
    }
    // An opaque directory hides everything below it that it does not itself hold.
    for dir in std::mem::take(&mut f.opaque_dirs) {
        let above: Vec<Vec<u8>> = root.list_dir(&dir).into_iter().map(|(n, _)| n).collect();
        for (name, kind) in below.children(&dir) {
            if !above.contains(&name) {
                let path = join(&dir, &name);
                let (size, sha) = below
                    .get(&path, kind == Kind::File)
                    .map(|(m, h)| (Some(m.size), h))
                    .unwrap_or((None, None));
                f.changes.push(Change {
                    change: "deleted",
                    path,
                    kind,
                    sha256: None,
                    lower_sha256: sha,
                    size,
                    detail: Some("hidden by an opaque directory above".into()),
                });
            }
        }
        f.changes.push(Change {
            change: "opaque",
            path: dir,
            kind: Kind::Dir,
            sha256: None,
            lower_sha256: None,
            size: None,
            detail: Some("directory replaced whole".into()),
        });
    }
    f.changes
        .sort_by(|a, b| a.path.cmp(&b.path).then(a.change.cmp(b.change)));
    Some(Found {
        changes: f.changes,
        errors: f.errors,
        stopped: f.stopped,
    })
}

/// The native collector.
pub fn run(root: &Root, cap: u64, artifact: &str, emit: &mut dyn Emit) {
    let found = find(root, &mut || emit.expired());
    let Some(Found {
        changes,
        errors,
        stopped,
    }) = found
    else {
        emit.log(
            Level::Info,
            LogEvent::NotRun,
            artifact,
            None,
            "drift needs the container's layers: collect it from its node's disk (collect --node-root DIR --container ID)".into(),
        );
        return;
    };
    for (path, e) in &errors {
        emit.log(
            Level::Warn,
            LogEvent::Error,
            artifact,
            Some(path),
            e.clone(),
        );
    }
    if stopped {
        emit.log(
            Level::Warn,
            LogEvent::Timeout,
            artifact,
            None,
            format!("the deadline stopped the comparison with the image: the {} change(s) found by then are listed, the rest of the upper layer was not examined", changes.len()),
        );
    }
    let mut lines = Vec::new();
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    // A file both added and a marker is copied once; its lines share the copy.
    let mut copies: BTreeMap<Vec<u8>, (String, bool)> = BTreeMap::new();
    for c in &changes {
        *counts.entry(c.change).or_default() += 1;
        let mut v = c.record();
        if let Some((archive_path, complete)) = copies.get(&c.path) {
            v.archive_path = Some(archive_path.clone());
            v.complete = Some(*complete);
        } else if matches!(c.change, "added" | "modified" | "marker") && c.kind == Kind::File {
            if let Ok(r) = root.resolve_nofollow(&c.path) {
                if let Ok(fd) = open_regular(r.dir(), r.name()) {
                    let mut file = std::fs::File::from(fd);
                    let mut rel = DRIFT_COPIES.as_bytes().to_vec();
                    rel.extend_from_slice(&c.path);
                    if let Ok(copied) = emit.copy(artifact, &rel, &c.path, &mut file, cap) {
                        v.archive_path = Some(copied.archive_path.clone());
                        v.complete = Some(copied.complete);
                        copies.insert(c.path.clone(), (copied.archive_path, copied.complete));
                    }
                }
            }
        }
        super::push_line(&mut lines, &v);
    }
    emit.output(artifact, DRIFT, &lines);
    let summary = DriftSummary {
        layers: root
            .layer_paths()
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        changes: counts.into_iter().map(|(k, n)| (k.to_owned(), n)).collect(),
        errors: errors.len() as u64,
    };
    emit.output(
        artifact,
        DRIFT_SUMMARY,
        &serde_json::to_vec(&summary).unwrap_or_default(),
    );
}

/// The `drift` native collector: the artifact entry's `max_file_size` caps the copies
/// of what changed.
pub fn native(r: &mut super::Run<'_>) {
    let cap = r
        .max_file_size
        .unwrap_or(super::executables::DEFAULT_COPY_CAP);
    run(r.root, cap, r.artifact, r.emit);
}
