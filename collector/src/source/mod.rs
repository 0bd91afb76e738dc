//! Where the root filesystem comes from, and how it is read without trusting it.
//!
//! A [`Root`] is either the live system (`/`, which inside a container is the
//! container's own view) or an offline tree: any other directory, in which every path,
//! including absolute symlink targets, resolves inside the tree ([`resolve`]). Directories
//! are walked through file descriptors ([`walk`]), never by re-resolving path strings,
//! so symlinks cannot redirect the walk and depth is not bounded by `PATH_MAX`. A root
//! may also be the merged view of a container's overlay layers read offline from a
//! node's disk ([`layers`]), resolved and walked with the same guarantees.

pub mod layers;
pub mod meta;
pub mod mounts;
pub mod open;
pub mod resolve;
pub mod target;
pub mod users;
pub mod walk;

use rustix::fs::{Mode, OFlags};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub use meta::{Kind, Meta};
pub use resolve::{ResolveError, Resolved};

/// The filesystem tree being collected.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    fd: OwnedFd,
    live: bool,
    /// The process whose root this is, when collecting another container of a shared
    /// PID namespace through `/proc/PID/root` (ephemeral container, sidecar).
    target_pid: Option<u32>,
    /// Overlay layers, upper first, when the tree is a merged view ([`layers`]);
    /// empty for a plain tree.
    layers: Vec<OwnedFd>,
    layer_paths: Vec<PathBuf>,
}

/// Why a root could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open root {path}: {source}")]
pub struct RootError {
    path: String,
    #[source]
    source: std::io::Error,
}

impl Root {
    /// Opens `path` as the root. `/` is the live system; anything else is offline.
    pub fn open(path: &Path) -> Result<Root, RootError> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| RootError {
            path: path.display().to_string(),
            source: e.into(),
        })?;
        let live = path == Path::new("/");
        Ok(Root {
            path: path.to_path_buf(),
            fd,
            live,
            target_pid: None,
            layers: Vec::new(),
            layer_paths: Vec::new(),
        })
    }

    /// Opens the root filesystem of process `pid` (`/proc/PID/root`), another
    /// container of this PID namespace: its files are read through the kernel's view
    /// of that container, and the live response (processes, sockets) is this
    /// namespace's, which it shares.
    pub fn open_process(pid: u32) -> Result<Root, RootError> {
        let path = PathBuf::from(format!("/proc/{pid}/root"));
        let mut root = Root::open(&path)?;
        root.live = true;
        root.target_pid = Some(pid);
        Ok(root)
    }

    /// The process whose root this is, for a [`Root::open_process`] root.
    pub fn target_pid(&self) -> Option<u32> {
        self.target_pid
    }

    /// Opens the merged view of overlay layer directories, upper first, as a root
    /// named `name` (e.g. `docker:ID`). Nothing is mounted or written.
    pub fn open_layers(name: &Path, layer_dirs: &[PathBuf]) -> Result<Root, RootError> {
        let open = |p: &Path| {
            rustix::fs::open(
                p,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| RootError {
                path: p.display().to_string(),
                source: e.into(),
            })
        };
        let first = layer_dirs.first().ok_or_else(|| RootError {
            path: name.display().to_string(),
            source: std::io::Error::other("no layers"),
        })?;
        let fd = open(first)?;
        let layers = layer_dirs
            .iter()
            .map(|p| open(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Root {
            path: name.to_path_buf(),
            fd,
            live: false,
            target_pid: None,
            layers,
            layer_paths: layer_dirs.to_vec(),
        })
    }

    /// The layer directories of a merged view, upper first; empty for a plain tree.
    pub fn layer_paths(&self) -> &[PathBuf] {
        &self.layer_paths
    }

    /// Walks from a resolved object (see [`walk::walk`] and [`walk::walk_layers`]).
    pub fn walk(&self, r: &Resolved, max_depth: Option<usize>, visitor: &mut dyn walk::Visitor) {
        if self.layers.is_empty() {
            walk::walk(r.dir(), r.name(), r.path(), max_depth, visitor);
        } else {
            let start = || {
                resolve::merged_at(&self.layers, r.path()).map_err(|e| match e {
                    ResolveError::Io(e) => e,
                    other => std::io::Error::other(other.to_string()),
                })
            };
            walk::walk_layers(r.dir(), r.name(), r.path(), start, max_depth, visitor);
        }
    }

    /// The names in the directory `path` and their kinds (merged when layered).
    pub fn list_dir(&self, path: &[u8]) -> Vec<(Vec<u8>, Kind)> {
        let mut out = Vec::new();
        if self.layers.is_empty() {
            let Ok(r) = self.resolve(path) else {
                return out;
            };
            let Ok(fd) = resolve::open_resolved_dir(&r) else {
                return out;
            };
            if let Ok(mut dir) = rustix::fs::Dir::read_from(&fd) {
                while let Some(Ok(e)) = dir.read() {
                    let n = e.file_name().to_bytes();
                    if n != b"." && n != b".." {
                        if let Ok(m) = meta::stat_at(&fd, n) {
                            out.push((n.to_vec(), m.kind()));
                        }
                    }
                }
            }
        } else if let Ok(r) = self.resolve(path) {
            if let Ok(d) = resolve::merged_at(&self.layers, r.path()) {
                for (n, part) in layers::list(&d).0 {
                    if let Some((_, fd)) = d.parts.get(part) {
                        if let Ok(m) = meta::stat_at(fd, &n) {
                            out.push((n, m.kind()));
                        }
                    }
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The directory given as root, as the user named it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when this is the running system's `/` (pseudo-filesystems are live).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// An `O_PATH` descriptor of the root directory.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Resolves an absolute path inside the root (see [`resolve::resolve_in_root`]).
    pub fn resolve(&self, path: &[u8]) -> Result<Resolved, ResolveError> {
        if self.layers.is_empty() {
            resolve::resolve_in_root(&self.fd, path)
        } else {
            resolve::resolve_in_layers(&self.layers, path)
        }
    }

    /// The object at the canonical `path` itself: symlinks in the parent directories
    /// are followed (inside the root), a final symlink is not.
    pub fn resolve_nofollow(&self, path: &[u8]) -> Result<Resolved, ResolveError> {
        if !self.layers.is_empty() {
            return resolve::resolve_nofollow_in_layers(&self.layers, path);
        }
        let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
            Some(i) => (&path[..i.max(1)], &path[i + 1..]),
            None => (&b"/"[..], path),
        };
        if name.is_empty() {
            return self.resolve(path);
        }
        let p = self.resolve(parent)?;
        let dir = resolve::open_resolved_dir(&p).map_err(ResolveError::Io)?;
        meta::stat_at(&dir, name).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ResolveError::NotFound,
            _ => ResolveError::Io(e),
        })?;
        let dir = rustix::fs::openat(
            &dir,
            c".",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| ResolveError::Io(e.into()))?;
        Ok(resolve::Resolved::new(
            dir,
            name.to_vec(),
            join(p.path(), name),
        ))
    }

    /// Reads a small file inside the root (such as `/etc/passwd`), at most `limit` bytes.
    pub fn read_small(&self, path: &[u8], limit: u64) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let resolved = self
            .resolve(path)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let file = open::open_regular(resolved.dir(), resolved.name())?;
        let mut out = Vec::new();
        std::fs::File::from(file)
            .take(limit)
            .read_to_end(&mut out)?;
        Ok(out)
    }
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
