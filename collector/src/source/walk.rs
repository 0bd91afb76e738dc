//! Depth-first walk of a directory tree through directory descriptors.
//!
//! Written by hand rather than with `walkdir` because the collector needs what walkdir
//! cannot give: every directory opened with `O_NOATIME` and `O_NOFOLLOW`, children opened
//! relative to their parent's descriptor (so depth is not limited by `PATH_MAX`, and a
//! renamed or symlinked parent cannot redirect reads), and exact byte names. Symlinks are
//! reported, never followed, so loops cannot occur. Entries are visited in byte order.

use super::meta::{stat_at, Kind, Meta};
use super::tree::TreeDir;
use std::os::fd::BorrowedFd;

/// One object met by the walk.
pub struct Entry<'a> {
    /// The directory holding the object; open the object relative to it.
    pub dir: BorrowedFd<'a>,
    /// The object's name in `dir` (empty when the walk starts on the root itself).
    pub name: &'a [u8],
    /// Absolute path inside the root.
    pub path: &'a [u8],
    pub meta: &'a Meta,
    /// 0 for the starting point, 1 for its children, and so on.
    pub depth: usize,
}

/// What the visitor wants after seeing an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Descend into this directory (ignored for non-directories).
    Descend,
    /// Do not descend into it.
    Prune,
    /// Stop the whole walk (deadline or limit reached).
    Stop,
}

/// Receives entries and errors from [`walk`].
pub trait Visitor {
    fn entry(&mut self, entry: &Entry<'_>) -> Flow;
    /// An object that could not be listed or examined. `path` is absolute inside the root.
    fn error(&mut self, path: &[u8], action: &'static str, err: &std::io::Error);
}

struct Frame<D> {
    dir: D,
    path: Vec<u8>,
    names: Vec<(Vec<u8>, usize)>,
    next: usize,
    depth: usize,
}

fn frame<D: TreeDir>(dir: D, path: Vec<u8>, depth: usize, visitor: &mut dyn Visitor) -> Frame<D> {
    let (names, errors) = dir.list();
    for e in errors {
        visitor.error(&path, "list directory", &e);
    }
    Frame {
        dir,
        path,
        names,
        next: 0,
        depth,
    }
}

/// Walks from the resolved object `start` (named `name` in `dir`, at absolute `path`
/// inside the root), descending at most `max_depth` levels below it. `open` opens the
/// starting object as a directory of the tree when it is one. Entries name their
/// objects in the part (layer) that shows them.
pub fn walk<D: TreeDir>(
    dir: BorrowedFd<'_>,
    name: &[u8],
    path: &[u8],
    open: impl FnOnce() -> std::io::Result<D>,
    max_depth: Option<usize>,
    visitor: &mut dyn Visitor,
) {
    let meta = match stat_at(dir, name) {
        Ok(m) => m,
        Err(e) => {
            visitor.error(path, "stat", &e);
            return;
        }
    };
    let first = Entry {
        dir,
        name,
        path,
        meta: &meta,
        depth: 0,
    };
    match visitor.entry(&first) {
        Flow::Descend if meta.kind() == Kind::Dir && max_depth != Some(0) => {}
        _ => return,
    }
    let start = match open() {
        Ok(d) => d,
        Err(e) => {
            visitor.error(path, "open directory", &e);
            return;
        }
    };
    let mut stack = vec![frame(start, path.to_vec(), 0, visitor)];
    while let Some(frame_now) = stack.last_mut() {
        if frame_now.next >= frame_now.names.len() {
            stack.pop();
            continue;
        }
        let (child_name, part) = std::mem::take(&mut frame_now.names[frame_now.next]);
        frame_now.next += 1;
        let child_path = super::join(&frame_now.path, &child_name);
        let depth = frame_now.depth + 1;
        let Some(holder) = frame_now.dir.part(part) else {
            continue;
        };
        let meta = match stat_at(holder, &child_name) {
            Ok(m) => m,
            Err(e) => {
                // Vanished between listing and examining: report, go on.
                visitor.error(&child_path, "stat", &e);
                continue;
            }
        };
        let entry = Entry {
            dir: holder,
            name: &child_name,
            path: &child_path,
            meta: &meta,
            depth,
        };
        match visitor.entry(&entry) {
            Flow::Stop => return,
            Flow::Prune => continue,
            Flow::Descend => {}
        }
        if meta.kind() != Kind::Dir || max_depth.is_some_and(|m| depth >= m) {
            continue;
        }
        match frame_now.dir.child(&child_name, part) {
            Ok(d) => {
                let f = frame(d, child_path, depth, visitor);
                stack.push(f);
            }
            Err(e) => visitor.error(&child_path, "open directory", &e),
        }
    }
}

/// Raises the soft open-files limit to the hard limit, so that very deep trees (one
/// descriptor per level) can be walked. Changes only this process.
pub fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            rustix::process::Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::tree::PlainDir;
    use rustix::fs::{Mode, OFlags};
    use std::os::fd::AsFd;

    struct Collect(Vec<(Vec<u8>, usize)>, usize);
    impl Visitor for Collect {
        fn entry(&mut self, e: &Entry<'_>) -> Flow {
            self.0.push((e.path.to_vec(), e.depth));
            Flow::Descend
        }
        fn error(&mut self, _: &[u8], _: &'static str, _: &std::io::Error) {
            self.1 += 1;
        }
    }

    #[test]
    fn walks_in_order_without_following_links() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("a/b")).unwrap();
        std::fs::write(t.path().join("a/b/f"), b"x").unwrap();
        std::os::unix::fs::symlink(".", t.path().join("a/loop")).unwrap();
        let root =
            rustix::fs::open(t.path(), OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let open = || crate::source::open::open_dir(root.as_fd(), b"").map(PlainDir);
        let mut c = Collect(Vec::new(), 0);
        walk(root.as_fd(), b"", b"/", open, None, &mut c);
        let paths: Vec<_> =
            c.0.iter()
                .map(|(p, d)| (String::from_utf8_lossy(p).into_owned(), *d))
                .collect();
        assert_eq!(
            paths,
            vec![
                ("/".into(), 0),
                ("/a".into(), 1),
                ("/a/b".into(), 2),
                ("/a/b/f".into(), 3),
                ("/a/loop".into(), 2)
            ]
        );
        let mut c = Collect(Vec::new(), 0);
        walk(root.as_fd(), b"", b"/", open, Some(2), &mut c);
        assert_eq!(c.0.len(), 4);
    }
}
