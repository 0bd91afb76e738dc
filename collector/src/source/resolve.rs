//! Resolution of a path inside a root, like `chroot` would, without `chroot`.
//!
//! Written by hand because `openat2(RESOLVE_IN_ROOT)` is missing on older kernels and the
//! crates that wrap it fail instead of falling back. Every component is looked up relative
//! to the directory descriptor reached so far; `..` never climbs above the root; a symlink's
//! target is spliced into the remaining path, an absolute target restarting from the root.
//! At most 40 symlinks are followed (the kernel's own limit), so loops end in an error.

use super::layers::{self, MergedDir};
use super::meta::{cstr, stat_at, Kind};
use super::open::open_dir;
use rustix::fs::{Mode, OFlags};
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
/// is `root`, following symlinks but never leaving the tree.
pub fn resolve_in_root(root: &OwnedFd, path: &[u8]) -> Result<Resolved, ResolveError> {
    let mut dirs: Vec<OwnedFd> = vec![root.try_clone()?];
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
        let meta = match stat_at(here, &comp) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ResolveError::NotFound)
            }
            Err(e) => return Err(e.into()),
        };
        match meta.kind() {
            Kind::Symlink => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(ResolveError::SymlinkLoop);
                }
                followed = true;
                let target = rustix::fs::readlinkat(here, cstr(&comp)?, Vec::new())
                    .map_err(std::io::Error::from)?;
                let target = target.into_bytes();
                if target.starts_with(b"/") {
                    dirs.truncate(1);
                    names.clear();
                }
                for c in components(&target).collect::<Vec<_>>().into_iter().rev() {
                    queue.push_front(c);
                }
            }
            Kind::Dir if !queue.is_empty() => {
                // An O_PATH descriptor suffices to look further; it reads nothing.
                let fd = rustix::fs::openat(
                    here,
                    cstr(&comp)?,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(std::io::Error::from)?;
                dirs.push(fd);
                names.push(comp);
            }
            _ if !queue.is_empty() => return Err(ResolveError::NotADirectory),
            _ => {
                names.push(comp);
                let name = names.last().cloned().unwrap_or_default();
                return Ok(Resolved {
                    dir: dirs.pop().ok_or(ResolveError::NotFound)?,
                    name,
                    path: canonical(&names),
                    followed_symlinks: followed,
                });
            }
        }
    }
    // The path ended on a directory reached through the queue (or on the root).
    let path = canonical(&names);
    let dir = dirs.pop().ok_or(ResolveError::NotFound)?;
    Ok(Resolved {
        dir,
        name: Vec::new(),
        path,
        followed_symlinks: followed,
    })
}

/// Resolves `path` in the merged view of overlay `layers` (upper first; see
/// [`super::layers`]), with the same rules as [`resolve_in_root`]. The result names
/// the object in the layer whose copy shows.
pub fn resolve_in_layers(layers: &[OwnedFd], path: &[u8]) -> Result<Resolved, ResolveError> {
    let mut dirs: Vec<MergedDir> = vec![layers::root(layers)?];
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
        let Some((part, meta)) = layers::lookup(here, &comp) else {
            return Err(ResolveError::NotFound);
        };
        match meta.kind() {
            Kind::Symlink => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(ResolveError::SymlinkLoop);
                }
                followed = true;
                let fd = &here.parts[part].1;
                let target = rustix::fs::readlinkat(fd, cstr(&comp)?, Vec::new())
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
                let next = layers::child(here, &comp, part)?;
                dirs.push(next);
                names.push(comp);
            }
            _ if !queue.is_empty() => return Err(ResolveError::NotADirectory),
            _ => {
                let dir = layers::path_fd(here, part)?;
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
    // Ended on a directory: the topmost part of it stands for it.
    let here = dirs.last().ok_or(ResolveError::NotFound)?;
    Ok(Resolved {
        dir: layers::path_fd(here, 0)?,
        name: Vec::new(),
        path: canonical(&names),
        followed_symlinks: followed,
    })
}

/// The object at the canonical `path` of `layers` itself, a final symlink not followed.
pub fn resolve_nofollow_in_layers(
    layers: &[OwnedFd],
    path: &[u8],
) -> Result<Resolved, ResolveError> {
    let names: Vec<Vec<u8>> = components(path).collect();
    let Some((last, parents)) = names.split_last() else {
        return Ok(Resolved {
            dir: layers::path_fd(&layers::root(layers)?, 0)?,
            name: Vec::new(),
            path: b"/".to_vec(),
            followed_symlinks: false,
        });
    };
    let parent = merged_at(layers, &canonical(parents))?;
    let (part, _) = layers::lookup(&parent, last).ok_or(ResolveError::NotFound)?;
    Ok(Resolved {
        dir: layers::path_fd(&parent, part)?,
        name: last.clone(),
        path: canonical(&names),
        followed_symlinks: false,
    })
}

/// The merged directory at the canonical (symlink-free) `path` of `layers`.
pub fn merged_at(layers: &[OwnedFd], path: &[u8]) -> Result<MergedDir, ResolveError> {
    let mut dir = layers::root(layers)?;
    for comp in components(path) {
        let Some((part, meta)) = layers::lookup(&dir, &comp) else {
            return Err(ResolveError::NotFound);
        };
        if meta.kind() != Kind::Dir {
            return Err(ResolveError::NotADirectory);
        }
        dir = layers::child(&dir, &comp, part)?;
    }
    Ok(dir)
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

/// Opens the resolved object as a directory for listing.
pub fn open_resolved_dir(r: &Resolved) -> std::io::Result<OwnedFd> {
    open_dir(r.dir(), r.name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root(dir: &std::path::Path) -> OwnedFd {
        rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap()
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
