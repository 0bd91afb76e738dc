//! Depth-first walk of a directory tree through directory descriptors.
//!
//! Written by hand rather than with `walkdir` because the collector needs what walkdir
//! cannot give: every directory opened with `O_NOATIME` and `O_NOFOLLOW`, children opened
//! relative to their parent's descriptor (so depth is not limited by `PATH_MAX`, and a
//! renamed or symlinked parent cannot redirect reads), and exact byte names. Symlinks are
//! reported, never followed, so loops cannot occur. Entries are visited in byte order.

use super::layers::{self, MergedDir};
use super::meta::{stat_at, Kind, Meta};
use super::open::open_dir;
use rustix::fs::Dir;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

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

struct Frame {
    fd: OwnedFd,
    path: Vec<u8>,
    names: Vec<Vec<u8>>,
    next: usize,
    depth: usize,
}

fn list(fd: &OwnedFd) -> std::io::Result<Vec<Vec<u8>>> {
    let mut dir = Dir::read_from(fd)?;
    let mut names = Vec::new();
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    names.sort_unstable();
    Ok(names)
}

fn open_frame(
    parent: BorrowedFd<'_>,
    name: &[u8],
    path: Vec<u8>,
    depth: usize,
    visitor: &mut dyn Visitor,
) -> Option<Frame> {
    let fd = match open_dir(parent, name) {
        Ok(fd) => fd,
        Err(e) => {
            visitor.error(&path, "open directory", &e);
            return None;
        }
    };
    match list(&fd) {
        Ok(names) => Some(Frame {
            fd,
            path,
            names,
            next: 0,
            depth,
        }),
        Err(e) => {
            visitor.error(&path, "list directory", &e);
            None
        }
    }
}

/// Walks from the object `name` in `dir` (whose absolute path inside the root is
/// `path`), descending at most `max_depth` levels below it.
pub fn walk(
    dir: BorrowedFd<'_>,
    name: &[u8],
    path: &[u8],
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
    let start = Entry {
        dir,
        name,
        path,
        meta: &meta,
        depth: 0,
    };
    match visitor.entry(&start) {
        Flow::Descend if meta.kind() == Kind::Dir && max_depth != Some(0) => {}
        _ => return,
    }
    let mut stack: Vec<Frame> = Vec::new();
    match open_frame(dir, name, path.to_vec(), 0, visitor) {
        Some(f) => stack.push(f),
        None => return,
    }
    while let Some(frame) = stack.last_mut() {
        if frame.next >= frame.names.len() {
            stack.pop();
            continue;
        }
        let child_name = std::mem::take(&mut frame.names[frame.next]);
        frame.next += 1;
        let child_path = super::join(&frame.path, &child_name);
        let depth = frame.depth + 1;
        let meta = match stat_at(frame.fd.as_fd(), &child_name) {
            Ok(m) => m,
            Err(e) => {
                // Vanished between listing and examining: report, go on.
                visitor.error(&child_path, "stat", &e);
                continue;
            }
        };
        let entry = Entry {
            dir: frame.fd.as_fd(),
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
        let parent = frame.fd.as_fd();
        if let Some(child) = open_frame(parent, &child_name, child_path, depth, visitor) {
            stack.push(child);
        }
    }
}

struct LayerFrame {
    dir: MergedDir,
    path: Vec<u8>,
    names: Vec<layers::Visible>,
    next: usize,
    depth: usize,
}

fn layer_frame(
    dir: MergedDir,
    path: Vec<u8>,
    depth: usize,
    visitor: &mut dyn Visitor,
) -> LayerFrame {
    let (names, errors) = layers::list(&dir);
    for (layer, e) in errors {
        let e = std::io::Error::new(e.kind(), format!("layer {layer}: {e}"));
        visitor.error(&path, "list directory", &e);
    }
    LayerFrame {
        dir,
        path,
        names,
        next: 0,
        depth,
    }
}

/// [`walk`] over the merged view of overlay layers: `start` is the merged directory
/// at `path` when the starting object is a directory, which `dir`/`name` name in the
/// layer whose copy shows. Entries name their objects in the layer that shows them.
pub fn walk_layers(
    dir: BorrowedFd<'_>,
    name: &[u8],
    path: &[u8],
    start: impl FnOnce() -> std::io::Result<MergedDir>,
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
    let merged = match start() {
        Ok(d) => d,
        Err(e) => {
            visitor.error(path, "open directory", &e);
            return;
        }
    };
    let mut stack = vec![layer_frame(merged, path.to_vec(), 0, visitor)];
    while let Some(frame) = stack.last_mut() {
        if frame.next >= frame.names.len() {
            stack.pop();
            continue;
        }
        let (child_name, part) = std::mem::take(&mut frame.names[frame.next]);
        frame.next += 1;
        let child_path = super::join(&frame.path, &child_name);
        let depth = frame.depth + 1;
        let Some((_, part_fd)) = frame.dir.parts.get(part) else {
            continue;
        };
        let meta = match stat_at(part_fd.as_fd(), &child_name) {
            Ok(m) => m,
            Err(e) => {
                visitor.error(&child_path, "stat", &e);
                continue;
            }
        };
        let entry = Entry {
            dir: part_fd.as_fd(),
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
        match layers::child(&frame.dir, &child_name, part) {
            Ok(d) => {
                let f = layer_frame(d, child_path, depth, visitor);
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
    use rustix::fs::{Mode, OFlags};

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
        let mut c = Collect(Vec::new(), 0);
        walk(root.as_fd(), b"", b"/", None, &mut c);
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
        walk(root.as_fd(), b"", b"/", Some(2), &mut c);
        assert_eq!(c.0.len(), 4);
    }
}
