//! Where the root filesystem comes from, and how it is read without trusting it.
//!
//! A [`Root`] comes from one [`Origin`]: the live system (`/`, which inside a
//! container is the container's own view), another container's root through procfs
//! ([`procfs`]), an offline tree (any other directory, in which every path, including
//! absolute symlink targets, resolves inside the tree), or the merged view of a
//! container's overlay layers read offline from a node's disk ([`layers`]). Plain and
//! merged trees are both [`tree::TreeDir`]s, so one resolver ([`resolve`]) and one
//! walker ([`walk`]) serve them: directories are walked through file descriptors, never
//! by re-resolving path strings, so symlinks cannot redirect the walk and depth is not
//! bounded by `PATH_MAX`.

pub mod layers;
pub mod meta;
pub mod mounts;
pub mod open;
pub mod procfs;
pub mod resolve;
pub mod target;
pub mod tree;
pub mod users;
pub mod walk;

use rustix::fs::{Mode, OFlags};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub use meta::{Kind, Meta};
pub use resolve::{ResolveError, Resolved};
use tree::{PlainDir, TreeDir};

/// Where a root's files come from, which decides what else may be read with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The running system's `/` (inside a container, the container's own view):
    /// pseudo-filesystems are live and the live response is this system's.
    Live,
    /// Another container of this PID namespace, through `/proc/PID/root` (ephemeral
    /// container, sidecar): its files, and this namespace's live response.
    Process { pid: u32 },
    /// A directory read offline: every path, absolute symlink targets included,
    /// resolves inside it.
    Offline,
    /// The merged view of overlay layer directories, upper first, read offline.
    Layers { dirs: Vec<PathBuf> },
}

/// The directories of a root, plain or merged.
#[derive(Debug)]
enum Tree {
    Plain(OwnedFd),
    Merged(Vec<OwnedFd>),
}

/// The filesystem tree being collected.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    origin: Origin,
    tree: Tree,
    /// Warnings about how the root was found, for the collection log.
    notes: Vec<String>,
}

/// Why a root could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open root {path}: {source}")]
pub struct RootError {
    path: String,
    #[source]
    source: std::io::Error,
}

fn open_path(p: &Path) -> Result<OwnedFd, RootError> {
    rustix::fs::open(
        p,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| RootError {
        path: p.display().to_string(),
        source: e.into(),
    })
}

impl Root {
    /// Opens `path` as the root. `/` is the live system; anything else is offline.
    pub fn open(path: &Path) -> Result<Root, RootError> {
        Ok(Root {
            path: path.to_path_buf(),
            origin: if path == Path::new("/") {
                Origin::Live
            } else {
                Origin::Offline
            },
            tree: Tree::Plain(open_path(path)?),
            notes: Vec::new(),
        })
    }

    /// Opens the root filesystem of process `pid` (`PID/root` under `proc`), another
    /// container of this PID namespace: its files are read through the kernel's view
    /// of that container, and the live response (processes, sockets) is this
    /// namespace's, which it shares.
    pub fn open_process(proc: &procfs::ProcFs, pid: u32) -> Result<Root, RootError> {
        let path = proc.root_path(&pid.to_string());
        Ok(Root {
            tree: Tree::Plain(open_path(&path)?),
            path,
            origin: Origin::Process { pid },
            notes: Vec::new(),
        })
    }

    /// Opens the merged view of overlay layer directories, upper first, as a root
    /// named `name` (e.g. `docker:ID`). Nothing is mounted or written.
    pub fn open_layers(name: &Path, layer_dirs: &[PathBuf]) -> Result<Root, RootError> {
        if layer_dirs.is_empty() {
            return Err(RootError {
                path: name.display().to_string(),
                source: std::io::Error::other("no layers"),
            });
        }
        let layers = layer_dirs
            .iter()
            .map(|p| open_path(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Root {
            path: name.to_path_buf(),
            origin: Origin::Layers {
                dirs: layer_dirs.to_vec(),
            },
            tree: Tree::Merged(layers),
            notes: Vec::new(),
        })
    }

    /// Adds a warning about how this root was found; the collection log records it.
    pub fn note(&mut self, warning: String) {
        self.notes.push(warning);
    }

    /// The warnings about how this root was found.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Where this root's files come from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The process whose root this is, for a [`Root::open_process`] root.
    pub fn target_pid(&self) -> Option<u32> {
        match self.origin {
            Origin::Process { pid } => Some(pid),
            _ => None,
        }
    }

    /// The layer directories of a merged view, upper first; empty for a plain tree.
    pub fn layer_paths(&self) -> &[PathBuf] {
        match &self.origin {
            Origin::Layers { dirs } => dirs,
            _ => &[],
        }
    }

    /// The directory given as root, as the user named it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the kernel's live state goes with this root (pseudo-filesystems, the
    /// live response): the running system or a process of it.
    pub fn is_live(&self) -> bool {
        matches!(self.origin, Origin::Live | Origin::Process { .. })
    }

    /// Resolves an absolute path inside the root (see [`resolve::resolve`]).
    pub fn resolve(&self, path: &[u8]) -> Result<Resolved, ResolveError> {
        match &self.tree {
            Tree::Plain(fd) => resolve::resolve(PlainDir(fd.try_clone()?), path),
            Tree::Merged(layers) => resolve::resolve(layers::root(layers)?, path),
        }
    }

    /// The object at `path` itself: symlinks in the parent directories are followed
    /// (inside the root), a final symlink is not.
    pub fn resolve_nofollow(&self, path: &[u8]) -> Result<Resolved, ResolveError> {
        let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
            Some(i) => (&path[..i.max(1)], &path[i + 1..]),
            None => (&b"/"[..], path),
        };
        if name.is_empty() {
            return self.resolve(path);
        }
        let p = self.resolve(parent)?;
        match &self.tree {
            Tree::Plain(_) => resolve::child_of(&plain_dir(&p)?, p.path(), name),
            Tree::Merged(l) => resolve::child_of(&merged_dir(l, &p)?, p.path(), name),
        }
    }

    /// Walks from a resolved object (see [`walk::walk`]).
    pub fn walk(&self, r: &Resolved, max_depth: Option<usize>, visitor: &mut dyn walk::Visitor) {
        let (dir, name, path) = (r.dir(), r.name(), r.path());
        match &self.tree {
            Tree::Plain(_) => walk::walk(dir, name, path, || plain_dir(r), max_depth, visitor),
            Tree::Merged(l) => walk::walk(
                dir,
                name,
                path,
                || merged_dir(l, r).map_err(io_error),
                max_depth,
                visitor,
            ),
        }
    }

    /// The names in the directory `path` and their kinds (merged when layered).
    pub fn list_dir(&self, path: &[u8]) -> Vec<(Vec<u8>, Kind)> {
        let Ok(r) = self.resolve(path) else {
            return Vec::new();
        };
        match &self.tree {
            Tree::Plain(_) => plain_dir(&r).map(|d| kinds(&d)).unwrap_or_default(),
            Tree::Merged(l) => merged_dir(l, &r).map(|d| kinds(&d)).unwrap_or_default(),
        }
    }

    /// Reads a small file inside the root (such as `/etc/passwd`), at most `limit` bytes.
    pub fn read_small(&self, path: &[u8], limit: u64) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let resolved = self.resolve(path).map_err(io_error)?;
        let file = open::open_regular(resolved.dir(), resolved.name())?;
        let mut out = Vec::new();
        std::fs::File::from(file)
            .take(limit)
            .read_to_end(&mut out)?;
        Ok(out)
    }
}

/// The resolved directory of a plain tree, opened for listing.
fn plain_dir(r: &Resolved) -> std::io::Result<PlainDir> {
    open::open_dir(r.dir(), r.name()).map(PlainDir)
}

/// The resolved directory of a merged view (its canonical path), opened for listing.
fn merged_dir(layers: &[OwnedFd], r: &Resolved) -> Result<layers::MergedDir, ResolveError> {
    resolve::dir_at(layers::root(layers)?, r.path())
}

fn io_error(e: ResolveError) -> std::io::Error {
    match e {
        ResolveError::Io(e) => e,
        other => std::io::Error::other(other.to_string()),
    }
}

/// The names of a directory and their kinds, sorted.
fn kinds<D: TreeDir>(d: &D) -> Vec<(Vec<u8>, Kind)> {
    let (names, _) = d.list();
    names
        .into_iter()
        .filter_map(|(n, part)| {
            let m = meta::stat_at(d.part(part)?, &n).ok()?;
            Some((n, m.kind()))
        })
        .collect()
}

/// Joins an absolute directory path and a child name with exactly one `/`.
pub fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(dir.len() + 1 + name.len());
    p.extend_from_slice(dir);
    if !p.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}
