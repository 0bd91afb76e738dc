//! Where the root filesystem comes from, and how it is read without trusting it.
//!
//! A [`Root`] is either the live system (`/`, which inside a container is the
//! container's own view) or an offline tree: any other directory, in which every path,
//! including absolute symlink targets, resolves inside the tree ([`resolve`]). Directories
//! are walked through file descriptors ([`walk`]), never by re-resolving path strings,
//! so symlinks cannot redirect the walk and depth is not bounded by `PATH_MAX`.

pub mod meta;
pub mod mounts;
pub mod open;
pub mod resolve;
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
        })
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
        resolve::resolve_in_root(&self.fd, path)
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
