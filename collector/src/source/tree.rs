//! One directory of a tree as the resolver ([`super::resolve`]) and the walker
//! ([`super::walk`]) see it, so each of them is written once for both kinds of root:
//! a plain tree ([`PlainDir`]) and the merged view of overlay layers
//! ([`super::layers::MergedDir`]).
//!
//! The kinds differ on purpose in one thing: only a merged view interprets overlay
//! markers (whiteouts, opaque directories), which hide objects of lower layers. On a
//! plain tree a 0/0 character device or a `.wh.` file is an ordinary object, collected
//! and recorded as what it is.

use super::meta::{stat_at, Meta};
use super::open::open_dir;
use rustix::fs::{Dir, Mode, OFlags};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// A directory of a tree. An object in it is shown by one *part*: the directory that
/// holds it (always part 0 on a plain tree; the layer whose copy shows, when merged).
pub trait TreeDir: Sized {
    /// The visible names, sorted, each with the part that shows it; errors met while
    /// listing are returned beside them, each saying where.
    fn list(&self) -> (Vec<(Vec<u8>, usize)>, Vec<io::Error>);
    /// The directory of `part`, which holds the objects listed with it.
    fn part(&self, part: usize) -> Option<BorrowedFd<'_>>;
    /// What a path lookup finds for `name`: the part and the object's metadata;
    /// `Ok(None)` when there is no such name (or it is hidden).
    fn lookup(&self, name: &[u8]) -> io::Result<Option<(usize, Meta)>>;
    /// The subdirectory `name` shown by `part`, opened for listing.
    fn child(&self, name: &[u8], part: usize) -> io::Result<Self>;
    /// The subdirectory `name` shown by `part`, to look further into only (this may
    /// need less permission than listing it).
    fn step(&self, name: &[u8], part: usize) -> io::Result<Self>;

    /// An `O_PATH` descriptor of `part`'s directory, to name objects relative to it.
    fn part_fd(&self, part: usize) -> io::Result<OwnedFd> {
        let fd = self
            .part(part)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        Ok(rustix::fs::openat(
            fd,
            c".",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?)
    }
}

/// A directory of a plain tree: one descriptor.
pub struct PlainDir(pub OwnedFd);

impl TreeDir for PlainDir {
    fn list(&self) -> (Vec<(Vec<u8>, usize)>, Vec<io::Error>) {
        let mut names = Vec::new();
        let mut dir = match Dir::read_from(&self.0) {
            Ok(d) => d,
            Err(e) => return (names, vec![e.into()]),
        };
        while let Some(entry) = dir.read() {
            match entry {
                Ok(e) => {
                    let name = e.file_name().to_bytes();
                    if name != b"." && name != b".." {
                        names.push((name.to_vec(), 0));
                    }
                }
                Err(e) => return (names, vec![e.into()]),
            }
        }
        names.sort_unstable();
        (names, Vec::new())
    }

    fn part(&self, part: usize) -> Option<BorrowedFd<'_>> {
        (part == 0).then(|| self.0.as_fd())
    }

    fn lookup(&self, name: &[u8]) -> io::Result<Option<(usize, Meta)>> {
        match stat_at(&self.0, name) {
            Ok(m) => Ok(Some((0, m))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn child(&self, name: &[u8], _part: usize) -> io::Result<Self> {
        open_dir(self.0.as_fd(), name).map(PlainDir)
    }

    /// An `O_PATH` descriptor: it reads nothing, so a directory that may be searched
    /// but not listed (mode 0711) can still be looked through.
    fn step(&self, name: &[u8], _part: usize) -> io::Result<Self> {
        Ok(PlainDir(rustix::fs::openat(
            &self.0,
            super::meta::cstr(name)?,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?))
    }
}
