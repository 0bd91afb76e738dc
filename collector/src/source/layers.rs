//! The merged view of overlay layers, in user space: what a container sees through its
//! overlay mount, rebuilt from the layer directories on the node without mounting
//! anything (no CAP_SYS_ADMIN) and without writing.
//!
//! Layers are ordered upper first. A name in a merged directory is the topmost layer's
//! object of that name, unless a layer above hides it: a whiteout (a character device
//! 0/0 named like it, or an older-format `.wh.NAME` file beside it) deletes it from
//! every layer below. A directory continues into the same directory of lower layers
//! until one of them is opaque (xattr `trusted.overlay.opaque=y`, or `user.overlay.opaque`
//! for rootless runtimes, or a `.wh..wh..opq` file inside), or a lower layer holds a
//! non-directory of that name. Whiteout files themselves never appear.

use super::meta::{stat_at, Kind, Meta};
use super::open::open_dir;
use rustix::fs::Dir;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Prefix of whiteout files in the older (AUFS) format.
pub const WH_PREFIX: &[u8] = b".wh.";
/// Marks a directory opaque in the older format.
pub const WH_OPAQUE: &[u8] = b".wh..wh..opq";

/// One directory of the merged view: the same directory in each layer where it is
/// visible, upper first, with the layer index of each.
pub struct MergedDir {
    pub parts: Vec<(usize, OwnedFd)>,
}

/// True when `meta` is an overlay whiteout (character device 0/0).
pub fn is_whiteout(meta: &Meta) -> bool {
    meta.kind() == Kind::CharDevice && meta.rdev == (0, 0)
}

fn has_entry(dir: BorrowedFd<'_>, name: &[u8]) -> bool {
    stat_at(dir, name).is_ok()
}

fn whiteout_file(name: &[u8]) -> Vec<u8> {
    let mut w = WH_PREFIX.to_vec();
    w.extend_from_slice(name);
    w
}

/// True when the open directory is opaque (hides every lower layer's same directory).
pub fn is_opaque(dir: BorrowedFd<'_>) -> bool {
    if has_entry(dir, WH_OPAQUE) {
        return true;
    }
    let mut buf = [0u8; 8];
    for attr in ["trusted.overlay.opaque", "user.overlay.opaque"] {
        if let Ok(n) = rustix::fs::fgetxattr(dir, attr, &mut buf) {
            if buf.get(..n) == Some(b"y") {
                return true;
            }
        }
    }
    false
}

/// What `name` is in the merged directory: the index in `dir.parts` of the part whose
/// object shows, and its metadata; `None` when absent or whited out.
pub fn lookup(dir: &MergedDir, name: &[u8]) -> Option<(usize, Meta)> {
    if name.starts_with(WH_PREFIX) {
        return None;
    }
    let wh = whiteout_file(name);
    for (i, (_, fd)) in dir.parts.iter().enumerate() {
        if has_entry(fd.as_fd(), &wh) {
            return None;
        }
        match stat_at(fd.as_fd(), name) {
            Ok(m) if is_whiteout(&m) => return None,
            Ok(m) => return Some((i, m)),
            Err(_) => continue,
        }
    }
    None
}

/// Opens the merged directory `name` found at part `at` of `parent` (by [`lookup`]).
pub fn child(parent: &MergedDir, name: &[u8], at: usize) -> std::io::Result<MergedDir> {
    let mut parts = Vec::new();
    let wh = whiteout_file(name);
    for (i, (layer, fd)) in parent.parts.iter().enumerate().skip(at) {
        if i > at && has_entry(fd.as_fd(), &wh) {
            break;
        }
        match stat_at(fd.as_fd(), name) {
            Ok(m) if m.kind() == Kind::Dir => {
                let d = open_dir(fd.as_fd(), name)?;
                let opaque = is_opaque(d.as_fd());
                parts.push((*layer, d));
                if opaque {
                    break;
                }
            }
            // A whiteout or a non-directory ends the directory's reach downwards.
            Ok(_) => break,
            Err(_) => continue,
        }
    }
    Ok(MergedDir { parts })
}

/// The merged root directory of `layers` (upper first).
pub fn root(layers: &[OwnedFd]) -> std::io::Result<MergedDir> {
    let mut parts = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let d = open_dir(l.as_fd(), b"")?;
        let opaque = is_opaque(d.as_fd());
        parts.push((i, d));
        if opaque {
            break;
        }
    }
    Ok(MergedDir { parts })
}

/// A visible name and the index of the part whose object shows.
pub type Visible = (Vec<u8>, usize);

/// The visible names of a merged directory, sorted, each with the index of the part
/// whose object shows. Errors listing a part are returned with the part's layer.
pub fn list(dir: &MergedDir) -> (Vec<Visible>, Vec<(usize, std::io::Error)>) {
    let mut seen: BTreeMap<Vec<u8>, Option<usize>> = BTreeMap::new();
    let mut errors = Vec::new();
    for (i, (layer, fd)) in dir.parts.iter().enumerate() {
        let names = match Dir::read_from(fd) {
            Ok(mut d) => {
                let mut names = Vec::new();
                while let Some(e) = d.read() {
                    match e {
                        Ok(e) => names.push(e.file_name().to_bytes().to_vec()),
                        Err(err) => {
                            errors.push((*layer, err.into()));
                            break;
                        }
                    }
                }
                names
            }
            Err(e) => {
                errors.push((*layer, e.into()));
                continue;
            }
        };
        for n in names {
            if n == b"." || n == b".." || n == WH_OPAQUE {
                continue;
            }
            if let Some(hidden) = n.strip_prefix(WH_PREFIX) {
                // Hides the name in every lower part.
                seen.entry(hidden.to_vec()).or_insert(None);
                continue;
            }
            if seen.contains_key(&n) {
                continue;
            }
            let shown = match stat_at(fd.as_fd(), &n) {
                Ok(m) if is_whiteout(&m) => None,
                Ok(_) => Some(i),
                Err(_) => continue,
            };
            seen.insert(n, shown);
        }
    }
    let names = seen
        .into_iter()
        .filter_map(|(n, shown)| shown.map(|i| (n, i)))
        .collect();
    (names, errors)
}

impl super::tree::TreeDir for MergedDir {
    fn list(&self) -> (Vec<(Vec<u8>, usize)>, Vec<std::io::Error>) {
        let (names, errors) = list(self);
        let errors = errors
            .into_iter()
            .map(|(layer, e)| std::io::Error::new(e.kind(), format!("layer {layer}: {e}")))
            .collect();
        (names, errors)
    }

    fn part(&self, part: usize) -> Option<BorrowedFd<'_>> {
        self.parts.get(part).map(|(_, fd)| fd.as_fd())
    }

    fn lookup(&self, name: &[u8]) -> std::io::Result<Option<(usize, Meta)>> {
        Ok(lookup(self, name))
    }

    fn child(&self, name: &[u8], part: usize) -> std::io::Result<Self> {
        child(self, name, part)
    }

    /// Looking further into a merged directory needs its markers, so it is opened as
    /// for listing.
    fn step(&self, name: &[u8], part: usize) -> std::io::Result<Self> {
        child(self, name, part)
    }
}

#[cfg(test)]
mod tests {
    use crate::source::walk::{Entry, Flow, Visitor};
    use crate::source::{ResolveError, Root};
    use std::path::Path;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    struct Paths(Vec<String>);
    impl Visitor for Paths {
        fn entry(&mut self, e: &Entry<'_>) -> Flow {
            self.0.push(String::from_utf8_lossy(e.path).into_owned());
            Flow::Descend
        }
        fn error(&mut self, p: &[u8], a: &'static str, e: &std::io::Error) {
            panic!("{a} {}: {e}", String::from_utf8_lossy(p));
        }
    }

    /// The older whiteout format (files, no device nodes or xattrs) needs no privilege.
    #[test]
    fn whiteouts_opaque_directories_and_shadowing_merge_like_overlayfs() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        for f in ["a/keep", "a/gone", "b/x", "c", "d/old", "link-target/t"] {
            write(&lower, f, "lower");
        }
        std::os::unix::fs::symlink("/link-target", lower.join("l")).unwrap();
        write(&upper, "a/.wh.gone", "");
        write(&upper, "a/new", "upper");
        write(&upper, "a/keep", "upper keep");
        write(&upper, "b/.wh..wh..opq", "");
        write(&upper, "b/y", "upper");
        write(&upper, "c/z", "upper");
        write(&upper, ".wh.d", "");
        let root = Root::open_layers(Path::new("test"), &[upper, lower]).unwrap();
        let names = |p: &[u8]| -> Vec<String> {
            root.list_dir(p)
                .into_iter()
                .map(|(n, _)| String::from_utf8_lossy(&n).into_owned())
                .collect()
        };
        assert_eq!(names(b"/"), ["a", "b", "c", "l", "link-target"]);
        assert_eq!(names(b"/a"), ["keep", "new"]);
        assert_eq!(names(b"/b"), ["y"]);
        assert_eq!(names(b"/c"), ["z"]);
        assert_eq!(root.read_small(b"/a/keep", 100).unwrap(), b"upper keep");
        assert_eq!(root.read_small(b"/l/t", 100).unwrap(), b"lower");
        assert!(matches!(
            root.resolve(b"/a/gone"),
            Err(ResolveError::NotFound)
        ));
        assert!(matches!(root.resolve(b"/b/x"), Err(ResolveError::NotFound)));
        assert!(matches!(
            root.resolve(b"/d/old"),
            Err(ResolveError::NotFound)
        ));
        let mut seen = Paths(Vec::new());
        let r = root.resolve(b"/").unwrap();
        root.walk(&r, None, &mut seen);
        assert_eq!(
            seen.0,
            [
                "/",
                "/a",
                "/a/keep",
                "/a/new",
                "/b",
                "/b/y",
                "/c",
                "/c/z",
                "/l",
                "/link-target",
                "/link-target/t"
            ]
        );
    }
}
