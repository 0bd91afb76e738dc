//! Resolution of a path inside a root, like `chroot` would, without `chroot`.
//!
//! Written by hand because `openat2(RESOLVE_IN_ROOT)` is missing on older kernels and the
//! crates that wrap it fail instead of falling back. Every component is looked up relative
//! to the directory descriptor reached so far; `..` never climbs above the root; a symlink's
//! target is spliced into the remaining path, an absolute target restarting from the root.
//! At most 40 symlinks are followed (the kernel's own limit), so loops end in an error.

use super::meta::{cstr, Kind};
use super::tree::TreeDir;
use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

const MAX_SYMLINKS: usize = 40;

/// A path resolved inside a root: the directory that holds it and its last name.
#[derive(Debug)]
pub struct Resolved {
    dir: OwnedFd,
    name: Vec<u8>,
    path: Vec<u8>,
    followed_symlinks: bool,
}

impl Resolved {
    /// An object named `name` in `dir`, at canonical `path`, reached without symlinks.
    pub fn new(dir: OwnedFd, name: Vec<u8>, path: Vec<u8>) -> Resolved {
        Resolved {
            dir,
            name,
            path,
            followed_symlinks: false,
        }
    }

    /// The directory holding the object (or the object itself when `name` is empty).
    pub fn dir(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }
    /// The final component; empty when the object is the root itself.
    pub fn name(&self) -> &[u8] {
        &self.name
    }
    /// The canonical absolute path inside the root, free of symlinks, `.` and `..`.
    pub fn path(&self) -> &[u8] {
        &self.path
    }
    /// True when a symlink was followed on the way.
    pub fn followed_symlinks(&self) -> bool {
        self.followed_symlinks
    }
}

/// Why a path could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("not found")]
    NotFound,
    #[error("too many levels of symbolic links (loop?)")]
    SymlinkLoop,
    #[error("a path component is not a directory")]
    NotADirectory,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn components(path: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
}

/// Resolves the absolute (or root-relative) `path` inside the tree whose root directory
/// is `root`, following symlinks but never leaving the tree. The result names the
/// object in the part (layer) whose copy shows.
pub fn resolve<D: TreeDir>(root: D, path: &[u8]) -> Result<Resolved, ResolveError> {
    let mut dirs: Vec<D> = vec![root];
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut queue: VecDeque<Vec<u8>> = components(path).collect();
    let mut links = 0usize;
    let mut followed = false;

    while let Some(comp) = queue.pop_front() {
        if comp == b".." {
            if !names.is_empty() {
                names.pop();
                dirs.pop();
            }
            continue;
        }
        let here = dirs.last().ok_or(ResolveError::NotFound)?;
        let Some((part, meta)) = here.lookup(&comp)? else {
            return Err(ResolveError::NotFound);
        };
        match meta.kind() {
            Kind::Symlink => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(ResolveError::SymlinkLoop);
                }
                followed = true;
                let holder = here.part(part).ok_or(ResolveError::NotFound)?;
                let target = rustix::fs::readlinkat(holder, cstr(&comp)?, Vec::new())
                    .map_err(std::io::Error::from)?
                    .into_bytes();
                if target.starts_with(b"/") {
                    dirs.truncate(1);
                    names.clear();
                }
                for c in components(&target).collect::<Vec<_>>().into_iter().rev() {
                    queue.push_front(c);
                }
            }
            Kind::Dir if !queue.is_empty() => {
                let next = here.step(&comp, part)?;
                dirs.push(next);
                names.push(comp);
            }
            _ if !queue.is_empty() => return Err(ResolveError::NotADirectory),
            _ => {
                let dir = here.part_fd(part)?;
                names.push(comp);
                let name = names.last().cloned().unwrap_or_default();
                return Ok(Resolved {
                    dir,
                    name,
                    path: canonical(&names),
                    followed_symlinks: followed,
                });
            }
        }
    }
    // Ended on a directory (or the root): its topmost part stands for it.
    let here = dirs.last().ok_or(ResolveError::NotFound)?;
    Ok(Resolved {
        dir: here.part_fd(0)?,
        name: Vec::new(),
        path: canonical(&names),
        followed_symlinks: followed,
    })
}

/// The directory at the canonical (symlink-free) `path` below `root`, opened for
/// listing.
pub fn dir_at<D: TreeDir>(root: D, path: &[u8]) -> Result<D, ResolveError> {
    let mut dir = root;
    for comp in components(path) {
        let Some((part, meta)) = dir.lookup(&comp)? else {
            return Err(ResolveError::NotFound);
        };
        if meta.kind() != Kind::Dir {
            return Err(ResolveError::NotADirectory);
        }
        dir = dir.child(&comp, part)?;
    }
    Ok(dir)
}

/// The object `name` in `parent` (the directory at canonical `parent_path`, opened
/// for listing) itself: a symlink is not followed.
pub fn child_of<D: TreeDir>(
    parent: &D,
    parent_path: &[u8],
    name: &[u8],
) -> Result<Resolved, ResolveError> {
    let (part, _) = parent.lookup(name)?.ok_or(ResolveError::NotFound)?;
    Ok(Resolved::new(
        parent.part_fd(part)?,
        name.to_vec(),
        super::join(parent_path, name),
    ))
}

fn canonical(names: &[Vec<u8>]) -> Vec<u8> {
    if names.is_empty() {
        return b"/".to_vec();
    }
    let mut p = Vec::new();
    for n in names {
        p.push(b'/');
        p.extend_from_slice(n);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    use crate::source::tree::PlainDir;
    use rustix::fs::{Mode, OFlags};

    fn root(dir: &std::path::Path) -> OwnedFd {
        rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap()
    }

    fn resolve_in_root(fd: &OwnedFd, path: &[u8]) -> Result<Resolved, ResolveError> {
        resolve(PlainDir(fd.try_clone().unwrap()), path)
    }

    #[test]
    fn absolute_symlinks_stay_inside() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("etc")).unwrap();
        std::fs::write(t.path().join("etc/passwd"), b"inside").unwrap();
        symlink("/etc", t.path().join("link")).unwrap();
        symlink("../../../../etc/passwd", t.path().join("up")).unwrap();
        let fd = root(t.path());
        let r = resolve_in_root(&fd, b"/link/passwd").unwrap();
        assert_eq!(r.path(), b"/etc/passwd");
        assert!(r.followed_symlinks());
        let r = resolve_in_root(&fd, b"/up").unwrap();
        assert_eq!(r.path(), b"/etc/passwd");
        let r = resolve_in_root(&fd, b"/../../etc/./passwd").unwrap();
        assert_eq!(r.path(), b"/etc/passwd");
    }

    #[test]
    fn loops_and_missing() {
        let t = tempfile::tempdir().unwrap();
        symlink("b", t.path().join("a")).unwrap();
        symlink("a", t.path().join("b")).unwrap();
        std::fs::write(t.path().join("f"), b"x").unwrap();
        let fd = root(t.path());
        assert!(matches!(
            resolve_in_root(&fd, b"/a"),
            Err(ResolveError::SymlinkLoop)
        ));
        assert!(matches!(
            resolve_in_root(&fd, b"/nope"),
            Err(ResolveError::NotFound)
        ));
        assert!(matches!(
            resolve_in_root(&fd, b"/f/x"),
            Err(ResolveError::NotADirectory)
        ));
        let r = resolve_in_root(&fd, b"/").unwrap();
        assert_eq!(r.path(), b"/");
        assert!(r.name().is_empty());
    }
}
